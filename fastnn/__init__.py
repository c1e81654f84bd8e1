"""fastnn: dense neural networks with a Keras-like API and Numba-compiled kernels (CPU and CUDA)."""

from . import activations, callbacks, config, datasets, initializers, layers, losses, metrics, optimizers
from . import regularizers, utils
from .model import Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "activations", "callbacks", "config", "datasets", "initializers", "layers",
           "losses", "metrics", "optimizers", "regularizers", "utils", "__version__"]
