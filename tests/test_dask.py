"""Sweeps on a Dask cluster: GridSearchCV over fastnn.sklearn through joblib's Dask backend, on a LocalCluster
of two worker processes, scores exactly as the same search run here; and the sweep example runs on it."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra (in the test extra)")
distributed = pytest.importorskip("dask.distributed", reason="the dask extra (in the test extra)")

from fastnn.examples import sweep  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
GRID = {"hidden_layer_sizes": [(8,), (24,)], "alpha": [1e-4, 1.0]}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        sweep.warm_workers(client)
        yield client


def _digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return x[:900] / 16, y[:900]


def test_search_on_the_cluster_scores_as_the_sequential_one(client):
    x, y = _digits()
    here = sweep.search(x, y, GRID, epochs=8, cv=3)
    with distributed.get_task_stream(client) as tasks:
        there = sweep.search(x, y, GRID, epochs=8, cv=3, client=client)
    np.testing.assert_allclose(there.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])
    np.testing.assert_allclose(there.cv_results_["split0_test_score"], here.cv_results_["split0_test_score"])
    assert there.best_params_ == here.best_params_
    assert len({task["worker"] for task in tasks.data}) == 2  # the fits ran on both workers (joblib batches them)


def test_sweep_example_prints_a_leaderboard(client, capsys):
    assert sweep.main(["--scheduler", client.scheduler.address, "--samples", "1200", "--epochs", "2",
                       "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert "12 settings x 2 folds" in out and out.count("{'alpha'") == 10
    first = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert 0.5 < float(first.split()[1]) <= 1.0
