"""Every CUDA kernel against its CPU twin, on small shapes that do not divide the tile size.

Runs on a real GPU when there is one, else under Numba's CUDA simulator (tests/cuda_support.py).
Buffers hold more rows than the launch's `rows`, and the tests check the extra rows stay untouched.
"""

import numpy as np
import pytest
from cuda_support import SIMULATOR_WARNINGS, require_device

from fastnn.backends import codes
from fastnn.backends.cpu import activations as cpu_act
from fastnn.backends.cpu import dense as cpu_dense
from fastnn.backends.cpu import penalty as cpu_penalty
from fastnn.backends.cpu import losses as cpu_losses
from fastnn.backends.cpu import metrics as cpu_metrics
from fastnn.backends.cpu import optimizers as cpu_opt

require_device()
try:
    from fastnn.backends.cuda import activations, dense, device, loop, losses, optimizers, random, status
except RuntimeError as exc:  # numba-cuda not installed
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = SIMULATOR_WARNINGS

ACTS = (codes.LINEAR, codes.SIGMOID, codes.RELU, codes.TANH, codes.SOFTMAX, codes.LEAKY_RELU, codes.ELU,
        codes.SOFTPLUS, codes.SELU, codes.RELU6, codes.HARD_SIGMOID, codes.EXPONENTIAL,
        codes.GELU, codes.SWISH, codes.MISH)  # (the last three's backward reads z, not y: the twins agree on either)
ROWS = (1, 3, 17)
DTYPES = (np.float32, np.float64)
EXTRA = 2  # buffer rows past `rows` that no kernel may touch


def tol(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def rand(rng, shape, dtype, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(dtype)


def cpu_dense_forward(x, w, b, has_bias, act, out):
    """The CPU loop's dense step: x w + b, then the activation in place."""
    cpu_dense.dense_forward.py(np.ascontiguousarray(x), w, b, has_bias, out)
    cpu_act.activation_forward.py(act, out)


def dev(a):
    return device.to_device(a)


def no_order():
    return device.dummy("int64")


def new_status(n_metrics=0):
    return dev(np.zeros(status.size(codes.S_METRICS + n_metrics)))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# --- activations -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_activation_forward_matches_cpu(rng, act, dtype):
    for rows in ROWS:
        z = rand(rng, (rows + EXTRA, 5), dtype, 3.0)
        want = z.copy()
        cpu_act.activation_forward.py(act, want[:rows])
        out = dev(z)
        activations.activation_forward(act, out, rows, out)
        np.testing.assert_allclose(out.copy_to_host(), want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_activation_backward_matches_cpu(rng, act, dtype):
    for rows in ROWS:
        y = rand(rng, (rows + EXTRA, 4), dtype)
        cpu_act.activation_forward.py(act, y)
        g = rand(rng, y.shape, dtype)
        want = g.copy()
        cpu_act.activation_backward.py(act, y[:rows], want[:rows])
        got = dev(g)
        activations.activation_backward(act, dev(y), got, rows)
        np.testing.assert_allclose(got.copy_to_host(), want, **tol(dtype))


def test_softmax_rows_matches_cpu(rng):
    z = rand(rng, (17 + EXTRA, 3), np.float32, 20.0)
    want = z.copy()
    cpu_act.activation_forward.py(codes.SOFTMAX, want[:17])
    got = dev(z)
    activations.softmax_rows(got, 17)
    np.testing.assert_allclose(got.copy_to_host(), want, **tol(np.float32))


@pytest.mark.parametrize("act", (codes.RELU, codes.SOFTMAX, codes.ELU))
def test_elementwise_backward_applies_mask_then_derivative_below(rng, act):
    rows = 17
    g, y = rand(rng, (rows + EXTRA, 6), np.float32), rand(rng, (rows + EXTRA, 6), np.float32)
    cpu_act.activation_forward.py(act, y)
    mask = rng.choice(np.array([0.0, 2.0], np.float32), size=g.shape)
    want = np.zeros_like(g)
    want[:rows] = g[:rows] * mask[:rows]
    cpu_act.activation_backward.py(act, y[:rows], want[:rows])
    out = dev(np.zeros_like(g))
    activations.elementwise_backward(dev(g), dev(mask), True, act, dev(y), out, rows)
    np.testing.assert_allclose(out.copy_to_host(), want, **tol(np.float32))


# --- dense layers ---------------------------------------------------------------------

GEMM_SHAPES = ((1, 3, 2), (3, 5, 7), (17, 6, 5), (33, 9, 3))  # (rows, inputs, units)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,n_in,n_out", GEMM_SHAPES)
def test_dense_forward_gathers_rows_and_matches_cpu(rng, rows, n_in, n_out, dtype):
    x = rand(rng, (rows + 5, n_in), dtype)
    w, b = rand(rng, (n_in, n_out), dtype), rand(rng, n_out, dtype)
    order, start = rng.permutation(rows + 5), 2
    act = codes.SOFTMAX if n_out == 7 else codes.RELU
    want = np.full((rows + EXTRA, n_out), -9.0, dtype)
    cpu_dense_forward(x[order[start:start + rows]], w, b, True, act, want[:rows])
    out = dev(np.full((rows + EXTRA, n_out), -9.0, dtype))
    dense.dense_forward(dev(x), dev(w), dev(b), True, act, out, rows, dev(order), start, True)
    np.testing.assert_allclose(out.copy_to_host(), want, **tol(dtype))


def test_dense_forward_without_bias_ignores_the_bias_argument(rng):
    x, w = rand(rng, (5, 4), np.float32), rand(rng, (4, 3), np.float32)
    out = dev(np.zeros((5, 3), np.float32))
    dense.dense_forward(dev(x), dev(w), dev(np.full(3, 100.0, np.float32)), False, codes.TANH, out, 5,
                        no_order(), 0, False)
    np.testing.assert_allclose(out.copy_to_host(), np.tanh(x @ w), **tol(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,n_in,n_out", GEMM_SHAPES)
def test_dense_backward_matches_cpu(rng, rows, n_in, n_out, dtype):
    x, w = rand(rng, (rows, n_in), dtype), rand(rng, (n_in, n_out), dtype)
    y = np.empty((rows, n_out), dtype)
    cpu_dense_forward(x, w, np.zeros(n_out, dtype), False, codes.SIGMOID, y)
    g = rand(rng, (rows, n_out), dtype)
    want = [np.empty((n_in, n_out), dtype), np.empty(n_out, dtype), np.empty((rows, n_in), dtype)]
    g_cpu = g.copy()
    cpu_act.activation_backward.py(codes.SIGMOID, y, g_cpu)
    cpu_dense.dense_backward.py(x, w, g_cpu, *want[:2], True, want[2], True)
    got = [dev(np.zeros_like(a)) for a in want]
    g_dev = dev(g)
    dense.dense_backward(dev(x), dev(w), dev(y), codes.SIGMOID, g_dev, *got[:2], True, got[2], True)
    np.testing.assert_allclose(g_dev.copy_to_host(), g_cpu, **tol(dtype))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.copy_to_host(), b, **tol(dtype))


@pytest.mark.parametrize("rows,n_in,n_out", GEMM_SHAPES[1:])
def test_weight_grads_gather_regularise_and_report_the_penalty(rng, rows, n_in, n_out):
    dtype = np.float64
    x, g = rand(rng, (rows + 4, n_in), dtype), rand(rng, (rows + EXTRA, n_out), dtype)
    params = rand(rng, n_in * n_out + n_out, dtype)
    order, start = rng.permutation(rows + 4), 3
    l1, l2 = 0.01, 0.02
    # CPU twin: dense_backward on the gathered batch, then the loop's regularize()
    grads = np.empty_like(params)
    w = params[:n_in * n_out].reshape(n_in, n_out)
    xs = x[order[start:start + rows]]
    gb = g[:rows].copy()
    cpu_dense.dense_backward.py(xs, w, gb, grads[:n_in * n_out].reshape(n_in, n_out),
                             grads[n_in * n_out:], True, np.empty_like(xs), False)
    plan = np.array([[codes.DENSE, n_in, n_out, codes.LINEAR, 0, n_in * n_out, 0]])
    penalty = cpu_penalty.regularize.py(plan, np.array([[l1, l2, 0.0]]), params, grads, True, 1.0, 0, params.size)
    stat = new_status()
    dw, db = dev(np.zeros((n_in, n_out), dtype)), dev(np.zeros(n_out, dtype))
    dense.weight_grads(dev(x), dev(g), dw, db, True, rows, dev(order), start, True, dev(w), l1, l2, stat, 1)
    np.testing.assert_allclose(dw.copy_to_host().ravel(), grads[:n_in * n_out], **tol(dtype))
    np.testing.assert_allclose(db.copy_to_host(), grads[n_in * n_out:], **tol(dtype))
    np.testing.assert_allclose(stat.copy_to_host()[status.STEP_PEN + 1], penalty, rtol=1e-12)
    assert not stat.copy_to_host()[status.STEP_BAD:status.STEP_BAD + 2].any()


@pytest.mark.parametrize("bad_row", (0, 4))
def test_weight_grads_flag_a_gradient_whose_square_overflows(rng, bad_row):
    """As the CPU's squares_finite: a kernel or bias gradient with a non-finite square stops the step."""
    x, g = rand(rng, (5, 3), np.float32), rand(rng, (5, 2), np.float32)
    g[bad_row, 1] = 3e19  # finite, but its square overflows float32
    stat = new_status()
    dense.weight_grads(dev(x), dev(g), dev(np.zeros((3, 2), np.float32)), dev(np.zeros(2, np.float32)), True, 5,
                       no_order(), 0, False, dev(np.zeros((3, 2), np.float32)), 0.0, 0.0, stat, 0)
    flags = stat.copy_to_host()[status.STEP_BAD:status.STEP_BAD + 2]
    np.testing.assert_array_equal(flags, [1.0, 0.0])


@pytest.mark.parametrize("act", (codes.RELU, codes.SOFTMAX))
def test_input_grad_applies_the_derivative_of_the_step_below(rng, act):
    rows, n_in, n_out = 17, 6, 5
    g, w = rand(rng, (rows + EXTRA, n_out), np.float32), rand(rng, (n_in, n_out), np.float32)
    y = rand(rng, (rows + EXTRA, n_in), np.float32)
    cpu_act.activation_forward.py(act, y)
    want = np.zeros((rows + EXTRA, n_in), np.float32)
    want[:rows] = g[:rows] @ w.T
    cpu_act.activation_backward.py(act, y[:rows], want[:rows])
    dx = dev(np.zeros_like(want))
    dense.input_grad(dev(g), dev(w), dx, rows, act, dev(y))
    np.testing.assert_allclose(dx.copy_to_host(), want, **tol(np.float32))


def test_penalty_matches_cpu_penalty_of(rng):
    params = rand(rng, 33, np.float32)
    plan = np.array([[codes.DENSE, 3, 11, codes.LINEAR, 0, -1, 0]])
    want = cpu_penalty.regularize.py(plan, np.array([[0.3, 0.7, 0.0]]), params, params, False, 1.0, 0, params.size)
    stat = new_status()
    dense.penalty(dev(params), 0.3, 0.7, stat, status.STEP_PEN)
    np.testing.assert_allclose(stat.copy_to_host()[status.STEP_PEN], want, rtol=1e-6)  # the CPU sums in float32


# --- losses and metrics -----------------------------------------------------------------

LOSS_CASES = [  # (loss, mode, activation of the last step, metrics)
    (codes.MSE, cpu_losses.PROBS, codes.SIGMOID, (codes.METRIC_MSE, codes.METRIC_MAE)),
    (codes.MAE, cpu_losses.PROBS, codes.LINEAR, (codes.METRIC_MAE,)),
    (codes.HINGE, cpu_losses.PROBS, codes.TANH, ()),
    (codes.MSE, cpu_losses.PROBS, codes.SOFTMAX, (codes.ACC_CATEGORICAL,)),
    (codes.BCE, cpu_losses.PROBS, codes.LINEAR, (codes.ACC_BINARY,)),
    (codes.BCE, cpu_losses.LOGITS, codes.LINEAR, (codes.ACC_BINARY,)),
    (codes.BCE, cpu_losses.FUSED, codes.LINEAR, (codes.ACC_BINARY, codes.METRIC_MSE)),
    (codes.CCE, cpu_losses.PROBS, codes.LINEAR, (codes.ACC_CATEGORICAL,)),
    (codes.CCE, cpu_losses.LOGITS, codes.LINEAR, (codes.ACC_CATEGORICAL,)),
    (codes.CCE, cpu_losses.FUSED, codes.LINEAR, (codes.ACC_CATEGORICAL,)),
    (codes.SCCE, cpu_losses.PROBS, codes.LINEAR, (codes.ACC_SPARSE,)),
    (codes.SCCE, cpu_losses.LOGITS, codes.LINEAR, (codes.ACC_SPARSE,)),
    (codes.SCCE, cpu_losses.FUSED, codes.LINEAR, (codes.ACC_SPARSE, codes.ACC_SPARSE)),
    (codes.HUBER, cpu_losses.PROBS, codes.LINEAR, (codes.METRIC_MAE,)),
    (codes.LOG_COSH, cpu_losses.PROBS, codes.TANH, ()),
    (codes.POISSON, cpu_losses.PROBS, codes.SOFTPLUS, ()),
    (codes.MAPE, cpu_losses.PROBS, codes.LINEAR, ()),
    (codes.MSLE, cpu_losses.PROBS, codes.RELU, ()),
    (codes.SQUARED_HINGE, cpu_losses.PROBS, codes.TANH, ()),
    (codes.CATEGORICAL_HINGE, cpu_losses.PROBS, codes.LINEAR, (codes.ACC_CATEGORICAL,)),
    (codes.KLD, cpu_losses.PROBS, codes.SOFTMAX, ()),
    (codes.BCE, cpu_losses.FUSED, codes.LINEAR, (codes.PRECISION, (codes.RECALL, 300_000_000), (codes.AUC, 7),
                                                 (codes.ACC_BINARY, 700_000_000))),
    (codes.CCE, cpu_losses.FUSED, codes.LINEAR, ((codes.TOP_K, 2), codes.PRECISION)),
    (codes.SCCE, cpu_losses.FUSED, codes.LINEAR, ((codes.TOP_K_SPARSE, 2),)),
]


def metric_table(metrics):
    """The compiled metrics table (code, first slot, argument) for codes or (code, argument) pairs; the stats
    size (as fastnn.metrics.table lays it out: two slots for precision and recall, 2 (t + 1) for AUC;
    thresholds in 1e-9 units)."""
    rows, slot = [], codes.S_METRICS
    for metric in metrics:
        code, arg = metric if isinstance(metric, tuple) else \
            (metric, 500_000_000 if metric in (codes.ACC_BINARY, codes.PRECISION, codes.RECALL) else 0)  # (0.5)
        rows.append((code, slot, arg))
        slot += 2 * (arg + 1) if code == codes.AUC else 2 if code in (codes.PRECISION, codes.RECALL) else 1
    return np.array(rows, np.int64).reshape(-1, 3), slot


def loss_inputs(rng, loss, mode, act, n, units, dtype):
    """Network outputs and targets of the right kind for a loss and mode."""
    out = rand(rng, (n, units), dtype, 2.0)
    if mode == cpu_losses.PROBS and loss in (codes.BCE, codes.CCE, codes.SCCE):
        out = rng.uniform(0.0, 1.0, (n, units)).astype(dtype)
        out[0, 0] = 1e-9  # a clipped probability
    cpu_act.activation_forward.py(act, out)
    if loss == codes.SCCE:
        y = rng.integers(0, units, (n, 1)).astype(dtype)
    elif loss == codes.CCE:
        y = np.eye(units, dtype=dtype)[rng.integers(0, units, n)]
    elif loss in (codes.HINGE, codes.SQUARED_HINGE):
        y = rng.choice(np.array([-1.0, 1.0], dtype), (n, units))
    elif loss == codes.CATEGORICAL_HINGE:
        y = np.eye(units, dtype=dtype)[rng.integers(0, units, n)]
    elif loss in (codes.POISSON, codes.KLD):
        y = rng.uniform(0.0, 1.0, (n, units)).astype(dtype)
    elif loss == codes.BCE:
        y = rng.integers(0, 2, (n, units)).astype(dtype)
    else:
        y = rand(rng, (n, units), dtype)
    return out, y


@pytest.mark.parametrize("loss,mode,act,metrics,dtype",
                         [case + (dtype,) for case in LOSS_CASES for dtype in DTYPES
                          if dtype == np.float32 or case[0] <= codes.SCCE])  # (the simulator is slow)
def test_loss_gradient_and_metrics_match_cpu(rng, loss, mode, act, metrics, dtype):
    rows, units, n = 17, 3, 23
    out, y_all = loss_inputs(rng, loss, mode, act, n, units, dtype)
    order, start = rng.permutation(n), 4
    y = y_all[order[start:start + rows]]
    want_out, want_grad = out[:rows].copy(), np.zeros((rows, units), dtype)
    want_loss = cpu_losses.loss_forward_backward.py(loss, mode, want_out, y, want_grad, True, 0.7)  # (Huber's delta)
    cpu_act.activation_backward.py(act, out[:rows], want_grad)
    table, n_stats = metric_table(metrics)
    want_stats = np.zeros(n_stats)
    cpu_metrics.metrics_into.py(table, want_out, y, want_stats)
    got_out, got_grad = dev(out[:rows + EXTRA]), dev(np.zeros((rows + EXTRA, units), dtype))
    stat = new_status(n_stats - codes.S_METRICS)
    losses.loss_forward_backward(loss, mode, got_out, dev(y_all), got_grad, True, 0.7, rows, dev(order), start, True,
                                 act, dev(table if len(table) else np.zeros((1, 3), np.int64)), len(metrics), stat,
                                 status.STEP_LOSS + 1)
    host, rtol = stat.copy_to_host(), 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(host[status.STEP_LOSS + 1], want_loss, rtol=rtol)
    np.testing.assert_allclose(host[status.STATS + codes.S_METRICS:], want_stats[codes.S_METRICS:], rtol=rtol)
    assert host[status.STATS + codes.S_COUNT] == rows
    np.testing.assert_allclose(got_grad.copy_to_host()[:rows], want_grad, **tol(dtype))
    assert not got_grad.copy_to_host()[rows:].any()
    np.testing.assert_allclose(got_out.copy_to_host(), np.concatenate([want_out, out[rows:rows + EXTRA]]),
                               **tol(dtype))


def test_loss_kernel_spreads_rows_over_blocks_and_skips_after_a_stop(rng):
    rows = 4 * device.THREADS * device.MAX_BLOCKS + 3  # every block loops, the last one partly
    out, y = rand(rng, (rows, 2), np.float64), rand(rng, (rows, 2), np.float64)
    stat = new_status()
    losses.loss_forward_backward(codes.MSE, cpu_losses.PROBS, dev(out), dev(y), dev(out), False, 0.0, rows, no_order(),
                                 0, False, codes.LINEAR, dev(np.zeros((1, 3), np.int64)), 0, stat,
                                 status.STATS + codes.S_LOSS)
    want = cpu_losses.loss_forward_backward.py(codes.MSE, cpu_losses.PROBS, out, y, out.copy(), False, 0.0)
    np.testing.assert_allclose(stat.copy_to_host()[status.STATS + codes.S_LOSS], want, rtol=1e-12)
    stopped = np.zeros(status.size(codes.S_METRICS))
    stopped[status.STOPPED] = 1.0
    stat = dev(stopped)
    losses.loss_forward_backward(codes.MSE, cpu_losses.PROBS, dev(out), dev(y), dev(out), False, 0.0, rows, no_order(),
                                 0, False, codes.LINEAR, dev(np.zeros((1, 3), np.int64)), 0, stat,
                                 status.STATS + codes.S_LOSS)
    np.testing.assert_array_equal(stat.copy_to_host(), stopped)


# --- optimizers -------------------------------------------------------------------------

OPTIMIZERS = [  # (code, hyper, initial slot value)
    (codes.SGD, [0.1, 0.0, 0.0], 0.0),
    (codes.SGD, [0.1, 0.9, 1.0], 0.0),
    (codes.ADAM, [0.01, 0.9, 0.999, 1e-7], 0.0),
    (codes.RMSPROP, [0.01, 0.9, 0.5, 1e-7], 0.0),
    (codes.ADAGRAD, [0.01, 1e-7], 0.1),
]


RANGES = np.array([[0, 20], [24, 33]], np.int64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code,hyper,initial", OPTIMIZERS)
def test_optimizer_update_matches_cpu_and_flushes_tiny_state(rng, code, hyper, initial, dtype):
    """Over two trainable ranges with a frozen gap (parameters 20..23), which neither backend touches."""
    n = 33
    w, slots = rand(rng, n, dtype), np.full((2, n), initial, dtype)
    if initial == 0.0:
        slots[:, :3] = 1e-33  # decays below FLUSH_BELOW: both backends flush it to zero
    want_w, want_slots = w.copy(), slots.copy()
    got_w, got_slots, hyper_d, stat = dev(w), dev(slots), dev(np.array(hyper)), new_status()
    for step in range(2):
        g = rand(rng, n, dtype)
        g[:3] = 0.0
        cpu_opt.optimizer_update.py(code, want_w, g, want_slots, np.array(hyper), float(step), RANGES)
        optimizers.optimizer_update(code, got_w, dev(g), got_slots, hyper_d, step, dev(RANGES), stat, step % 2, 1)
    np.testing.assert_allclose(got_w.copy_to_host(), want_w, **tol(dtype))
    np.testing.assert_allclose(got_slots.copy_to_host(), want_slots, **tol(dtype))
    if initial == 0.0 and hyper[1] != 0.0:
        assert not got_slots.copy_to_host()[0, :3].any()
    np.testing.assert_array_equal(want_w[20:24], w[20:24])
    np.testing.assert_array_equal(want_slots[:, 20:24], slots[:, 20:24])
    assert stat.copy_to_host()[status.TAKEN] == 2


@pytest.mark.parametrize("slot,value", [(status.STEP_LOSS + 1, np.inf), (status.STEP_BAD + 1, 1.0)])
def test_optimizer_skips_the_update_and_stops_on_a_non_finite_loss_or_gradient(rng, slot, value):
    w = rand(rng, 9, np.float32)
    host = np.zeros(status.size(codes.S_METRICS))
    host[status.STEP_LOSS + 1] = 8.0
    host[slot] = value
    stat, got = dev(host), dev(w)
    optimizers.optimizer_update(codes.SGD, got, dev(np.ones(9, np.float32)), dev(np.zeros((1, 9), np.float32)),
                                dev(np.array([0.1, 0.0, 0.0])), 0, dev(np.array([[0, 9]])), stat, 1, 4)
    after = stat.copy_to_host()
    np.testing.assert_array_equal(got.copy_to_host(), w)
    assert after[status.STOPPED] == 1.0 and after[status.TAKEN] == 0.0
    assert after[status.STATS + codes.S_LOSS] == host[status.STEP_LOSS + 1]  # the CPU also adds the bad step


def test_a_finite_step_books_its_loss_and_clears_the_next_slot():
    host = np.zeros(status.size(codes.S_METRICS))
    host[[status.STEP_LOSS, status.STEP_PEN]] = 6.0, 0.5
    host[[status.STEP_LOSS + 1, status.STEP_PEN + 1, status.STEP_BAD + 1]] = 7.0, 8.0, 1.0  # from two steps ago
    stat = dev(host)
    optimizers.optimizer_update(codes.SGD, dev(np.zeros(3)), dev(np.zeros(3)), dev(np.zeros((1, 3))),
                                dev(np.array([0.1, 0.0, 0.0])), 0, dev(np.array([[0, 3]])), stat, 0, 4)
    after = stat.copy_to_host()
    assert after[status.STATS + codes.S_LOSS] == 6.0 + 0.5 * 4  # (loss sum / rows + penalty) * rows
    assert after[status.TAKEN] == 1.0 and after[status.STOPPED] == 0.0
    assert not after[[status.STEP_LOSS + 1, status.STEP_PEN + 1, status.STEP_BAD + 1]].any()


# --- random and batches -----------------------------------------------------------------

def test_dropout_masks_are_inverted_bernoulli_and_fresh_each_launch(rng):
    rows, cols, rate = 17, 5, 0.4
    x = rand(rng, (rows + EXTRA, cols), np.float32)
    states = random.make_states(rows * cols)
    masks = []
    for _ in range(2):
        mask, out = dev(np.full(x.shape, -1.0, np.float32)), dev(np.full(x.shape, -1.0, np.float32))
        random.dropout_forward(dev(x), mask, out, rate, states, rows)
        m, o = mask.copy_to_host(), out.copy_to_host()
        np.testing.assert_allclose(np.unique(m[:rows]), [0.0, np.float32(1 / (1 - rate))])
        np.testing.assert_allclose(o[:rows], x[:rows] * m[:rows], rtol=1e-6)
        assert (m[rows:] == -1).all() and (o[rows:] == -1).all()
        masks.append(m[:rows])
    keep = np.mean([(m > 0).mean() for m in masks])
    assert 0.4 < keep < 0.8  # 1 - rate = 0.6 on 170 draws
    assert (masks[0] != masks[1]).any()


def test_gather_and_copy_rows(rng):
    x, order = rand(rng, (9, 3), np.float64), rng.permutation(9)
    xb = dev(np.zeros((5 + EXTRA, 3)))
    device.flat(loop._gather_rows, 15, dev(x), dev(order), 2, True, xb, 5)
    np.testing.assert_array_equal(xb.copy_to_host()[:5], x[order[2:7]])
    assert not xb.copy_to_host()[5:].any()
    result = dev(np.zeros((9, 3)))
    device.flat(loop._copy_rows, 15, xb, result, 4, 5)
    np.testing.assert_array_equal(result.copy_to_host()[4:], x[order[2:7]])
    assert not result.copy_to_host()[:4].any()


def test_launches_are_counted():
    before = device.launches
    device.fill(dev(np.ones(5)), 0.0)
    assert device.launches == before + 1
