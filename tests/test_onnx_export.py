"""model.export("m.onnx", format="onnx"): onnxruntime runs the graph and gives model.predict's outputs."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

onnx = pytest.importorskip("onnx")  # (the test extra installs onnx and onnxruntime: present in CI)
ort = pytest.importorskip("onnxruntime")

ACTIVATIONS = ["sigmoid", "relu", "tanh", "leaky_relu", "elu", "softplus", "selu", "relu6", "hard_sigmoid",
               "exponential", "gelu", "swish", "mish", "linear"]


def run(path, x):
    return ort.InferenceSession(str(path)).run(None, {"input": x})[0]


def test_every_layer_and_activation_runs_in_onnxruntime_as_in_fastnn(tmp_path):
    x = np.random.default_rng(0).normal(size=(7, 3, 4)).astype(np.float32)
    model = fnn.Sequential([layers.Flatten(input_shape=(3, 4))] + [layers.Dense(6, activation=a) for a in ACTIVATIONS]
                           + [layers.Dropout(0.3), layers.BatchNormalization(), layers.Dense(4, use_bias=False),
                              layers.Activation("tanh"), layers.Softmax()])
    weights = model.get_weights()  # moving statistics away from their initial 0 and 1
    weights[-5:-1] = [np.full(6, 1.5), np.full(6, 0.2), np.full(6, -0.3), np.full(6, 2.0)]
    model.set_weights(weights)
    model.export(str(tmp_path / "m.onnx"), format="onnx")
    np.testing.assert_allclose(run(tmp_path / "m.onnx", x), model.predict(x), rtol=0, atol=1e-5)
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]


def test_a_trained_tutorial_model_and_its_probability_model_export(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 28, 28)).astype(np.float32), rng.integers(0, 10, 40)
    model = fnn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(16, activation="relu"),
                            layers.Dense(10)])
    model.compile(optimizer="adam", loss=fnn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    probability_model = fnn.Sequential([model, layers.Softmax()])
    probability_model.export(str(tmp_path / "p.onnx"))
    np.testing.assert_allclose(run(tmp_path / "p.onnx", x), probability_model.predict(x), rtol=0, atol=1e-5)


def test_export_refuses_other_formats_and_unbuilt_models(tmp_path):
    with pytest.raises(ValueError, match="format='onnx' only. Received: format='tf_saved_model'"):
        fnn.Sequential([layers.Dense(2, input_shape=(3,))]).export(str(tmp_path / "m"), format="tf_saved_model")
    with pytest.raises(ValueError, match="has not been built"):
        fnn.Sequential([layers.Dense(2)]).export(str(tmp_path / "m.onnx"))
    assert not list(tmp_path.iterdir())
