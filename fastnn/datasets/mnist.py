"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 uint8, labels 0-9."""

from ._idx import Digest
from ._loader import load

NAME = "mnist"
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# SHA-256 of the decompressed IDX bytes (DESIGN.md section 3), so a faithfully
# recompressed copy, as some mirrors and our shared folder hold, is accepted too.
HASHES = {
    "train-images-idx3-ubyte.gz": Digest("sha256", "raw",
                                        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte.gz": Digest("sha256", "raw",
                                        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte.gz": Digest("sha256", "raw",
                                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte.gz": Digest("sha256", "raw",
                                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]


def load_data(path=None, verbose="auto"):
    """Return MNIST as ((x_train, y_train), (x_test, y_test)), uint8, images (N, 28, 28).

    Looks for the four .gz files in `path`, then $FASTNN_DATA_DIR/mnist, then
    ~/.cache/fastnn/mnist, and only then downloads them into that cache; every
    file is verified. `verbose` ("auto": when stderr is a terminal) shows download progress.
    """
    return load(NAME, FILES, HASHES, MIRRORS, path=path, verbose=verbose)
