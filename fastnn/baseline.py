"""The plain-NumPy reference network: the benchmark opponent and a second test oracle.

Written the way a competent NumPy engineer would: vectorised mini-batches, every buffer
allocated once per batch size, in-place ufuncs and `np.dot(..., out=...)`, the parameters in
one flat buffer so each optimizer step is a handful of whole-array operations, and softmax
(or sigmoid) fused with its cross-entropy. Definitions follow Keras 3, as fastnn's do; it
shares no code with fastnn's kernels, so the two check each other.
"""

from dataclasses import dataclass

import numpy as np
from scipy import special

LEAKY_SLOPE = 0.2  # Keras 3 leaky_relu negative_slope
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
EPSILON = 1e-7  # Keras's probability clip


# --- activations: forward in place on z, backward through the output y ------------------
def _softmax(z):
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)


FORWARD = {
    "linear": lambda z: None,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "sigmoid": lambda z: special.expit(z, out=z),
    "tanh": lambda z: np.tanh(z, out=z),
    "softmax": _softmax,
    "leaky_relu": lambda z: np.multiply(z, LEAKY_SLOPE, out=z, where=z < 0),
    "elu": lambda z: np.expm1(z, out=z, where=z < 0),  # alpha = 1
    "softplus": lambda z: np.logaddexp(z, 0, out=z),
    "selu": lambda z: np.copyto(z, SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z))),
    "relu6": lambda z: np.clip(z, 0, 6, out=z),
    "hard_sigmoid": lambda z: np.clip(z / 6 + 0.5, 0, 1, out=z),
    "exponential": lambda z: np.exp(z, out=z),
}


def _sigmoid_grad(y, g, tmp):
    np.subtract(1, y, out=tmp)
    tmp *= y
    g *= tmp


def _tanh_grad(y, g, tmp):
    np.multiply(y, y, out=tmp)
    np.subtract(1, tmp, out=tmp)
    g *= tmp


def _softmax_grad(y, g, tmp):
    # Jacobian-vector product: dz = y * (g - sum(g * y))
    np.multiply(g, y, out=tmp)
    g -= tmp.sum(axis=1, keepdims=True)
    g *= y


def _elu_grad(y, g, tmp):
    # for z < 0: y = e^z - 1, so f'(z) = y + 1
    np.add(y, 1, out=tmp)
    np.multiply(g, tmp, out=g, where=y < 0)


def _softplus_grad(y, g, tmp):
    # f'(z) = sigmoid(z) = 1 - e^-y = -expm1(-y)
    np.negative(y, out=tmp)
    np.expm1(tmp, out=tmp)
    np.negative(tmp, out=tmp)
    g *= tmp


BACKWARD = {
    "linear": lambda y, g, tmp: None,
    "relu": lambda y, g, tmp: np.multiply(g, y > 0, out=g),
    "sigmoid": _sigmoid_grad,
    "tanh": _tanh_grad,
    "softmax": _softmax_grad,
    "leaky_relu": lambda y, g, tmp: np.multiply(g, LEAKY_SLOPE, out=g, where=y <= 0),
    "elu": _elu_grad,
    "softplus": _softplus_grad,
    # selu for z <= 0: y = scale alpha (e^z - 1), so f'(z) = y + scale alpha
    "selu": lambda y, g, tmp: np.multiply(g, np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA), out=g),
    "relu6": lambda y, g, tmp: np.multiply(g, (y > 0) & (y < 6), out=g),
    "hard_sigmoid": lambda y, g, tmp: np.multiply(g, ((y > 0) & (y < 1)) / 6, out=g),
    "exponential": lambda y, g, tmp: np.multiply(g, y, out=g),
}


def dense_forward(x, w, b, activation, out):
    """out = f(x @ w + b), written into out."""
    np.dot(x, w, out=out)
    if b is not None:
        out += b
    FORWARD[activation](out)


def dense_backward(x, w, y, activation, g, dw, db, dx, tmp):
    """From g = dL/dy: g <- dL/dz in place, dw = x^T g, db = column sums of g, dx = g w^T (if dx)."""
    BACKWARD[activation](y, g, tmp)
    np.dot(x.T, g, out=dw)
    if db is not None:
        np.sum(g, axis=0, out=db)
    if dx is not None:
        np.dot(g, w.T, out=dx)


# --- losses: each returns the batch-mean loss and writes grad = d(mean loss)/d(out) -----------
def _mse(p, y, grad):
    np.subtract(p, y, out=grad)
    value = float(np.vdot(grad, grad)) / grad.size
    grad *= 2.0 / grad.size
    return value


def _mae(p, y, grad):
    np.subtract(p, y, out=grad)
    value = float(np.abs(grad).sum()) / grad.size
    np.sign(grad, out=grad)
    grad *= 1.0 / grad.size
    return value


def _hinge(p, y, grad):
    # labels are already in {-1, 1}: margin m = 1 - y p, loss mean(max(m, 0)), gradient -y where m > 0
    np.multiply(y, p, out=grad)
    np.subtract(1, grad, out=grad)
    np.maximum(grad, 0, out=grad)
    value = float(grad.sum()) / grad.size
    np.multiply(y, -1.0 / grad.size, out=grad, where=grad > 0)
    return value


def _bce_probs(p, y, grad):
    q = np.clip(p, EPSILON, 1 - EPSILON)
    value = -float((y * np.log(q) + (1 - y) * np.log1p(-q)).sum()) / p.size
    np.subtract(q, y, out=grad)
    grad /= q * (1 - q) * p.size
    grad[q != p] = 0  # the clip passes no gradient
    return value


def _bce_logits(z, y, grad):
    # max(z, 0) - z y + log(1 + e^-|z|), stable for any z; gradient sigmoid(z) - y
    value = float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum()) / z.size
    special.expit(z, out=grad)
    grad -= y
    grad *= 1.0 / z.size
    return value


def _cce_probs(p, y, grad):
    # Keras: q = clip(p / sum(p)); loss -sum y log q. d/dp_j = -y_j / p_j [j unclipped] + sum_unclipped(y) / s
    s = p.sum(axis=1, keepdims=True)
    q = p / s
    kept = (q >= EPSILON) & (q <= 1 - EPSILON)
    value = -float((y * np.log(np.clip(q, EPSILON, 1 - EPSILON))).sum()) / len(p)
    used = (y * kept).sum(axis=1, keepdims=True)
    grad[...] = 0
    np.divide(-y, p, out=grad, where=kept)
    grad += used / s
    grad *= 1.0 / len(p)
    return value


def softmax_cross_entropy(z, y, grad):
    """Mean softmax cross-entropy of logits z against one-hot/probability rows y; grad = (p sum(y) - y) / batch."""
    np.subtract(z, z.max(axis=1, keepdims=True), out=grad)  # shifted logits
    ysum = y.sum(axis=1)
    picked = np.einsum("ij,ij->i", y, grad)
    np.exp(grad, out=grad)
    s = grad.sum(axis=1, keepdims=True)
    value = float(ysum @ np.log(s[:, 0]) - picked.sum()) / len(z)
    grad /= s
    grad *= ysum[:, None]
    grad -= y
    grad *= 1.0 / len(z)
    return value


def sparse_softmax_cross_entropy(z, labels, grad):
    """Mean softmax cross-entropy of logits z against integer labels; grad = (p - onehot) / batch."""
    rows = np.arange(len(z))
    np.subtract(z, z.max(axis=1, keepdims=True), out=grad)
    picked = grad[rows, labels]
    np.exp(grad, out=grad)
    s = grad.sum(axis=1, keepdims=True)
    value = float(np.log(s).sum() - picked.sum()) / len(z)
    grad /= s
    grad[rows, labels] -= 1
    grad *= 1.0 / len(z)
    return value


def _sparse_cce_probs(p, labels, grad):
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), labels] = 1
    return _cce_probs(p, onehot, grad)


# (loss, from-scores?) -> kernel; "from scores" covers from_logits and a fused last activation
LOSSES = {
    ("mean_squared_error", False): _mse,
    ("mean_absolute_error", False): _mae,
    ("hinge", False): _hinge,
    ("binary_crossentropy", False): _bce_probs,
    ("binary_crossentropy", True): _bce_logits,
    ("categorical_crossentropy", False): _cce_probs,
    ("categorical_crossentropy", True): softmax_cross_entropy,
    ("sparse_categorical_crossentropy", False): _sparse_cce_probs,
    ("sparse_categorical_crossentropy", True): sparse_softmax_cross_entropy,
}
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
FUSES = {"softmax": ("categorical_crossentropy", "sparse_categorical_crossentropy"),
         "sigmoid": ("binary_crossentropy",)}


# --- optimizers: Keras 3's update rules on the flat parameter buffer, through one scratch array ------
class SGD:
    """m = momentum m - lr g; w += m (Nesterov: w += momentum m - lr g); without momentum w -= lr g."""

    def __init__(self, size, dtype, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = float(learning_rate), float(momentum), bool(nesterov)
        self.m = np.zeros(size, dtype)
        self.tmp = np.empty(size, dtype)

    def update(self, w, g):
        t = np.multiply(g, self.lr, out=self.tmp)
        if not self.momentum:
            w -= t
            return
        self.m *= self.momentum
        self.m -= t
        if not self.nesterov:
            w += self.m
            return
        w -= t
        w += np.multiply(self.m, self.momentum, out=t)


class Adam:
    """m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= alpha m / (sqrt(v) + eps)."""

    def __init__(self, size, dtype, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.lr, self.b1, self.b2, self.eps = float(learning_rate), float(beta_1), float(beta_2), float(epsilon)
        self.m, self.v = np.zeros(size, dtype), np.zeros(size, dtype)
        self.tmp = np.empty(size, dtype)
        self.iterations = 0

    def update(self, w, g):
        self.iterations += 1
        t = self.iterations
        # Keras 3 folds both bias corrections into the step size
        alpha = self.lr * np.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        u, m, v = self.tmp, self.m, self.v
        np.subtract(g, m, out=u)
        u *= 1 - self.b1
        m += u
        np.multiply(g, g, out=u)
        u -= v
        u *= 1 - self.b2
        v += u
        np.sqrt(v, out=u)
        u += self.eps
        np.divide(m, u, out=u)
        u *= alpha
        w -= u


class RMSprop:
    """v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps); w -= inc, or through momentum m = momentum m + inc."""

    def __init__(self, size, dtype, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
        self.lr, self.rho, self.momentum, self.eps = float(learning_rate), float(rho), float(momentum), float(epsilon)
        self.v, self.m = np.zeros(size, dtype), np.zeros(size, dtype)
        self.tmp = np.empty(size, dtype)

    def update(self, w, g):
        u, v = self.tmp, self.v
        v *= self.rho
        np.multiply(g, g, out=u)
        u *= 1 - self.rho
        v += u
        np.add(v, self.eps, out=u)
        np.sqrt(u, out=u)
        np.divide(g, u, out=u)
        u *= self.lr
        if self.momentum:
            self.m *= self.momentum
            self.m += u
            u = self.m
        w -= u


class Adagrad:
    """acc (from initial_accumulator_value) += g^2; w -= lr g / sqrt(acc + eps)."""

    def __init__(self, size, dtype, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        self.lr, self.eps = float(learning_rate), float(epsilon)
        self.acc = np.full(size, initial_accumulator_value, dtype)
        self.tmp = np.empty(size, dtype)

    def update(self, w, g):
        u = np.multiply(g, g, out=self.tmp)
        self.acc += u
        np.add(self.acc, self.eps, out=u)
        np.sqrt(u, out=u)
        np.divide(g, u, out=u)
        u *= self.lr
        w -= u


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(config, size, dtype):
    """An optimizer for `size` parameters from a config dict such as fastnn's get_config()."""
    config = dict(config)
    name = str(config.pop("name")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](size, dtype, **config)


# --- the network ----------------------------------------------------------------------------
@dataclass
class Dense:
    """A dense layer: units, activation name, bias, and kernel regulariser coefficients."""

    units: int
    activation: str = "linear"
    use_bias: bool = True
    l1: float = 0.0
    l2: float = 0.0


@dataclass
class Activation:
    """An activation applied on its own."""

    activation: str


@dataclass
class _Workspace:
    """Buffers for batches of at most `cap` rows: gathered batch, and per layer output, gradient, scratch."""

    xb: np.ndarray
    yb: np.ndarray
    outs: list
    deltas: list
    tmps: list


class NumpyNetwork:
    """A dense network trained with vectorised NumPy: fastnn's maths, none of its code."""

    def __init__(self, n_inputs, layers, loss, optimizer=None, from_logits=False, dtype="float32", seed=0):
        self.dtype = np.dtype(dtype)
        self.layers = list(layers)
        for layer in self.layers:
            if layer.activation not in FORWARD:
                raise ValueError(f"Unknown activation {layer.activation!r}; expected one of {sorted(FORWARD)}")
        self.loss = ALIASES.get(loss, loss)
        last = self.layers[-1].activation
        self.fused = not from_logits and self.loss in FUSES.get(last, ())
        scores = bool(from_logits) or self.fused
        if (self.loss, scores) not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r} (from_logits={from_logits}); expected one of "
                             f"{sorted({name for name, _ in LOSSES} | set(ALIASES))}")
        self._loss = LOSSES[(self.loss, scores)]
        self.widths = [n_inputs]
        for layer in self.layers:
            self.widths.append(layer.units if isinstance(layer, Dense) else self.widths[-1])
        self._lay_out_parameters(np.random.default_rng(seed))
        self.optimizer = make_optimizer(optimizer or {"name": "adam"}, self.params.size, self.dtype)
        self._workspaces = {}

    def _lay_out_parameters(self, rng):
        """Flat params/grads buffers with per-layer kernel and bias views; Glorot-uniform kernels, zero biases."""
        shapes = []
        for k, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                shapes.append((self.widths[k], layer.units))
                if layer.use_bias:
                    shapes.append((layer.units,))
        size = sum(int(np.prod(s)) for s in shapes)
        self.params, self.grads = np.zeros(size, self.dtype), np.zeros(size, self.dtype)
        self.kernels, self.biases, self.dkernels, self.dbiases, self._reg_tmp = [], [], [], [], []
        at = 0
        for k, layer in enumerate(self.layers):
            views = [None, None, None, None]
            if isinstance(layer, Dense):
                shape = (self.widths[k], layer.units)
                n = shape[0] * shape[1]
                views[0], views[2] = self.params[at:at + n].reshape(shape), self.grads[at:at + n].reshape(shape)
                limit = np.sqrt(6.0 / (shape[0] + shape[1]))
                views[0][:] = rng.uniform(-limit, limit, shape)
                at += n
                if layer.use_bias:
                    views[1], views[3] = self.params[at:at + layer.units], self.grads[at:at + layer.units]
                    at += layer.units
            self.kernels.append(views[0])
            self.biases.append(views[1])
            self.dkernels.append(views[2])
            self.dbiases.append(views[3])
            regularised = isinstance(layer, Dense) and (layer.l1 or layer.l2)
            self._reg_tmp.append(np.empty_like(views[0]) if regularised else None)

    @classmethod
    def from_model(cls, model):
        """The same network as a compiled fastnn Sequential: layers, weights, loss and optimizer config.

        The optimizer starts from fresh state, as a newly compiled fastnn model does.
        """
        from . import layers as fastnn_layers
        if not (model.built and model.compiled):
            raise ValueError(f"Model {model.name!r} must be built and compiled before it can be mirrored.")
        steps = []
        for layer in model.layers:
            if isinstance(layer, fastnn_layers.Dense):
                reg = layer.kernel_regularizer
                steps.append(Dense(layer.units, layer.activation.name, layer.use_bias,
                                   reg.l1 if reg else 0.0, reg.l2 if reg else 0.0))
            elif isinstance(layer, fastnn_layers.Activation):
                steps.append(Activation(layer.activation.name))
            elif not isinstance(layer, fastnn_layers.Flatten):
                raise ValueError(f"NumpyNetwork mirrors Dense, Activation and Flatten layers. Received: layer "
                                 f"{layer.name!r} of type {type(layer).__name__}")
        n_inputs = int(np.prod(model.input_shape[1:]))
        net = cls(n_inputs, steps, model.loss.name, model.optimizer.get_config(), model.loss.from_logits, model.dtype)
        net.set_weights(model.get_weights())
        return net

    # --- weights ------------------------------------------------------------------------
    def get_weights(self):
        """Copies of every Dense layer's kernel (inputs, units) and bias, Keras's layout."""
        return [w.copy() for pair in zip(self.kernels, self.biases) for w in pair if w is not None]

    def set_weights(self, weights):
        """Overwrite every parameter from a list shaped like get_weights()."""
        views = [w for pair in zip(self.kernels, self.biases) for w in pair if w is not None]
        if len(weights) != len(views):
            raise ValueError(f"Expected {len(views)} weight arrays. Received: {len(weights)}")
        for view, w in zip(views, weights):
            if np.shape(w) != view.shape:
                raise ValueError(f"Expected a weight of shape {view.shape}. Received: shape={np.shape(w)}")
        for view, w in zip(views, weights):
            view[...] = w

    # --- data ------------------------------------------------------------------------------
    def _inputs(self, x):
        x = np.asarray(x)
        return np.ascontiguousarray(x.reshape(len(x), -1), dtype=self.dtype)

    def _targets(self, y):
        """Integer labels for sparse CE; otherwise (n, units) rows, hinge labels {0, 1} mapped to {-1, 1}."""
        if self.loss == "sparse_categorical_crossentropy":
            return np.asarray(y).reshape(-1).astype(np.intp)
        y = np.asarray(y, dtype=self.dtype).reshape(len(y), -1)
        if self.loss == "hinge" and np.all((y == 0) | (y == 1)):
            y = 2 * y - 1
        return np.ascontiguousarray(y)

    def _workspace(self, cap):
        if cap not in self._workspaces:
            dt = self.dtype
            sparse = self.loss == "sparse_categorical_crossentropy"
            yb = np.empty(cap, np.intp) if sparse else np.empty((cap, self.widths[-1]), dt)
            self._workspaces[cap] = _Workspace(
                np.empty((cap, self.widths[0]), dt), yb,
                *([np.empty((cap, w), dt) for w in self.widths[1:]] for _ in range(3)))
        return self._workspaces[cap]

    # --- forward and backward -----------------------------------------------------------------
    def _activation(self, k, training):
        """Layer k's activation; the last one is folded into the loss while training when fused."""
        if training and self.fused and k == len(self.layers) - 1:
            return "linear"
        return self.layers[k].activation

    def _forward(self, x, ws, training):
        b, h = len(x), x
        for k, w in enumerate(self.kernels):
            out = ws.outs[k][:b]
            act = self._activation(k, training)
            if w is not None:
                dense_forward(h, w, self.biases[k], act, out)
            else:
                np.copyto(out, h)
                FORWARD[act](out)
            h = out
        return h

    def _backward(self, x, ws):
        b = len(x)
        for k in range(len(self.layers) - 1, -1, -1):
            g, y, tmp = ws.deltas[k][:b], ws.outs[k][:b], ws.tmps[k][:b]
            dx = ws.deltas[k - 1][:b] if k > 0 else None
            act = self._activation(k, True)
            if self.kernels[k] is not None:
                h = x if k == 0 else ws.outs[k - 1][:b]
                dense_backward(h, self.kernels[k], y, act, g, self.dkernels[k], self.dbiases[k], dx, tmp)
            else:
                BACKWARD[act](y, g, tmp)
                if dx is not None:
                    np.copyto(dx, g)

    def _penalty(self):
        """l1 sum|W| + l2 sum W^2 over every regularised kernel."""
        total = 0.0
        for layer, w in zip(self.layers, self.kernels):
            if w is not None and (layer.l1 or layer.l2):
                total += layer.l1 * float(np.abs(w).sum()) + layer.l2 * float(np.vdot(w, w))
        return total

    def _regularize(self):
        """Add l1 sign(W) + 2 l2 W to every regularised kernel's gradient; return the penalty."""
        for layer, w, dw, t in zip(self.layers, self.kernels, self.dkernels, self._reg_tmp):
            if t is None:
                continue
            if layer.l1:
                dw += np.multiply(np.sign(w, out=t), layer.l1, out=t)
            if layer.l2:
                dw += np.multiply(w, 2 * layer.l2, out=t)
        return self._penalty()

    def _step_value(self, xb, yb, ws):
        """Forward, loss and backward on one batch, gradients left in self.grads; the batch loss."""
        out = self._forward(xb, ws, True)
        value = self._loss(out, yb, ws.deltas[-1][:len(xb)])
        self._backward(xb, ws)
        return value + self._regularize()

    # --- public ---------------------------------------------------------------------------------
    def train_epoch(self, x, y, batch_size=32, order=None):
        """One epoch of mini-batch updates over x in `order` (default: as given); the sample-weighted mean loss."""
        x, y = self._inputs(x), self._targets(y)
        n = len(x)
        ws = self._workspace(min(batch_size, n))
        total = 0.0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if order is None:
                xb, yb = x[start:stop], y[start:stop]
            else:
                idx = order[start:stop]
                xb = np.take(x, idx, axis=0, out=ws.xb[:stop - start])
                yb = np.take(y, idx, axis=0, out=ws.yb[:stop - start])
            total += self._step_value(xb, yb, ws) * (stop - start)
            self.optimizer.update(self.params, self.grads)
        return total / n

    def fit(self, x, y, batch_size=32, epochs=1, shuffle=True, seed=0):
        """Train for `epochs` epochs (a fresh permutation each when shuffling); the per-epoch losses."""
        rng = np.random.default_rng(seed)
        return [self.train_epoch(x, y, batch_size, rng.permutation(len(x)) if shuffle else None)
                for _ in range(epochs)]

    def loss_and_gradients(self, x, y):
        """The loss (with the regularisers' penalty) over (x, y) as one batch, and its gradient per weight."""
        x, y = self._inputs(x), self._targets(y)
        value = self._step_value(x, y, self._workspace(len(x)))
        grads = [g.copy() for pair in zip(self.dkernels, self.dbiases) for g in pair if g is not None]
        return value, grads

    def evaluate(self, x, y, batch_size=32):
        """The sample-weighted mean of batch losses, plus the regularisers' penalty, as fastnn's evaluate."""
        x, y = self._inputs(x), self._targets(y)
        ws = self._workspace(min(batch_size, len(x)))
        total = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            total += self._loss(self._forward(xb, ws, True), yb, ws.deltas[-1][:len(xb)]) * len(xb)
        return total / len(x) + self._penalty()

    def predict(self, x, batch_size=32):
        """The network's output for every sample, computed in batches."""
        x = self._inputs(x)
        ws = self._workspace(min(batch_size, len(x)))
        result = np.empty((len(x), self.widths[-1]), self.dtype)
        for start in range(0, len(x), batch_size):
            result[start:start + batch_size] = self._forward(x[start:start + batch_size], ws, False)
        return result
