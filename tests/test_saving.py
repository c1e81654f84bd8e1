"""Tests for fastnn.saving and ModelCheckpoint: round trips, atomic writes, clear errors on bad files."""

import json
import os
import pathlib

import numpy as np
import pytest

import fastnn as fnn
from fastnn import callbacks, layers, saving
from fastnn.backends import cuda_api

X = np.random.default_rng(0).normal(size=(48, 5))
Y = np.random.default_rng(1).integers(0, 3, 48)
Y_SIDE = np.random.default_rng(2).normal(size=(48, 2))


def make_model(optimizer="adam", dtype=None, loss="sparse_categorical_crossentropy"):
    """A small trained-once network using every saved feature: dropout, a regulariser, metrics."""
    fnn.utils.set_random_seed(3)
    units, last = (3, "softmax") if loss == "sparse_categorical_crossentropy" else (2, "linear")
    model = fnn.Sequential([layers.Dense(8, activation="tanh", input_shape=(5,), kernel_regularizer="l2"),
                            layers.Dropout(0.25),
                            layers.Dense(units, activation=last)], dtype=dtype)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy" if units == 3 else "mae"], device="cpu")
    model.fit(X, Y if units == 3 else Y_SIDE, epochs=2, batch_size=16, shuffle=False, verbose=0)
    return model


def host_slots(model):
    return np.array(model._backend.to_host(model.optimizer.slots))


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


# --- round trips ---------------------------------------------------------------------------------
def test_round_trip_restores_architecture_compile_weights_and_optimizer_state(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.npz")
    again = fnn.load_model(tmp_path / "m.npz")
    assert again.get_config() == model.get_config()
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert again.loss.get_config() == model.loss.get_config()
    assert again.metrics_names == model.metrics_names and again.device == "cpu" and again.compiled
    assert again.optimizer.iterations == model.optimizer.iterations == 6
    np.testing.assert_array_equal(host_slots(again), host_slots(model))
    assert_same_weights(again, model)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.evaluate(X, Y, verbose=0) == model.evaluate(X, Y, verbose=0)


@pytest.mark.parametrize("optimizer, dtype, loss", [
    (fnn.optimizers.Adam(learning_rate=0.01), None, "sparse_categorical_crossentropy"),
    (fnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True), None, "mse"),
    (fnn.optimizers.RMSprop(learning_rate=0.01, momentum=0.5), "float64", "sparse_categorical_crossentropy"),
    (fnn.optimizers.Adagrad(learning_rate=0.05), None, "mae"),
])
def test_loaded_model_continues_training_exactly_like_the_original(tmp_path, optimizer, dtype, loss):
    model = make_model(optimizer, dtype, loss)
    y = Y if loss == "sparse_categorical_crossentropy" else Y_SIDE
    model.save(tmp_path / "m.npz")
    again = fnn.load_model(tmp_path / "m.npz")
    runs = []
    for m in (model, again):
        fnn.utils.set_random_seed(11)  # same dropout masks for both
        runs.append(m.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history)
    assert runs[0] == runs[1]
    assert_same_weights(again, model)
    assert again.optimizer.iterations == model.optimizer.iterations == 15


def test_continuing_from_fresh_optimizer_state_differs(tmp_path):
    """The exact-continuation test above would notice an optimizer state that was not restored."""
    model = make_model()
    model.save(tmp_path / "m.npz")
    again = fnn.load_model(tmp_path / "m.npz")
    again.optimizer.slots, again.optimizer.iterations = None, 0
    for m in (model, again):
        fnn.utils.set_random_seed(11)
        m.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert not np.array_equal(again.get_weights()[0], model.get_weights()[0])


def test_file_is_plain_numpy_with_the_documented_layout(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        data = {k: f[k] for k in f.files}
    assert set(data) == {"fastnn_format", "content", "model_config", "weights_layout", "weights",
                         "compile_config", "optimizer_iterations", "optimizer_slots"}
    assert int(data["fastnn_format"]) == saving.FORMAT_VERSION and str(data["content"]) == "model"
    assert json.loads(str(data["model_config"])) == model.get_config()
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    np.testing.assert_array_equal(data["weights"], flat)
    assert [tuple(s) for _, _, s in json.loads(str(data["weights_layout"]))] == [w.shape for w in model.get_weights()]
    compile_config = json.loads(str(data["compile_config"]))
    assert compile_config == {"optimizer": model.optimizer.get_config(), "loss": model.loss.get_config(),
                              "metrics": ["accuracy"], "device": "cpu"}
    assert data["optimizer_slots"].shape == (2, model.count_params()) and int(data["optimizer_iterations"]) == 6


def test_a_save_writes_exactly_the_path_given_and_an_older_suffixed_file_still_loads(tmp_path):
    model = make_model()
    model.save(str(tmp_path / "plain"))
    assert os.listdir(tmp_path) == ["plain"]
    np.testing.assert_array_equal(fnn.load_model(tmp_path / "plain").predict(X), model.predict(X))
    os.rename(tmp_path / "plain", tmp_path / "old.npz")  # (earlier versions appended .npz, as np.savez does)
    np.testing.assert_array_equal(fnn.load_model(tmp_path / "old").predict(X), model.predict(X))


def test_uncompiled_model_saves_architecture_and_weights_only(tmp_path):
    model = fnn.Sequential([layers.Input(shape=(2, 3)), layers.Flatten(), layers.Dense(4, use_bias=False),
                            layers.Activation("relu"), layers.Dense(1, kernel_initializer="he_normal")])
    model.save(tmp_path / "u")
    with np.load(tmp_path / "u") as f:
        assert "compile_config" not in f.files and "optimizer_slots" not in f.files
    again = fnn.load_model(tmp_path / "u")
    assert not again.compiled and again.input_shape == (None, 2, 3)
    x = np.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_unbuilt_model_round_trips_its_architecture(tmp_path):
    model = fnn.Sequential([layers.Dense(3, activation="elu"), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "unbuilt")
    again = fnn.load_model(tmp_path / "unbuilt")
    assert not again.built and again.compiled and again.get_config() == model.get_config()


def test_compiled_model_that_never_trained_gets_fresh_optimizer_state(tmp_path):
    model = fnn.Sequential([layers.Dense(2, input_shape=(5,))])
    model.compile(optimizer="adam", loss="mse", device="cpu")
    model.save(tmp_path / "fresh")
    again = fnn.load_model(tmp_path / "fresh")
    assert again.optimizer.slots is None and again.optimizer.iterations == 0
    for m in (model, again):
        m.fit(X, Y_SIDE, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(again, model)


def test_model_saved_on_cuda_loads_on_the_cpu_when_cuda_is_missing(tmp_path, monkeypatch):
    model = make_model()
    model.save(tmp_path / "m.npz")
    config = json.loads(str(np.load(tmp_path / "m.npz")["compile_config"]))
    rewrite(tmp_path / "m.npz", compile_config=json.dumps({**config, "device": "cuda"}))
    monkeypatch.setattr(cuda_api, "real_gpu", lambda: False)
    monkeypatch.setattr(cuda_api, "simulated", lambda: False)
    with pytest.warns(RuntimeWarning, match="saved on CUDA.*loaded on the CPU"):
        again = fnn.load_model(tmp_path / "m.npz")
    assert again.device == "cpu"
    np.testing.assert_array_equal(host_slots(again), host_slots(model))


@pytest.mark.skipif(not (cuda_api.simulated() or cuda_api.real_gpu()), reason="needs a CUDA GPU or the simulator")
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaWarning")
def test_cuda_model_round_trip_keeps_device_state_and_training(tmp_path):
    fnn.utils.set_random_seed(4)
    model = fnn.Sequential([layers.Dense(3, activation="relu", input_shape=(5,)),
                            layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cuda")
    model.fit(X[:6], Y[:6], epochs=1, batch_size=3, shuffle=False, verbose=0)
    model.save(tmp_path / "gpu")
    again = fnn.load_model(tmp_path / "gpu")
    assert again.device == "cuda" and again.optimizer.iterations == 2
    np.testing.assert_array_equal(host_slots(again), host_slots(model))
    np.testing.assert_array_equal(again.predict(X[:6]), model.predict(X[:6]))
    for m in (model, again):
        m.fit(X[:6], Y[:6], epochs=1, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


# --- weights only ----------------------------------------------------------------------------------
def twin():
    """Same architecture as make_model, fresh weights and other layer names."""
    return fnn.Sequential([layers.Dense(8, activation="tanh", input_shape=(5,)), layers.Dropout(0.1),
                           layers.Dense(3, activation="softmax")])


def test_save_weights_and_load_weights(tmp_path):
    model = make_model()
    model.save_weights(tmp_path / "w")
    with np.load(tmp_path / "w") as f:
        assert set(f.files) == {"fastnn_format", "content", "weights_layout", "weights"}
    other = twin()
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cpu")
    other.fit(X, Y, epochs=1, verbose=0)
    slots, iterations = host_slots(other).copy(), other.optimizer.iterations
    other.load_weights(tmp_path / "w")
    assert_same_weights(other, model)
    np.testing.assert_array_equal(host_slots(other), slots)  # load_weights leaves the optimizer alone
    assert other.optimizer.iterations == iterations


def test_load_weights_reads_a_full_save_too(tmp_path):
    model = make_model()
    model.save(tmp_path / "full")
    other = twin()
    other.load_weights(tmp_path / "full")
    assert_same_weights(other, model)


def test_load_weights_rejects_another_architecture_and_leaves_weights(tmp_path):
    make_model().save_weights(tmp_path / "w")
    other = fnn.Sequential([layers.Dense(9, input_shape=(5,)), layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"/w' holds weights shaped .*expects"):
        other.load_weights(tmp_path / "w")
    assert_same_weights_list(other.get_weights(), before)


def assert_same_weights_list(a, b):
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_load_model_of_a_weights_file_says_so(tmp_path):
    make_model().save_weights(tmp_path / "w")
    with pytest.raises(saving.SaveFileError, match="weights only"):
        fnn.load_model(tmp_path / "w")


def test_save_weights_and_load_weights_need_a_built_model(tmp_path):
    unbuilt = fnn.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not been built"):
        unbuilt.save_weights(tmp_path / "w")
    assert not os.listdir(tmp_path)
    make_model().save_weights(tmp_path / "w")
    with pytest.raises(ValueError, match="not been built"):
        unbuilt.load_weights(tmp_path / "w")


# --- atomic writes -------------------------------------------------------------------------------
class Boom(Exception):
    pass


def interrupted_savez(file, **arrays):
    """Write some bytes, then fail: a crash in the middle of np.savez."""
    file.write(b"PK\x03\x04 half a file")
    raise Boom("disk full")


def failing_replace(src, dst):
    raise Boom("rename failed")


@pytest.mark.parametrize("target, patch", [
    ("numpy.savez", interrupted_savez),
    ("os.replace", failing_replace),
])
@pytest.mark.parametrize("save", ["save", "save_weights"])
def test_failed_save_keeps_the_earlier_file_and_leaves_no_temp_file(tmp_path, monkeypatch, target, patch, save):
    model = make_model()
    getattr(model, save)(tmp_path / "m.npz")
    earlier = (tmp_path / "m.npz").read_bytes()
    model.fit(X, Y, epochs=1, verbose=0)
    monkeypatch.setattr(target, patch)
    with pytest.raises(Boom):
        getattr(model, save)(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == ["m.npz"]
    assert (tmp_path / "m.npz").read_bytes() == earlier


def test_interrupted_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("numpy.savez", interrupted_savez)
    with pytest.raises(Boom):
        make_model().save(tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_model().save(tmp_path / "nowhere" / "m.npz")


def test_saved_file_gets_ordinary_permissions(tmp_path):
    make_model().save(tmp_path / "m")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o666 & ~umask


# --- bad files -------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing.*nothing\.npz"):
        fnn.load_model(tmp_path / "nothing")


@pytest.mark.parametrize("keep", [0, 10, 0.5, 0.99])
def test_truncated_file(tmp_path, keep):
    make_model().save(tmp_path / "m.npz")
    raw = (tmp_path / "m.npz").read_bytes()
    cut = keep if isinstance(keep, int) else int(len(raw) * keep)
    (tmp_path / "cut.npz").write_bytes(raw[:cut])
    with pytest.raises(saving.SaveFileError, match=r"cut\.npz.*not a readable \.npz"):
        fnn.load_model(tmp_path / "cut.npz")


def test_corrupted_bytes_are_caught_by_the_checksums(tmp_path):
    make_model().save(tmp_path / "m.npz")
    raw = bytearray((tmp_path / "m.npz").read_bytes())
    at = raw.index(b"weights.npy") + 200  # inside the stored weights
    raw[at] ^= 0xFF
    (tmp_path / "m.npz").write_bytes(bytes(raw))
    with pytest.raises(saving.SaveFileError, match="not a readable"):
        fnn.load_model(tmp_path / "m.npz")


def test_foreign_files(tmp_path):
    (tmp_path / "text.npz").write_text("hello, I am not a model")
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    np.save(tmp_path / "single.npy", np.arange(3))
    with pytest.raises(saving.SaveFileError, match=r"text\.npz.*not a fastnn save file: it is neither"):
        fnn.load_model(tmp_path / "text.npz")
    with pytest.raises(saving.SaveFileError, match=r"other\.npz.*not a fastnn save"):
        fnn.load_model(tmp_path / "other.npz")
    with pytest.raises(saving.SaveFileError, match=r"single\.npy.*single \.npy array"):
        fnn.load_model(tmp_path / "single.npy")
    with pytest.raises(saving.SaveFileError, match=r"other\.npz.*not a fastnn save"):
        twin().load_weights(tmp_path / "other.npz")


def rewrite(path, **changes):
    """Re-save an .npz file with some entries replaced (None removes one)."""
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = np.asarray(value)
    np.savez(path, **data)


@pytest.mark.parametrize("changes, message", [
    ({"fastnn_format": 2}, "format 2, newer than this fastnn reads"),
    ({"fastnn_format": "1"}, "invalid fastnn_format"),
    ({"content": None}, "lacks the entry 'content'"),
    ({"model_config": "{not json"}, "'model_config' is not valid JSON"),
    ({"model_config": json.dumps({"layers": [{"class_name": "Conv2D", "config": {}}]})}, "cannot be rebuilt"),
    ({"weights": None}, "lacks weights"),
    ({"weights": np.zeros(3, np.float32)}, "does not match its layout"),
    ({"weights": np.zeros(99, np.float64)}, "does not match its layout"),
    ({"weights_layout": json.dumps([["d", "kernel", [5, 8]]])}, "weights shaped"),
    ({"compile_config": json.dumps({"optimizer": {"name": "Nadam"}})}, "compile_config that cannot be applied"),
    ({"optimizer_slots": np.zeros((2, 3), np.float32)}, "'optimizer_slots' does not fit Adam"),
    ({"optimizer_iterations": -1}, "'optimizer_iterations' should be an integer >= 0"),
    ({"compile_config": None}, "optimizer state but no compile_config"),
])
def test_bad_entries_are_rejected_with_the_path(tmp_path, changes, message):
    make_model().save(tmp_path / "m.npz")
    rewrite(tmp_path / "m.npz", **changes)
    with pytest.raises(saving.SaveFileError, match=r"m\.npz.*" + message.replace("(", r"\(").replace(".", r"\.")):
        fnn.load_model(tmp_path / "m.npz")


def test_weights_with_nan_are_rejected(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.npz")
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    flat[0] = np.nan
    rewrite(tmp_path / "m.npz", weights=flat)
    with pytest.raises(saving.SaveFileError, match=r"m\.npz.*NaN"):
        fnn.load_model(tmp_path / "m.npz")


def test_path_of_the_wrong_type():
    with pytest.raises(TypeError, match="Expected path to be a str or os.PathLike"):
        fnn.load_model(42)
    with pytest.raises(TypeError, match="Expected path"):
        make_model().save(["m.npz"])


def test_save_functions_need_a_model(tmp_path):
    with pytest.raises(TypeError, match="expects a fastnn Sequential model. Received: list"):
        saving.save_model([], tmp_path / "m")


# --- ModelCheckpoint -----------------------------------------------------------------------------
def test_checkpoint_save_best_only_follows_the_monitored_value(tmp_path, capsys):
    model = make_model()
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{val_loss:.2f}"), save_best_only=True, verbose=1)
    ckpt.set_model(model)
    for epoch, val_loss in enumerate([1.0, 0.5, 0.7, 0.5, 0.25]):
        ckpt.on_epoch_end(epoch, {"loss": 0.1, "val_loss": val_loss})
    assert sorted(os.listdir(tmp_path)) == ["ck-01-1.00", "ck-02-0.50", "ck-05-0.25"]
    out = capsys.readouterr().out
    assert "Epoch 2: val_loss improved from 1.00000 to 0.50000, saving model to" in out
    assert "Epoch 3: val_loss did not improve from 0.50000" in out
    assert fnn.load_model(tmp_path / "ck-05-0.25").compiled


def test_checkpoint_max_mode_for_accuracy_and_weights_only(tmp_path):
    model = make_model()
    ckpt = callbacks.ModelCheckpoint(tmp_path / "best", monitor="val_accuracy", save_best_only=True,
                                     save_weights_only=True)
    assert ckpt.monitor_op is np.greater
    ckpt.set_model(model)
    ckpt.on_epoch_end(0, {"val_accuracy": 0.5})
    saved = model.get_weights()
    model.fit(X, Y, epochs=1, verbose=0)
    ckpt.on_epoch_end(1, {"val_accuracy": 0.4})
    with np.load(tmp_path / "best") as f:
        assert str(f["content"]) == "weights"
    other = twin()
    other.load_weights(tmp_path / "best")
    assert_same_weights_list(other.get_weights(), saved)


def test_checkpoint_in_fit_keeps_the_best_epoch(tmp_path):
    model = make_model()
    seen = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((logs["val_loss"],
                                                                                  model.get_weights())))
    every = callbacks.ModelCheckpoint(tmp_path / "all" / "e{epoch}")
    best = callbacks.ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)
    model.fit(X[:32], Y[:32], epochs=4, validation_data=(X[32:], Y[32:]), verbose=0, callbacks=[record, every, best])
    assert sorted(os.listdir(tmp_path / "all")) == ["e1", "e2", "e3", "e4"]
    best_loss, best_weights = min(seen, key=lambda item: item[0])
    assert_same_weights_list(fnn.load_model(tmp_path / "best.npz").get_weights(), best_weights)
    assert_same_weights(fnn.load_model(tmp_path / "all" / "e4"), model)


def test_checkpoint_without_the_monitored_value_warns_and_skips(tmp_path):
    ckpt = callbacks.ModelCheckpoint(tmp_path / "m", save_best_only=True)
    ckpt.set_model(make_model())
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        ckpt.on_epoch_end(0, {"loss": 0.3})
    assert not os.listdir(tmp_path)


def test_checkpoint_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Expected mode"):
        callbacks.ModelCheckpoint("m", mode="best")
    with pytest.raises(TypeError, match="Expected filepath"):
        callbacks.ModelCheckpoint(3)
    with pytest.raises(TypeError, match="save_best_only"):
        callbacks.ModelCheckpoint("m", save_best_only="yes")
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc}"))
    ckpt.set_model(make_model())
    with pytest.raises(ValueError, match=r"Failed to format this callback filepath.*val_acc"):
        ckpt.on_epoch_end(0, {"loss": 1.0})


def test_pathlib_paths_everywhere(tmp_path):
    model = make_model()
    saving.save_model(model, pathlib.Path(tmp_path) / "p")
    saving.save_weights(model, pathlib.Path(tmp_path) / "q")
    other = twin()
    saving.load_weights(other, pathlib.Path(tmp_path) / "q")
    assert_same_weights(saving.load_model(pathlib.Path(tmp_path) / "p"), other)


def test_a_file_of_random_bytes_is_named_as_not_a_save_file_without_numpys_pickle_advice(tmp_path):
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(saving.SaveFileError, match=r"noise\.npz' is not a fastnn save file") as caught:
        fnn.load_model(tmp_path / "noise.npz")
    assert "pickle" not in str(caught.value)


def test_saving_to_a_folder_is_a_clear_error_and_writes_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="it is a folder"):
        make_model().save(tmp_path / "out")
    with pytest.raises(ValueError, match="it is a folder"):
        make_model().save_weights(str(tmp_path / "out"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())
