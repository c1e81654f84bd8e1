"""Batches as input (Keras 3): generators, lists of (x, y) batches and PyDataset for fit, evaluate, predict."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(8)
X = RNG.normal(size=(24, 5))
Y = RNG.integers(0, 3, 24)


def model():
    fnn.utils.set_random_seed(3)
    m = fnn.Sequential([layers.Dense(6, activation="relu", input_shape=(5,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def batches(size=8):
    return [(X[i:i + size], Y[i:i + size]) for i in range(0, len(X), size)]


def generator(epochs, size=8):
    for _ in range(epochs):
        yield from batches(size)


class Dataset(fnn.utils.PyDataset):
    def __init__(self):
        super().__init__(workers=2)
        self.ends = 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return batches()[i]

    def on_epoch_end(self):
        self.ends += 1


def assert_same_training(stream_model, history, epochs=2):
    arrays = model()
    want = arrays.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0).history
    assert history.history == want
    for a, b in zip(stream_model.get_weights(), arrays.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_generator_with_steps_per_epoch_trains_as_the_same_batches_from_arrays():
    m = model()
    assert_same_training(m, m.fit(generator(2), steps_per_epoch=3, epochs=2, verbose=0))


def test_a_list_of_batches_is_read_again_every_epoch():
    m = model()
    assert_same_training(m, m.fit(batches(), epochs=2, verbose=0))


def test_a_pydataset_gives_len_batches_per_epoch_and_hears_each_epoch_end():
    m, data = model(), Dataset()
    assert_same_training(m, m.fit(data, epochs=2, verbose=0))
    assert data.ends == 2


def test_an_iterator_that_runs_out_stops_training_with_a_warning():
    m = model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = m.fit(iter(batches()), epochs=3, verbose=0)
    assert history.epoch == [0]  # a plain iterator holds one epoch


def test_evaluate_and_predict_take_batches_too(capsys):
    m = model()
    m.fit(batches(), epochs=1, verbose=1)
    assert "3/3" in capsys.readouterr().out
    assert m.evaluate(generator(1), verbose=0) == pytest.approx(m.evaluate(X, Y, verbose=0), rel=1e-6)
    assert m.evaluate(Dataset(), steps=2, verbose=0) == pytest.approx(
        m.evaluate(X[:16], Y[:16], verbose=0), rel=1e-6)
    np.testing.assert_array_equal(m.predict(iter([X[:10], X[10:]])), m.predict(X))
    np.testing.assert_array_equal(m.predict(batches()), m.predict(X))  # (x, y) batches: y is ignored


@pytest.mark.parametrize("call, message", [
    (lambda m: m.fit(batches(), Y), "y must be None"),
    (lambda m: m.fit(batches(), validation_split=0.2), "validation_split needs arrays"),
    (lambda m: m.fit(iter([(X, Y, np.ones(24), np.ones(24))])), "a tuple of 4 items"),
    (lambda m: m.fit(X, Y, steps_per_epoch=2), "steps_per_epoch applies"),
    (lambda m: m.fit(iter([X]), verbose=0), "needs \\(x, y\\) or \\(x, y, sample_weight\\) batches"),
    (lambda m: m.fit(batches(), steps_per_epoch=0), "steps"),
    (lambda m: m.evaluate(iter([]), verbose=0), "no batches"),
])
def test_bad_streams_are_refused_clearly_and_change_nothing(call, message):
    m = model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=message):
        call(m)
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_a_list_of_tuples_of_numbers_is_samples_not_batches():
    """XOR as a tutorial writes it: [(0, 0), (0, 1), ...] with y, as before batches existed."""
    m = fnn.Sequential([layers.Dense(2, activation="softmax", input_shape=(2,))])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = m.fit([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 1, 1, 0], epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
