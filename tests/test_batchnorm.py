"""layers.BatchNormalization: Keras 3's definitions, checked against NumPy and finite differences (float64)."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(12, 3)) * 2 + 1, RNG.normal(size=(12, 2))
EPS = 1e-3


def network(first=False, trainable=True, momentum=0.99):
    fnn.utils.set_random_seed(0)
    norm = layers.BatchNormalization(momentum=momentum, trainable=trainable, **({"input_shape": (3,)} if first else {}))
    stack = [norm, layers.Dense(2)] if first else [layers.Dense(4, input_shape=(3,)), norm, layers.Dense(2)]
    m = fnn.Sequential(stack, dtype="float64")
    m.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss="mse")
    weights = m.get_weights()
    k = 0 if first else 2
    weights[k:k + 4] = [RNG.uniform(0.5, 1.5, weights[k].shape), RNG.normal(size=weights[k].shape),  # gamma, beta
                        RNG.normal(size=weights[k].shape), RNG.uniform(0.5, 2.0, weights[k].shape)]  # moving
    m.set_weights(weights)
    return m, k


def reference_loss(weights, k, training):
    """MSE of the network written out in NumPy: batch statistics when training, the moving ones otherwise."""
    h = X if k == 0 else X @ weights[0] + weights[1]
    gamma, beta, mean, var = weights[k:k + 4]
    if training:
        mean, var = h.mean(axis=0), h.var(axis=0)
    out = (gamma * (h - mean) / np.sqrt(var + EPS) + beta) @ weights[k + 4] + weights[k + 5]
    return ((out - Y) ** 2).mean()


def step_and_numeric_gradient(m, k, training):
    """(the change one full-batch SGD step at learning rate 1 made, central differences of the reference)."""
    before = m.get_weights()
    m.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    step = [b - a for b, a in zip(before, m.get_weights())]
    numeric = []
    for i, w in enumerate(before):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            values = []
            for sign in (1, -1):
                trial = [v.copy() for v in before]
                trial[i][idx] += sign * 1e-6
                values.append(reference_loss(trial, k, training))
            g[idx] = (values[0] - values[1]) / 2e-6
        numeric.append(g)
    return before, step, numeric


@pytest.mark.parametrize("first", [False, True])
def test_training_uses_batch_statistics_and_backprop_matches_finite_differences(first):
    m, k = network(first)
    before, step, numeric = step_and_numeric_gradient(m, k, training=True)
    for i in [j for j in range(len(before)) if j not in (k + 2, k + 3)]:  # (the moving statistics are no gradient)
        np.testing.assert_allclose(step[i], numeric[i], rtol=1e-5, atol=1e-8, err_msg=f"weight {i}")
    h = X if first else X @ before[0] + before[1]
    after = m.get_weights()
    np.testing.assert_allclose(after[k + 2], before[k + 2] * 0.99 + h.mean(axis=0) * 0.01, rtol=1e-12)
    np.testing.assert_allclose(after[k + 3], before[k + 3] * 0.99 + h.var(axis=0) * 0.01, rtol=1e-12)


def test_inference_uses_the_moving_statistics():
    m, k = network()
    weights = m.get_weights()
    h = X @ weights[0] + weights[1]
    gamma, beta, mean, var = weights[2:6]
    want = (gamma * (h - mean) / np.sqrt(var + EPS) + beta) @ weights[6] + weights[7]
    np.testing.assert_allclose(m.predict(X), want, rtol=1e-12)
    assert m.evaluate(X, Y, verbose=0) == pytest.approx(reference_loss(weights, k, training=False), rel=1e-12)


def test_a_frozen_layer_runs_in_inference_mode_during_fit_and_keeps_its_weights():
    m, k = network(trainable=False)
    before, step, numeric = step_and_numeric_gradient(m, k, training=False)
    for i in (0, 1, 6, 7):
        np.testing.assert_allclose(step[i], numeric[i], rtol=1e-5, atol=1e-8)
    for i in (2, 3, 4, 5):
        np.testing.assert_array_equal(step[i], 0.0)


def test_keras_defaults_weights_summary_and_saving(tmp_path):
    norm = layers.BatchNormalization()
    assert (norm.momentum, norm.epsilon, norm.center, norm.scale) == (0.99, 1e-3, True, True)
    m = fnn.Sequential([layers.Dense(4, input_shape=(3,)), norm, layers.Dense(2)])
    assert [w.tolist() for w in norm.get_weights()] == [[1.0] * 4, [0.0] * 4, [0.0] * 4, [1.0] * 4]
    assert len(norm.trainable_weights) == 2 and len(norm.non_trainable_weights) == 2
    lines = []
    m.summary(print_fn=lines.append)
    assert "Non-trainable params: 8" in lines
    m.compile(optimizer="adam", loss="mse")
    m.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    m.save(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(fnn.load_model(str(tmp_path / "m.npz")).predict(X), m.predict(X))


@pytest.mark.parametrize("kwargs, message", [({"momentum": 1.5}, "momentum"), ({"epsilon": 0}, "epsilon"),
                                             ({"center": False}, "center=True and scale=True"),
                                             ({"axis": 0}, "axis=-1"), ({"gamma_initializer": "nope"}, "nope")])
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        layers.BatchNormalization(**kwargs)
