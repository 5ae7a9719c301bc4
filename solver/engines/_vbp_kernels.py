"""Numba kernels of the vector packing heuristics: bin-centric packing, pool search.

Items are rows of ``req`` (int64, n x d) and every bin has the capacity ``cap``
(int64, d). ``share`` (float64, n x d) is ``req / cap``; ``weight`` (float64, n) is
the size an item counts for in the search.

:func:`bin_centric` fills one bin at a time with the fitting item of best score
(dot product with the room left, or the tightest fit by weighted norm, or the largest
weighted size). :func:`pool_search` tries to pack everything into ``target`` bins:
items without a bin sit in a pool, and moves put pool items into bins in exchange
for lighter items (one or two; an evicted item may hop on to another bin with
room), so the pool shrinks, and a random bin is refilled with the heaviest subset
of its items and the pool when that lightens the pool; a short tabu memory keeps
the search from undoing its last moves, and when no move shrinks the pool the best
allowed one is applied anyway. The search ends when the pool is empty or fits the
spare bins.

The kernels release the GIL: the ``cpsat`` engine runs the pool search in one thread
while the LP bound prices its columns in another.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MUL = np.uint64(2685821657736338717)
DOT, NORM, SIZE = 0, 1, 2
_SCAN = 8  # pool items whose best exchange is compared in one iteration
_SPARE_NODES = 200  # search nodes to fit the pool into the spare bins
_REPACK_NODES = 300  # search nodes to refill one bin from the pool


@njit(cache=True, nogil=True)
def _below(rng, n):
    """A uniform integer in ``[0, n)`` from the xorshift64* state ``rng[0]``."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return np.int64(((x * _MUL) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True, nogil=True)
def bin_centric(req, cap, share, dim_weight, rule):
    """Bins filled one at a time by ``rule`` (DOT, NORM, SIZE); -1 = did not fit."""
    n, d = req.shape
    assign = np.full(n, -1, np.int64)
    room = np.empty(d, np.int64)
    left = n
    b = 0
    while left > 0:
        room[:] = cap
        placed = 0
        while True:
            best = -1
            best_score = -np.inf
            for i in range(n):
                if assign[i] >= 0:
                    continue
                fits = True
                for k in range(d):
                    if req[i, k] > room[k]:
                        fits = False
                        break
                if not fits:
                    continue
                s = 0.0
                for k in range(d):
                    r = room[k] / max(cap[k], 1)
                    if rule == DOT:
                        s += dim_weight[k] * share[i, k] * r
                    elif rule == NORM:
                        gap = r - share[i, k]
                        s -= dim_weight[k] * gap * gap
                    else:
                        s += dim_weight[k] * share[i, k]
                if s > best_score:
                    best_score = s
                    best = i
            if best < 0:
                break
            assign[best] = b
            for k in range(d):
                room[k] -= req[best, k]
            left -= 1
            placed += 1
        if placed == 0:
            break
        b += 1
    return assign


@njit(cache=True, nogil=True)
def _fits(load, b, req, cap, add1, add2, out1, out2):
    """Bin ``b`` stays within ``cap`` with items add1/add2 in, out1/out2 out (-1 =
    none)."""
    d = cap.shape[0]
    for k in range(d):
        v = load[b, k]
        if add1 >= 0:
            v += req[add1, k]
        if add2 >= 0:
            v += req[add2, k]
        if out1 >= 0:
            v -= req[out1, k]
        if out2 >= 0:
            v -= req[out2, k]
        if v > cap[k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _gather_pool(cur, pool, dyn, weight, bump):
    """List the unplaced items in ``pool`` and raise their weights by ``bump``;
    returns how many there are."""
    npool = 0
    for i in range(cur.shape[0]):
        if cur[i] < 0:
            pool[npool] = i
            npool += 1
            dyn[i] += bump * weight[i]
    return npool


@njit(cache=True, nogil=True)
def _put(assign, load, items, count, slot, req, i, b):
    """Item ``i`` into bin ``b``."""
    assign[i] = b
    items[b, count[b]] = i
    slot[i] = count[b]
    count[b] += 1
    for k in range(req.shape[1]):
        load[b, k] += req[i, k]


@njit(cache=True, nogil=True)
def _take(assign, load, items, count, slot, req, i):
    """Item ``i`` out of its bin."""
    b = assign[i]
    s = slot[i]
    last = items[b, count[b] - 1]
    items[b, s] = last
    slot[last] = s
    count[b] -= 1
    assign[i] = -1
    for k in range(req.shape[1]):
        load[b, k] -= req[i, k]


@njit(cache=True, nogil=True)
def _best_exchange(
    req,
    cap,
    dyn,
    load,
    items,
    count,
    stay_until,
    away_bin,
    away_until,
    target,
    p,
    q,
    it,
    floor,
    rng,
):
    """Best exchange putting ``p`` (and ``q``) into one bin: (gain, bin, first out,
    second out, hop bin of the first out); bin -1 when none is allowed. Ejection
    chains are only looked for when they could beat ``floor``."""
    w_in = dyn[p] + (0.0 if q < 0 else dyn[q])
    best_gain = -np.inf
    mb = -1
    m1 = -1
    m2 = -1
    mhop = -1
    ties = 0
    start = _below(rng, target)
    for bb in range(target):
        b = (start + bb) % target
        if (away_bin[p] == b and away_until[p] > it) or (
            q >= 0 and away_bin[q] == b and away_until[q] > it
        ):
            continue
        c = count[b]
        for s1 in range(c):
            i = items[b, s1]
            if stay_until[i] > it:
                continue
            if _fits(load, b, req, cap, p, q, i, -1):
                gain = w_in - dyn[i]
                hop = -1
                if gain < w_in - 1e-12 and w_in > max(best_gain, floor) + 1e-12:
                    # ejection chain: i moves on to another bin with room
                    for b2 in range(target):
                        if b2 != b and _fits(load, b2, req, cap, i, -1, -1, -1):
                            hop = b2
                            gain = w_in
                            break
                if gain > best_gain + 1e-12:
                    best_gain = gain
                    mb, m1, m2, mhop = b, i, -1, hop
                    ties = 1
                elif gain > best_gain - 1e-12:
                    ties += 1
                    if _below(rng, ties) == 0:
                        mb, m1, m2, mhop = b, i, -1, hop
            for s2 in range(s1 + 1, c):
                j = items[b, s2]
                if stay_until[j] > it:
                    continue
                if _fits(load, b, req, cap, p, q, i, j):
                    gain = w_in - dyn[i] - dyn[j]
                    if gain > best_gain + 1e-12:
                        best_gain = gain
                        mb, m1, m2, mhop = b, i, j, -1
                        ties = 1
                    elif gain > best_gain - 1e-12:
                        ties += 1
                        if _below(rng, ties) == 0:
                            mb, m1, m2, mhop = b, i, j, -1
    return best_gain, mb, m1, m2, mhop


@njit(cache=True, nogil=True)
def _pack_spare(req, cap, weight, pool, npool, target, spare, cur):
    """The pool items into bins ``target..target+spare-1`` of ``cur`` by a
    depth-first search (heaviest item first, at most ``_SPARE_NODES`` nodes);
    False (``cur`` unchanged) when it finds no way."""
    d = cap.shape[0]
    if spare == 0:
        return False
    total = np.zeros(d, np.int64)
    for t in range(npool):
        for k in range(d):
            total[k] += req[pool[t], k]
    for k in range(d):
        if total[k] > spare * cap[k]:
            return False
    key = np.empty(npool, np.float64)
    for t in range(npool):
        key[t] = -weight[pool[t]]
    order = pool[:npool][np.argsort(key, kind="mergesort")]
    load = np.zeros((spare, d), np.int64)
    put = np.full(npool, -1, np.int64)
    t = 0
    nodes = 0
    while 0 <= t < npool:
        i = order[t]
        b = put[t]
        if b >= 0:
            for k in range(d):
                load[b, k] -= req[i, k]
        # next bin for item t; a new bin only right after the used ones
        used = 0
        for s in range(t):
            used = max(used, put[s] + 1)
        b += 1
        placed = False
        while b < min(spare, used + 1):
            fits = True
            for k in range(d):
                if load[b, k] + req[i, k] > cap[k]:
                    fits = False
                    break
            if fits:
                placed = True
                break
            b += 1
        nodes += 1
        if placed:
            put[t] = b
            for k in range(d):
                load[b, k] += req[i, k]
            t += 1
        else:
            put[t] = -1
            t -= 1
        if nodes > _SPARE_NODES and t < npool:
            return False
    if t < 0:
        return False
    for s in range(npool):
        cur[order[s]] = target + put[s]
    return True


@njit(cache=True, nogil=True)
def _repack(req, cap, weight, items, count, b, pool, npool, mark):
    """The heaviest subset of bin ``b``'s items and the pool items that fits one
    bin (depth-first, at most ``_REPACK_NODES`` nodes); when it is heavier than
    the bin's content, ``mark`` flags its items and the result is True."""
    d = cap.shape[0]
    c = count[b]
    m = c + npool
    cand = np.empty(m, np.int64)
    now = 0.0
    for s in range(c):
        cand[s] = items[b, s]
        now += weight[items[b, s]]
    for t in range(npool):
        cand[c + t] = pool[t]
    key = np.empty(m, np.float64)
    for s in range(m):
        key[s] = -weight[cand[s]]
    cand = cand[np.argsort(key, kind="mergesort")]
    rest = np.zeros(m + 1, np.float64)
    for s in range(m - 1, -1, -1):
        rest[s] = rest[s + 1] + weight[cand[s]]
    take = np.zeros(m, np.bool_)
    keep = np.zeros(m, np.bool_)
    load = np.zeros(d, np.int64)
    best = now + 1e-9
    found = False
    val = 0.0
    s = 0
    nodes = 0
    while True:
        # forward: take every item that fits while the bound can beat the best
        while s < m and val + rest[s] > best and nodes < _REPACK_NODES:
            nodes += 1
            i = cand[s]
            fits = True
            for k in range(d):
                if load[k] + req[i, k] > cap[k]:
                    fits = False
                    break
            if fits:
                take[s] = True
                val += weight[i]
                for k in range(d):
                    load[k] += req[i, k]
            s += 1
        if val > best:
            best = val
            keep[:] = take
            found = True
        # back: drop the last item taken, go on without it
        s -= 1
        while s >= 0 and not take[s]:
            s -= 1
        if s < 0 or nodes >= _REPACK_NODES:
            break
        take[s] = False
        i = cand[s]
        val -= weight[i]
        for k in range(d):
            load[k] -= req[i, k]
        s += 1
    if found:
        for s in range(m):
            mark[cand[s]] = keep[s]
    return found


@njit(cache=True, nogil=True)
def pool_search(
    req, cap, weight, dyn, bump, cur, best, target, spare, iters, tenure, memory, state
):
    """Search for a packing into ``target`` bins from ``cur`` (-1 = pool), or into
    ``target`` bins plus ``spare`` bins that take the whole pool at the end.

    Moves are scored with ``dyn``, the item weights plus ``bump`` x weight for
    every iteration an item spent in the pool (so items that keep coming back get
    harder to evict); ``cur`` holds the search state and is updated in place,
    ``best`` receives the state of fewest (then lightest) pool items seen;
    ``memory`` (int64, 3 x n: iteration until which an item stays in its bin, bin
    it last left, iteration until which it may not go back there) and ``state``
    (int64[3]: iterations done, random state, best pool weight in millionths) carry
    over between calls. Returns the number of items left in the best state's pool
    (0 = success: ``best`` then holds every item, the pool in the spare bins).
    """
    n, d = req.shape
    load = np.zeros((target, d), np.int64)
    items = np.empty((target, n), np.int64)
    count = np.zeros(target, np.int64)
    slot = np.zeros(n, np.int64)
    pool = np.empty(n, np.int64)
    mark = np.zeros(n, np.bool_)
    npool = 0
    cur_w = 0.0
    for i in range(n):
        if cur[i] >= 0:
            b = cur[i]
            _put(cur, load, items, count, slot, req, i, b)
        else:
            pool[npool] = i
            npool += 1
            cur_w += weight[i]
    stay_until = memory[0]
    away_bin = memory[1]
    away_until = memory[2]
    rng = np.empty(1, np.uint64)
    rng[0] = np.uint64(state[1]) | np.uint64(1)
    it0 = state[0]
    best_w = state[2] / 1e6
    best_n = 0
    for i in range(n):
        if best[i] < 0:
            best_n += 1
    for it in range(it0, it0 + iters):
        # direct insertions, fullest bin first
        t = 0
        while t < npool:
            p = pool[t]
            best_b = -1
            best_fill = -1.0
            for b in range(target):
                if _fits(load, b, req, cap, p, -1, -1, -1):
                    fill = 0.0
                    for k in range(d):
                        fill += load[b, k] / max(cap[k], 1)
                    if fill > best_fill:
                        best_fill = fill
                        best_b = b
            if best_b >= 0:
                _put(cur, load, items, count, slot, req, p, best_b)
                cur_w -= weight[p]
                npool -= 1
                pool[t] = pool[npool]
            else:
                t += 1
        if npool < best_n or (npool == best_n and cur_w < best_w - 1e-9):
            best_w = cur_w
            best_n = npool
            best[:] = cur
        if npool == 0 or _pack_spare(req, cap, weight, pool, npool, target, spare, cur):
            best[:] = cur
            state[0] = it + 1
            state[1] = np.int64(rng[0] >> np.uint64(1))
            state[2] = 0
            return 0
        # descent: a random bin refilled with the heaviest subset of its items and
        # the pool that fits, when that lightens the pool
        b = _below(rng, target)
        if _repack(req, cap, weight, items, count, b, pool, npool, mark):
            outs = items[b, : count[b]].copy()
            for i in outs:
                if not mark[i]:
                    _take(cur, load, items, count, slot, req, i)
                    cur_w += weight[i]
                    away_bin[i] = b
                    away_until[i] = it + tenure + _below(rng, tenure + 1)
            for t in range(npool):
                i = pool[t]
                if mark[i]:
                    _put(cur, load, items, count, slot, req, i, b)
                    cur_w -= weight[i]
                    stay_until[i] = it + tenure + _below(rng, tenure + 1)
            mark[:] = False
            npool = _gather_pool(cur, pool, dyn, weight, bump)
            continue
        # exchange: pool item p (and maybe q) in, one or two bin items out; the
        # best move over every pool item (up to _SCAN of them)
        best_gain = -np.inf
        mb = -1
        m1 = -1
        m2 = -1
        mhop = -1
        p = -1
        q = -1
        first = _below(rng, npool)
        for step in range(min(npool, _SCAN)):
            tp = (first + step) % npool
            cand_p = pool[tp]
            cand_q = -1
            if npool > 1 and _below(rng, 4) == 0:
                q_t = _below(rng, npool - 1)
                cand_q = pool[q_t + 1 if q_t >= tp else q_t]
            g, b, i, j, hop = _best_exchange(
                req,
                cap,
                dyn,
                load,
                items,
                count,
                stay_until,
                away_bin,
                away_until,
                target,
                cand_p,
                cand_q,
                it,
                best_gain,
                rng,
            )
            if b >= 0 and (
                g > best_gain + 1e-12
                or (g > best_gain - 1e-12 and _below(rng, step + 1) == 0)
            ):
                best_gain = g
                mb, m1, m2, mhop = b, i, j, hop
                p, q = cand_p, cand_q
        if mb < 0:
            continue
        # apply: p (and q) into mb, m1 (and m2) to the pool
        for out in (m1, m2):
            if out >= 0:
                _take(cur, load, items, count, slot, req, out)
                cur_w += weight[out]
                away_bin[out] = mb
                away_until[out] = it + tenure + _below(rng, tenure + 1)
        for inn in (p, q):
            if inn >= 0:
                _put(cur, load, items, count, slot, req, inn, mb)
                cur_w -= weight[inn]
                stay_until[inn] = it + tenure + _below(rng, tenure + 1)
        if mhop >= 0:
            _put(cur, load, items, count, slot, req, m1, mhop)
            cur_w -= weight[m1]
        npool = _gather_pool(cur, pool, dyn, weight, bump)
    state[0] = it0 + iters
    state[1] = np.int64(rng[0] >> np.uint64(1))
    state[2] = np.int64(best_w * 1e6)
    return best_n


#: Slack under which a knapsack node is not worth exploring (values are machine
#: shares, about 1); a complete search returns its best value plus this.
KNAP_TOL = 1e-9


@njit(cache=True, nogil=True)
def _copies(limit, w, t, room):
    """Copies of row ``t`` of ``w`` that fit ``room`` in every dimension, at most
    ``limit``."""
    c = limit
    for k in range(w.shape[1]):
        if w[t, k] > room[k]:
            return 0
        if c > 1 and w[t, k] > 0:  # (divisions are slow: one copy needs none)
            c = min(c, room[k] // w[t, k])
    return c


#: Subgradient steps that choose the surrogate multipliers of the knapsack bound.
SURROGATE_ROUNDS = 40


@njit(cache=True, nogil=True)
def _surrogate(val, ww, uu, cap, rounds):
    """Multipliers ``lam`` (float64, d) folding the capacity rows into one,
    ``sum_k lam_k w_k <= sum_k lam_k cap_k``, whose fractional knapsack bound is
    small: subgradient steps on the capacity shares, from equal shares. Any
    ``lam >= 0`` gives a valid bound; the best ones give the LP relaxation's."""
    nk, d = ww.shape
    lam = np.full(d, 1.0 / d)
    best_lam = lam.copy()
    best = np.inf
    copies = np.empty(nk, np.float64)
    for t in range(nk):
        copies[t] = _copies(uu[t], ww, t, cap)
    size = np.empty(nk, np.float64)
    key = np.empty(nk, np.float64)
    use = np.empty(d, np.float64)
    step = 1.0
    for _ in range(rounds):
        for t in range(nk):
            size[t] = 0.0
            for k in range(d):
                size[t] += lam[k] * ww[t, k] / max(cap[k], 1)
            key[t] = -np.inf if size[t] <= 0.0 else -val[t] / size[t]
        room = 1.0
        total = 0.0
        use[:] = 0.0
        for t in np.argsort(key, kind="mergesort"):
            take = copies[t] if size[t] <= 0.0 else min(copies[t], room / size[t])
            if take <= 0.0:
                continue
            total += take * val[t]
            room -= take * size[t]
            for k in range(d):
                use[k] += take * ww[t, k] / max(cap[k], 1)
        if total < best:
            best = total
            best_lam[:] = lam
        over = 0.0
        for k in range(d):
            over = max(over, use[k] - 1.0)
        if over <= 1e-9:
            break  # the fractional solution fits every row: the LP bound is reached
        norm = 0.0
        for k in range(d):
            lam[k] *= np.exp(step * (use[k] - 1.0))
            norm += lam[k]
        for k in range(d):
            lam[k] /= norm
        step *= 0.9
    for k in range(d):
        best_lam[k] /= max(cap[k], 1)
    return best_lam


@njit(cache=True, nogil=True)
def _row_bound(j, res, value, w, ub, order, size, room):
    """Upper bound on the value items ``j..`` (positions in branching order) add
    within ``res``: the fractional knapsack along one row (item sizes ``size``,
    room ``room``, items in ``order``, best ratio first), each item capped by the
    copies that fit ``res`` in every dimension."""
    total = 0.0
    for s in range(order.shape[0]):
        t = order[s]
        if t < j:
            continue
        c = _copies(ub[t], w, t, res)
        if c <= 0:
            continue
        if size[t] <= 0.0:
            total += c * value[t]
            continue
        if room <= 0.0:
            break
        take = min(float(c), room / size[t])
        total += take * value[t]
        room -= take * size[t]
    return total


@njit(cache=True, nogil=True)
def _surrogate_room(res, lam):
    """Room left along the surrogate row (``lam`` folding the dimensions)."""
    room = 0.0
    for k in range(res.shape[0]):
        room += lam[k] * res[k]
    return room


@njit(cache=True, nogil=True)
def _rooms(res, lam, room):
    """Room left along each row: each dimension's, then the surrogate row's."""
    d = res.shape[0]
    for k in range(d):
        room[k] = float(res[k])
    room[d] = _surrogate_room(res, lam)


@njit(cache=True, nogil=True)
def _all_rows_bound(j, res, value, w, ub, order, size, lam, room):
    """The least of the row bounds (:func:`_row_bound`) over every dimension and
    the surrogate row: the bound a search cut by its budget reports."""
    _rooms(res, lam, room)
    best = np.inf
    for k in range(order.shape[0]):
        best = min(best, _row_bound(j, res, value, w, ub, order[k], size[k], room[k]))
    return best


#: Buckets of the surrogate row's order: the bucket of position ``j`` (in branching
#: order) lists only items from its first position on, so that a node deep in the
#: search does not walk past the many items before it.
_BUCKETS = 32


@njit(cache=True, nogil=True)
def knapsack(value, w, ub, cap, budget, enough, out, more, collect=-1.0, floor=0.0):
    """Most valuable multiset of item types within ``cap`` in every dimension.

    ``value`` (float64, T) per copy, ``w`` (int64, T x d) sizes, ``ub`` (int64, T)
    copies available. Depth-first branch and bound, items by value over their
    capacity-weighted size, each node bounded by the surrogate row (the dimensions
    folded into one), at most ``budget`` nodes; ``out`` (int64, T) receives the
    best counts; once a value above ``enough`` is found the search stops after
    a hundredth of the budget, and the rows of ``more`` (int64, K x T) receive up
    to K sets of value above ``collect`` (``enough`` when negative) met on the way.
    Only sets worth more than ``floor`` are looked for (a pricing problem wants
    those above 1), which prunes from the first node on. Returns (value of ``out``,
    upper bound on the maximum, rows of ``more`` filled, nodes searched): the bound
    is the larger of that value and ``floor``, plus ``KNAP_TOL``, when the search
    ends, else the largest bound (the least over every row) of a node left open,
    so it stays valid when the budget cuts the search.
    """
    t_all, d = w.shape
    if collect < 0.0:
        collect = enough
    out[:] = 0
    more[:] = 0
    found = 0
    keep = np.zeros(t_all, np.int64)
    nk = 0
    for t in range(t_all):
        if value[t] > 0.0 and ub[t] > 0:
            fits = True
            for k in range(d):
                if w[t, k] > cap[k]:
                    fits = False
            if fits:
                keep[nk] = t
                nk += 1
    if nk == 0:
        return 0.0, KNAP_TOL, 0, 0
    key = np.empty(nk, np.float64)
    for s in range(nk):
        t = keep[s]
        size = 0.0
        for k in range(d):
            size += w[t, k] / max(cap[k], 1)
        key[s] = -value[t] / max(size, 1e-12)
    perm = keep[:nk][np.argsort(key, kind="mergesort")]
    val = np.empty(nk, np.float64)
    ww = np.empty((nk, d), np.int64)
    uu = np.empty(nk, np.int64)
    for s in range(nk):
        val[s] = value[perm[s]]
        uu[s] = ub[perm[s]]
        for k in range(d):
            ww[s, k] = w[perm[s], k]
    order = np.empty((d + 1, nk), np.int64)
    ratio = np.empty(nk, np.float64)
    for k in range(d):
        for s in range(nk):
            ratio[s] = -np.inf if ww[s, k] == 0 else -val[s] / ww[s, k]
        order[k] = np.argsort(ratio, kind="mergesort")
    # the surrogate row: the dimensions folded into one, with multipliers that make
    # its fractional bound small
    lam = _surrogate(val, ww, uu, cap, SURROGATE_ROUNDS)
    size = np.zeros((d + 1, nk), np.float64)
    for s in range(nk):
        for k in range(d):
            size[k, s] = ww[s, k]
            size[d, s] += lam[k] * ww[s, k]
        ratio[s] = -np.inf if size[d, s] <= 0.0 else -val[s] / size[d, s]
    order[d] = np.argsort(ratio, kind="mergesort")
    step = max(1, nk // _BUCKETS)
    buckets = np.empty(((nk + step - 1) // step, nk), np.int64)
    for b in range(buckets.shape[0]):
        m = 0
        for t in order[d]:
            if t >= b * step:
                buckets[b, m] = t
                m += 1
    room = np.empty(d + 1, np.float64)
    x = np.zeros(nk, np.int64)
    bx = np.zeros(nk, np.int64)
    res = cap.copy()
    cur = 0.0
    best = max(floor, 0.0)
    got = 0.0
    j = 0
    nodes = 0
    cut = False
    while True:
        if cur > best:
            best = got = cur
            bx[:] = x
        go = False
        c = 0
        while j < nk:
            c = _copies(uu[j], ww, j, res)
            if c > 0:
                break
            j += 1  # no copy fits: the bound stays the same, no node needed
        if j < nk:
            if nodes >= budget or (best > enough and 100 * nodes >= budget):
                cut = True
                break
            nodes += 1
            # the surrogate row alone: the dimensions' rows prune a few more
            # nodes at several times the cost of each
            b = j // step
            room_d = _surrogate_room(res, lam)
            bound = _row_bound(
                j, res, val, ww, uu, buckets[b, : nk - b * step], size[d], room_d
            )
            if bound > best + KNAP_TOL - cur:
                x[j] = c
                for k in range(d):
                    res[k] -= c * ww[j, k]
                cur += c * val[j]
                j += 1
                go = True
        if go:
            continue
        if cur > collect and found < more.shape[0]:
            for s in range(nk):
                more[found, perm[s]] = x[s]
            found += 1
        # back to the deepest item taken; one copy fewer, then go on from there
        i = j - 1
        while i >= 0 and x[i] == 0:
            i -= 1
        if i < 0:
            break
        x[i] -= 1
        for k in range(d):
            res[k] += ww[i, k]
        cur -= val[i]
        j = i + 1
    upper = best + KNAP_TOL
    if cut:
        # open: the current node, and fewer copies of every item taken on the path
        upper = max(
            upper,
            cur + _all_rows_bound(j, res, val, ww, uu, order, size, lam, room),
        )
        for i in range(j - 1, -1, -1):
            if x[i] > 0:
                for k in range(d):
                    res[k] += x[i] * ww[i, k]
                cur -= x[i] * val[i]
                upper = max(
                    upper,
                    cur + _all_rows_bound(i, res, val, ww, uu, order, size, lam, room),
                )
    for s in range(nk):
        out[perm[s]] = bx[s]
    return got, upper, found, nodes


@njit(cache=True, nogil=True)
def _density_order(value, w, cap, peak):
    """Item types by value over size (the sum of capacity shares, or the largest
    one when ``peak``), most valuable first."""
    t_all, d = w.shape
    key = np.empty(t_all, np.float64)
    for t in range(t_all):
        size = 0.0
        for k in range(d):
            share = w[t, k] / max(cap[k], 1)
            size = max(size, share) if peak else size + share
        key[t] = -value[t] / max(size, 1e-12)
    return np.argsort(key, kind="mergesort")


@njit(cache=True, nogil=True)
def _refill(row, room, value, w, ub, order, skip, worth):
    """Add to ``row`` (counts per type) as many copies as fit ``room`` (updated)
    of each type in ``order`` of positive value, within ``ub`` copies in all,
    passing over type ``skip``; returns ``worth`` plus the value added."""
    for s in order:
        if value[s] <= 0.0:
            break
        if s == skip:
            continue
        n = _copies(ub[s] - row[s], w, s, room)
        if n > 0:
            row[s] += n
            worth += n * value[s]
            for k in range(w.shape[1]):
                room[k] -= n * w[s, k]
    return worth


@njit(cache=True, nogil=True)
def greedy_columns(value, w, ub, cap, peak, out):
    """Multisets of item types within ``cap``, one per row of ``out`` (int64, K x T),
    each taken greedily by value over size (the sum of capacity shares, or the
    largest one when ``peak``), as many copies as fit, from the copies of ``ub``
    that the rows before it left: a greedy packing of the most valuable items.
    Returns the rows filled (those after it are zero)."""
    order = _density_order(value, w, cap, peak)
    left = ub.copy()
    out[:] = 0
    for row in range(out.shape[0]):
        _refill(out[row], cap.copy(), value, w, left, order, -1, 0.0)
        if not out[row].any():
            return row
        left -= out[row]
    return out.shape[0]


@njit(cache=True, nogil=True)
def swap_columns(value, w, ub, cap, cols, above, out):
    """Neighbours of the multisets ``cols`` (int64, C x T, each within ``cap``):
    one copy of an item type taken out, the room then filled greedily by value over
    size with other types (within ``ub`` copies); rows of ``out`` (int64, K x T)
    receive those worth more than ``above``, at most one per row of ``cols``.
    Returns the rows filled."""
    t_all, d = w.shape
    order = _density_order(value, w, cap, False)
    res = np.empty(d, np.int64)
    new = np.empty(t_all, np.int64)
    filled = 0
    for c in range(cols.shape[0]):
        if filled >= out.shape[0]:
            break
        base = 0.0
        for k in range(d):
            res[k] = cap[k]
        for t in range(t_all):
            if cols[c, t] > 0:
                base += cols[c, t] * value[t]
                for k in range(d):
                    res[k] -= cols[c, t] * w[t, k]
        best = above
        for t in range(t_all):
            if cols[c, t] == 0:
                continue
            new[:] = cols[c]
            new[t] -= 1
            room = res + w[t]
            total = _refill(new, room, value, w, ub, order, t, base - value[t])
            if total > best:
                best = total
                out[filled] = new
        if best > above:
            filled += 1
    return filled
