"""MNIST end to end: the tutorial network, trained by the compiled loop, reaches Keras's accuracy."""

import numpy as np

import fastnn as fnn
from fastnn import layers


def tutorial_network():
    model = fnn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation="relu"),
                            layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_three_epochs_reach_97_percent(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    model = tutorial_network()
    history = model.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.97
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.97
    # predict after evaluate agrees with its accuracy and its loss
    probs = model.predict(x_test)
    assert probs.shape == (10000, 10) and probs.dtype == np.float32
    assert np.mean(probs.argmax(1) == y_test) == accuracy
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    ce = -np.mean(np.log(probs[np.arange(len(y_test)), y_test].astype(np.float64)))
    assert abs(ce - loss) < 1e-4


def test_same_seed_same_weights_bit_for_bit(mnist):
    (x_train, y_train), _ = mnist
    runs = []
    for _ in range(2):
        fnn.utils.set_random_seed(7)
        model = tutorial_network()
        model.fit(x_train[:3000], y_train[:3000], epochs=2, batch_size=32, validation_split=0.1, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_images_in_minus_one_to_one(mnist):
    """Pixels fed as brightness in [-1, 1] train as well."""
    (x_train, y_train), (x_test, y_test) = mnist
    model = tutorial_network()
    model.fit(x_train[:10000] * 2 - 1, y_train[:10000], epochs=1, verbose=0)
    assert model.evaluate(x_test * 2 - 1, y_test, verbose=0)[1] > 0.85
