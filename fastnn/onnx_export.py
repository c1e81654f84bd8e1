"""`model.export("m.onnx", format="onnx")`: the inference network as an ONNX graph (Keras 3's method name).

One input "input" of shape (batch, *input_shape) and one output "output". A Dense layer is a Gemm
(a MatMul without bias), then its activation; Flatten is ONNX's Flatten, Dropout the identity,
Softmax a Softmax over the last axis, BatchNormalization ONNX's (inference mode: the moving statistics). Activations map to ONNX's operators with Keras's constants
(LeakyRelu alpha 0.2, Selu, HardSigmoid 1/6 and 1/2, Clip to [0, 6] for relu6, the exact Gelu);
swish and mish are written out (x * sigmoid(x), x * tanh(softplus(x))). Needs the onnx package:
`pip install "fastnn[onnx]"`.
"""

import numpy as np

from . import layers as layers_mod
from ._optional import require
from .backends import codes

OPSET = 20  # Gelu's first opset


def export(model, path):
    """Write model's inference graph to path (float32 or float64, as the model computes)."""
    onnx = _onnx()
    from onnx import helper, numpy_helper
    model._require_built("export")
    dtype = np.dtype(model.dtype)
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    graph = _Graph(helper, numpy_helper, dtype)
    h = "input"
    if len(model._input_shape) > 1:
        h = graph.node("Flatten", [h], axis=1)
    for layer in model._leaves():
        h = _layer(graph, layer, h)
    graph.nodes.append(helper.make_node("Identity", [h], ["output"]))
    width = model._units()
    onnx_graph = helper.make_graph(
        graph.nodes, model.name,
        [helper.make_tensor_value_info("input", elem, ["batch", *model._input_shape])],
        [helper.make_tensor_value_info("output", elem, ["batch", width])], graph.weights)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="fastnn")
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


class _Graph:
    """Nodes and weights being collected, with fresh names for every intermediate value."""

    def __init__(self, helper, numpy_helper, dtype):
        self.helper, self.numpy_helper, self.dtype = helper, numpy_helper, dtype
        self.nodes, self.weights, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def constant(self, stem, value):
        name = self.name(stem)
        self.weights.append(self.numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name


def _layer(graph, layer, h):
    """The nodes of one layer on value h; the name of its output."""
    if isinstance(layer, layers_mod.Dense):
        w = graph.constant(f"{layer.name}_kernel", layer.kernel)
        h = graph.node("Gemm", [h, w, graph.constant(f"{layer.name}_bias", layer.bias)]) if layer.use_bias \
            else graph.node("MatMul", [h, w])
        return _activation(graph, layer.activation.code, h)
    if isinstance(layer, (layers_mod.Activation, layers_mod.Softmax)):
        return _activation(graph, codes.SOFTMAX if isinstance(layer, layers_mod.Softmax) else layer.activation.code,
                           h)
    if isinstance(layer, layers_mod.Flatten):
        return h  # (the input was flattened once, before the first layer)
    if isinstance(layer, layers_mod.Dropout):
        return graph.node("Identity", [h])
    if isinstance(layer, layers_mod.BatchNormalization):  # inference mode: the moving statistics
        gamma, beta, mean, var = layer.get_weights()
        names = [graph.constant(f"{layer.name}_{part}", value) for part, value in
                 (("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var))]
        return graph.node("BatchNormalization", [h, *names], epsilon=layer.epsilon)
    raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX export yet.")


def _activation(graph, act, h):
    """The nodes of activation code act on h (Keras's constants)."""
    simple = {codes.SIGMOID: "Sigmoid", codes.RELU: "Relu", codes.TANH: "Tanh", codes.SOFTPLUS: "Softplus",
              codes.EXPONENTIAL: "Exp"}
    if act == codes.LINEAR:
        return h
    if act in simple:
        return graph.node(simple[act], [h])
    if act == codes.SOFTMAX:
        return graph.node("Softmax", [h], axis=-1)
    if act == codes.LEAKY_RELU:
        return graph.node("LeakyRelu", [h], alpha=codes.LEAKY_SLOPE)
    if act == codes.ELU:
        return graph.node("Elu", [h], alpha=codes.ELU_ALPHA)
    if act == codes.SELU:
        return graph.node("Selu", [h], alpha=codes.SELU_ALPHA, gamma=codes.SELU_SCALE)
    if act == codes.RELU6:
        return graph.node("Clip", [h, graph.constant("zero", 0.0), graph.constant("six", 6.0)])
    if act == codes.HARD_SIGMOID:  # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)
        return graph.node("HardSigmoid", [h], alpha=1 / 6, beta=0.5)
    if act == codes.GELU:
        return graph.node("Gelu", [h], approximate="none")
    if act == codes.SWISH:
        return graph.node("Mul", [h, graph.node("Sigmoid", [h])])
    if act == codes.MISH:
        return graph.node("Mul", [h, graph.node("Tanh", [graph.node("Softplus", [h])])])
    raise ValueError(f"Activation code {act} has no ONNX export yet.")


def _onnx():
    return require("onnx", "onnx", "Exporting to ONNX")
