"""Compilation: one compiled loop serves every model, task and configuration; a cold start says so on screen."""

import os
import shutil
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from numba.core import event

import fastnn as fnn
from fastnn import layers
from fastnn.backends.cpu import compiling, jit, loop, penalty, split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tutorial_model(dtype="float32"):
    model = fnn.Sequential([layers.Flatten(input_shape=(4, 4)), layers.Dense(8, activation="relu"),
                            layers.Dense(3, activation="softmax")], dtype=dtype)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def images(n=64, seed=0):
    """Mostly-zero 4x4 'images' (the CSR path) and 3 classes."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4, 4)) * (rng.random((n, 4, 4)) < 0.3)
    return x, rng.integers(0, 3, n)


def compilations(fn):
    """Names of the functions Numba compiled (or loaded from its cache) while fn ran."""
    with event.install_recorder("numba:compile") as recorder:
        fn()
    return [str(ev.data.get("dispatcher")) for _, ev in recorder.buffer if ev.is_start]


def run_everything(model, x, y, **fit):
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, **fit)
    model.evaluate(x, y, verbose=0)
    model.predict(x)


def float32_signatures():
    return [sig for sig in loop.run.signatures if sig[3].dtype.name == "float32"]


def test_train_evaluate_and_predict_share_one_compiled_loop():
    x, y = images()
    model = tutorial_model()
    model.fit(x, y, epochs=1, verbose=0)
    assert compilations(lambda: (model.evaluate(x, y, verbose=0), model.predict(x, batch_size=5))) == []
    assert len(float32_signatures()) == 1


def test_a_differently_configured_model_compiles_nothing_new():
    x, y = images()
    run_everything(tutorial_model(), x, y)
    other = fnn.Sequential([
        layers.Dense(16, activation="tanh", input_shape=(16,), kernel_regularizer=fnn.regularizers.L1L2(0.01, 0.02)),
        layers.Dropout(0.3),
        layers.Dense(5, activation="elu", use_bias=False),
        layers.Activation("softplus"),
        layers.Dense(2, activation="sigmoid", kernel_regularizer="l2"),
    ])
    other.compile(optimizer=fnn.optimizers.SGD(0.05, momentum=0.9, nesterov=True), loss="mse", metrics=["mae", "mse"])
    dense_x = np.random.default_rng(1).normal(size=(40, 16))
    targets = np.random.default_rng(2).random((40, 2))
    assert compilations(lambda: run_everything(other, dense_x, targets, validation_split=0.25)) == []
    binary = fnn.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(16,))])
    binary.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    assert compilations(lambda: run_everything(binary, x.reshape(-1, 16), (y > 0).astype(float), shuffle=False)) == []


def test_read_only_and_user_arrays_do_not_compile_the_loop_again():
    x, y = images()
    model = tutorial_model()
    run_everything(model, x, y)
    x.setflags(write=False)
    assert compilations(lambda: run_everything(model, x, y)) == []


def test_prepare_compiles_exactly_what_the_loop_calls_later():
    """The example arguments behind the compile notice have the types fit passes (else it would compile twice)."""
    x, y = images()
    model = tutorial_model()
    run_everything(model, x, y)
    net = model._network()
    chosen = compiling.needed((net.loss, net.mode), model.optimizer.code)
    for dispatcher, sig in compiling.entry_points(np.dtype("float32")) + compiling.kernels("float32", chosen):
        assert sig in dispatcher.overloads, dispatcher


def test_a_model_needs_its_own_loss_and_optimizer_kernels_only():
    """needed() leaves out the other losses' and optimizers' kernels, and names exactly the ones the loop's
    dispatchers call for each loss, mode and optimizer (their Python twins run with recording stand-ins)."""
    from fastnn.backends import codes
    from fastnn.backends.cpu import losses, metrics, normalization, optimizers
    chosen = compiling.needed((codes.SCCE, losses.FUSED), codes.ADAM, [codes.ACC_SPARSE])
    assert optimizers.adam_update in chosen and optimizers.sgd_update not in chosen
    assert losses._cce_logits in chosen and losses._mse not in chosen and losses._cce_probs not in chosen
    assert metrics._class_hits in chosen and metrics._auc_histograms not in chosen
    assert set(compiling.needed()) | set(losses.CHOSEN_BY_CODE) | set(optimizers.CHOSEN_BY_CODE) | \
        set(metrics.CHOSEN_BY_CODE) | set(normalization.CHOSEN_BY_CODE) | set(split.SPLIT_ONLY) == set(jit.KERNELS)
    assert set(split.SPLIT_ONLY) <= set(compiling.needed(split=True)) and \
        not set(split.SPLIT_ONLY) & set(compiling.needed())
    assert normalization.batchnorm_forward in compiling.needed(kinds=[codes.DENSE, codes.BATCHNORM])
    assert normalization.batchnorm_forward not in compiling.needed(kinds=[codes.DENSE])

    def calls(module, dispatcher, *args):
        called = []
        with pytest.MonkeyPatch.context() as patch:
            for k in module.CHOSEN_BY_CODE:
                patch.setattr(module, k.__name__, lambda *a, k=k: called.append(k) or 0.0)
            dispatcher.py_func(*args)
        return called

    z = np.zeros((2, 3))
    for loss in range(codes.KLD + 1):  # (the last loss code)
        for mode in (losses.PROBS, losses.LOGITS, losses.FUSED):
            assert calls(losses, losses._per_code, loss, mode, z, z, z, True, 1.0) == \
                losses.kernels_for(loss, mode), (loss, mode)
    for opt in (codes.SGD, codes.ADAM, codes.RMSPROP, codes.ADAGRAD):
        assert calls(optimizers, optimizers.optimizer_update, opt, z, z, z, z, 0.0,
                     np.array([[0, 1]])) == optimizers.kernels_for(opt)
    for metric in range(codes.AUC + 1):  # (the last metric code)
        assert calls(metrics, metrics.metrics_into, np.array([[metric, 0, 2]]), z, z, z) == metrics.kernels_for(metric)


def test_a_kernel_not_loaded_is_a_clear_error_not_a_crash():
    """A slot holds a trap until its kernel is loaded: a call through it raises RuntimeError."""
    from fastnn.backends.cpu.loop import copy

    @numba.njit
    def call_copy(a, b):
        copy(a, b)
    cell = jit.slot(copy, numba.float64)
    loaded, cell.value = cell.value, jit._address(jit._not_loaded, ())
    try:
        with pytest.raises(RuntimeError, match="called a kernel that was not loaded"):
            call_copy(np.zeros(2), np.zeros(2))
    finally:
        cell.value = loaded


def test_the_loop_calls_each_kernel_by_address_instead_of_holding_a_copy():
    """Each kernel is compiled once per float type, on its own; the loop's machine code only declares it."""
    x, y = images()
    run_everything(tutorial_model(), x, y)
    (sig,) = float32_signatures()
    # the loop's LLVM module as it links into callers (also for code loaded from the cache; private API)
    module = loop.run.overloads[sig].library._get_module_for_linking()
    defined = {fn.name for fn in module.functions if not fn.is_declaration}
    slots = {cell.name for cell in module.global_variables if cell.is_declaration}
    for dispatcher, kernel_sig in compiling.kernels("float32"):
        dispatcher.compile(kernel_sig)
        assert not any(dispatcher.overloads[kernel_sig].fndesc.llvm_func_name in name for name in defined)
    assert {f"fastnn.{loop.__name__}.gather.float32", f"fastnn.{penalty.__name__}.regularize.float32"} <= slots


def test_a_kernel_called_with_other_argument_types_is_a_clear_typing_error():
    from fastnn.backends.cpu.activations import activation_forward

    @numba.njit
    def wrong(z):
        activation_forward(1, z)
    expected = r"activation_forward takes \(int64, array\(float64, 2d, C\)\)"
    with pytest.raises(numba.core.errors.TypingError, match=expected):
        wrong(np.zeros((2, 3, 1)))


def test_the_cached_loop_is_keyed_on_every_kernel():
    """loop.run closes over jit.abi(), a fingerprint of every kernel's code, so Numba's cache key changes with them."""
    assert jit.abi() in [cell.cell_contents for cell in loop.run.py_func.__closure__]
    before = jit.abi()
    fake = jit.kernel("F1")(lambda a: None)
    try:
        assert jit.abi() != before
    finally:
        jit.KERNELS.remove(fake)
    assert jit.abi() == before


def test_the_compile_notice_needs_verbose_and_a_real_compilation(monkeypatch, capsys):
    """prepare() on a miss: silent with verbose=0, one notice and its timing with verbose=1, nothing once compiled."""
    quiet, loud = numba.njit(lambda n: n + 1), numba.njit(lambda n: n + 2)
    int64 = (numba.int64,)
    monkeypatch.setattr(compiling, "_ready", set())
    monkeypatch.setattr(compiling, "_loaded", set())
    monkeypatch.setattr(compiling, "_on_disk", lambda dispatcher, sig: (False, "/the/cache"))
    monkeypatch.setattr(compiling, "_compile_in_parallel", lambda dtype, jobs, missing: None)  # (tested below)
    monkeypatch.setattr(compiling, "entry_points", lambda dtype: [(quiet, int64)])
    compiling.prepare("float32", 0)
    assert capsys.readouterr().out == "" and quiet.signatures
    monkeypatch.setattr(compiling, "entry_points", lambda dtype: [(quiet, int64), (loud, int64)])
    compiling.prepare("float64", 1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Compiling fastnn's CPU kernels for float64 (first run only; cached in /the/cache)..."
    assert out[1].startswith("... compiled in ") and len(out) == 2 and loud.signatures
    compiling.prepare("float64", 1)
    assert capsys.readouterr().out == ""


SCRIPT = textwrap.dedent("""
    import numpy as np
    from numba.core import event
    import fastnn as fnn
    from fastnn import layers
    from fastnn.backends.cpu import compiling, jit, loop

    fnn.config.COMPILE_PROCESSES = 2
    recorder = event.RecordingListener()
    event.register("numba:compile", recorder)

    class ReadyAtTrainBegin(fnn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            ready = all(sig in d.overloads for d, sig in compiling.entry_points(np.dtype("float32")))
            compiled = {ev.data["dispatcher"].py_func.__name__ for _, ev in recorder.buffer if ev.is_start}
            helped = [d.py_func.__name__ for d, _ in compiling.kernels("float32") if d.py_func.__name__ not in compiled]
            print("READY", ready, "COMPILED HERE", len(compiled), "BY THE HELPER", len(helped))

    rng = np.random.default_rng(0)
    x, y = rng.random((50, 6)), rng.integers(0, 2, 50)
    model = fnn.Sequential([layers.Dense(4, activation="relu", input_shape=(6,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=1, callbacks=[ReadyAtTrainBegin()])
    model.evaluate(x, y, verbose=1)
    model.predict(x, verbose=1)
    before = len(recorder.buffer)
    other = fnn.Sequential([layers.Dense(3, activation="tanh", input_shape=(6,)), layers.Dense(1)])
    other.compile(optimizer="sgd", loss="mse")
    other.fit(x, y, epochs=1, verbose=0)
    print("SECOND MODEL COMPILED HERE", sum(ev.is_start for _, ev in recorder.buffer[before:]))
""")


def test_a_read_only_install_compiles_once_with_a_notice_and_caches_in_the_user_folder(tmp_path):
    """The package folder is read-only (as in a system site-packages): Numba caches in the user's folder.

    The first process compiles, announced once and timed, before the first epoch starts, then a second model
    with another loss and optimizer loads their kernels from the background helper's cache. The second process
    finds everything cached and prints no notice.
    """
    package, home = tmp_path / "site-packages", tmp_path / "home"
    shutil.copytree(os.path.join(ROOT, "fastnn"), package / "fastnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    for path in [package, *package.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(package), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    # root writes anywhere unless it gives up CAP_DAC_OVERRIDE; setpriv (util-linux) does that for the child
    drop = ["setpriv", "--bounding-set=-dac_override"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.fail("this test needs setpriv (util-linux) to make a folder read-only for root")
    runs = [subprocess.run(drop + [sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    loud, second = runs[0].stdout, runs[1].stdout
    assert loud.count("Compiling fastnn's CPU kernels for float32 (first run only; cached in ") == 1
    assert str(home / ".cache") in loud and loud.count("... compiled in ") == 1
    assert loud.index("compiled in") < loud.index("READY True") < loud.index("Epoch 1/1")
    assert "BY THE HELPER 0" not in loud  # the second process compiled a share of the kernels
    # the first model's loop and kernels came first; the helper compiled the rest in the background
    assert "SECOND MODEL COMPILED HERE 0" in loud
    assert "Compiling" not in second and "READY True COMPILED HERE 0" in second
    assert not list(package.rglob("*.nbi")), "Numba wrote its cache into the read-only package"


def test_a_failed_compile_helper_is_reported_and_leaves_its_share_to_this_process():
    """A helper that dies is waited for and named in a warning; what it did not cache is compiled here
    (publish() compiles any kernel the cache lacks, as it does in a single process)."""
    helper = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('boom: no compiler here')"],
                              stderr=subprocess.PIPE)
    with pytest.warns(RuntimeWarning, match=r"a kernel-compiling helper process failed \(boom: no compiler here\)"):
        compiling._finish(helper)
    compiling.publish("float32")  # loads or compiles every kernel, whoever was meant to
    assert all(sig in d.overloads for d, sig in compiling.kernels("float32"))


@pytest.mark.parametrize("fork", [True, False])
def test_helpers_compile_their_jobs_or_say_why_not(monkeypatch, fork):
    """A helper (a fork on Linux, a new interpreter elsewhere) compiles its share; one that fails names why."""
    monkeypatch.setattr(compiling, "FORK", fork)
    helper = compiling._start_helper("float32", compiling.kernels("float32", [loop.copy]))
    compiling._finish(helper)
    assert helper.returncode == 0
    if fork:
        broken = (Interrupting(ValueError("no compiler here")), ())
        with pytest.warns(RuntimeWarning, match=r"helper process failed \(ValueError: no compiler here\)"):
            compiling._finish(compiling._start_helper("float32", [broken]))


def test_an_interrupted_compile_stops_its_helpers(monkeypatch):
    """Ctrl-C while this process compiles its share kills the helpers instead of waiting for them."""
    started = []

    def sleeper(dtype, jobs):
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return started[-1]

    monkeypatch.setattr(compiling, "_start_helper", sleeper)
    monkeypatch.setattr(compiling, "_processes", lambda: 2)
    monkeypatch.setattr(compiling, "_on_disk", lambda dispatcher, sig: (False, "/the/cache"))
    monkeypatch.setattr(compiling, "kernels", lambda dtype: [(numba.njit(lambda: 0), ()), (numba.njit(lambda: 1), ())])
    monkeypatch.setattr(compiling, "share_out", lambda jobs, parts, cost=0: [[(Interrupting(), ())], jobs[1:]])
    with pytest.raises(KeyboardInterrupt):
        compiling._compile_in_parallel(np.dtype("float32"), compiling.kernels("float32"), 0)
    assert started and all(helper.returncode is not None and helper.returncode < 0 for helper in started)  # killed


class Interrupting:
    """A stand-in dispatcher whose compilation is interrupted."""

    overloads = {}

    def __init__(self, error=KeyboardInterrupt):
        self.error = error

    def compile(self, sig):
        raise self.error
