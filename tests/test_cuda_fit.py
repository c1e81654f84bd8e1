"""Whole models on device="cuda" against the same models on the CPU: fit, evaluate, predict, move.

Runs on a real GPU when there is one, else under Numba's CUDA simulator (tests/cuda_support.py).
Networks and data are tiny: the simulator runs every GPU thread as a Python thread.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from cuda_support import SIMULATOR_WARNINGS, require_device

import fastnn as fnn
from fastnn import layers
from fastnn.backends import codes, cuda_api
from fastnn.backends.cpu import CpuBackend
from fastnn.backends.cpu.losses import LOGITS, PROBS

require_device()
try:
    from fastnn.backends.cuda import CudaBackend, device
except RuntimeError as exc:  # numba-cuda not installed
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = SIMULATOR_WARNINGS

REPO = pathlib.Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 3))
Y_SPARSE = np.array([0, 3, 1, 2, 3, 0])
Y_BINARY = RNG.integers(0, 2, (6, 2)).astype(float)


def two_layer(device_name, seed=5, optimizer="adam"):
    """Dense(5, relu) -> Dense(4, softmax) with sparse cross-entropy (the loss fused with softmax)."""
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Dense(5, activation="relu", input_shape=(3,)),
                            layers.Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  device=device_name)
    return model


def assert_weights_close(a, b, atol):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


@pytest.fixture(scope="module")
def trained():
    """The two-layer model trained 2 epochs (shuffle=False, batches of 4 and 2) on each device."""
    models, histories = {}, {}
    for name in ("cpu", "cuda"):
        models[name] = two_layer(name)
        histories[name] = models[name].fit(X, Y_SPARSE, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    return models, histories


def test_cuda_fit_gives_the_cpu_weights_and_history(trained):
    models, histories = trained
    assert models["cuda"].device == "cuda" and models["cpu"].device == "cpu"
    assert_weights_close(models["cuda"], models["cpu"], atol=1e-4)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(histories["cuda"][key], histories["cpu"][key], rtol=1e-5)
    assert models["cuda"].optimizer.iterations == models["cpu"].optimizer.iterations == 4
    slots = [m._backend.to_host(m.optimizer.slots) for m in (models["cuda"], models["cpu"])]
    np.testing.assert_allclose(slots[0], slots[1], rtol=1e-4, atol=1e-7)


def test_cuda_predict_and_evaluate_match_cpu(trained):
    models, _ = trained
    x = RNG.normal(size=(7, 3))
    p_gpu, p_cpu = models["cuda"].predict(x, batch_size=3), models["cpu"].predict(x, batch_size=3)
    assert p_gpu.dtype == np.float32 and p_gpu.shape == (7, 4)
    np.testing.assert_allclose(p_gpu, p_cpu, atol=1e-4)
    np.testing.assert_allclose(p_gpu.sum(axis=1), 1.0, rtol=1e-5)
    y = np.array([1, 0, 3, 2, 2, 1, 0])
    e_gpu = models["cuda"].evaluate(x, y, batch_size=3, verbose=0)
    e_cpu = models["cpu"].evaluate(x, y, batch_size=3, verbose=0)
    np.testing.assert_allclose(e_gpu, e_cpu, rtol=1e-5)


def test_float64_shuffled_fit_with_activation_steps_and_regulariser_matches_cpu():
    """Exercises the gather launch, softmax in a hidden layer, Activation steps, a Dropout(0) step,
    the penalty and RMSprop."""
    def build(device_name):
        fnn.utils.set_random_seed(8)
        penalty = fnn.regularizers.L1L2(0.01, 0.02)
        model = fnn.Sequential([layers.Activation("tanh", input_shape=(3,)),
                                layers.Dense(6, activation="softmax", kernel_regularizer=penalty),
                                layers.Activation("elu"), layers.Dropout(0.0),
                                layers.Dense(2, activation="sigmoid")], dtype="float64")
        model.compile(optimizer=fnn.optimizers.RMSprop(0.01, momentum=0.5), loss="binary_crossentropy",
                      metrics=["accuracy", "mse"], device=device_name)
        return model, model.fit(X, Y_BINARY, epochs=2, batch_size=4, shuffle=True, verbose=0).history

    (gpu, h_gpu), (cpu, h_cpu) = build("cuda"), build("cpu")
    assert_weights_close(gpu, cpu, atol=1e-9)
    for key in ("loss", "accuracy", "mse"):
        np.testing.assert_allclose(h_gpu[key], h_cpu[key], rtol=1e-9)
    np.testing.assert_allclose(gpu.evaluate(X, Y_BINARY, verbose=0), cpu.evaluate(X, Y_BINARY, verbose=0), rtol=1e-9)


def test_a_training_step_is_seven_launches_and_nothing_crosses_the_bus_per_batch(monkeypatch):
    model = two_layer("cuda")
    x, y = np.tile(X, (2, 1)), np.tile(Y_SPARSE, 2)  # 12 samples: 3 steps of 4 per epoch
    device.dummy("int64"), device.dummy("float32", 2)  # cached scratch arrays, made once per process
    counts = {"up": 0, "down": 0}
    to_device, host_type = device.cuda.to_device, type(device.empty(1, np.float64))
    copy_to_host = host_type.copy_to_host

    def counting_upload(*args, **kwargs):
        counts["up"] += 1
        return to_device(*args, **kwargs)

    def counting_read(self, *args, **kwargs):
        counts["down"] += 1
        return copy_to_host(self, *args, **kwargs)

    monkeypatch.setattr(device.cuda, "to_device", counting_upload)
    monkeypatch.setattr(host_type, "copy_to_host", counting_read)
    before = device.launches
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    per_call = 1  # zeroing the status array
    assert device.launches - before == 2 * (per_call + 3 * 7)
    # up: optimizer state (built by the first fit), x, y, hyper-parameters, metric codes, the trainable
    # parameter ranges; down: one status read per epoch (verbose=0 trains a whole epoch per call)
    assert counts == {"up": 6, "down": 2}


def test_a_non_finite_loss_stops_training_where_the_cpu_stops():
    def build(device_name):
        fnn.utils.set_random_seed(2)
        model = fnn.Sequential([layers.Dense(1, input_shape=(3,))])
        model.compile(optimizer=fnn.optimizers.SGD(learning_rate=1e20), loss="mse", metrics=["mae"],
                      device=device_name)
        with pytest.warns(RuntimeWarning, match="Training stopped"):
            history = model.fit(10 * X, np.zeros(6), epochs=3, batch_size=2, shuffle=False, verbose=0)
        return model, history.history

    (gpu, h_gpu), (cpu, h_cpu) = build("cuda"), build("cpu")
    assert gpu.optimizer.iterations == cpu.optimizer.iterations == 1
    assert len(h_gpu["loss"]) == len(h_cpu["loss"]) == 1 and not np.isfinite(h_gpu["loss"][0])
    for wg, wc in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(wg, wc, rtol=1e-5)


def test_dropout_fits_reproducibly_and_is_the_identity_at_inference():
    def build():
        fnn.utils.set_random_seed(4)
        model = fnn.Sequential([layers.Dense(6, activation="relu", input_shape=(3,)), layers.Dropout(0.5),
                                layers.Dense(4, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device="cuda")
        start = model.get_weights()
        model.fit(X, Y_SPARSE, epochs=1, batch_size=4, verbose=0)
        return model, start

    (a, start), (b, _) = build(), build()
    assert_weights_close(a, b, atol=0)
    assert not np.allclose(a.get_weights()[0], start[0])
    on_gpu = a.predict(X)
    np.testing.assert_array_equal(a.predict(X), on_gpu)
    np.testing.assert_allclose(a.to("cpu").predict(X), on_gpu, atol=1e-5)


def test_to_cpu_moves_weights_and_optimizer_state_and_training_goes_on():
    moved, stayed = two_layer("cuda"), two_layer("cpu")
    moved.fit(X, Y_SPARSE, epochs=1, batch_size=4, shuffle=False, verbose=0)
    stayed.fit(X, Y_SPARSE, epochs=1, batch_size=4, shuffle=False, verbose=0)
    before = moved.get_weights()
    slots = moved._backend.to_host(moved.optimizer.slots)
    assert moved.to("cpu") is moved and moved.device == "cpu"
    assert isinstance(moved.optimizer.slots, np.ndarray) and moved.optimizer.iterations == 2
    np.testing.assert_array_equal(moved.optimizer.slots, slots)
    for w0, w1 in zip(before, moved.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    for model in (moved, stayed):
        model.fit(X, Y_SPARSE, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert_weights_close(moved, stayed, atol=1e-4)
    np.testing.assert_allclose(stayed.to("cuda").predict(X), moved.predict(X), atol=1e-4)


def test_device_names_are_checked_and_auto_ignores_the_simulator():
    model = two_layer("cpu")
    with pytest.raises(ValueError, match="device"):
        model.compile(optimizer="sgd", loss="mse", device="gpu")
    if not cuda_api.real_gpu():
        model.compile(optimizer="sgd", loss="mse", device="auto")
        assert model.device == "cpu"


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    model = two_layer("cpu")
    monkeypatch.setattr(cuda_api, "simulated", lambda: False)
    monkeypatch.setattr(cuda_api, "real_gpu", lambda: False)
    with pytest.raises(RuntimeError, match="device='cuda' needs an NVIDIA GPU"):
        model.compile(optimizer="sgd", loss="mse", device="cuda")
    assert model.device == "cpu"


def test_cuda_without_a_gpu_fails_cleanly_in_a_fresh_process():
    script = ("import fastnn as fnn\n"
              "from fastnn.backends import cuda_api\n"
              "if cuda_api.real_gpu():\n"
              "    raise SystemExit('has a GPU')\n"
              "model = fnn.Sequential([fnn.layers.Dense(1, input_shape=(2,))])\n"
              "try:\n"
              "    model.compile(loss='mse', device='cuda')\n"
              "except RuntimeError as exc:\n"
              "    print('RuntimeError:', exc)\n")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    if "has a GPU" in run.stderr:
        pytest.skip("a real GPU is present")
    assert run.returncode == 0, run.stderr
    assert "RuntimeError: device='cuda'" in run.stdout


@pytest.mark.parametrize("loss,mode,y", [(codes.CCE, LOGITS, np.eye(3)[[0, 2, 1, 1]]),
                                         (codes.BCE, PROBS, np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 0]]))])
def test_loss_value_matches_cpu(loss, mode, y):
    p = RNG.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    y = y.astype(np.float32)
    np.testing.assert_allclose(CudaBackend().loss_value(loss, mode, p, y),
                               CpuBackend().loss_value(loss, mode, p.copy(), y), rtol=1e-6)


def test_initialize_on_the_device_draws_the_host_values():
    gpu, cpu = CudaBackend(), CpuBackend()
    out = gpu.from_host(np.zeros(7, np.float32))
    fnn.utils.set_random_seed(3)
    gpu.initialize(out, codes.INIT_UNIFORM, 0.5)
    want = np.zeros(7, np.float32)
    fnn.utils.set_random_seed(3)
    cpu.initialize(want, codes.INIT_UNIFORM, 0.5)
    np.testing.assert_array_equal(gpu.to_host(out), want)


def test_the_cuda_loop_applies_a_learning_rate_schedule_as_the_cpu_does():
    """A rate per step, uploaded once per stretch of steps: the same weights as the CPU loop's."""
    schedule = fnn.optimizers.schedules.PiecewiseConstantDecay([0, 2], [0.2, 0.1, 0.05])
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 5)), rng.random((16, 2))
    weights = []
    for device in ("cpu", "cuda"):
        fnn.utils.set_random_seed(1)
        m = fnn.Sequential([layers.Dense(3, activation="tanh", input_shape=(5,)), layers.Dense(2)])
        m.compile(optimizer=fnn.optimizers.SGD(schedule), loss="mse", device=device)
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # rates 0.2, 0.1, 0.1, then 0.05
        weights.append(m.get_weights())
    for cpu, gpu in zip(*weights):
        np.testing.assert_allclose(cpu, gpu, rtol=0, atol=1e-6)


def test_activations_differentiated_from_their_input_train_as_on_the_cpu():
    """gelu first in the network, swish as a Dense layer's activation, after it Dropout, mish last: the CPU's
    weights (float64)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    weights = []
    for device in ("cpu", "cuda"):
        fnn.utils.set_random_seed(2)
        m = fnn.Sequential([layers.Activation("gelu", input_shape=(4,)), layers.Dense(5, activation="swish"),
                            layers.Dropout(0.0), layers.Dense(3, activation="mish")], dtype="float64")
        m.compile(optimizer=fnn.optimizers.SGD(0.5), loss="mse", device=device)
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        weights.append(m.get_weights())
    for cpu, gpu in zip(*weights):
        np.testing.assert_allclose(cpu, gpu, rtol=0, atol=1e-12)


def test_sample_weights_weigh_the_cuda_loss_as_the_cpus():
    """Weights ride in the targets' last column: the CUDA loss kernel scales each row's loss and gradient."""
    rng = np.random.default_rng(1)
    x, labels, w = rng.normal(size=(16, 4)), rng.integers(0, 3, 16), rng.uniform(0.0, 2.0, 16)
    results = []
    for device in ("cpu", "cuda"):
        fnn.utils.set_random_seed(2)
        m = fnn.Sequential([layers.Dense(5, activation="tanh", input_shape=(4,)),
                            layers.Dense(3, activation="softmax")], dtype="float64")
        m.compile(optimizer=fnn.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device=device)
        m.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0, sample_weight=w)
        results.append((m.get_weights(), m.evaluate(x, labels, sample_weight=w, verbose=0)))
    (cpu, cpu_logs), (gpu, gpu_logs) = results
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cpu_logs, gpu_logs, rtol=1e-12)


@pytest.mark.parametrize("first, frozen", [(False, False), (True, True)])
def test_batch_normalization_trains_on_cuda_as_on_the_cpu(first, frozen):
    """Batch statistics and the moving ones' update (or, frozen, inference mode), then backprop (float64)."""
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(16, 3)) * 2 + 1, rng.integers(0, 3, 16)
    results = []
    for device in ("cpu", "cuda"):
        fnn.utils.set_random_seed(1)
        norm = layers.BatchNormalization(momentum=0.9, trainable=not frozen, **({"input_shape": (3,)} if first else {}))
        stack = [norm] if first else [layers.Dense(4, activation="tanh", input_shape=(3,)), norm,
                                      layers.Activation("relu")]
        m = fnn.Sequential(stack + [layers.Dense(3, activation="softmax")], dtype="float64")
        m.compile(optimizer=fnn.optimizers.SGD(0.3), loss="sparse_categorical_crossentropy", device=device)
        m.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        results.append((m.get_weights(), m.predict(x)))
    (cpu, cpu_out), (gpu, gpu_out) = results
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cpu_out, gpu_out, rtol=0, atol=1e-12)


def test_scikit_learns_reduction_is_refused_on_cuda_before_any_kernel():
    """fastnn.sklearn's objective (codes.REDUCE_WEIGHTS) is the CPU loop's only: a clear error, weights kept."""
    model = two_layer("cuda")
    model._reduction = codes.REDUCE_WEIGHTS
    before = [w.copy() for w in model.get_weights()]
    x, y = np.random.default_rng(0).random((8, 3)), np.zeros(8, np.int64)
    with pytest.raises(ValueError, match="CPU backend only"):
        model.fit(x.astype(model.dtype), y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
