"""Fashion-MNIST clothing images with the MNIST network: 784 -> 128 relu -> 10 softmax, Adam.

Reaches about 88% test accuracy. Its files are looked up like MNIST's (--data-dir,
$FASTNN_DATA_DIR/fashion_mnist, ~/.cache/fastnn/fashion_mnist) and downloaded when missing;
without them and without internet it says so and exits with status 1.

    python -m fastnn.examples.fashion_mnist [--epochs 10] [--samples N] [--data-dir DIR]
"""

from fastnn.datasets import fashion_mnist
from fastnn.examples._images import run


def main(argv=None):
    """Train and evaluate; the exit status is 1 when the data cannot be found or downloaded."""
    return run(fashion_mnist, "Fashion-MNIST", argv)


if __name__ == "__main__":
    raise SystemExit(main())
