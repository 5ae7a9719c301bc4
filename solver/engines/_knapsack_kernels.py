"""Numba kernel of graph-free column generation: bounded knapsack pricing.

The pricing problem of the bin packing master LP is a bounded integer knapsack over the
item types: maximise ``sum pi_i a_i`` subject to ``sum w_i a_i <= cap`` and
``0 <= a_i <= b_i``. It is solved exactly by depth-first branch and bound over the
types in decreasing order of profit per size (Horowitz & Sahni, Martello & Toth's MT1)
with the fractional (Dantzig) bound. Several dimensions are handled through the
surrogate constraint ``sum_j w_ij / cap_j``, whose fractional bound stays valid.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _fractional(level, room, idx, size, profit, count):
    """Fractional bound of the types from ``level`` on within ``room`` (surrogate)."""
    gain = 0.0
    for k in range(level, idx.shape[0]):
        full = count[k] * size[k]
        if full <= room:
            gain += count[k] * profit[k]
            room -= full
        else:
            gain += room / size[k] * profit[k]
            break
    return gain


@njit(cache=True)
def best_patterns(weights, bounds, profits, cap, keep, min_value, node_limit):
    """The ``keep`` most profitable patterns worth more than ``min_value``.

    ``weights`` int64 (t, d), ``bounds`` int64 (t,) most copies per type, ``profits``
    float64 (t,), ``cap`` int64 (d,). Returns (values float64 (keep,), patterns int64
    (keep, t) copies per type, number found, an upper bound on the best value, whether
    the search completed). Types of nonpositive profit are left out. The upper bound is
    the best value when the search completed (or ``min_value`` if nothing beats it),
    else the fractional bound at the root.
    """
    t, d = weights.shape
    surrogate = np.zeros(t)
    for i in range(t):
        for j in range(d):
            if cap[j] > 0:
                surrogate[i] += weights[i, j] / cap[j]
    room0 = 0.0
    for j in range(d):
        room0 += 1.0 if cap[j] > 0 else 0.0
    cand = np.empty(t, np.int64)
    m = 0
    for i in range(t):
        if profits[i] > 0 and bounds[i] > 0 and surrogate[i] > 0:
            fits = bounds[i]
            for j in range(d):
                if weights[i, j] > 0:
                    fits = min(fits, cap[j] // weights[i, j])
            if fits > 0:
                cand[m] = i
                m += 1
    ratio = np.empty(m)
    for k in range(m):
        ratio[k] = profits[cand[k]] / surrogate[cand[k]]
    idx = cand[:m][np.argsort(-ratio, kind="mergesort")]
    size = np.empty(m)
    profit = np.empty(m)
    count = np.empty(m, np.int64)
    w = np.empty((m, d), np.int64)
    # smallest size of each dimension among the types from a level on: when one
    # dimension's room is below it, nothing more fits and the pattern is complete
    suffix = np.empty((m + 1, d), np.int64)
    for j in range(d):
        suffix[m, j] = cap[j] + 1
    for k in range(m - 1, -1, -1):
        i = idx[k]
        size[k] = surrogate[i]
        profit[k] = profits[i]
        count[k] = bounds[i]
        for j in range(d):
            w[k, j] = weights[i, j]
            suffix[k, j] = min(suffix[k + 1, j], weights[i, j])

    values = np.full(keep, -np.inf)
    patterns = np.zeros((keep, t), np.int64)
    found = 0
    floor = min_value
    root = _fractional(0, room0, idx, size, profit, count)
    cnt = np.full(m, -1, np.int64)
    gain = np.zeros(m + 1)
    used = np.zeros(m + 1)
    load = np.zeros((m + 1, d), np.int64)
    nodes = 0
    complete = True
    level = 0
    while level >= 0:
        leaf = level == m
        if not leaf and cnt[level] < 0:
            nodes += 1
            if nodes > node_limit:
                complete = False
                break
            for j in range(d):
                if cap[j] - load[level, j] < suffix[level, j]:
                    leaf = True
                    break
            if not leaf:
                bound = gain[level] + _fractional(
                    level, room0 - used[level], idx, size, profit, count
                )
                if bound <= floor:
                    level -= 1
                    continue
                c = count[level]
                for j in range(d):
                    if w[level, j] > 0:
                        c = min(c, (cap[j] - load[level, j]) // w[level, j])
                cnt[level] = c
        elif not leaf:
            cnt[level] -= 1
            if cnt[level] < 0:
                level -= 1
                continue
        if leaf:
            value = gain[level]
            if value > floor:
                slot = 0
                if found < keep:
                    slot = found
                    found += 1
                else:
                    for s in range(keep):
                        if values[s] < values[slot]:
                            slot = s
                values[slot] = value
                for i in range(t):
                    patterns[slot, i] = 0
                for k in range(level):
                    if cnt[k] > 0:
                        patterns[slot, idx[k]] = cnt[k]
                if found == keep:
                    low = values[0]
                    for s in range(keep):
                        low = min(low, values[s])
                    floor = max(min_value, low)
            level -= 1
            continue
        c = cnt[level]
        gain[level + 1] = gain[level] + c * profit[level]
        used[level + 1] = used[level] + c * size[level]
        for j in range(d):
            load[level + 1, j] = load[level, j] + c * w[level, j]
        level += 1
    best = min_value
    for s in range(found):
        best = max(best, values[s])
    upper = best if complete else root
    return values, patterns, found, upper, complete


@njit(cache=True)
def dp_patterns(weights, bounds, profits, cap, keep, min_value, table):
    """One-dimensional pricing by dynamic programming over the capacity.

    Each copy of a type is a 0-1 item, processed type by type; the best pattern whose
    last copy is each item is read off before that item is added, so the patterns
    returned end at distinct items (the arc-flow pricing's distinct last arcs).
    ``weights`` int64 (t,), ``bounds`` int64 (t,), ``profits`` float64 (t,), ``cap``
    an int; ``table`` a bool buffer of shape at least (sum of copies, cap + 1).
    Returns (values float64 (keep,), patterns int64 (keep, t), number found, the best
    value).
    """
    t = weights.shape[0]
    best = np.zeros(cap + 1)
    before = np.empty(cap + 1)
    item_type = np.empty(table.shape[0], np.int64)
    ends = np.empty(table.shape[0])
    rows = 0
    for i in range(t):
        if profits[i] <= 0 or bounds[i] <= 0:
            continue
        w = weights[i]
        p = profits[i]
        for _ in range(min(bounds[i], cap // w)):
            ends[rows] = best[cap - w] + p
            item_type[rows] = i
            table[rows, :w] = False
            # the values before this copy, and flat slices: the loop below has no
            # carried dependency and vectorises
            n = cap + 1 - w
            src = before[:n]
            src[:] = best[:n]
            dst = best[w:]
            tab = table[rows, w:]
            for c in range(n):
                x = src[c] + p
                y = dst[c]
                take = x > y
                tab[c] = take
                dst[c] = x if take else y
            rows += 1
    order = np.argsort(-ends[:rows], kind="mergesort")
    values = np.full(keep, -np.inf)
    patterns = np.zeros((keep, t), np.int64)
    found = 0
    for r in order:
        if found == keep or ends[r] <= min_value:
            break
        values[found] = ends[r]
        i = item_type[r]
        patterns[found, i] = 1
        c = cap - weights[i]
        for rr in range(r - 1, -1, -1):
            if table[rr, c]:
                patterns[found, item_type[rr]] += 1
                c -= weights[item_type[rr]]
        found += 1
    return values, patterns, found, best[cap]
