"""scikit-learn's MLPClassifier and MLPRegressor, trained by fastnn's compiled loop (extra: fastnn[sklearn]).

Each is scikit-learn's own class with its training and forward pass replaced, so parameters, defaults,
input checks, label handling, the early-stopping split, fitted attributes and error messages are
scikit-learn's. What fastnn does instead of scikit-learn's NumPy code:

- sgd and adam: one fastnn `fit` over every epoch (CPU loop, never a Python loop over batches); a
  callback keeps scikit-learn's per-epoch rules (loss_curve_, tol and n_iter_no_change, invscaling
  and adaptive rates, early stopping with the best weights restored), and the epochs' shuffles are
  scikit-learn's own, drawn from random_state.
- lbfgs: SciPy's L-BFGS-B, as scikit-learn, on a compiled full-batch loss-and-gradient pass.
- predict, predict_proba, score: fastnn's compiled predict.

The objective is scikit-learn's: per batch, (sum_r w_r l_r + alpha/2 ||W||^2) / sum_r w_r, with l_r
the canonical loss of the output activation summed over outputs, so that its gradient at the output
is w_r (p - y) / sum_r w_r (loop.py's codes.REDUCE_WEIGHTS). fastnn's losses average over outputs
where scikit-learn sums (and the squared error is halved): `_scale` gives that ratio c, and training
on fastnn's loss with L2 alpha / (2c), SGD's rate times c or Adam's epsilon over c takes exactly
scikit-learn's steps (Adam is invariant to the gradient's scale but for epsilon).

Sparse X is densified (fastnn's kernels read dense rows). The estimators train on the CPU.
"""

import warnings

import numpy as np
import scipy.optimize

from ._optional import require

require("sklearn", "sklearn", "fastnn.sklearn")
from sklearn import neural_network  # noqa: E402  (after the check that names the extra)
from sklearn.base import is_classifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import shuffle as sklearn_shuffle  # noqa: E402
from sklearn.utils.optimize import _check_optimize_result  # noqa: E402
from sklearn.utils.validation import validate_data  # noqa: E402

from . import callbacks, layers, optimizers, regularizers  # noqa: E402
from .backends import codes  # noqa: E402
from .model import Sequential  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor"]

_HIDDEN = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_OUTPUT = {"softmax": ("softmax", "categorical_crossentropy"), "logistic": ("sigmoid", "binary_crossentropy"),
           "identity": ("linear", "mean_squared_error"), "exp": ("exponential", "poisson")}


def _scale(out_activation, n_outputs):
    """c = scikit-learn's loss gradient / fastnn's: it sums log and Poisson losses over outputs where Keras
    averages them, and its squared error is half the sum over outputs (gradient p - y)."""
    if out_activation == "softmax":
        return 1.0
    return n_outputs / 2 if out_activation == "identity" else float(n_outputs)


def _dense(x):
    """x as a dense array (fastnn's kernels read dense rows)."""
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


class _FastnnMLP:
    """The training and forward pass of scikit-learn's BaseMultilayerPerceptron, done by fastnn."""

    # --- the fastnn network -------------------------------------------------------------
    def _fastnn_model(self, layer_units, dtype):
        """A fastnn Sequential of this estimator's shape holding coefs_ and intercepts_ (kept between calls)."""
        c = _scale(self.out_activation_, layer_units[-1])
        reg = regularizers.L2(self.alpha / (2 * c)) if self.alpha > 0 else None
        out_act = _OUTPUT[self.out_activation_][0]
        key = (tuple(layer_units), np.dtype(dtype), self.activation, out_act, self.alpha)
        model = self.__dict__.get("_fastnn")
        if model is None or model._sklearn_key != key:
            model = Sequential([layers.Input((layer_units[0],))]
                               + [layers.Dense(n, activation=_HIDDEN[self.activation], kernel_regularizer=reg)
                                  for n in layer_units[1:-1]]
                               + [layers.Dense(layer_units[-1], activation=out_act, kernel_regularizer=reg)],
                               dtype=np.dtype(dtype).name)
            model._sklearn_key, model._reduction = key, codes.REDUCE_WEIGHTS
            self._fastnn = model
        model.set_weights([w.astype(dtype, copy=False) for pair in zip(self.coefs_, self.intercepts_)
                           for w in pair])
        return model

    def _fastnn_network(self, layer_units, dtype, optimizer):
        """_fastnn_model compiled with scikit-learn's loss and this optimizer (its state kept)."""
        model = self._fastnn_model(layer_units, dtype)
        # the squared error over several outputs: its mean is the loss scikit-learn reports (see _reported)
        metrics = ["mse"] if self.out_activation_ == "identity" and layer_units[-1] > 1 else None
        slots = optimizer.slots
        model.compile(optimizer=optimizer, loss=_OUTPUT[self.out_activation_][1], metrics=metrics, device="cpu")
        optimizer.slots = slots  # (compile resets them; partial_fit and warm starts continue)
        return model

    def _new_optimizer(self, c):
        """The fastnn optimizer taking scikit-learn's steps on fastnn's loss (c: see _scale)."""
        if self.solver == "sgd":
            opt = optimizers.SGD(learning_rate=self.learning_rate_init * c, momentum=self.momentum,
                                 nesterov=self.nesterovs_momentum)
        else:
            opt = optimizers.Adam(learning_rate=self.learning_rate_init, beta_1=self.beta_1, beta_2=self.beta_2,
                                  epsilon=self.epsilon / c)
        opt.sklearn_rate = self.learning_rate_init  # scikit-learn's current rate (invscaling and adaptive change it)
        return opt

    def _take_weights(self, model):
        """coefs_ and intercepts_ = the fastnn network's weights (get_weights gives fresh copies)."""
        weights = model.get_weights()
        self.coefs_, self.intercepts_ = weights[0::2], weights[1::2]

    def _reported(self, value, logs, offset):
        """scikit-learn's loss from fastnn's (value = the training objective's mean over the epoch's batches)."""
        c = _scale(self.out_activation_, self.n_outputs_)
        if self.out_activation_ == "identity" and self.n_outputs_ > 1:  # it averages over outputs, yet trains on
            return c * value - (c - 0.5) * logs["mse"]  # the sum: its reported loss is the mean's
        return c * value + offset

    def _poisson_offset(self, y, sample_weight):
        """scikit-learn's Poisson loss keeps the deviance's constant sum_j (y log y - y); Keras's drops it. Added as
        its mean over the samples: exact without sample weights (with them, scikit-learn weighs it per batch)."""
        if self.out_activation_ != "exp":
            return 0.0
        per_sample = np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - y, axis=1)
        return float(np.average(per_sample, weights=sample_weight))

    # --- scikit-learn's hooks ---------------------------------------------------------
    def _fit_stochastic(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads, layer_units,
                        incremental):
        """scikit-learn's sgd/adam training: every epoch in one fastnn fit, its per-epoch rules in a callback."""
        X, y = _dense(X), np.asarray(y, dtype=X.dtype)
        c = _scale(self.out_activation_, self.n_outputs_)
        if not incremental or self.__dict__.get("_optimizer") is None:
            self._optimizer = self._new_optimizer(c)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_val = y_val = sw_val = None
        sw_train = sample_weight
        if self.early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            parts = train_test_split(X, y, *([] if sample_weight is None else [sample_weight]),
                                     random_state=self._random_state, test_size=self.validation_fraction,
                                     stratify=stratify)
            X, X_val, y, y_val = parts[:4]
            if sample_weight is not None:
                sw_train, sw_val = parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n))
        model = self._fastnn_network(layer_units, X.dtype, self._optimizer)
        model._epoch_orders = self._shuffles(n)
        rules = _EpochRules(self, model, c, n, (X_val, y_val, sw_val), incremental, self._poisson_offset(y, sw_train))
        self.n_iter_ = 0
        rules.apply_rate()
        model.fit(X, y, batch_size=batch_size, epochs=1 if incremental else self.max_iter, verbose=0,
                  shuffle=bool(self.shuffle), sample_weight=sw_train, callbacks=[rules])
        self._take_weights(model)
        if self.early_stopping:
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts

    def _shuffles(self, n):
        """Each epoch's sample order as scikit-learn draws it: a shuffle of the last one, from _random_state."""
        order = np.arange(n, dtype=int)

        def draw(count):
            nonlocal order
            order = sklearn_shuffle(order, random_state=self._random_state)
            return order.astype(np.int64)
        return draw

    def _fit_lbfgs(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads, layer_units):
        """scikit-learn's lbfgs: SciPy's L-BFGS-B on the compiled full-batch loss and gradient."""
        X, y = _dense(X), np.asarray(y, dtype=X.dtype)
        model = self._fastnn_network(layer_units, X.dtype, optimizers.SGD())  # (compile needs one; unused)
        c = _scale(self.out_activation_, self.n_outputs_)
        offset = self._poisson_offset(y, sample_weight)
        leaves = model._leaves()
        ranges = [r for layer in leaves for r in layer.param_ranges()]
        # scikit-learn packs every kernel, then every bias; fastnn holds kernel, bias layer by layer
        at = np.concatenate([np.arange(*r) for r in ranges[0::2] + ranges[1::2]])
        backend, net = model._backend, model._network()
        targets = model._targets(y, len(X), sample_weight=sample_weight)
        data = backend.put_data(X, targets)
        ws = backend.workspace(model.plan, len(X), X.shape[1], targets.shape[1], model.dtype, training=True)
        n_stats, params, grads = model._metric_table()[1], model._store.flat, net.grads

        def loss_and_grad(packed):
            params[at] = packed
            logs = model._logs(backend.gradient(net, data, ws, n_stats))
            return self._reported(logs["loss"], logs, offset), grads[at].astype(np.float64) * c

        packed = np.concatenate([w.ravel() for w in self.coefs_] + [b.ravel() for b in self.intercepts_])
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if self.verbose:
            options["iprint"] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # (iprint, on SciPy versions that retire it)
            result = scipy.optimize.minimize(loss_and_grad, packed, method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        params[at] = result.x
        self._take_weights(model)

    def _forward_pass_fast(self, X, check_input=True):
        """The network's outputs for X (its output activation applied), by fastnn's compiled predict."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        dtype = self.coefs_[0].dtype
        X = np.ascontiguousarray(_dense(X), dtype=dtype)
        units = [self.coefs_[0].shape[0]] + [b.size for b in self.intercepts_]
        return self._fastnn_model(units, dtype).predict(X, batch_size=1024, verbose=0)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fastnn", None)  # rebuilt from coefs_ when needed
        return state


class _EpochRules(callbacks.Callback):
    """scikit-learn's end-of-epoch rules for sgd and adam (its _fit_stochastic after each pass)."""

    def __init__(self, est, model, c, n_samples, validation, incremental, offset):
        super().__init__()
        self.est, self.net, self.c, self.n_samples = est, model, c, n_samples
        self.validation, self.incremental, self.offset = validation, incremental, offset

    def on_epoch_end(self, epoch, logs=None):
        est = self.est
        est.n_iter_ += 1
        est.loss_ = est._reported(logs["loss"], logs, self.offset)
        est.t_ += self.n_samples
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))
        self.count_no_improvement()
        opt = est._optimizer
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            opt.sklearn_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if est.early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} "
                       "consecutive epochs.")
            if est.solver == "sgd" and est.learning_rate == "adaptive" and opt.sklearn_rate > 1e-6:
                opt.sklearn_rate /= 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(message + " Setting learning rate to %f" % opt.sklearn_rate)
            else:
                if est.verbose:
                    print(message + (" Learning rate too small. Stopping." if est.learning_rate == "adaptive"
                                     and est.solver == "sgd" else " Stopping."))
                self.net.stop_training = True
                return
        self.apply_rate()
        if not self.incremental and est.n_iter_ == est.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % est.max_iter, ConvergenceWarning)

    def apply_rate(self):
        """The fastnn optimizer's rate for scikit-learn's current one (SGD's is c times it: see _scale)."""
        est = self.est
        self.net.optimizer.learning_rate = est._optimizer.sklearn_rate * (self.c if est.solver == "sgd" else 1.0)

    def count_no_improvement(self):
        """scikit-learn's _update_no_improvement_count: on the validation score or the training loss."""
        est = self.est
        if est.early_stopping:
            est._take_weights(self.net)
            x_val, y_val, sw_val = self.validation
            score = est._score(x_val, y_val, sample_weight=sw_val)
            est.validation_scores_.append(score)
            if est.verbose:
                print("Validation score: %f" % score)
            est._no_improvement_count = 0 if score >= est.best_validation_score_ + est.tol \
                else est._no_improvement_count + 1
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_coefs = [w.copy() for w in est.coefs_]
                est._best_intercepts = [b.copy() for b in est.intercepts_]
        else:
            loss = est.loss_curve_[-1]
            est._no_improvement_count = est._no_improvement_count + 1 if loss > est.best_loss_ - est.tol else 0
            est.best_loss_ = min(est.best_loss_, loss)


class MLPClassifier(_FastnnMLP, neural_network.MLPClassifier):
    """scikit-learn's MLPClassifier (same parameters and attributes), trained by fastnn's compiled kernels."""


class MLPRegressor(_FastnnMLP, neural_network.MLPRegressor):
    """scikit-learn's MLPRegressor (same parameters and attributes), trained by fastnn's compiled kernels."""
