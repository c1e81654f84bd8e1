"""Argument checks shared by the public classes: Keras-style messages, raised before any kernel runs."""

import numbers

import numpy as np


def check_int(name, value, minimum=None):
    """value as int, or TypeError/ValueError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an integer. Received: {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"Expected {name} to be an integer >= {minimum}. Received: {name}={value}")
    return int(value)


def check_float(name, value, low=None, high=None, low_open=False, high_open=False):
    """value as a finite float within [low, high] (ends open when asked), else a clear error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a number. Received: {name}={value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or too_low or too_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        raise ValueError(f"Expected {name} to be a finite number in {interval}. Received: {name}={value}")
    return value


def check_bool(name, value):
    """value as bool; numbers and strings are refused (from_logits="no" must not mean True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Expected {name} to be True or False. Received: {name}={value!r}")
    return bool(value)


def check_nonnegative(name, value):
    """A finite float >= 0."""
    return check_float(name, value, low=0.0)


def check_positive(name, value):
    """A finite float > 0."""
    return check_float(name, value, low=0.0, low_open=True)
