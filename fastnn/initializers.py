"""Kernel initializers (Keras's names): a backend fill code and the scale it needs."""

import numpy as np

from .backends import codes

# Keras draws truncated normals at 2 std and divides the std by this to keep the variance.
_TRUNC_STD = 0.87962566103423978


def _glorot_uniform(fan_in, fan_out):
    return codes.INIT_UNIFORM, np.sqrt(6.0 / (fan_in + fan_out))


def _glorot_normal(fan_in, fan_out):
    return codes.INIT_TRUNC_NORMAL, np.sqrt(2.0 / (fan_in + fan_out)) / _TRUNC_STD


def _he_normal(fan_in, fan_out):
    return codes.INIT_TRUNC_NORMAL, np.sqrt(2.0 / fan_in) / _TRUNC_STD


def _he_uniform(fan_in, fan_out):
    return codes.INIT_UNIFORM, np.sqrt(6.0 / fan_in)


def _lecun_normal(fan_in, fan_out):
    return codes.INIT_TRUNC_NORMAL, np.sqrt(1.0 / fan_in) / _TRUNC_STD


def _zeros(fan_in, fan_out):
    return codes.INIT_ZEROS, 0.0


def _ones(fan_in, fan_out):
    return codes.INIT_ONES, 0.0


ALL = {"glorot_uniform": _glorot_uniform, "glorot_normal": _glorot_normal, "he_normal": _he_normal,
       "he_uniform": _he_uniform, "lecun_normal": _lecun_normal, "zeros": _zeros, "ones": _ones}


def get(identifier, argname="kernel_initializer"):
    """The canonical initializer name, or a clear error."""
    if not isinstance(identifier, str):
        raise TypeError(f"Expected {argname} to be one of {sorted(ALL)}. Received: {argname}={identifier!r}")
    if identifier.lower() not in ALL:
        raise ValueError(f"Unknown {argname}: {identifier!r}. Expected one of {sorted(ALL)}")
    return identifier.lower()


def fill_spec(name, fan_in, fan_out):
    """(backend fill code, scale) for a kernel of shape (fan_in, fan_out)."""
    return ALL[name](fan_in, fan_out)
