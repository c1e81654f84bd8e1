"""sample_weight and class_weight: Keras 3's weighted loss (sum(w * loss) / batch size), unweighted metrics."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 4))
LABELS = RNG.integers(0, 3, 24)
W = RNG.uniform(0.0, 2.0, 24)
TARGETS = RNG.normal(size=(24, 3))


def model(loss="sparse_categorical_crossentropy", act="softmax", dtype="float64", lr=0.1):
    fnn.utils.set_random_seed(3)
    m = fnn.Sequential([layers.Dense(5, activation="tanh", input_shape=(4,)), layers.Dense(3, activation=act)],
                       dtype=dtype)
    m.compile(optimizer=fnn.optimizers.SGD(lr), loss=loss, metrics=["accuracy"] if "entropy" in loss else ["mae"])
    return m


def per_sample(loss, p, y):
    """Each sample's loss by its textbook formula (NumPy, float64)."""
    if loss == "sparse_categorical_crossentropy":
        return -np.log(p[np.arange(len(y)), y])
    if loss == "mse":
        return ((p - y) ** 2).mean(axis=1)
    return fnn.losses.huber(y, p)


@pytest.mark.parametrize("loss, act, y", [("sparse_categorical_crossentropy", "softmax", LABELS),
                                          ("mse", "linear", TARGETS), ("huber", "linear", TARGETS)])
def test_a_weighted_loss_is_the_weighted_sum_over_the_batch_size(loss, act, y):
    m = model(loss, act)
    want = float((W * per_sample(loss, m.predict(X), y)).mean())
    got = m.evaluate(X, y, sample_weight=W, batch_size=8, verbose=0)
    assert (got[0] if isinstance(got, list) else got) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("loss, act, y", [("sparse_categorical_crossentropy", "softmax", LABELS),
                                          ("binary_crossentropy", "sigmoid", (TARGETS > 0).astype(float)),
                                          ("categorical_hinge", "linear", np.eye(3)[LABELS]),
                                          ("mse", "linear", TARGETS)])
def test_the_gradient_of_the_weighted_loss_matches_finite_differences(loss, act, y):
    """One full-batch SGD step at learning rate 1 moves the weights by minus the gradient (float64)."""
    m = model(loss, act, lr=1.0)
    before = m.get_weights()
    m.fit(X, y, batch_size=24, epochs=1, shuffle=False, verbose=0, sample_weight=W)
    step = [b - a for b, a in zip(before, m.get_weights())]
    m.set_weights(before)
    for k, w in enumerate(before):
        for idx in [(0,) * w.ndim, tuple(s - 1 for s in w.shape)]:
            values = []
            for sign in (1, -1):
                trial = [v.copy() for v in before]
                trial[k][idx] += sign * 1e-6
                m.set_weights(trial)
                out = m.evaluate(X, y, sample_weight=W, batch_size=24, verbose=0)
                values.append(out[0] if isinstance(out, list) else out)
            assert step[k][idx] == pytest.approx((values[0] - values[1]) / 2e-6, rel=1e-5, abs=1e-9)


def test_unit_weights_train_exactly_as_no_weights_and_metrics_stay_unweighted():
    a = model(dtype="float32")  # (each model seeds the generator: built and fitted one after the other)
    ha = a.fit(X, LABELS, batch_size=8, epochs=2, verbose=0, sample_weight=np.ones(24))
    b = model(dtype="float32")
    hb = b.fit(X, LABELS, batch_size=8, epochs=2, verbose=0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert ha.history == hb.history
    weighted = a.evaluate(X, LABELS, sample_weight=W, verbose=0)
    assert weighted[1] == a.evaluate(X, LABELS, verbose=0)[1]  # Keras weights `weighted_metrics` only


def test_class_weight_is_the_sample_weight_of_each_samples_class():
    class_weight = {0: 2.0, 1: 0.5}  # class 2 is missing: weight 1, as in Keras
    as_samples = np.array([class_weight.get(int(c), 1.0) for c in LABELS])
    a = model()
    a.fit(X, LABELS, batch_size=8, epochs=2, verbose=0, class_weight=class_weight)
    b = model()
    b.fit(X, LABELS, batch_size=8, epochs=2, verbose=0, sample_weight=as_samples)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    one_hot = model("categorical_crossentropy")
    one_hot.fit(X, np.eye(3)[LABELS], batch_size=8, epochs=2, verbose=0, class_weight=class_weight)  # (argmax)
    for u, v in zip(one_hot.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_validation_split_takes_its_sample_weights_along_but_class_weight_stays_in_training():
    m = model()
    history = m.fit(X, LABELS, batch_size=8, epochs=1, verbose=0, sample_weight=W, validation_split=0.25)
    assert history.history["val_loss"][0] == pytest.approx(
        m.evaluate(X[18:], LABELS[18:], sample_weight=W[18:], verbose=0)[0], rel=1e-12)
    history = m.fit(X, LABELS, batch_size=8, epochs=1, verbose=0, class_weight={0: 5.0}, validation_split=0.25)
    assert history.history["val_loss"][0] == pytest.approx(m.evaluate(X[18:], LABELS[18:], verbose=0)[0], rel=1e-12)
    history = m.fit(X, LABELS, epochs=1, verbose=0, validation_data=(X[:6], LABELS[:6], W[:6]))
    assert history.history["val_loss"][0] == pytest.approx(
        m.evaluate(X[:6], LABELS[:6], sample_weight=W[:6], verbose=0)[0], rel=1e-12)


def test_weighted_batches_from_a_generator_train_as_weighted_arrays():
    a, b = model(), model()
    a.fit(((X[i:i + 8], LABELS[i:i + 8], W[i:i + 8]) for i in range(0, 24, 8)), verbose=0)
    b.fit(X, LABELS, batch_size=8, shuffle=False, verbose=0, sample_weight=W)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    assert a.evaluate([(X, LABELS, W)], verbose=0)[0] == pytest.approx(
        a.evaluate(X, LABELS, sample_weight=W, verbose=0)[0], rel=1e-12)


def test_one_batch_calls_take_weights():
    a, b = model(), model()
    a.train_on_batch(X, LABELS, sample_weight=W)
    b.fit(X, LABELS, batch_size=24, shuffle=False, verbose=0, sample_weight=W)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    assert a.test_on_batch(X, LABELS, sample_weight=W)[0] == a.evaluate(X, LABELS, sample_weight=W, batch_size=24,
                                                                      verbose=0)[0]
    a.train_on_batch(X, LABELS, class_weight={1: 3.0})
