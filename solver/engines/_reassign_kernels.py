"""Numba kernels of the reassignment local search: shift and swap moves, annealing.

The search (plain descent or simulated annealing) runs over the incremental ROADEF
state of :class:`solver.datasets.roadef.RoadefState` (``static`` and ``dynamic``) and
calls its move kernels. A swap is applied tentatively and then checked on the machines,
services and neighbourhoods it touched, so every accepted state stays feasible.

``extra`` holds what the ROADEF state lacks:

extra = (eclass[P], eligible[C, M], count[M], objective[1], params[4])

``eclass``/``eligible`` restrict the machines a process may use (one class of all ones
for ROADEF instances); ``count`` is the number of processes per machine; ``objective``
is 0 (ROADEF cost), 1 (machines used, then moves) or 2 (sum of squared load fractions);
``params`` = (machine weight for objective 1, scale for objective 2, unused, unused).

``search`` keeps ``ctl`` = (current cost, best cost, iterations done, moved processes,
max moves, journal length, best held in ``best`` (0/1), acceptance (0 = improving
moves only, 2 = annealing), temperature) and a journal of the moves since the best
state, so the best assignment is recovered without copying the assignment on every
improvement.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..datasets._roadef_kernels import apply_move, move_allowed, move_delta

_MUL = np.uint64(2685821657736338717)


@njit(cache=True)
def _next(rng):
    """Next raw 64-bit value of the xorshift64* generator held in ``rng[0]``."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return x * _MUL


@njit(cache=True)
def below(rng, n):
    """A uniform integer in ``[0, n)``."""
    return np.int64((_next(rng) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True)
def _sq(x, scale):
    return x * x / scale


@njit(cache=True)
def _extra_delta(static, dynamic, extra, p, m):
    """Objective change of moving ``p`` to ``m`` for the objectives 1 and 2."""
    requests, capacity = static[0], static[1]
    initial = static[10]
    assignment, usage = dynamic[0], dynamic[1]
    count, objective, params = extra[2], extra[3], extra[4]
    a = assignment[p]
    home = initial[p]
    moves = np.int64(m != home) - np.int64(a != home)
    if objective[0] == 1:
        d = moves
        if count[a] == 1:
            d -= params[0]
        if count[m] == 0:
            d += params[0]
        return d
    scale = float(params[1])
    total = 0.0
    for r in range(requests.shape[1]):
        c = capacity[a, r]
        if c > 0:
            q = requests[p, r]
            fa = usage[a, r] * 1e6 / c
            fa2 = (usage[a, r] - q) * 1e6 / c
            total += _sq(fa2, scale) - _sq(fa, scale)
        c = capacity[m, r]
        if c > 0:
            q = requests[p, r]
            fm = usage[m, r] * 1e6 / c
            fm2 = (usage[m, r] + q) * 1e6 / c
            total += _sq(fm2, scale) - _sq(fm, scale)
    return np.int64(np.round(total))


@njit(cache=True)
def delta_of(static, dynamic, extra, p, m):
    """Objective change of moving ``p`` to ``m`` under the chosen objective."""
    if extra[3][0] == 0:
        return move_delta(static, dynamic, p, m)
    if dynamic[0][p] == m:
        return np.int64(0)
    return _extra_delta(static, dynamic, extra, p, m)


@njit(cache=True)
def do_move(static, dynamic, extra, p, m):
    """Apply the move and keep the per-machine process counts."""
    count = extra[2]
    a = dynamic[0][p]
    count[a] -= 1
    count[m] += 1
    apply_move(static, dynamic, p, m)


@njit(cache=True)
def _eligible(extra, p, m):
    return extra[1][extra[0][p], m] != 0


@njit(cache=True)
def _machine_ok(static, dynamic, m):
    requests, capacity, transient = static[0], static[1], static[3]
    usage, tusage = dynamic[1], dynamic[2]
    for r in range(requests.shape[1]):
        if usage[m, r] > capacity[m, r]:
            return False
        if transient[r] != 0 and tusage[m, r] > capacity[m, r]:
            return False
    return True


@njit(cache=True)
def _service_ok(static, dynamic, s, m):
    """No two processes of ``s`` on ``m`` (the conflict constraint)."""
    svc_ptr, svc_procs = static[18], static[19]
    assignment = dynamic[0]
    seen = 0
    for k in range(svc_ptr[s], svc_ptr[s + 1]):
        if assignment[svc_procs[k]] == m:
            seen += 1
            if seen > 1:
                return False
    return True


@njit(cache=True)
def _neighbourhood_ok(static, dynamic, s, n):
    """Dependencies of ``s`` and on ``s`` hold in neighbourhood ``n``."""
    dep_ptr, dep, rdep_ptr, rdep = static[14], static[15], static[16], static[17]
    svc_nbh = dynamic[8]
    if svc_nbh[s, n] > 0:
        for k in range(dep_ptr[s], dep_ptr[s + 1]):
            if svc_nbh[dep[k], n] == 0:
                return False
    else:
        for k in range(rdep_ptr[s], rdep_ptr[s + 1]):
            if svc_nbh[rdep[k], n] > 0:
                return False
    return True


@njit(cache=True)
def pair_ok(static, dynamic, p1, m1, p2, m2):
    """Whether the state is feasible after ``p1`` went ``m1 -> m2``, ``p2 m2 -> m1``."""
    service, nbh, spread_min = static[9], static[11], static[13]
    svc_nloc = dynamic[7]
    if not _machine_ok(static, dynamic, m1) or not _machine_ok(static, dynamic, m2):
        return False
    s1 = service[p1]
    s2 = service[p2]
    if not _service_ok(static, dynamic, s1, m2) or not _service_ok(
        static, dynamic, s2, m1
    ):
        return False
    if svc_nloc[s1] < spread_min[s1] or svc_nloc[s2] < spread_min[s2]:
        return False
    n1 = nbh[m1]
    n2 = nbh[m2]
    if n1 != n2:
        for s in (s1, s2):
            if not _neighbourhood_ok(static, dynamic, s, n1):
                return False
            if not _neighbourhood_ok(static, dynamic, s, n2):
                return False
    return True


@njit(cache=True)
def _log(journal, ctl, best, assignment, p, old):
    """Record that ``p`` left ``old``; on overflow store the best state in ``best``."""
    if ctl[6] == 1:
        return
    k = ctl[5]
    if k >= journal.shape[0]:
        best[:] = assignment
        for j in range(k - 1, -1, -1):
            best[journal[j, 0]] = journal[j, 1]
        ctl[6] = 1
        ctl[5] = 0
        return
    journal[k, 0] = p
    journal[k, 1] = old
    ctl[5] = k + 1


@njit(cache=True)
def _new_best(ctl):
    ctl[1] = ctl[0]
    ctl[5] = 0
    ctl[6] = 0


@njit(cache=True)
def store_best(ctl, journal, best, assignment):
    """Write the best assignment seen into ``best`` (from the journal if needed)."""
    if ctl[6] == 1:
        return
    best[:] = assignment
    for j in range(ctl[5] - 1, -1, -1):
        best[journal[j, 0]] = journal[j, 1]
    ctl[6] = 1
    ctl[5] = 0


@njit(cache=True)
def search(static, dynamic, extra, rng, ctl, journal, best, iters, swap_pct):
    """Run ``iters`` iterations of random shift and swap moves.

    A move is accepted when it keeps every hard constraint (and the move budget) and
    lowers the cost (``ctl[7]`` = 0), or, annealing (``ctl[7]`` = 2), when its cost
    rise stays below ``-temperature * ln(u)`` for a uniform ``u``. Returns the number
    of moves applied.
    """
    initial, service = static[10], static[9]
    assignment = dynamic[0]
    n_proc = assignment.shape[0]
    n_mach = static[1].shape[0]
    applied = 0
    for _ in range(iters):
        ctl[2] += 1
        cur = ctl[0]
        limit = cur - 1
        if ctl[7] == 2:
            u = (below(rng, 1 << 30) + 0.5) / (1 << 30)
            limit = cur + np.int64(-ctl[8] * np.log(u))
        if below(rng, 100) >= swap_pct:
            p = below(rng, n_proc)
            m = below(rng, n_mach)
            a = assignment[p]
            if m == a or not _eligible(extra, p, m):
                continue
            d = delta_of(static, dynamic, extra, p, m)
            if cur + d > limit:
                continue
            home = initial[p]
            moved = ctl[3] + np.int64(m != home) - np.int64(a != home)
            if moved > ctl[4] or not move_allowed(static, dynamic, p, m):
                continue
            _log(journal, ctl, best, assignment, p, a)
            do_move(static, dynamic, extra, p, m)
            ctl[3] = moved
            ctl[0] = cur + d
            applied += 1
        else:
            p1 = below(rng, n_proc)
            p2 = below(rng, n_proc)
            m1 = assignment[p1]
            m2 = assignment[p2]
            if m1 == m2 or service[p1] == service[p2]:
                continue
            if not _eligible(extra, p1, m2) or not _eligible(extra, p2, m1):
                continue
            requests, capacity = static[0], static[1]
            usage = dynamic[1]
            fits = True
            for r in range(requests.shape[1]):
                diff = requests[p1, r] - requests[p2, r]
                if usage[m2, r] + diff > capacity[m2, r] or (
                    usage[m1, r] - diff > capacity[m1, r]
                ):
                    fits = False
                    break
            if not fits:
                continue
            h1 = initial[p1]
            h2 = initial[p2]
            moved = (ctl[3] + np.int64(m2 != h1) - np.int64(m1 != h1)
                     + np.int64(m1 != h2) - np.int64(m2 != h2))
            if moved > ctl[4]:
                continue
            d = delta_of(static, dynamic, extra, p1, m2)
            do_move(static, dynamic, extra, p1, m2)
            d += delta_of(static, dynamic, extra, p2, m1)
            do_move(static, dynamic, extra, p2, m1)
            if cur + d > limit or not pair_ok(static, dynamic, p1, m1, p2, m2):
                do_move(static, dynamic, extra, p2, m2)
                do_move(static, dynamic, extra, p1, m1)
                continue
            _log(journal, ctl, best, assignment, p1, m1)
            _log(journal, ctl, best, assignment, p2, m2)
            ctl[3] = moved
            ctl[0] = cur + d
            applied += 1
        if ctl[0] < ctl[1]:
            _new_best(ctl)
    return applied


@njit(cache=True)
def restore(static, dynamic, extra, target):
    """Move every process to its machine in ``target``, keeping the counters exact."""
    assignment = dynamic[0]
    for p in range(assignment.shape[0]):
        if assignment[p] != target[p]:
            do_move(static, dynamic, extra, p, target[p])
