"""The Sequential API: building, shapes, weights, summary, fit options, callbacks, dtypes."""

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers


def small_model(**kw):
    model = fnn.Sequential([layers.Dense(5, activation="relu", input_shape=(4,)),
                            layers.Dense(3, activation="softmax")], **kw)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)


def test_shapes_and_keras_weight_layout():
    model = small_model()
    kernel, bias, kernel2, bias2 = model.get_weights()
    assert kernel.shape == (4, 5) and bias.shape == (5,) and kernel2.shape == (5, 3) and bias2.shape == (3,)
    assert kernel.dtype == np.float32
    assert np.all(bias == 0) and np.abs(kernel).max() <= np.sqrt(6 / 9)
    assert model.count_params() == 4 * 5 + 5 + 5 * 3 + 3
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    assert [w.shape for w in model.layers[0].get_weights()] == [(4, 5), (5,)]


def test_set_weights_round_trip_and_layer_level():
    model = small_model()
    new = [np.full(w.shape, i + 1.0) for i, w in enumerate(model.get_weights())]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    model.layers[1].set_weights([np.zeros((5, 3)), np.ones(3)])
    np.testing.assert_array_equal(model.get_weights()[3], np.ones(3))
    np.testing.assert_array_equal(model.get_weights()[0], new[0])


def test_input_layer_and_lazy_build():
    model = fnn.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(), layers.Dense(2)])
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense"]
    assert model.count_params() == 784 * 2 + 2
    lazy = fnn.Sequential([layers.Dense(2)])
    assert not lazy.built
    assert lazy.predict(np.ones((3, 7))).shape == (3, 2)
    assert lazy.built and lazy.input_shape == (None, 7)


def test_an_input_added_first_builds_with_the_next_layer_as_in_keras():
    """keras.Sequential(); add(keras.Input(shape=(5,))); add(Dense(2)): built once a layer computes."""
    model = fnn.Sequential()
    model.add(fnn.Input(shape=(5,)))
    assert not model.built and model.input_shape == (None, 5)
    model.add(layers.Dense(2))
    assert model.built and model.output_shape == (None, 2) and model.count_params() == 12
    alone = fnn.Sequential([layers.Input(shape=(3,))])
    assert not alone.built and alone.layers == []
    alone.add(layers.Dense(1, activation="sigmoid"))
    assert alone.predict(np.ones((4, 3))).shape == (4, 1)
    assert fnn.Input is layers.Input


def test_add_keeps_earlier_weights():
    model = fnn.Sequential()
    model.add(layers.Dense(3, input_shape=(2,)))
    before = model.get_weights()
    model.add(layers.Dense(1))
    after = model.get_weights()
    assert len(after) == 4
    np.testing.assert_array_equal(after[0], before[0])


def test_summary_table():
    model = fnn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation="relu"),
                            layers.Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 784)" in text and "100,480" in text and "1,290" in text
    assert "Total params: 101,770" in text


def test_fit_history_and_evaluate_return_values():
    x, y = data()
    model = small_model()
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2] and model.history is history
    loss, acc = model.evaluate(x, y, verbose=0)
    assert 0 <= acc <= 1 and loss > 0
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(loss)
    plain = fnn.Sequential([layers.Dense(1, input_shape=(4,))])
    plain.compile(optimizer="sgd", loss="mse")
    assert isinstance(plain.evaluate(x, y, verbose=0), float)


def test_validation_split_holds_out_the_tail():
    """The last fraction, before shuffling, is the validation set (as Keras)."""
    x, y = data(40)
    a, b = small_model(), small_model()
    b.set_weights(a.get_weights())
    ha = a.fit(x, y, epochs=1, validation_split=0.25, shuffle=False, verbose=0)
    hb = b.fit(x[:30], y[:30], epochs=1, validation_data=(x[30:], y[30:]), shuffle=False, verbose=0)
    assert ha.history == hb.history


def test_fit_continues_and_initial_epoch():
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=1, verbose=0)
    steps = model.optimizer.iterations
    history = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert history.epoch == [1, 2] and model.optimizer.iterations == 3 * steps


def test_float64_models_and_set_floatx():
    model = small_model(dtype="float64")
    assert model.get_weights()[0].dtype == np.float64
    assert model.predict(data()[0]).dtype == np.float64
    fnn.config.set_floatx("float64")
    try:
        assert fnn.Sequential([layers.Dense(1, input_shape=(2,))]).get_weights()[0].dtype == np.float64
    finally:
        fnn.config.set_floatx("float32")
    assert fnn.config.floatx() == "float32"


def test_integer_and_uint8_inputs_are_converted_once():
    model = small_model()
    x, y = data()
    model.fit((x * 10).astype(np.int16), y.astype(np.uint8), epochs=1, verbose=0)
    assert model.predict(np.ones((2, 4), dtype=np.uint8)).shape == (2, 3)


@pytest.mark.parametrize("loss, y", [
    ("mse", np.random.default_rng(0).normal(size=(64, 3))),
    ("categorical_crossentropy", np.eye(3)[np.random.default_rng(0).integers(0, 3, 64)]),
    ("hinge", np.random.default_rng(0).integers(0, 2, (64, 3))),
])
def test_other_losses_train(loss, y):
    x, _ = data()
    model = fnn.Sequential([layers.Dense(3, activation="softmax" if "entropy" in loss else None,
                                         input_shape=(4,))])
    model.compile(optimizer=fnn.optimizers.SGD(0.1), loss=loss, metrics=["mae", "mse"])
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(history.history) == {"loss", "mae", "mse"}


def test_accuracy_variant_follows_the_loss():
    x, _ = data()
    yb = (x[:, 0] > 0).astype(float)
    model = fnn.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    model.compile(optimizer=fnn.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, yb, epochs=30, verbose=0)
    _, acc = model.evaluate(x, yb, verbose=0)
    assert acc == np.mean((model.predict(x)[:, 0] > 0.5) == yb) and acc > 0.9


def test_dropout_trains_and_is_identity_at_inference():
    x, y = data(256)
    model = fnn.Sequential([layers.Dense(16, activation="relu", input_shape=(4,)), layers.Dropout(0.5),
                            layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.array_equal(model.predict(x), model.predict(x))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


def test_dropout_mask_rate_and_scale():
    """Training output of Dropout(rate) keeps about (1 - rate) of units, scaled by 1 / (1 - rate)."""
    from fastnn.backends.cpu.random import dropout_mask
    mask = np.empty(20000, np.float32)
    dropout_mask.py(mask, 0.3)
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.7)}
    assert abs(np.mean(mask == 0) - 0.3) < 0.02


class Recorder(fnn.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch", epoch, sorted(logs)))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch))


def test_callbacks_see_every_batch_and_epoch():
    x, y = data(40)
    rec = Recorder()
    small_model().fit(x, y, epochs=2, batch_size=16, callbacks=[rec], verbose=0)
    batches = [e for e in rec.events if e[0] == "batch"]
    assert rec.events[0] == "train_begin" and batches == [("batch", i) for i in (0, 1, 2)] * 2
    assert ("epoch", 1, ["accuracy", "loss"]) in rec.events


def test_early_stopping_restores_best_weights():
    x, y = data()
    model = small_model()
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=5.0), loss="sparse_categorical_crossentropy")
    stop = fnn.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=50, callbacks=[stop], verbose=0)
    assert len(history.epoch) < 50
    best = int(np.argmin(history.history["loss"]))
    assert stop.best_epoch == best


def test_nan_loss_stops_with_a_warning_and_keeps_finite_weights():
    x, y = data()
    model = fnn.Sequential([layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1e6), loss="mse")
    with pytest.warns(RuntimeWarning, match="became NaN or infinite"):
        history = model.fit(x * 1e10, np.zeros((64, 3)), epochs=5, batch_size=8, verbose=0)
    assert len(history.epoch) == 1
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_terminate_on_nan_stops_without_per_batch_stepping():
    x, y = data()
    model = fnn.Sequential([layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1e6), loss="mse")
    cb = fnn.callbacks.TerminateOnNaN()
    assert not cb.wants_batches()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TerminateOnNaN stops first: no fallback warning
        history = model.fit(x * 1e20, np.zeros((64, 3)), epochs=5, batch_size=8, callbacks=[cb], verbose=0)
    assert len(history.epoch) == 1 and model.stop_training


def test_progress_output(capsys):
    x, y = data()
    small_model().fit(x, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "4/4" in out and "loss:" in out
    small_model().fit(x, y, epochs=1, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "4/4 [==============================]" in out and "accuracy:" in out


def test_progress_bar_redraws_on_a_terminal():
    from fastnn.callbacks import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = ProgressBar(10, stream=stream)
    bar.update(3, {"loss": 0.5})
    bar.update(10, {"loss": 0.25}, final=True)
    text = stream.getvalue()
    assert text.startswith("\r 3/10 [=========>") and "ETA" in text and text.endswith("loss: 0.2500\n")


def test_compile_resolves_strings_and_objects():
    model = small_model()
    model.compile(optimizer=fnn.optimizers.RMSprop(learning_rate=0.01), loss=fnn.losses.SparseCategoricalCrossentropy())
    assert isinstance(model.optimizer, fnn.optimizers.RMSprop) and model.metrics_names == []
    model.compile(optimizer="Adagrad", loss="SPARSE_CATEGORICAL_CROSSENTROPY", metrics=["acc"])
    x, y = data()
    assert set(model.fit(x, y, verbose=0).history) == {"loss", "acc"}


def test_device_cpu_and_auto_without_gpu():
    model = small_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cpu")
    assert model.device == "cpu"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="auto")
    assert model.device in ("cpu", "cuda")


def test_blas_threads_are_limited_for_small_gemms_and_restored():
    from fastnn.backends.cpu import blas
    controls = blas._controls()
    assert controls, "SciPy's OpenBLAS thread control was not found"
    before = [get() for get, _ in controls]
    with blas.limited(blas.threads_for(32 * 784 * 128)):
        assert [get() for get, _ in controls] == [1] * len(controls)
    assert [get() for get, _ in controls] == before
    assert blas.threads_for(10**9) is None
    x, y = data()
    small_model().fit(x, y, epochs=1, verbose=0)
    assert [get() for get, _ in controls] == before


def test_device_auto_looks_for_a_gpu_driver_before_importing_numba_cuda():
    """Without NVIDIA's driver library there is no GPU: compile() picks the CPU at once (importing numba-cuda
    to ask would cost 0.2 s of every first compile)."""
    from fastnn.backends import cuda_api
    code = ("import sys, fastnn as fnn; m = fnn.Sequential([fnn.layers.Dense(2, input_shape=(3,))]); "
            "m.compile(loss='mse'); print(m.device, 'numba.cuda' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    if not cuda_api._driver_loads():
        assert out.stdout.split() == ["cpu", "False"]
    else:  # a machine with the driver: numba-cuda decides
        assert out.stdout.split()[0] in ("cpu", "cuda")
