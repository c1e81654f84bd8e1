"""Keras 3 conveniences: the on-batch methods, model(x), get_layer, pop, utils and regularizer aliases."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(5)
X = RNG.normal(size=(10, 4))
Y = RNG.integers(0, 3, 10)


def model(metrics=("accuracy",)):
    fnn.utils.set_random_seed(1)
    m = fnn.Sequential([layers.Dense(6, activation="relu", input_shape=(4,), name="hidden"),
                        layers.Dense(3, activation="softmax", name="out")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return m


def test_train_on_batch_is_one_step_of_fit_over_the_whole_batch():
    a, b = model(), model()
    loss, accuracy = a.train_on_batch(X, Y)
    history = b.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0).history
    assert (loss, accuracy) == (history["loss"][0], history["accuracy"][0])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert a.optimizer.iterations == 1 and a.history is None
    assert set(a.train_on_batch(X, Y, return_dict=True)) == {"loss", "accuracy"}


def test_test_and_predict_on_batch_and_call_match_evaluate_and_predict():
    m = model()
    assert m.test_on_batch(X, Y) == m.evaluate(X, Y, batch_size=len(X), verbose=0)
    np.testing.assert_array_equal(m.predict_on_batch(X), m.predict(X))
    np.testing.assert_array_equal(m(X), m.predict(X))
    assert model(metrics=()).test_on_batch(X, Y) == pytest.approx(model(metrics=()).evaluate(X, Y, verbose=0))
    with pytest.raises(ValueError, match="inference mode only"):
        m(X, training=True)


def test_get_layer_by_name_or_index_as_keras():
    m = model()
    assert m.get_layer("out") is m.layers[1] and m.get_layer(index=0) is m.layers[0]
    assert m.get_layer("hidden", index=-1) is m.layers[1]  # index wins
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: \['hidden', 'out'\]"):
        m.get_layer("nope")
    with pytest.raises(ValueError, match="only has 2 layers"):
        m.get_layer(index=2)
    with pytest.raises(ValueError, match="Provide either a layer name or layer index"):
        m.get_layer()


def test_pop_returns_the_last_layer_and_the_rest_keep_their_weights():
    m = model()
    first = m.get_weights()[:2]
    popped = m.pop()
    assert popped.name == "out" and [layer.name for layer in m.layers] == ["hidden"]
    assert m.output_shape == (None, 6)
    for a, b in zip(m.get_weights(), first):
        np.testing.assert_array_equal(a, b)
    m.add(layers.Dense(2, activation="softmax"))
    m.fit(X, Y % 2, epochs=1, verbose=0)
    m.pop(), m.pop()
    assert not m.built and m.layers == []
    with pytest.raises(TypeError, match="There are no layers in the model"):
        m.pop()


def test_to_categorical_and_normalize_give_keras_results():
    np.testing.assert_array_equal(fnn.utils.to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert fnn.utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert fnn.utils.to_categorical(np.zeros((2, 3)), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"class labels in \[0, 2\)"):
        fnn.utils.to_categorical([0, 2], num_classes=2)
    with pytest.raises(ValueError, match="integer class labels"):
        fnn.utils.to_categorical([0.5, 1])
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(fnn.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(fnn.utils.normalize(x, axis=0, order=1), [[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="axis"):
        fnn.utils.normalize(x, axis=2)


def test_lowercase_regularizers_are_keras_aliases():
    assert fnn.regularizers.l1 is fnn.regularizers.L1 and fnn.regularizers.l2 is fnn.regularizers.L2
    assert fnn.regularizers.l1_l2(l1=0.01).get_config() == {"l1": 0.01, "l2": 0.0}
    layer = layers.Dense(2, kernel_regularizer=fnn.regularizers.l2(0.1))
    assert layer.kernel_regularizer.l2 == 0.1


def test_softmax_layer_turns_scores_into_probabilities_and_saves(tmp_path):
    """The tutorial's last step on a plain model: logits -> probabilities."""
    fnn.utils.set_random_seed(2)
    logits = fnn.Sequential([layers.Dense(3, input_shape=(4,))])
    probs = fnn.Sequential([layers.Dense(3, input_shape=(4,)), layers.Softmax()])
    probs.set_weights(logits.get_weights())
    z = logits.predict(X)
    want = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs.predict(X), want / want.sum(axis=1, keepdims=True), rtol=1e-5)
    probs.save(tmp_path / "p.npz")
    np.testing.assert_array_equal(fnn.load_model(tmp_path / "p.npz").predict(X), probs.predict(X))
    with pytest.raises(ValueError, match="axis=-1"):
        layers.Softmax(axis=0)


def test_metric_objects_log_under_their_names_and_rmse_is_the_root_of_mse(tmp_path):
    m = fnn.Sequential([layers.Dense(2, input_shape=(4,))])
    m.compile(optimizer="sgd", loss="mse", metrics=["mse", fnn.metrics.RootMeanSquaredError(),
                                                     fnn.metrics.MeanAbsoluteError(name="l1")])
    target = RNG.normal(size=(10, 2))
    logs = m.evaluate(X, target, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mse", "root_mean_squared_error", "l1"] and m.metrics_names == list(logs)[1:]
    assert logs["root_mean_squared_error"] == pytest.approx(np.sqrt(logs["mse"]))
    assert logs["l1"] == pytest.approx(np.abs(m.predict(X) - target).mean(), rel=1e-5)
    m.save(tmp_path / "m.npz")
    assert fnn.load_model(tmp_path / "m.npz").evaluate(X, target, verbose=0) == pytest.approx(list(logs.values()))
    c = model(metrics=[fnn.metrics.SparseCategoricalAccuracy()])
    assert c.fit(X, Y, epochs=1, verbose=0).history.keys() == {"loss", "sparse_categorical_accuracy"}
    with pytest.raises(ValueError, match=r"threshold to be a finite number in \[0\.0, 1\.0\]"):
        fnn.metrics.BinaryAccuracy(threshold=1.5)
    with pytest.raises(ValueError, match="Two metrics are named 'mse'"):
        m.compile(optimizer="sgd", loss="mse", metrics=["mse", fnn.metrics.MeanSquaredError(name="mse")])


def test_the_tutorials_probability_model_wraps_the_trained_model_and_shares_its_weights(tmp_path):
    """keras.Sequential([model, keras.layers.Softmax()]): the model is one layer of the new one, whose
    predictions are the softmax of its logits; training either changes the weights both use."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)), rng.integers(0, 3, 50)
    model = fnn.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)), layers.Dense(3)])
    model.compile(optimizer="adam", loss=fnn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, verbose=0)
    probability_model = fnn.Sequential([model, layers.Softmax()])
    logits = model.predict(x)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probability_model.predict(x), want / want.sum(axis=1, keepdims=True), atol=1e-6)
    assert probability_model.layers[0] is model and probability_model.count_params() == model.count_params() == 83
    lines = []
    probability_model.summary(print_fn=lines.append)
    assert any(line.startswith(f" {model.name} (Sequential)") and "(None, 3)" in line for line in lines)

    probability_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    probability_model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(model.predict(x), logits)  # the outer model trained the inner one's weights
    before = probability_model.predict(x)
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(probability_model.predict(x), before)  # and the other way round

    probability_model.save(str(tmp_path / "outer.npz"))
    model.save(str(tmp_path / "inner.npz"))
    again = fnn.load_model(str(tmp_path / "outer.npz"))
    np.testing.assert_array_equal(again.predict(x), probability_model.predict(x))
    assert [type(layer).__name__ for layer in again.layers] == ["Sequential", "Softmax"]
    np.testing.assert_array_equal(fnn.load_model(str(tmp_path / "inner.npz")).predict(x), model.predict(x))


def test_a_frozen_inner_model_stays_as_it_is_while_the_head_trains():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    base = fnn.Sequential([layers.Dense(8, activation="relu", input_shape=(6,))])
    base.trainable = False
    model = fnn.Sequential([base, layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    frozen, head = base.get_weights(), model.get_weights()[-2]
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(frozen, base.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(head, model.get_weights()[-2])


def test_a_model_as_a_layer_is_refused_clearly_where_fastnn_cannot_share_it():
    built = fnn.Sequential([layers.Dense(2, input_shape=(6,))])
    with pytest.raises(ValueError, match="as the first layer of another only"):
        fnn.Sequential([layers.Dense(6, input_shape=(6,)), built])
    with pytest.raises(ValueError, match="must be built before it is used as a layer"):
        fnn.Sequential([fnn.Sequential([layers.Dense(2)])])
    with pytest.raises(ValueError, match="shared weights need one dtype"):
        fnn.Sequential([built], dtype="float64")
    outer = fnn.Sequential([built, layers.Softmax()])

    class Elsewhere:
        name = "cuda"
    with pytest.raises(ValueError, match="shares its weights with"):
        outer._move_to(Elsewhere())
    assert outer.device == built.device == "cpu"
