"""MNIST digits with the tutorial's network: 784 -> 128 relu -> 10 softmax, Adam, 10 epochs of batch 32.

Reaches about 97.5-98% test accuracy. Fast settings for a try-out: --samples 5000 --epochs 2.

    python -m fastnn.examples.mnist [--epochs 10] [--samples N] [--device cpu|cuda] [--save mnist.npz]
"""

from fastnn.datasets import mnist
from fastnn.examples._images import run


def main(argv=None):
    """Train and evaluate; the exit status is 1 when the data cannot be found or downloaded."""
    return run(mnist, "MNIST", argv)


if __name__ == "__main__":
    raise SystemExit(main())
