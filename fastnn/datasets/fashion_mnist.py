"""Fashion-MNIST (Zalando): 60,000 training and 10,000 test clothing images, 28x28 uint8, labels 0-9."""

from ._idx import Digest
from ._loader import load

NAME = "fashion_mnist"
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# SHA-256 of the .gz files as published (identically) in Keras's
# keras/src/datasets/fashion_mnist.py and tensorflow_datasets'
# url_checksums/fashion_mnist.txt. Zalando's README publishes MD5s of the same .gz
# files: 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310 (in the order below).
HASHES = {
    "train-images-idx3-ubyte.gz": Digest("sha256", "gz",
                                        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train-labels-idx1-ubyte.gz": Digest("sha256", "gz",
                                        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "t10k-images-idx3-ubyte.gz": Digest("sha256", "gz",
                                        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "t10k-labels-idx1-ubyte.gz": Digest("sha256", "gz",
                                        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}
MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
]


def load_data(path=None, verbose="auto"):
    """Return Fashion-MNIST as ((x_train, y_train), (x_test, y_test)), uint8, images (N, 28, 28).

    Looks for the four .gz files in `path`, then $FASTNN_DATA_DIR/fashion_mnist, then
    ~/.cache/fastnn/fashion_mnist, and only then downloads them into that cache; every
    file is verified. `verbose` ("auto": when stderr is a terminal) shows download progress.
    """
    return load(NAME, FILES, HASHES, MIRRORS, path=path, verbose=verbose)
