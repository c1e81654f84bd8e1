"""Library-wide settings: default float type and the tunables kernels and tests may patch."""

import os

import numpy as np

_FLOATX = "float32"
_ALLOWED = ("float32", "float64")

# Optimizer state smaller than this is flushed to zero (a compile-time constant of the kernels:
# changing it needs a fresh Numba cache): subnormal floats (Adam's moments
# decaying on MNIST's always-dark pixels) make every update 1.5-2x slower.
FLUSH_BELOW = 1e-30

# Inputs with at least this fraction of zeros (MNIST: 81%) get a CSR index so the first Dense
# layer reads batches in place and skips the zeros; denser inputs go to BLAS.
SPARSE_INPUT_ZEROS = 0.5

# ... when training at batches smaller than this. The CSR kernels work sample by sample, while a
# GEMM on the gathered batch gets more efficient as the batch grows: MNIST 784-128-10 trains
# faster through CSR at batch 512 but through two-threaded BLAS at 1024 (0.26-0.38 s against
# 0.36-0.44 s per epoch). Predict and evaluate (forward only) keep CSR at any batch size.
SPARSE_INPUT_MAX_BATCH = 1024

# Networks whose largest BLAS GEMM (batch * inputs * units multiply-adds) is below this run BLAS on
# one thread (backends/cpu/blas.py): a second thread saves at most ~25% on such GEMMs when the
# machine is idle but costs 5-10x when another process holds a core. MNIST at batch 128: 12.8M.
BLAS_PARALLEL_MIN_MACS = 64_000_000

# How the CPU loop chooses, per network, batch size and machine, between CSR and BLAS for the first layer
# and how it uses the cores: one, BLAS's threads, or split parts on fastnn's own threads (backends/cpu/planner.py).
# "timed" times the candidates (a fit on scratch copies of its first steps, evaluate and predict on their first
# batches) and keeps the fastest for the process; "fixed" applies the two rules above, on one part (reproducible
# across processes and machines).
CPU_PLANS = os.environ.get("FASTNN_CPU_PLANS", "timed")
PLAN_MIN_MACS = 1e9  # passes with fewer multiply-adds than this (samples * per-sample) use the fixed rules
PLAN_MIN_STEPS = 8  # ... and so do those of fewer batches
PLAN_TRIAL_SECONDS = 0.015  # each candidate is timed on as many steps as its pace fits in this long
PLAN_TRIAL_MAX_STEPS = 50  # or on this many steps
PLAN_TRIAL_ROUNDS = 2  # round-robin rounds of those trials; each candidate's best round counts
PLAN_THREADS_MIN_MACS = 1_000_000  # plans whose largest BLAS GEMM is smaller run it on one thread, untimed
PLAN_STALE_FACTOR = 2.0  # a plan whose steps take this many times its trial's ...
PLAN_STALE_CALLS = 2  # ... in this many calls in a row (or its square in one) is timed again
PLAN_CHECK_SECONDS = 0.05  # plans using several cores train in calls of about this long, each one checked
PLAN_RECHECK_SECONDS = 2.0  # a plan that has run this long (its steps' seconds) is timed again (a job holding a
# core during its trials may be done); twice as long each time the same plan wins again, up to:
PLAN_RECHECK_MAX_SECONDS = 64.0
PLAN_LOST_BY = 1.5  # timing again skips candidates that took this many times as long as another on as many cores

# Options for every CPU kernel. error_model="numpy" lets divisions vectorise (1.8x); the one
# fast-math flag, "contract", lets a*b + c become one fused multiply-add (one rounding instead
# of two; the sparse first layer runs ~15% faster) while NaN and inf keep their IEEE meaning.
NJIT_OPTIONS = dict(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})

# How many processes compile the CPU kernels on a cold start (backends/cpu/compiling.py): None
# means one per core this process may use, at most 4. 1 compiles everything in this process, and
# only what each model needs (no helper compiling the other kernels in the background).
COMPILE_PROCESSES = None

# How often (seconds) the compiled training loop returns so a progress bar can redraw.
PROGRESS_INTERVAL = 0.1


def floatx():
    """The default float type name of new models ("float32" unless set)."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type of new models, as keras.config.set_floatx."""
    global _FLOATX
    _FLOATX = canonical_dtype(value, "value")


def cores():
    """How many CPU cores this process may run on (its affinity, where the OS reports one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def canonical_dtype(value, argname="dtype"):
    """Return "float32" or "float64" for a dtype-like value, else raise a clear error."""
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"Expected {argname} to be one of {_ALLOWED}. Received: {argname}={value!r}") from None
    if name not in _ALLOWED:
        raise ValueError(f"Expected {argname} to be one of {_ALLOWED}. Received: {argname}={value!r}")
    return name
