"""Kernel regularisers: penalties l1 * sum|w| + l2 * sum w^2 added to the loss, as Keras."""

from ._registry import lookup
from ._checks import check_nonnegative


class Regularizer:
    """Base class: a pair of coefficients the backend applies to a layer's kernel."""

    l1 = 0.0
    l2 = 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum w^2."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = check_nonnegative("l1", l1)
        self.l2 = check_nonnegative("l2", l2)


class L1(L1L2):
    """l1 * sum|w|."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    """l2 * sum w^2."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2  # Keras 3's lowercase names for the same classes

ALIASES = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": lambda: L1L2(0.01, 0.01)}


def get(identifier):
    """A Regularizer from a name, an instance, or None."""
    return lookup("kernel_regularizer", identifier, ALIASES, Regularizer, allow_none=True)


def from_config(config):
    """Rebuild a regulariser saved by get_config (None stays None)."""
    return None if config is None else L1L2(**config)
