"""Layers: shapes, parameters and configuration. They describe; the backends compute.

A built layer knows its input and output shapes (per sample, without the batch axis), the
parameters it owns (name, shape, initializer) and the compiled steps it contributes to the
network plan. Its weights live in the model's flat parameter store.
"""

import collections
import re

import numpy as np

from . import activations as activations_mod
from . import config, initializers, regularizers
from ._checks import check_bool, check_float, check_int
from ._params import ParamStore
from .backends import codes

_name_counts = collections.Counter()


def _unique_name(cls):
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _shape_tuple(shape, argname):
    """A per-sample shape as a tuple of positive ints."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"Expected {argname} to be a tuple of positive integers. Received: {argname}={shape!r}")
    for d in shape:
        check_int(f"each entry of {argname}", d, minimum=1)
    if not shape:
        raise ValueError(f"Expected {argname} to have at least one dimension. Received: {argname}=()")
    return tuple(int(d) for d in shape)


class Layer:
    """Base layer: name, optional input_shape, build(), weights and config."""

    def __init__(self, name=None, input_shape=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Expected name to be a string. Received: name={name!r}")
        self.name = name or _unique_name(type(self))
        self.trainable = trainable
        self.input_shape = None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        self._declared_input = self.input_shape
        self.output_shape = None
        self.built = False
        self._store = None
        self._slots = {}

    # --- shapes and parameters -------------------------------------------------
    def build(self, input_shape):
        """Create the weights for per-sample input_shape (a layer used on its own gets its own store)."""
        self.build_shapes(input_shape)
        if self.param_specs():
            ParamStore.for_layers([self], config.floatx())
        return self.output_shape

    def build_shapes(self, input_shape):
        """Fix the input and output shapes; the model lays out the weights."""
        input_shape = _shape_tuple(input_shape, "input_shape")
        self.output_shape = self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return input_shape

    def param_specs(self):
        """[(name, shape, initializer name)] of the parameters this layer owns, in Keras's order."""
        return []

    def plan_rows(self):
        """[(kind, act code, l1, l2, rate)] compiled steps this layer adds to the network."""
        return []

    def count_params(self):
        return int(sum(np.prod(shape) for _, shape, _ in self.param_specs())) if self.built else 0

    # --- weights ----------------------------------------------------------------
    def get_weights(self):
        """Copies of this layer's parameters, Keras's layout (kernel (inputs, units), then bias)."""
        return [self._store.read(*self._slots[name]) for name, _, _ in self.param_specs()] if self.built else []

    def set_weights(self, weights):
        """Overwrite this layer's parameters from a list shaped like get_weights()."""
        self._store.write_all(self._checked_weights(weights))

    def _checked_weights(self, weights):
        """[(offset, shape, array)] for set_weights, all checked before anything is written."""
        specs = self.param_specs() if self.built else []
        if not isinstance(weights, (list, tuple)) or len(weights) != len(specs):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(f"Layer {self.name!r} expects a list of {len(specs)} weight arrays "
                             f"{[s for _, s, _ in specs]}. Received: {got}")
        out = []
        for (pname, shape, _), w in zip(specs, weights):
            w = np.asarray(w)
            if w.dtype.kind not in "biuf":
                raise TypeError(f"Layer {self.name!r} weight {pname!r} must be numeric. Received dtype={w.dtype}")
            if w.shape != tuple(shape):
                raise ValueError(f"Layer {self.name!r} weight {pname!r} expects shape {tuple(shape)}. "
                                 f"Received: shape={w.shape}")
            with np.errstate(over="ignore"):
                finite = np.all(np.isfinite(w.astype(self._store.dtype)))
            if not finite:
                raise ValueError(f"Layer {self.name!r} weight {pname!r} contains NaN or infinite values "
                                 f"(or values too large for {self._store.dtype}).")
            out.append((self._slots[pname][0], shape, w))
        return out

    @property
    def weights(self):
        return self.get_weights()

    @property
    def trainable(self):
        """Whether fit updates this layer's weights (Keras: taken into account at the next compile())."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = check_bool("trainable", value)

    @property
    def trainable_weights(self):
        return self.get_weights() if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.get_weights()

    def param_ranges(self):
        """[(start, stop)] of this layer's parameters in the model's flat buffer."""
        return [(self._slots[name][0], self._slots[name][0] + int(np.prod(shape)))
                for name, shape, _ in self.param_specs()] if self.built else []

    # --- configuration ----------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self._declared_input is not None:
            config["input_shape"] = list(self._declared_input)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def describe(self):
        """Type name shown by summary()."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """Declares the per-sample input shape of a Sequential model; holds no parameters."""

    def __init__(self, shape=None, name=None, input_shape=None):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input needs a shape, e.g. layers.Input(shape=(784,)). Received: shape=None")
        super().__init__(name=name, input_shape=shape)

    def get_config(self):
        return {"name": self.name, "shape": list(self.input_shape)}


def Input(shape=None, name=None):
    """layers.Input(shape=...): the per-sample input shape, as keras.Input."""
    return InputLayer(shape=shape, name=name)


class Flatten(Layer):
    """Reshape each sample to a vector (the data is flattened once, at the API boundary)."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)


class Dense(Layer):
    """y = activation(x @ kernel + bias): the neuron f(w.x + b), `units` of them."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.units = check_int("units", units, minimum=1)
        self.activation = activations_mod.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Layer {self.name!r} (Dense) expects inputs of shape (batch, features). "
                             f"Received: input_shape={(None,) + tuple(input_shape)}; add layers.Flatten() before it.")
        return (self.units,)

    def param_specs(self):
        specs = [("kernel", (self.input_shape[0], self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    def plan_rows(self):
        """One step, or two when the activation's derivative needs its input (codes.FROM_INPUT): the second
        step keeps the pre-activation as its input."""
        reg = self.kernel_regularizer
        act = self.activation.code
        dense = (codes.DENSE, codes.LINEAR if act >= codes.FROM_INPUT else act, reg.l1 if reg else 0.0,
                 reg.l2 if reg else 0.0, 0.0)
        return [dense] + ([(codes.ACTIVATION, act, 0.0, 0.0, 0.0)] if act >= codes.FROM_INPUT else [])

    @property
    def kernel(self):
        return self._store.read(*self._slots["kernel"])

    @property
    def bias(self):
        return self._store.read(*self._slots["bias"]) if self.use_bias else None

    def get_config(self):
        reg = self.kernel_regularizer
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": None if reg is None else reg.get_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["kernel_regularizer"] = regularizers.from_config(config.get("kernel_regularizer"))
        return cls(**config)


class Activation(Layer):
    """Apply an activation function on its own."""

    def __init__(self, activation, name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.activation = activations_mod.get(activation)

    def plan_rows(self):
        return [(codes.ACTIVATION, self.activation.code, 0.0, 0.0, 0.0)]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class Softmax(Layer):
    """Softmax over each sample's values (keras.layers.Softmax; samples here are vectors, so axis is -1)."""

    def __init__(self, axis=-1, name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(f"fastnn's layers see each sample as a vector, so Softmax takes axis=-1 (or 1). "
                             f"Received: axis={axis!r}")
        self.axis = -1

    def plan_rows(self):
        return [(codes.ACTIVATION, codes.SOFTMAX, 0.0, 0.0, 0.0)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dropout(Layer):
    """Zero a fraction `rate` of inputs while training, scaling the rest by 1 / (1 - rate)."""

    def __init__(self, rate, name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.rate = check_float("rate", rate, 0.0, 1.0, high_open=True)

    def plan_rows(self):
        return [(codes.DROPOUT, codes.LINEAR, 0.0, 0.0, self.rate)]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class BatchNormalization(Layer):
    """y = gamma (x - mean) / sqrt(variance + epsilon) + beta per feature (Ioffe & Szegedy 2015), with the
    batch's statistics while training (and moving averages of them updated), the moving ones otherwise.

    Keras 3's defaults and semantics: moving = moving * momentum + batch * (1 - momentum), the batch
    variance biased; a frozen layer (trainable=False) runs in inference mode during fit too.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(f"fastnn's layers see each sample as a vector, so BatchNormalization takes axis=-1 "
                             f"(or 1). Received: axis={axis!r}")
        if check_bool("center", center) is not True or check_bool("scale", scale) is not True:
            raise ValueError(f"fastnn's BatchNormalization learns both gamma and beta: center=True and scale=True. "
                             f"Received: center={center}, scale={scale}")
        self.axis, self.center, self.scale = -1, True, True
        self.momentum = check_float("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_float("epsilon", epsilon, 0.0, low_open=True)
        given = {"gamma": gamma_initializer, "beta": beta_initializer, "moving_mean": moving_mean_initializer,
                 "moving_variance": moving_variance_initializer}
        self.initializers = {name: initializers.get(init, f"{name}_initializer") for name, init in given.items()}

    def param_specs(self):
        units = self.input_shape[0]
        return [(name, (units,), init) for name, init in self.initializers.items()]

    def param_ranges(self):
        """gamma and beta only: the moving statistics are not the optimizer's."""
        return [(self._slots["gamma"][0], self._slots["beta"][0] + self.input_shape[0])] if self.built else []

    @property
    def trainable_weights(self):
        return self.get_weights()[:2] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return self.get_weights()[2:] if self.trainable else self.get_weights()

    def plan_rows(self):
        return [(codes.BATCHNORM, codes.LINEAR, 0.0, 0.0, 0.0, self.momentum, self.epsilon)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{f"{name}_initializer": init for name, init in self.initializers.items()}}


CLASSES = {cls.__name__: cls for cls in (InputLayer, Flatten, Dense, Activation, Softmax, Dropout,
                                         BatchNormalization)}


def deserialize(entry):
    """A layer from {"class_name": ..., "config": {...}}."""
    cls = CLASSES.get(entry.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown layer class {entry.get('class_name')!r}; expected one of {sorted(CLASSES)}")
    return cls.from_config(entry["config"])
