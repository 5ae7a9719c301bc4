"""Numba kernels of the reassignment local search: shift and swap moves, annealing.

The search (plain descent or simulated annealing) runs over the incremental ROADEF
state of :class:`solver.datasets.roadef.RoadefState` (``static`` and ``dynamic``). The
tuples are unpacked once per kernel call and the move evaluation works on the flat
arrays (passing the tuples to every helper costs more than the evaluation itself).
A swap is applied tentatively and then checked on the machines, services and
neighbourhoods it touched, so every accepted state stays feasible.

``extra`` holds what the ROADEF state lacks:

extra = (eclass[P], eligible[C, M], count[M], objective[1], params[4])

``eclass``/``eligible`` restrict the machines a process may use (one class of all ones
for ROADEF instances); ``count`` is the number of processes per machine; ``objective``
is 0 (ROADEF cost), 1 (machines used, then moves) or 2 (sum of squared load fractions);
``params`` = (machine weight for objective 1, scale for objective 2, unused, unused).

``search`` keeps ``ctl`` = (current cost, best cost, iterations done, moved processes,
max moves, journal length, best held in ``best`` (0/1), acceptance (0 = improving
moves only, 1 = improving or equal, 2 = annealing), temperature, share of scanning
shifts in percent, share of those that are ejection chains in percent, then the cost
decrease won by swaps, by shifts, and the work spent on swaps, on shifts (in rough
units of one random move; a scan counts a quarter of the machines), then the share of
homing moves in percent) and a journal of
the moves since the best state, so the best assignment is recovered without copying
the assignment on every improvement.

A scanning shift takes a process (half the time one of a machine with a load or
balance cost) and tries it on every eligible machine, keeping the cheapest allowed
target: the process's data is fetched once for all machines, which is many times
faster per evaluated move than random process-machine pairs. An ejection chain moves
a process ``q`` of a random machine ``m`` to its cheapest target first, then the
chosen process onto ``m``; it frees room (transient room above all) that no single
shift can. A homing move starts from a process away from its initial machine: the
scanning shift, a plain shift or the ejection chain onto its initial machine, or a
swap with a process there or with another process away from home (two moved
processes trading machines). Once the load cost is gone, the move costs are what is
left, and random picks rarely find the few processes whose return pays: on b_09 at
240 s a swap of two processes away from home improves 550 times as often as a swap
of two random processes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..datasets._roadef_kernels import _pos, allowed, apply_arrays, cost_delta

_MUL = np.uint64(2685821657736338717)
_BIG = np.int64(2**62)


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


# ----------------------------------------------------------------- flat move kernels


@njit(cache=True, inline="always")
def _sq(x, scale):
    return x * x / scale


@njit(cache=True, inline="always")
def _extra_delta(requests, capacity, initial, assignment, usage, count, objective,
                 params, p, m):
    """Objective change of moving ``p`` to ``m`` for the objectives 1 and 2."""
    a = assignment[p]
    if a == m:
        return np.int64(0)
    home = initial[p]
    moves = np.int64(m != home) - np.int64(a != home)
    if objective == 1:
        d = moves
        if count[a] == 1:
            d -= params[0]
        if count[m] == 0:
            d += params[0]
        return d
    scale = float(params[1])
    total = 0.0
    for r in range(requests.shape[1]):
        q = requests[p, r]
        c = capacity[a, r]
        if c > 0:
            fa = usage[a, r] * 1e6 / c
            fa2 = (usage[a, r] - q) * 1e6 / c
            total += _sq(fa2, scale) - _sq(fa, scale)
        c = capacity[m, r]
        if c > 0:
            fm = usage[m, r] * 1e6 / c
            fm2 = (usage[m, r] + q) * 1e6 / c
            total += _sq(fm2, scale) - _sq(fm, scale)
    return np.int64(np.round(total))


@njit(cache=True, inline="always")
def _apply(requests, service, initial, nbh, loc, assignment, usage, tusage, moved,
           moved_hist, top, svc_loc, svc_nloc, svc_nbh, count, p, m):
    """Move process ``p`` to machine ``m``, also keeping the per-machine counts."""
    a = assignment[p]
    if a == m:
        return
    apply_arrays(requests, service, initial, nbh, loc, assignment, usage, tusage,
                 moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh, p, m)
    count[a] -= 1
    count[m] += 1


@njit(cache=True, inline="always")
def _machine_ok(capacity, transient, usage, tusage, m):
    for r in range(usage.shape[1]):
        if usage[m, r] > capacity[m, r]:
            return False
        if transient[r] != 0 and tusage[m, r] > capacity[m, r]:
            return False
    return True


@njit(cache=True, inline="always")
def _service_ok(svc_ptr, svc_procs, assignment, s, m):
    """No two processes of ``s`` on ``m`` (the conflict constraint)."""
    seen = 0
    for k in range(svc_ptr[s], svc_ptr[s + 1]):
        if assignment[svc_procs[k]] == m:
            seen += 1
            if seen > 1:
                return False
    return True


@njit(cache=True, inline="always")
def _neighbourhood_ok(dep_ptr, dep, rdep_ptr, rdep, svc_nbh, s, n):
    """Dependencies of ``s`` and on ``s`` hold in neighbourhood ``n``."""
    if svc_nbh[s, n] > 0:
        for k in range(dep_ptr[s], dep_ptr[s + 1]):
            if svc_nbh[dep[k], n] == 0:
                return False
    else:
        for k in range(rdep_ptr[s], rdep_ptr[s + 1]):
            if svc_nbh[rdep[k], n] > 0:
                return False
    return True


@njit(cache=True, inline="always")
def _pair_ok(capacity, transient, service, nbh, spread_min, dep_ptr, dep, rdep_ptr,
             rdep, svc_ptr, svc_procs, assignment, usage, tusage, svc_nloc, svc_nbh,
             p1, m1, p2, m2):
    """Whether the state is feasible after ``p1`` went ``m1 -> m2``, ``p2 m2 -> m1``."""
    if not _machine_ok(capacity, transient, usage, tusage, m1):
        return False
    if not _machine_ok(capacity, transient, usage, tusage, m2):
        return False
    s1 = service[p1]
    s2 = service[p2]
    if not _service_ok(svc_ptr, svc_procs, assignment, s1, m2):
        return False
    if not _service_ok(svc_ptr, svc_procs, assignment, s2, m1):
        return False
    if svc_nloc[s1] < spread_min[s1] or svc_nloc[s2] < spread_min[s2]:
        return False
    n1 = nbh[m1]
    n2 = nbh[m2]
    if n1 != n2:
        for s in (s1, s2):
            if not _neighbourhood_ok(dep_ptr, dep, rdep_ptr, rdep, svc_nbh, s, n1):
                return False
            if not _neighbourhood_ok(dep_ptr, dep, rdep_ptr, rdep, svc_nbh, s, n2):
                return False
    return True


# ----------------------------------------------------------------- tuple entry points


@njit(cache=True)
def delta_of(static, dynamic, extra, p, m):
    """Objective change of moving ``p`` to ``m`` under the chosen objective."""
    (requests, capacity, safety, _transient, load_weight, balance, balance_weight,
     pmc, mmc, service, initial, _nbh, _loc, _spread_min, _dep_ptr, _dep, _rdep_ptr,
     _rdep, _svc_ptr, _svc_procs, move_weights) = static
    (assignment, usage, _tusage, moved, moved_hist, top, _svc_loc, _svc_nloc,
     _svc_nbh) = dynamic
    objective = extra[3][0]
    if objective == 0:
        return cost_delta(requests, capacity, safety, load_weight, balance,
                           balance_weight, pmc, mmc, service, initial, move_weights,
                           assignment, usage, moved, moved_hist, top, p, m)
    return _extra_delta(requests, capacity, initial, assignment, usage, extra[2],
                        objective, extra[4], p, m)


@njit(cache=True)
def do_move(static, dynamic, extra, p, m):
    """Apply the move and keep the per-machine process counts."""
    (assignment, usage, tusage, moved, moved_hist, top, svc_loc, svc_nloc,
     svc_nbh) = dynamic
    _apply(static[0], static[9], static[10], static[11], static[12], assignment,
           usage, tusage, moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh,
           extra[2], p, m)


@njit(cache=True)
def restore(static, dynamic, extra, target):
    """Move every process to its machine in ``target``, keeping the counters exact."""
    assignment = dynamic[0]
    for p in range(assignment.shape[0]):
        if assignment[p] != target[p]:
            do_move(static, dynamic, extra, p, target[p])


# ----------------------------------------------------------------- best-state journal


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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


# ----------------------------------------------------------------- the search


@njit(cache=True)
def machine_costs(static, dynamic, out):
    """Load plus balance cost of every machine into ``out``; returns their sum."""
    (requests, capacity, safety, _transient, load_weight, balance, balance_weight,
     _pmc, _mmc, _service, _initial, _nbh, _loc, _spread_min, _dep_ptr, _dep,
     _rdep_ptr, _rdep, _svc_ptr, _svc_procs, _move_weights) = static
    usage = dynamic[1]
    total = np.int64(0)
    for m in range(capacity.shape[0]):
        c = np.int64(0)
        for r in range(requests.shape[1]):
            c += load_weight[r] * _pos(usage[m, r] - safety[m, r])
        for b in range(balance.shape[0]):
            r1 = balance[b, 0]
            r2 = balance[b, 1]
            c += balance_weight[b] * _pos(
                balance[b, 2] * (capacity[m, r1] - usage[m, r1])
                - (capacity[m, r2] - usage[m, r2])
            )
        out[m] = c
        total += c
    return total


@njit(cache=True)
def _best_target(requests, capacity, safety, transient, load_weight, balance,
                 balance_weight, pmc, mmc, service, initial, nbh, loc, spread_min,
                 dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs, move_weights,
                 assignment, usage, tusage, moved, moved_hist, top, svc_loc,
                 svc_nloc, svc_nbh, eclass, eligible, ctl, p, skip, bound):
    """Cheapest allowed machine for ``p`` (not ``skip``) with delta below ``bound``.

    Returns ``(machine, delta)``, machine -1 when none; the move budget is kept.
    """
    a = assignment[p]
    home = initial[p]
    best_d = bound
    best_m = -1
    for m in range(capacity.shape[0]):
        if m in (a, skip) or eligible[eclass[p], m] == 0:
            continue
        d = cost_delta(requests, capacity, safety, load_weight, balance,
                        balance_weight, pmc, mmc, service, initial, move_weights,
                        assignment, usage, moved, moved_hist, top, p, m)
        if d >= best_d:
            continue
        if ctl[3] + np.int64(m != home) - np.int64(a != home) > ctl[4]:
            continue
        if not allowed(requests, capacity, transient, service, initial, nbh, loc,
                        spread_min, dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs,
                        assignment, usage, tusage, svc_loc, svc_nloc, svc_nbh, p, m):
            continue
        best_d = d
        best_m = m
    return best_m, best_d


@njit(cache=True)
def search(static, dynamic, extra, rng, ctl, journal, best, iters, swap_pct):
    """Run ``iters`` iterations of shift and swap moves.

    A move is accepted when it keeps every hard constraint (and the move budget) and
    lowers the cost (``ctl[7]`` = 0), does not raise it (``ctl[7]`` = 1), or,
    annealing (``ctl[7]`` = 2), when its cost rise stays below
    ``-temperature * ln(u)`` for a uniform ``u``. ``ctl[9]`` percent of the shifts
    scan every machine (see the module docstring). Returns the number of moves applied.
    """
    (requests, capacity, safety, transient, load_weight, balance, balance_weight,
     pmc, mmc, service, initial, nbh, loc, spread_min, dep_ptr, dep, rdep_ptr,
     rdep, svc_ptr, svc_procs, move_weights) = static
    (assignment, usage, tusage, moved, moved_hist, top, svc_loc, svc_nloc,
     svc_nbh) = dynamic
    eclass, eligible, count, objective_arr, params = extra
    objective = objective_arr[0]
    n_proc = assignment.shape[0]
    n_mach = capacity.shape[0]
    n_res = requests.shape[1]
    # processes grouped by machine, the machines with a cost and the processes away
    # from home, for scanning shifts and homing moves (built once per call; a move
    # skips a process that left its machine or came home since)
    mcost = np.zeros(n_mach, np.int64)
    scanning = (ctl[9] > 0 or ctl[15] > 0) and objective == 0
    by_machine = np.zeros(n_proc, np.int64)
    ptr = np.zeros(n_mach + 1, np.int64)
    hot = np.zeros(n_mach, np.int64)
    n_hot = 0
    away = np.zeros(n_proc, np.int64)  # processes off their initial machine
    n_away = 0
    if scanning:
        machine_costs(static, dynamic, mcost)
        for p in range(n_proc):
            ptr[assignment[p] + 1] += 1
        for m in range(n_mach):
            ptr[m + 1] += ptr[m]
        fill = ptr[:-1].copy()
        for p in range(n_proc):
            a = assignment[p]
            by_machine[fill[a]] = p
            fill[a] += 1
        for m in range(n_mach):
            if mcost[m] > 0:
                hot[n_hot] = m
                n_hot += 1
        if ctl[15] > 0:
            for p in range(n_proc):
                if assignment[p] != initial[p]:
                    away[n_away] = p
                    n_away += 1
    applied = 0
    for _ in range(iters):
        ctl[2] += 1
        cur = ctl[0]
        limit = cur - 1
        mode = ctl[7]
        if mode == 1:
            limit = cur
        elif mode == 2:
            u = (below(rng, 1 << 30) + 0.5) / (1 << 30)
            limit = cur + np.int64(-ctl[8] * np.log(u))
        if below(rng, 100) >= swap_pct:
            if scanning and below(rng, 100) < ctl[9]:
                ctl[14] += 1 + n_mach // 4
                # scanning shift: a process (away from home, or of a costly machine
                # half the time) to its cheapest allowed target
                homing = n_away > 0 and below(rng, 100) < ctl[15]
                if homing:
                    p = away[below(rng, n_away)]
                    if assignment[p] == initial[p]:
                        continue
                elif n_hot > 0 and below(rng, 2) == 0:
                    src = hot[below(rng, n_hot)]
                    size = ptr[src + 1] - ptr[src]
                    if size == 0:
                        continue
                    p = by_machine[ptr[src] + below(rng, size)]
                    if assignment[p] != src:
                        continue
                else:
                    p = below(rng, n_proc)
                a = assignment[p]
                if below(rng, 100) < ctl[10]:
                    # ejection chain: a process q of a random machine m (p's home
                    # when homing) leaves for its cheapest target, then p takes
                    # the room on m
                    m = initial[p] if homing else below(rng, n_mach)
                    size = ptr[m + 1] - ptr[m]
                    if m == a or eligible[eclass[p], m] == 0 or size == 0:
                        continue
                    q = by_machine[ptr[m] + below(rng, size)]
                    if assignment[q] != m or service[q] == service[p]:
                        continue
                    t, d = _best_target(
                        requests, capacity, safety, transient, load_weight, balance,
                        balance_weight, pmc, mmc, service, initial, nbh, loc,
                        spread_min, dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs,
                        move_weights, assignment, usage, tusage, moved, moved_hist,
                        top, svc_loc, svc_nloc, svc_nbh, eclass, eligible, ctl, q, a,
                        _BIG)
                    if t < 0:
                        continue
                    hq = initial[q]
                    moved_q = np.int64(t != hq) - np.int64(m != hq)
                    _log(journal, ctl, best, assignment, q, m)
                    _apply(requests, service, initial, nbh, loc, assignment, usage,
                           tusage, moved, moved_hist, top, svc_loc, svc_nloc,
                           svc_nbh, count, q, t)
                    home = initial[p]
                    d += cost_delta(requests, capacity, safety, load_weight, balance,
                                     balance_weight, pmc, mmc, service, initial,
                                     move_weights, assignment, usage, moved,
                                     moved_hist, top, p, m)
                    moved_n = (ctl[3] + moved_q + np.int64(m != home)
                               - np.int64(a != home))
                    if cur + d > limit or moved_n > ctl[4] or not allowed(
                        requests, capacity, transient, service, initial, nbh, loc,
                        spread_min, dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs,
                        assignment, usage, tusage, svc_loc, svc_nloc, svc_nbh, p, m,
                    ):
                        _apply(requests, service, initial, nbh, loc, assignment,
                               usage, tusage, moved, moved_hist, top, svc_loc,
                               svc_nloc, svc_nbh, count, q, m)
                        continue
                    ctl[3] += moved_q
                else:
                    m, d = _best_target(
                        requests, capacity, safety, transient, load_weight, balance,
                        balance_weight, pmc, mmc, service, initial, nbh, loc,
                        spread_min, dep_ptr, dep, rdep_ptr, rdep, svc_ptr, svc_procs,
                        move_weights, assignment, usage, tusage, moved, moved_hist,
                        top, svc_loc, svc_nloc, svc_nbh, eclass, eligible, ctl, p, -1,
                        limit - cur + 1)
                    if m < 0:
                        continue
            else:
                ctl[14] += 1
                if n_away > 0 and below(rng, 100) < ctl[15]:
                    p = away[below(rng, n_away)]  # homing shift
                    m = initial[p]
                else:
                    p = below(rng, n_proc)
                    m = below(rng, n_mach)
                a = assignment[p]
                if m == a or eligible[eclass[p], m] == 0:
                    continue
                if objective == 0:
                    d = cost_delta(requests, capacity, safety, load_weight, balance,
                                    balance_weight, pmc, mmc, service, initial,
                                    move_weights, assignment, usage, moved,
                                    moved_hist, top, p, m)
                else:
                    d = _extra_delta(requests, capacity, initial, assignment, usage,
                                     count, objective, params, p, m)
                if cur + d > limit:
                    continue
                home = initial[p]
                if ctl[3] + np.int64(m != home) - np.int64(a != home) > ctl[4]:
                    continue
                if not allowed(requests, capacity, transient, service, initial, nbh,
                                loc, spread_min, dep_ptr, dep, rdep_ptr, rdep,
                                svc_ptr, svc_procs, assignment, usage, tusage,
                                svc_loc, svc_nloc, svc_nbh, p, m):
                    continue
            home = initial[p]
            ctl[3] += np.int64(m != home) - np.int64(a != home)
            _log(journal, ctl, best, assignment, p, a)
            _apply(requests, service, initial, nbh, loc, assignment, usage, tusage,
                   moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh, count, p, m)
            ctl[0] = cur + d
            if d < 0:
                ctl[12] -= d
            applied += 1
        else:
            ctl[13] += 1
            if n_away > 0 and below(rng, 100) < ctl[15]:
                # homing swap: a process away from home and one on its home machine,
                # or another process away from home
                p1 = away[below(rng, n_away)]
                h = initial[p1]
                if below(rng, 2) == 0:
                    p2 = away[below(rng, n_away)]
                    if assignment[p1] == h or assignment[p2] == initial[p2]:
                        continue
                else:
                    size = ptr[h + 1] - ptr[h]
                    if assignment[p1] == h or size == 0:
                        continue
                    p2 = by_machine[ptr[h] + below(rng, size)]
                    if assignment[p2] != h:
                        continue
            else:
                p1 = below(rng, n_proc)
                p2 = below(rng, n_proc)
            m1 = assignment[p1]
            m2 = assignment[p2]
            if m1 == m2 or service[p1] == service[p2]:
                continue
            if eligible[eclass[p1], m2] == 0 or eligible[eclass[p2], m1] == 0:
                continue
            fits = True
            for r in range(n_res):
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
            moved_n = (ctl[3] + np.int64(m2 != h1) - np.int64(m1 != h1)
                       + np.int64(m1 != h2) - np.int64(m2 != h2))
            if moved_n > ctl[4]:
                continue
            if objective == 0:
                d = cost_delta(requests, capacity, safety, load_weight, balance,
                                balance_weight, pmc, mmc, service, initial,
                                move_weights, assignment, usage, moved, moved_hist,
                                top, p1, m2)
            else:
                d = _extra_delta(requests, capacity, initial, assignment, usage,
                                 count, objective, params, p1, m2)
            _apply(requests, service, initial, nbh, loc, assignment, usage, tusage,
                   moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh, count, p1, m2)
            if objective == 0:
                d += cost_delta(requests, capacity, safety, load_weight, balance,
                                 balance_weight, pmc, mmc, service, initial,
                                 move_weights, assignment, usage, moved, moved_hist,
                                 top, p2, m1)
            else:
                d += _extra_delta(requests, capacity, initial, assignment, usage,
                                  count, objective, params, p2, m1)
            _apply(requests, service, initial, nbh, loc, assignment, usage, tusage,
                   moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh, count, p2, m1)
            if cur + d > limit or not _pair_ok(
                capacity, transient, service, nbh, spread_min, dep_ptr, dep,
                rdep_ptr, rdep, svc_ptr, svc_procs, assignment, usage, tusage,
                svc_nloc, svc_nbh, p1, m1, p2, m2,
            ):
                _apply(requests, service, initial, nbh, loc, assignment, usage,
                       tusage, moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh,
                       count, p2, m2)
                _apply(requests, service, initial, nbh, loc, assignment, usage,
                       tusage, moved, moved_hist, top, svc_loc, svc_nloc, svc_nbh,
                       count, p1, m1)
                continue
            _log(journal, ctl, best, assignment, p1, m1)
            _log(journal, ctl, best, assignment, p2, m2)
            ctl[3] = moved_n
            ctl[0] = cur + d
            if d < 0:
                ctl[11] -= d
            applied += 1
        if ctl[0] < ctl[1]:
            _new_best(ctl)
    return applied
