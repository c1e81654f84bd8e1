"""Keras 3's LearningRateScheduler, ReduceLROnPlateau and CSVLogger, and fit(validation_freq=)."""

import csv

import numpy as np
import pytest

import fastnn as fnn
from fastnn import callbacks, layers

RNG = np.random.default_rng(2)
X = RNG.normal(size=(16, 3))
Y = RNG.integers(0, 2, 16)


def model(lr=0.1):
    fnn.utils.set_random_seed(4)
    m = fnn.Sequential([layers.Dense(4, activation="tanh", input_shape=(3,)), layers.Dense(2, activation="softmax")])
    m.compile(optimizer=fnn.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it():
    seen = []
    m = model()
    spy = callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(m.optimizer.learning_rate))
    history = m.fit(X, Y, epochs=3, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr), spy])
    assert seen == [0.1, 0.05, 0.025] and history.history["learning_rate"] == [0.1, 0.05, 0.025]
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert m.optimizer.learning_rate == 0.02


def test_the_scheduled_rate_is_the_one_the_step_uses():
    """One SGD epoch at the scheduled rate equals one at that rate from the start."""
    a, b = model(lr=0.1), model(lr=0.3)
    a.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0,
          callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.3)])
    b.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("bad", [lambda epoch, lr: "fast", lambda epoch, lr: -1.0, lambda epoch, lr: float("nan")])
def test_a_schedule_must_return_a_positive_float(bad):
    m = model()
    with pytest.raises(ValueError, match="should be a positive float"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(bad)])
    assert m.optimizer.learning_rate == 0.1


def test_reduce_lr_on_plateau_follows_keras_rules():
    """Fed losses by hand: patience 2, factor 0.5, cooldown 1, min_lr 0.02 (Keras 3's bookkeeping:
    a reduction starts a cooldown, during which waiting does not count; the rate never goes below min_lr)."""
    m = model()
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    cb.set_model(m)
    cb.on_train_begin()
    logged, rates = [], []
    for epoch, loss in enumerate([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5]):
        logs = {"loss": loss}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
        rates.append(m.optimizer.learning_rate)
    assert rates == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    assert logged == [0.1] + rates[:-1]  # the rate the epoch ran with
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_in_fit_lowers_a_stalled_rate():
    m = model(lr=1e-9)  # nothing moves: val_loss stalls at once
    history = m.fit(X, Y, epochs=4, verbose=0, validation_split=0.25,
                    callbacks=[callbacks.ReduceLROnPlateau(patience=1, factor=0.5)])
    assert history.history["learning_rate"][0] == 1e-9 and m.optimizer.learning_rate < 1e-9


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    m = model()
    m.fit(X, Y, epochs=2, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert float(rows[1]["loss"]) == pytest.approx(m.history.history["loss"][1])
    m.fit(X, Y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, append=True)])
    assert len(path.read_text().splitlines()) == 4  # one header, three rows
    with pytest.raises(ValueError, match="separator"):
        callbacks.CSVLogger(path, separator="::")


def test_validation_freq_validates_every_nth_epoch():
    m = model()
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append("val_loss" in logs))
    seen = []
    m.fit(X, Y, epochs=4, verbose=0, validation_split=0.25, validation_freq=2, callbacks=[cb])
    assert seen == [False, True, False, True]
    with pytest.raises(ValueError, match="validation_freq"):
        m.fit(X, Y, epochs=1, verbose=0, validation_freq=0)


class Crash(callbacks.Callback):
    """Raises at the end of epoch `at` (after the callbacks listed before it ran)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt("power cut")


def test_backup_and_restore_resumes_an_interrupted_fit_where_it_stopped(tmp_path):
    """Interrupted after epoch 3 of 5, then fit again: the same weights as 5 epochs in one go (Adam state too)."""
    def adam_model():
        m = model()
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m
    whole = adam_model()
    whole.fit(X, Y, epochs=5, batch_size=4, shuffle=False, verbose=0)
    backup = tmp_path / "backup"
    resumed = adam_model()
    with pytest.raises(KeyboardInterrupt):
        resumed.fit(X, Y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                    callbacks=[callbacks.BackupAndRestore(backup), Crash(at=2)])
    assert backup.is_dir()
    again = adam_model()  # a fresh process would rebuild the model like this
    history = again.fit(X, Y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                        callbacks=[callbacks.BackupAndRestore(backup)])
    assert history.epoch == [3, 4] and again.optimizer.iterations == whole.optimizer.iterations
    for a, b in zip(again.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()  # a fit that ends normally deletes its backup
    with pytest.raises(ValueError, match="save_freq='epoch'"):
        callbacks.BackupAndRestore(backup, save_freq=10)
