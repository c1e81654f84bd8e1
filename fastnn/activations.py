"""Activation names and objects: a description the backends turn into a kernel choice."""

from ._registry import lookup
from .backends import codes


class Activation:
    """An activation function, identified by name; the math lives in the backends."""

    def __init__(self, name, code):
        self.name = name
        self.code = code

    def __repr__(self):
        return f"<activation {self.name}>"

    def __eq__(self, other):
        return isinstance(other, Activation) and other.code == self.code

    def __hash__(self):
        return hash(self.code)


linear = Activation("linear", codes.LINEAR)
sigmoid = Activation("sigmoid", codes.SIGMOID)
relu = Activation("relu", codes.RELU)
tanh = Activation("tanh", codes.TANH)
softmax = Activation("softmax", codes.SOFTMAX)
leaky_relu = Activation("leaky_relu", codes.LEAKY_RELU)
elu = Activation("elu", codes.ELU)
softplus = Activation("softplus", codes.SOFTPLUS)
selu = Activation("selu", codes.SELU)
relu6 = Activation("relu6", codes.RELU6)
hard_sigmoid = Activation("hard_sigmoid", codes.HARD_SIGMOID)
exponential = Activation("exponential", codes.EXPONENTIAL)
gelu = Activation("gelu", codes.GELU)  # Keras's default, approximate=False: z Phi(z)
swish = Activation("swish", codes.SWISH)  # z sigmoid(z)
silu = Activation("silu", codes.SWISH)
mish = Activation("mish", codes.MISH)  # z tanh(softplus(z))

ALL = {a.name: a for a in (linear, sigmoid, relu, tanh, softmax, leaky_relu, elu, softplus, selu, relu6, hard_sigmoid,
                           exponential, gelu, swish, silu, mish)}


def get(identifier):
    """An Activation from a name, an Activation, or None (linear)."""
    if identifier is None:
        return linear
    return lookup("activation", identifier, {k: (lambda a=a: a) for k, a in ALL.items()}, Activation)
