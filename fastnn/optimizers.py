"""Optimizers: hyper-parameters and state layout (Keras 3 names and defaults); no math here.

The state is `slots`, an (n_slots, n_params) array laid out like the model's flat parameter
buffer, and `iterations`, the number of updates applied. The backends hold the update rules.
"""

import numpy as np

from ._checks import check_bool, check_float, check_nonnegative, check_positive
from ._registry import lookup
from .backends import codes


class Optimizer:
    """Base class: subclasses set `code`, `n_slots`, `hyper` and `get_config`."""

    code = None
    n_slots = 1

    def __init__(self, learning_rate):
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.iterations = 0
        self.slots = None

    @property
    def hyper(self):
        """The float vector the update kernel reads (layout per optimizer)."""
        return np.array(self._hyper(), dtype=np.float64)

    def initial_slots(self):
        """Value each state slot starts from."""
        return [0.0] * self.n_slots

    def build(self, n_params, dtype, backend):
        """Allocate the state for n_params parameters (once; a rebuild keeps nothing)."""
        self.slots = np.empty((self.n_slots, n_params), dtype)
        for k, value in enumerate(self.initial_slots()):
            self.slots[k].fill(value)
        self.slots = backend.from_host(self.slots)
        self.iterations = 0

    def get_config(self):
        return {"name": type(self).__name__, "learning_rate": self.learning_rate}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum: m = momentum m - lr g; w += m."""

    code = codes.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0)
        self.nesterov = check_bool("nesterov", nesterov)

    def _hyper(self):
        return [self.learning_rate, self.momentum, float(self.nesterov)]

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's bias correction folded into the step size, epsilon outside the sqrt."""

    code, n_slots = codes.ADAM, 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = check_float("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_float("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def _hyper(self):
        return [self.learning_rate, self.beta_1, self.beta_2, self.epsilon]

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop, uncentered, with plain momentum; epsilon inside the sqrt as Keras 3."""

    code, n_slots = codes.RMSPROP, 2

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho = check_float("rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def _hyper(self):
        return [self.learning_rate, self.rho, self.momentum, self.epsilon]

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad: acc += g^2; w -= lr g / sqrt(acc + eps)."""

    code = codes.ADAGRAD

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = check_nonnegative("initial_accumulator_value",
                                                           initial_accumulator_value)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def _hyper(self):
        return [self.learning_rate, self.epsilon]

    def initial_slots(self):
        return [self.initial_accumulator_value]

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


ALIASES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An Optimizer from a name or an instance."""
    return lookup("optimizer", identifier, ALIASES, Optimizer)


def from_config(config):
    """Rebuild an optimizer saved by get_config."""
    config = dict(config)
    return ALIASES[config.pop("name").lower()](**config)
