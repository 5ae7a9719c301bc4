"""Exact first fit in sub-linear time: a segment tree of monotone residual features.

First fit asks for the leftmost machine whose residual covers a request in every
dimension. A plain scan costs O(m) per container, and a tree of per-dimension maxima
prunes badly for d > 1 because the maxima of different dimensions come from different
machines. This tree keeps, per node, the maximum over its machines of several
*monotone features* of the residual: each dimension, weighted minima
``min_k w_k * x_k`` along typical request directions, and the same minima restricted
to machines holding at least a level of a sparse dimension such as GPU. If a machine
covers a request, each of its features is at least the request's feature, so a node
whose maximum is below the request's value in any lane holds no fitting machine and is
skipped. Features only prune: every answer is confirmed by the exact integer test, so
the result is exactly the plain scan's.

:func:`first_fit` adds two shortcuts, both exact: in one dimension it uses a plain max
segment tree (one leaf per machine); otherwise it tunes the lanes to the requests and,
since residuals only go down during a pass, starts the search for a request at the
answer of an earlier identical (or componentwise smaller, immediately preceding)
request, which makes traces that repeat a few request shapes cheap.

Layout of ``state`` (a tuple of arrays; every kernel takes it whole)::

    state[0]   residual  int64[m, d]     the caller's array, tracked in place (no copy)
    state[1]   usable    bool[m]         copy of the usable mask
    state[2]   weight    float32[d, L]   lane weights (L lanes, a multiple of LANES)
    state[3]   offset    float32[d, L]   0 where dimension k enters lane f, else BIG
    state[4]   floor     int64[d, L]     lane f is -1 when x[k] < floor[k, f]
    state[5]   mfeat     int16[m, L]     features of each machine (DEAD if unusable)
    state[6]   tree      int16[2P, L]    lane maxima; node 1 is the root, node P + b
                                         covers machines [b * BLOCK, (b + 1) * BLOCK)
    state[7]   meta      int64[4]        m, d, L, P
    state[8]   reqfeat   int16[1, L]     scratch: features of the request being found
    state[9]   work      float32[L]      scratch: feature evaluation
    state[10]  blockmax  int16[L]        scratch: block maxima

Lane f of a vector x is ``min_k(x[k] * weight[k, f] + offset[k, f])`` in float32,
clipped to [-1, 32767] and truncated to int16, or -1 when some ``x[k] < floor[k, f]``.
Each step is monotone in x, so rounding weakens pruning at most, never exactness.
Requests must be >= 0; ``floor`` holds a lower bound on every request that will be
asked (0 for :func:`tree_build`), so machines below it are never visited.
"""

import numpy as np
from numba import njit

LANES = 8  # lane-count granularity: 8 int16 features fill one 16-byte compare
BLOCK = 16  # machines per leaf block, tested one by one
DEAD = -2  # every lane of an unusable machine; requests have lanes >= -1
TOP = 30000.0  # a lane of the largest residual is scaled to about this value
BIG = 1e30  # offset of a dimension that does not enter a lane (float32-safe)
SAMPLE = 4096  # requests looked at when choosing lane directions
SPARSE_TOL = 0.002  # amounts below this share of the largest residual count as none
LEVELS = 3  # lanes per sparse dimension (levels of the amount asked)
MEMO = 1024  # slots of the first-fit memo of answers per distinct request


@njit(cache=True)
def _lanes(x, i, weight, offset, floor, work):
    """Lane values of row i of ``x`` (residual or request), float32, in ``work``."""
    d, L = weight.shape
    for f in range(L):
        work[f] = BIG
    for k in range(d):
        xk = x[i, k]
        xf = np.float32(xk)
        for f in range(L):
            t = xf * weight[k, f] + offset[k, f]
            t = np.float32(-1.0) if xk < floor[k, f] else t
            w = work[f]
            work[f] = t if t < w else w


@njit(cache=True)
def _store(work, out, row):
    """Clip the float lanes in ``work`` to [-1, 32767] into int16 ``out[row]``."""
    for f in range(work.shape[0]):
        v = work[f]
        v = v if v < np.float32(32767.0) else np.float32(32767.0)
        v = v if v > np.float32(-1.0) else np.float32(-1.0)
        out[row, f] = np.int16(v)


@njit(cache=True)
def _machine_features(state, j):
    """Recompute machine j's lanes from its residual and usability."""
    residual, usable, weight, offset, floor, mfeat = state[:6]
    if usable[j]:
        _lanes(residual, j, weight, offset, floor, state[9])
        _store(state[9], mfeat, j)
    else:
        for f in range(mfeat.shape[1]):
            mfeat[j, f] = DEAD


@njit(cache=True)
def tree_build_spec(residual, usable, weight, offset, floor):
    """Build the state for explicit lanes (see the module docstring for the layout)."""
    m, d = residual.shape
    L = weight.shape[1]
    nblocks = (m + BLOCK - 1) // BLOCK
    P = 1
    while nblocks > P:
        P *= 2
    mfeat = np.empty((m, L), np.int16)
    tree = np.full((2 * P, L), DEAD, np.int16)
    state = (
        residual,
        usable.copy(),
        weight,
        offset,
        floor,
        mfeat,
        tree,
        np.array([m, d, L, P], np.int64),
        np.empty((1, L), np.int16),
        np.empty(L, np.float32),
        np.empty(L, np.int16),
    )
    for j in range(m):
        _machine_features(state, j)
        node = P + j // BLOCK
        for f in range(L):
            tree[node, f] = max(tree[node, f], mfeat[j, f])
    for node in range(P - 1, 0, -1):
        for f in range(L):
            tree[node, f] = max(tree[2 * node, f], tree[2 * node + 1, f])
    return state


@njit(cache=True)
def _set_lane(top, w, weight, offset, f):
    """Store direction ``w`` (0 = dimension unused) as lane f, scaled to TOP."""
    at_top = np.inf
    for k in range(top.shape[0]):
        if w[k] > 0.0:
            at_top = min(at_top, w[k] * top[k])
    for k in range(top.shape[0]):
        weight[k, f] = w[k] * TOP / at_top if w[k] > 0.0 else 0.0
        offset[k, f] = 0.0 if w[k] > 0.0 else BIG


@njit(cache=True)
def _quantiles(values, q):
    """q evenly spaced inner quantiles (the (i + 1/2) / q ones) of ``values``."""
    v = np.sort(values)
    out = np.empty(q)
    for i in range(q):
        out[i] = v[min(v.shape[0] - 1, int((i + 0.5) * v.shape[0] / q))]
    return out


@njit(cache=True)
def lane_spec(residual, usable, sample, rmin, lanes):
    """Choose lanes for a workload: (weight, offset, floor) for :func:`tree_build_spec`.

    ``sample`` (int64[s, d], may be empty) holds typical requests, ``rmin`` (int64[d]) a
    lower bound on every request that will be asked, ``lanes`` the lane budget. Lanes:
    one per dimension; then minima over the dense dimensions along a grid of request
    directions (quantiles of each dimension's log ratio to the first dense one); then,
    per sparse dimension (mostly zero in the sample), the median direction restricted
    to machines holding at least each of a few levels of that dimension.
    """
    m, d = residual.shape
    s = sample.shape[0]
    top = np.ones(d)
    for j in range(m):
        if usable[j]:
            for k in range(d):
                top[k] = max(top[k], float(residual[j, k]))
    dense = np.ones(d, np.bool_)
    for k in range(d):
        tiny = 0
        for i in range(s):
            tiny += sample[i, k] <= SPARSE_TOL * top[k]
        dense[k] = 2 * tiny < s or s == 0
    nd = dense.sum()
    first = np.argmax(dense)
    levels = np.zeros((d, LEVELS), np.int64)
    for k in range(d):
        if nd > 0 and not dense[k]:
            big = np.array(
                [float(sample[i, k]) for i in range(s) if sample[i, k] > rmin[k]]
            )
            if big.shape[0] > 0:
                qs = _quantiles(big, LEVELS)
                for t in range(LEVELS):
                    if t == 0 or qs[t] > qs[t - 1]:
                        levels[k, t] = int(qs[t])
    nlev = (levels > 0).sum()
    L = max(lanes, LANES * ((d + nlev + LANES - 1) // LANES))
    q = 1
    if nd >= 2:
        while (q + 2) ** (nd - 1) <= L - d - nlev:
            q += 2
    ratio = np.zeros((d, q))  # log(x_k / x_first) of direction index t, normalised
    median = np.zeros(d)
    for k in range(d):
        if dense[k] and k != first:
            if s > 0:
                lr = np.empty(s)
                for i in range(s):
                    a = max(float(sample[i, k]), 0.5) / top[k]
                    b = max(float(sample[i, first]), 0.5) / top[first]
                    lr[i] = np.log(a / b)
                ratio[k] = _quantiles(lr, q)
                median[k] = _quantiles(lr, 1)[0]
            else:
                for t in range(q):
                    ratio[k, t] = np.log(4.0) * (2.0 * t / max(q - 1, 1) - 1.0)
    weight = np.zeros((d, L), np.float32)
    offset = np.zeros((d, L), np.float32)
    floor = np.empty((d, L), np.int64)
    for k in range(d):
        floor[k, :] = max(rmin[k], 0)
    w = np.zeros(d)
    f = 0
    for k in range(d):
        w[:] = 0.0
        w[k] = 1.0 / top[k]
        _set_lane(top, w, weight, offset, f)
        f += 1
    if nd >= 2:
        for c in range(q ** (nd - 1)):
            rest = c
            for k in range(d):
                w[k] = 0.0
                if dense[k]:
                    w[k] = 1.0 / top[k]
                    if k != first:
                        w[k] /= np.exp(ratio[k, rest % q])
                        rest //= q
            _set_lane(top, w, weight, offset, f)
            f += 1
    for k in range(d):
        for t in range(LEVELS):
            if levels[k, t] > 0:
                for kk in range(d):
                    w[kk] = 1.0 / top[kk] / np.exp(median[kk]) if dense[kk] else 0.0
                _set_lane(top, w, weight, offset, f)
                floor[k, f] = max(floor[k, f], levels[k, t])
                f += 1
    return weight, offset, floor


@njit(cache=True)
def _default_lanes(d):
    """Lane budget: enough for a direction grid, one 8- or 16-lane compare per node."""
    return LANES if d == 1 else 2 * LANES


@njit(cache=True)
def tree_build(residual, usable):
    """State over ``residual`` (int64[m, d]) and ``usable`` (bool[m]) for any request.

    The state keeps ``residual`` itself (no copy): read it as ``state[0]``.
    """
    d = residual.shape[1]
    sample = np.empty((0, d), np.int64)
    weight, offset, floor = lane_spec(
        residual, usable, sample, np.zeros(d, np.int64), _default_lanes(d)
    )
    return tree_build_spec(residual, usable, weight, offset, floor)


@njit(cache=True)
def tree_build_for(residual, usable, requests):
    """Like :func:`tree_build`, with lanes tuned to ``requests`` (int64[n, d]).

    Only requests >= the componentwise minimum of ``requests`` may be asked later.
    """
    n, d = requests.shape
    rmin = np.zeros(d, np.int64)
    if n > 0:
        rmin[:] = requests[0]
    for i in range(n):
        for k in range(d):
            rmin[k] = min(rmin[k], requests[i, k])
    sample = np.ascontiguousarray(requests[:: max(1, n // SAMPLE)])
    weight, offset, floor = lane_spec(residual, usable, sample, rmin, _default_lanes(d))
    return tree_build_spec(residual, usable, weight, offset, floor)


@njit(cache=True)
def _passes(lanes, row, rf):
    """True when no lane of ``lanes[row]`` is below the request's lane ``rf[0]``."""
    bad = False
    for f in range(lanes.shape[1]):
        bad |= lanes[row, f] < rf[0, f]
    return not bad


@njit(cache=True)
def _scan(state, x, i, rf, start, end):
    """Leftmost usable machine in [start, end) covering request row i; -1 if none."""
    residual, mfeat = state[0], state[5]
    d = residual.shape[1]
    for j in range(start, end):
        if _passes(mfeat, j, rf):
            ok = True
            for k in range(d):
                ok &= residual[j, k] >= x[i, k]
            if ok:
                return j
    return -1


@njit(cache=True)
def _find(state, x, i, rf, lo):
    """:func:`tree_find` with the request's lanes ``rf`` already computed."""
    tree = state[6]
    m, P = state[7][0], state[7][3]
    lo = max(lo, 0)
    if lo >= m:
        return -1
    if lo == 0:
        node = 1
        descend = _passes(tree, node, rf)
        if not descend:
            return -1
    else:
        b = lo // BLOCK
        j = _scan(state, x, i, rf, lo, min(m, (b + 1) * BLOCK))
        if j >= 0:
            return j
        node = P + b
        descend = False
    while True:
        if descend:
            while node < P:
                if _passes(tree, 2 * node, rf):
                    node = 2 * node
                elif _passes(tree, 2 * node + 1, rf):
                    node = 2 * node + 1
                else:
                    break
            if node >= P:
                b = node - P
                j = _scan(state, x, i, rf, b * BLOCK, min(m, (b + 1) * BLOCK))
                if j >= 0:
                    return j
        while node & 1:  # climb to the next subtree on the right
            node >>= 1
        if node == 0:
            return -1
        node += 1
        descend = _passes(tree, node, rf)


@njit(cache=True)
def tree_find(state, req, lo):
    """Smallest j >= lo with usable[j] and residual[j] >= req everywhere; -1 if none."""
    x = req.reshape((1, req.shape[0]))
    _lanes(x, 0, state[2], state[3], state[4], state[9])
    _store(state[9], state[8], 0)
    return _find(state, x, 0, state[8], lo)


@njit(cache=True)
def _refresh(state, j):
    """Recompute machine j's lanes and propagate them up until nothing changes."""
    mfeat, tree, old = state[5], state[6], state[10]
    m, L, P = state[7][0], state[7][2], state[7][3]
    for f in range(L):
        old[f] = mfeat[j, f]
    _machine_features(state, j)
    b = j // BLOCK
    leaf = P + b
    drop = False
    for f in range(L):
        drop |= (mfeat[j, f] < old[f]) & (old[f] == tree[leaf, f])
    if drop:  # machine j held a block maximum that fell: recompute the block
        start = b * BLOCK
        for f in range(L):
            old[f] = mfeat[start, f]
        for i in range(start + 1, min(m, start + BLOCK)):
            for f in range(L):
                old[f] = max(old[f], mfeat[i, f])
    else:
        for f in range(L):
            old[f] = max(tree[leaf, f], mfeat[j, f])
    changed = False
    for f in range(L):
        changed |= old[f] != tree[leaf, f]
        tree[leaf, f] = old[f]
    node = leaf >> 1
    while changed and node >= 1:
        changed = False
        for f in range(L):
            v = max(tree[2 * node, f], tree[2 * node + 1, f])
            changed |= v != tree[node, f]
            tree[node, f] = v
        node >>= 1


@njit(cache=True)
def tree_set(state, j, residual_row, usable_j):
    """Machine j's residual is now ``residual_row`` and its usability ``usable_j``."""
    residual = state[0]
    for k in range(residual.shape[1]):
        residual[j, k] = residual_row[k]
    state[1][j] = usable_j
    _refresh(state, j)


@njit(cache=True)
def tree_take(state, j, req):
    """Machine j receives a container asking ``req``: subtract it, update the tree."""
    _take(state, j, req.reshape((1, req.shape[0])), 0)


@njit(cache=True)
def _take(state, j, x, i):
    """Subtract request row i of ``x`` from machine j and update the tree."""
    residual = state[0]
    for k in range(residual.shape[1]):
        residual[j, k] -= x[i, k]
    _refresh(state, j)


@njit(cache=True)
def _memo_slot(x, i, memo):
    """Slot of request row i of ``x`` in the answer memo (one row per slot)."""
    h = np.uint64(0xCBF29CE484222325)
    for k in range(x.shape[1]):
        h = (h ^ np.uint64(x[i, k])) * np.uint64(0x100000001B3)
    return np.int64((h ^ (h >> np.uint64(29))) & np.uint64(memo.shape[0] - 1))


@njit(cache=True)
def first_fit_state(requests, order, state):
    """First fit of containers ``order`` (in that order) into the machines of ``state``.

    Returns int32[n] machine per container, -1 where none fits or not in ``order``.
    Residuals only go down during the pass, so a request at least the previous one, or
    equal to one answered before (kept in a small memo), starts its search at that
    answer: no machine to the left of it can have started to fit since.
    """
    n, d = requests.shape
    m = state[7][0]
    t_end = order.shape[0]
    queue = np.empty((t_end, d), np.int64)  # requests in placement order, read once
    for t in range(t_end):
        queue[t] = requests[order[t]]
    placed = np.full(t_end, -1, np.int32)
    rf = np.empty((1, state[7][2]), np.int16)
    memo_row = np.full((MEMO, d), -1, np.int64)  # requests are >= 0: -1 is empty
    memo_at = np.zeros(MEMO, np.int64)  # leftmost machine that may still fit the row
    last = 0
    for t in range(t_end):
        lo = 0
        if t > 0:
            above = True
            for k in range(d):
                above &= queue[t, k] >= queue[t - 1, k]
            if above:
                lo = last
        slot = _memo_slot(queue, t, memo_row)
        same = True
        for k in range(d):
            same &= memo_row[slot, k] == queue[t, k]
        if same:
            lo = max(lo, memo_at[slot])
        j = -1
        if lo < m:
            _lanes(queue, t, state[2], state[3], state[4], state[9])
            _store(state[9], rf, 0)
            j = _find(state, queue, t, rf, lo)
        last = j if j >= 0 else m
        memo_row[slot] = queue[t]
        memo_at[slot] = last
        if j >= 0:
            placed[t] = j
            _take(state, j, queue, t)
    assign = np.full(n, -1, np.int32)
    for t in range(t_end):
        assign[order[t]] = placed[t]
    return assign


@njit(cache=True)
def _first_fit_1d(requests, order, residual, usable):
    """First fit in one dimension: a plain max segment tree, one leaf per machine."""
    m = residual.shape[0]
    P = 1
    while m > P:
        P *= 2
    none = np.iinfo(np.int64).min  # unusable machines and padding never fit
    tree = np.full(2 * P, none, np.int64)
    for j in range(m):
        if usable[j]:
            tree[P + j] = residual[j, 0]
    for node in range(P - 1, 0, -1):
        tree[node] = max(tree[2 * node], tree[2 * node + 1])
    assign = np.full(requests.shape[0], -1, np.int32)
    for t in range(order.shape[0]):
        i = order[t]
        r = requests[i, 0]
        if m == 0 or tree[1] < r:
            continue
        node = 1
        while node < P:
            node = 2 * node
            if tree[node] < r:
                node += 1
        v = tree[node] - r
        tree[node] = v
        residual[node - P, 0] = v
        assign[i] = node - P
        node >>= 1
        while node >= 1:
            v = max(tree[2 * node], tree[2 * node + 1])
            if tree[node] == v:
                break
            tree[node] = v
            node >>= 1
    return assign


@njit(cache=True)
def first_fit(requests, order, residual, usable):
    """Exact first fit: container order[t] goes to the leftmost usable machine that
    covers it. Returns int32[n] (-1 = fits nowhere); ``residual`` is updated in
    place."""
    if residual.shape[1] == 1:
        return _first_fit_1d(requests, order, residual, usable)
    return first_fit_state(requests, order, tree_build_for(residual, usable, requests))


@njit(cache=True)
def ffd_order(requests):
    """Containers by decreasing sum of requests, ties by index: the permutation of a
    stable ``argsort(-requests.sum(axis=1))``, by LSD radix sort on 16-bit digits."""
    n, d = requests.shape
    key = np.empty(n, np.int64)
    for i in range(n):
        s = 0
        for k in range(d):
            s += requests[i, k]
        key[i] = s
    order = np.arange(n)
    if n == 0:
        return order
    key = key.max() - key  # ascending key = decreasing sum
    span = key.max()
    tmp = np.empty(n, np.int64)
    count = np.empty(1 << 16, np.int64)
    shift = 0
    while shift < 64 and (span >> shift) > 0:
        count[:] = 0
        for i in range(n):
            count[(key[order[i]] >> shift) & 0xFFFF] += 1
        total = 0
        for b in range(1 << 16):
            c = count[b]
            count[b] = total
            total += c
        for i in range(n):
            o = order[i]
            b = (key[o] >> shift) & 0xFFFF
            tmp[count[b]] = o
            count[b] += 1
        order, tmp = tmp, order
        shift += 16
    return order
