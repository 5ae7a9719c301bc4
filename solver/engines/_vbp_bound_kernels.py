"""Numba kernels of the vector packing lower bounds.

:func:`most_items` finds how many containers one machine can hold at most (the
cardinality bound divides the container count by it).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def most_items(req, cap, most, budget):
    """Most rows of ``req`` (int64, n x d) that fit together within ``cap`` (int64, d).

    Depth-first search over rows in their order (smallest first finds large sets
    early), at most ``most`` rows deep (a known upper bound), cut after ``budget``
    fit tests. Returns (largest set found, True if the search was complete): when
    complete the set found is the maximum, else only ``most`` is an upper bound.
    """
    n, d = req.shape
    if n == 0 or most <= 0:
        return 0, True
    # the least size of rows i.. in each dimension: no row from i on fits a room
    # below it
    least = np.empty((n + 1, d), np.int64)
    least[n] = np.iinfo(np.int64).max
    for i in range(n - 1, -1, -1):
        for k in range(d):
            least[i, k] = min(least[i + 1, k], req[i, k])
    load = np.zeros((most + 1, d), np.int64)
    pos = np.zeros(most + 1, np.int64)
    best = 0
    depth = 0
    nxt = 0
    work = 0
    while True:
        found = -1
        if depth < most:
            for i in range(nxt, n):
                if depth + n - i <= best:
                    break
                work += 1
                room = True
                for k in range(d):
                    if load[depth, k] + least[i, k] > cap[k]:
                        room = False
                        break
                if not room:
                    break
                fits = True
                for k in range(d):
                    if load[depth, k] + req[i, k] > cap[k]:
                        fits = False
                        break
                if fits:
                    found = i
                    break
        if work > budget:
            return best, False
        if found >= 0:
            pos[depth] = found
            for k in range(d):
                load[depth + 1, k] = load[depth, k] + req[found, k]
            depth += 1
            nxt = found + 1
            if depth > best:
                best = depth
                if best >= most:
                    return best, True
        else:
            if depth == 0:
                return best, True
            depth -= 1
            nxt = pos[depth] + 1
