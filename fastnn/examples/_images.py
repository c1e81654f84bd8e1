"""The tutorials' image network (28x28 -> 128 relu -> 10 softmax, Adam) as a command for any such dataset."""

import argparse
import sys

import numpy as np

import fastnn as fnn
from fastnn import layers
from fastnn.backends import DeviceUnavailableError


def positive_int(text):
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text}")
    return value


def parse(argv, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=positive_int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="samples per step (default 32)")
    parser.add_argument("--samples", type=positive_int, help="train on the first N training images only")
    parser.add_argument("--test-samples", type=positive_int, help="test on the first N test images only")
    parser.add_argument("--validation-split", type=float, default=0.0, help="fraction held out for val_ metrics")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: auto")
    parser.add_argument("--data-dir", help="folder holding the four .gz files (default: search, then download)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="fit's verbosity (default 1)")
    parser.add_argument("--save", metavar="PATH", help="save the trained model to PATH (.npz)")
    return parser.parse_args(argv)


def build(device):
    """Flatten -> Dense(128, relu) -> Dense(10, softmax), compiled with Adam and sparse cross-entropy."""
    model = fnn.Sequential([
        layers.Flatten(input_shape=(28, 28)),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], device=device)
    return model


def load(dataset, title, data_dir):
    """((x, y), (x_test, y_test)) from dataset.load_data, or None after saying on stderr why not."""
    try:
        return dataset.load_data(path=data_dir)
    except (OSError, ValueError) as exc:
        where = dataset.NAME
        print(f"error: the {title} data is not available.\n{exc}\n\nPut its four .gz files "
              f"({', '.join(dataset.FILES.values())}) in $FASTNN_DATA_DIR/{where}, in ~/.cache/fastnn/{where} "
              f"or in a folder given as --data-dir; without them fastnn downloads them when it can reach "
              f"the internet.", file=sys.stderr)
        return None


def scaled(images, count):
    """The first `count` images (all when None) as float32 pixels in [0, 1]."""
    return images[:count].astype(np.float32) / 255


def run(dataset, title, argv):
    """Train on the dataset, print the test loss and accuracy; 0 on success, 1 when the data is missing, 2
    when the device asked for is unavailable (one line on stderr either way, no traceback)."""
    args = parse(argv, f"Train the 784-128-10 network on {title} and print its test accuracy.")
    data = load(dataset, title, args.data_dir)
    if data is None:
        return 1
    (x, y), (x_test, y_test) = data
    fnn.utils.set_random_seed(args.seed)
    try:
        model = build(args.device)
    except DeviceUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.verbose:
        model.summary()
    model.fit(scaled(x, args.samples), y[:args.samples], epochs=args.epochs, batch_size=args.batch_size,
              validation_split=args.validation_split, verbose=args.verbose)
    loss, accuracy = model.evaluate(scaled(x_test, args.test_samples), y_test[:args.test_samples], verbose=0)
    print(f"{title} test loss: {loss:.4f} - test accuracy: {accuracy:.4f}")
    if args.save:
        model.save(args.save)
        print(f"Model saved to {args.save}")
    return 0
