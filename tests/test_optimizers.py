"""Each optimizer matches a few steps of a short NumPy transcription of Keras 3's update rule."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

STEPS = 5


def keras_rule(name, config):
    """A NumPy step function (w, g, state, t) -> w with Keras 3's update for this optimizer."""
    lr = config["learning_rate"]
    if name == "SGD":
        mom, nesterov = config["momentum"], config["nesterov"]

        def step(w, g, s, t):
            if mom == 0:
                return w - lr * g
            s["m"] = mom * s.get("m", 0) - lr * g
            return w + (mom * s["m"] - lr * g if nesterov else s["m"])
    elif name == "Adam":
        b1, b2, eps = config["beta_1"], config["beta_2"], config["epsilon"]

        def step(w, g, s, t):
            s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - b1)
            s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - b2)
            alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            return w - alpha * s["m"] / (np.sqrt(s["v"]) + eps)
    elif name == "RMSprop":
        rho, mom, eps = config["rho"], config["momentum"], config["epsilon"]

        def step(w, g, s, t):
            s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
            inc = lr * g / np.sqrt(s["v"] + eps)
            if mom > 0:
                s["m"] = mom * s.get("m", 0) + inc
                inc = s["m"]
            return w - inc
    else:
        init, eps = config["initial_accumulator_value"], config["epsilon"]

        def step(w, g, s, t):
            s["acc"] = s.get("acc", init) + g * g
            return w - lr * g / np.sqrt(s["acc"] + eps)
    return step


OPTIMIZERS = [
    fnn.optimizers.SGD(learning_rate=0.1),
    fnn.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    fnn.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    fnn.optimizers.Adam(learning_rate=0.05),
    fnn.optimizers.RMSprop(learning_rate=0.01),
    fnn.optimizers.RMSprop(learning_rate=0.01, momentum=0.5),
    fnn.optimizers.Adagrad(learning_rate=0.1),
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_matches_keras_rule(optimizer):
    """A linear layer under MSE has the gradient 2/(n k) x^T (x w + b - y): apply the rule by hand."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    model = fnn.Sequential([layers.Dense(3, input_shape=(4,))], dtype="float64")
    model.compile(optimizer=optimizer, loss="mse")
    w, b = model.get_weights()
    step = keras_rule(type(optimizer).__name__, optimizer.get_config())
    sw, sb = {}, {}
    for t in range(1, STEPS + 1):
        err = 2 * (x @ w + b - y) / y.size
        w, b = step(w, x.T @ err, sw, t), step(b, err.sum(0), sb, t)
    model.fit(x, y, batch_size=8, epochs=STEPS, shuffle=False, verbose=0)
    got_w, got_b = model.get_weights()
    np.testing.assert_allclose(got_w, w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_b, b, rtol=1e-12, atol=1e-14)
    assert model.optimizer.iterations == STEPS


def test_rmsprop_keras_docstring_example():
    """Keras's RMSprop example: var 10, loss var^2 / 2, lr 0.1 -> 9.683772 after one step."""
    model = fnn.Sequential([layers.Dense(1, use_bias=False, input_shape=(1,))], dtype="float64")
    model.set_weights([np.array([[10.0]])])
    model.compile(optimizer=fnn.optimizers.RMSprop(learning_rate=0.1), loss="mse")
    model.fit(np.array([[np.sqrt(0.5)]]), np.array([0.0]), batch_size=1, verbose=0)  # loss = w^2 / 2
    assert model.get_weights()[0][0, 0] == pytest.approx(9.683772, abs=1e-6)


def test_defaults_are_keras_defaults():
    assert fnn.optimizers.Adam().get_config() == {"name": "Adam", "learning_rate": 1e-3, "beta_1": 0.9,
                                                   "beta_2": 0.999, "epsilon": 1e-7}
    assert fnn.optimizers.SGD().get_config() == {"name": "SGD", "learning_rate": 0.01, "momentum": 0.0,
                                                  "nesterov": False}
    assert fnn.optimizers.RMSprop().get_config()["rho"] == 0.9
    assert fnn.optimizers.Adagrad().get_config()["initial_accumulator_value"] == 0.1


def test_tiny_state_is_flushed_not_subnormal():
    """Adam's moments for a weight whose gradient is always zero reach 0, never subnormal values."""
    x = np.zeros((4, 2))
    x[:, 0] = 1.0
    model = fnn.Sequential([layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones(4), batch_size=4, epochs=1, verbose=0)
    m = np.abs(model.optimizer.slots[0, 0])  # first moment of the kernel weight fed by ones, then zeros
    steps = int(np.ceil(np.log(1e-41 / m) / np.log(0.9)))  # where 0.9^k m lands among subnormals
    model.fit(np.zeros((4, 2)), np.zeros(4), batch_size=4, epochs=steps, verbose=0)
    slots = model.optimizer.slots
    tiny = np.finfo(np.float32).tiny
    assert not np.any((slots != 0) & (np.abs(slots) < tiny))
