"""fastnn.sklearn: scikit-learn's own estimator checks, and the same numbers as scikit-learn's MLPs.

scikit-learn is the independent reference: from the same random_state both draw the same initial
weights and the same shuffles, so every solver's coefs_ must agree to float64 rounding.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra (in the test extra)")
import scipy.sparse  # noqa: E402
from sklearn import neural_network  # noqa: E402
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(max_iter=50), MLPRegressor(max_iter=50)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _digits(n=400):
    x, y = load_digits(return_X_y=True)
    return x[:n] / 16, y[:n]


def _regression(n_targets):
    x, y = make_regression(240, 8, n_targets=n_targets, noise=1.0, random_state=0)
    return x, y / 100


def _multilabel():
    return make_multilabel_classification(240, 10, n_classes=4, random_state=0)


def _poisson():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6))
    return x, rng.poisson(np.exp(0.5 * x[:, 0])).astype(float)


def _same_fit(theirs, ours, rtol=1e-9, atol=1e-12):
    """Every fitted weight and training record of ours equals scikit-learn's."""
    for a, b in zip(theirs.coefs_ + theirs.intercepts_, ours.coefs_ + ours.intercepts_):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for name in ("best_loss_", "best_validation_score_", "validation_scores_"):
        if getattr(theirs, name, None) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=rtol)


CLASSIFIER = {  # name: (data, estimator parameters)
    "sgd": (_digits, dict(solver="sgd", hidden_layer_sizes=(16,))),
    "sgd nesterov, no shuffle": (_digits, dict(solver="sgd", momentum=0.5, shuffle=False, batch_size=64)),
    "sgd invscaling, tanh": (_digits, dict(solver="sgd", learning_rate="invscaling", activation="tanh")),
    "sgd adaptive, logistic": (_digits, dict(solver="sgd", learning_rate="adaptive", activation="logistic",
                                             tol=10.0, n_iter_no_change=1)),
    "adam": (_digits, dict(hidden_layer_sizes=(16, 12), alpha=1e-2)),
    "adam early stopping": (_digits, dict(early_stopping=True, max_iter=12, hidden_layer_sizes=(16,))),
    "adam stops on tol": (_digits, dict(tol=0.5, n_iter_no_change=2, max_iter=20)),
    "binary": (lambda: (_digits()[0], _digits()[1] % 2), dict(batch_size=48)),
    "multilabel": (_multilabel, dict(activation="identity")),
    "lbfgs": (_digits, dict(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=15)),
}
REGRESSOR = {
    "one output, sgd": (lambda: _regression(1), dict(solver="sgd", learning_rate_init=1e-3)),
    "three outputs, adam": (lambda: _regression(3), dict(alpha=0.05, batch_size=50)),
    "three outputs, lbfgs": (lambda: _regression(3), dict(solver="lbfgs", max_iter=15)),
}
CASES = [(neural_network.MLPClassifier, MLPClassifier, *case) for case in CLASSIFIER.values()] + \
    [(neural_network.MLPRegressor, MLPRegressor, *case) for case in REGRESSOR.values()]


@pytest.mark.parametrize("theirs, ours, data, params", CASES, ids=list(CLASSIFIER) + list(REGRESSOR))
def test_same_numbers_as_scikit_learn(theirs, ours, data, params):
    x, y = data()
    params = {"max_iter": 5, "random_state": 0, **params}
    _same_fit(theirs(**params).fit(x, y), ours(**params).fit(x, y))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_regressor_matches_to_the_log_guard(solver):
    """Keras's Poisson loss takes log(p + 1e-7): the same fit to about 1e-7."""
    x, y = _poisson()
    params = dict(loss="poisson", solver=solver, max_iter=5, random_state=0)
    _same_fit(neural_network.MLPRegressor(**params).fit(x, y), MLPRegressor(**params).fit(x, y), rtol=1e-5,
              atol=1e-6)


def test_sample_weight_gives_scikit_learns_numbers():
    x, y = _digits()
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    for solver in ("adam", "lbfgs"):
        params = dict(solver=solver, max_iter=4, random_state=0, hidden_layer_sizes=(12,))
        _same_fit(neural_network.MLPClassifier(**params).fit(x, y, sample_weight=w),
                  MLPClassifier(**params).fit(x, y, sample_weight=w))


def test_partial_fit_and_warm_start_continue_as_scikit_learn_even_through_pickle():
    x, y = _digits(600)
    theirs, ours = neural_network.MLPClassifier(random_state=0), MLPClassifier(random_state=0)
    for k in range(3):
        part = slice(200 * k, 200 * (k + 1))
        theirs.partial_fit(x[part], y[part], classes=np.arange(10))
        ours.partial_fit(x[part], y[part], classes=np.arange(10))
        ours = pickle.loads(pickle.dumps(ours))  # Adam's state travels with it
    _same_fit(theirs, ours)
    params = dict(random_state=0, max_iter=3, warm_start=True, solver="sgd")
    _same_fit(neural_network.MLPClassifier(**params).fit(x, y).fit(x, y), MLPClassifier(**params).fit(x, y).fit(x, y))


def test_float32_stays_float32_and_sparse_input_trains_the_same():
    x, y = _digits()
    ours = MLPClassifier(max_iter=3, random_state=0).fit(x.astype(np.float32), y)
    theirs = neural_network.MLPClassifier(max_iter=3, random_state=0).fit(x.astype(np.float32), y)
    assert ours.coefs_[0].dtype == np.float32 and ours.predict_proba(x.astype(np.float32)).dtype == np.float32
    _same_fit(theirs, ours, rtol=2e-4, atol=2e-6)
    sparse = MLPClassifier(max_iter=3, random_state=0).fit(scipy.sparse.csr_matrix(x), y)
    _same_fit(neural_network.MLPClassifier(max_iter=3, random_state=0).fit(x, y), sparse)


def test_predictions_and_scores_equal_scikit_learns_on_the_same_weights():
    x, y = _digits()
    ours = MLPClassifier(max_iter=5, random_state=0).fit(x, y)
    theirs = neural_network.MLPClassifier(max_iter=5, random_state=0).fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(x), theirs.predict_log_proba(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    assert ours.score(x, y) == theirs.score(x, y)
    ours.coefs_[0][:] = 0.0  # a user's edit of coefs_ is what predicts next, as in scikit-learn
    theirs.coefs_[0][:] = 0.0
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), rtol=1e-9, atol=1e-12)


def _search(estimator):
    x, y = load_digits(return_X_y=True)
    grid = {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__hidden_layer_sizes": [(8,), (32,)]}
    return GridSearchCV(make_pipeline(StandardScaler(), estimator), grid, cv=3).fit(x, y)


def test_pipeline_and_grid_search_score_as_scikit_learns():
    ours = _search(MLPClassifier(max_iter=30, random_state=0))
    theirs = _search(neural_network.MLPClassifier(max_iter=30, random_state=0))
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])
    assert ours.best_params_ == theirs.best_params_ and ours.best_score_ > 0.85


def test_max_iter_warns_and_bad_parameters_are_scikit_learns_errors():
    x, y = _digits(100)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(max_iter=2).fit(x, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(0,)).fit(x, y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        MLPClassifier(learning_rate_init=-1.0).fit(x, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(x, y, classes=np.arange(10))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(bad, y)
    fitted = MLPRegressor(max_iter=2).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="features"):
            fitted.predict(x[:, :5])


def test_without_scikit_learn_the_import_error_names_the_extra():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import fastnn.sklearn\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'fastnn[sklearn]'" in out
