"""The barrier split plans' parts meet at (backends/cpu/sync.py), run by two threads through its Python twin."""

import threading

import numpy as np

from fastnn.backends.cpu import sync


def _both(arrivals):
    """barrier() of part 0 and part 1, at once, for each (arrival, bad0, bad1): their results, by part."""
    flags = np.zeros(sync.size.py_func(2), np.int64)
    seen = {0: [], 1: []}

    def part(p):
        for arrival, *bad in arrivals:
            seen[p].append(sync.barrier.py(flags, p, 2, arrival, bad[p]))
    worker = threading.Thread(target=part, args=(1,))
    worker.start()
    part(0)
    worker.join(timeout=10)
    assert not worker.is_alive()
    return seen


def test_parts_leave_together_and_all_see_a_bad_arrival():
    assert _both([(1, False, False), (2, False, False), (3, False, True)]) == {0: [False, False, True],
                                                                             1: [False, False, True]}
    assert _both([(1, True, False)]) == {0: [True], 1: [True]}  # (after a bad arrival, no part arrives again)


def test_an_abort_releases_a_waiting_part():
    flags = np.zeros(sync.size.py_func(2), np.int64)
    result = []
    waiter = threading.Thread(target=lambda: result.append(sync.barrier.py(flags, 0, 2, 1, False)))
    waiter.start()
    flags[2 * sync.LINE] = 1  # (what Python does when a part's thread fails)
    waiter.join(timeout=10)
    assert result == [True]
