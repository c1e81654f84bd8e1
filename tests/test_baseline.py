"""The NumPy baseline: its gradients against finite differences, and fastnn against it, step for step."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import baseline, layers, optimizers, regularizers
from fastnn.backends.cpu import random as cpu_random
from fastnn.baseline import Activation, Dense, NumpyNetwork

N_IN = 4


def targets(loss, n, units, rng):
    """Random targets of the right kind for a loss."""
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return np.eye(units)[rng.integers(0, units, n)]
    if loss in ("binary_crossentropy", "hinge"):
        return rng.integers(0, 2, (n, units)).astype(float)
    return rng.normal(size=(n, units))


# --- (a) the baseline's gradients against central differences -----------------------------------
GRAD_CASES = [
    ([Dense(5, "tanh"), Dense(3, "sigmoid")], "mse", False),
    ([Dense(5, "relu"), Dense(2, "linear")], "mae", False),
    ([Dense(5, "elu"), Dense(3, "softmax")], "categorical_crossentropy", False),
    ([Dense(5, "leaky_relu"), Dense(2, "softplus")], "hinge", False),
    ([Dense(5, "softplus"), Dense(2, "sigmoid")], "binary_crossentropy", False),
    ([Dense(5, "sigmoid", use_bias=False), Dense(2, "linear")], "binary_crossentropy", True),
    ([Dense(5, "tanh"), Dense(3, "linear")], "sparse_categorical_crossentropy", True),
    ([Dense(5, "relu", l1=0.01, l2=0.02), Dense(3, "softmax", l2=0.05)], "sparse_categorical_crossentropy", False),
    ([Dense(5, "sigmoid"), Dense(3, "sigmoid")], "categorical_crossentropy", False),
    ([Dense(3, "sigmoid"), Activation("linear")], "binary_crossentropy", False),
    ([Dense(4, "linear"), Activation("tanh"), Dense(3, "linear"), Activation("softmax")],
     "categorical_crossentropy", False),
    ([Dense(3, "softmax"), Activation("linear")], "sparse_categorical_crossentropy", False),
    ([Dense(5, "selu"), Dense(4, "relu6"), Dense(2, "hard_sigmoid")], "mse", False),
    ([Dense(4, "exponential"), Dense(3, "softmax")], "categorical_crossentropy", False),
]


def numeric_gradients(net, x, y, h=1e-6):
    """d loss / d weight by central differences, one weight at a time."""
    weights = net.get_weights()
    grads = []
    for w in weights:
        g = np.empty_like(w)
        for i in np.ndindex(w.shape):
            values = []
            for step in (h, -h):
                w[i] += step
                net.set_weights(weights)
                values.append(net.loss_and_gradients(x, y)[0])
                w[i] -= step
            g[i] = (values[0] - values[1]) / (2 * h)
        grads.append(g)
    net.set_weights(weights)
    return grads


@pytest.mark.parametrize("steps, loss, from_logits", GRAD_CASES)
def test_gradients_match_finite_differences(steps, loss, from_logits):
    rng = np.random.default_rng(1)
    net = NumpyNetwork(N_IN, steps, loss, from_logits=from_logits, dtype="float64", seed=2)
    net.set_weights([rng.normal(scale=0.7, size=w.shape) for w in net.get_weights()])
    x = rng.normal(size=(6, N_IN))
    y = targets(loss, 6, net.widths[-1], rng)
    _, analytic = net.loss_and_gradients(x, y)
    for a, n in zip(analytic, numeric_gradients(net, x, y)):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8)


def test_fused_softmax_cross_entropy_is_p_minus_onehot():
    z = np.array([[1.0, 2.0, 4.0], [5.0, 10.0, 0.0]])
    grad = np.empty_like(z)
    value = baseline.sparse_softmax_cross_entropy(z, np.array([2, 0]), grad)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(value, -(np.log(p[0, 2]) + np.log(p[1, 0])) / 2)
    np.testing.assert_allclose(grad, (p - np.array([[0, 0, 1], [1, 0, 0]])) / 2)


def test_keras_probability_clipping():
    grad = np.empty((1, 2))
    value = baseline.LOSSES[("categorical_crossentropy", False)](np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]]), grad)
    assert value == pytest.approx(-np.log(1e-7))
    value = baseline.LOSSES[("binary_crossentropy", False)](np.array([[1.0, 0.5]]), np.array([[0.0, 1.0]]), grad)
    assert value == pytest.approx((-np.log(1e-7) + np.log(2)) / 2)
    assert grad[0, 0] == 0


def test_tutorial_network_gradient():
    # DESIGN.md section 4: 2-2-1 sigmoid net, weights 1, x = [-2, -1], y = 1: y_pred 0.524, dL/dw1 0.02147
    net = NumpyNetwork(2, [Dense(2, "sigmoid"), Dense(1, "sigmoid")], "mse", dtype="float64")
    net.set_weights([np.ones((2, 2)), np.zeros(2), np.ones((2, 1)), np.zeros(1)])
    assert net.predict([[-2.0, -1.0]])[0, 0] == pytest.approx(0.524, abs=5e-4)
    _, grads = net.loss_and_gradients([[-2.0, -1.0]], [[1.0]])
    assert grads[0][0, 0] == pytest.approx(0.02147, abs=5e-5)


# --- (b) fastnn against the baseline ------------------------------------------------------------
def fastnn_model(spec, loss, optimizer, dtype, n_in=N_IN):
    """A compiled fastnn Sequential from (kind, units or activation, activation, regulariser) rows."""
    stack = [layers.Input((n_in,))]
    for row in spec:
        if row[0] == "dense":
            stack.append(layers.Dense(row[1], activation=row[2], kernel_regularizer=row[3] if len(row) > 3 else None))
        else:
            stack.append(layers.Activation(row[1]))
    model = fnn.Sequential(stack, dtype=dtype)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def train_both(spec, loss, optimizer, dtype="float64", n=42, batch=8, epochs=3, shuffle=False, seed=5):
    """Train a fastnn model and its baseline mirror identically; return both and their epoch losses."""
    rng = np.random.default_rng(seed)
    model = fastnn_model(spec, loss, optimizer, dtype)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    net = NumpyNetwork.from_model(model)
    x = rng.normal(size=(n, N_IN))
    y = targets(loss.name if hasattr(loss, "name") else loss, n, model.output_shape[1], rng)
    orders = [None] * epochs
    if shuffle:  # the permutations fit draws: the backend's generator, after the same seed
        fnn.utils.set_random_seed(seed)
        orders = [cpu_random.shuffled_order(n, True) for _ in range(epochs)]
        fnn.utils.set_random_seed(seed)
    history = model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=shuffle, verbose=0)
    losses = [net.train_epoch(x, y, batch, order) for order in orders]
    return model, net, history.history["loss"], losses, (x, y)


def assert_same(a, b, rtol):
    """Arrays equal to rtol relative to the largest magnitude among them."""
    for u, v in zip(a, b):
        scale = max(np.abs(u).max(), np.abs(v).max(), 1e-30)
        np.testing.assert_allclose(u, v, rtol=0, atol=rtol * scale)


AGREE_CASES = [
    ("sgd", [("dense", 6, "tanh"), ("dense", 2, "linear")], "mse", optimizers.SGD(0.05)),
    ("sgd-momentum", [("dense", 6, "relu"), ("dense", 1, "sigmoid")], "binary_crossentropy",
     optimizers.SGD(0.05, momentum=0.9)),
    ("sgd-nesterov", [("dense", 6, "leaky_relu"), ("dense", 2, "linear")], "hinge",
     optimizers.SGD(0.05, momentum=0.8, nesterov=True)),
    ("adam", [("dense", 6, "relu"), ("dense", 3, "softmax")], "sparse_categorical_crossentropy",
     optimizers.Adam(0.01)),
    ("rmsprop", [("dense", 6, "sigmoid"), ("dense", 3, "sigmoid")], "categorical_crossentropy",
     optimizers.RMSprop(0.01)),
    ("rmsprop-momentum", [("dense", 6, "elu"), ("dense", 2, "tanh")], "mae",
     optimizers.RMSprop(0.005, momentum=0.9)),
    ("adagrad", [("dense", 6, "softplus"), ("dense", 2, "linear")], fnn.losses.BinaryCrossentropy(from_logits=True),
     optimizers.Adagrad(0.1)),
    ("adam-logits", [("dense", 6, "tanh"), ("dense", 3, "linear")],
     fnn.losses.CategoricalCrossentropy(from_logits=True), optimizers.Adam(0.02)),
    ("activation-layers", [("dense", 6, "linear"), ("activation", "elu"), ("dense", 3, "linear"),
                           ("activation", "softmax")], "categorical_crossentropy", optimizers.SGD(0.1, momentum=0.5)),
    ("l2", [("dense", 6, "relu", regularizers.L2(0.02)), ("dense", 3, "softmax", regularizers.L2(0.01))],
     "sparse_categorical_crossentropy", optimizers.Adam(0.01)),
    ("l1l2", [("dense", 6, "tanh", regularizers.L1L2(0.01, 0.01)), ("dense", 2, "sigmoid")],
     "binary_crossentropy", optimizers.RMSprop(0.01)),
    ("selu-relu6-hard-sigmoid", [("dense", 6, "selu"), ("dense", 4, "relu6"), ("activation", "exponential"),
                                 ("dense", 2, "hard_sigmoid")], "mse", optimizers.Adam(0.01)),
]


@pytest.mark.parametrize("name, spec, loss, optimizer", AGREE_CASES, ids=[c[0] for c in AGREE_CASES])
def test_fastnn_matches_baseline_float64(name, spec, loss, optimizer):
    model, net, fastnn_losses, numpy_losses, (x, y) = train_both(spec, loss, optimizer)
    np.testing.assert_allclose(fastnn_losses, numpy_losses, rtol=1e-10)
    assert_same(model.get_weights(), net.get_weights(), 1e-10)
    assert_same([model.predict(x)], [net.predict(x)], 1e-10)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(net.evaluate(x, y), rel=1e-10)


def test_fastnn_matches_baseline_with_shuffling():
    spec = [("dense", 6, "relu"), ("dense", 3, "softmax")]
    model, net, fastnn_losses, numpy_losses, _ = train_both(spec, "sparse_categorical_crossentropy",
                                                            optimizers.Adam(0.01), shuffle=True)
    np.testing.assert_allclose(fastnn_losses, numpy_losses, rtol=1e-10)
    assert_same(model.get_weights(), net.get_weights(), 1e-10)


def test_fastnn_matches_baseline_float32():
    spec = [("dense", 16, "relu"), ("dense", 4, "softmax")]
    model, net, fastnn_losses, numpy_losses, _ = train_both(spec, "sparse_categorical_crossentropy",
                                                            "adam", dtype="float32", n=200, batch=32)
    assert net.params.dtype == np.float32
    np.testing.assert_allclose(fastnn_losses, numpy_losses, rtol=1e-5)
    assert_same(model.get_weights(), net.get_weights(), 1e-4)


def test_from_model_copies_everything():
    model = fastnn_model([("dense", 5, "elu", regularizers.L1(0.03)), ("activation", "tanh"),
                          ("dense", 2, "sigmoid")], "binary_crossentropy", optimizers.SGD(0.2, momentum=0.3), "float64")
    net = NumpyNetwork.from_model(model)
    assert [type(s).__name__ for s in net.layers] == ["Dense", "Activation", "Dense"]
    assert (net.layers[0].l1, net.layers[0].activation, net.fused) == (0.03, "elu", True)
    assert (net.optimizer.lr, net.optimizer.momentum, net.optimizer.nesterov) == (0.2, 0.3, False)
    assert_same(model.get_weights(), net.get_weights(), 0)


def test_from_model_rejects_what_it_cannot_mirror():
    model = fnn.Sequential([layers.Input((3,)), layers.Dropout(0.5), layers.Dense(2)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="Dropout"):
        NumpyNetwork.from_model(model)
    with pytest.raises(ValueError, match="compiled"):
        NumpyNetwork.from_model(fnn.Sequential([layers.Input((3,)), layers.Dense(2)]))


def test_constructor_rejects_unknown_names():
    with pytest.raises(ValueError, match="activation 'swishy'"):
        NumpyNetwork(3, [Dense(2, "swishy")], "mse")
    with pytest.raises(ValueError, match="Unknown loss 'mse'"):
        NumpyNetwork(3, [Dense(2)], "mse", from_logits=True)
    with pytest.raises(ValueError, match="optimizer 'nadam'"):
        NumpyNetwork(3, [Dense(2)], "mse", {"name": "Nadam"})
