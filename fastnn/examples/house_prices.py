"""House prices by linear regression: one neuron without activation, trained by gradient descent.

The tutorial's numbers: sq ft -> price (in $1000) for three houses. A fixed weight of 0.180
and no bias predicts 379, 288 and 432 (MSE about 2058); with a bias and gradient descent on
normalised input the MSE falls to the least-squares optimum (about 447). Then two features,
sq ft and bathrooms, on the tutorial's 10-row table.

    python -m fastnn.examples.house_prices [--epochs 200] [--learning-rate 0.1]
"""

import argparse

import numpy as np

import fastnn as fnn
from fastnn import layers
from fastnn.examples._houses import BATHROOMS, PRICE, SQFT, TABLE, print_table, standardize


def fixed_weight():
    """(model, x, y): price = 0.180 * sq ft, a Dense(1) without bias whose weight is set by hand."""
    model = fnn.Sequential([layers.Dense(1, use_bias=False, input_shape=(1,))])
    model.set_weights([np.array([[0.180]])])
    model.compile(loss="mse", device="cpu")
    houses = TABLE[:3]
    return model, houses[:, [SQFT]], houses[:, PRICE] / 1000


def gradient_descent(columns, rows, epochs, learning_rate, seed):
    """(model, x, y): Dense(1) with bias fitted to standardised columns by full-batch gradient descent."""
    houses = TABLE[:rows]
    x, y = standardize(houses[:, columns]), houses[:, PRICE] / 1000
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Dense(1, input_shape=(len(columns),))])
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=learning_rate), loss="mse", device="cpu")
    model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0)  # one step per epoch
    return model, x, y


def report(title, headers, shown, model, x, y):
    """Print each house's shown columns, actual and predicted price, then the MSE; return (predicted, mse)."""
    predicted = model.predict(x).ravel()
    mse = model.evaluate(x, y, verbose=0)
    print(title)
    rows = [(*row, actual, guess) for row, actual, guess in zip(shown, y, predicted)]
    print_table(headers + ["actual", "predicted"], rows, [".0f"] * len(headers) + [".1f", ".1f"])
    print(f"MSE: {mse:.1f}\n")
    return predicted, mse


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="gradient descent steps (default 200)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial weights")
    return parser.parse_args(argv)


def main(argv=None):
    """Print the three tables: fixed weight, 1 feature by gradient descent, 2 features."""
    args = parse(argv)
    report("1 feature, fixed weight 0.180, no bias (price in $1000)", ["sq ft"], TABLE[:3, [SQFT]], *fixed_weight())
    model, x, y = gradient_descent([SQFT], 3, args.epochs, args.learning_rate, args.seed)
    report(f"1 feature with bias, gradient descent on normalised input ({args.epochs} epochs)",
           ["sq ft"], TABLE[:3, [SQFT]], model, x, y)
    model, x, y = gradient_descent([SQFT, BATHROOMS], len(TABLE), args.epochs, args.learning_rate, args.seed)
    report(f"2 features, gradient descent on normalised input ({args.epochs} epochs)",
           ["sq ft", "baths"], TABLE[:, [SQFT, BATHROOMS]], model, x, y)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
