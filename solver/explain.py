"""Why a container was not placed: how many machines each check excluded.

As Nomad's allocation metrics do, every machine is counted under the FIRST check it
fails, in a fixed order: ``down``, ``cordoned``, ``node_selector key=value``,
``taint name``, each resource (by name), ``gpu devices`` (too few fully free GPU
devices, or no single device with the share asked), ``anti_affinity key``,
``spread key``, ``affinity service@key``, ``quota namespace``. The counts are
computed with numpy from the final state of a placement, once per group of identical
unplaced containers, so 100k unplaced containers that share a few shapes cost a few
vector passes over the machines. A machine that passes every check in the final state
(a spread or affinity domain opened up by later placements) is counted under
``feasible only after later placements``.
"""

from __future__ import annotations

import numpy as np

from .constraints import CORDONED, DOWN, CompiledConstraints, compile_constraints
from .model import Problem

LATER = "feasible only after later placements"


def why_not(
    problem: Problem,
    assignment: np.ndarray,
    compiled: CompiledConstraints | None = None,
    devices: np.ndarray | None = None,
) -> dict[int, dict[str, int]]:
    """Reasons for each unplaced container of ``assignment`` (int, shape (n,), -1 none).

    ``devices`` (int, shape (n, k), -1 padded) are the GPU devices each placed
    container holds on its machine; without them the GPU device check is skipped.
    Returns ``{container: {check: machines excluded}}`` with checks in the fixed order
    above and zero counts left out.
    """
    a = np.asarray(assignment, dtype=np.int64)
    unplaced = np.flatnonzero(a < 0)
    if not len(unplaced):
        return {}
    cc = compiled if compiled is not None else compile_constraints(problem)
    state = _final_state(problem, cc, a)
    state["gpu"] = _gpu_state(problem, a, devices)
    cont = problem.containers
    gpu_ask = (
        np.zeros((len(unplaced), 0), np.int64)
        if cont.num_gpu is None
        else np.column_stack([cont.num_gpu[unplaced], cont.gpu_milli[unplaced]])
    )
    shape = np.column_stack([
        cc.eclass[unplaced], cc.stay[unplaced], cc.pin[unplaced],
        cc.service_id[unplaced], cc.sp_group[unplaced], cc.af_group[unplaced],
        cc.af_required[unplaced], cc.ns_id[unplaced], cc.aa_own_key[unplaced],
        problem.requests[unplaced], gpu_ask,
    ]).astype(np.int64)
    groups, first, inverse = np.unique(
        shape, axis=0, return_index=True, return_inverse=True
    )
    per_group = [
        _reasons(problem, cc, state, int(unplaced[first[g]]))
        for g in range(groups.shape[0])
    ]
    inverse = inverse.reshape(-1)
    return {int(i): dict(per_group[inverse[t]]) for t, i in enumerate(unplaced)}


def _final_state(problem: Problem, cc: CompiledConstraints, a: np.ndarray) -> dict:
    """Residual capacity, per-domain counters and quota use after ``a``."""
    placed = np.flatnonzero(a >= 0)
    on = a[placed]
    residual = problem.capacity.copy()
    np.subtract.at(residual, on, problem.requests[placed])
    counts = np.zeros(cc.n_counts, np.int64)
    svc = cc.service_id[placed]
    owner = np.empty(len(cc.aa_key), np.int64)
    owner[cc.aa_groups] = np.repeat(np.arange(len(cc.aa_ptr) - 1), np.diff(cc.aa_ptr))
    for g, k in enumerate(cc.aa_key):
        x = cc.domain[k, on[svc == owner[g]]]
        np.add.at(counts, cc.aa_off[g] + x[x >= 0], 1)
    sp_min = np.zeros(len(cc.sp_key), np.int64)
    for h, k in enumerate(cc.sp_key):
        x = cc.domain[k, on[cc.sp_group[placed] == h]]
        np.add.at(counts, cc.sp_off[h] + x, 1)
        span = slice(cc.sp_off[h], cc.sp_off[h] + cc.n_domains[k])
        valid = cc.sp_valid[span]
        sp_min[h] = counts[span][valid].min() if valid.any() else 0
    at_total = np.zeros(len(cc.at_key), np.int64)
    names = np.array(cc.services, dtype=object)
    for g, k in enumerate(cc.at_key):
        mine = names[svc] == cc.at_service[g] if len(svc) else np.zeros(0, bool)
        at_total[g] = int(mine.sum())
        x = cc.domain[k, on[mine]]
        np.add.at(counts, cc.at_off[g] + x[x >= 0], 1)
    quota_used = np.zeros_like(cc.quota)
    ns = cc.ns_id[placed]
    for q in range(len(cc.namespaces)):
        quota_used[q] = problem.requests[placed[ns == q]].sum(axis=0)
    return {
        "residual": residual,
        "counts": counts,
        "sp_min": sp_min,
        "at_total": at_total,
        "quota_used": quota_used,
    }


def _gpu_state(
    problem: Problem, a: np.ndarray, devices: np.ndarray | None
) -> np.ndarray | None:
    """int64[m, 2]: fully free devices and largest free share per machine, or None."""
    cont = problem.containers
    if cont.num_gpu is None or devices is None:
        return None
    gpus = problem.machines.gpus
    goff = np.concatenate([[0], np.cumsum(gpus)]).astype(np.int64)
    free = np.full(int(goff[-1]), 1000, np.int64)
    rows, cols = np.nonzero((np.asarray(devices) >= 0) & (a >= 0)[:, None])
    slot = goff[a[rows]] + np.asarray(devices)[rows, cols]
    take = np.where(cont.num_gpu[rows] > 0, 1000, cont.gpu_milli[rows])
    np.subtract.at(free, slot, take)
    owner = np.repeat(np.arange(problem.m), gpus)
    whole = np.bincount(owner[free == 1000], minlength=problem.m)
    top = np.zeros(problem.m, np.int64)
    np.maximum.at(top, owner, free)
    return np.column_stack([whole, top])


def _reasons(
    problem: Problem, cc: CompiledConstraints, st: dict, i: int
) -> list[tuple[str, int]]:
    """Ordered (check, machines excluded) pairs for container ``i``."""
    mach = problem.machines
    m = problem.m
    left = np.ones(m, dtype=bool)
    out: list[tuple[str, int]] = []

    def drop(name: str, fails: np.ndarray) -> None:
        hit = fails & left
        count = int(hit.sum())
        if count:
            out.append((name, count))
            left[hit] = False

    idx = np.arange(m)
    if cc.pin[i] >= 0:
        drop(f"pinned to machine {cc.pin[i]}", idx != cc.pin[i])
    drop("down", mach.state == DOWN)
    drop("cordoned", (mach.state == CORDONED) & (idx != cc.stay[i]))
    c = cc.eclass[i]
    for key, value in cc.class_selector[c]:
        drop(f"node_selector {key}={value}", mach.label(str(key)) != value)
    if mach.taints is not None:
        tol = cc.class_tolerations[c]
        for taint in sorted(set().union(*mach.taints) - tol):
            drop(f"taint {taint}", np.array([taint in t for t in mach.taints]))
    req = problem.requests[i]
    for k, name in enumerate(problem.resources.names):
        drop(name, st["residual"][:, k] < req[k])
    gpu = st["gpu"]
    if gpu is not None:
        cont = problem.containers
        drop(
            "gpu devices",
            (gpu[:, 0] < cont.num_gpu[i]) | (gpu[:, 1] < cont.gpu_milli[i]),
        )
    counts = st["counts"]
    s = cc.service_id[i]
    for g in cc.aa_groups[cc.aa_ptr[s] : cc.aa_ptr[s + 1]]:
        k = cc.aa_key[g]
        x = cc.domain[k]
        full = _at(counts, cc.aa_off[g], x) >= cc.aa_limit[g]
        fails = np.where(x < 0, cc.aa_own_key[i] == k, full)
        drop(f"anti_affinity {cc.keys[k]}", fails)
    h = cc.sp_group[i]
    if h >= 0:
        k = cc.sp_key[h]
        x = cc.domain[k]
        skew = _at(counts, cc.sp_off[h], x) + 1 - st["sp_min"][h]
        drop(f"spread {cc.keys[k]}", (x < 0) | (skew > cc.sp_skew[h]))
    g = cc.af_group[i]
    if g >= 0 and cc.af_required[i]:
        k = cc.at_key[g]
        x = cc.domain[k]
        free = bool(cc.af_self[i] and st["at_total"][g] == 0)
        lonely = _at(counts, cc.at_off[g], x) < 1
        drop(
            f"affinity {cc.at_service[g]}@{cc.keys[k]}",
            (x < 0) | (lonely & (not free)),
        )
    q = cc.ns_id[i]
    if q >= 0 and (req > cc.quota[q] - st["quota_used"][q]).any():
        drop(f"quota {cc.namespaces[q]}", left.copy())
    drop(LATER, left.copy())
    return out


def _at(counts: np.ndarray, offset: int, x: np.ndarray) -> np.ndarray:
    """Counter of each machine's domain (0 where the machine has no domain)."""
    out = np.zeros(x.shape[0], np.int64)
    ok = x >= 0
    out[ok] = counts[offset + x[ok]]
    return out
