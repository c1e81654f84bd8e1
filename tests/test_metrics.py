"""TopK, Precision, Recall and AUC: Keras 3's definitions, accumulated exactly over every batch of an epoch."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn import layers

RNG = np.random.default_rng(4)
X = RNG.normal(size=(90, 4))
BINARY = (X[:, :2] + 0.8 * RNG.normal(size=(90, 2)) > 0).astype(float)  # two labels per sample
LABELS = RNG.integers(0, 5, 90)


def keras_auc(p, y, num_thresholds=200):
    """Keras's AUC estimate, written out: confusion counts at its thresholds, trapezoid rule over ROC points."""
    eps = 1e-7
    thresholds = np.array([-eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + eps])
    p, y = p.reshape(-1), y.reshape(-1) != 0
    tp = np.array([(p > t)[y].sum() for t in thresholds], float)
    fp = np.array([(p > t)[~y].sum() for t in thresholds], float)
    tpr, fpr = tp / y.sum(), fp / (~y).sum()
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


def binary_model(metrics):
    fnn.utils.set_random_seed(0)
    m = fnn.Sequential([layers.Dense(6, activation="tanh", input_shape=(4,)), layers.Dense(2, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics)
    m.fit(X, BINARY, epochs=3, batch_size=16, verbose=0)
    return m


def test_precision_recall_and_auc_follow_keras_over_every_output():
    m = binary_model([fnn.metrics.Precision(), "recall", fnn.metrics.AUC(), fnn.metrics.AUC(num_thresholds=50,
                                                                                              name="auc_50")])
    p = m.predict(X)
    predicted, actual = p > 0.5, BINARY != 0
    logs = m.evaluate(X, BINARY, batch_size=7, verbose=0, return_dict=True)  # many batches: sums, not means
    assert logs["precision"] == pytest.approx((predicted & actual).sum() / predicted.sum(), rel=1e-12)
    assert logs["recall"] == pytest.approx((predicted & actual).sum() / actual.sum(), rel=1e-12)
    assert logs["auc"] == pytest.approx(keras_auc(p, BINARY), rel=1e-9)
    assert logs["auc_50"] == pytest.approx(keras_auc(p, BINARY, 50), rel=1e-9)
    history = m.fit(X, BINARY, epochs=1, verbose=0, validation_split=0.2).history
    assert set(history) == {"loss", "precision", "recall", "auc", "auc_50", "val_loss", "val_precision",
                            "val_recall", "val_auc", "val_auc_50"}


def test_top_k_accuracy_counts_the_target_among_the_k_highest_scores():
    fnn.utils.set_random_seed(0)
    m = fnn.Sequential([layers.Dense(5, activation="softmax", input_shape=(4,))])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
              metrics=[fnn.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"),
                       "sparse_top_k_categorical_accuracy"])
    p = m.predict(X)
    above = (p > p[np.arange(90), LABELS][:, None]).sum(axis=1)
    logs = m.evaluate(X, LABELS, batch_size=8, verbose=0, return_dict=True)
    assert logs["top2"] == pytest.approx(np.mean(above < 2), rel=1e-12) and 0 < logs["top2"] < 1
    assert logs["sparse_top_k_categorical_accuracy"] == 1.0  # Keras's default k=5 of 5 classes
    dense = fnn.Sequential([layers.Dense(5, activation="softmax", input_shape=(4,))])
    dense.compile(loss="categorical_crossentropy", metrics=[fnn.metrics.TopKCategoricalAccuracy(k=3)])
    q = dense.predict(X)
    above = (q > q[np.arange(90), LABELS][:, None]).sum(axis=1)
    got = dense.evaluate(X, np.eye(5)[LABELS], verbose=0, return_dict=True)["top_k_categorical_accuracy"]
    assert got == pytest.approx(np.mean(above < 3), rel=1e-12)


def test_thresholds_move_what_counts_as_a_positive_prediction():
    m = binary_model([fnn.metrics.BinaryAccuracy(threshold=0.7), fnn.metrics.Precision(thresholds=0.3),
                      fnn.metrics.Recall(thresholds=0.3)])
    p = m.predict(X)
    logs = m.evaluate(X, BINARY, batch_size=9, verbose=0, return_dict=True)
    predicted, actual = p > 0.3, BINARY != 0
    assert logs["binary_accuracy"] == pytest.approx(np.mean((p > 0.7) == actual), rel=1e-12)
    assert logs["precision"] == pytest.approx((predicted & actual).sum() / predicted.sum(), rel=1e-12)
    assert logs["recall"] == pytest.approx((predicted & actual).sum() / actual.sum(), rel=1e-12)


def test_the_new_metrics_are_saved_with_their_arguments(tmp_path):
    m = binary_model([fnn.metrics.AUC(num_thresholds=30, name="auc30"), fnn.metrics.Precision()])
    m.save(str(tmp_path / "m.npz"))
    again = fnn.load_model(str(tmp_path / "m.npz"))
    assert again.evaluate(X, BINARY, verbose=0) == m.evaluate(X, BINARY, verbose=0)
    assert again.metrics_names == ["auc30", "precision"]


@pytest.mark.parametrize("make, message", [
    (lambda: fnn.metrics.Precision(thresholds=[0.3, 0.5]), r"takes one threshold"),
    (lambda: fnn.metrics.Recall(class_id=1), r"class_id=1"),
    (lambda: fnn.metrics.AUC(curve="PR"), r"curve='ROC' only"),
    (lambda: fnn.metrics.AUC(from_logits=True), r"from_logits"),
    (lambda: fnn.metrics.AUC(num_thresholds=1), r"num_thresholds"),
    (lambda: fnn.metrics.TopKCategoricalAccuracy(k=0), r"k"),
])
def test_what_the_kernels_do_not_implement_is_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_metrics_that_need_dense_targets_refuse_integer_labels():
    m = fnn.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    with pytest.raises(ValueError, match="'precision' compares outputs with targets of the same shape"):
        m.compile(loss="sparse_categorical_crossentropy", metrics=["precision"])
