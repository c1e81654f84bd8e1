"""Backprop equals central finite differences (float64) for every activation, loss and regulariser.

The gradient is read through the public training step: one full-batch SGD step with learning
rate 1 changes the weights by exactly minus the gradient.
"""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

ACTIVATIONS = ["linear", "sigmoid", "relu", "tanh", "softmax", "leaky_relu", "elu", "softplus", "selu", "relu6",
               "hard_sigmoid", "exponential"]
FROM_INPUT = ["gelu", "swish", "mish"]  # differentiated from their input: a step of their own in the network
# Output activation used with each loss, so the loss sees values in its domain.
LOSSES = {
    "mse": "linear", "mae": "tanh", "hinge": "tanh",
    "binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "huber": "linear", "log_cosh": "linear", "poisson": "softplus", "mean_absolute_percentage_error": "tanh",
    "mean_squared_logarithmic_error": "softplus", "squared_hinge": "tanh", "categorical_hinge": "linear",
    "kl_divergence": "softmax",
}
N, D, H, K = 6, 3, 4, 3


def targets(loss, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, K, N)
    if loss in ("categorical_crossentropy", "categorical_hinge"):
        return np.eye(K)[rng.integers(0, K, N)]
    if loss in ("poisson", "kl_divergence"):
        return rng.uniform(0.05, 1.0, (N, K))
    if loss == "mean_squared_logarithmic_error":
        return rng.uniform(0.0, 2.0, (N, K))
    if loss in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], (N, K))
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (N, K)).astype(float)
    return rng.normal(size=(N, K))


def build(hidden, output, loss, regularizer=None, use_bias=True):
    model = fnn.Sequential([layers.Dense(H, activation=hidden, input_shape=(D,), kernel_regularizer=regularizer),
                            layers.Dense(K, activation=output, use_bias=use_bias)], dtype="float64")
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss=loss)
    return model


def backprop_gradient(model, x, y):
    before = model.get_weights()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    after = model.get_weights()
    model.set_weights(before)
    return [b - a for b, a in zip(before, after)]


def numeric_gradient(model, x, y, eps=1e-6):
    weights = model.get_weights()
    grads = []
    for k, w in enumerate(weights):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            values = []
            for sign in (1, -1):
                trial = [v.copy() for v in weights]
                trial[k][idx] += sign * eps
                model.set_weights(trial)
                values.append(model.evaluate(x, y, batch_size=len(x), verbose=0))
            g[idx] = (values[0] - values[1]) / (2 * eps)
        grads.append(g)
    model.set_weights(weights)
    return grads


def check(model, x, y):
    for got, want in zip(backprop_gradient(model, x, y), numeric_gradient(model, x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("hidden", ACTIVATIONS)
def test_hidden_activation_and_loss(hidden, loss):
    rng = np.random.default_rng(len(hidden) * 7 + len(loss))
    x = rng.normal(size=(N, D))
    check(build(hidden, LOSSES[loss], loss), x, targets(loss, rng))


@pytest.mark.parametrize("loss", ["mse", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("hidden", FROM_INPUT)
def test_activations_differentiated_from_their_input(hidden, loss):
    """As a Dense layer's activation, and as an Activation layer first in the network and after Dropout(0)."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(N, D))
    check(build(hidden, LOSSES[loss], loss), x, targets(loss, rng))
    model = fnn.Sequential([layers.Activation(hidden, input_shape=(D,)), layers.Dense(H),
                            layers.Dropout(0.0), layers.Activation(hidden), layers.Dense(K)], dtype="float64")
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss="mse")
    check(model, x, targets("mse", rng))


@pytest.mark.parametrize("output", ACTIVATIONS + FROM_INPUT)
def test_output_activation(output):
    rng = np.random.default_rng(3)
    check(build("tanh", output, "mse"), rng.normal(size=(N, D)), targets("mse", rng))


@pytest.mark.parametrize("loss", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_from_logits(loss, output):
    rng = np.random.default_rng(5)
    cls = {"binary_crossentropy": fnn.losses.BinaryCrossentropy,
           "categorical_crossentropy": fnn.losses.CategoricalCrossentropy,
           "sparse_categorical_crossentropy": fnn.losses.SparseCategoricalCrossentropy}[loss]
    check(build("relu", output, cls(from_logits=True)), rng.normal(size=(N, D)), targets(loss, rng))


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"])
def test_probability_crossentropy_without_fusion(loss):
    """Cross-entropy on outputs that are not a softmax/sigmoid layer's goes through the clipped path."""
    rng = np.random.default_rng(9)
    output = "sigmoid" if loss != "binary_crossentropy" else "softplus"
    y = targets(loss, rng)
    if loss == "binary_crossentropy":  # softplus outputs must stay below 1: shrink them
        model = build("tanh", output, loss)
        w = model.get_weights()
        model.set_weights(w[:2] + [w[2] * 0.1, w[3] * 0 - 1.0])
    else:
        model = build("tanh", output, loss)
    check(model, rng.normal(size=(N, D)), y)


@pytest.mark.parametrize("regularizer", [fnn.regularizers.L1(0.05), fnn.regularizers.L2(0.05),
                                         fnn.regularizers.L1L2(0.02, 0.03), "l2"])
def test_regularizers(regularizer):
    rng = np.random.default_rng(11)
    check(build("sigmoid", "linear", "mse", regularizer), rng.normal(size=(N, D)), targets("mse", rng))


def test_without_bias():
    rng = np.random.default_rng(13)
    check(build("elu", "softmax", "categorical_crossentropy", use_bias=False), rng.normal(size=(N, D)),
          targets("categorical_crossentropy", rng))


def test_activation_and_dropout_layers_in_the_middle():
    """A standalone Activation layer and a rate-0 Dropout are part of the backward chain too."""
    rng = np.random.default_rng(17)
    model = fnn.Sequential([layers.Dense(H, input_shape=(D,)), layers.Activation("tanh"), layers.Dropout(0.0),
                            layers.Dense(K), layers.Activation("softmax")], dtype="float64")
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    check(model, rng.normal(size=(N, D)), targets("sparse_categorical_crossentropy", rng))


def sparse_inputs(rng, n=N, d=D, zeros=0.7):
    x = rng.normal(size=(n, d))
    x[rng.random((n, d)) < zeros] = 0.0
    return x


@pytest.mark.parametrize("shuffle", [False, True])
def test_mostly_zero_inputs_take_the_in_place_path(shuffle):
    """Inputs that are mostly zeros go through the CSR first-layer kernels: same gradients."""
    from fastnn.backends.cpu import nonzero_share, sparse_enough
    rng = np.random.default_rng(19)
    x = sparse_inputs(rng, d=8)
    assert sparse_enough(nonzero_share(x))
    model = fnn.Sequential([layers.Dense(H, activation="relu", input_shape=(8,)),
                            layers.Dense(K, activation="softmax")], dtype="float64")
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    y = targets("sparse_categorical_crossentropy", rng)
    if not shuffle:
        check(model, x, y)
        return
    # a full-batch step sees the same samples in any order: the gradient must not change
    before = model.get_weights()
    model.fit(x, y, batch_size=N, shuffle=True, verbose=0)
    shuffled = model.get_weights()
    model.set_weights(before)
    model.fit(x, y, batch_size=N, shuffle=False, verbose=0)
    for a, b in zip(shuffled, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_in_place_and_blas_paths_agree(monkeypatch):
    """The same training run on mostly-zero inputs, with the CSR path on and forced off."""
    rng = np.random.default_rng(23)
    x, y = sparse_inputs(rng, n=50, d=12), rng.integers(0, K, 50)
    runs = []
    for zeros in (0.5, 1.1):  # 1.1: no input is ever sparse enough
        monkeypatch.setattr(fnn.config, "SPARSE_INPUT_ZEROS", zeros)
        fnn.utils.set_random_seed(3)
        model = fnn.Sequential([layers.Dense(H, activation="tanh", input_shape=(12,)), layers.Dropout(0.3),
                                layers.Dense(K, activation="softmax")], dtype="float64")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        runs.append((model.get_weights(), history.history, model.predict(x), model.evaluate(x, y, verbose=0)))
    (w1, h1, p1, e1), (w2, h2, p2, e2) = runs
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(p1, p2, rtol=1e-10)
    np.testing.assert_allclose(e1, e2, rtol=1e-10)
    assert h1["accuracy"] == h2["accuracy"]


def test_huber_with_its_own_delta():
    rng = np.random.default_rng(9)
    check(build("tanh", "linear", fnn.losses.Huber(delta=0.3)), rng.normal(size=(N, D)), rng.normal(size=(N, K)))
