"""Sequential: the network as a list of layers, and compile / fit / evaluate / predict around it.

This module holds no arithmetic: it checks arguments, converts data once at the boundary,
lays the network out as tables (`Network`) and hands them to the backend.
"""

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import backends, config
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from . import sample_weights, streams
from ._checks import check_bool, check_float, check_int
from ._params import ParamStore
from .backends import codes
from .backends.cpu.losses import FUSED, LOGITS, PROBS
from .callbacks import Callback, CallbackList, History, ProgbarLogger
from .data import as_numeric, as_samples, split_tail
from .layers import BatchNormalization, InputLayer, Layer, _unique_name


@dataclass
class Network:
    """What the compiled loop runs: the plan tables, parameter buffers, loss and metric codes."""

    plan: np.ndarray
    fplan: np.ndarray
    params: object
    grads: object
    loss: int
    mode: int
    metrics: np.ndarray
    ranges: object  # [start, stop) rows of the parameters the optimizer updates (the trainable layers')
    loss_arg: float = 0.0  # the loss's parameter, when it has one (Huber's delta)
    reduction: int = codes.REDUCE_BATCH  # REDUCE_WEIGHTS: fastnn.sklearn's estimators (scikit-learn's objective)


def _plan_tables(layers):
    """(plan, fplan): one row per compiled step, with parameter and buffer offsets filled in."""
    rows, frows = [], []
    width_done = 0
    for layer in layers:
        for step, (kind, act, l1, l2, rate, *norm) in enumerate(layer.plan_rows()):
            n_in = layer.input_shape[0] if step == 0 else layer.output_shape[0]  # (a later step follows the first)
            n_out = layer.output_shape[0]
            w_off = layer._slots["kernel"][0] if kind == codes.DENSE else \
                layer._slots["gamma"][0] if kind == codes.BATCHNORM else -1  # (gamma, beta, mean, variance)
            b_off = layer._slots["bias"][0] if kind == codes.DENSE and "bias" in layer._slots else -1
            rows.append((kind, n_in, n_out, act, w_off, b_off, width_done))
            frows.append((l1, l2, rate, *(norm or (0.0, 0.0))))
            width_done += n_out
    plan = np.array(rows, dtype=np.int64).reshape(-1, codes.PLAN_INT_COLS)
    return plan, np.array(frows, dtype=np.float64).reshape(-1, codes.PLAN_FLOAT_COLS)


def _trainable_ranges(layers, frozen):
    """(k, 2) int64: [start, stop) of the trainable layers' parameters, adjacent ranges merged."""
    ranges = []
    for layer, skip in zip(layers, frozen):
        for start, stop in ([] if skip else layer.param_ranges()):
            if ranges and ranges[-1][1] == start:
                ranges[-1][1] = stop
            else:
                ranges.append([start, stop])
    return np.array(ranges, dtype=np.int64).reshape(-1, 2)


def _unregularized(fplan, layers, frozen):
    """fplan without the kernel regularisers of frozen layers (Keras counts trainable weights' only), and with
    frozen BatchNormalization steps marked (momentum -1: inference mode while training, as Keras 3)."""
    if not any(frozen):
        return fplan
    fplan, row = fplan.copy(), 0
    for layer, skip in zip(layers, frozen):
        rows = len(layer.plan_rows())
        if skip:
            fplan[row:row + rows, [codes.F_L1, codes.F_L2]] = 0.0
            if isinstance(layer, BatchNormalization):
                fplan[row, codes.F_MOMENTUM] = -1.0
        row += rows
    return fplan


def _loss_mode(plan, loss):
    """FUSED when the last activation and the loss fold into one stable kernel, else LOGITS/PROBS."""
    if loss.from_logits:
        return LOGITS
    last = plan[-1, codes.P_ACT]
    if (last == codes.SOFTMAX and loss.code in (codes.CCE, codes.SCCE)) or \
            (last == codes.SIGMOID and loss.code == codes.BCE):
        return FUSED
    return PROBS


class Sequential:
    """A linear stack of layers, trained with compiled kernels on the CPU or a CUDA GPU."""

    def __init__(self, layers=None, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Expected name to be a string. Received: name={name!r}")
        self.name = name if name is not None else _unique_name(Sequential)
        self.dtype = config.floatx() if dtype is None else config.canonical_dtype(dtype)
        self._dtype_given = dtype is not None
        self._layers = []
        self._input_shape = None
        self._store = None
        self._backend = backends.get("cpu")
        self.built = False
        self.compiled = False
        self.optimizer = self.loss = None
        self.metrics_names = []
        self._metrics = []
        self.stop_training = False
        self.history = None
        self._trainable = True
        self._trainable_at_compile = {}  # id(layer) -> its trainable flag when compile() last ran
        if layers is not None:
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise TypeError(f"Expected layers to be a list of layers. Received: layers={layers!r}")
            for layer in layers:
                self._append(layer)
            if self._input_shape is not None and self.layers:
                self.build()

    # --- structure ----------------------------------------------------------------
    def add(self, layer):
        """Append a layer; the model builds as soon as its input shape is known, as in Keras."""
        kept = self.get_weights() if self.built else None
        self._append(layer)
        if self.built:
            self._build(self._input_shape, keep=kept)
        elif self._input_shape is not None and self.layers:  # (an Input alone has nothing to build yet)
            self.build()

    def _append(self, layer):
        """Add a layer to the list after checking it (an Input or input_shape= fixes the input shape)."""
        if isinstance(layer, Sequential):
            self._append_model(layer)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Expected a fastnn layer. Received: {layer!r} of type {type(layer).__name__}")
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("An Input layer can only be the first layer of a Sequential model.")
        if any(layer is other for other in self._layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model.")
        if not self._layers and layer._declared_input is not None:
            self._input_shape = layer._declared_input
        self._layers.append(layer)

    def _append_model(self, model):
        """A Sequential used as this model's first layer (Keras's `Sequential([model, Softmax()])`): it keeps
        its weights and shares them, as in Keras, since this model's parameter buffer becomes its buffer too."""
        if self._layers or model is self:
            raise ValueError(f"fastnn takes a Sequential ({model.name!r}) as the first layer of another only. "
                             "Add its layers one by one, or put it first.")
        if not model.built:
            raise ValueError(f"Model {model.name!r} must be built before it is used as a layer (give its first "
                             "layer input_shape=, or fit it), so its weights exist to be shared.")
        if model.device != "cpu":
            raise ValueError(f"Model {model.name!r} is on {model.device!r}: move it with model.to('cpu') before "
                             "using it as a layer (shared weights live on the CPU).")
        if self._dtype_given and self.dtype != model.dtype:
            raise ValueError(f"Model {model.name!r} computes in {model.dtype}, this one in {self.dtype}: shared "
                             "weights need one dtype.")
        self.dtype, self._input_shape = model.dtype, model._input_shape
        self._layers.append(model)

    @property
    def layers(self):
        """The layers the user added, without the Input (a Sequential used as a layer is one entry)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def _leaves(self):
        """The layers that compute, a Sequential used as a layer replaced by its own."""
        return [leaf for layer in self.layers
                for leaf in (layer._leaves() if isinstance(layer, Sequential) else [layer])]

    def _units(self):
        return self._leaves()[-1].output_shape[0]

    def describe(self):
        """How summary() names this model when it is a layer of another."""
        return "Sequential"

    def param_specs(self):
        """[(name, shape, initializer)] of every weight, in get_weights() order (as a layer's)."""
        return [spec for leaf in self._leaves() for spec in leaf.param_specs()]

    def build(self, input_shape=None):
        """Create every layer's weights for per-sample input_shape (Keras also accepts (None, ...))."""
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
        shape = input_shape or self._input_shape
        if shape is None:
            raise ValueError(f"Model {self.name!r} cannot be built: its input shape is unknown. Pass "
                             f"input_shape= to the first layer, start with layers.Input(shape=...), "
                             f"call build(input_shape) or fit it on data.")
        self._build(shape)

    def _build(self, shape, keep=None):
        if not self.layers:
            raise ValueError(f"Model {self.name!r} has no layers to build.")
        first_shape = shape
        leaves = self._leaves()
        nested = self.layers[0] if isinstance(self.layers[0], Sequential) else None
        shared = nested.get_weights() if nested is not None else None
        for layer in leaves:
            shape = layer.build_shapes(shape)
        store = ParamStore.for_layers(leaves, self.dtype, self._backend)
        self._input_shape = tuple(first_shape)
        self._store = store
        store.models.add(self)
        if nested is not None:  # its layers come first, at the offsets they had: it reads this buffer from now on
            nested._store = store
            store.models.add(nested)
            nested.set_weights(shared)
        self.plan, self.fplan = _plan_tables(leaves)
        if len(self.plan) == 0:
            raise ValueError(f"Model {self.name!r} has no layer that computes (Dense, Activation or Dropout).")
        self._grads = self._backend.from_host(np.zeros(store.size, self.dtype))
        self.built = True
        if keep is not None:  # a layer was added to a built model: earlier layers keep their weights
            self.set_weights(keep + self._leaves()[-1].get_weights())
        if self.optimizer is not None:
            self.optimizer.slots = None

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        return (None,) + tuple(self._leaves()[-1].output_shape) if self.built else None

    def count_params(self):
        self._require_built("count_params")
        return sum(leaf.count_params() for leaf in self._leaves())

    @property
    def trainable(self):
        """Setting it sets every layer's `trainable` (Keras: taken into account at the next compile())."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = check_bool("trainable", value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self):
        return [w for layer in self._leaves() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self._leaves() for w in layer.non_trainable_weights]

    # --- weights ------------------------------------------------------------------------
    def get_weights(self):
        """Every layer's weights in order (Keras's layout: kernel (inputs, units), then bias)."""
        self._require_built("get_weights")
        return [w for layer in self._leaves() for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set every weight from a list shaped like get_weights(); nothing changes if any is wrong."""
        self._require_built("set_weights")
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"Expected weights to be a list of arrays. Received: {type(weights).__name__}")
        expected = len(self.param_specs())
        if len(weights) != expected:
            raise ValueError(f"Model {self.name!r} expects {expected} weight arrays. Received: {len(weights)}")
        items, at = [], 0
        for layer in self._leaves():
            k = len(layer.param_specs())
            items += layer._checked_weights(list(weights[at:at + k]))
            at += k
        self._store.write_all(items)

    # --- compile ------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device="auto"):
        """Choose the optimizer, loss, metrics and device (auto: CUDA when a GPU is present)."""
        optimizer = optimizers_mod.get(optimizer)
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy'.")
        loss = losses_mod.get(loss)
        checked = metrics_mod.check_names(metrics)
        backend = backends.get(device)
        if self.built:
            self._check_loss_fits(loss, checked)
        self.optimizer, self.loss, self._metrics = optimizer, loss, checked
        self.metrics_names = [metric.name for metric in checked]
        self.optimizer.slots = None
        self._trainable_at_compile = {id(layer): layer.trainable for layer in self._leaves()}
        self._move_to(backend)
        self.compiled = True

    def _check_loss_fits(self, loss, metrics):
        units = self._units()
        if loss.code == codes.SCCE and units < 2:
            raise ValueError(f"{loss.name} needs at least 2 outputs (one per class). Received: the last "
                             f"layer {self._leaves()[-1].name!r} has {units}.")
        for metric in metrics:
            metrics_mod.resolve(metric, loss, units)

    def to(self, device):
        """Move the model (weights and optimizer state) to "cpu" or "cuda"; returns the model."""
        self._move_to(backends.get(device))
        return self

    @property
    def device(self):
        return self._backend.name

    def _move_to(self, backend):
        shares = [m.name for m in _sharing(self)]
        if shares and backend.name != self._backend.name:
            raise ValueError(f"Model {self.name!r} shares its weights with {shares} (a Sequential used as a "
                             f"layer), so they stay on {self._backend.name!r}. Received: device={backend.name!r}")
        if self.built:
            self._store.move_to(backend)
            self._grads = backend.from_host(np.zeros(self._store.size, self.dtype))
        opt = self.optimizer
        if opt is not None and opt.slots is not None:
            opt.slots = backend.from_host(np.ascontiguousarray(self._backend.to_host(opt.slots)))
        self._backend = backend

    # --- running --------------------------------------------------------------------
    def _prepare(self, verbose, task):
        """Have the backend compile (or load) what task ("fit", "evaluate" or "predict") runs for this model."""
        loss = None if task == "predict" else (self.loss.code, _loss_mode(self.plan, self.loss))
        metrics = () if task == "predict" else self._metric_table()[0][:, codes.M_CODE]
        self._backend.prepare(self.dtype, verbose, loss, self.optimizer.code if task == "fit" else None, metrics,
                              self.plan[:, codes.P_KIND])

    def _network(self):
        leaves = self._leaves()
        frozen = [not self._trainable_at_compile.get(id(layer), layer.trainable) for layer in leaves]
        return Network(self.plan, _unregularized(self.fplan, leaves, frozen), self._store.flat, self._grads,
                       self.loss.code, _loss_mode(self.plan, self.loss), self._metric_table()[0],
                       self._backend.from_host(_trainable_ranges(leaves, frozen)), self.loss.arg,
                       self.__dict__.get("_reduction", codes.REDUCE_BATCH))

    def _metric_table(self):
        """(the compiled metrics table, the size of the stats vector it fills): see metrics.table."""
        return metrics_mod.table(self._metrics, self.loss, self._units())

    def _new_stats(self):
        """A zeroed stats vector: loss and count sums, then every metric's slots."""
        return np.zeros(self._metric_table()[1])

    def _inputs(self, x, argname="x"):
        """x checked against (and, on first use, fixing) the input shape, as model-dtype rows."""
        if not self.built:
            arr = as_numeric(x, argname)
            self.build(arr.shape[1:] if arr.ndim >= 2 and self._input_shape is None else None)
        return as_samples(x, self._input_shape, self.dtype, argname)

    def _targets(self, y, n, argname="y", sample_weight=None, weight_argname="sample_weight"):
        """y as the loss's targets (model dtype), with sample_weight's checked values as one more column."""
        units = self._units()
        y = self.loss.targets(y, units, self.dtype, argname)
        if len(y) != n:
            raise ValueError(f"x and {argname} must hold the same number of samples. Received: {n} and {len(y)}")
        w = sample_weights.checked(sample_weight, n, weight_argname)
        return y if w is None else sample_weights.attach(y, w)

    def _logs(self, stats, prefix=""):
        count = max(stats[codes.S_COUNT], 1)
        return {prefix + "loss": float(stats[codes.S_LOSS] / count),
                **metrics_mod.logs(self._metrics, stats, count, prefix)}

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built yet, so {what}() cannot run. Give the "
                             f"first layer input_shape=, start with layers.Input, call build() or fit it first.")

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call compile() before {what}(). Model {self.name!r} is not compiled.")

    def _ensure_optimizer_state(self):
        opt = self.optimizer
        if opt.slots is None:
            opt.build(self._store.size, self.dtype, self._backend)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_freq=1):
        """Train for `epochs` epochs; returns a History whose .history maps names to per-epoch lists.

        validation_freq: validate after every validation_freq-th epoch (counted from 1), as Keras 3.
        x may also be a source of (x, y) or (x, y, sample_weight) batches (see streams.py) with y=None;
        steps_per_epoch then limits each epoch (default: a PyDataset's length, or until an iterator runs out).
        sample_weight (one per sample) or class_weight ({class: weight}, training data only) weight the
        loss as in Keras 3: sum(w * loss) / batch size.
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else check_int("batch_size", batch_size, minimum=1)
        epochs = check_int("epochs", epochs, minimum=0)
        initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
        verbose = _check_verbose(verbose)
        validation_split = check_float("validation_split", validation_split, 0.0, 1.0, high_open=True)
        shuffle = check_bool("shuffle", shuffle)
        validation_freq = check_int("validation_freq", validation_freq, minimum=1)
        callbacks = _check_callbacks(callbacks)
        sample_weights.refuse_both(sample_weight, class_weight)
        if streams.is_stream(x):
            if sample_weight is not None or class_weight is not None:
                raise ValueError("With batches as input, give each batch's weights in the batch, as (x, y, "
                                 "sample_weight); sample_weight= and class_weight= apply to arrays.")
            return self._fit_stream(streams.Batches(x, steps_per_epoch), y, validation_split, validation_data,
                                    epochs, verbose, callbacks, initial_epoch, validation_freq)
        if steps_per_epoch is not None:
            raise ValueError("steps_per_epoch applies when x is a generator or dataset of batches; with arrays "
                             "an epoch is every sample once (choose batch_size instead).")
        x = self._inputs(x)
        self._check_loss_fits(self.loss, self._metrics)
        y = self._targets(y, len(x), sample_weight=sample_weight)
        val = None
        if validation_data is not None:
            val = self._validation_pair(validation_data)
        elif validation_split > 0:  # (sample weights split with their samples, as in Keras)
            (x, y), val = split_tail(x, y, validation_split)
        if class_weight is not None:
            y = sample_weights.attach(y, sample_weights.from_classes(class_weight, y, self.loss.code == codes.SCCE))
        self._prepare(verbose, "fit")
        if val is not None:  # prepared once (on the device, indexed) for every epoch's evaluation
            val = self._backend.put_data(*val)
        return self._fit_checked(x, y, val, batch_size, epochs, verbose, callbacks, shuffle, initial_epoch,
                                 validation_freq)

    def _validation_pair(self, data):
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("Expected validation_data to be a tuple (x_val, y_val) or (x_val, y_val, "
                             "val_sample_weight). Received: "
                             f"{type(data).__name__} of length {len(data) if hasattr(data, '__len__') else '?'}")
        xv = self._inputs(data[0], "validation_data[0]")
        return xv, self._targets(data[1], len(xv), "validation_data[1]",
                                 data[2] if len(data) == 3 else None, "validation_data[2]")

    def _fit_checked(self, x, y, val, batch_size, epochs, verbose, callbacks, shuffle, initial_epoch,
                     validation_freq):
        self._ensure_optimizer_state()
        net = self._network()
        cap = min(batch_size, len(x))
        ws = self._backend.workspace(self.plan, cap, x.shape[1], y.shape[1], self.dtype, training=True)
        data = self._backend.put_data(x, y, train_batch=batch_size)
        steps = math.ceil(len(x) / cap)

        def train_epoch(cbs, progbar):
            return self._train_epoch(net, data, len(x), shuffle, cap, steps, ws, cbs, progbar, verbose)
        return self._run_epochs(train_epoch, {"steps": steps, "batch_size": batch_size}, val, cap, epochs, verbose,
                                callbacks, initial_epoch, validation_freq)

    def _fit_stream(self, batches, y, validation_split, validation_data, epochs, verbose, callbacks, initial_epoch,
                    validation_freq):
        """fit over a stream of (x, y) batches: one compiled step per batch, as the batches arrive."""
        if y is not None:
            raise ValueError("When x is a generator or dataset of batches, y must be None: each batch holds "
                             "(x, y).")
        if validation_split:
            raise ValueError("validation_split needs arrays; with batches as input, pass validation_data=.")
        val = None
        if validation_data is not None:
            val = self._backend.put_data(*self._validation_pair(validation_data))
        net = ws = None  # made at the first batch; ws grows with the largest batch so far
        cap = 0

        def train_epoch(cbs, progbar):
            """This epoch's batches, one compiled step each; None when the input had none left."""
            nonlocal net, ws, cap
            stats = self._new_stats()
            done, logs = 0, None
            for step, batch in enumerate(batches.epoch()):
                xb, yb = self._batch(batch, "fit")
                if net is None:
                    self._prepare(verbose, "fit")
                    self._ensure_optimizer_state()
                    net = self._network()
                if len(xb) > cap:
                    cap = len(xb)
                    ws = self._backend.workspace(self.plan, cap, xb.shape[1], yb.shape[1], self.dtype, training=True)
                cbs.on_train_batch_begin(step)
                data = self._backend.put_data(xb, yb, train_batch=len(xb))
                order = self._backend.epoch_order(len(xb), False)
                taken = self._backend.train_batches(net, self.optimizer, data, order, False, len(xb), 0, 1, ws, stats)
                self.optimizer.iterations += taken
                done, logs = step + 1, self._logs(stats)
                cbs.on_train_batch_end(step, logs)
                if progbar:
                    progbar.progress(done, logs)
                if not taken:
                    warnings.warn(f"Training stopped at batch {step} of this epoch: the loss or a gradient became "
                                  "NaN or infinite.", RuntimeWarning, stacklevel=5)
                    self.stop_training = True
                if self.stop_training:
                    break
            if batches.ran_out:
                warnings.warn("Your input ran out of data; interrupting training. Make sure it can generate at "
                              "least steps_per_epoch * epochs batches.", UserWarning, stacklevel=5)
                self.stop_training = True
            return logs
        return self._run_epochs(train_epoch, {"steps": batches.steps, "batch_size": None}, val, 32, epochs, verbose,
                                callbacks, initial_epoch, validation_freq)

    def _run_epochs(self, train_epoch, params, val, val_batch, epochs, verbose, callbacks, initial_epoch,
                    validation_freq):
        """The epochs of a fit around train_epoch(cbs, progbar) -> the epoch's logs (None: the input ran
        out): callbacks, validation after every validation_freq-th epoch, and the History it returns."""
        history = History()
        progbar = ProgbarLogger(verbose) if verbose else None
        # as in Keras: the progress bar first, History last (it records what other callbacks add to the logs)
        cbs = CallbackList(([progbar] if progbar else []) + callbacks + [history], self,
                           {"epochs": epochs, "verbose": verbose, "do_validation": val is not None, **params})
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        for epoch in range(self.__dict__.pop("_resume_epoch", initial_epoch), epochs):  # (BackupAndRestore)
            cbs.on_epoch_begin(epoch)
            epoch_logs = train_epoch(cbs, progbar)
            if epoch_logs is None:
                break
            logs = epoch_logs
            if val is not None and not self.stop_training and (epoch + 1) % validation_freq == 0:
                logs.update(self._evaluate_data(val, val_batch, prefix="val_"))
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        self.history = history
        return history

    def _train_epoch(self, net, data, n, shuffle, batch_size, steps, ws, cbs, progbar, verbose):
        """One epoch as few compiled calls as the progress bar and callbacks allow."""
        backend, opt = self._backend, self.optimizer
        draw = self.__dict__.get("_epoch_orders")  # fastnn.sklearn's: scikit-learn's shuffles, from its random_state
        order = draw(n) if shuffle and draw is not None else backend.epoch_order(n, shuffle)
        stats = self._new_stats()
        per_batch = cbs.wants_batches()
        chunk = 1 if (per_batch or verbose == 1) else steps
        done = 0
        while done < steps and not self.stop_training:
            stop = min(steps, done + chunk)
            if per_batch:
                cbs.on_train_batch_begin(done)
            t0 = time.perf_counter()
            taken = backend.train_batches(net, opt, data, order, shuffle, batch_size, done, stop, ws, stats,
                                          per_batch=per_batch)
            elapsed = time.perf_counter() - t0
            opt.iterations += taken
            finite = taken == stop - done
            done += taken if finite else taken + 1
            logs = self._logs(stats)
            cbs.on_train_batch_end(done - 1, logs)
            if progbar:
                progbar.progress(done, logs)
            if not finite:
                if not self.stop_training:
                    warnings.warn(f"Training stopped at batch {done - 1} of this epoch: the loss or a gradient "
                                  f"became NaN or infinite (running loss {logs['loss']}). The weights hold the "
                                  "last finite step; lower the learning rate or scale the data.",
                                  RuntimeWarning, stacklevel=5)
                self.stop_training = True
            elif not per_batch and chunk < steps:
                chunk = max(1, int(config.PROGRESS_INTERVAL * taken / max(elapsed, 1e-9)))
        return self._logs(stats)

    def _evaluate_data(self, data, batch_size, prefix=""):
        """Logs of loss and metrics over data prepared by the backend's put_data."""
        x, y = data[0], data[1]
        cap = min(batch_size, x.shape[0])
        ws = self._backend.workspace(self.plan, cap, x.shape[1], y.shape[1], self.dtype)
        stats = self._backend.evaluate(self._network(), data, cap, ws, self._metric_table()[1])
        return self._logs(stats, prefix)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 return_dict=False):
        """Loss (and metrics) over (x, y): the loss alone without metrics, else [loss, *metrics].

        x may also be a source of (x, y) or (x, y, sample_weight) batches with y=None (at most `steps` of
        them). sample_weight weights the loss as fit does."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else check_int("batch_size", batch_size, minimum=1)
        verbose = _check_verbose(verbose)
        if streams.is_stream(x):
            if sample_weight is not None:
                raise ValueError("With batches as input, give each batch's weights in the batch, as (x, y, "
                                 "sample_weight).")
            return _result(self._evaluate_stream(streams.Batches(x, steps), y, verbose), return_dict)
        x = self._inputs(x)
        self._check_loss_fits(self.loss, self._metrics)
        y = self._targets(y, len(x), sample_weight=sample_weight)
        self._prepare(verbose, "evaluate")
        t0 = time.perf_counter()
        logs = self._evaluate_data(self._backend.put_data(x, y), batch_size)
        if verbose:
            steps = math.ceil(len(x) / batch_size)
            print(f"{steps}/{steps} - {time.perf_counter() - t0:.1f}s" + "".join(f" - {k}: {v:.4f}" for k, v in logs.items()))
        return _result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose=0, steps=None):
        """The last layer's output for every sample of x, as an (n, units) array of the model's dtype.

        x may also be a source of batches (x, or (x, y) with y ignored; at most `steps` of them)."""
        batch_size = 32 if batch_size is None else check_int("batch_size", batch_size, minimum=1)
        verbose = _check_verbose(verbose)
        if streams.is_stream(x):
            outputs = [self.predict(batch[0], batch_size=batch_size, verbose=verbose)
                       for batch in streams.Batches(x, steps).epoch()]
            if not outputs:
                raise ValueError("predict received no batches: the input was empty or had run out.")
            return np.concatenate(outputs)
        x = self._inputs(x)
        self._prepare(verbose, "predict")
        cap = min(batch_size, len(x))
        ws = self._backend.workspace(self.plan, cap, x.shape[1], 1, self.dtype)
        net = Network(self.plan, self.fplan, self._store.flat, self._grads, 0, PROBS, np.zeros((0, 3), np.int64),
                      np.zeros((0, 2), np.int64))
        data = self._backend.put_data(x, np.zeros((len(x), 0), self.dtype))
        return self._backend.predict(net, data, cap, ws, self._units())

    def _batch(self, batch, what):
        """A stream's (x, y) or (x, y, sample_weight) batch as model inputs and (weighted) targets."""
        if len(batch) not in (2, 3):
            raise ValueError(f"{what} needs (x, y) or (x, y, sample_weight) batches. Received a batch holding "
                             f"{'x alone' if len(batch) == 1 else f'{len(batch)} parts'}.")
        xb = self._inputs(batch[0], "a batch's x")
        return xb, self._targets(batch[1], len(xb), "a batch's y", batch[2] if len(batch) == 3 else None,
                                 "a batch's sample_weight")

    def _evaluate_stream(self, batches, y, verbose):
        """evaluate's logs over a stream of (x, y) batches: the sums of every batch, then the means."""
        if y is not None:
            raise ValueError("When x is a generator or dataset of batches, y must be None: each batch holds "
                             "(x, y).")
        total = None
        for batch in batches.epoch():
            xb, yb = self._batch(batch, "evaluate")
            self._check_loss_fits(self.loss, self._metrics)
            self._prepare(verbose, "evaluate")
            ws = self._backend.workspace(self.plan, len(xb), xb.shape[1], yb.shape[1], self.dtype)
            stats = self._backend.evaluate(self._network(), self._backend.put_data(xb, yb), len(xb), ws,
                                           self._metric_table()[1])
            total = stats if total is None else total + stats
        if total is None:
            raise ValueError("evaluate received no batches: the input was empty or had run out.")
        return self._logs(total)

    # --- one batch -------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on the whole batch (x, y); its loss (and metrics) as evaluate returns them."""
        history, x = self.history, self._inputs(x)
        logs = self.fit(x, y, batch_size=max(len(x), 1), epochs=1, verbose=0, shuffle=False,
                        sample_weight=sample_weight, class_weight=class_weight).history
        self.history = history  # as in Keras, a single step leaves model.history alone
        return _result({name: values[-1] for name, values in logs.items()}, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of the whole batch (x, y), in inference mode."""
        x = self._inputs(x)
        return self.evaluate(x, y, batch_size=max(len(x), 1), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def predict_on_batch(self, x):
        """The outputs for the whole batch x."""
        x = self._inputs(x)
        return self.predict(x, batch_size=max(len(x), 1))

    def __call__(self, x, training=False):
        """model(x): the outputs for x in inference mode, as an array (Keras returns a tensor)."""
        if check_bool("training", training):
            raise ValueError("fastnn computes model(x) in inference mode only (training=False); dropout and "
                             "other training-time behaviour run inside fit() and train_on_batch().")
        return self.predict_on_batch(x)

    # --- layers ------------------------------------------------------------------------
    def get_layer(self, name=None, index=None):
        """The layer named `name`, or at `index` of model.layers (index wins when both are given), as in Keras."""
        if index is not None:
            index = check_int("index", index)
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def pop(self):
        """Remove the last layer and return it; the layers left keep their weights (the optimizer starts over)."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        last = self.layers[-1]
        kept = self.get_weights()[:len(self.get_weights()) - len(last.param_specs())] if self.built else None
        self._layers.remove(last)
        self.built = False
        if kept is not None and self.layers:
            self._build(self._input_shape)
            self.set_weights(kept)
        return last

    # --- description -----------------------------------------------------------------
    def summary(self, print_fn=None):
        """Print a Keras-like table: each layer, its output shape and parameter count."""
        self._require_built("summary")
        print_fn = print_fn or print
        rule = "_" * 65
        print_fn(f'Model: "{self.name}"')
        print_fn(rule)
        print_fn(f" {'Layer (type)':<28}{'Output Shape':<26}{'Param #':>9}")
        print_fn("=" * 65)
        for layer in self.layers:
            shape = str(layer.output_shape if isinstance(layer, Sequential) else (None,) + tuple(layer.output_shape))
            print_fn(f" {layer.name + ' (' + layer.describe() + ')':<28}{shape:<26}{layer.count_params():>9,}")
        print_fn("=" * 65)
        total = self.count_params()
        frozen = sum(int(np.size(w)) for w in self.non_trainable_weights)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {total - frozen:,}")
        print_fn(f"Non-trainable params: {frozen:,}")
        print_fn(rule)

    def export(self, filepath, format="onnx"):
        """Write the inference network for other runtimes: format "onnx" (Keras 3's method; see onnx_export.py)."""
        if format != "onnx":
            raise ValueError(f"fastnn exports format='onnx' only. Received: format={format!r}")
        from .onnx_export import export
        export(self, filepath)

    def save(self, path):
        """Write architecture, compile config, weights and optimizer state to one .npz file, atomically."""
        from .saving import save_model
        save_model(self, path)

    def save_weights(self, path):
        """Write the weights alone to one .npz file, atomically."""
        from .saving import save_weights
        save_weights(self, path)

    def load_weights(self, path):
        """Read weights written by save_weights (or save) into this built model."""
        from .saving import load_weights
        load_weights(self, path)

    def get_config(self):
        """Architecture as plain data (layer class names and configs)."""
        layers = [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers]
        return {"name": self.name, "dtype": self.dtype,
                "input_shape": None if self._input_shape is None else list(self._input_shape), "layers": layers}


def _sharing(model):
    """The other live models whose weights live in model's parameter buffer (a Sequential used as a layer
    of another shares its buffer with it)."""
    return [] if model._store is None else [other for other in model._store.models if other is not model]


def _result(logs, return_dict):
    """What evaluate returns: the logs dict, or the loss alone without metrics, else [loss, *metrics]."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)) or verbose not in (0, 1, 2):
        raise ValueError(f"Expected verbose to be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return int(verbose)


def _check_callbacks(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise TypeError(f"Expected callbacks to be a list of fastnn.callbacks.Callback. Received: {callbacks!r}")
    return list(callbacks)
