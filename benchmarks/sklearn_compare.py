"""fastnn.sklearn against scikit-learn's own MLPs, interleaved in one process: a markdown table.

    python -m benchmarks.sklearn_compare            # MNIST (60k, 10 epochs), digits, breast cancer
    python -m benchmarks.sklearn_compare --quick    # MNIST on 10k samples

Both estimators get the same parameters and random_state, so they start from the same weights; each
is fitted once to warm up (fastnn's compile is never timed), then the whole `fit` call is timed in
rotating order (compare.interleaved) and the medians reported, with each one's test accuracy.
"""

import argparse
import warnings

import numpy as np

from benchmarks.compare import fmt, interleaved


def scenarios(samples):
    """[(name, estimator parameters, (x, y, x_test, y_test))]: the issue's MNIST fit and two small sets."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from benchmarks import data
    x, y = data.take(data.mnist("train"), samples)
    rows = [("MNIST 784-128-10, adam, 10 epochs, batch 200 (float32)", dict(hidden_layer_sizes=(128,), max_iter=10),
             (x, y) + data.mnist("test"))]
    for name, loader in (("digits (100,), adam, to convergence", load_digits),
                         ("breast cancer (100,), adam, to convergence", load_breast_cancer)):
        xs, ys = loader(return_X_y=True)
        a, b, ya, yb = train_test_split(xs, ys, random_state=0, stratify=ys)
        scaler = StandardScaler().fit(a)
        rows.append((name, dict(max_iter=200), (scaler.transform(a), ya, scaler.transform(b), yb)))
    return rows


def rows(samples, repeats):
    """[(scenario, scikit-learn s, fastnn s, ratio, accuracies)] for every scenario."""
    from sklearn import neural_network
    import fastnn.sklearn
    out = []
    for name, params, (x, y, xt, yt) in scenarios(samples):
        fitted = {}

        def fit(cls, key, params=params, x=x, y=y):
            return lambda: fitted.__setitem__(key, cls(random_state=0, **params).fit(x, y))
        times = interleaved({"scikit-learn": fit(neural_network.MLPClassifier, "scikit-learn"),
                             "fastnn": fit(fastnn.sklearn.MLPClassifier, "fastnn")}, repeats)
        acc = {key: est.score(xt, yt) for key, est in fitted.items()}
        out.append((name, times["scikit-learn"], times["fastnn"], times["scikit-learn"] / times["fastnn"],
                    f"{acc['scikit-learn']:.4f} / {acc['fastnn']:.4f}"))
    return out


def markdown(table):
    lines = ["| scenario (whole `fit`, warm) | scikit-learn s | fastnn.sklearn s | ratio | test accuracy sk / fastnn |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {fmt(sk)} | {fmt(ours)} | {ratio:.2f}x | {acc} |" for name, sk, ours, ratio, acc in table]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MNIST on 10k samples, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5, --quick 3)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sklearn.exceptions import ConvergenceWarning
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    repeats = args.repeats or (3 if args.quick else 5)
    print(markdown(rows(10_000 if args.quick else 60_000, repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
