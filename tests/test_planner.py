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


def _fit(seed=7, epochs=2, dropout=True, **fit):
    """A seeded fit (Dropout draws from the compiled generator); its weights, history and a prediction."""
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Input((24,)),
                            layers.Dense(16, activation="relu", kernel_regularizer=fnn.regularizers.L1L2(1e-3, 1e-3))]
                           + [layers.Dropout(0.3)] * dropout + [layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, **fit)
    return model.get_weights(), history.history["loss"], model.predict(x, batch_size=16)


def _only(monkeypatch, plan):
    monkeypatch.setattr(planner, "candidates", lambda plan_table, batch_size, sparse, split: [plan])


PLANS = [planner.Plan(csr, threads, parts) for csr in (True, False) for threads, parts in ((1, 1), (None, 1), (1, 2))]
SPLIT = [plan for plan in PLANS if plan.parts > 1]


def test_a_timed_fit_equals_a_fit_on_its_plan_bit_for_bit(monkeypatch):
    monkeypatch.setattr(config, "PLAN_STALE_FACTOR", np.inf)  # (no timing again mid-fit, where another test's
    # load slows a call: another plan could take over, and round differently)
    weights, losses, _ = _fit()
    chosen = {plan for plan, _ in planner._remembered.values()}
    fit_plans = [plan for k, (plan, _) in planner._remembered.items() if k[0] == "fit"]
    assert len(fit_plans) == 1 and chosen <= set(PLANS) and fit_plans[0].parts == 1  # Dropout: no split
    planner.forget()
    _only(monkeypatch, fit_plans[0])
    again, losses_again, _ = _fit()
    for a, b in zip(weights, again):
        np.testing.assert_array_equal(a, b)  # the trials touched no weight, optimizer state or generator
    assert losses == losses_again


@pytest.mark.parametrize("plan", PLANS, ids=str)
def test_every_plan_trains_and_predicts_the_same_to_rounding(monkeypatch, plan):
    dropout = plan.parts == 1  # (a split fit draws no random numbers: its parts' generators are their threads')
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    reference = _fit(dropout=dropout)
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    _only(monkeypatch, plan)
    weights, losses, predictions = _fit(dropout=dropout)
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
    planner.observed(key, 0.0015, 1)
    assert key in planner._remembered
    slow = 0.001 * config.PLAN_STALE_FACTOR * 1.1
    planner.observed(key, slow, 1)
    planner.observed(key, 0.0015, 1)  # one slow call, then a normal one: noise
    for _ in range(config.PLAN_STALE_CALLS - 1):
        planner.observed(key, slow, 1)
    assert key in planner._remembered
    planner.observed(key, slow, 1)
    assert key not in planner._remembered
    planner._remembered[key] = (planner.Plan(True, None), 0.001)
    for _ in range(3):
        planner.observed(key, slow, 1, runs=False)  # a pass's: only much slower counts
    assert key in planner._remembered
    planner.observed(key, 0.001 * config.PLAN_STALE_FACTOR ** 2 * 1.1, 1)  # much slower: at once
    assert key not in planner._remembered


def test_small_work_and_fixed_setting_use_config_rules(monkeypatch):
    plan = np.array([[0, 784, 128, 2, 0, 100352, 0], [0, 128, 10, 4, 100480, 101760, 128]])
    monkeypatch.setattr(planner.blas, "controllable", lambda: True)
    monkeypatch.setattr(planner.config, "cores", lambda: 2)
    # batch 32: with CSR first, BLAS's largest GEMM is 32x128x10 (one thread, untimed); rows: 32x784x128
    assert planner.candidates(plan, 32, True, split=False) == [planner.Plan(True, 1), planner.Plan(False, 1),
                                                               planner.Plan(False, None)]
    assert planner.candidates(plan, 1024, False, split=False) == [planner.Plan(False, 1), planner.Plan(False, None)]
    assert planner.candidates(plan, 1024, False, split=True) == [planner.Plan(False, 1), planner.Plan(False, 1, 2)]
    monkeypatch.setattr(planner.blas, "controllable", lambda: False)  # parts need BLAS held to one thread
    assert planner.candidates(plan, 1024, False, split=True) == [planner.Plan(False, 1)]
    assert planner.fixed(plan, 32, True, training=True) == planner.Plan(True, 1)
    assert planner.fixed(plan, config.SPARSE_INPUT_MAX_BATCH, True, training=True).csr is False
    assert planner.fixed(plan, config.SPARSE_INPUT_MAX_BATCH, True, training=False).csr is True
    monkeypatch.setattr(config, "PLAN_MIN_MACS", 1e9)
    assert not planner.timed(plan, 1000, 32) and planner.timed(plan, 60000, 32)
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    assert not planner.timed(plan, 60000, 32)


@pytest.mark.parametrize("plan", SPLIT, ids=str)
def test_a_split_fit_repeats_bit_for_bit(monkeypatch, plan):
    _only(monkeypatch, plan)
    first, again = _fit(dropout=False, shuffle=True), _fit(dropout=False, shuffle=True)
    for a, b in zip(first[0], again[0]):
        np.testing.assert_array_equal(a, b)  # the parts' gradients are added in one order
    assert first[1] == again[1]


def test_fits_that_draw_or_pool_are_not_split(monkeypatch):
    offered = []
    real = planner.candidates
    monkeypatch.setattr(planner, "candidates", lambda *args: offered.append(args[3]) or real(*args))
    for middle in ([], [layers.Dropout(0.2)], [layers.BatchNormalization()]):
        planner.forget()
        model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), *middle, layers.Dense(4)])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(*_data(), batch_size=16, epochs=1, verbose=0)
    assert offered == [True, False, False]


@pytest.mark.parametrize("plan", SPLIT, ids=str)
def test_a_split_fit_stops_where_one_part_goes_non_finite(monkeypatch, plan):
    def diverging():
        fnn.utils.set_random_seed(2)
        model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
        model.compile(optimizer=fnn.optimizers.SGD(1e9), loss="mse")
        x = _data()[0]
        x[-40] = 1e30  # one sample, in one part's share of a batch, overflows the squared error
        with pytest.warns(RuntimeWarning, match="NaN or infinite"):
            history = model.fit(x, np.ones(len(x)), batch_size=16, epochs=3, verbose=0)
        return model.get_weights(), history.history["loss"]
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    reference = diverging()
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    _only(monkeypatch, plan)
    weights, losses = diverging()
    for a, b in zip(reference[0], weights):
        np.testing.assert_allclose(b, a, rtol=1e-4)  # the last finite step's, on every part
    assert len(losses) == len(reference[1])


def test_a_failing_part_releases_the_others(monkeypatch):
    from fastnn.backends import cpu
    _only(monkeypatch, planner.Plan(False, 1, 2))
    real = cpu.Workspace.part

    def broken(ws, p, indexing=False):  # part 1 gets a work area too small: its loop refuses to start
        found = real(ws, p, indexing)
        return cpu.Workspace(found.work[:1], found.layout, found.iwork, found.bidx, 0) if p == 1 else found
    monkeypatch.setattr(cpu.Workspace, "part", broken)
    with pytest.raises(RuntimeError, match="internal error"):
        _fit(dropout=False)


def test_sum_parts_adds_every_part_into_the_first_over_the_ranges():
    from fastnn.backends.cpu.split import sum_parts
    peers = np.random.default_rng(0).random((3, 40)).astype(np.float32)
    ranges = np.array([[2, 9], [20, 37]], np.int64)
    expected = peers[0].copy()
    for start, stop in ranges:
        expected[start:stop] = peers[0, start:stop] + peers[1, start:stop] + peers[2, start:stop]
    assert sum_parts.py(peers, ranges)
    np.testing.assert_array_equal(peers[0], expected)
    peers[2, 30] = np.inf
    assert not sum_parts.py(peers, ranges)


def test_regularize_over_shares_adds_up_to_the_whole():
    from fastnn.backends.cpu.penalty import regularize
    plan = np.array([[0, 6, 5, 0, 0, 30, 0], [0, 5, 2, 0, 35, 45, 5]])  # two Dense steps: kernels at 0 and 35
    fplan = np.array([[0.01, 0.02, 0.0], [0.0, 0.03, 0.0]])
    params = np.random.default_rng(4).normal(size=47)
    whole, parts = np.zeros(47), np.zeros(47)
    penalty = regularize.py(plan, fplan, params, whole, True, 0.5, 0, 47)
    shares = sum(regularize.py(plan, fplan, params, parts, True, 0.5, lo, hi) for lo, hi in [(0, 13), (13, 40), (40, 47)])
    assert shares == pytest.approx(penalty, rel=1e-12)
    np.testing.assert_allclose(parts, whole, rtol=1e-12)
    assert penalty == pytest.approx(0.5 * (0.01 * np.abs(params[:30]).sum() + 0.02 * (params[:30] ** 2).sum()
                                           + 0.03 * (params[35:45] ** 2).sum()))


def test_shares_cut_the_trainable_ranges_evenly():
    from fastnn.backends.cpu import _shares
    shares = _shares(np.array([[0, 100], [140, 200]], np.int64), 2)
    assert [s.tolist() for s in shares] == [[[0, 80]], [[80, 100], [140, 200]]]
    assert [s.tolist() for s in _shares(np.array([[0, 10]], np.int64), 2)] == [[[0, 10]], []]


@pytest.mark.filterwarnings("ignore::UserWarning")  # (scikit-learn's ConvergenceWarning after 3 epochs)
@pytest.mark.parametrize("plan", SPLIT, ids=str)
def test_a_split_fit_weighs_samples_over_the_whole_batch(monkeypatch, plan):
    pytest.importorskip("sklearn")
    from fastnn.sklearn import MLPClassifier
    x, y = _data()
    weights = np.random.default_rng(1).random(len(x))

    def fit():
        model = MLPClassifier(hidden_layer_sizes=(16,), batch_size=16, max_iter=3, alpha=0.01, random_state=0)
        return model.fit(x.astype(np.float64), y, sample_weight=weights)
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    reference = fit()
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    _only(monkeypatch, plan)
    split = fit()
    assert [p for k, (p, _) in planner._remembered.items() if k[0] == "fit"] == [plan]
    for a, b in zip(reference.coefs_ + reference.intercepts_, split.coefs_ + split.intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(split.loss_curve_, reference.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("plan", SPLIT + [planner.Plan(False, None)], ids=str)
def test_a_plan_on_several_cores_trains_in_checked_calls_with_the_same_result(monkeypatch, plan):
    def fit(check_seconds):
        monkeypatch.setattr(config, "PLAN_CHECK_SECONDS", check_seconds)
        planner.forget()
        calls = []
        real = planner.observed
        monkeypatch.setattr(planner, "observed", lambda k, s, n: calls.append(s) or real(k, s, n))
        fnn.utils.set_random_seed(5)
        model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(4)])
        rate = fnn.optimizers.schedules.ExponentialDecay(0.01, decay_steps=3, decay_rate=0.5)
        model.compile(optimizer=fnn.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")
        model.fit(*_data(), batch_size=16, epochs=2, verbose=0)
        return model.get_weights(), len(calls)
    monkeypatch.setattr(planner, "candidates", lambda *args: [plan, plan])  # (two: timed, so its pace is known)
    whole, calls = fit(1e9)
    checked, more_calls = fit(1e-9)  # one step per call: the rate schedule and step count must carry over
    assert calls == 2 and more_calls == 2 * 12
    for a, b in zip(whole, checked):
        np.testing.assert_array_equal(a, b)


def test_a_cold_start_does_not_wait_for_the_split_kernels(monkeypatch):
    from fastnn.backends.cpu import compiling
    offered = []
    real = planner.candidates
    monkeypatch.setattr(planner, "candidates", lambda *args: offered.append(args[3]) or real(*args))
    monkeypatch.setattr(compiling, "available", lambda dtype, chosen: False)  # (as when nothing is cached yet)
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(4)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(*_data(), batch_size=16, epochs=1, verbose=0)
    assert offered == [False]


def test_trials_make_one_step_calls_only_for_fits_that_do(monkeypatch, capsys):
    seen = []
    real = planner.trial_steps
    monkeypatch.setattr(planner, "trial_steps", lambda *args, **kw: seen.append(kw.get("per_call")) or real(*args, **kw))

    class EveryBatch(fnn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass
    for callbacks, verbose in (([], 1), ([EveryBatch()], 0)):  # the progress bar's first call is one step too
        planner.forget()
        seen.clear()
        model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(4)])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(*_data(), batch_size=16, epochs=1, verbose=verbose, callbacks=callbacks)
        assert seen and set(seen) == {1 if callbacks else None}


def test_a_split_pass_on_many_cores_times_only_its_own_batches(monkeypatch):
    """With 4 cores, a pass of 9 batches is split 4 ways: its trials must stay within those 9 batches."""
    monkeypatch.setattr(config, "cores", lambda: 4)
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(16, activation="relu"), layers.Dense(4)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = _data(n=9 * 16)[0]
    monkeypatch.setattr(config, "CPU_PLANS", "fixed")
    want = model.predict(x, batch_size=16, verbose=0)
    monkeypatch.setattr(config, "CPU_PLANS", "timed")
    ranged = []
    real = planner.trial_steps
    monkeypatch.setattr(planner, "trial_steps", lambda run_steps, steps, *a, **kw: real(
        lambda first, count: ranged.append((first, count, steps)) or run_steps(first, count), steps, *a, **kw))
    np.testing.assert_allclose(model.predict(x, batch_size=16, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert ranged and all(first + count <= steps for first, count, steps in ranged)


def test_the_loop_refuses_a_batch_past_the_data():
    from fastnn.backends import cpu
    from fastnn.backends.cpu import loop
    model = fnn.Sequential([layers.Input((24,)), layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    x = _data(n=32)[0]
    backend, net = model._backend, model._network()
    model.predict(x, batch_size=16, verbose=0)  # (loads what the loop calls)
    data = backend.put_data(x, np.zeros((32, 4), np.float32))
    ws = backend.workspace(model.plan, 16, 24, 4, model.dtype)
    out = np.empty((32, 4), np.float32)
    args = (loop.PREDICT, net, cpu._nothing(np.float32, 2), 0, cpu._nothing(np.float64, 2), 0.0,
            cpu._nothing(np.int64, 2), data, np.arange(32), True, loop.DENSE_INPUT, 16)
    assert cpu._run(*args, 0, 2, ws, np.zeros(8), out) == 2
    with pytest.raises(RuntimeError, match="past the data"):
        cpu._run(*args, 0, 3, ws, np.zeros(8), out)  # batch 2 would start at row 32 of 32


def test_a_plan_that_has_run_long_is_timed_again(monkeypatch):
    """A plan timed while another job held a core would keep to one core for good: once its steps have run
    PLAN_RECHECK_SECONDS, its candidates are timed again."""
    key, options, trials = ("fit", b"recheck", 16, "<f4", True), [planner.Plan(True, 1), planner.Plan(True, 1, 2)], []

    def trial(plan):
        trials.append(plan)
        return 1.0 if plan.parts == 1 else 2.0
    assert planner.chosen(key, options, trial) == options[0] and len(trials) == 2 * config.PLAN_TRIAL_ROUNDS
    monkeypatch.setattr(config, "PLAN_RECHECK_SECONDS", 10.0)
    planner.observed(key, 6.0, 6)
    assert planner.chosen(key, options, trial) == options[0] and len(trials) == 2 * config.PLAN_TRIAL_ROUNDS
    planner.observed(key, 6.0, 6)  # 12 s of its steps: timed again
    assert planner.chosen(key, options, lambda plan: 1.0 if plan.parts > 1 else 2.0) == options[1]
    planner.forget()


def test_timing_again_skips_plans_that_lost_by_far_on_as_many_cores():
    """On the same cores, CSR against BLAS rows hardly changes with the machine: a candidate that took
    PLAN_LOST_BY times as long as another is not timed again. Every number of cores is."""
    key = ("fit", b"again", 16, "<f4", True)
    options = [planner.Plan(True, 1), planner.Plan(True, 1, 2), planner.Plan(False, 1), planner.Plan(False, 1, 2)]
    paces = {options[0]: 1.0, options[1]: 0.6, options[2]: 2.0, options[3]: 0.8}
    timed = []

    def trial(plan):
        timed.append(plan)
        return paces[plan]
    assert planner.chosen(key, options, trial) == options[1] and set(timed) == set(options)
    planner._drop(key)
    timed.clear()
    paces[options[1]], paces[options[3]] = 5.0, 6.0  # the second core is taken now
    assert planner.chosen(key, options, trial) == options[0]
    assert set(timed) == {options[0], options[1], options[3]}  # (BLAS rows took 2x CSR on one core; 1.33x on two)
    planner.forget()


def test_a_plan_that_wins_again_is_timed_again_twice_as_late(monkeypatch):
    monkeypatch.setattr(config, "PLAN_RECHECK_SECONDS", 1.0)
    monkeypatch.setattr(config, "PLAN_RECHECK_MAX_SECONDS", 4.0)
    key, options, timed = ("fit", b"backoff", 16, "<f4", True), [planner.Plan(True, 1), planner.Plan(True, 1, 2)], []
    paces = {options[0]: 1.0, options[1]: 2.0}

    def trial(plan):
        timed.append(plan)
        return paces[plan]

    def after(seconds):  # how many trials the next call makes once the plan has run `seconds` more
        planner.observed(key, seconds, 1000)  # (steps at their trial's pace: not slow)
        before = len(timed)
        planner.chosen(key, options, trial)
        return len(timed) - before
    planner.chosen(key, options, trial)
    assert [after(0.9), after(0.2)] == [0, 4]  # 1.1 s > 1 s: timed again; the same winner ...
    assert [after(1.5), after(0.6)] == [0, 4]  # ... so 2 s the next time
    assert [after(3.5), after(0.6)] == [0, 4]  # 4 s, the most
    assert [after(3.5), after(0.6)] == [0, 4]
    paces[options[1]] = 0.5  # the other plan wins: back to 1 s
    assert [after(3.5), after(0.6)] == [0, 4] and planner.chosen(key, options, trial) == options[1]
    assert after(1.1) == 4
    planner.forget()


def test_a_lone_candidate_is_never_timed(monkeypatch):
    monkeypatch.setattr(config, "PLAN_RECHECK_SECONDS", 1.0)
    key, plan = ("fit", b"lone", 16, "<f4", True), planner.Plan(True, 1)

    def trial(p):
        raise AssertionError("a lone candidate was timed")
    assert planner.chosen(key, [plan], trial) == plan
    planner.observed(key, 5.0, 1000)
    assert planner.chosen(key, [plan], trial) == plan
    planner.forget()
