"""fastnn: dense neural networks with a Keras-like API and Numba-compiled kernels (CPU and CUDA)."""

from . import activations, callbacks, config, datasets, initializers, layers, losses, metrics, optimizers
from . import regularizers, utils
from .layers import Input
from .model import Sequential


def load_model(path, custom_objects=None):
    """A model saved by Sequential.save, ready to predict or to continue training (custom_objects: {name: class}
    for a user's own classes the file names, as in Keras)."""
    from .saving import load_model as _load
    return _load(path, custom_objects)


__version__ = "0.1.0"

__all__ = ["Input", "Sequential", "load_model", "activations", "callbacks", "config", "datasets", "initializers", "layers",
           "losses", "metrics", "optimizers", "regularizers", "utils", "__version__"]
