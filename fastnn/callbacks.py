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
        arity = 1 if hook in ("on_train_begin", "on_train_end") else 2  # (logs) or (epoch or batch, logs)

        def call(*args):
            args += (None,) * (arity - len(args))  # logs=None when fit has none, as Keras passes it
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
        if self.total is None and not final:  # a stream of unknown length: a count, no bar and no ETA
            self.stream.write(f"\r{done}/Unknown{_fmt_logs(logs)}")
            self.stream.flush()
            return
        total = done if self.total is None else self.total
        digits = len(str(total))
        filled = int(self.width * done / max(total, 1))
        bar = "=" * filled + (">" if done < total else "") + "." * (self.width - filled - (done < total))
        line = f"{done:{digits}d}/{total} [{bar}]"
        if final:
            per = elapsed / max(done, 1)
            unit = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
            line += f" - {_fmt_time(elapsed)} {unit}"
        else:
            line += f" - ETA: {_fmt_time(elapsed / max(done, 1) * (total - done))}"
        line += _fmt_logs(logs)
        self.stream.write(("\r" if self.dynamic else "") + line + ("\n" if final else ""))
        self.stream.flush()


class ProgbarLogger(Callback):
    """verbose=1: a bar per epoch; verbose=2: one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self.bar = None
        self.done = 0

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params['epochs']}", file=sys.stdout)
        self.bar, self.done = ProgressBar(self.params["steps"]), 0

    def progress(self, done, logs):
        """Called by fit after each compiled chunk of batches (not a per-batch hook)."""
        self.done = done
        if self.verbose == 1:
            self.bar.update(done, logs)

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params["steps"] or self.done  # (a stream of unknown length: the batches it gave)
        if self.verbose == 1:
            self.bar.update(steps, logs or {}, final=True)
        else:
            elapsed = time.perf_counter() - self.bar.start
            print(f"{steps}/{steps} - {_fmt_time(elapsed)}{_fmt_logs(logs or {})}")
        sys.stdout.flush()


def _check_monitor(monitor, mode):
    """Validate a monitored log name and a mode (the checks EarlyStopping, ModelCheckpoint and
    ReduceLROnPlateau share; each keeps Keras's own 'auto' rule)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Expected mode to be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if not isinstance(monitor, str):
        raise TypeError(f"Expected monitor to be a log name such as 'val_loss'. Received: monitor={monitor!r}")


def _learning_rate(model):
    return float(model.optimizer.learning_rate)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by min_delta for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        _check_monitor(monitor, mode)
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
        _check_monitor(monitor, mode)
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


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to schedule(epoch, lr) (or schedule(epoch)), as Keras 3."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Expected schedule to be a function of (epoch, lr). Received: {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        try:
            lr = self.schedule(epoch, _learning_rate(self.model))
        except TypeError:  # a schedule of the epoch alone, as Keras also accepts
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (float, int, np.floating, np.integer)) or not lr > 0 \
                or not math.isfinite(lr):
            raise ValueError(f"The output of the `schedule` function should be a positive float. Got: {lr!r}")
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` stops improving for `patience` epochs (Keras 3)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        _check_monitor(monitor, mode)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau needs 0 < factor < 1. Received: factor={factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0. Received: {name}={value!r}")
        for name, value in (("min_delta", min_delta), ("min_lr", min_lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Expected {name} to be a number >= 0. Received: {name}={value!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), patience, verbose
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), cooldown, float(min_lr)
        self.minimize = mode == "min" or (mode == "auto" and "acc" not in monitor)

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.minimize else -math.inf
        self.wait = self.cooldown_counter = 0

    def _improved(self, value):
        return value < self.best - self.min_delta if self.minimize else value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model)
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs)}); it does nothing this epoch.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            old = _learning_rate(self.model)
            if self.wait >= self.patience and old > np.float32(self.min_lr):
                new = max(old * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write each epoch's logs as one CSV row (header: epoch, then the log names sorted), as Keras 3."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"Expected filename to be a str or os.PathLike. Received: filename={filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"Expected separator to be one character. Received: separator={separator!r}")
        self.filename, self.separator = os.fspath(filename), separator
        self.append = check_bool("append", append)
        self.keys = self.writer = self.file = None

    def on_train_begin(self, logs=None):
        header = not (self.append and os.path.isfile(self.filename) and os.path.getsize(self.filename) > 0)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys, self.writer, self._header = None, None, header

    def on_epoch_end(self, epoch, logs=None):
        import csv
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.params.get("do_validation") and not any(k.startswith("val_") for k in self.keys):
                self.keys += ["val_" + k for k in self.keys]  # validation_freq > 1: not in every epoch's logs
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            if self._header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
        self.file = self.writer = None


class BackupAndRestore(Callback):
    """Resume an interrupted fit: back up the model after every epoch into backup_dir; a fit that starts
    with a backup there restores its weights and optimizer state and goes on after its last epoch.

    As in Keras 3, a fit that ends normally deletes the backup (delete_checkpoint=False keeps it).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise TypeError(f"Expected backup_dir to be a folder path. Received: backup_dir={backup_dir!r}")
        if save_freq != "epoch":
            raise ValueError(f"fastnn's BackupAndRestore backs up after every epoch: save_freq='epoch'. "
                             f"Received: save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = check_bool("delete_checkpoint", delete_checkpoint)
        self._model_path = os.path.join(self.backup_dir, "model.npz")
        self._epoch_path = os.path.join(self.backup_dir, "training_metadata.json")

    def on_train_begin(self, logs=None):
        import json
        from . import saving
        if not os.path.isfile(self._epoch_path):
            return
        with open(self._epoch_path) as f:
            epoch = json.load(f).get("epoch")
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{self._epoch_path!r} does not hold a backed-up epoch number. Received: {epoch!r}")
        saving.restore_training_state(self.model, self._model_path)
        self.model._resume_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        import json
        from . import saving
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.save_model(self.model, self._model_path)
        tmp = self._epoch_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": epoch + 1}, f)
        os.replace(tmp, self._epoch_path)  # written after the model: a backup never claims an unsaved epoch

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            import shutil
            shutil.rmtree(self.backup_dir, ignore_errors=True)
