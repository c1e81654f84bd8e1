"""Predict gender from weight and height: the tutorial's 2-2-1 sigmoid network, trained from scratch.

Inputs are weight - 135 lb and height - 66 in; the target is 1 for female. The network
(2 inputs -> 2 sigmoid -> 1 sigmoid) is trained with MSE by per-sample SGD (learning rate 0.1,
1000 epochs, samples in order) on Alice, Bob, Charlie and Diana, then asked about Emily
(about 0.95: female) and Frank (about 0.04: male).

    python -m fastnn.examples.gender [--epochs 1000] [--seed 0]
"""

import argparse

import numpy as np

import fastnn as fnn
from fastnn import layers

PEOPLE = {"Alice": (-2, -1), "Bob": (25, 6), "Charlie": (17, 4), "Diana": (-15, -6)}
FEMALE = {"Alice": 1, "Bob": 0, "Charlie": 0, "Diana": 1}
NEWCOMERS = {"Emily": (-7, -3), "Frank": (20, 2)}


def train(epochs, learning_rate, seed):
    """The 2-2-1 network after `epochs` passes of per-sample SGD (batch_size=1) over the four people."""
    x = np.array(list(PEOPLE.values()), dtype=np.float64)
    y = np.array([FEMALE[name] for name in PEOPLE], dtype=np.float64)
    fnn.utils.set_random_seed(seed)
    model = fnn.Sequential([layers.Dense(2, activation="sigmoid", input_shape=(2,)),
                            layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fnn.optimizers.SGD(learning_rate=learning_rate), loss="mse", device="cpu")
    history = model.fit(x, y, batch_size=1, epochs=epochs, shuffle=False, verbose=0)
    return model, history


def predict(model, people):
    """{name: P(female)} for a {name: (weight - 135, height - 66)} mapping."""
    return dict(zip(people, model.predict(np.array(list(people.values()), dtype=np.float64)).ravel()))


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000, help="passes over the four people (default 1000)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial weights")
    return parser.parse_args(argv)


def main(argv=None):
    """Train, print the loss every tenth of the way, then the predictions for Emily and Frank."""
    args = parse(argv)
    model, history = train(args.epochs, args.learning_rate, args.seed)
    losses = history.history.get("loss", [])
    for epoch in range(0, len(losses), max(1, len(losses) // 10)):
        print(f"Epoch {epoch} loss: {losses[epoch]:.3f}")
    for name, p in predict(model, NEWCOMERS).items():
        print(f"{name}: {p:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
