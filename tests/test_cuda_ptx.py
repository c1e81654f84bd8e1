"""Every CUDA kernel, with the argument types fits really launch it with, compiles for a real GPU.

The simulator runs kernels as Python, so it never type-checks them for the device. This test
records each launch's argument types during small simulated fits, then compiles every
signature to PTX in a fresh process without the simulator. It needs NVRTC and NVVM (e.g. the
nvidia-cuda-nvrtc-cu12 and nvidia-cuda-nvcc-cu12 wheels) but no GPU, and is skipped without them.
"""

import os
import pathlib
import pickle
import subprocess
import sys

import numba
import numpy as np
import pytest
from cuda_support import SIMULATOR_WARNINGS

import fastnn as fnn
from fastnn import layers
from fastnn.backends import cuda_api

if not cuda_api.simulated():
    pytest.skip("on a real GPU every other CUDA test compiles its kernels", allow_module_level=True)
try:
    from cuda.pathfinder import load_nvidia_dynamic_lib
    for _lib in ("nvrtc", "nvvm"):
        load_nvidia_dynamic_lib(_lib)
    from fastnn.backends.cuda import device
except Exception as exc:  # no numba-cuda, or no NVRTC / NVVM to compile with
    pytest.skip(f"cannot compile PTX here: {exc}", allow_module_level=True)

pytestmark = SIMULATOR_WARNINGS

REPO = pathlib.Path(__file__).resolve().parents[1]
KERNEL_MODULES = ("activations", "dense", "device", "losses", "loop", "normalization", "optimizers", "random")

COMPILE = """
import importlib, pickle, sys, types
from fastnn.backends import cuda_api
cuda = cuda_api.load()
if not cuda.is_available():  # device functions ask the current device for its compute capability
    dispatcher = importlib.import_module(cuda.__name__ + ".dispatcher")
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(8, 0))
failures = 0
for module, name, types_ in pickle.load(open(sys.argv[1], "rb")):
    kernel = getattr(importlib.import_module(module), name)
    try:
        cuda.compile_ptx(kernel.py_func, types_, cc=(8, 0))
    except Exception as exc:
        failures += 1
        print(f"{module}.{name}{types_}: {exc}")
sys.exit(failures)
"""

CASES = [  # (dtype, layers, loss, optimizer, metrics): together they launch every kernel
    ("float32", lambda: [layers.Dense(3, activation="relu", input_shape=(3,)), layers.BatchNormalization(),
                         layers.Dropout(0.5), layers.Dense(3, activation="softmax")],
     "sparse_categorical_crossentropy", "adam", ["accuracy"]),
    ("float64", lambda: [layers.Activation("elu", input_shape=(3,)),
                         layers.Dense(3, activation="softmax", kernel_regularizer="l2"), layers.Dropout(0.3),
                         layers.Activation("tanh"), layers.Dense(2, activation="sigmoid")],
     "binary_crossentropy", fnn.optimizers.SGD(momentum=0.9), ["accuracy", "mae"]),
    ("float32", lambda: [layers.Activation("softplus", input_shape=(3,)), layers.Dense(2, use_bias=False)],
     "mse", "rmsprop", ["mse"]),
    ("float64", lambda: [layers.Dense(3, activation="leaky_relu", input_shape=(3,)), layers.Dense(3)],
     fnn.losses.CategoricalCrossentropy(from_logits=True), "adagrad", []),
]


def arg_type(value):
    """The Numba type a launch gives this argument (device arrays typed by their host copy)."""
    return numba.typeof(value.copy_to_host() if hasattr(value, "copy_to_host") else value)


def all_kernels():
    import importlib
    kind = type(device._fill)
    found = set()
    for short in KERNEL_MODULES:
        module = importlib.import_module(f"fastnn.backends.cuda.{short}")
        found |= {(module.__name__, name) for name, obj in vars(module).items()
                  if isinstance(obj, kind) and not obj._device and obj.fn.__module__ == module.__name__}
    return found


def test_every_kernel_compiles_to_ptx(tmp_path, monkeypatch):
    launched = set()
    launch = device._launch

    def recording(kernel, blocks, threads, args):
        launched.add((kernel.fn.__module__, kernel.fn.__name__, tuple(arg_type(a) for a in args)))
        launch(kernel, blocks, threads, args)

    monkeypatch.setattr(device, "_launch", recording)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 3))
    for dtype, make_layers, loss, optimizer, metrics in CASES:
        model = fnn.Sequential(make_layers(), dtype=dtype)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, device="cuda")
        units = model.layers[-1].output_shape[0]
        y = rng.integers(0, units, 3) if "sparse" in model.loss.name else np.eye(units)[[0, 1, 1]]
        model.fit(x, y, epochs=1, batch_size=3, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x)
    assert {(module, name) for module, name, _ in launched} == all_kernels()
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "PYTHONPATH": str(REPO)}
    signatures = sorted(launched, key=str)
    runs = []
    for part in range(2):  # two processes, one per core of the CI machine
        path = tmp_path / f"signatures{part}.pkl"
        path.write_bytes(pickle.dumps(signatures[part::2]))
        runs.append(subprocess.Popen([sys.executable, "-c", COMPILE, str(path)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    for run in runs:
        out, err = run.communicate(timeout=540)
        assert run.returncode == 0, out + err[-3000:]
