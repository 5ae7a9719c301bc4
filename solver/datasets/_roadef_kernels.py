"""Numba kernels for ROADEF/EURO 2012 local search: cost delta, feasibility, moves.

``static`` is the tuple :class:`solver.datasets.roadef.RoadefState` builds once per
instance; ``dynamic`` holds the arrays a move updates. Arrays are C-contiguous int64.

static  = (requests[P,R], capacity[M,R], safety[M,R], transient[R], load_weight[R],
           balance[B,3], balance_weight[B], process_move_cost[P],
           machine_move_cost[M,M], service[P], initial[P], neighborhood[M],
           location[M], spread_min[S],
           dep_ptr[S+1], dep[K], rdep_ptr[S+1], rdep[K], svc_ptr[S+1], svc_procs[P],
           move_weights[3])
dynamic = (assignment[P], usage[M,R], transient_usage[M,R], moved[S], moved_hist[P+1],
           top[1], svc_loc[S,L], svc_nloc[S], svc_nbh[S,N])

``cost_delta``, ``allowed`` and ``apply_arrays`` take the arrays one by one: hot
loops (the reassignment search) call them without the cost of passing the tuples; the
tuple entry points ``move_delta``, ``move_allowed`` and ``apply_move`` unpack and call
them.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _pos(x):
    return x if x > 0 else 0


@njit(cache=True, inline="always")
def cost_delta(requests, capacity, safety, load_weight, balance, balance_weight,
               pmc, mmc, service, initial, move_weights, assignment, usage, moved,
               moved_hist, top, p, m):
    """Change of the weighted ROADEF objective if process ``p`` moves to ``m``."""
    a = assignment[p]
    if a == m:
        return np.int64(0)
    delta = np.int64(0)
    for r in range(requests.shape[1]):
        w = load_weight[r]
        if w == 0:
            continue
        q = requests[p, r]
        ua = usage[a, r] - safety[a, r]
        um = usage[m, r] - safety[m, r]
        delta += w * (_pos(ua - q) - _pos(ua) + _pos(um + q) - _pos(um))
    for b in range(balance.shape[0]):
        r1 = balance[b, 0]
        r2 = balance[b, 1]
        t = balance[b, 2]
        a1 = capacity[a, r1] - usage[a, r1]
        a2 = capacity[a, r2] - usage[a, r2]
        m1 = capacity[m, r1] - usage[m, r1]
        m2 = capacity[m, r2] - usage[m, r2]
        q1 = requests[p, r1]
        q2 = requests[p, r2]
        delta += balance_weight[b] * (
            _pos(t * (a1 + q1) - (a2 + q2)) - _pos(t * a1 - a2)
            + _pos(t * (m1 - q1) - (m2 - q2)) - _pos(t * m1 - m2)
        )
    home = initial[p]
    was = a != home
    will = m != home
    if will and not was:
        delta += move_weights[0] * pmc[p]
    elif was and not will:
        delta -= move_weights[0] * pmc[p]
    delta += move_weights[2] * (mmc[home, m] - mmc[home, a])
    s = service[p]
    c = moved[s]
    if will and not was and c + 1 > top[0]:
        delta += move_weights[1]
    elif was and not will and c == top[0] and moved_hist[c] == 1:
        delta -= move_weights[1]
    return delta


@njit(cache=True, inline="always")
def allowed(requests, capacity, transient, service, initial, nbh, loc, spread_min,
            dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs, assignment, usage,
            tusage, svc_loc, svc_nloc, svc_nbh, p, m):
    """Whether moving ``p`` to ``m`` keeps a feasible assignment feasible."""
    a = assignment[p]
    if a == m:
        return True
    for r in range(requests.shape[1]):
        q = requests[p, r]
        if transient[r] != 0:
            if m != initial[p] and tusage[m, r] + q > capacity[m, r]:
                return False
        elif usage[m, r] + q > capacity[m, r]:
            return False
    s = service[p]
    for k in range(svc_ptr[s], svc_ptr[s + 1]):
        other = svc_procs[k]
        if other != p and assignment[other] == m:
            return False
    la = loc[a]
    lm = loc[m]
    if la != lm:
        spread = svc_nloc[s]
        if svc_loc[s, la] == 1:
            spread -= 1
        if svc_loc[s, lm] == 0:
            spread += 1
        if spread < spread_min[s]:
            return False
    na = nbh[a]
    nm = nbh[m]
    if na != nm:
        for k in range(dep_ptr[s], dep_ptr[s + 1]):
            d = dep[k]
            if d != s and svc_nbh[d, nm] == 0:
                return False
        if svc_nbh[s, na] == 1:
            for k in range(rdep_ptr[s], rdep_ptr[s + 1]):
                user = rdep[k]
                if user != s and svc_nbh[user, na] > 0:
                    return False
    return True


@njit(cache=True, inline="always")
def apply_arrays(requests, service, initial, nbh, loc, assignment, usage, tusage,
                 moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh, p, m):
    """Move process ``p`` to machine ``m``, updating every incremental array."""
    a = assignment[p]
    if a == m:
        return
    home = initial[p]
    for r in range(requests.shape[1]):
        q = requests[p, r]
        usage[a, r] -= q
        usage[m, r] += q
        if a != home:
            tusage[a, r] -= q
        if m != home:
            tusage[m, r] += q
    s = service[p]
    was = a != home
    will = m != home
    if will and not was:
        c = moved[s]
        moved_hist[c] -= 1
        moved_hist[c + 1] += 1
        moved[s] = c + 1
        if c + 1 > top[0]:
            top[0] = c + 1
    elif was and not will:
        c = moved[s]
        moved_hist[c] -= 1
        moved_hist[c - 1] += 1
        moved[s] = c - 1
        if c == top[0] and moved_hist[c] == 0:
            top[0] = c - 1
    svc_loc[s, loc[a]] -= 1
    if svc_loc[s, loc[a]] == 0:
        svc_nloc[s] -= 1
    if svc_loc[s, loc[m]] == 0:
        svc_nloc[s] += 1
    svc_loc[s, loc[m]] += 1
    svc_nbh[s, nbh[a]] -= 1
    svc_nbh[s, nbh[m]] += 1
    assignment[p] = m


@njit(cache=True)
def move_delta(static, dynamic, p, m):
    """Change of the weighted ROADEF objective if process ``p`` moves to ``m``."""
    (requests, capacity, safety, _transient, load_weight, balance, balance_weight,
     pmc, mmc, service, initial, _nbh, _loc, _spread_min, _dep_ptr, _dep, _rdep_ptr,
     _rdep, _svc_ptr, _svc_procs, move_weights) = static
    (assignment, usage, _tusage, moved, moved_hist, top, _svc_loc, _svc_nloc,
     _svc_nbh) = dynamic
    return cost_delta(requests, capacity, safety, load_weight, balance,
                      balance_weight, pmc, mmc, service, initial, move_weights,
                      assignment, usage, moved, moved_hist, top, p, m)


@njit(cache=True)
def move_allowed(static, dynamic, p, m):
    """Whether moving ``p`` to ``m`` keeps a feasible assignment feasible."""
    (requests, capacity, _safety, transient, _load_weight, _balance, _balance_weight,
     _pmc, _mmc, service, initial, nbh, loc, spread_min, dep_ptr, dep, rdep_ptr,
     rdep, svc_ptr, svc_procs, _move_weights) = static
    (assignment, usage, tusage, _moved, _moved_hist, _top, svc_loc, svc_nloc,
     svc_nbh) = dynamic
    return allowed(requests, capacity, transient, service, initial, nbh, loc,
                   spread_min, dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs,
                   assignment, usage, tusage, svc_loc, svc_nloc, svc_nbh, p, m)


@njit(cache=True)
def apply_move(static, dynamic, p, m):
    """Move process ``p`` to machine ``m``, updating every incremental array."""
    (assignment, usage, tusage, moved, moved_hist, top, svc_loc, svc_nloc,
     svc_nbh) = dynamic
    apply_arrays(static[0], static[9], static[10], static[11], static[12],
                 assignment, usage, tusage, moved, moved_hist, top, svc_loc,
                 svc_nloc, svc_nbh, p, m)


@njit(cache=True)
def machine_usage(assignment, requests, m):
    """Sum of the requests per machine, int64 shape (m, R); exact, unlike bincount."""
    out = np.zeros((m, requests.shape[1]), np.int64)
    for p in range(assignment.shape[0]):
        a = assignment[p]
        for r in range(requests.shape[1]):
            out[a, r] += requests[p, r]
    return out


@njit(cache=True)
def process_moves(static, dynamic, p):
    """Cost delta and feasibility of moving ``p`` to each machine, shape (M,) each."""
    m_count = static[1].shape[0]
    deltas = np.zeros(m_count, np.int64)
    allowed = np.zeros(m_count, np.bool_)
    for m in range(m_count):
        deltas[m] = move_delta(static, dynamic, p, m)
        allowed[m] = move_allowed(static, dynamic, p, m)
    return deltas, allowed
