"""The tutorials' numbers (DESIGN.md section 4), reproduced through the public API."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers


def neuron(bias):
    model = fnn.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(2,))])
    model.set_weights([np.array([[0.0], [1.0]]), np.array([bias])])
    return model


@pytest.mark.parametrize("bias, expected", [(4.0, 0.9990889), (0.0, 0.9525741)])
def test_one_neuron(bias, expected):
    out = neuron(bias).predict(np.array([[2.0, 3.0]]))
    assert out[0, 0] == pytest.approx(expected, abs=1e-6)


def network_221(weight, dtype="float32"):
    model = fnn.Sequential([layers.Dense(2, activation="sigmoid", input_shape=(2,)),
                            layers.Dense(1, activation="sigmoid")], dtype=dtype)
    model.set_weights([np.full((2, 2), weight), np.zeros(2), np.full((2, 1), weight), np.zeros(1)])
    return model


def test_feedforward_221():
    model = network_221(0.0)
    model.set_weights([np.array([[0.0, 0.0], [1.0, 1.0]]), np.zeros(2), np.array([[0.0], [1.0]]), np.zeros(1)])
    assert model.predict(np.array([[2.0, 3.0]]))[0, 0] == pytest.approx(0.7216, abs=1e-4)


def test_mse_value():
    assert fnn.losses.MeanSquaredError()([1, 0, 0, 1], [0, 0, 0, 0]) == pytest.approx(0.5)
    model = fnn.Sequential([layers.Dense(1, use_bias=False, input_shape=(1,))])
    model.set_weights([np.zeros((1, 1))])
    model.compile(optimizer="sgd", loss="mse")
    assert model.evaluate(np.ones((4, 1)), np.array([1, 0, 0, 1]), verbose=0) == pytest.approx(0.5)


def test_backprop_221_gradient():
    """y_pred = 0.524 and dL/dw1 = 0.02147 for x = [-2, -1], y = 1 (w1: first input -> first hidden)."""
    model = network_221(1.0, dtype="float64")
    x, y = np.array([[-2.0, -1.0]]), np.array([1.0])
    assert model.predict(x)[0, 0] == pytest.approx(0.524, abs=5e-4)
    # Keras's MSE is (y - p)^2 and the tutorial's dL/dw1 = -2 (1 - p) dp/dw1: one SGD step with
    # learning rate 1 moves w1 by exactly minus that gradient.
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1.0), loss="mse")
    before = model.get_weights()[0][0, 0]
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    assert before - model.get_weights()[0][0, 0] == pytest.approx(0.02147, abs=1e-5)


def test_gender_network_trains_like_the_tutorial():
    data = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=float)
    labels = np.array([1, 0, 0, 1])
    model = fnn.Sequential([layers.Dense(2, activation="sigmoid", input_shape=(2,)),
                            layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(data, labels, batch_size=1, epochs=1000, verbose=0)
    emily, frank = model.predict(np.array([[-7.0, -3.0], [20.0, 2.0]]))[:, 0]
    assert emily > 0.9 and frank < 0.1


def test_house_prices_fixed_weight():
    x = np.array([[2104.0], [1600.0], [2400.0]])
    y = np.array([399.9, 329.9, 369.0])
    model = fnn.Sequential([layers.Dense(1, use_bias=False, input_shape=(1,))], dtype="float64")
    model.set_weights([np.array([[0.180]])])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.predict(x)[:, 0], [378.72, 288.0, 432.0])
    assert model.evaluate(x, y, verbose=0) == pytest.approx(2058, rel=1e-3)


def test_house_prices_gradient_descent_with_bias():
    x = np.array([[2104.0], [1600.0], [2400.0]])
    y = np.array([399.9, 329.9, 369.0])
    xn = (x - x.mean()) / x.std()
    model = fnn.Sequential([layers.Dense(1, input_shape=(1,), kernel_initializer="zeros")], dtype="float64")
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(xn, y, batch_size=3, epochs=200, verbose=0)
    assert model.evaluate(xn, y, verbose=0) < 799


@pytest.mark.parametrize("logits, expected", [([2, 4], [0.12, 0.88]), ([1, 2, 4], [0.04, 0.11, 0.84]),
                                              ([5, 10], [0.007, 0.993])])
def test_softmax(logits, expected):
    k = len(logits)
    model = fnn.Sequential([layers.Activation("softmax", input_shape=(k,))])
    np.testing.assert_allclose(model.predict(np.array([logits], dtype=float))[0], expected, atol=6e-3)


@pytest.mark.parametrize("name, z, expected", [
    ("selu", [1.0, -1.0, 0.0], [1.0507009873554805, 1.0507009873554805 * 1.6732632423543772 * (np.exp(-1) - 1), 0.0]),
    ("relu6", [-1.0, 3.5, 7.0], [0.0, 3.5, 6.0]),
    ("hard_sigmoid", [-4.0, 1.0, 3.0, 0.0], [0.0, 1 / 6 + 0.5, 1.0, 0.5]),  # Keras 3: relu6(z + 3) / 6
    ("exponential", [0.0, 1.0, -2.0], [1.0, np.e, np.exp(-2.0)]),
    # z Phi(z) with Phi(1) = 0.8413447460685429 (normal CDF tables), Phi(-1) = 1 - Phi(1), Phi(0) = 1/2
    ("gelu", [1.0, -1.0, 0.0], [0.8413447460685429, -(1 - 0.8413447460685429), 0.0]),
    ("swish", [1.0, -2.0, 0.0], [1 / (1 + np.exp(-1.0)), -2.0 / (1 + np.exp(2.0)), 0.0]),
    ("silu", [3.0], [3.0 / (1 + np.exp(-3.0))]),
    ("mish", [1.0, -1.0, 0.0], [np.tanh(np.log1p(np.e)), -np.tanh(np.log1p(np.exp(-1.0))), 0.0]),
])
def test_new_activations_give_keras_3_values(name, z, expected):
    """A Dense layer with identity weights passes z through the activation: Keras 3's definitions."""
    n = len(z)
    model = fnn.Sequential([layers.Dense(n, activation=name, input_shape=(n,))], dtype="float64")
    model.set_weights([np.eye(n), np.zeros(n)])
    np.testing.assert_allclose(model.predict(np.array([z]))[0], expected, rtol=1e-12, atol=1e-15)


EPS = 1e-7
Y_TRUE = np.array([[0.0, 1.0, 0.0], [0.2, 0.5, 0.3]])
Y_PRED = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
D = Y_PRED - Y_TRUE
KERAS_FORMULAS = {  # Keras 3's definitions, written out in NumPy
    "huber": np.where(np.abs(D) <= 1, 0.5 * D ** 2, np.abs(D) - 0.5).mean(axis=1),
    "log_cosh": np.log(np.cosh(D)).mean(axis=1),
    "poisson": (Y_PRED - Y_TRUE * np.log(Y_PRED + EPS)).mean(axis=1),
    "mean_absolute_percentage_error": (100 * np.abs(D) / np.maximum(np.abs(Y_TRUE), EPS)).mean(axis=1),
    "mean_squared_logarithmic_error": ((np.log(np.maximum(Y_PRED, EPS) + 1)
                                        - np.log(np.maximum(Y_TRUE, EPS) + 1)) ** 2).mean(axis=1),
    "kl_divergence": (np.clip(Y_TRUE, EPS, 1) * np.log(np.clip(Y_TRUE, EPS, 1) / np.clip(Y_PRED, EPS, 1))).sum(axis=1),
}


@pytest.mark.parametrize("name", sorted(KERAS_FORMULAS))
def test_per_sample_loss_functions_give_keras_3_values(name):
    np.testing.assert_allclose(getattr(fnn.losses, name)(Y_TRUE, Y_PRED), KERAS_FORMULAS[name], rtol=1e-6)


def test_hinge_losses_give_keras_3_values():
    labels = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])  # {0, 1} become {-1, 1} for squared hinge
    signed = 2 * labels - 1
    want = (np.maximum(1 - signed * Y_PRED, 0) ** 2).mean(axis=1)
    np.testing.assert_allclose(fnn.losses.squared_hinge(labels, Y_PRED), want, rtol=1e-6)
    onehot = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    pos, neg = (onehot * Y_PRED).sum(axis=1), ((1 - onehot) * Y_PRED).max(axis=1)
    np.testing.assert_allclose(fnn.losses.categorical_hinge(onehot, Y_PRED), np.maximum(neg - pos + 1, 0))
    big = np.array([[3.0, -0.5]])  # Huber(delta=2): 2 (3 - 1) = 4 beyond delta, 0.125 within
    assert fnn.losses.Huber(delta=2.0)(np.zeros((1, 2)), big) == pytest.approx((4.0 + 0.125) / 2)
    with pytest.raises(ValueError, match="delta"):
        fnn.losses.Huber(delta=0.0)


@pytest.mark.parametrize("loss", ["huber", "log_cosh", "mape", "msle", "kld", "squared_hinge"])
def test_the_new_losses_train_by_name(loss):
    fnn.utils.set_random_seed(0)
    model = fnn.Sequential([layers.Dense(4, activation="softmax", input_shape=(3,))])
    model.compile(optimizer="adam", loss=loss)
    x, y = np.random.default_rng(0).random((16, 3)), np.eye(4)[np.arange(16) % 4]
    history = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert np.isfinite(history).all() and history[-1] < history[0]
