"""CP-SAT assignment model: identical containers aggregated into integer counts.

:func:`build_model` turns a Problem (or a neighbourhood of one: a subset of free
containers on a subset of machines, everything else fixed) into a ``CpModel`` whose
variables are ``x[g,m]`` = how many containers of group ``g`` run on machine ``m``.
A group is a set of containers that no constraint can tell apart (same requests, same
rules, same current machine when it matters), so k identical replicas cost one integer
variable per machine instead of k booleans. :func:`extract` maps a solution back to one
machine per container. Constraint semantics follow ``solver.placement.validate``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from ..model import CORDONED, DOWN, UP, Problem

OBJECTIVES = ("min-machines", "max-placed", "min-moves")
_SIZE_SCALE = 1000  # a container asking a whole machine weighs 1000 per dimension


@dataclass
class ModelVars:
    """Variables of a built model and what is needed to read a solution back."""

    objective: str
    groups: list[np.ndarray]  # container indices of each group
    machines: np.ndarray  # problem machine index of each model machine, int64
    x: dict[tuple[int, int], cp_model.IntVar]  # (group, model machine) -> count
    used: dict[int, cp_model.IntVar]  # model machine -> bool (free machines only)
    fixed_used: int  # machines kept busy by containers outside the model
    placed_weight: list[int]  # objective weight of each group's containers
    big: int  # max-placed: weight of one unit of placed priority vs one machine
    group_current: list[int]  # model machine of each group's current machine, or -1
    permutation: np.ndarray | None = None  # hint relabelling applied (problem frame)
    hinted: bool = False
    # (group, model machine) -> [(device, var)]: containers (shares) or devices (whole)
    devices: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = field(
        default_factory=dict
    )
    clique: int = 0  # containers that pairwise cannot share a machine (fixed apart)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of assignment variables (the size used to pick a formulation)."""
        return len(self.x)


def _domain(problem: Problem, key: str) -> np.ndarray:
    """Domain value of every machine under topology ``key`` (None = label missing)."""
    return problem.machines.label(key)


def _selected(problem: Problem, i: int) -> np.ndarray:
    """Machines whose labels match container ``i``'s node selector and whose taints
    it tolerates (bool, m)."""
    mach, cont = problem.machines, problem.containers
    ok = np.ones(problem.m, bool)
    sel = None if cont.node_selector is None else cont.node_selector[i]
    for key, value in (sel or {}).items():
        ok &= _domain(problem, key) == value
    if mach.taints is not None:
        tol = cont.tolerations_of(i)
        ok &= np.fromiter((t <= tol for t in mach.taints), bool, problem.m)
    return ok


def _static_mask(problem: Problem, i: int, machines: np.ndarray) -> np.ndarray:
    """Machines (of ``machines``) that container ``i`` may use, ignoring counts."""
    mach, cont = problem.machines, problem.containers
    state = mach.state[machines]
    cur = -1 if problem.current is None else int(problem.current[i])
    ok = (state != DOWN) & ((state != CORDONED) | (machines == cur))
    if problem.pinned is not None and problem.pinned[i]:
        ok &= machines == cur
    ok &= _selected(problem, i)[machines]
    for col in (cont.anti_affinity, cont.spread):
        rule = None if col is None else col[i]
        if rule is not None and rule.topology_key != "machine":
            ok &= np.fromiter(
                (v is not None for v in _domain(problem, rule.topology_key)[machines]),
                bool,
                len(machines),
            )
    ok &= (problem.requests[i] <= problem.capacity[machines]).all(axis=1)
    if cont.asks_gpus:
        need = max(int(cont.num_gpu[i]), int(cont.gpu_milli[i] > 0))
        ok &= mach.gpus[machines] >= need
    return ok


def _referenced_services(problem: Problem) -> set:
    """Services whose membership matters to some rule (counted or co-located with)."""
    cont = problem.containers
    out = set()
    for col in (cont.anti_affinity, cont.spread):
        if col is not None:
            out.update(cont.service[i] for i in range(problem.n) if col[i] is not None)
    if cont.affinity is not None:
        out.update(a.service for a in cont.affinity if a is not None and a.required)
    return out


def group_containers(
    problem: Problem, free: np.ndarray, objective: str
) -> list[np.ndarray]:
    """Split ``free`` container indices into groups no rule can tell apart."""
    cont = problem.containers
    plain = (
        not problem.has_constraints
        and objective != "min-moves"
        and (objective != "max-placed" or np.unique(cont.priority[free]).size <= 1)
        and (problem.current is None or not (problem.machines.state == CORDONED).any())
    )
    if plain:
        _, inv = np.unique(problem.requests[free], axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        order = np.argsort(inv, kind="stable")
        cuts = np.flatnonzero(np.diff(inv[order])) + 1
        return [free[part] for part in np.split(order, cuts)]
    services = _referenced_services(problem)
    cordoned = problem.machines.state == CORDONED
    by_key: dict[tuple, list[int]] = defaultdict(list)
    for i in free.tolist():
        cur = -1 if problem.current is None else int(problem.current[i])
        keep_cur = objective == "min-moves" or (cur >= 0 and cordoned[cur])
        if problem.pinned is not None and problem.pinned[i]:
            keep_cur = True
        sel = None if cont.node_selector is None else cont.node_selector[i]
        key = (
            problem.requests[i].tobytes(),
            cont.service[i] if cont.service[i] in services else None,
            cont.namespace[i] if cont.namespace[i] in problem.quotas else None,
            int(cont.priority[i]) if objective == "max-placed" else 0,
            frozenset((sel or {}).items()),
            cont.tolerations_of(i) if problem.machines.taints is not None else None,
            None if cont.anti_affinity is None else cont.anti_affinity[i],
            None if cont.spread is None else cont.spread[i],
            None if cont.affinity is None else cont.affinity[i],
            cur if keep_cur else None,
            bool(problem.pinned is not None and problem.pinned[i]),
            _gpu_ask(problem, i),
        )
        by_key[key].append(i)
    return [np.asarray(v, dtype=np.int64) for v in by_key.values()]


def _gpu_ask(problem: Problem, i: int) -> tuple[int, int]:
    """(whole devices, milli share of one device) container ``i`` asks."""
    cont = problem.containers
    if not cont.asks_gpus:
        return (0, 0)
    return (int(cont.num_gpu[i]), int(cont.gpu_milli[i]))


def machine_classes(problem: Problem, machines: np.ndarray) -> list[np.ndarray]:
    """Interchangeable machines: same capacity, labels, taints and state (up only)."""
    mach = problem.machines
    keys: dict[tuple, list[int]] = defaultdict(list)
    label_cols = [mach.labels[k] for k in sorted(mach.labels)]
    for m in machines.tolist():
        key = (
            mach.capacity[m].tobytes(),
            tuple(col[m] for col in label_cols),
            mach.taint_set(m),
            int(mach.state[m]),
            int(mach.gpus[m]),
        )
        keys[key].append(m)
    return [np.asarray(v, dtype=np.int64) for v in keys.values()]


def symmetric_machines(
    problem: Problem, objective: str, base: np.ndarray
) -> np.ndarray:
    """Machines that may be relabelled freely: up, and no current container matters."""
    ok = problem.machines.state == 0
    if objective == "min-moves" and problem.current is not None:
        ok[problem.current[problem.current >= 0]] = False
    if problem.pinned is not None:
        ok[problem.current[problem.pinned]] = False
    if problem.current is not None and (problem.machines.state == CORDONED).any():
        ok[problem.current[problem.current >= 0]] = False
    return np.flatnonzero(ok)


def sort_hint(
    problem: Problem,
    hint: np.ndarray,
    classes: list[np.ndarray],
    clique: np.ndarray | None = None,
) -> np.ndarray:
    """Relabel machines of each class so the hint fills them first, heaviest first.

    Returns ``perm`` with ``perm[old machine] = new machine``; the relabelled hint obeys
    the symmetry-breaking order (used, then load on dimension 0, non-increasing). With a
    ``clique`` (containers that pairwise cannot share a machine, fixed on the first
    machines of the only class), the machine of clique member t comes t-th.
    """
    perm = np.arange(problem.m, dtype=np.int64)
    placed = hint >= 0
    load = np.zeros((problem.m, problem.d), dtype=np.int64)
    np.add.at(load, hint[placed], problem.requests[placed])
    count = np.bincount(hint[placed], minlength=problem.m)
    rank = np.full(problem.m, problem.m, np.int64)
    if clique is not None:
        on = hint[clique]
        rank[on[on >= 0][::-1]] = np.flatnonzero(on >= 0)[::-1]
    for cls in classes:
        if cls.size < 2:
            continue
        order = np.lexsort(
            (cls, -load[cls, 0], -(count[cls] > 0).astype(np.int64), rank[cls])
        )
        perm[cls[order]] = cls
    return perm


def conflict_clique(
    problem: Problem, free: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Containers of ``free`` that pairwise exceed ``capacity`` in some dimension.

    Greedy, largest first: no two of them share a machine of that capacity, so they
    can be fixed on distinct identical machines (symmetry breaking) and their number
    is a lower bound.
    """
    req = problem.requests[free]
    cap = np.maximum(capacity, 1)
    big = (2 * req > capacity).any(axis=1)
    share = (req / cap).max(axis=1)
    order = np.argsort(-share, kind="stable")
    chosen: list[int] = []
    small_taken = False
    for t in order.tolist():
        if not big[t] and small_taken:
            continue
        if chosen and not (req[t] + req[chosen] > capacity).any(axis=1).all():
            continue
        chosen.append(t)
        small_taken |= not big[t]
    return free[np.asarray(chosen, np.int64)]


def _weights(problem: Problem, groups: list[np.ndarray], move_weight: str) -> list[int]:
    """Per-group weight of one moved container: 1, or its size in thousandths."""
    if move_weight == "count":
        return [1] * len(groups)
    cap = problem.capacity.max(axis=0).astype(np.float64)
    cap[cap == 0] = 1.0
    return [
        max(1, round(float((problem.requests[g[0]] / cap).sum()) * _SIZE_SCALE))
        for g in groups
    ]


def build_model(
    problem: Problem,
    *,
    objective: str = "min-machines",
    free: np.ndarray | None = None,
    machines: np.ndarray | None = None,
    base: np.ndarray | None = None,
    hint: np.ndarray | None = None,
    lower_bound: int = 0,
    max_machines: int | None = None,
    machine_cap: int | None = None,
    move_weight: str = "count",
    drain: int | None = None,
    symmetry: bool = True,
) -> tuple[cp_model.CpModel, ModelVars]:
    """Build the assignment model of ``problem`` (or of one neighbourhood of it).

    Parameters
    ----------
    objective : "min-machines", "max-placed" or "min-moves"
    free : int64 array, optional
        Containers the model decides (default: all). Every other container keeps its
        ``base`` machine and only contributes loads and counts.
    machines : int64 array, optional
        Machines the free containers may use (default: all).
    base : int64 array, shape (n,), optional
        Assignment of the containers outside ``free`` (-1 = unplaced).
    hint : int64 array, shape (n,), optional
        A known assignment; it is relabelled within classes of identical machines (see
        ``ModelVars.permutation``) and added as a solution hint.
    lower_bound : int
        Machines any complete placement needs (``min-machines`` only).
    max_machines : int, optional
        Machine budget (``min-moves``).
    machine_cap : int, optional
        At most this many machines of each class of identical machines are modelled;
        valid when a solution with ``machine_cap`` machines is known.
    move_weight : "count" or "size"
        Weight of one move in ``min-moves``.
    drain : int, optional
        A problem machine whose load is minimised as a tie-breaker (neighbourhoods).
    symmetry : bool
        Order identical machines (used, then load) and relabel the hint to match.
    """
    n = problem.n
    free = np.arange(n, dtype=np.int64) if free is None else np.asarray(free, np.int64)
    base = np.full(n, -1, np.int64) if base is None else np.asarray(base, np.int64)
    all_machines = machines is None
    machines = (
        np.arange(problem.m, dtype=np.int64)
        if machines is None
        else np.asarray(machines, np.int64)
    )
    is_free = np.zeros(n, bool)
    is_free[free] = True
    in_model = np.zeros(problem.m, bool)
    in_model[machines] = True
    on_model = np.flatnonzero(~is_free & (base >= 0) & in_model[np.maximum(base, 0)])
    fixed_load = np.zeros((problem.m, problem.d), dtype=np.int64)
    np.add.at(fixed_load, base[on_model], problem.requests[on_model])
    fixed_busy = np.zeros(problem.m, bool)
    fixed_busy[base[on_model]] = True

    groups = group_containers(problem, free, objective)
    perm = None
    clique = None
    if symmetry and objective != "min-moves":
        sym = symmetric_machines(problem, objective, base)
        sym = np.intersect1d(sym[~fixed_busy[sym]], machines)
        classes = machine_classes(problem, sym)
        if (
            objective == "min-machines"
            and len(classes) == 1
            and classes[0].size == machines.size
            and not fixed_busy.any()
            and not problem.containers.asks_gpus
        ):
            clique = conflict_clique(
                problem, free, problem.capacity[int(classes[0][0])]
            )
            if clique.size < 2:
                clique = None
        if hint is not None:
            perm = sort_hint(problem, hint, classes, clique)
            hint = np.where(hint >= 0, perm[np.maximum(hint, 0)], -1)
        if machine_cap is not None:
            dropped = [cls[machine_cap:] for cls in classes]
            machines = np.setdiff1d(
                machines, np.concatenate([np.empty(0, np.int64), *dropped])
            )

    model = cp_model.CpModel()
    cap = problem.capacity[machines] - fixed_load[machines]
    local = {int(m): j for j, m in enumerate(machines.tolist())}
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    elig: list[np.ndarray] = []
    for g, members in enumerate(groups):
        i = int(members[0])
        ok = _static_mask(problem, i, machines)
        ok &= (problem.requests[i] <= cap).all(axis=1)
        elig.append(np.flatnonzero(ok))
        req = problem.requests[i]
        aa = (
            None
            if problem.containers.anti_affinity is None
            else (problem.containers.anti_affinity[i])
        )
        for j in elig[g].tolist():
            pos = req > 0
            ub = len(members)
            if pos.any():
                ub = min(ub, int((cap[j, pos] // req[pos]).min()))
            if aa is not None and aa.topology_key == "machine":
                ub = min(ub, aa.max_per_domain)
            if ub <= 0:
                continue
            x[g, j] = (
                model.new_bool_var(f"x[{g},{machines[j]}]")
                if ub == 1
                else model.new_int_var(0, ub, f"x[{g},{machines[j]}]")
            )

    by_machine: dict[int, list[int]] = defaultdict(list)
    by_group: dict[int, list[int]] = defaultdict(list)
    for g, j in x:
        by_machine[j].append(g)
        by_group[g].append(j)
    used: dict[int, cp_model.IntVar] = {}
    greq = [problem.requests[int(members[0])] for members in groups]
    for j, gs in by_machine.items():
        m = int(machines[j])
        if fixed_busy[m]:
            lit = 1
        else:
            lit = used[j] = model.new_bool_var(f"used[{m}]")
        for k in range(problem.d):
            terms = [(int(greq[g][k]), x[g, j]) for g in gs if greq[g][k] > 0]
            if terms:
                model.add(sum(c * v for c, v in terms) <= int(cap[j, k]) * lit)
        if not fixed_busy[m]:
            for g in gs:
                if not greq[g].any():
                    model.add(x[g, j] <= len(groups[g]) * used[j])
            model.add(sum(x[g, j] for g in gs) >= 1).only_enforce_if(used[j])

    placed = []
    for g, members in enumerate(groups):
        expr = sum(x[g, j] for j in by_group.get(g, []))
        placed.append(expr)
        if objective == "max-placed":
            model.add(expr <= len(members))
        else:
            model.add(expr == len(members))

    if objective != "max-placed":
        _cover_demand(problem, model, groups, machines, cap, used, by_machine)
    n_clique = _fix_clique(model, groups, x, machines, clique)
    devices = _gpu_devices(problem, model, groups, x, machines, by_machine, base, free)
    _quotas(problem, model, groups, placed, free, base)
    ctx = _Context(problem, model, groups, x, machines, local, base, is_free, elig)
    _anti_affinity(ctx)
    _spread(ctx)
    _affinity(ctx)

    fixed_used = int(fixed_busy.sum())
    group_current = [-1] * len(groups)
    if problem.current is not None:
        for g, members in enumerate(groups):
            cur = int(problem.current[members[0]])
            if (problem.current[members] == cur).all() and cur in local:
                group_current[g] = local[cur]

    if symmetry:
        _symmetry(problem, model, objective, machines, used, base)

    n_used = sum(used.values())
    weights = [1] * len(groups)
    big = 1
    if objective == "min-machines":
        lower_bound = max(lower_bound, n_clique)
        if lower_bound > fixed_used and all_machines:
            model.add(n_used >= lower_bound - fixed_used)
        if drain is not None and drain in local and local[drain] in by_machine:
            j = local[drain]
            scale = problem.capacity[drain].astype(np.float64)
            scale[scale == 0] = 1.0
            drain_w = {
                g: max(1, round(float((greq[g] / scale).sum()) * _SIZE_SCALE))
                for g in by_machine[j]
            }
            big = sum(drain_w[g] * len(groups[g]) for g in drain_w) + 1
            model.minimize(big * n_used + sum(w * x[g, j] for g, w in drain_w.items()))
        else:
            model.minimize(n_used)
    elif objective == "max-placed":
        low = int(problem.containers.priority.min())
        weights = [int(problem.containers.priority[g[0]]) - low + 1 for g in groups]
        big = len(used) + 1
        model.minimize(
            big
            * sum(
                w * (len(g) - e)
                for w, g, e in zip(weights, groups, placed, strict=True)
            )
            + n_used
        )
    else:
        weights = _weights(problem, groups, move_weight)
        if max_machines is not None:
            model.add(n_used <= max_machines - fixed_used)
        moves = []
        for g, members in enumerate(groups):
            if problem.current is None or problem.current[members[0]] < 0:
                continue
            j = group_current[g]
            stay = x.get((g, j)) if j >= 0 else None
            moves.append(
                weights[g] * (len(members) - (stay if stay is not None else 0))
            )
        model.minimize(sum(moves))

    mv = ModelVars(
        objective=objective,
        groups=groups,
        machines=machines,
        x=x,
        used=used,
        fixed_used=fixed_used,
        placed_weight=weights,
        big=big,
        group_current=group_current,
        permutation=perm,
        devices=devices,
        clique=n_clique,
    )
    if hint is not None:
        mv.hinted = add_hint(model, mv, hint)
    return model, mv



def _cover_demand(problem, model, groups, machines, cap, used, by_machine) -> None:
    """Redundant: the machines switched on cover the total demand in every dimension."""
    if not used:
        return
    demand = np.zeros(problem.d, np.int64)
    for members in groups:
        demand += problem.requests[int(members[0])] * len(members)
    for k in range(problem.d):
        room = sum(int(cap[j, k]) for j in by_machine if j not in used)
        need = int(demand[k]) - room
        if need > 0:
            model.add(sum(int(cap[j, k]) * v for j, v in used.items()) >= need)


def _fix_clique(model, groups, x, machines, clique) -> int:
    """Put clique member t on the t-th machine of the (single) machine class."""
    if clique is None:
        return 0
    group_of = {int(i): g for g, members in enumerate(groups) for i in members}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for t, i in enumerate(clique.tolist()):
        counts[group_of[i], t] += 1
    if any(key not in x for key in counts):
        return 0
    for key, c in counts.items():
        model.add(x[key] >= c)
    return len(clique)


def _gpu_devices(problem, model, groups, x, machines, by_machine, base, free):
    """Device-level GPU capacity: per device, shares + 1000 x whole devices <= 1000.

    A share container sits on one device (``y[g,m,t]`` counts them); a whole-GPU
    container takes ``num_gpu`` distinct devices (``z[g,m,t]`` marks a device taken
    by group ``g``, at most one container per device). Devices of a machine are
    interchangeable, so their loads are ordered when nothing outside the model uses
    them.
    """
    out: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = {}
    if not problem.containers.asks_gpus:
        return out
    asks = [_gpu_ask(problem, int(members[0])) for members in groups]
    if not any(w or s for w, s in asks):
        return out
    outside = np.ones(problem.n, bool)
    outside[free] = False
    fixed = np.where(outside, base, -1)
    fixed_dev = device_loads(problem, fixed)
    for j, gs in by_machine.items():
        m = int(machines[j])
        ggs = [g for g in gs if asks[g] != (0, 0)]
        if not ggs:
            continue
        room = 1000 - fixed_dev[m]
        loads = []
        per_group: dict[int, list] = defaultdict(list)
        for t in range(int(problem.machines.gpus[m])):
            terms = []
            for g in ggs:
                whole, share = asks[g]
                if whole:
                    if room[t] < 1000:
                        continue
                    v = model.new_bool_var(f"z[{g},{m},{t}]")
                    terms.append(1000 * v)
                else:
                    top = min(len(groups[g]), int(room[t]) // share)
                    if top <= 0:
                        continue
                    v = model.new_int_var(0, top, f"y[{g},{m},{t}]")
                    terms.append(share * v)
                per_group[g].append((t, v))
            if terms:
                load = sum(terms)
                model.add(load <= int(room[t]))
                loads.append((t, load))
        for g in ggs:
            whole = asks[g][0]
            total = sum(v for _, v in per_group[g])
            model.add(total == (whole if whole else 1) * x[g, j])
            out[g, j] = per_group[g]
        if not fixed_dev[m].any():
            for (a, la), (b, lb) in itertools.pairwise(loads):
                if b == a + 1:
                    model.add(la >= lb)
    return out


def device_loads(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """Milli-GPU used on each device by ``assignment``, int64 (m, max devices).

    Devices are chosen by :func:`assign_devices`; an assignment whose devices cannot
    be packed counts as full on every device of the machines concerned.
    """
    width = max(1, int(problem.machines.gpus.max(initial=0)))
    loads = np.zeros((problem.m, width), np.int64)
    if not problem.containers.asks_gpus:
        return loads
    devices = assign_devices(problem, assignment)
    cont = problem.containers
    for i in np.flatnonzero(np.asarray(assignment) >= 0).tolist():
        m = int(assignment[i])
        if devices is None:
            loads[m, : problem.machines.gpus[m]] = 1000
        elif cont.num_gpu[i]:
            loads[m, devices[i][devices[i] >= 0]] += 1000
        elif cont.gpu_milli[i]:
            loads[m, devices[i, 0]] += int(cont.gpu_milli[i])
    return loads


def device_width(problem: Problem) -> int:
    """Columns of ``Placement.devices``: the most devices one container asks."""
    cont = problem.containers
    return max(int(cont.num_gpu.max(initial=0)), int(cont.gpu_milli.any()))


def assign_devices(problem: Problem, assignment: np.ndarray) -> np.ndarray | None:
    """GPU devices for each placed container of ``assignment``, or None if they do
    not fit (whole-GPU containers first on free devices, then shares best fit
    decreasing); int32 (n, k), -1 padded. None as well without GPU asks."""
    cont = problem.containers
    if not cont.asks_gpus:
        return None
    a = np.asarray(assignment, np.int64)
    out = np.full((problem.n, max(1, device_width(problem))), -1, np.int32)
    asking = np.flatnonzero((a >= 0) & ((cont.num_gpu > 0) | (cont.gpu_milli > 0)))
    gpus = problem.machines.gpus
    load: dict[int, np.ndarray] = {}
    key = np.where(cont.num_gpu > 0, cont.num_gpu * 1000 + 1000, cont.gpu_milli)
    for i in asking[np.argsort(-key[asking], kind="stable")].tolist():
        m = int(a[i])
        dev = load.setdefault(m, np.zeros(int(gpus[m]), np.int64))
        whole = int(cont.num_gpu[i])
        if whole:
            empty = np.flatnonzero(dev == 0)
            if empty.size < whole:
                return None
            out[i, :whole] = empty[:whole]
            dev[empty[:whole]] = 1000
            continue
        share = int(cont.gpu_milli[i])
        fits = np.flatnonzero(dev + share <= 1000)
        if not fits.size:
            return None
        t = int(fits[np.argmax(dev[fits])])
        out[i, 0] = t
        dev[t] += share
    return out


def extract_devices(
    solver: cp_model.CpSolver, mv: ModelVars, problem: Problem, assignment: np.ndarray
) -> np.ndarray | None:
    """GPU devices of the model's containers from a solved model (others: packed)."""
    if not problem.containers.asks_gpus:
        return None
    out = assign_devices(problem, np.where(_in_model(mv, problem.n), -1, assignment))
    if out is None:
        out = np.full((problem.n, max(1, device_width(problem))), -1, np.int32)
    for (g, j), dev_vars in mv.devices.items():
        members = mv.groups[g]
        here = members[assignment[members] == mv.machines[j]].tolist()
        whole = int(problem.containers.num_gpu[members[0]])
        slots = []
        for t, v in dev_vars:
            slots += [t] * int(solver.value(v))
        step = whole if whole else 1
        for k, i in enumerate(here):
            out[i, :step] = slots[k * step : (k + 1) * step]
    return out


def _in_model(mv: ModelVars, n: int) -> np.ndarray:
    """True for the containers the model decided."""
    mask = np.zeros(n, bool)
    for members in mv.groups:
        mask[members] = True
    return mask

@dataclass
class _Context:
    """What the constraint encoders share."""

    problem: Problem
    model: cp_model.CpModel
    groups: list[np.ndarray]
    x: dict[tuple[int, int], cp_model.IntVar]
    machines: np.ndarray
    local: dict[int, int]
    base: np.ndarray
    is_free: np.ndarray
    elig: list[np.ndarray]

    def fixed_counts(self, members: np.ndarray, key: str) -> dict:
        """Domain -> number of fixed placed containers among ``members``."""
        dom = _domain(self.problem, key)
        out: dict = defaultdict(int)
        for i in members.tolist():
            if not self.is_free[i] and self.base[i] >= 0:
                out[dom[self.base[i]]] += 1
        return out

    def var_terms(self, group_ids: list[int], key: str) -> dict:
        """Domain -> list of x variables of ``group_ids`` on model machines there."""
        dom = _domain(self.problem, key)
        out: dict = defaultdict(list)
        for g in group_ids:
            for j in range(len(self.machines)):
                v = self.x.get((g, j))
                if v is not None:
                    out[dom[self.machines[j]]].append(v)
        return out


def _service_groups(ctx: _Context) -> dict:
    """Service -> indices of groups whose containers belong to it."""
    out: dict = defaultdict(list)
    for g, members in enumerate(ctx.groups):
        out[ctx.problem.containers.service[members[0]]].append(g)
    return out


def _quotas(problem, model, groups, placed, free, base) -> None:
    if not problem.quotas:
        return
    ns = problem.containers.namespace
    outside = np.ones(problem.n, bool)
    outside[free] = False
    for name, limit in problem.quotas.items():
        mask = outside & (base >= 0) & (ns == name)
        used_fixed = problem.requests[mask].sum(axis=0)
        gs = [g for g, members in enumerate(groups) if ns[members[0]] == name]
        if not gs:
            continue
        for k in range(problem.d):
            if limit[k] >= np.iinfo(np.int64).max // 2:
                continue
            terms = [int(problem.requests[groups[g][0], k]) * placed[g] for g in gs]
            model.add(sum(terms) <= int(limit[k] - used_fixed[k]))


def _anti_affinity(ctx: _Context) -> None:
    """Per service and rule: a domain with a constrained container holds <= max."""
    cont = ctx.problem.containers
    if cont.anti_affinity is None:
        return
    svc_groups = _service_groups(ctx)
    rules: dict = defaultdict(list)
    for g, members in enumerate(ctx.groups):
        rule = cont.anti_affinity[members[0]]
        if rule is not None:
            rules[cont.service[members[0]], rule].append(g)
    for (svc, rule), cgroups in rules.items():
        members = np.flatnonzero(cont.service == svc)
        whole = all(cont.anti_affinity[i] == rule for i in members.tolist())
        fixed = ctx.fixed_counts(members, rule.topology_key)
        constrained_fixed = ctx.fixed_counts(
            np.asarray([i for i in members.tolist() if cont.anti_affinity[i] == rule]),
            rule.topology_key,
        )
        all_terms = ctx.var_terms(svc_groups[svc], rule.topology_key)
        c_terms = ctx.var_terms(cgroups, rule.topology_key)
        for dom, terms in all_terms.items():
            if dom is None or (dom not in c_terms and not constrained_fixed.get(dom)):
                continue
            if fixed.get(dom, 0) > rule.max_per_domain:
                for v in c_terms.get(dom, []):
                    ctx.model.add(v == 0)
                continue
            ct = ctx.model.add(sum(terms) <= rule.max_per_domain - fixed.get(dom, 0))
            if not whole and not constrained_fixed.get(dom):
                flag = ctx.model.new_bool_var(f"aa[{svc},{rule.topology_key},{dom}]")
                for v in c_terms[dom]:
                    ctx.model.add(v == 0).only_enforce_if(flag.Not())
                ct.only_enforce_if(flag)


def _spread(ctx: _Context) -> None:
    """Per service and rule: max(count) - min(count) <= max_skew over its domains."""
    problem = ctx.problem
    cont = problem.containers
    if cont.spread is None:
        return
    rules: dict = defaultdict(list)
    for g, members in enumerate(ctx.groups):
        rule = cont.spread[members[0]]
        if rule is not None:
            rules[cont.service[members[0]], rule].append(g)
    for (svc, rule), cgroups in rules.items():
        members = np.asarray(
            [
                i
                for i in np.flatnonzero(cont.service == svc).tolist()
                if cont.spread[i] == rule
            ]
        )
        rep = int(ctx.groups[cgroups[0]][0])
        ok = (problem.machines.state == UP) & _selected(problem, rep)
        dom_col = _domain(problem, rule.topology_key)
        domains = {dom_col[m] for m in np.flatnonzero(ok).tolist()} - {None}
        if len(domains) <= 1:
            continue
        fixed = ctx.fixed_counts(members, rule.topology_key)
        terms = ctx.var_terms(cgroups, rule.topology_key)
        low = ctx.model.new_int_var(
            0, len(members), f"spread_min[{svc},{rule.topology_key}]"
        )
        for dom in domains:
            count = sum(terms.get(dom, [])) + fixed.get(dom, 0)
            ctx.model.add(low <= count)
            ctx.model.add(count <= low + rule.max_skew)


def _affinity(ctx: _Context) -> None:
    """Required co-location: a placed container of the target service in the domain.

    For a service's affinity to itself the model asks for one common domain, which keeps
    every placed container next to another one (the first placed is then free).
    """
    problem = ctx.problem
    cont = problem.containers
    if cont.affinity is None:
        return
    svc_groups = _service_groups(ctx)
    rules: dict = defaultdict(list)
    for g, members in enumerate(ctx.groups):
        rule = cont.affinity[members[0]]
        if rule is not None and rule.required:
            rules[cont.service[members[0]], rule].append(g)
    for (svc, rule), cgroups in rules.items():
        target = np.flatnonzero(cont.service == rule.service)
        fixed = ctx.fixed_counts(target, rule.topology_key)
        c_terms = ctx.var_terms(cgroups, rule.topology_key)
        if rule.service == svc:
            own = np.asarray(
                [i for i in target.tolist() if cont.affinity[i] == rule], dtype=np.int64
            )
            fixed_own = {
                d for d, c in ctx.fixed_counts(own, rule.topology_key).items() if c
            }
            choice = {
                dom: ctx.model.new_bool_var(f"aff[{svc},{rule.topology_key},{dom}]")
                for dom in c_terms
            }
            if len(fixed_own) == 1:
                (only,) = fixed_own
                for dom, lit in choice.items():
                    ctx.model.add(lit == int(dom == only))
            elif not fixed_own:
                ctx.model.add_at_most_one(choice.values())
            for dom, vs in c_terms.items():
                for v in vs:
                    ctx.model.add(v == 0).only_enforce_if(choice[dom].Not())
            continue
        t_terms = ctx.var_terms(svc_groups.get(rule.service, []), rule.topology_key)
        for dom, vs in c_terms.items():
            if fixed.get(dom, 0) > 0:
                continue
            if dom is None or not t_terms.get(dom):
                for v in vs:
                    ctx.model.add(v == 0)
                continue
            has = ctx.model.new_bool_var(
                f"has[{rule.service},{rule.topology_key},{dom}]"
            )
            ctx.model.add(sum(t_terms[dom]) >= 1).only_enforce_if(has)
            for v in vs:
                ctx.model.add(v == 0).only_enforce_if(has.Not())


def _symmetry(problem, model, objective, machines, used, base):
    """Within each class of identical free machines: machine i used => machine i-1 used.

    (Ordering loads as well was tried: it slows the search down far more than it
    prunes, so only the used flags are ordered.)
    """
    if objective == "min-moves":
        return
    sym = set(symmetric_machines(problem, objective, base).tolist())
    cand = np.asarray(
        [m for j, m in enumerate(machines.tolist()) if j in used and m in sym], np.int64
    )
    local = {int(m): j for j, m in enumerate(machines.tolist())}
    for cls in machine_classes(problem, cand):
        js = [local[int(m)] for m in cls]
        for a, b in itertools.pairwise(js):
            model.add(used[a] >= used[b])


def add_hint(model: cp_model.CpModel, mv: ModelVars, hint: np.ndarray) -> bool:
    """Hint every assignment variable from ``hint`` (already in the relabelled frame).

    Returns False (and adds nothing) when the hint uses a pair the model lacks.
    """
    local = {int(m): j for j, m in enumerate(mv.machines.tolist())}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for g, members in enumerate(mv.groups):
        for m in hint[members].tolist():
            if m < 0:
                continue
            key = (g, local.get(m, -1))
            if key not in mv.x:
                return False
            counts[key] += 1
    busy = {j for (_, j), c in counts.items() if c}
    for key, var in mv.x.items():
        model.add_hint(var, counts.get(key, 0))
    for j, var in mv.used.items():
        model.add_hint(var, int(j in busy))
    return True


def extract(
    solver: cp_model.CpSolver, mv: ModelVars, problem: Problem, base: np.ndarray | None
) -> np.ndarray:
    """One machine per container (problem frame) from a solved model; -1 = unplaced."""
    out = np.full(problem.n, -1, np.int64) if base is None else np.array(base, np.int64)
    counts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (g, j), v in mv.x.items():
        c = int(solver.value(v))
        if c:
            counts[g].append((j, c))
    for g, members in enumerate(mv.groups):
        out[members] = -1
        cur = mv.group_current[g]
        pos = 0
        for j, c in sorted(counts[g], key=lambda jc: jc[0] != cur):
            out[members[pos : pos + c]] = mv.machines[j]
            pos += c
    return out
