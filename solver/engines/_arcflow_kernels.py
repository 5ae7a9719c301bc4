"""Numba kernels of the arc-flow engine: graph construction, relabelling, packing.

Loads are rows of an int64 table; nodes live in an open-addressing hash table keyed by
their load vector. The growing graph state is a tuple of arrays that the caller passes
back in, so construction can be stopped between item types when a budget runs out.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EMPTY = -1


@njit(cache=True)
def _hash_row(loads, k, d):
    h = np.int64(1469598103934665603)
    for j in range(d):
        h = (h ^ loads[k, j]) * np.int64(1099511628211)
    return h


@njit(cache=True)
def _lookup(table, loads, probe, k_new, d):
    """Slot of the node whose load is row ``k_new`` of ``probe``, else an empty slot."""
    mask = table.shape[0] - 1
    slot = _hash_row(probe, k_new, d) & mask
    while True:
        k = table[slot]
        if k == _EMPTY:
            return slot
        same = True
        for j in range(d):
            if loads[k, j] != probe[k_new, j]:
                same = False
                break
        if same:
            return slot
        slot = (slot + 1) & mask


@njit(cache=True)
def new_graph(d, size):
    """Graph state holding only the source node (load 0, before the first item type).

    State: (loads, table, arcs, counts); ``arcs`` rows are (tail, head, type, copies)
    with type -1 for a skip arc; ``counts`` is (nodes, arcs, first node of the last
    level).
    """
    loads = np.zeros((size, d), np.int64)
    table = np.full(4 * size, _EMPTY, np.int64)
    arcs = np.empty((size, 4), np.int64)
    counts = np.array([1, 0, 0], np.int64)
    return loads, table, arcs, counts


@njit(cache=True)
def _rehash(table_size, loads, first, n_nodes, d):
    table = np.full(table_size, _EMPTY, np.int64)
    for k in range(first, n_nodes):
        table[_lookup(table, loads, loads, k, d)] = k
    return table


@njit(cache=True)
def add_level(loads, table, arcs, counts, weight, copies, cap, t, max_arcs):
    """Add the next level of the graph: item type ``t`` taken 0 .. ``copies`` times.

    Nodes are (load, number of item types decided); from every node of the last level
    a skip arc and one arc per whole number of copies of ``t`` that fits lead to the
    new level, so each pattern is built in one order only (symmetry broken by ordering).
    Returns the state, possibly reallocated; ``counts[1] > max_arcs`` means the budget
    was exceeded.
    """
    d = loads.shape[1]
    probe = np.empty((1, d), np.int64)
    first, end = counts[2], counts[0]
    table[:] = _EMPTY
    for u in range(first, end):
        for c in range(copies + 1):
            fits = True
            for j in range(d):
                probe[0, j] = loads[u, j] + c * weight[j]
                if probe[0, j] > cap[j]:
                    fits = False
            if not fits:
                break
            slot = _lookup(table, loads, probe, 0, d)
            v = table[slot]
            if v == _EMPTY:
                v = counts[0]
                if v == loads.shape[0]:
                    grown = np.zeros((2 * v, d), np.int64)
                    grown[:v] = loads
                    loads = grown
                for j in range(d):
                    loads[v, j] = probe[0, j]
                counts[0] = v + 1
                if 2 * (counts[0] - end) > table.shape[0]:
                    table = _rehash(2 * table.shape[0], loads, end, counts[0], d)
                else:
                    table[slot] = v
            a = counts[1]
            if a == arcs.shape[0]:
                grown_arcs = np.empty((2 * a, 4), np.int64)
                grown_arcs[:a] = arcs
                arcs = grown_arcs
            arcs[a, 0] = u
            arcs[a, 1] = v
            arcs[a, 2] = t if c > 0 else -1
            arcs[a, 3] = c
            counts[1] = a + 1
            if counts[1] > max_arcs:
                return loads, table, arcs, counts
    counts[2] = end
    return loads, table, arcs, counts


@njit(cache=True)
def label_to_sink(order, out_start, out_arcs, arcs, weights, cap):
    """Main compression label: capacity minus the longest path to the sink.

    ``order`` lists nodes so that every arc's head comes before its tail; ``out_arcs``
    holds arc ids grouped by tail (CSR with ``out_start``).
    """
    n = order.shape[0]
    d = cap.shape[0]
    phi = np.empty((n, d), np.int64)
    for u in range(n):
        for j in range(d):
            phi[u, j] = cap[j]
    for u in order:
        for p in range(out_start[u], out_start[u + 1]):
            a = out_arcs[p]
            v = arcs[a, 1]
            t = arcs[a, 2]
            for j in range(d):
                x = phi[v, j]
                if t >= 0:
                    x -= arcs[a, 3] * weights[t, j]
                if x < phi[u, j]:
                    phi[u, j] = x
    return phi


@njit(cache=True)
def label_from_source(order, in_start, in_arcs, arcs, weights, source):
    """Final compression label: the longest path from the source, per dimension.

    ``order`` lists nodes so that every arc's tail comes before its head; ``in_arcs``
    holds arc ids grouped by head (CSR with ``in_start``).
    """
    n = order.shape[0]
    d = weights.shape[1]
    psi = np.zeros((n, d), np.int64)
    for v in order:
        if v == source:
            continue
        for p in range(in_start[v], in_start[v + 1]):
            a = in_arcs[p]
            u = arcs[a, 0]
            t = arcs[a, 2]
            for j in range(d):
                x = psi[u, j]
                if t >= 0:
                    x += arcs[a, 3] * weights[t, j]
                if x > psi[v, j]:
                    psi[v, j] = x
    return psi


@njit(cache=True)
def first_fit_decreasing(weights, demands, cap):
    """First fit over item types in the given order; returns (bin of each copy, bins).

    Copies are numbered type by type (all copies of type 0 first).
    """
    m, d = weights.shape
    total = 0
    for t in range(m):
        total += demands[t]
    loads = np.zeros((max(total, 1), d), np.int64)
    where = np.empty(total, np.int64)
    bins = 0
    k = 0
    for t in range(m):
        for _ in range(demands[t]):
            chosen = bins
            for b in range(bins):
                fits = True
                for j in range(d):
                    if loads[b, j] + weights[t, j] > cap[j]:
                        fits = False
                        break
                if fits:
                    chosen = b
                    break
            if chosen == bins:
                bins += 1
            for j in range(d):
                loads[chosen, j] += weights[t, j]
            where[k] = chosen
            k += 1
    return where, bins


@njit(cache=True)
def longest_paths(order, in_start, in_arcs, arcs, profit, source):
    """Most profitable path from the source to every node; ``profit[t]`` per copy of t.

    Returns (best profit per node, the last arc of that path per node, -1 if none).
    """
    n = order.shape[0]
    best = np.full(n, -np.inf)
    pred = np.full(n, -1, np.int64)
    best[source] = 0.0
    for v in order:
        for p in range(in_start[v], in_start[v + 1]):
            a = in_arcs[p]
            u = arcs[a, 0]
            if best[u] == -np.inf:
                continue
            t = arcs[a, 2]
            value = best[u]
            if t >= 0:
                value += profit[t] * arcs[a, 3]
            if value > best[v]:
                best[v] = value
                pred[v] = a
    return best, pred


@njit(cache=True)
def best_fit_decreasing(weights, demands, cap):
    """Best fit over item types in the given order: the fitting bin left fullest.

    Fullness is the sum over dimensions of load / capacity. Returns (bin of each copy,
    bins), copies numbered type by type as in :func:`first_fit_decreasing`.
    """
    m, d = weights.shape
    total = 0
    for t in range(m):
        total += demands[t]
    loads = np.zeros((max(total, 1), d), np.int64)
    fill = np.zeros(max(total, 1))
    where = np.empty(total, np.int64)
    bins = 0
    k = 0
    for t in range(m):
        size = 0.0
        for j in range(d):
            size += weights[t, j] / cap[j]
        for _ in range(demands[t]):
            chosen = bins
            for b in range(bins):
                if chosen < bins and fill[b] <= fill[chosen]:
                    continue
                fits = True
                for j in range(d):
                    if loads[b, j] + weights[t, j] > cap[j]:
                        fits = False
                        break
                if fits:
                    chosen = b
            if chosen == bins:
                bins += 1
            for j in range(d):
                loads[chosen, j] += weights[t, j]
            fill[chosen] += size
            where[k] = chosen
            k += 1
    return where, bins


@njit(cache=True)
def _fill_one_bin(weights, avail, cap, order, first, node_limit, chosen):
    """Counts per type of the fullest bin holding one copy of ``first`` (MBS' step).

    Depth-first search over the types in ``order``, each taken from its largest
    fitting count down to zero, pruned by the total size still available; stops at
    a full bin or after ``node_limit`` leaves. Writes the counts into ``chosen``.
    """
    t_count, d = weights.shape
    size = np.zeros(t_count)
    for t in range(t_count):
        for j in range(d):
            size[t] += weights[t, j] / cap[j]
    pos = np.empty(t_count, np.int64)
    p_count = 0
    for t in order:
        if avail[t] - (1 if t == first else 0) > 0:
            pos[p_count] = t
            p_count += 1
    left = np.zeros(p_count + 1)
    for i in range(p_count - 1, -1, -1):
        t = pos[i]
        left[i] = left[i + 1] + size[t] * (avail[t] - (1 if t == first else 0))
    load = np.zeros(d, np.int64)
    for j in range(d):
        load[j] = weights[first, j]
    fill = size[first]
    for t in range(t_count):
        chosen[t] = 0
    chosen[first] = 1
    best_fill = fill
    full = float(d) - 1e-9
    if p_count == 0 or best_fill >= full:
        return best_fill
    count = np.zeros(p_count, np.int64)
    k = 0
    nodes = 0
    while True:
        for i in range(k, p_count):
            t = pos[i]
            most = avail[t] - (1 if t == first else 0)
            for j in range(d):
                if weights[t, j] > 0:
                    most = min(most, (cap[j] - load[j]) // weights[t, j])
            count[i] = most
            for j in range(d):
                load[j] += most * weights[t, j]
            fill += most * size[t]
        nodes += 1
        if fill > best_fill + 1e-12:
            best_fill = fill
            for t in range(t_count):
                chosen[t] = 0
            chosen[first] = 1
            for i in range(p_count):
                chosen[pos[i]] += count[i]
            if best_fill >= full:
                return best_fill
        if nodes >= node_limit:
            return best_fill
        # backtrack to the deepest position (not the last) whose count can drop
        k = -1
        i = p_count - 1
        t = pos[i]
        for j in range(d):
            load[j] -= count[i] * weights[t, j]
        fill -= count[i] * size[t]
        count[i] = 0
        i -= 1
        while i >= 0:
            if count[i] > 0:
                t = pos[i]
                count[i] -= 1
                for j in range(d):
                    load[j] -= weights[t, j]
                fill -= size[t]
                if fill + left[i + 1] > best_fill + 1e-12:
                    k = i + 1
                    break
                for j in range(d):
                    load[j] -= count[i] * weights[t, j]
                fill -= count[i] * size[t]
                count[i] = 0
            i -= 1
        if k < 0:
            return best_fill


@njit(cache=True)
def minimum_bin_slack(weights, demands, cap, order, node_limit):
    """Fleszar & Hindi's MBS': each new bin holds the first remaining type of ``order``
    plus the subset of the remaining copies that leaves the least slack.

    Returns (bin of each copy, bins), copies numbered type by type.
    """
    t_count = weights.shape[0]
    avail = demands.copy()
    total = 0
    for t in range(t_count):
        total += demands[t]
    start = np.zeros(t_count + 1, np.int64)
    for t in range(t_count):
        start[t + 1] = start[t] + demands[t]
    where = np.empty(total, np.int64)
    chosen = np.zeros(t_count, np.int64)
    bins = 0
    head = 0
    while True:
        while head < t_count and avail[order[head]] == 0:
            head += 1
        if head == t_count:
            break
        _fill_one_bin(weights, avail, cap, order, order[head], node_limit, chosen)
        for t in range(t_count):
            for _ in range(chosen[t]):
                where[start[t] + demands[t] - avail[t]] = bins
                avail[t] -= 1
        bins += 1
    return where, bins


@njit(cache=True)
def _excess(load, cap):
    """Overload of one bin: the sum over dimensions of max(0, load - cap) / cap."""
    e = 0.0
    for j in range(cap.shape[0]):
        if load[j] > cap[j]:
            e += (load[j] - cap[j]) / cap[j]
    return e


@njit(cache=True)
def _excess_with(load, cap, add, sub):
    """Overload of a bin after adding row ``add`` and removing row ``sub``."""
    e = 0.0
    for j in range(cap.shape[0]):
        x = load[j] + add[j] - sub[j]
        if x > cap[j]:
            e += (x - cap[j]) / cap[j]
    return e


@njit(cache=True)
def _draw(state, m):
    """Pseudo-random integer in ``0 .. m-1`` from a 64-bit LCG state (shape (1,))."""
    state[0] = state[0] * np.int64(6364136223846793005) + np.int64(1442695040888963407)
    return ((state[0] >> 33) & np.int64(0x7FFFFFFF)) % m


@njit(cache=True)
def target_search(weights, cap, assign, k, tabu, clock, seed, iterations):
    """Tabu search for a packing into ``k`` bins that may start overloaded.

    ``assign`` (int64, shape (n,)) puts every item in a bin ``0 .. k-1``; the search
    minimises the total overload by shifting an item out of an overloaded bin or
    swapping it with an item of another bin, taking the best move whose items are not
    tabu (a move reaching a new best overload is always allowed). Moved items stay
    tabu for a few iterations. Returns True once no bin is overloaded; ``assign``,
    ``tabu`` (per item, the iteration its tabu status
    ends) and ``clock`` (shape (1,), iterations done) are updated in place so the
    search can go on where it stopped.
    """
    rng = np.array([seed], np.int64)
    n, d = weights.shape
    zero = np.zeros(d, np.int64)
    loads = np.zeros((k, d), np.int64)
    for i in range(n):
        for j in range(d):
            loads[assign[i], j] += weights[i, j]
    over = np.zeros(k)
    total = 0.0
    for b in range(k):
        over[b] = _excess(loads[b], cap)
        total += over[b]
    best_total = total
    hot = np.empty(n, np.int64)
    base = clock[0]
    for it in range(base + 1, base + 1 + iterations):
        if total <= 1e-12:
            clock[0] = it
            return True
        h = 0
        for i in range(n):
            if over[assign[i]] > 0:
                hot[h] = i
                h += 1
        best_delta = np.inf
        ties = 0
        mi = -1
        mj = -1
        mb = -1
        for p in range(h):
            i = hot[p]
            a = assign[i]
            free_i = tabu[i] <= it
            for b in range(k):
                if b == a:
                    continue
                delta = (
                    _excess_with(loads[a], cap, zero, weights[i])
                    + _excess_with(loads[b], cap, weights[i], zero)
                    - over[a]
                    - over[b]
                )
                if free_i or total + delta < best_total - 1e-12:
                    if delta < best_delta - 1e-12:
                        best_delta, ties, mi, mj, mb = delta, 1, i, -1, b
                    elif delta < best_delta + 1e-12:
                        ties += 1
                        if _draw(rng, ties) == 0:
                            mi, mj, mb = i, -1, b
            for j in range(n):
                b = assign[j]
                if b == a:
                    continue
                delta = (
                    _excess_with(loads[a], cap, weights[j], weights[i])
                    + _excess_with(loads[b], cap, weights[i], weights[j])
                    - over[a]
                    - over[b]
                )
                if (free_i and tabu[j] <= it) or total + delta < best_total - 1e-12:
                    if delta < best_delta - 1e-12:
                        best_delta, ties, mi, mj, mb = delta, 1, i, j, b
                    elif delta < best_delta + 1e-12:
                        ties += 1
                        if _draw(rng, ties) == 0:
                            mi, mj, mb = i, j, b
        if mi < 0:
            continue
        a = assign[mi]
        for j in range(d):
            loads[a, j] -= weights[mi, j]
            loads[mb, j] += weights[mi, j]
        assign[mi] = mb
        tabu[mi] = it + 3 + _draw(rng, 8)
        if mj >= 0:
            for j in range(d):
                loads[mb, j] -= weights[mj, j]
                loads[a, j] += weights[mj, j]
            assign[mj] = a
            tabu[mj] = it + 3 + _draw(rng, 8)
        over[a] = _excess(loads[a], cap)
        over[mb] = _excess(loads[mb], cap)
        total = 0.0
        for b in range(k):
            total += over[b]
        best_total = min(best_total, total)
    clock[0] = base + iterations
    return total <= 1e-12


@njit(cache=True)
def enumerate_maximal(
    weights, demands, cap, profit, threshold, limit, max_steps, max_cells
):
    """Maximal patterns of profit >= ``threshold``, by depth-first search over types.

    A pattern takes ``0 .. demands[t]`` copies of each type within ``cap``; it is
    maximal when no type below its demand fits in the room left. Types are decided in
    order, most copies first; a branch is cut when the profit left cannot reach the
    threshold (per dimension: a knapsack table over that dimension alone when it has
    at most ``max_cells`` cells, else the best profit per unit of room times the room,
    plus the types that need none of it) or when the types left cannot fill the room
    enough to shut out the last type kept below its demand. Returns (counts,
    patterns, complete): ``counts`` int32 holds one pattern per row; ``complete`` is
    False when ``limit`` patterns or ``max_steps`` search steps were reached first.
    """
    t_count, d = weights.shape
    total = np.zeros(t_count + 1)
    fill = np.zeros((t_count + 1, d), np.int64)
    ratio = np.zeros((t_count + 1, d))
    free = np.zeros((t_count + 1, d))
    for k in range(t_count - 1, -1, -1):
        total[k] = total[k + 1] + profit[k] * demands[k]
        for j in range(d):
            fill[k, j] = fill[k + 1, j] + weights[k, j] * demands[k]
            ratio[k, j] = ratio[k + 1, j]
            free[k, j] = free[k + 1, j]
            if weights[k, j] > 0:
                ratio[k, j] = max(ratio[k, j], profit[k] / weights[k, j])
            else:
                free[k, j] += profit[k] * demands[k]
    table = _knapsack_tables(weights, demands, cap, profit, max_cells)
    counts = np.zeros((64, t_count), np.int32)
    chosen = np.zeros(t_count, np.int64)
    room = np.zeros((t_count + 1, d), np.int64)
    gain = np.zeros(t_count + 1)
    short = np.full(t_count + 1, -1, np.int64)  # last type kept below its demand
    nxt = np.full(t_count + 1, -1, np.int64)  # next count to try at each depth
    room[0] = cap
    patterns = 0
    steps = 0
    depth = 0
    nxt[0] = _most_copies(weights, demands, room, 0, d)
    while depth >= 0:
        if depth == t_count:
            if gain[depth] >= threshold and _is_maximal(
                weights, demands, chosen, room, depth, d
            ):
                if patterns == limit:
                    return counts, patterns, False
                if patterns == counts.shape[0]:
                    grown = np.zeros((2 * patterns, t_count), np.int32)
                    grown[:patterns] = counts
                    counts = grown
                for i in range(t_count):
                    counts[patterns, i] = chosen[i]
                patterns += 1
            depth -= 1
            continue
        c = nxt[depth]
        if c < 0:
            depth -= 1
            continue
        nxt[depth] = c - 1
        steps += 1
        if steps > max_steps:
            return counts, patterns, False
        below = depth if c < demands[depth] else short[depth]
        child = depth + 1
        if below >= 0:
            # the room left must end below the short type's size in some dimension;
            # fewer copies here only leave more room, so no smaller count can do it
            shut = False
            for j in range(d):
                if room[depth, j] - c * weights[depth, j] - fill[child, j] < weights[
                    below, j
                ]:
                    shut = True
                    break
            if not shut:
                if below == depth:
                    nxt[depth] = -1
                continue
        g = gain[depth] + c * profit[depth]
        best = total[child]
        for j in range(d):
            left = room[depth, j] - c * weights[depth, j]
            if table.shape[0] == d:
                best = min(best, table[j, child, left])
            else:
                best = min(best, free[child, j] + left * ratio[child, j])
        if g + best < threshold:
            continue
        chosen[depth] = c
        for j in range(d):
            room[child, j] = room[depth, j] - c * weights[depth, j]
        gain[child] = g
        short[child] = below
        if child < t_count:
            nxt[child] = _most_copies(weights, demands, room, child, d)
        depth = child
    return counts, patterns, True


@njit(cache=True)
def _most_copies(weights, demands, room, k, d):
    """Most copies of type ``k`` that fit in ``room[k]``, at most its demand."""
    most = demands[k]
    for j in range(d):
        if weights[k, j] > 0:
            most = min(most, room[k, j] // weights[k, j])
    return most


@njit(cache=True)
def _is_maximal(weights, demands, chosen, room, depth, d):
    """True when no type below its demand fits in the room left."""
    for i in range(chosen.shape[0]):
        if chosen[i] < demands[i]:
            fits = True
            for j in range(d):
                if weights[i, j] > room[depth, j]:
                    fits = False
                    break
            if fits:
                return False
    return True


@njit(cache=True)
def _knapsack_tables(weights, demands, cap, profit, max_cells):
    """Per dimension j, ``table[j, k, r]``: the best profit of copies of types ``k..``
    within room ``r`` of dimension j alone; an empty array beyond ``max_cells``."""
    t_count, d = weights.shape
    width = 0
    for j in range(d):
        width = max(width, cap[j] + 1)
    if d * (t_count + 1) * width > max_cells:
        return np.zeros((0, 0, 0))
    table = np.zeros((d, t_count + 1, width))
    for j in range(d):
        for k in range(t_count - 1, -1, -1):
            w = weights[k, j]
            for r in range(cap[j] + 1):
                best = table[j, k + 1, r]
                if w == 0:
                    best += demands[k] * profit[k]
                else:
                    c = 1
                    while c <= demands[k] and c * w <= r:
                        best = max(best, c * profit[k] + table[j, k + 1, r - c * w])
                        c += 1
                table[j, k, r] = best
    return table
