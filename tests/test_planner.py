"""CPU plans (backends/cpu/planner.py): timing them changes no result beyond float rounding, a seeded fit
repeats bit for bit on its plan, trials leave weights, optimizer state, generator and sums alone."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import config, layers
from fastnn.backends.cpu import planner


@pytest.fixture(autouse=True)
def timed(monkeypatch):
    """Timed plans even for these small networks (the suite runs with fixed ones: see conftest.py)."""
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    monkeypatch.setattr(config, "PLAN_MIN_MACS", 0)
    monkeypatch.setattr(config, "PLAN_TRIAL_SECONDS", 0.001)
    planner.forget()
    yield
    planner.forget()


def _data(n=192, features=24):
    rng = np.random.default_rng(3)
    x = rng.random((n, features)).astype(np.float32) * (rng.random((n, features)) < 0.3)  # mostly zeros: CSR too
    return x, rng.integers(0, 4, n)


def _fit(seed=7, epochs=2):
    """A seeded fit (Dropout draws from the compiled generator); its weights, history and a prediction."""
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                            layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model.get_weights(), history.history["loss"], model.predict(x, batch_size=16)


def _only(monkeypatch, plan):
    monkeypatch.setattr(planner, "candidates", lambda plan_table, batch_size, sparse: [plan])


def test_a_timed_fit_equals_a_fit_on_its_plan_bit_for_bit(monkeypatch):
    weights, losses, _ = _fit()
    chosen = {plan for plan, _ in planner._remembered.values()}
    fit_plans = [plan for k, (plan, _) in planner._remembered.items() if k[0] == "fit"]
    assert len(fit_plans) == 1 and chosen <= {planner.Plan(csr, t) for csr in (True, False) for t in (1, None)}
    planner.forget()
    _only(monkeypatch, fit_plans[0])
    again, losses_again, _ = _fit()
    for a, b in zip(weights, again):
        np.testing.assert_array_equal(a, b)  # the trials touched no weight, optimizer state or generator
    assert losses == losses_again


@pytest.mark.parametrize("plan", [planner.Plan(True, 1), planner.Plan(False, 1), planner.Plan(True, None),
                                  planner.Plan(False, None)], ids=str)
def test_every_plan_trains_and_predicts_the_same_to_rounding(monkeypatch, plan):
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    reference = _fit()
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    _only(monkeypatch, plan)
    weights, losses, predictions = _fit()
    for a, b in zip(reference[0], weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses, reference[1], rtol=1e-5)
    np.testing.assert_allclose(predictions, reference[2], rtol=1e-4, atol=1e-6)


def test_evaluate_sums_are_not_counted_twice_by_the_trials(monkeypatch):
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    fnn.utils.set_random_seed(1)
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(8, activation="relu"), layers.Dense(4)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    fixed = model.evaluate(x, y, batch_size=8, verbose=0)
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    timed = model.evaluate(x, y, batch_size=8, verbose=0)
    assert any(k[0] == 1 for k in planner._remembered)  # (loop.EVALUATE's code: the pass was planned)
    np.testing.assert_allclose(timed, fixed, rtol=1e-6)


def test_a_plan_that_slows_down_is_timed_again():
    key = ("fit", b"", 16, "<f4", True)
    planner._remembered[key] = (planner.Plan(True, None), 0.001)
    planner.observed(key, 0.0015)
    assert key in planner._remembered
    planner.observed(key, 0.001 * config.PLAN_STALE_FACTOR * 1.1)
    assert key not in planner._remembered


def test_small_work_and_fixed_setting_use_config_rules(monkeypatch):
    plan = np.array([[0, 784, 128, 2, 0, 100352, 0], [0, 128, 10, 4, 100480, 101760, 128]])
    monkeypatch.setattr(planner.blas, "controllable", lambda: True)
    monkeypatch.setattr(planner.config, "cores", lambda: 2)
    # batch 32: with CSR first, BLAS's largest GEMM is 32x128x10 (one thread, untimed); rows: 32x784x128
    assert planner.candidates(plan, 32, True) == [planner.Plan(True, 1), planner.Plan(False, 1),
                                                  planner.Plan(False, None)]
    assert planner.candidates(plan, 1024, False) == [planner.Plan(False, 1), planner.Plan(False, None)]
    assert planner.fixed(plan, 32, True, training=True) == planner.Plan(True, 1)
    assert planner.fixed(plan, config.SPARSE_INPUT_MAX_BATCH, True, training=True).csr is False
    assert planner.fixed(plan, config.SPARSE_INPUT_MAX_BATCH, True, training=False).csr is True
    monkeypatch.setattr(config, "PLAN_MIN_MACS", 1e9)
    assert not planner.timed(plan, 1000, 32) and planner.timed(plan, 60000, 32)
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    assert not planner.timed(plan, 60000, 32)
