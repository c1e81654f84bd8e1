"""Good and bad houses by softmax: the house table as a two-class classification.

A house is "good" (a good deal for the seller) when its price per sq ft is above the median
of the table's ten houses, else "bad". One Dense(2, softmax) layer over the normalised sq ft,
bathrooms and price learns the rule; the boundary price = k * sq ft is linear in the inputs.

    python -m fastnn.examples.house_classification [--epochs 200] [--learning-rate 0.1]
"""

import argparse

import numpy as np

import fastnn as fnn
from fastnn import layers
from fastnn.examples._houses import PRICE, SQFT, TABLE, print_table, standardize

CLASSES = ("bad", "good")


def labels():
    """1 (good) where price per sq ft is above the median, else 0 (bad)."""
    per_sqft = TABLE[:, PRICE] / TABLE[:, SQFT]
    return (per_sqft > np.median(per_sqft)).astype(np.int64)


def train(epochs, learning_rate, seed):
    """(model, x, y): softmax regression on the standardised table."""
    x, y = standardize(TABLE), labels()
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Dense(2, activation="softmax", input_shape=(x.shape[1],))])
    model.compile(optimizer=fnn.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu")
    model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0)
    return model, x, y


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="full-batch Adam steps (default 200)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="Adam learning rate (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial weights")
    return parser.parse_args(argv)


def main(argv=None):
    """Train, then print each house with its $/sq ft, true class, P(good) and predicted class."""
    args = parse(argv)
    model, x, y = train(args.epochs, args.learning_rate, args.seed)
    probs = model.predict(x)
    print(f"good: price per sq ft above the median ${np.median(TABLE[:, PRICE] / TABLE[:, SQFT]):.2f}")
    rows = [(*house[[SQFT, 1]], house[PRICE] / 1000, house[PRICE] / house[SQFT], CLASSES[label], p[1],
             CLASSES[int(np.argmax(p))]) for house, label, p in zip(TABLE, y, probs)]
    print_table(["sq ft", "baths", "price $k", "$/sq ft", "class", "P(good)", "predicted"], rows,
                [".0f", ".0f", ".1f", ".2f", "", ".3f", ""])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    print(f"loss: {loss:.4f}  accuracy: {accuracy:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
