"""The flat parameter buffer of a network and where each layer's weights sit in it.

One buffer (and one gradient buffer and optimizer state of the same layout) lets a single
optimizer pass update every weight, and lets the backend move all weights in one copy.
"""

import weakref

import numpy as np

from . import initializers


class ParamStore:
    """Flat storage for the parameters of `layers`, bound to each layer as it is laid out."""

    def __init__(self, layers, dtype, backend):
        self.dtype = np.dtype(dtype)
        self.backend = backend
        self.entries = []  # (offset, shape, initializer, fan_in, fan_out)
        offset = 0
        for layer in layers:
            layer._store = self
            layer._slots = {}
            for name, shape, init in layer.param_specs():
                layer._slots[name] = (offset, tuple(shape))
                fan_in, fan_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
                self.entries.append((offset, tuple(shape), init, fan_in, fan_out))
                offset += int(np.prod(shape))
        self.size = offset
        self.flat = None
        self.models = weakref.WeakSet()  # the models reading this buffer (more than one: shared weights)

    @classmethod
    def for_layers(cls, layers, dtype, backend=None):
        """A store for layers, filled by their initializers (CPU kernels, so seeds give one result)."""
        from .backends.cpu import CpuBackend, memory
        host = CpuBackend()
        store = cls(layers, dtype, host)
        store.flat = memory.empty(store.size, store.dtype)
        for offset, shape, init, fan_in, fan_out in store.entries:
            code, scale = initializers.fill_spec(init, fan_in, fan_out)
            host.initialize(store.flat[offset:offset + int(np.prod(shape))], code, scale)
        if backend is not None:
            store.move_to(backend)
        return store

    def move_to(self, backend):
        """Hand the buffer to another backend (host <-> device copy)."""
        self.flat = backend.from_host(self.backend.to_host(self.flat))
        self.backend = backend

    def host_copy(self):
        """The whole buffer as a host array copy."""
        return np.array(self.backend.to_host(self.flat), copy=True)

    def read(self, offset, shape):
        """A host copy of one parameter."""
        n = int(np.prod(shape))
        return np.array(self.backend.to_host(self.flat[offset:offset + n]), copy=True).reshape(shape)

    def write_all(self, items):
        """Write [(offset, shape, array)], already validated, into the buffer."""
        host = self.host_copy()
        for offset, shape, w in items:
            host[offset:offset + int(np.prod(shape))] = np.asarray(w, dtype=self.dtype).reshape(-1)
        self.load(host)

    def load(self, host):
        """Overwrite the whole buffer, in place, with a host array of the same size."""
        self.backend.copy_into(self.flat, host)
