"""Learning-rate schedules (Keras 3's names, arguments and formulas): the rate as a function of the step.

The step is 0-based and counts every update of the optimizer, across epochs. Before each epoch
(or each stretch of a fit between progress-bar redraws) the optimizer asks `rates(first, count)`
for the rates of the steps ahead, and the compiled loop reads one per step: fit never returns to
Python per batch. A subclass of LearningRateSchedule defines `__call__(step)`; the built-in ones
also compute `rates` for many steps at once with NumPy.
"""

import math
import numbers

import numpy as np

from .._checks import check_bool, check_float, check_int, check_positive


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step)` (the rate at a 0-based step) and `get_config()`."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step), returning the "
                                  "learning rate at that step")

    def rates(self, first, count):
        """The rates at steps first..first+count-1, as float64, checked finite and >= 0."""
        return checked_rates(self, [self(step) for step in range(first, first + count)], first)

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config() to be saved")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def checked_rates(source, values, first):
    """values as a float64 array, or a ValueError naming the step whose rate is not a finite number >= 0."""
    try:
        out = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"The learning rate schedule {source!r} must return numbers. Received: "
                        f"{values[:3]!r}...") from None
    bad = np.flatnonzero(~(np.isfinite(out) & (out >= 0)))
    if bad.size:
        raise ValueError(f"The learning rate schedule {source!r} gave {out[bad[0]]} at step {first + bad[0]}: "
                         "learning rates must be finite numbers >= 0.")
    return out


class _Builtin(LearningRateSchedule):
    """A schedule given by a NumPy formula of the step array: `_formula(steps)`."""

    def __call__(self, step):
        return float(self._formula(np.array([float(step)]))[0])

    def rates(self, first, count):
        return checked_rates(self, self._formula(np.arange(first, first + count, dtype=np.float64)), first)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class ExponentialDecay(_Builtin):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the exponent floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_steps("decay_steps", decay_steps)
        self.decay_rate = check_positive("decay_rate", decay_rate)
        self.staircase, self.name = check_bool("staircase", staircase), name

    def _formula(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (np.floor(p) if self.staircase else p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(_Builtin):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps), the ratio floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_steps("decay_steps", decay_steps)
        self.decay_rate = check_float("decay_rate", decay_rate, low=0.0)
        self.staircase, self.name = check_bool("staircase", staircase), name

    def _formula(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1.0 + self.decay_rate * (np.floor(p) if self.staircase else p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(_Builtin):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], then
    values[-1]."""

    def __init__(self, boundaries, values, name="PiecewiseConstantDecay"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)} and values={values} of length "
                             f"{len(values)}.")
        self.boundaries = [check_float("boundaries", b) for b in boundaries]
        if any(b1 <= b0 for b0, b1 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"Expected boundaries to increase. Received: boundaries={boundaries}")
        self.values = [check_float("values", v, low=0.0) for v in values]
        self.name = name

    def _formula(self, step):
        return np.asarray(self.values)[np.searchsorted(self.boundaries, step, side="left")]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(_Builtin):
    """(initial - end) * (1 - step / decay_steps) ** power + end, step capped at decay_steps; with cycle,
    decay_steps grows to the next multiple of itself above the step instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_steps("decay_steps", decay_steps)
        self.end_learning_rate = check_float("end_learning_rate", end_learning_rate, low=0.0)
        self.power = check_float("power", power, low=0.0)
        self.cycle, self.name = check_bool("cycle", cycle), name

    def _formula(self, step):
        if self.cycle:
            decay_steps = self.decay_steps * np.where(step == 0, 1.0, np.ceil(step / self.decay_steps))
        else:
            decay_steps, step = self.decay_steps, np.minimum(step, self.decay_steps)
        left = 1.0 - step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * left ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(_Builtin):
    """Cosine decay (Loshchilov & Hutter 2017) from initial_learning_rate, or after a linear warm-up of
    warmup_steps from it to warmup_target, over decay_steps, down to alpha times the rate it started from."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_steps("decay_steps", decay_steps)
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)
        self.warmup_target = None if warmup_target is None else check_positive("warmup_target", warmup_target)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
        self.name = name

    def _decayed(self, step, start):
        cosine = 0.5 * (1.0 + np.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _formula(self, step):
        if self.warmup_target is None:
            return self._decayed(np.minimum(step, self.decay_steps), self.initial_learning_rate)
        step = np.minimum(step, self.decay_steps + self.warmup_steps)
        warm = (self.warmup_target - self.initial_learning_rate) * step / max(self.warmup_steps, 1) \
            + self.initial_learning_rate
        return np.where(step < self.warmup_steps, warm,
                        self._decayed(step - self.warmup_steps, self.warmup_target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


def _check_steps(name, value):
    """A step count > 0 (Keras takes ints or floats)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int(name, value, minimum=1)
    return check_positive(name, value)


BUILTIN = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                         PolynomialDecay, CosineDecay)}


def serialize(schedule):
    """Keras's form of a schedule in a saved config: {"class_name": ..., "config": ...}."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None):
    """The schedule serialize() described; a user's own class must be in custom_objects (as in Keras)."""
    classes = {**BUILTIN, **(custom_objects or {})}
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"Unknown learning rate schedule {name!r}: pass its class in custom_objects, e.g. "
                         f"load_model(path, custom_objects={{{name!r}: {name}}}).")
    return classes[name].from_config(config["config"])
