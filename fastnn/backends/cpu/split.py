"""The meeting of a split training step's parts (planner.Plan with parts > 1; see loop.run): after the backward
pass, each part adds the parts' gradients over its share of the parameters. Compiled only for split plans.
"""

import numpy as np

from ..codes import S_LOSS
from .jit import inlined, kernel
from .penalty import _regularize
from .sync import barrier, wait


@inlined
def sum_parts(peers, ranges):
    """peers[0] += peers[1] + ... over each [start, stop) row of ranges (the split parts' gradients, added in
    order, so a plan's runs repeat bit for bit); True when every sum's square is finite (see loop.squares_finite)."""
    total, big, ok = peers[0], peers.dtype.type(np.inf), True
    for r in range(ranges.shape[0]):
        t = total[ranges[r, 0]:ranges[r, 1]]
        for u in range(1, peers.shape[0]):
            p = peers[u][ranges[r, 0]:ranges[r, 1]]
            for i in range(t.size):
                t[i] += p[i]
        for i in range(t.size):
            ok &= t[i] * t[i] < big
    return ok


@kernel("I1 i i i b F2 I2 I2 D2 F1 d D1 i -> b")
def combine_parts(sync, part, parts, arrival, bad, peers, ranges, plan, fplan, params, factor, stats, b):
    """A split training step's meeting after the backward pass (see loop.run): wait for every part's gradient
    (barrier `arrival`), sum them into peers[0] over this part's ranges, add the regularisers' share there (its
    penalty to stats, for a batch of b) and wait again (arrival + 1), every part reporting whether its sums are
    finite: the parts do not check their own gradients. True: every part stops (one was bad)."""
    if wait(sync, part, parts, arrival, bad):
        return True
    total, finite, share = peers[0], sum_parts(peers, ranges), 0.0
    for r in range(ranges.shape[0]):
        share += _regularize(plan, fplan, params, total, True, factor, ranges[r, 0], ranges[r, 1])
    stats[S_LOSS] += share * b
    return wait(sync, part, parts, arrival + 1, not (finite and np.isfinite(share)))


SPLIT_ONLY = [combine_parts, barrier]  # the kernels only split plans call (compiling.needed)
