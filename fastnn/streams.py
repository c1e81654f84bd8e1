"""Batches as input: a generator or iterator of (x, y) batches, a list of them, or a PyDataset.

fit, evaluate and predict take one in place of arrays (with y=None), as Keras 3 does; each batch
goes through the same checks and compiled kernels as an array's batches.
"""

import collections.abc

import numpy as np


class PyDataset:
    """keras.utils.PyDataset: override __len__ (batches per epoch) and __getitem__(index) -> (x, y)
    (or x alone, for predict); on_epoch_end() runs after each epoch. fastnn reads batches in order,
    in this process (workers and use_multiprocessing are accepted for Keras code and not used)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __len__(self):
        raise NotImplementedError("A PyDataset must define __len__: the number of batches per epoch.")

    def __getitem__(self, index):
        raise NotImplementedError("A PyDataset must define __getitem__(index): the batch at index.")

    def on_epoch_end(self):
        """Called after each epoch (e.g. to reshuffle)."""


def is_stream(x):
    """True when x is a source of batches rather than an array of samples."""
    if isinstance(x, PyDataset) or isinstance(x, collections.abc.Iterator):
        return True
    # a list of (x_batch, y_batch) tuples; a list of tuples of numbers, e.g. [(0, 1), (1, 0)], is samples
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(b, tuple) and 1 <= len(b) <= 3 and np.ndim(b[0]) >= 1 for b in x)


class Batches:
    """One pass (an epoch) at a time over a stream: at most `steps` batches, each a tuple."""

    def __init__(self, source, steps, argname="x"):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"Expected steps to be an integer >= 1 or None. Received: {steps!r}")
        self.source, self.argname = source, argname
        self.iterator = source if isinstance(source, collections.abc.Iterator) else None
        self.steps = steps if steps is not None else (len(source) if not self.iterator else None)
        self.ran_out = False  # an epoch ended early: the iterator had no batches left

    def epoch(self):
        """The batches of the next epoch (an iterator that was used up yields nothing more)."""
        if isinstance(self.source, PyDataset):
            for i in range(self.steps):
                yield _as_tuple(self.source[i % len(self.source)], self.argname)
            self.source.on_epoch_end()
            return
        it = self.iterator if self.iterator is not None else iter(self.source)
        done = 0
        while self.steps is None or done < self.steps:
            try:
                batch = next(it)
            except StopIteration:
                self.ran_out = done == 0 or self.steps is not None  # (no steps: an epoch is until it ends)
                return
            done += 1
            yield _as_tuple(batch, self.argname)


def _as_tuple(batch, argname):
    """A batch as (x,), (x, y) or (x, y, sample_weight)."""
    if not isinstance(batch, tuple):
        return (batch,)
    if len(batch) not in (1, 2, 3):
        raise ValueError(f"Expected each batch of {argname} to be x or a tuple (x, y) or (x, y, sample_weight). "
                         f"Received a tuple of {len(batch)} items")
    return batch
