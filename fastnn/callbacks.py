"""Callbacks: hooks into fit (Keras's names), the History record and the progress bar.

Per-batch hooks (on_train_batch_begin/end, alias on_batch_begin/end) make the compiled
loop return to Python after every batch; a fit without them returns only a few dozen
times per second (for the progress bar) or once per epoch.
"""

import math
import os
import sys
import time
import warnings

import numpy as np

from ._checks import check_bool


class Callback:
    """Base class: override the hooks you need; `self.model` and `self.params` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass

    def on_train_end(self, logs=None): pass

    def on_epoch_begin(self, epoch, logs=None): pass

    def on_epoch_end(self, epoch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None): pass

    def on_batch_end(self, batch, logs=None): pass

    def wants_batches(self):
        """True when a per-batch hook is overridden (fit then steps one batch at a time)."""
        names = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
        return any(getattr(type(self), n) is not getattr(Callback, n) for n in names)


class CallbackList:
    """Calls every callback's hook in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def wants_batches(self):
        return any(cb.wants_batches() for cb in self.callbacks)

    def __getattr__(self, hook):
        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call


class History(Callback):
    """Records the logs of every epoch: `history` maps each name to its per-epoch list."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self

    def plot(self, path, keys=None):
        """Draw the recorded curves (loss, metrics, their val_ twins) to an image file (needs matplotlib)."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise RuntimeError("History.plot needs matplotlib: pip install 'fastnn[plot]'") from exc
        names = [k for k in self.history if not k.startswith("val_")] if keys is None else list(keys)
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
        for ax, name in zip(axes[0], names):
            epochs = [e + 1 for e in self.epoch]
            for key in (name, "val_" + name):
                if key in self.history:
                    ax.plot(epochs, self.history[key], marker="o", label=key)
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def _fmt_logs(logs):
    return "".join(f" - {k}: {v:.4f}" for k, v in logs.items())


def _fmt_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


class ProgressBar:
    """Keras-style progress: a redrawn bar with ETA on a terminal, the final line otherwise."""

    def __init__(self, total, width=30, stream=None):
        self.total = total
        self.width = width
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, done, logs, final=False):
        if not (self.dynamic or final):
            return
        elapsed = time.perf_counter() - self.start
        digits = len(str(self.total))
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * filled + (">" if done < self.total else "") + "." * (self.width - filled - (done < self.total))
        line = f"{done:{digits}d}/{self.total} [{bar}]"
        if final:
            per = elapsed / max(done, 1)
            unit = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
            line += f" - {_fmt_time(elapsed)} {unit}"
        else:
            line += f" - ETA: {_fmt_time(elapsed / max(done, 1) * (self.total - done))}"
        line += _fmt_logs(logs)
        self.stream.write(("\r" if self.dynamic else "") + line + ("\n" if final else ""))
        self.stream.flush()


class ProgbarLogger(Callback):
    """verbose=1: a bar per epoch; verbose=2: one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params['epochs']}", file=sys.stdout)
        self.bar = ProgressBar(self.params["steps"])

    def progress(self, done, logs):
        """Called by fit after each compiled chunk of batches (not a per-batch hook)."""
        if self.verbose == 1:
            self.bar.update(done, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            self.bar.update(self.params["steps"], logs or {}, final=True)
        else:
            elapsed = time.perf_counter() - self.bar.start
            print(f"{self.params['steps']}/{self.params['steps']} - {_fmt_time(elapsed)}{_fmt_logs(logs or {})}")
        sys.stdout.flush()


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by min_delta for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"Expected mode to be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"Expected monitor to be a log name such as 'val_loss'. Received: monitor={monitor!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.number)):
            raise TypeError(f"Expected min_delta to be a number. Received: min_delta={min_delta!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"Expected patience to be an integer >= 0. Received: patience={patience!r}")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        maximize = mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.endswith("auc")))
        self.sign = 1.0 if maximize else -1.0
        self.min_delta = abs(float(min_delta))
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self.baseline is None else self.sign * self.baseline
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping: monitor {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})}); it does nothing this epoch.", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self.sign * value - self.min_delta > self.best:
            self.best = self.sign * value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None and self.model.stop_training:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite.

    The compiled loop already halts at the first non-finite batch and fit calls
    on_train_batch_end at the end of every compiled run, so this needs no per-batch stepping.
    """

    def wants_batches(self):
        return False

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise ValueError(f"Unknown LambdaCallback hook {name!r}; expected one of {self._HOOKS}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback {name} must be callable. Received: {fn!r}")
            setattr(self, name, fn)

    def wants_batches(self):
        return any(n in vars(self) for n in self._HOOKS if "batch" in n)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch, or only when `monitor` improves (Keras's rules).

    filepath may hold format fields: {epoch:02d} (counted from 1) and any log key, e.g.
    "ckpt-{epoch:02d}-{val_loss:.3f}.npz"; missing folders are created, ".npz" is appended when absent.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"Expected filepath to be a str or os.PathLike. Received: filepath={filepath!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"Expected monitor to be a log name such as 'val_loss'. Received: monitor={monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"Expected mode to be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.save_weights_only = check_bool("save_weights_only", save_weights_only)
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        maximize = mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure")))
        self.monitor_op = np.greater if maximize else np.less
        self.best = -np.inf if maximize else np.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if not self.save_best_only:
            self._say(f"Epoch {epoch + 1}: saving model to {path}")
            self._save(path)
            return
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping. "
                          f"Available logs: {sorted(logs)}", stacklevel=2)
        elif self.monitor_op(current, self.best):
            self._say(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
            self._save(path)
        else:
            self._say(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f'Failed to format this callback filepath: "{self.filepath}". Reason: '
                             f"{type(exc).__name__}: {exc}. Available fields: epoch, {', '.join(logs)}") from None

    def _save(self, path):
        from . import saving
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            saving.save_weights(self.model, path)
        else:
            saving.save_model(self.model, path)

    def _say(self, message):
        if self.verbose:
            print(message)
