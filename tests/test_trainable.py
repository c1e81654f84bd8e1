"""layer.trainable / model.trainable as in Keras 3: frozen weights never change, gradients still
flow through them, their regularisers leave the loss, and the flags count from compile() on."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(3)
X = RNG.normal(size=(12, 4))
Y = RNG.integers(0, 3, 12)


def three_layer(optimizer="adam", device="cpu", frozen=(), regularized=False):
    fnn.utils.set_random_seed(7)
    reg = fnn.regularizers.L2(0.1) if regularized else None
    model = fnn.Sequential([layers.Dense(6, activation="tanh", input_shape=(4,), kernel_regularizer=reg),
                            layers.Dense(5, activation="relu"), layers.Dense(3, activation="softmax")])
    for i in frozen:
        model.layers[i].trainable = False
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", device=device)
    return model


def one_step(model, rows=len(X)):
    """One full-batch step, no shuffling: every trainable weight moves by its first gradient."""
    return model.fit(X[:rows], Y[:rows], epochs=1, batch_size=rows, shuffle=False, verbose=0).history["loss"][0]


@pytest.mark.parametrize("optimizer,device", [("sgd", "cpu"), ("adam", "cpu"), ("rmsprop", "cpu"),
                                              ("adagrad", "cpu"), ("adam", "cuda")])  # (simulated: slow)
def test_a_frozen_layer_keeps_its_weights_and_the_others_take_the_full_models_first_step(optimizer, device):
    """Backprop runs through the frozen middle layer: the first step of the others equals the all-trainable one's."""
    if device == "cuda":
        pytest.importorskip("numba.cuda")
    free, frozen = three_layer(optimizer, device), three_layer(optimizer, device, frozen=[1])
    before, rows = frozen.get_weights(), 4 if device == "cuda" else len(X)  # (the simulator is slow)
    assert one_step(free, rows) == pytest.approx(one_step(frozen, rows), rel=1e-6)
    after, reference = frozen.get_weights(), free.get_weights()
    for i in (2, 3):
        np.testing.assert_array_equal(after[i], before[i])
    for i in (0, 1, 4, 5):
        assert not np.array_equal(after[i], before[i])
        np.testing.assert_allclose(after[i], reference[i], rtol=1e-5, atol=1e-7)
    slots = frozen._backend.to_host(frozen.optimizer.slots)
    start, stop = frozen.layers[1].param_ranges()[0][0], frozen.layers[1].param_ranges()[-1][1]
    initial = 0.1 if optimizer == "adagrad" else 0.0  # Keras's initial_accumulator_value for Adagrad
    assert (slots[:, start:stop] == np.float32(initial)).all()  # the optimizer state of what never trains


def test_model_trainable_false_freezes_every_layer_and_summary_counts_them(capsys):
    model = three_layer()
    model.trainable = False
    assert all(not layer.trainable for layer in model.layers) and model.trainable_weights == []
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    one_step(model)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model.layers[2].trainable = True
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 83" in out and "Trainable params: 18" in out and "Non-trainable params: 65" in out
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4


def test_a_flag_changed_after_compile_counts_from_the_next_compile_as_in_keras():
    model = three_layer()
    model.layers[0].trainable = False  # after compile: not yet in effect
    before = model.get_weights()
    one_step(model)
    assert not np.array_equal(model.get_weights()[0], before[0])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    moved = model.get_weights()
    one_step(model)
    np.testing.assert_array_equal(model.get_weights()[0], moved[0])


def test_a_frozen_layers_regulariser_leaves_the_loss():
    """Keras sums the regularisers of trainable weights only."""
    plain, frozen_reg = three_layer(frozen=[0]), three_layer(frozen=[0], regularized=True)
    assert one_step(frozen_reg) == pytest.approx(one_step(plain), rel=1e-6)
    assert three_layer(regularized=True).evaluate(X, Y, verbose=0) > plain.evaluate(X, Y, verbose=0)


def test_trainable_survives_save_and_load(tmp_path):
    model = three_layer(frozen=[0, 2])
    model.save(tmp_path / "m.npz")
    again = fnn.load_model(tmp_path / "m.npz")
    assert [layer.trainable for layer in again.layers] == [False, True, False]
    before = again.get_weights()
    one_step(again)
    np.testing.assert_array_equal(again.get_weights()[0], before[0])


@pytest.mark.parametrize("value", ["no", 0, None])
def test_trainable_must_be_a_bool(value):
    layer = layers.Dense(2)
    with pytest.raises(TypeError, match="trainable"):
        layer.trainable = value
    with pytest.raises(TypeError, match="trainable"):
        fnn.Sequential([layers.Dense(2, input_shape=(3,))]).trainable = value
    assert layer.trainable is True
