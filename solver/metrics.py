"""How good a placement is beyond its machine count: utilization, stranding, balance.

Every function takes ``(problem, placement)`` and looks only at the machines in use
(those running at least one container); results are plain dicts keyed by resource
name so they print and serialise as they are.
"""

from __future__ import annotations

import numpy as np

from .model import Problem
from .placement import Placement


def _loads(problem: Problem, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """(used machine indices int64[u], their loads int64[u, d])."""
    a = np.asarray(placement.assignment, dtype=np.int64)
    placed = a >= 0
    load = np.zeros((problem.m, problem.d), dtype=np.int64)
    np.add.at(load, a[placed], problem.requests[placed])
    used = np.unique(a[placed])
    return used, load[used]


def machines_used(problem: Problem, placement: Placement) -> int:
    """Number of machines running at least one container."""
    return len(_loads(problem, placement)[0])


def utilization(problem: Problem, placement: Placement) -> dict[str, float]:
    """Per dimension: load / capacity summed over the machines in use (0 if none)."""
    used, load = _loads(problem, placement)
    cap = problem.capacity[used].sum(axis=0)
    total = load.sum(axis=0)
    return {
        name: float(total[k] / cap[k]) if cap[k] > 0 else 0.0
        for k, name in enumerate(problem.resources.names)
    }


def stranded(
    problem: Problem, placement: Placement, reference: np.ndarray | None = None
) -> dict[str, int]:
    """Per dimension: free capacity on used machines made useless by another dimension.

    A used machine is *exhausted* in dimension k when its free amount there is below
    ``reference[k]`` (by default the smallest request of any container in dimension k,
    so no container of the workload fits). Its free amount in dimension k is *stranded*
    when the machine is exhausted in some other dimension: free memory on a machine
    whose CPU is used up counts as stranded memory. Amounts are in each resource's unit.

    Parameters
    ----------
    reference : int64, shape (d,), optional
        The request size that must still fit, e.g. a typical container.
    """
    used, load = _loads(problem, placement)
    free = problem.capacity[used] - load
    if reference is None:
        reference = (
            problem.requests.min(axis=0) if problem.n else np.zeros(problem.d, np.int64)
        )
    exhausted = free < np.asarray(reference, dtype=np.int64)
    other = exhausted.sum(axis=1, keepdims=True) - exhausted > 0
    amount = np.where(other, free, 0).sum(axis=0)
    return {name: int(amount[k]) for k, name in enumerate(problem.resources.names)}


def imbalance(problem: Problem, placement: Placement) -> dict[str, float]:
    """Per dimension: coefficient of variation of load / capacity over used machines.

    Population standard deviation divided by the mean of each machine's load fraction;
    0 means every used machine is equally full. Machines with no capacity in a
    dimension are left out of that dimension; 0.0 when nothing is loaded.
    """
    used, load = _loads(problem, placement)
    cap = problem.capacity[used]
    out = {}
    for k, name in enumerate(problem.resources.names):
        has = cap[:, k] > 0
        fraction = load[has, k] / cap[has, k]
        mean = fraction.mean() if len(fraction) else 0.0
        out[name] = float(fraction.std() / mean) if mean > 0 else 0.0
    return out


def summary(problem: Problem, placement: Placement) -> dict[str, object]:
    """The headline numbers for a report: counts plus the per-dimension metrics.

    ``stranded_fraction`` is stranded capacity over all free capacity on used machines
    (0 when nothing is free), a fragmentation measure.
    """
    used, load = _loads(problem, placement)
    free = (problem.capacity[used] - load).sum(axis=0)
    lost = stranded(problem, placement)
    names = problem.resources.names
    return {
        "containers": problem.n,
        "placed": placement.placed,
        "unplaced": problem.n - placement.placed,
        "machines": problem.m,
        "machines_used": len(used),
        "utilization": utilization(problem, placement),
        "imbalance": imbalance(problem, placement),
        "stranded": lost,
        "stranded_fraction": {
            name: lost[name] / int(free[k]) if free[k] > 0 else 0.0
            for k, name in enumerate(names)
        },
    }
