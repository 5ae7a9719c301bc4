"""Placement: the result every engine returns, and why containers were not placed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import PlacementError
from .model import CORDONED, DOWN, UP

if TYPE_CHECKING:
    from .model import Problem


class Status(StrEnum):
    """How good a placement is known to be."""

    OPTIMAL = "optimal"  # proven: objective equals the bound
    FEASIBLE = "feasible"  # every container placed, optimality not proven
    PARTIAL = "partial"  # valid, but some containers are unplaced (each with a reason)
    INFEASIBLE = "infeasible"  # proven: no placement satisfies the objective's demands
    UNKNOWN = "unknown"  # the engine stopped before finding anything


@dataclass(frozen=True)
class Placement:
    """Where each container runs: ``assignment[i]`` is a machine, or -1 if unplaced.

    ``reasons[i]`` (for each unplaced ``i``) counts, per dimension and per constraint,
    how many machines that reason excluded, e.g. ``{"memory": 812, "node_selector
    zone=b": 188, "down": 4}``.
    """

    assignment: np.ndarray
    engine: str
    status: Status
    seconds: float = 0.0
    objective: float | None = None
    bound: float | None = None
    reasons: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    options: Mapping[str, object] = field(default_factory=dict)
    #: GPU devices per container for GPU sharing: int32 (n, k), device indices on its
    #: machine, -1 padded (k = most devices any container got); None without GPU asks.
    devices: np.ndarray | None = None

    def __post_init__(self) -> None:
        a = np.ascontiguousarray(self.assignment, dtype=np.int32)
        if a.ndim != 1:
            raise ValueError("assignment must be one-dimensional")
        a.setflags(write=False)
        object.__setattr__(self, "assignment", a)
        object.__setattr__(self, "status", Status(self.status))
        missing = set(np.flatnonzero(a < 0).tolist()) - set(self.reasons)
        if missing:
            raise ValueError(
                f"unplaced containers without a reason: {sorted(missing)[:5]}"
            )

    @property
    def n(self) -> int:
        """Number of containers."""
        return self.assignment.shape[0]

    @property
    def unplaced(self) -> np.ndarray:
        """Indices of the containers left unplaced, ascending."""
        return np.flatnonzero(self.assignment < 0)

    @property
    def placed(self) -> int:
        """Number of placed containers."""
        return int((self.assignment >= 0).sum())

    @property
    def machines_used(self) -> int:
        """Number of distinct machines running at least one container."""
        used = self.assignment[self.assignment >= 0]
        return int(np.unique(used).shape[0])

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound (0 when proven optimal)."""
        if self.objective is None or self.bound is None or self.objective == 0:
            return None
        return (self.objective - self.bound) / abs(self.objective)

    def explain(self, container: int) -> str:
        """Why ``container`` is where it is, or why it could not be placed."""
        machine = int(self.assignment[container])
        if machine >= 0:
            return f"container {container} placed on machine {machine}"
        counts = self.reasons[container]
        parts = "; ".join(
            f"{k}: {v} machine{'s' if v != 1 else ''}" for k, v in counts.items()
        )
        return f"container {container} not placed: {parts or 'no machines'}"

    def to_frame(self) -> pd.DataFrame:
        """One row per container: ``container``, ``machine`` (-1 unplaced)."""
        return pd.DataFrame(
            {
                "container": np.arange(self.n, dtype=np.int64),
                "machine": self.assignment.astype(np.int64),
            }
        )

    def summary(self) -> dict[str, object]:
        """The headline numbers as a plain dict."""
        return {
            "engine": self.engine,
            "status": self.status.value,
            "containers": self.n,
            "placed": self.placed,
            "unplaced": int(self.unplaced.shape[0]),
            "machines_used": self.machines_used,
            "objective": self.objective,
            "bound": self.bound,
            "seconds": self.seconds,
        }


#: At most this many examples of one kind of violation are spelled out in a message.
_EXAMPLES = 3


def validate(problem: Problem, placement: Placement) -> None:
    """Raise :class:`PlacementError` naming each rule ``placement`` breaks.

    The one independent checker: it recomputes loads, domains and counts from the
    Problem's own fields with plain numpy and never reuses engine code or compiled
    constraint arrays, so a bug in a kernel cannot hide behind a matching bug here.
    Rules: machine indices in range, capacity per dimension, machine state (down,
    cordoned), node_selector, taints, anti-affinity, spread, required affinity,
    namespace quotas, pinned containers, GPU devices, and a reason for every unplaced
    container.
    """
    a = np.asarray(placement.assignment).astype(np.int64)
    if a.shape != (problem.n,):
        raise PlacementError(
            f"assignment has {a.shape[0] if a.ndim else 0} entries for "
            f"{problem.n} containers"
        )
    bad = np.flatnonzero((a < -1) | (a >= problem.m))
    if len(bad):
        i = int(bad[0])
        raise PlacementError(
            f"{_container(problem, i)}: machine index {a[i]} is neither -1 nor a "
            f"machine (0..{problem.m - 1}); {len(bad)} container(s) affected"
        )
    found: list[str] = []
    for check in (
        _check_reasons,
        _check_capacity,
        _check_state,
        _check_pinned,
        _check_selectors,
        _check_taints,
        _check_anti_affinity,
        _check_spread,
        _check_affinity,
        _check_quotas,
        _check_gpu_devices,
    ):
        found.extend(check(problem, a, placement))
    if found:
        raise PlacementError("invalid placement: " + "; ".join(found))


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _container(problem: Problem, i: int) -> str:
    ident = _plain(problem.containers.ids[i])
    return f"container {i}" + ("" if ident == i else f" (id {ident!r})")


def _machine(problem: Problem, j: int) -> str:
    ident = _plain(problem.machines.ids[j])
    return f"machine {j}" + ("" if ident == j else f" (id {ident!r})")


def _listed(items: list[str], total: int | None = None) -> list[str]:
    """The first few of ``items``, the last one saying how many more there are."""
    total = len(items) if total is None else total
    out = items[:_EXAMPLES]
    if total > len(out):
        out[-1] += f" (and {total - len(out)} more like it)"
    return out


def _indices(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in rows[:_EXAMPLES])
    return shown + (", ..." if len(rows) > _EXAMPLES else "")


def _objects(values: Sequence) -> np.ndarray:
    """A 1-D object array holding ``values`` as they are (sets stay sets)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for an object column (None -> -1) and the distinct values."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _domains(problem: Problem, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Domain code per machine for topology ``key`` (-1 = label absent), and values."""
    if key == "machine":
        return np.arange(problem.m, dtype=np.int64), np.arange(problem.m)
    return _codes(problem.machines.label(key))


def _selector_key(selector: Mapping | None) -> tuple:
    return tuple(sorted((selector or {}).items(), key=lambda kv: str(kv[0])))


def _selector_ok(problem: Problem, selector: tuple) -> np.ndarray:
    """bool[m]: machines whose labels equal every pair of ``selector``."""
    ok = np.ones(problem.m, dtype=bool)
    for key, value in selector:
        col = problem.machines.label(key)
        ok &= np.fromiter((x == value for x in col), dtype=bool, count=problem.m)
    return ok


def _tolerated(problem: Problem, tolerations: frozenset) -> np.ndarray:
    """bool[m]: machines all of whose taints are in ``tolerations``."""
    taints = problem.machines.taints
    if taints is None:
        return np.ones(problem.m, dtype=bool)
    return np.fromiter((t <= tolerations for t in taints), dtype=bool, count=problem.m)


def _check_reasons(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    missing = [i for i in np.flatnonzero(a < 0).tolist() if i not in placement.reasons]
    return _listed(
        [f"unplaced {_container(problem, i)} has no reason" for i in missing]
    )


def _check_capacity(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    placed = a >= 0
    req = problem.requests[placed]
    # Sums beyond int64 would wrap silently; exact Python integers then.
    if not len(req) or int(req.max()) * len(req) < 2**53:
        # Every partial sum is an integer below 2**53, so float64 counts are exact.
        load = np.stack(
            [np.bincount(a[placed], req[:, k], problem.m) for k in range(problem.d)],
            axis=1,
        ).astype(np.int64)
    else:
        load = np.zeros((problem.m, problem.d), dtype=object)  # exact, no wrap-around
        np.add.at(load, a[placed], req.astype(object))
    cap = problem.capacity.astype(load.dtype, copy=False)
    over = np.argwhere(load > cap)
    names = problem.resources.names
    return _listed(
        [
            f"capacity: {_machine(problem, j)}, {names[k]}: load {load[j, k]} > "
            "capacity "
            f"{cap[j, k]} (overflow {load[j, k] - cap[j, k]})"
            for j, k in over[:_EXAMPLES].tolist()
        ],
        len(over),
    )


def _check_state(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    placed = a >= 0
    state = np.full(problem.n, -1, dtype=np.int64)
    state[placed] = problem.machines.state[a[placed]]
    down = np.flatnonzero(state == DOWN)
    new = a != problem.current if problem.current is not None else placed
    cordoned = np.flatnonzero((state == CORDONED) & new)
    out = _listed(
        [
            f"down machine: {_container(problem, i)} is on down "
            f"{_machine(problem, int(a[i]))}"
            for i in down[:_EXAMPLES].tolist()
        ],
        len(down),
    )
    return out + _listed(
        [
            f"cordoned machine: {_container(problem, i)} is newly placed on cordoned "
            f"{_machine(problem, int(a[i]))}"
            for i in cordoned[:_EXAMPLES].tolist()
        ],
        len(cordoned),
    )


def _check_pinned(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    if problem.pinned is None:
        return []
    bad = np.flatnonzero(problem.pinned & (a != problem.current))
    return _listed(
        [
            f"pinned: {_container(problem, i)} must stay on "
            f"{_machine(problem, int(problem.current[i]))} but is "
            + ("unplaced" if a[i] < 0 else f"on {_machine(problem, int(a[i]))}")
            for i in bad[:_EXAMPLES].tolist()
        ],
        len(bad),
    )


def _check_selectors(
    problem: Problem, a: np.ndarray, placement: Placement
) -> list[str]:
    column = problem.containers.node_selector
    if column is None:
        return []
    groups: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(a >= 0).tolist():
        if column[i]:
            groups.setdefault(_selector_key(column[i]), []).append(i)
    out: list[str] = []
    total = 0
    for selector, members in groups.items():
        rows = np.array(members)
        for key, value in selector:
            labels = problem.machines.label(key)
            bad = rows[~_selector_ok(problem, ((key, value),))[a[rows]]]
            total += len(bad)
            out += [
                f"node_selector: {_container(problem, i)} needs {key}={value!r} but "
                f"{_machine(problem, int(a[i]))} has {key}={_plain(labels[a[i]])!r}"
                for i in bad[:_EXAMPLES].tolist()
            ]
    return _listed(out, total)


def _check_taints(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    taints = problem.machines.taints
    if taints is None:
        return []
    rows = np.flatnonzero(a >= 0)
    tolerations = problem.containers.tolerations
    taint_code, taint_sets = _codes(_objects(taints))
    if tolerations is None:
        tol_code = np.zeros(problem.n, dtype=np.int64)
        tol_sets = _objects([frozenset()])
    else:
        tol_code, tol_sets = _codes(_objects(tolerations))
    pair = taint_code[a[rows]] * len(tol_sets) + tol_code[rows]
    bad_pairs = [
        p
        for p in np.unique(pair).tolist()
        if not taint_sets[p // len(tol_sets)] <= tol_sets[p % len(tol_sets)]
    ]
    bad = rows[np.isin(pair, bad_pairs)]
    return _listed(
        [
            f"taints: {_container(problem, i)} does not tolerate "
            f"{sorted(taints[a[i]] - problem.containers.tolerations_of(i))} of "
            f"{_machine(problem, int(a[i]))}"
            for i in bad[:_EXAMPLES].tolist()
        ],
        len(bad),
    )


def _check_anti_affinity(
    problem: Problem, a: np.ndarray, placement: Placement
) -> list[str]:
    column = problem.containers.anti_affinity
    if column is None:
        return []
    placed = np.flatnonzero(a >= 0)
    service, service_names = _codes(problem.containers.service)
    rule_code, rules = _codes(column)
    out: list[str] = []
    total = 0
    for g, rule in enumerate(rules):
        members = placed[rule_code[placed] == g]
        if not len(members):
            continue
        key = rule.topology_key
        dom, values = _domains(problem, key)
        where = dom[a[members]]
        lacking = members[where < 0]
        total += len(lacking)
        out += [
            f"anti_affinity ({key}): {_container(problem, i)} is on "
            f"{_machine(problem, int(a[i]))}, which has no label {key!r}"
            for i in lacking[:_EXAMPLES].tolist()
        ]
        members, where = members[where >= 0], where[where >= 0]
        everyone = dom[a[placed]]
        inside = everyone >= 0
        cells, counts = np.unique(
            service[placed[inside]] * len(values) + everyone[inside], return_counts=True
        )
        mine = service[members] * len(values) + where
        count = counts[np.searchsorted(cells, mine)]
        crowded = np.unique(mine[count > rule.max_per_domain])
        total += len(crowded)
        for cell in crowded[:_EXAMPLES].tolist():
            s, x = divmod(cell, len(values))
            crowd = placed[inside][
                service[placed[inside]] * len(values) + everyone[inside] == cell
            ]
            out.append(
                f"anti_affinity ({key}, at most {rule.max_per_domain}): service "
                f"{service_names[s]!r} has {len(crowd)} containers in "
                f"{key}={_plain(values[x])!r} (containers {_indices(crowd)})"
            )
    return _listed(out, total)


def _groups(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(label, member indices ascending) for each label >= 0, by one stable sort."""
    rows = np.flatnonzero(labels >= 0)
    rows = rows[np.argsort(labels[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(labels[rows])) + 1
    return [(int(labels[part[0]]), part) for part in np.split(rows, cuts) if len(part)]


def _check_spread(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    column = problem.containers.spread
    if column is None:
        return []
    service, service_names = _codes(problem.containers.service)
    rule_code, rules = _codes(column)
    group = np.where((rule_code >= 0) & (a >= 0), service * len(rules) + rule_code, -1)
    selectors = problem.containers.node_selector
    domains_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    usable_of: dict[tuple, np.ndarray] = {}
    out: list[str] = []
    total = 0
    for g, members in _groups(group):
        rule = rules[g % len(rules)]
        key, name = rule.topology_key, service_names[g // len(rules)]
        if key not in domains_of:
            domains_of[key] = _domains(problem, key)
        dom, values = domains_of[key]
        where = dom[a[members]]
        lacking = members[where < 0]
        total += len(lacking)
        out += [
            f"spread ({key}): {_container(problem, i)} is on "
            f"{_machine(problem, int(a[i]))}, which has no label {key!r}"
            for i in lacking[:_EXAMPLES].tolist()
        ]
        counts = np.bincount(where[where >= 0], minlength=len(values))
        signatures = {
            (
                key,
                _selector_key(None if selectors is None else selectors[i]),
                problem.containers.tolerations_of(i),
            )
            for i in members.tolist()
        }
        for signature in signatures:
            if signature not in usable_of:
                usable = (
                    (problem.machines.state == UP)
                    & _selector_ok(problem, signature[1])
                    & _tolerated(problem, signature[2])
                    & (dom >= 0)
                )
                usable_of[signature] = np.unique(dom[usable])
            domains = usable_of[signature]
            if not len(domains):
                continue
            seen = counts[domains]
            skew = int(seen.max() - seen.min())
            if skew > rule.max_skew:
                total += 1
                out.append(
                    f"spread ({key}, max skew {rule.max_skew}): service {name!r} has "
                    f"{seen.max()} in {key}={_plain(values[domains[seen.argmax()]])!r} "
                    f"but {seen.min()} in {key}="
                    f"{_plain(values[domains[seen.argmin()]])!r} (skew {skew})"
                )
    return _listed(out, total)


def _check_affinity(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    column = problem.containers.affinity
    if column is None:
        return []
    placed = a >= 0
    service = problem.containers.service
    rule_code, rules = _codes(column)
    out: list[str] = []
    total = 0
    for g, rule in enumerate(rules):
        members = np.flatnonzero(placed & (rule_code == g))
        if not rule.required or not len(members):
            continue
        key, target = rule.topology_key, rule.service
        dom, values = _domains(problem, key)
        where = dom[a[members]]
        lacking = members[where < 0]
        total += len(lacking)
        out += [
            f"affinity ({target!r}, {key}): {_container(problem, i)} is on "
            f"{_machine(problem, int(a[i]))}, which has no label {key!r}"
            for i in lacking[:_EXAMPLES].tolist()
        ]
        members, where = members[where >= 0], where[where >= 0]
        targets = dom[a[placed & (service == target)]]
        counts = np.bincount(targets[targets >= 0], minlength=len(values))
        own = service[members] == target
        alone = counts[where] - own == 0
        strangers = members[alone & ~own]
        total += len(strangers)
        out += [
            f"affinity ({target!r}, {key}): {_container(problem, i)} shares "
            f"{key}={_plain(values[dom[a[i]]])!r} with no container of {target!r}"
            for i in strangers[:_EXAMPLES].tolist()
        ]
        # Within its own service the first container placed is free: one may be alone.
        loners = members[alone & own]
        if len(loners) > 1:
            total += 1
            out.append(
                f"affinity ({target!r}, {key}): containers {_indices(loners)} of "
                f"{target!r} are each alone in their {key} domain; only the first "
                "placed may be"
            )
    return _listed(out, total)


def _check_quotas(problem: Problem, a: np.ndarray, placement: Placement) -> list[str]:
    out: list[str] = []
    names = problem.resources.names
    for namespace, limit in problem.quotas.items():
        mask = (a >= 0) & (problem.containers.namespace == namespace)
        used = problem.requests[mask].sum(axis=0, dtype=object)
        out += [
            f"quota: namespace {namespace!r}, {names[k]}: placed requests {used[k]} > "
            f"quota {limit[k]}"
            for k in np.flatnonzero(used > limit).tolist()
        ]
    return _listed(out)


def _check_gpu_devices(
    problem: Problem, a: np.ndarray, placement: Placement
) -> list[str]:
    """Recorded devices exist, whole GPUs are exclusive, shares fit one device."""
    cont = problem.containers
    if cont.num_gpu is None:
        return []
    asks = np.flatnonzero((a >= 0) & ((cont.num_gpu > 0) | (cont.gpu_milli > 0)))
    if not len(asks):
        return []
    dev = placement.devices
    if dev is None:
        return [f"gpu devices: {len(asks)} placed container(s) ask for GPUs but the "
                "placement records no devices"]
    dev = np.asarray(dev, dtype=np.int64)
    if dev.ndim != 2 or dev.shape[0] != problem.n:
        return [f"gpu devices: devices must have shape ({problem.n}, k), got "
                f"{dev.shape}"]
    out: list[str] = []
    gpus = problem.machines.gpus
    load: dict[tuple[int, int], int] = {}
    whole_on: dict[tuple[int, int], list[int]] = {}
    for i in asks.tolist():
        j = int(a[i])
        got = [int(u) for u in dev[i] if u >= 0]
        want = int(cont.num_gpu[i]) if cont.num_gpu[i] > 0 else 1
        if len(got) != want or len(set(got)) != len(got):
            out.append(
                f"gpu devices: {_container(problem, i)} asks "
                + (f"{want} whole GPU(s)" if cont.num_gpu[i] > 0 else "a share of one")
                + f" but holds devices {got}"
            )
            continue
        missing = [u for u in got if u >= gpus[j]]
        if missing:
            out.append(
                f"gpu devices: {_container(problem, i)} holds device(s) {missing} of "
                f"{_machine(problem, j)}, which has {int(gpus[j])} GPU(s)"
            )
            continue
        for u in got:
            milli = 1000 if cont.num_gpu[i] > 0 else int(cont.gpu_milli[i])
            load[(j, u)] = load.get((j, u), 0) + milli
            if cont.num_gpu[i] > 0:
                whole_on.setdefault((j, u), []).append(i)
    for (j, u), milli in sorted(load.items()):
        if milli > 1000:
            holders = whole_on.get((j, u), [])
            out.append(
                f"gpu devices: device {u} of {_machine(problem, j)} holds {milli} "
                "milli-GPU (> 1000)"
                + (f"; whole-GPU container(s) {holders} share it" if holders else "")
            )
    return _listed(out)
