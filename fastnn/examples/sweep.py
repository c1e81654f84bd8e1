"""A hyperparameter sweep of the MNIST network on a Dask cluster; prints a leaderboard (extra: fastnn[dask]).

scikit-learn's GridSearchCV over fastnn.sklearn.MLPClassifier, its fits spread over the cluster's
workers through joblib's Dask backend. Without --scheduler it starts a LocalCluster on this machine.

    python -m fastnn.examples.sweep [--scheduler tcp://host:8786] [--samples 10000] [--epochs 10]

Compiling: each worker first runs fastnn.utils.warm_up, one worker per host before the others, so the
host's kernels compile once into Numba's cache (next to fastnn's files, or NUMBA_CACHE_DIR: give every
worker of a host the same one) and its other workers only load them; no fit then waits for a compile.
"""

import argparse
import contextlib
import sys
import time
import warnings

import numpy as np

from fastnn import utils
from fastnn._optional import require
from fastnn.datasets import mnist
from fastnn.examples._images import load, positive_int, scaled

GRID = {"hidden_layer_sizes": [(64,), (128,), (256,)], "alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 3e-3]}


def parse(argv):
    parser = argparse.ArgumentParser(description="Grid search of the MNIST network on a Dask cluster.")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                                            "(default: a LocalCluster on this machine)")
    parser.add_argument("--workers", type=positive_int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--samples", type=positive_int, default=10000, help="training images used (default 10000)")
    parser.add_argument("--epochs", type=positive_int, default=10, help="max_iter of each fit (default 10)")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument("--data-dir", help="folder holding MNIST's four .gz files")
    return parser.parse_args(argv)


def warm_workers(client):
    """fastnn.utils.warm_up on every worker: first on one per host (it compiles into the cache), then the rest."""
    hosts = {}
    for address, info in client.scheduler_info()["workers"].items():
        hosts.setdefault(info["host"], address)
    client.run(utils.warm_up, workers=list(hosts.values()))
    client.run(utils.warm_up)
    client.run(_quiet)


def _quiet():
    """A sweep's short fits stop at max_iter on purpose: no ConvergenceWarning for each."""
    from sklearn.exceptions import ConvergenceWarning
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def search(x, y, grid, epochs, cv, client=None):
    """GridSearchCV of fastnn.sklearn.MLPClassifier over grid, on the client's cluster when given."""
    from sklearn.model_selection import GridSearchCV
    from fastnn.sklearn import MLPClassifier
    joblib = require("joblib", "dask", "a sweep")
    searcher = GridSearchCV(MLPClassifier(max_iter=epochs, random_state=0), grid, cv=cv)
    with joblib.parallel_config(backend="dask") if client is not None else contextlib.nullcontext():
        return searcher.fit(x, y)


def leaderboard(result, top=10):
    """The search's best parameter sets as text: rank, mean and spread of the folds' accuracy, fit seconds."""
    res = result.cv_results_
    lines = [f"{'rank':>4}  {'accuracy':>8}  {'+/-':>6}  {'fit s':>6}  parameters"]
    for i in np.argsort(res["rank_test_score"], kind="stable")[:top]:
        lines.append(f"{res['rank_test_score'][i]:>4}  {res['mean_test_score'][i]:>8.4f}  "
                     f"{res['std_test_score'][i]:>6.4f}  {res['mean_fit_time'][i]:>6.2f}  {res['params'][i]}")
    return "\n".join(lines)


def main(argv=None):
    """Run the sweep and print the leaderboard; the exit status is 1 when the data cannot be found."""
    args = parse(argv)
    distributed = require("dask.distributed", "dask", "python -m fastnn.examples.sweep")
    data = load(mnist, "MNIST", args.data_dir)
    if data is None:
        return 1
    (x, y), _ = data
    x, y = scaled(x, args.samples).reshape(-1, 784), y[:args.samples]
    with contextlib.ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(distributed.Client(args.scheduler))
        else:
            cluster = stack.enter_context(distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                                   host="127.0.0.1", dashboard_address=None))
            client = stack.enter_context(distributed.Client(cluster))
        print(f"Dask cluster: {client.scheduler.address}, {len(client.scheduler_info()['workers'])} workers",
              flush=True)
        start = time.perf_counter()
        warm_workers(client)
        print(f"workers ready (kernels compiled or loaded) in {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        result = search(x, y, GRID, args.epochs, args.cv, client)
        print(f"{len(result.cv_results_['params'])} settings x {args.cv} folds in "
              f"{time.perf_counter() - start:.1f} s\n{leaderboard(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
