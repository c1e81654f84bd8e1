"""Plans for the CPU loop: how the first Dense layer reads its inputs, and how the cores are used (one;
BLAS's threads; or split: one part of the work per core, on fastnn's own threads, see Plan).

What is fastest depends on the network, the batch size and the machine as it is (another process
holding a core makes a multithreaded BLAS several times slower), so with config.CPU_PLANS "timed"
the candidates are timed and the fastest is remembered for the process, keyed by the network's
shape, the batch size and the float type (as FFTW's planner and cuDNN's benchmark mode do):

- fit: before the first epoch's steps, each candidate runs a few steps on scratch copies of the
  weights and optimizer state (with the random generator restored), so the fit itself runs on one
  plan from its first step and a seeded run repeats bit for bit on that plan (a split plan's parts
  add their gradients in a fixed order; fits that draw random numbers, with Dropout, are not split);
- evaluate and predict: each candidate runs a few of the pass's first batches (their loss and metric
  sums dropped; predictions are written again by the pass), then the pass runs on the fastest.

Work too small to be worth timing, and "fixed", use the rules in config (SPARSE_INPUT_MAX_BATCH,
BLAS_PARALLEL_MIN_MACS). A plan whose steps become much slower than its trial was is timed again (see
observed; a fit on several cores checks every config.PLAN_CHECK_SECONDS), and so is one that has run
config.PLAN_RECHECK_SECONDS of steps: a trial run while another job held a core keeps to one core, and would
never learn that the core is free again. Each time the same plan wins again, the next check comes twice as
late (up to PLAN_RECHECK_MAX_SECONDS): on a machine that stays as it is, trials cost a shrinking share of the
work; on one whose cores come and go (this project's VM: for seconds at a time), a fit follows within seconds.
(Counted in the plan's own steps, not wall time: a process that trains now and then does not time on every
call.) Timing again skips the candidates that lost by far to another on as many cores (config.PLAN_LOST_BY).
Plans change speed only: results differ by float rounding at most.
"""

import contextlib
import time
from dataclasses import dataclass

import numpy as np
from numba import _helperlib

from ... import config
from ..codes import DENSE, P_IN, P_KIND, P_OUT
from . import blas


@dataclass(frozen=True)
class Plan:
    """csr: the first Dense layer reads CSR-indexed inputs (fastnn's kernel) instead of BLAS rows;
    threads: BLAS threads while the loop runs (None: the library's own setting);
    parts: threads of fastnn's own, each running the loop on a share of the work (one BLAS thread each):
    a share of every training batch's samples (see loop.py), or of a pass's batches."""

    csr: bool
    threads: int | None = 1
    parts: int = 1


_remembered = {}  # key -> (Plan, its seconds per step when chosen), for this process
_strikes = {}  # key -> how many calls in a row its plan has been slow (see observed)
_ran = {}  # key -> seconds of steps its plan has run since trials chose it
_lost = {}  # key -> the plans that lost by far to another on as many cores: forget() clears it, _drop() keeps it
_recheck = {}  # key -> seconds of steps after which its plan is timed again (as _lost: kept by _drop())


def key(task, plan, batch_size, dtype, sparse):
    """What a remembered plan is for: the task kind, the network's steps and widths, batch size, float type."""
    return task, plan[:, [P_KIND, P_IN, P_OUT]].tobytes(), int(batch_size), np.dtype(dtype).str, bool(sparse)


def macs_per_sample(plan):
    """Multiply-adds of one sample's forward pass through the network's Dense steps."""
    dense = plan[:, P_KIND] == DENSE
    return int((plan[dense, P_IN] * plan[dense, P_OUT]).sum())


def largest_gemm(plan, batch_size, csr):
    """Multiply-adds of the largest GEMM BLAS gets per batch (the first layer's is fastnn's own under csr)."""
    gemms = plan[:, P_KIND] == DENSE
    if csr and len(plan):
        gemms[0] = False
    return batch_size * int((plan[gemms, P_IN] * plan[gemms, P_OUT]).max(initial=0))


def fixed(plan, batch_size, sparse, training):
    """config's rules: CSR for mostly-zero inputs (in training, below SPARSE_INPUT_MAX_BATCH), and one
    BLAS thread unless the largest GEMM BLAS gets is large."""
    csr = sparse and (not training or batch_size < config.SPARSE_INPUT_MAX_BATCH)
    return Plan(csr, blas.threads_for(largest_gemm(plan, batch_size, csr)))


def candidates(plan, batch_size, sparse, split):
    """The plans worth timing: CSR or BLAS rows for mostly-zero inputs; each on one core, and on every core:
    one part per core when the work can be split (`split`), else BLAS's own threads (unless the GEMMs are too
    small for a second thread to matter: config.PLAN_THREADS_MIN_MACS).

    Split plans beat BLAS's threads wherever both were measured (every row of BENCHMARKS.md), so those are not
    timed beside them: OpenBLAS's threads spin for about 0.1 s after their work, and would slow split plans
    timed or run next."""
    cores = config.cores() if blas.controllable() else 1  # (parts need BLAS held to one thread each)
    found = []
    for csr in (True, False) if sparse else (False,):
        found.append(Plan(csr, 1))
        if cores > 1 and split:
            found.append(Plan(csr, 1, cores))
        elif cores > 1 and largest_gemm(plan, batch_size, csr) >= config.PLAN_THREADS_MIN_MACS:
            found.append(Plan(csr, None))
    return found


def timed(plan, samples, batch_size):
    """True when plans are timed (config.CPU_PLANS) and the work is large enough to be worth it."""
    return (config.CPU_PLANS == "timed" and samples * macs_per_sample(plan) >= config.PLAN_MIN_MACS
            and -(-samples // batch_size) >= config.PLAN_MIN_STEPS)


def chosen(k, options, trial):
    """The remembered plan for k, else the fastest option by trial(plan) -> seconds per step (then remembered):
    the best of config.PLAN_TRIAL_ROUNDS round-robin trials each, so a moment's noise does not decide."""
    again = None
    if k in _remembered and _ran.get(k, 0.0) > _recheck.get(k, config.PLAN_RECHECK_SECONDS):
        again = _remembered[k][0]
        _drop(k)
    if k not in _remembered and len(options) == 1:
        _remembered[k] = options[0], np.inf  # nothing to choose: no trial
    if k not in _remembered:
        best = {}
        for _ in range(config.PLAN_TRIAL_ROUNDS):
            for plan in options:
                if plan not in _lost.get(k, ()):
                    best[plan] = min(best.get(plan, np.inf), trial(plan))
        plan = min(best, key=best.get)
        _remembered[k] = plan, best[plan]
        _lost[k] = _lost.get(k, set()) | _far_behind(best)
        if again is not None:  # the same winner: twice as long to the next time (see PLAN_RECHECK_SECONDS)
            _recheck[k] = (min(2 * _recheck.get(k, config.PLAN_RECHECK_SECONDS), config.PLAN_RECHECK_MAX_SECONDS)
                           if plan == again else config.PLAN_RECHECK_SECONDS)
    return _remembered[k][0]


def _far_behind(paces):
    """The plans of one trial (paces: plan -> seconds per step) that took config.PLAN_LOST_BY times as long as
    another on as many cores: they are not timed again. How plans compare on the same cores changes little with
    the machine; what its cores are free to do changes, so every number of cores is."""
    def cores(plan):
        return plan.threads, plan.parts
    fastest = {}
    for plan, pace in paces.items():
        fastest[cores(plan)] = min(fastest.get(cores(plan), np.inf), pace)
    return {plan for plan, pace in paces.items() if pace >= config.PLAN_LOST_BY * fastest[cores(plan)]}


def _drop(k):
    """Forget k's plan: the next call times the candidates again."""
    for table in (_remembered, _strikes, _ran):
        table.pop(k, None)


def observed(k, seconds, steps, runs=True):
    """Note that k's plan ran `steps` steps in `seconds` (chosen() times the candidates again once such seconds
    add up to config.PLAN_RECHECK_SECONDS). Forget the plan when steps took config.PLAN_STALE_FACTOR times as
    long as its trial did in PLAN_STALE_CALLS calls in a row (when `runs` count: a fit's), or its square in one
    (another process took a core, say; a call a little slow may be a moment's noise): the next call times the
    candidates again, on the machine as it is now. (A pass of a few milliseconds is often a little slow after an
    idle spell, and timing its candidates again costs several passes: so passes count only the second rule.)"""
    if k not in _remembered:
        return
    _ran[k] = _ran.get(k, 0.0) + seconds
    slowdown = seconds / steps / _remembered[k][1]
    _strikes[k] = _strikes.get(k, 0) + 1 if runs and slowdown > config.PLAN_STALE_FACTOR else 0
    if _strikes[k] >= config.PLAN_STALE_CALLS or slowdown > config.PLAN_STALE_FACTOR ** 2:
        _drop(k)


def pace(k):
    """Seconds per step of k's remembered plan, as its trial measured them (inf when it was not timed)."""
    return _remembered.get(k, (None, np.inf))[1]


def forget():
    """Drop every remembered plan (the next fit and passes time their candidates again)."""
    for table in (_remembered, _strikes, _ran, _lost, _recheck):
        table.clear()


def trial_steps(run_steps, steps, chunk=1, per_call=None):
    """Seconds per step of run_steps(first, count) over steps 0..steps-1 (at least 3 chunks of them): an untimed
    call of `chunk` steps (the first call's one-off costs), one of `chunk` more to measure the pace, then as many
    steps as that pace fits in config.PLAN_TRIAL_SECONDS (at most PLAN_TRIAL_MAX_STEPS and the steps left), timed
    in one call, or in calls of per_call steps when the caller will make such (each call's own cost then counts as
    much as it will)."""
    run_steps(0, chunk)
    begin = time.perf_counter()
    run_steps(chunk, chunk)
    pace = (time.perf_counter() - begin) / chunk
    count = max(chunk, min(int(config.PLAN_TRIAL_SECONDS / pace), steps - 2 * chunk, config.PLAN_TRIAL_MAX_STEPS))
    done, start = 0, time.perf_counter()
    while done < count:
        step = min(count - done, per_call or count)
        run_steps(2 * chunk + done, step)
        done += step
    return (time.perf_counter() - start) / done


@contextlib.contextmanager
def generator_kept():
    """Restore the compiled code's random generator (dropout masks) after the block: trials draw nothing."""
    ptr = _helperlib.rnd_get_np_state_ptr()
    state = _helperlib.rnd_get_state(ptr)
    try:
        yield
    finally:
        _helperlib.rnd_set_state(ptr, state)
