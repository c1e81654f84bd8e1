"""Optimizers: hyper-parameters and state layout (Keras 3 names and defaults); no math here.

The state is `slots`, an (n_slots, n_params) array laid out like the model's flat parameter
buffer, and `iterations`, the number of updates applied. The backends hold the update rules.
"""

import inspect

import numpy as np

from . import schedules
from .._checks import check_bool, check_float, check_nonnegative, check_positive
from .._registry import lookup
from ..backends import codes


class Optimizer:
    """Base class: subclasses set `code`, `n_slots`, `hyper` and `get_config`.

    learning_rate is a number, a schedules.LearningRateSchedule, or a callable taking no argument
    (as in Keras 3); a schedule or callable gives the rate of every step (see hyper_table).
    """

    code = None
    n_slots = 1

    def __init__(self, learning_rate):
        self._learning_rate = _checked_learning_rate(learning_rate)
        self.iterations = 0
        self.slots = None

    @property
    def learning_rate(self):
        """The rate of the next update: a schedule's (or callable's) value at step `iterations`."""
        lr = self._learning_rate
        return lr if isinstance(lr, float) else float(self._rates(self.iterations, 1)[0])

    @learning_rate.setter
    def learning_rate(self, value):
        if not isinstance(self._learning_rate, float):
            raise TypeError("This optimizer was created with a learning rate schedule (or callable) as its "
                            "learning_rate, hence its learning rate is not settable.")
        self._learning_rate = check_positive("learning_rate", value)

    @property
    def hyper(self):
        """The float vector the update kernel reads (layout per optimizer)."""
        return np.array(self._hyper(), dtype=np.float64)

    def hyper_table(self, count):
        """(rows, len(hyper)) float64: the hyper vector of the next `count` updates, each row with its step's
        learning rate; one row when the rate is a constant (the loop reuses the last row)."""
        row = self.hyper
        if isinstance(self._learning_rate, float):
            return row[None, :]
        table = np.repeat(row[None, :], max(count, 1), axis=0)
        table[:count, 0] = self._rates(self.iterations, count)
        return table

    def _rates(self, first, count):
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return lr.rates(first, count)
        return schedules.checked_rates(lr, [lr() for _ in range(count)], first)

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
        lr = self._learning_rate
        if not isinstance(lr, (float, schedules.LearningRateSchedule)):
            raise ValueError(f"{type(self).__name__}'s learning_rate is a plain callable ({lr!r}), which cannot be "
                             "saved: use a schedules.LearningRateSchedule subclass with get_config().")
        return {"name": type(self).__name__,
                "learning_rate": lr if isinstance(lr, float) else schedules.serialize(lr)}

    def __repr__(self):
        config = {**self.__dict__, "learning_rate": self._learning_rate}
        args = ", ".join(f"{k}={config[k]!r}" for k in inspect.signature(type(self)).parameters)
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


def from_config(config, custom_objects=None):
    """Rebuild an optimizer saved by get_config (a user's own schedule class from custom_objects)."""
    config = dict(config)
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
    return ALIASES[config.pop("name").lower()](**config)


def _checked_learning_rate(value):
    """A float > 0, a LearningRateSchedule, or a callable taking no argument; else a clear error."""
    if isinstance(value, schedules.LearningRateSchedule):
        return value
    if callable(value):
        try:
            inspect.signature(value).bind()
        except TypeError:
            raise TypeError(f"A callable learning_rate must take no argument (a schedule of the step is a "
                            f"schedules.LearningRateSchedule). Received: learning_rate={value!r}") from None
        except ValueError:  # no signature to read (a builtin): let its first call tell
            pass
        return value
    return check_positive("learning_rate", value)
