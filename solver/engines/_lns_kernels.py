"""Numba kernels of the ``lns`` engine: empty machines by moves, swaps and ejections.

The incumbent lives in flat arrays: ``assign`` (machine of each container), ``load``
(requests summed per machine) and doubly linked member lists ``head``/``nxt``/``prv``
with ``count`` per machine. Every move keeps each machine within its capacity, so the
incumbent stays a valid placement between any two moves; a failed attempt is rolled
back exactly from its move log.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def link(assign, m, head, nxt, prv, count):
    """Build the member lists of ``assign`` (-1 = unplaced) over ``m`` machines."""
    head[:] = -1
    count[:] = 0
    for i in range(assign.shape[0]):
        j = assign[i]
        nxt[i] = -1
        prv[i] = -1
        if j < 0:
            continue
        h = head[j]
        nxt[i] = h
        if h >= 0:
            prv[h] = i
        head[j] = i
        count[j] += 1
    return 0


@njit(cache=True, inline="always")
def _add(i, j, req, assign, load, head, nxt, prv, count):
    d = req.shape[1]
    for k in range(d):
        load[j, k] += req[i, k]
    assign[i] = j
    h = head[j]
    nxt[i] = h
    prv[i] = -1
    if h >= 0:
        prv[h] = i
    head[j] = i
    count[j] += 1


@njit(cache=True, inline="always")
def _remove(i, req, assign, load, head, nxt, prv, count):
    j = assign[i]
    d = req.shape[1]
    for k in range(d):
        load[j, k] -= req[i, k]
    p = prv[i]
    q = nxt[i]
    if p >= 0:
        nxt[p] = q
    else:
        head[j] = q
    if q >= 0:
        prv[q] = p
    nxt[i] = -1
    prv[i] = -1
    assign[i] = -1
    count[j] -= 1


@njit(cache=True, inline="always")
def _fits(i, j, req, load, cap):
    for k in range(req.shape[1]):  # noqa: SIM110 (a plain loop compiles in Numba)
        if load[j, k] + req[i, k] > cap[j, k]:
            return False
    return True


@njit(cache=True, inline="always")
def _slack(j, load, cap, inv):
    s = 0.0
    for k in range(load.shape[1]):
        s += (cap[j, k] - load[j, k]) * inv[k]
    return s


@njit(cache=True, inline="always")
def _rand(state):
    # xorshift64*: a deterministic stream kept in state[0]
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return (x * np.uint64(2685821657736338717)) >> np.uint64(11)


@njit(cache=True)
def _best_fit(i, b, req, load, cap, inv, target, count, order, start, span):
    """Open machine (not ``b``) where ``i`` fits leaving the least slack, or -1."""
    best = -1
    best_s = 1e300
    m = order.shape[0]
    for t in range(span):
        j = order[(start + t) % m]
        if j == b or count[j] == 0 or not target[j]:
            continue
        if not _fits(i, j, req, load, cap):
            continue
        s = _slack(j, load, cap, inv)
        if s < best_s:
            best_s = s
            best = j
    return best


@njit(cache=True)
def _exchange(i, b, req, size, movable, load, cap, target, count, head, nxt, order,
              start, span, back):
    """(machine, container) smallest to trade for ``i``: it must make room for ``i``
    and, with ``back``, fit on ``b`` in place of ``i`` (a swap, not an ejection)."""
    d = req.shape[1]
    best_j = -1
    best_k = -1
    best_size = size[i]
    m = order.shape[0]
    for t in range(span):
        j = order[(start + t) % m]
        if j == b or count[j] == 0 or not target[j]:
            continue
        k = head[j]
        while k >= 0:
            if movable[k] and size[k] < best_size:
                ok = True
                for r in range(d):
                    if load[j, r] - req[k, r] + req[i, r] > cap[j, r] or (
                        back and load[b, r] - req[i, r] + req[k, r] > cap[b, r]
                    ):
                        ok = False
                        break
                if ok:
                    best_size = size[k]
                    best_j = j
                    best_k = k
            k = nxt[k]
    return best_j, best_k


@njit(cache=True)
def empty_machines(req, cap, target, movable, size, inv, assign, load, head, nxt,
                   prv, count, tabu, state, attempts, max_eject, span, pick, it0):
    """Try ``attempts`` times to empty a lightly loaded machine; machines emptied.

    Each attempt takes the least filled of ``pick`` random machines (of all machines
    when ``pick`` is 0) that is not resting (``tabu`` holds the attempt number until
    which a machine rests) and holds only ``movable`` containers, moves its
    containers largest first to the open machine where each fits tightest, and when
    one fits nowhere swaps it for the smallest container whose removal makes room
    (an ejection chain of at most ``max_eject`` swaps, each ejecting a strictly
    smaller container). Success keeps the machine empty. On failure, when the
    containers still pending fit on the machine and weigh less than it held, they go
    back there (its slack grew); otherwise every move of the attempt is undone and
    its containers only move where they fit, or swap with smaller ones, so its load
    still falls (a machine not in ``target`` only loses containers). Sizes are ``size``
    (requests weighted by ``inv``); only ``target`` machines receive containers.
    ``span`` machines (from a random offset of a shuffled order) are searched per
    placement, which bounds the cost of one attempt on large fleets.
    """
    n = req.shape[0]
    m = cap.shape[0]
    d = req.shape[1]
    order = np.arange(m)
    for t in range(m - 1, 0, -1):
        u = np.int64(_rand(state) % np.uint64(t + 1))
        order[t], order[u] = order[u], order[t]
    log_i = np.empty(n + 1, np.int64)
    log_j = np.empty(n + 1, np.int64)
    pending = np.empty(n + 1, np.int64)
    emptied = 0
    for a in range(attempts):
        it = it0 + a
        # the least filled open machine (of all, or of ``pick`` drawn at random)
        # that may be emptied and is not resting
        b = -1
        best = 1e300
        first = np.int64(_rand(state) % np.uint64(m))
        for t in range(m if pick <= 0 else min(pick, m)):
            j = order[(first + t) % m] if pick > 0 else t
            if count[j] == 0 or tabu[j] > it:
                continue
            s = 0.0
            k = head[j]
            ok = True
            while k >= 0:
                if not movable[k]:
                    ok = False
                    break
                s += size[k]
                k = nxt[k]
            if ok and s < best:
                best = s
                b = j
        if b < 0:
            if pick > 0:
                continue
            break
        start = np.int64(_rand(state) % np.uint64(m))
        nlog = 0
        npend = 0
        k = head[b]
        while k >= 0:
            pending[npend] = k
            npend += 1
            k = nxt[k]
        for k in range(npend):
            log_i[nlog] = pending[k]
            log_j[nlog] = b
            nlog += 1
            _remove(pending[k], req, assign, load, head, nxt, prv, count)
        ejections = 0
        failed = False
        while npend > 0:
            # take the largest pending container
            top = 0
            for t in range(1, npend):
                if size[pending[t]] > size[pending[top]]:
                    top = t
            i = pending[top]
            npend -= 1
            pending[top] = pending[npend]
            j = _best_fit(i, b, req, load, cap, inv, target, count, order, start, span)
            if j >= 0:
                _add(i, j, req, assign, load, head, nxt, prv, count)
                continue
            if ejections >= max_eject:
                failed = True
                pending[npend] = i
                npend += 1
                break
            j, k = _exchange(i, b, req, size, movable, load, cap, target, count,
                             head, nxt, order, start, span, False)
            if j < 0:
                failed = True
                pending[npend] = i
                npend += 1
                break
            ejections += 1
            log_i[nlog] = k
            log_j[nlog] = j
            nlog += 1
            _remove(k, req, assign, load, head, nxt, prv, count)
            _add(i, j, req, assign, load, head, nxt, prv, count)
            pending[npend] = k
            npend += 1
        if not failed:
            emptied += 1
            continue
        # keep a shorter chain: the containers left over go back on b when they
        # fit there and weigh less than b held before (slack moves onto b)
        left = 0.0
        fit = True
        for r in range(d):
            tot = 0
            for t in range(npend):
                tot += req[pending[t], r]
            if tot > cap[b, r]:
                fit = False
        for t in range(npend):
            left += size[pending[t]]
        if fit and target[b] and left < best - 1e-9:
            for t in range(npend):
                _add(pending[t], b, req, assign, load, head, nxt, prv, count)
            continue
        # undo: lift every container the attempt touched, put each back
        for t in range(nlog):
            i = log_i[t]
            if assign[i] >= 0:
                _remove(i, req, assign, load, head, nxt, prv, count)
        # the first entry of a container is where it started the attempt
        for t in range(nlog):
            i = log_i[t]
            if assign[i] < 0:
                _add(i, log_j[t], req, assign, load, head, nxt, prv, count)
        # fallback: move containers off b where they fit, else swap each for a
        # smaller one from another machine, lowering the load of b
        moved = 0
        k = head[b]
        while k >= 0:
            nk = nxt[k]
            j = _best_fit(k, b, req, load, cap, inv, target, count, order, start, span)
            if j < 0 and target[b]:
                j, y = _exchange(k, b, req, size, movable, load, cap, target, count,
                                 head, nxt, order, start, span, True)
                if j >= 0:
                    _remove(y, req, assign, load, head, nxt, prv, count)
                    _add(y, b, req, assign, load, head, nxt, prv, count)
            if j >= 0:
                _remove(k, req, assign, load, head, nxt, prv, count)
                _add(k, j, req, assign, load, head, nxt, prv, count)
                moved += 1
            k = nk
        if count[b] == 0:
            emptied += 1
        elif moved == 0:
            tabu[b] = it + 1 + m // 8
    return emptied
