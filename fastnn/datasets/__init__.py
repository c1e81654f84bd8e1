"""Datasets with Keras's `load_data()` interface, found locally or downloaded, always verified."""

from . import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
