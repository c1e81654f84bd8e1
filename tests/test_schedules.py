"""Learning-rate schedules: Keras 3's formulas, a rate per step inside the compiled loop, saving, bad input."""

import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers
from fastnn.optimizers import schedules

RNG = np.random.default_rng(0)
X, Y = RNG.random((40, 5)), RNG.random((40, 2))

# (schedule, {step: rate by Keras 3's formula, written out by hand})
GOLDEN = [
    (schedules.ExponentialDecay(0.1, 10, 0.5), {0: 0.1, 5: 0.1 * 0.5 ** 0.5, 25: 0.1 * 0.5 ** 2.5}),
    (schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True), {9: 0.1, 10: 0.05, 25: 0.025}),
    (schedules.InverseTimeDecay(1.0, 4, 0.5), {0: 1.0, 2: 1 / 1.25, 10: 1 / 2.25}),
    (schedules.InverseTimeDecay(1.0, 4, 0.5, staircase=True), {3: 1.0, 4: 1 / 1.5, 10: 1 / 2.0}),
    (schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), {0: 1.0, 10: 1.0, 11: 0.5, 20: 0.5, 21: 0.1}),
    (schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.1, power=2.0),
     {0: 1.0, 5: 0.9 * 0.25 + 0.1, 10: 0.1, 30: 0.1}),
    (schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True), {0: 1.0, 5: 0.5, 15: 0.25, 20: 0.0}),
    (schedules.CosineDecay(1.0, 10, alpha=0.1), {0: 1.0, 5: 0.9 * 0.5 + 0.1, 10: 0.1, 50: 0.1}),
    (schedules.CosineDecay(0.0001, 10, warmup_target=1.0, warmup_steps=4),
     {0: 0.0001, 2: 0.0001 + 0.9999 * 0.5, 4: 1.0, 9: 0.5 * (1 + math.cos(math.pi * 0.5)), 14: 0.0, 99: 0.0}),
]


@pytest.mark.parametrize("schedule, expected", GOLDEN, ids=lambda v: repr(v)[:40])
def test_builtin_schedules_follow_keras_formulas(schedule, expected):
    for step, rate in expected.items():
        assert schedule(step) == pytest.approx(rate, rel=1e-12, abs=1e-15), step
        assert schedule.rates(step, 1)[0] == pytest.approx(rate, rel=1e-12, abs=1e-15), step
    steps = np.arange(0, 40)
    assert np.allclose(schedule.rates(0, 40), [schedule(int(s)) for s in steps], rtol=1e-12, atol=0)


def model(lr, device="cpu", optimizer=fnn.optimizers.SGD):
    fnn.utils.set_random_seed(1)
    m = fnn.Sequential([layers.Dense(3, activation="tanh", input_shape=(5,)), layers.Dense(2)])
    m.compile(optimizer=optimizer(lr), loss="mse", device=device)
    return m


def stepwise(rates_at, optimizer=fnn.optimizers.SGD, steps=10):
    """The reference: one train_on_batch per step with the learning rate set by hand (no schedule involved)."""
    m = model(0.1, optimizer=optimizer)
    for step in range(steps):
        m.optimizer.learning_rate = rates_at(step)
        rows = slice((step % 5) * 8, (step % 5) * 8 + 8)
        m.train_on_batch(X[rows], Y[rows])
    return m.get_weights()


def assert_same_weights(a, b, tol=0.0):
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=tol)


@pytest.mark.parametrize("optimizer", [fnn.optimizers.SGD, fnn.optimizers.Adam])
def test_fit_applies_the_schedule_per_step_counting_from_zero_across_epochs(optimizer):
    schedule = schedules.ExponentialDecay(0.1, 3, 0.5)
    m = model(schedule, optimizer=optimizer)
    m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert m.optimizer.iterations == 10 and m.optimizer.learning_rate == pytest.approx(schedule(10))
    assert_same_weights(m.get_weights(), stepwise(schedule, optimizer))


def test_a_users_schedule_and_a_callable_work_as_learning_rate():
    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.1 / 2 ** (step // 4)

    m = model(Halving())
    m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_same_weights(m.get_weights(), stepwise(Halving()))
    m = model(lambda: 0.05)
    m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_same_weights(m.get_weights(), stepwise(lambda step: 0.05))


def test_a_schedule_is_saved_and_loaded(tmp_path):
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** (step // 4)

        def get_config(self):
            return {"start": self.start}

    for schedule in (schedules.CosineDecay(0.1, 20, warmup_target=0.2, warmup_steps=3), Halving(0.3)):
        m = model(schedule)
        m.fit(X, Y, batch_size=8, epochs=1, verbose=0)
        path = str(tmp_path / "m.npz")
        m.save(path)
        again = fnn.load_model(path, custom_objects={"Halving": Halving})
        assert type(again.optimizer._learning_rate) is type(schedule)
        assert again.optimizer.learning_rate == m.optimizer.learning_rate == schedule(5)
    with pytest.raises(ValueError, match="custom_objects"):
        fnn.load_model(path)


def test_bad_schedules_are_clear_errors_and_change_nothing(tmp_path):
    with pytest.raises(ValueError, match="decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="length of boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(TypeError, match="take no argument"):
        fnn.optimizers.SGD(lambda step: 0.1)
    with pytest.raises(TypeError, match="not settable"):
        model(schedules.CosineDecay(0.1, 10)).optimizer.learning_rate = 0.5

    class Broken(schedules.LearningRateSchedule):
        def __call__(self, step):
            return -1.0 if step >= 5 else 0.1

    m = model(Broken())
    m.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # steps 0-4
    before = m.get_weights()
    with pytest.raises(ValueError, match="gave -1.0 at step 5"):
        m.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert_same_weights(m.get_weights(), before)
    lambda_model = model(lambda: 0.1)
    with pytest.raises(ValueError, match="plain callable"):
        lambda_model.save(str(tmp_path / "lambda.npz"))
    assert not list(tmp_path.iterdir())
    with pytest.raises(TypeError, match="not settable"):
        model(schedules.CosineDecay(0.1, 10)).fit(X, Y, verbose=0, callbacks=[
            fnn.callbacks.LearningRateScheduler(lambda epoch: 0.1)])
