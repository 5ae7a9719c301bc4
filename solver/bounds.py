"""Lower bounds on the number of machines a placement needs.

Every bound counts only containers that fit somewhere (their request vector is within
the capacity of a machine that is up, or of their current machine if that one is not
down) and only machines that are not down; a bound never exceeds the number of such
machines, so a fleet too small for its workload yields "every machine" and the
placement reports the rest as unplaced. Hard constraints other than machine state
(selectors, taints, anti-affinity, ...) are not used: they can only raise the optimum.
"""

from __future__ import annotations

import numpy as np

from .model import DOWN, UP, Problem


def _instance(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Capacity rows of the machines not down, request rows of fitting containers."""
    state = problem.machines.state
    cap = problem.capacity[state != DOWN]
    req = problem.requests
    up = problem.capacity[state == UP]
    kinds = up[:1] if (up == up[:1]).all() else np.unique(up, axis=0)
    # Only machine kinds not dominated by another kind decide whether a request fits.
    top = [
        row for row in kinds
        if not ((kinds >= row).all(axis=1) & (kinds != row).any(axis=1)).any()
    ]
    fits = np.zeros(problem.n, dtype=bool)
    for row in top:
        fits |= (req <= row).all(axis=1)
    if problem.current is not None:
        here = np.flatnonzero(~fits & (problem.current >= 0))
        target = problem.current[here]
        ok = (state[target] != DOWN) & (problem.capacity[target] >= req[here]).all(1)
        fits[here[ok]] = True
    return cap, req if fits.all() else req[fits]


def _total(req: np.ndarray) -> list[int]:
    """Exact column sums of ``req`` (Python integers, no int64 wrap-around)."""
    if not len(req):
        return [0] * req.shape[1]
    if int(req.max()) * len(req) < 2**62:
        return [int(x) for x in req.sum(axis=0)]
    return [int(x) for x in req.sum(axis=0, dtype=object)]


def _continuous(cap: np.ndarray, req: np.ndarray) -> int:
    best = 0
    for total, size in zip(_total(req), cap.max(axis=0).tolist(), strict=True):
        if total > 0:
            best = max(best, -(-total // size))
    return best


def _cover(cap: np.ndarray, req: np.ndarray) -> int:
    """Fewest rows of ``cap`` whose sum reaches the total of ``req`` in every column."""
    need = 0
    for k, total in enumerate(_total(req)):
        if total <= 0:
            continue
        reach = np.cumsum(np.sort(cap[:, k])[::-1].astype(object))
        covered = np.flatnonzero(reach >= total)
        need = max(need, int(covered[0]) + 1 if len(covered) else len(cap))
    return need


def continuous_bound(problem: Problem) -> int:
    """Max over dimensions of ceil(total request / capacity) for identical machines.

    With machines of different sizes the largest capacity of each dimension is used,
    which stays valid (and is weaker than :func:`heterogeneous_bound`).
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req):
        return 0
    return min(_continuous(cap, req), len(cap))


def martello_toth_l2(sizes: np.ndarray, capacity: int) -> int:
    """Martello-Toth L2 lower bound for one-dimensional bin packing.

    For each alpha in {0} and the sizes at most C/2, with J1 = {s > C - alpha},
    J2 = {C/2 < s <= C - alpha} and J3 = {alpha <= s <= C/2}:
    L(alpha) = |J1| + |J2| + max(0, ceil((sum J3 - (|J2| C - sum J2)) / C)),
    and L2 = max over alpha (Martello & Toth, Knapsack Problems, 1990, section 8.3).
    Sizes above ``capacity`` fit in no bin and are ignored. O(n log n).

    Parameters
    ----------
    sizes : array-like of int, shape (n,)
    capacity : int, the capacity of every bin (> 0)
    """
    c = int(capacity)
    s = np.sort(np.asarray(sizes, dtype=np.int64).reshape(-1))
    s = s[s <= c]
    if not len(s) or c <= 0:
        return 0
    n = len(s)
    # Exact Python integers only when int64 arithmetic could overflow.
    kind = object if n * (c + int(s[-1])) >= 2**62 else np.int64
    prefix = np.concatenate(([0], np.cumsum(s.astype(kind)))).astype(kind)
    half = c // 2  # s <= C/2 exactly when s <= C // 2 for integers
    big_lo = np.searchsorted(s, half, side="right")  # first index with s > C/2
    small = s[:big_lo]
    alphas = np.concatenate(([0], small[np.diff(small, prepend=-1) != 0]))
    j1_lo = np.searchsorted(s, c - alphas, side="right")  # first index with s > C - a
    j3_lo = np.searchsorted(s, alphas, side="left")  # first index with s >= a
    count_j1 = (n - j1_lo).astype(kind)
    count_j2 = (j1_lo - big_lo).astype(kind)
    sum_j2 = prefix[j1_lo] - prefix[big_lo]
    sum_j3 = prefix[big_lo] - prefix[j3_lo]
    spill = sum_j3 - (count_j2 * c - sum_j2)
    extra = np.maximum(-(-spill // c), 0)
    return int((count_j1 + count_j2 + extra).max())


def heterogeneous_bound(problem: Problem) -> int:
    """Fewest machines whose capacities cover the total demand in every dimension.

    Per dimension the capacities are taken largest first; the answer is the max over
    dimensions. Valid for any fleet, equal to the continuous bound on identical
    machines.
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req):
        return 0
    return min(_cover(cap, req), len(cap))


def lower_bound(problem: Problem) -> int:
    """The best valid bound here: L2 per dimension on identical machines, else cover.

    On identical machines each dimension is a one-dimensional bin packing relaxation,
    so the max of the per-dimension L2 bounds (never below the continuous bound) is
    valid; on mixed fleets the covering bound applies. At least 1 when anything fits.
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req):
        return 0
    best = max(1, _cover(cap, req))
    if (cap == cap[:1]).all():
        for k in range(problem.d):
            if cap[0, k] > 0:
                best = max(best, martello_toth_l2(req[:, k], int(cap[0, k])))
    return min(best, len(cap))


def conflict_bound(problem: Problem, max_clique: int = 256) -> int:
    """Machines needed, using large-item conflicts and machines lacking a resource.

    Two refinements of :func:`lower_bound`, both valid for vector packing:

    - restricted resources: containers asking a resource (e.g. GPUs) that some machines
      lack can only use the machines that have it, so they alone need the covering
      bound over those machines;
    - conflicts (identical machines): a clique ``K`` of containers that pairwise
      exceed the capacity in some dimension needs ``|K|`` machines; the machine of
      ``i`` in ``K`` takes at most ``min(C - a_i, volume of the containers that fit
      next to a_i)`` of the other containers in each dimension, and the rest of their
      volume needs further machines: ``|K| + max_k ceil((V_k - sum_i r_ik) / C_k)``.

    ``K`` is built greedily, largest first, with at most ``max_clique`` containers.
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req):
        return 0
    best = lower_bound(problem)
    for k in range(problem.d):
        has = cap[:, k] > 0
        if has.all() or not has.any():
            continue
        asking = req[:, k] > 0
        if asking.any():
            best = max(best, _cover(cap[has], req[asking]))
    if (cap == cap[:1]).all():
        best = max(best, _clique_bound(cap[0], req, max_clique))
    return min(best, len(cap))


def _clique_bound(cap: np.ndarray, req: np.ndarray, max_clique: int) -> int:
    """|K| plus the volume the clique's machines cannot absorb (see conflict_bound)."""
    size = np.maximum(cap, 1)
    kinds, counts = np.unique(req, axis=0, return_counts=True)
    order = np.argsort(-(kinds / size).max(axis=1), kind="stable")
    kinds, counts = kinds[order], counts[order]
    left = counts.copy()
    open_ = np.ones(len(kinds), dtype=bool)  # conflicts with every clique member
    clique: list[int] = []  # kind indices, largest first
    while len(clique) < max_clique:
        avail = np.flatnonzero(open_ & (left > 0))
        if not len(avail):
            break
        t = int(avail[0])
        clique.append(t)
        left[t] -= 1
        open_ &= (kinds + kinds[t] > cap).any(axis=1)
    if not clique:
        return 0
    kind = object if int(kinds.max()) * len(req) >= 2**62 else np.int64
    weighted = kinds.astype(kind) * left.astype(kind)[:, None]
    volume = weighted.sum(axis=0)
    absorb = np.zeros(req.shape[1], dtype=kind)
    for i in clique:
        fits = (kinds + kinds[i] <= cap).all(axis=1)
        absorb += np.minimum((cap - kinds[i]).astype(kind), weighted[fits].sum(axis=0))
    spill = volume - absorb
    extra = max(0, *(-(-int(v) // int(c)) for v, c in zip(spill, size, strict=True)))
    return len(clique) + extra


def fekete_schepers(sizes: np.ndarray, capacity: int, kmax: int = 20) -> int:
    """Best Fekete-Schepers dual feasible function bound for one dimension.

    ``u_k(x) = x`` when ``(k + 1) x`` is an integer, else ``floor((k + 1) x) / k``
    maps item sizes (as fractions of the capacity) so that any bin's items still sum
    to at most 1; the bound is ``ceil(sum u_k(x_i))``, maximised over ``k`` in
    1..``kmax``. Computed with exact integers; sizes above ``capacity`` are ignored.
    """
    c = int(capacity)
    s = np.asarray(sizes, dtype=np.int64).reshape(-1)
    s = s[(s <= c) & (s > 0)] if c > 0 else s[:0]
    if not len(s):
        return 0
    best = 0
    for k in range(1, kmax + 1):
        scaled = s.astype(object) * (k + 1) if c * (k + 1) >= 2**62 else s * (k + 1)
        exact = scaled % c == 0
        a = int(s[exact].sum(dtype=object))  # these keep x: a / c
        b = int((scaled[~exact] // c).sum(dtype=object))  # these give b / k
        best = max(best, -(-(a * k + b * c) // (c * k)))
    return best


#: Fit tests the cardinality bound may spend on the most containers per machine (a
#: cut search still gives a valid, weaker, count).
CARDINALITY_WORK = 2_000_000


def _most_per_machine(cap: np.ndarray, req: np.ndarray, work: int) -> int:
    """An upper bound on how many of the rows of ``req`` fit together in ``cap``."""
    from .engines._vbp_bound_kernels import most_items

    # every dimension alone: the smallest sizes first
    most = len(req)
    for k in range(req.shape[1]):
        if cap[k] > 0:
            fill = np.cumsum(np.sort(req[:, k]).astype(object))
            most = min(most, int(np.searchsorted(fill, int(cap[k]), side="right")))
    if most <= 1:
        return max(most, 1)
    share = (req / np.maximum(cap, 1)).sum(axis=1)
    rows = np.ascontiguousarray(req[np.argsort(share, kind="stable")], np.int64)
    found, complete = most_items(rows, np.ascontiguousarray(cap, np.int64), most, work)
    return max(1, found if complete else most)


def _cardinality(cap: np.ndarray, req: np.ndarray, work: int) -> int:
    """ceil(rows of ``req`` over the most of them one machine of ``cap`` holds)."""
    return -(-len(req) // _most_per_machine(cap, req, work))


def cardinality_bound(problem: Problem, work: int = CARDINALITY_WORK) -> int:
    """ceil(containers / the most containers one machine can hold), identical machines.

    The most per machine comes from a depth-first search (at most ``work`` fit
    tests; when cut, the count of smallest sizes each dimension alone admits is
    used instead). It settles instances where no three containers fit together
    and the optimum pairs them all. Mixed fleets get 0.
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req) or not (cap == cap[:1]).all():
        return 0
    return min(_cardinality(cap[0], req, work), len(cap))


def vector_bound(problem: Problem) -> int:
    """The strongest bound here: :func:`conflict_bound`, dual feasible functions and
    :func:`cardinality_bound`.

    :func:`conflict_bound` covers the pairwise side (containers that cannot share a
    machine because of any dimension) and machines lacking a resource such as an
    accelerator; on identical machines each dimension is moreover a bin packing
    relaxation, so its Fekete-Schepers bound is valid, so is the count bound, and so
    is the max of all.
    """
    cap, req = _instance(problem)
    if not len(cap) or not len(req):
        return 0
    best = conflict_bound(problem)
    if (cap == cap[:1]).all():
        for k in range(problem.d):
            if cap[0, k] > 0:
                best = max(best, fekete_schepers(req[:, k], int(cap[0, k])))
        best = max(best, _cardinality(cap[0], req, CARDINALITY_WORK))
    return min(best, len(cap))


def vector_lp_bound(problem: Problem, time_limit: float = 1.0) -> int:
    """:func:`vector_bound` raised by the LP bound of the set-covering model.

    On identical machines the LP relaxation of "fewest machine contents covering
    every container" is solved by column generation for at most ``time_limit``
    seconds; Farley's bound keeps it valid when the time runs out first, so a short
    limit only makes it weaker. It is usually within one machine of the optimum
    (Caprara & Toth, 2001). Mixed fleets get :func:`vector_bound`.
    """
    import time

    from .engines._vbp_bound import column_generation, machines

    best = vector_bound(problem)
    cap, req = _instance(problem)
    if not len(cap) or not len(req) or not (cap == cap[:1]).all():
        return best
    fit = (req <= cap[0]).all(axis=1)
    deadline = time.perf_counter() + time_limit
    lp = column_generation(req[fit], cap[0], deadline=deadline, settle=True)
    return min(max(best, machines(lp.bound)), len(cap))
