"""`.keras` archives: model.save("m.keras") writes a Keras 3 archive at exactly that path, load_model reads it.

The tests against Keras itself are opt-in (FASTNN_KERAS_TESTS=1 with keras and a backend installed, e.g.
`pip install keras torch` and KERAS_BACKEND=torch); the rest need h5py only (the test extra has it).
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

h5py = pytest.importorskip("h5py")  # (in the test extra: present in CI)
RNG = np.random.default_rng(0)
X, Y = RNG.random((20, 4, 4)), RNG.integers(0, 3, 20)
KERAS = os.environ.get("FASTNN_KERAS_TESTS") == "1"


def trained():
    fnn.utils.set_random_seed(0)
    m = fnn.Sequential([layers.Flatten(input_shape=(4, 4)),
                        layers.Dense(5, activation="gelu", kernel_regularizer=fnn.regularizers.L2(0.01)),
                        layers.BatchNormalization(momentum=0.9), layers.Dropout(0.2), layers.Dense(3),
                        layers.Softmax()])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(X, Y, epochs=1, verbose=0)
    return m


def test_save_writes_a_keras_archive_at_exactly_the_path_and_load_model_reads_it(tmp_path):
    m = trained()
    path = tmp_path / "m.keras"
    m.save(str(path))
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as store:
            assert store["layers/dense/vars/0"].shape == (16, 5) and store["layers/dense_1/vars/1"].shape == (3,)
            assert len(store["layers/dropout/vars"]) == 0 and len(store["layers/batch_normalization/vars"]) == 4
    assert [e["class_name"] for e in config["config"]["layers"]] == ["InputLayer", "Flatten", "Dense",
                                                                      "BatchNormalization", "Dropout", "Dense",
                                                                      "Softmax"]
    again = fnn.load_model(str(path))
    np.testing.assert_array_equal(again.predict(X), m.predict(X))
    assert [layer.name for layer in again.layers] == [layer.name for layer in m.layers] and not again.compiled
    assert again.layers[1].kernel_regularizer.l2 == pytest.approx(0.01)


def test_a_checkpoint_and_a_nested_model_keep_the_keras_path(tmp_path):
    m = trained()
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[fnn.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"))])
    assert sorted(os.listdir(tmp_path)) == ["best.keras"]
    outer = fnn.Sequential([m, layers.Activation("linear")])
    outer.save(str(tmp_path / "outer.keras"))
    again = fnn.load_model(str(tmp_path / "outer.keras"))
    np.testing.assert_array_equal(again.predict(X), outer.predict(X))
    assert type(again.layers[0]).__name__ == "Sequential"


def test_a_layer_fastnn_lacks_is_named_in_the_error(tmp_path):
    path = tmp_path / "m.keras"
    trained().save(str(path))
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(parts["config.json"])
    config["config"]["layers"][2] = {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 4}}
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="layer 'conv2d' is a Keras 'Conv2D', which fastnn does not have"):
        fnn.load_model(str(path))


@pytest.mark.skipif(not KERAS, reason="opt-in: FASTNN_KERAS_TESTS=1 with Keras 3 installed (see the docstring)")
def test_keras_itself_loads_fastnns_archive_and_fastnn_loads_keras_archives(tmp_path):
    keras = pytest.importorskip("keras")
    m = trained()
    m.save(str(tmp_path / "fastnn.keras"))
    theirs = keras.saving.load_model(str(tmp_path / "fastnn.keras"))
    x32 = X.astype(np.float32)
    np.testing.assert_allclose(theirs.predict(x32, verbose=0), m.predict(x32), atol=1e-6)
    model = keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(3), keras.layers.Softmax()])
    model.save(str(tmp_path / "keras.keras"))
    ours = fnn.load_model(str(tmp_path / "keras.keras"))
    np.testing.assert_allclose(ours.predict(x32), model.predict(x32, verbose=0), atol=1e-6)
    norm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    norm.compile(optimizer="adam", loss="mse")
    norm.fit(X.reshape(20, -1)[:, :4].astype(np.float32), np.ones((20, 3), np.float32), epochs=2, verbose=0)
    norm.save(str(tmp_path / "bn.keras"))
    x4 = X.reshape(20, -1)[:, :4].astype(np.float32)
    np.testing.assert_allclose(fnn.load_model(str(tmp_path / "bn.keras")).predict(x4), norm.predict(x4, verbose=0),
                               atol=1e-5)
    keras.Sequential([keras.Input((4,)), keras.layers.LayerNormalization()]).save(str(tmp_path / "ln.keras"))
    with pytest.raises(ValueError, match="'LayerNormalization', which fastnn does not have"):
        fnn.load_model(str(tmp_path / "ln.keras"))
