"""Read and verify gzip-compressed IDX files (the MNIST file format)."""

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass

import numpy as np

IMAGES = "images"
LABELS = "labels"
IMAGE_SIZE = (28, 28)

# IDX magic numbers: two zero bytes, dtype 0x08 (uint8), number of dimensions.
_MAGIC = {IMAGES: 0x00000803, LABELS: 0x00000801}
_NDIM = {IMAGES: 3, LABELS: 1}


@dataclass(frozen=True)
class Digest:
    """A published hash of one file: which algorithm, over which bytes, what value."""

    algorithm: str  # a hashlib name, e.g. "sha256" or "md5"
    covers: str  # "raw": the decompressed IDX bytes; "gz": the file as stored
    hexdigest: str

    def __post_init__(self):
        if self.covers not in ("raw", "gz"):
            raise ValueError(
                f'Expected Digest.covers to be "raw" or "gz". Received: covers={self.covers!r}.'
            )


def kind_of(role):
    """Return IMAGES for an "x_..." role and LABELS for a "y_..." role."""
    return IMAGES if role.startswith("x") else LABELS


def read(path, kind, digest):
    """Decompress, check and parse one IDX file; raise ValueError naming `path` if it is wrong."""
    with open(path, "rb") as f:
        stored = f.read()
    raw = _decompress(path, stored)
    array = _parse(path, raw, kind)
    _check_digest(path, stored if digest.covers == "gz" else raw, digest)
    return array


def read_split(folder, images_name, labels_name, hashes):
    """Read one (images, labels) pair from `folder` and check that their counts agree."""
    images_path = os.path.join(folder, images_name)
    labels_path = os.path.join(folder, labels_name)
    x = read(images_path, IMAGES, hashes[images_name])
    y = read(labels_path, LABELS, hashes[labels_name])
    if len(x) != len(y):
        raise ValueError(
            f"Image and label files disagree: '{images_path}' holds {len(x)} images "
            f"but '{labels_path}' holds {len(y)} labels; expected equal counts."
        )
    return x, y


def _decompress(path, stored):
    """Return the decompressed bytes of a gzip file, or raise ValueError if it is damaged."""
    try:
        return gzip.decompress(stored)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(
            f"File '{path}' is not a complete gzip stream ({len(stored)} bytes on disk): "
            f"{e}. Expected a gzip-compressed IDX file; it may be truncated or corrupt."
        ) from None


def _parse(path, raw, kind):
    """Check the IDX header against `kind` and return the payload as a writable uint8 array."""
    ndim = _NDIM[kind]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"File '{path}' is too short for an IDX {kind} header: expected at least "
            f"{header} bytes, received {len(raw)}."
        )
    magic, *dims = (int(v) for v in np.frombuffer(raw, ">u4", count=1 + ndim))
    if magic != _MAGIC[kind]:
        raise ValueError(
            f"File '{path}' has the wrong IDX magic number for {kind}: expected "
            f"{_MAGIC[kind]}, received {magic}."
        )
    if kind == IMAGES and tuple(dims[1:]) != IMAGE_SIZE:
        raise ValueError(
            f"File '{path}' holds images of size {tuple(dims[1:])}; expected {IMAGE_SIZE}."
        )
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise ValueError(
            f"File '{path}' has the wrong data size for its header dims {tuple(dims)}: "
            f"expected {count} bytes after the {header}-byte header, received {len(raw) - header}."
        )
    return np.frombuffer(raw, np.uint8, count=count, offset=header).reshape(dims).copy()


def _check_digest(path, data, digest):
    """Raise ValueError naming `path` if `data` does not hash to the published digest."""
    received = hashlib.new(digest.algorithm, data).hexdigest()
    if received != digest.hexdigest.lower():
        what = "decompressed bytes" if digest.covers == "raw" else "gzip file"
        raise ValueError(
            f"File '{path}' failed its {digest.algorithm} check of the {what}: expected "
            f"{digest.hexdigest}, received {received}. The file is corrupt or not the "
            "original; delete it and load again."
        )
