"""A stateful cluster that turns events into plans: failures, drains, scaling, updates.

:class:`Cluster` keeps the fleet and the running containers in flat numpy arrays. Every
operation (``deploy``, ``scale``, ``fail``, ``repair``, ``cordon``, ``drain``,
``add_machines``, ``remove_machines``, ``rolling_update``, ``rebalance``) returns a
:class:`~solver.plan.Plan` of ordered steps and changes nothing until
``cluster.apply(plan)`` (or ``apply=True``). New placements go through the greedy
kernel, started from the current state (as :func:`solver.engines.greedy.place_into`),
so every hard rule (machine state, selectors, taints, anti-affinity, spread, affinity,
quotas) holds after each step; what cannot be placed stays pending with its reasons.

Work is kept between calls: the kernel's per-machine residuals and per-domain counters
of the last placement are updated by the containers that changed since, and replicas
added to existing services (scale-out, rolling updates) extend the compiled rules of
the committed state instead of recompiling them.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

import numpy as np
import pandas as pd

from .constraints import CompiledConstraints, compile_constraints, spread_domains
from .errors import InvalidProblem
from .explain import why_not
from .model import (
    CORDONED,
    DOWN,
    SCHEDULING_FIELDS,
    STATES,
    UP,
    Containers,
    Machines,
    Problem,
    Resources,
    Service,
)
from .placement import Placement, Status
from .plan import Move, NewContainer, Plan, Rollout, Start, Stop, fleet

_TOKENS = count()


@dataclass
class _State:
    """Fleet and containers as flat arrays; one copy per plan being built."""

    resources: Resources
    capacity: np.ndarray  # int64[m, d]
    labels: dict[str, np.ndarray]  # key -> object[m]
    taints: tuple[frozenset[str], ...] | None
    state: np.ndarray  # int8[m] up / cordoned / down
    retired: np.ndarray  # bool[m] removed machines (kept so indices stay stable)
    ids: np.ndarray  # object[n] container ids
    service: np.ndarray  # object[n] service names
    requests: np.ndarray  # int64[n, d]
    revision: np.ndarray  # int64[n]
    where: np.ndarray  # int64[n] machine, -1 = pending
    specs: dict[str, Service]
    serial: dict[str, int]  # next replica number per service
    reasons: dict[str, dict[str, int]]  # pending container -> why-not counts

    def copy(self) -> _State:
        return _State(
            self.resources,
            self.capacity,
            dict(self.labels),
            self.taints,
            self.state.copy(),
            self.retired.copy(),
            self.ids,
            self.service,
            self.requests,
            self.revision,
            self.where.copy(),
            dict(self.specs),
            dict(self.serial),
            dict(self.reasons),
        )

    @property
    def m(self) -> int:
        return self.capacity.shape[0]

    def append(self, ids: list[str], service: str, req: np.ndarray, rev: int) -> None:
        k = len(ids)
        self.ids = np.concatenate([self.ids, np.array(ids, dtype=object)])
        self.service = np.concatenate([self.service, np.full(k, service, dtype=object)])
        self.requests = np.vstack([self.requests, np.tile(req, (k, 1))])
        self.revision = np.concatenate([self.revision, np.full(k, rev, np.int64)])
        self.where = np.concatenate([self.where, np.full(k, -1, np.int64)])

    def drop(self, rows: np.ndarray) -> None:
        keep = np.ones(len(self.ids), bool)
        keep[rows] = False
        self.ids, self.service = self.ids[keep], self.service[keep]
        self.requests, self.revision = self.requests[keep], self.revision[keep]
        self.where = self.where[keep]


class _Builder:
    """Steps, pending reasons and bookkeeping of one plan under construction."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.steps: list[list[Any]] = []
        self.evicted: list[tuple[str, str]] = []
        self.blocked: dict[str, str] = {}
        self.new: dict[str, NewContainer] = {}
        self.removed: set[str] = set()
        self.services: dict[str, Service] = {}
        self.machine_states: dict[int, int] = {}

    def step(self, actions: list[Any]) -> None:
        if actions:
            self.steps.append(actions)


class Cluster:
    """The live state of a fleet: which container runs where, and what is pending.

    Parameters
    ----------
    machines : Machines, or a 2-D capacity array (one row per machine).
    engine : greedy preset used for every new placement (``bfd``, ``ffd``,
        ``k8s-least``, ...).
    preempt : when True, a container that finds no room may evict lower-priority
        containers (fewest, lowest priority, on one machine).
    resources : resource names when ``machines`` is an array.
    candidates : score at most this many feasible machines per placement; None
        scores every machine. The default ``"auto"`` follows kube-scheduler's adaptive
        percentageOfNodesToScore: every machine below 100, else
        max(5, 50 - machines / 125) percent of them, at least 100 (500 of 10,000).
    debug : when True, :meth:`apply` verifies every plan first.
    """

    def __init__(
        self,
        machines: Machines | Any,
        engine: str = "bfd",
        preempt: bool = False,
        *,
        resources: Resources | Sequence[str] | None = None,
        candidates: int | str | None = "auto",
        debug: bool = False,
    ) -> None:
        from .engines import get

        mach = _machines(machines, resources, "machines")
        if candidates not in (None, "auto") and (
            isinstance(candidates, bool | str) or int(candidates) < 1
        ):
            raise InvalidProblem(
                f"cluster candidates {candidates!r}: use 'auto', None or a count >= 1"
            )
        greedy = get(engine)
        self.candidates = candidates
        if not hasattr(greedy, "rule"):
            raise InvalidProblem(
                f"cluster engine {engine!r}: only greedy presets place incrementally"
            )
        self.engine = engine
        self._greedy = greedy
        self.preempt = bool(preempt)
        self.debug = bool(debug)
        self._token = next(_TOKENS)
        self._version = 0
        d = len(mach.resources)
        self._st = _State(
            mach.resources,
            mach.capacity.copy(),
            dict(mach.labels),
            mach.taints,
            mach.state.astype(np.int8).copy(),
            np.zeros(len(mach), bool),
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=object),
            np.zeros((0, d), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            {},
            {},
            {},
        )
        self._origin: Problem | None = None
        self._cache: list[tuple[Any, ...]] = []  # the last two compiled states
        self._loaded: _Loaded | None = None  # kernel counters of the last placement
        self._keys: tuple[Any, ...] | None = None  # (requests, capacity, size keys)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_arrays(
        cls,
        capacity: Any,
        resources: Resources | Sequence[str] | None = None,
        engine: str = "bfd",
        **options: Any,
    ) -> Cluster:
        """An empty cluster of machines with ``capacity`` (int, shape (m, d))."""
        return cls(Machines(capacity, resources, source="capacity"), engine, **options)

    @classmethod
    def from_problem(
        cls,
        problem: Problem,
        placement: Placement | None = None,
        engine: str = "bfd",
        **options: Any,
    ) -> Cluster:
        """A cluster running ``problem``'s containers where ``placement`` (or
        ``problem.current``) puts them; unplaced ones are pending.

        Containers are grouped by ``service``; a service's constraints, namespace and
        priority must be the same on all its containers (its requests may differ).
        """
        from .placement import validate

        cluster = cls(problem.machines, engine, **options)
        n = problem.n
        if placement is not None:
            where = np.asarray(placement.assignment, np.int64)
        elif problem.current is not None:
            where = problem.current.astype(np.int64)
        else:
            where = np.full(n, -1, np.int64)
        check = Placement(
            where,
            "current",
            Status.PARTIAL,
            reasons={int(i): {"pending": 1} for i in np.flatnonzero(where < 0)},
        )
        try:
            validate(problem, check)
        except Exception as exc:
            raise InvalidProblem(
                f"{problem.name or 'problem'}: placement: {exc}"
            ) from exc
        c = problem.containers
        names = np.array(
            [
                str(s) if s not in (None, "") else str(i)
                for i, s in enumerate(c.service)
            ],
            dtype=object,
        )
        _, first = np.unique(names.astype(str), return_index=True)
        code = pd.factorize(names)[0]
        head = np.empty(code.max(initial=-1) + 1, np.int64)
        head[code[first]] = first
        specs = {str(names[i]): _spec_of(c, int(i), str(names[i])) for i in first}
        for field_name in SCHEDULING_FIELDS:
            col = getattr(c, field_name)
            if col is None:
                continue
            ref = col[head[code]]
            differs = np.fromiter(
                (a != b for a, b in zip(col, ref, strict=True)), bool, count=n
            )
            if differs.any():
                i = int(np.flatnonzero(differs)[0])
                raise InvalidProblem(
                    f"{c.source}: row {i}, field {field_name!r}: service "
                    f"{names[i]!r} differs from its row {head[code[i]]}"
                )
        counts = pd.Series(names).value_counts()
        specs = {k: replace(v, replicas=int(counts[k])) for k, v in specs.items()}
        st = cluster._st
        st.ids = np.array([str(x) for x in c.ids], dtype=object)
        st.service = names
        st.requests = c.requests.copy()
        st.revision = np.zeros(n, np.int64)
        st.where = where.copy()
        st.specs = specs
        st.serial = {k: int(counts[k]) for k in specs}
        down = st.state[np.maximum(where, 0)] == DOWN
        st.where[(where >= 0) & down] = -1
        cluster._refresh_reasons(st)
        cluster._origin = problem
        return cluster

    # ------------------------------------------------------------ views

    @property
    def resources(self) -> Resources:
        """The resource dimensions, in column order."""
        return self._st.resources

    @property
    def version(self) -> int:
        """Counts applied plans; a plan only applies to the version it was made for."""
        return self._version

    def problem(self, *, named: bool = True) -> Problem:
        """The state as a Problem: every desired container, ``current`` = machine."""
        return _problem(self._st, named=named, current=True)

    def placement(self) -> Placement:
        """The current Placement: machine per container of :meth:`problem`."""
        st = self._st
        reasons = {
            int(i): dict(st.reasons.get(st.ids[i]) or {"pending": 1})
            for i in np.flatnonzero(st.where < 0)
        }
        status = Status.PARTIAL if reasons else Status.FEASIBLE
        return Placement(st.where, self.engine, status, reasons=reasons)

    def containers_frame(self) -> pd.DataFrame:
        """One row per desired replica: container, service, revision, machine (-1 =
        pending), one column per resource."""
        st = self._st
        frame = pd.DataFrame(
            {
                "container": st.ids.astype(str),
                "service": st.service.astype(str),
                "revision": st.revision,
                "machine": st.where,
            }
        )
        for k, r in enumerate(st.resources.names):
            frame[r] = st.requests[:, k]
        return frame

    def machines_frame(self) -> pd.DataFrame:
        """One row per machine still in the fleet: machine, state, one capacity column
        per resource."""
        st = self._st
        rows = np.flatnonzero(~st.retired)
        frame = pd.DataFrame(
            {
                "machine": rows.astype(np.int64),
                "state": np.array(STATES, dtype=object)[st.state[rows]],
            }
        )
        for k, r in enumerate(st.resources.names):
            frame[r] = st.capacity[rows, k]
        return frame

    def pending(self) -> dict[str, dict[str, int]]:
        """Pending container id -> why-not reasons."""
        st = self._st
        return {str(c): dict(st.reasons.get(c, {})) for c in st.ids[st.where < 0]}

    def endpoints(self, name: str) -> pd.DataFrame:
        """The running (available) replicas of service ``name`` with their machines."""
        st = self._st
        self._known(st, name)
        rows = np.flatnonzero((st.service == name) & (st.where >= 0))
        frame = pd.DataFrame(
            {
                "container": st.ids[rows].astype(str),
                "machine": st.where[rows],
                "revision": st.revision[rows],
            }
        )
        for key, col in st.labels.items():
            frame[key] = col[st.where[rows]]
        return frame

    def metrics(self, by: str = "machine") -> pd.DataFrame:
        """Requested vs capacity per resource, ``by`` machine or service.

        Per machine: state, containers, ``<r>_requested``, ``<r>_capacity`` and
        ``<r>_stranded`` (free capacity unusable because another resource of the machine
        has less free than the smallest request). Per service: replicas, running,
        pending, ``<r>_requested`` (of running replicas) and ``<r>_capacity`` (of the
        machines they run on).
        """
        st = self._st
        names = st.resources.names
        placed = np.flatnonzero(st.where >= 0)
        load = _load(st, placed)
        if by == "machine":
            rows = np.flatnonzero(~st.retired)
            free = st.capacity - load
            smallest = st.requests.min(axis=0) if len(st.ids) else np.ones(len(names))
            blocked = (free < np.maximum(smallest, 1)).any(axis=1)
            frame = pd.DataFrame(
                {
                    "machine": rows,
                    "state": np.array(STATES, dtype=object)[st.state[rows]],
                    "containers": np.bincount(st.where[placed], minlength=st.m)[rows],
                }
            )
            for k, r in enumerate(names):
                frame[f"{r}_requested"] = load[rows, k]
                frame[f"{r}_capacity"] = st.capacity[rows, k]
                frame[f"{r}_stranded"] = np.where(
                    blocked & (st.state != DOWN), np.maximum(free[:, k], 0), 0
                )[rows]
            return frame
        if by != "service":
            raise InvalidProblem(f"metrics: by={by!r}; use 'machine' or 'service'")
        out = []
        for name in st.specs:
            mine = st.service == name
            run = mine & (st.where >= 0)
            row: dict[str, object] = {
                "service": name,
                "replicas": int(mine.sum()),
                "running": int(run.sum()),
                "pending": int((mine & (st.where < 0)).sum()),
            }
            on = np.unique(st.where[run])
            for k, r in enumerate(names):
                row[f"{r}_requested"] = int(st.requests[run, k].sum())
                row[f"{r}_capacity"] = int(st.capacity[on, k].sum())
            out.append(row)
        return pd.DataFrame(out)

    def snapshot(self) -> dict[str, Any]:
        """Plain copies of the state, for :meth:`Plan.verify` and tests."""
        st = self._st
        return {
            "version": self._version,
            "resources": st.resources,
            "capacity": st.capacity.copy(),
            "labels": {k: v.copy() for k, v in st.labels.items()},
            "taints": st.taints,
            "state": st.state.copy(),
            "retired": st.retired.copy(),
            "services": dict(st.specs),
            "ids": [str(c) for c in st.ids],
            "service": [str(s) for s in st.service],
            "requests": st.requests.copy(),
            "revision": st.revision.tolist(),
            "where": st.where.tolist(),
        }

    # ------------------------------------------------------------ committing

    def apply(self, plan: Plan) -> Plan:
        """Commit ``plan`` (made by this cluster at its current version)."""
        after = plan.after
        if after is None or after[0] != self._token or plan.base != self._version:
            raise InvalidProblem(
                f"plan {plan.operation!r} was made for another cluster state "
                f"(version {plan.base}, cluster at {self._version}); plan again"
            )
        if self.debug:
            plan.verify(self)
        self._st = after[1]
        self._version += 1
        return plan

    def _finish(self, b: _Builder, w: _State, apply: bool, **extra: Any) -> Plan:
        """Compute pending reasons, wrap the builder into a Plan, apply if asked."""
        self._refresh_reasons(w)
        pending = {str(c): dict(w.reasons[c]) for c in w.ids[w.where < 0]}
        for c in b.blocked:
            pending.pop(c, None)
        plan = Plan(
            operation=b.operation,
            base=self._version,
            steps=tuple(tuple(s) for s in b.steps),
            pending=pending,
            evicted=tuple(b.evicted),
            blocked=dict(b.blocked),
            machine_states=dict(b.machine_states),
            new=dict(b.new),
            removed=frozenset(b.removed),
            services=dict(b.services),
            after=(self._token, w),
            **extra,
        )
        if apply:
            self.apply(plan)
        return plan

    def _refresh_reasons(self, w: _State) -> None:
        out = np.flatnonzero(w.where < 0)
        if not len(out):
            w.reasons = {}
            return
        problem, cc = self._compiled(w)
        found = why_not(problem, w.where, cc)
        w.reasons = {w.ids[i]: found.get(int(i), {"no machines": 0}) for i in out}

    # ------------------------------------------------------------ operations

    def deploy(
        self, service: Service | Sequence[Service], *, apply: bool = False
    ) -> Plan:
        """Start the replicas of one service (or several, in one greedy pass) not yet
        deployed."""
        w = self._st.copy()
        batch = [service] if isinstance(service, Service) else list(service)
        names = [s.name for s in batch]
        for s in batch:
            if s.name in w.specs or names.count(s.name) > 1:
                raise InvalidProblem(
                    f"deploy: service {s.name!r} already exists; use scale or "
                    "rolling_update"
                )
        b = _Builder(f"deploy {', '.join(names)}")
        for s in batch:
            w.specs[s.name] = s
            b.services[s.name] = s
        self._grow_many(w, b, batch)
        self._refill(w, b, dict.fromkeys(b.new, "new replica"))
        return self._finish(b, w, apply)

    def scale(self, name: str, replicas: int, *, apply: bool = False) -> Plan:
        """Set the replica count of ``name``: new ones start, extra ones stop."""
        w = self._st.copy()
        self._known(w, name)
        if replicas < 0:
            raise InvalidProblem(f"scale: service {name!r}: replicas must be >= 0")
        b = _Builder(f"scale {name}")
        spec = replace(w.specs[name], replicas=int(replicas))
        w.specs[name], b.services[name] = spec, spec
        mine = np.flatnonzero(w.service == name)
        stops: list[Any] = []
        if replicas > len(mine):
            rev = int(w.revision[mine].max()) if len(mine) else 0
            req = spec.request_vector(w.resources)
            self._grow(w, b, name, replicas - len(mine), req, rev)
        elif replicas < len(mine):
            _, cc = self._compiled(w)
            gone = _pick_victims(w, cc, mine, len(mine) - replicas)
            stops = [
                Stop(str(w.ids[i]), int(w.where[i]), "scale in")
                for i in gone
                if w.where[i] >= 0
            ]
            b.removed.update(str(w.ids[i]) for i in gone)
            w.drop(gone)
        self._refill(w, b, dict.fromkeys(b.new, "new replica"), stops=stops)
        return self._finish(b, w, apply)

    def fail(self, machines: Iterable[int] | int, *, apply: bool = False) -> Plan:
        """Machines went down: re-place their containers on healthy machines."""
        w = self._st.copy()
        ids = self._machine_ids(w, machines)
        b = _Builder("fail")
        w.state[ids] = DOWN
        b.machine_states.update(dict.fromkeys(ids.tolist(), DOWN))
        lost = np.flatnonzero(np.isin(w.where, ids))
        reason = {w.ids[i]: f"machine {w.where[i]} failed" for i in lost}
        w.where[lost] = -1
        self._refill(w, b, reason)
        return self._finish(b, w, apply)

    def repair(self, machines: Iterable[int] | int, *, apply: bool = False) -> Plan:
        """Machines are up again (also un-cordons); pending containers are retried."""
        w = self._st.copy()
        ids = self._machine_ids(w, machines)
        b = _Builder("repair")
        w.state[ids] = UP
        b.machine_states.update(dict.fromkeys(ids.tolist(), UP))
        self._refill(w, b, {})
        return self._finish(b, w, apply)

    def schedule(self, *, apply: bool = False) -> Plan:
        """Try every pending container again, e.g. after :meth:`from_problem`."""
        w = self._st.copy()
        b = _Builder("schedule")
        self._refill(w, b, {})
        return self._finish(b, w, apply)

    def cordon(self, machines: Iterable[int] | int, *, apply: bool = False) -> Plan:
        """No new placements on these machines; what runs there stays."""
        w = self._st.copy()
        ids = self._machine_ids(w, machines)
        b = _Builder("cordon")
        up = ids[w.state[ids] == UP]
        w.state[up] = CORDONED
        b.machine_states.update(dict.fromkeys(up.tolist(), CORDONED))
        return self._finish(b, w, apply)

    def add_machines(self, machines: Machines | Any, *, apply: bool = False) -> Plan:
        """Grow the fleet; pending containers take the new room first."""
        w = self._st.copy()
        mach = _machines(machines, w.resources, "add_machines")
        if mach.resources.names != w.resources.names:
            raise InvalidProblem(
                f"add_machines: resources {mach.resources.names} differ from the "
                f"cluster's {w.resources.names}"
            )
        b = _Builder("add_machines")
        m0 = w.m
        w.capacity = np.vstack([w.capacity, mach.capacity])
        for key in set(w.labels) | set(mach.labels):
            old = w.labels.get(key, np.full(m0, None, dtype=object))
            new = mach.labels.get(key, np.full(len(mach), None, dtype=object))
            w.labels[key] = np.concatenate([old, new])
        if w.taints is not None or mach.taints is not None:
            w.taints = tuple(w.taints or (frozenset(),) * m0) + tuple(
                mach.taints or (frozenset(),) * len(mach)
            )
        w.state = np.concatenate([w.state, mach.state.astype(np.int8)])
        w.retired = np.concatenate([w.retired, np.zeros(len(mach), bool)])
        self._refill(w, b, {})
        return self._finish(b, w, apply, added=mach)

    def drain(
        self,
        machines: Iterable[int] | int,
        *,
        min_available: int | Mapping[str, int] | None = None,
        apply: bool = False,
    ) -> Plan:
        """Cordon the machines and move every container off them.

        Moves are make-before-break where capacity allows; otherwise a container is
        stopped and started elsewhere in one step, as long as its service keeps
        ``min_available`` running (the call's value, else the service's own). Containers
        that cannot leave stay where they are and are listed in ``plan.blocked``.
        """
        w = self._st.copy()
        ids = self._machine_ids(w, machines)
        b = _Builder("drain")
        budgets = self._evacuate(w, b, ids, min_available, force=False)
        return self._finish(b, w, apply, budgets=budgets)

    def remove_machines(
        self, machines: Iterable[int] | int, *, apply: bool = False
    ) -> Plan:
        """Retire machines: their containers move away (or wait pending) first."""
        w = self._st.copy()
        ids = self._machine_ids(w, machines)
        b = _Builder("remove_machines")
        self._evacuate(w, b, ids, None, force=True)
        w.state[ids] = DOWN
        w.retired[ids] = True
        return self._finish(b, w, apply, removed_machines=tuple(ids.tolist()))

    def rolling_update(
        self,
        name: str,
        requests: Mapping[str, int] | Sequence[int] | None = None,
        *,
        max_surge: int | str = 1,
        max_unavailable: int | str = 0,
        apply: bool = False,
    ) -> Plan:
        """Replace every replica of ``name`` by a new revision, as a Deployment does.

        ``max_surge`` / ``max_unavailable`` are counts or percentages of the replicas
        ("25%": surge rounds up, unavailable rounds down). No step runs more than
        replicas + max_surge or keeps fewer than replicas - max_unavailable available;
        old and new revisions count together for anti-affinity and spread. Without room
        for the surge and no unavailability allowed, InvalidProblem explains why.
        """
        w = self._st.copy()
        self._known(w, name)
        spec = w.specs[name]
        new_spec = spec if requests is None else replace(spec, requests=requests)
        req = new_spec.request_vector(w.resources)
        old = np.flatnonzero(w.service == name)
        r = len(old)
        surge, unavailable = _fenceposts(name, r, max_surge, max_unavailable)
        b = _Builder(f"rolling_update {name}")
        w.specs[name], b.services[name] = new_spec, new_spec
        rev = int(w.revision[old].max(initial=0)) + 1
        old_pending = old[w.where[old] < 0]
        b.removed.update(str(c) for c in w.ids[old_pending])
        running_old = list(old[w.where[old] >= 0])
        first_new = len(w.ids)
        self._grow(w, b, name, r, req, rev)
        fresh = list(range(first_new, first_new + r))
        problem, cc = self._compiled(w)
        live = np.ones(len(w.ids), bool)
        live[old_pending] = False
        floor = r - unavailable
        started = 0
        while running_old or fresh:
            total = len(running_old) + started
            x = max(0, min(len(running_old), total - floor))
            stop_rows = _pick_victims(
                w, cc, np.array(running_old, np.int64), x, keep_spread=True
            )
            actions: list[Any] = [
                Stop(str(w.ids[i]), int(w.where[i]), f"old revision of {name}")
                for i in stop_rows
            ]
            w.where[stop_rows] = -1
            live[stop_rows] = False
            done = set(stop_rows.tolist())
            running_old = [i for i in running_old if i not in done]
            x = len(stop_rows)
            y = max(0, min(len(fresh), r + surge - (total - x)))
            placed: list[int] = []
            if y:
                try_rows = np.array(fresh[:y], np.int64)
                out = self._place(w, problem, cc, try_rows)
                placed = [int(i) for i in try_rows if out[i] >= 0]
                w.where[placed] = out[placed]
                actions += [
                    Start(
                        str(w.ids[i]), int(w.where[i]), f"new revision {rev} of {name}"
                    )
                    for i in placed
                ]
                done_new = set(placed)
                fresh = [i for i in fresh if i not in done_new]
                started += len(placed)
            if not actions:
                self._refuse(w, problem, cc, name, fresh, surge, unavailable)
            b.step(actions)
        gone = np.flatnonzero(~live)
        b.removed.update(str(c) for c in w.ids[gone])
        w.drop(gone)
        spec_after = replace(new_spec, replicas=r)
        w.specs[name], b.services[name] = spec_after, spec_after
        return self._finish(b, w, apply, rollout=Rollout(name, r, surge, unavailable))

    def rebalance(
        self,
        max_moves: int = 100,
        objective: str = "min-machines",
        time_limit: float = 10.0,
        *,
        seed: int = 0,
        apply: bool = False,
    ) -> Plan:
        """Move at most ``max_moves`` running containers to improve ``objective``
        (``min-machines``, ``balance`` or ``cost``); see :mod:`solver.rebalance`.

        Returns within ``time_limit`` seconds (the searches stop early enough to
        leave time for building the plan); the plan reports ``machines_freed``,
        ``moves`` and ``objective`` (before, after).
        """
        from .rebalance import rebalance

        return rebalance(self, max_moves, objective, time_limit, seed=seed, apply=apply)

    # ------------------------------------------------------------ internals

    def _known(self, w: _State, name: str) -> None:
        if name not in w.specs:
            known = ", ".join(w.specs) or "none"
            raise InvalidProblem(f"unknown service {name!r}; known services: {known}")

    def _machine_ids(self, w: _State, machines: Iterable[int] | int) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(machines if machines is not None else []))
        if ids.size == 0:
            return np.zeros(0, np.int64)
        if ids.dtype.kind not in "iu":
            raise InvalidProblem(f"machines: {ids.tolist()!r} are not machine indices")
        ids = np.unique(ids.astype(np.int64))
        bad = ids[(ids < 0) | (ids >= w.m)]
        if len(bad) or w.retired[ids].any():
            j = int(bad[0]) if len(bad) else int(ids[w.retired[ids]][0])
            raise InvalidProblem(f"machines: {j} is not a machine of the cluster")
        return ids

    def _grow(
        self, w: _State, b: _Builder, name: str, k: int, req: np.ndarray, rev: int
    ) -> None:
        start = w.serial.get(name, 0)
        ids = [f"{name}-{start + t}" for t in range(k)]
        w.serial[name] = start + k
        w.append(ids, name, req, rev)
        vec = tuple(int(x) for x in req)
        for c in ids:
            b.new[c] = NewContainer(name, vec, rev)

    def _grow_many(self, w: _State, b: _Builder, batch: list[Service]) -> None:
        """Append the replicas of new services ``batch`` at once (vectorised)."""
        if not batch:
            return
        reps = np.array([s.replicas for s in batch], np.int64)
        reqs = np.array([s.request_vector(w.resources) for s in batch], np.int64)
        rows = np.repeat(np.arange(len(batch)), reps)
        ids = [f"{s.name}-{t}" for s in batch for t in range(s.replicas)]
        names = np.array([s.name for s in batch], dtype=object)
        w.ids = np.concatenate([w.ids, np.array(ids, dtype=object)])
        w.service = np.concatenate([w.service, names[rows]])
        w.requests = np.vstack([w.requests, reqs[rows]])
        w.revision = np.concatenate([w.revision, np.zeros(len(rows), np.int64)])
        w.where = np.concatenate([w.where, np.full(len(rows), -1, np.int64)])
        for s, vec in zip(batch, reqs, strict=True):
            w.serial[s.name] = s.replicas
            new = NewContainer(s.name, tuple(int(x) for x in vec), 0)
            for t in range(s.replicas):
                b.new[f"{s.name}-{t}"] = new

    def _compiled(self, w: _State) -> tuple[Problem, CompiledConstraints]:
        """The state as a Problem with its compiled rules, recompiled only when the
        containers, services or fleet change shape; a machine state change only
        refreshes the state-dependent parts (usable machines, spread domains), and
        replicas appended to existing services extend the committed state's
        compile."""
        entry = self._entry(w)
        return _restate(entry[2], entry[3], np.where(w.retired, DOWN, w.state))

    def _entry(self, w: _State) -> tuple[Any, ...]:
        """The cached (key, retired, problem, compiled, specs) of ``w``'s shape."""
        key = (w.ids, w.requests, w.capacity, tuple(w.specs.values()))
        hit = next(
            (
                e
                for e in self._cache
                if all(a is b for a, b in zip(e[0][:3], key[:3], strict=True))
                and len(e[0][3]) == len(key[3])
                and all(a is b for a, b in zip(e[0][3], key[3], strict=True))
                and np.array_equal(e[1], w.retired)
            ),
            None,
        )
        if hit is not None:
            self._cache = [hit, *(e for e in self._cache if e is not hit)][:2]
            return hit
        base = self._st
        if (
            w is not base
            and len(w.ids) > len(base.ids)
            and w.specs.keys() == base.specs.keys()
        ):
            parent = self._entry(base)
            hit = _extended(parent, w, key)
            if hit is not None:
                self._cache = [hit, parent]
                return hit
        view = w.copy()
        view.state = np.where(w.retired, DOWN, UP).astype(np.int8)
        problem = _problem(view, named=False, current=False)
        hit = (
            key,
            w.retired.copy(),
            problem,
            compile_constraints(problem),
            dict(w.specs),
        )
        self._cache = [hit, *self._cache[:1]]
        return hit

    def _order(self, w: _State, problem: Problem, todo: np.ndarray) -> np.ndarray:
        """Priority first, then the engine's size order; affinity dependants last."""
        from .engines.greedy import order_keys

        if not len(todo):
            return todo
        g = self._greedy
        if g.order == "none":
            size = np.zeros(problem.n)
        else:
            k = self._keys
            if (
                k is None
                or k[0] is not problem.requests
                or k[1] is not problem.capacity
            ):
                k = (problem.requests, problem.capacity, order_keys(problem, g.order))
                self._keys = k
            size = k[2]
        prio = problem.containers.priority[todo]
        aff = problem.containers.affinity
        dep = np.zeros(len(todo), bool)
        if aff is not None:
            dep = np.array(
                [aff[i] is not None and aff[i].service != w.service[i] for i in todo]
            )
        return todo[np.lexsort((todo, -size[todo], -prio, dep))]

    def _place(
        self,
        w: _State,
        problem: Problem,
        cc: CompiledConstraints,
        todo: np.ndarray,
        *,
        base: np.ndarray | None = None,
        held: np.ndarray | None = None,
        usable: np.ndarray | None = None,
        rule: tuple[str, str | None] | None = None,
    ) -> np.ndarray:
        """Greedy placement of ``todo`` around ``base`` (default: the state), as
        :func:`solver.engines.greedy.place_into` does; the kernel counters of the
        containers already placed are updated from the last call by their
        differences instead of being recounted."""
        from .engines.greedy import _pass

        g = self._greedy
        how, score = rule or (g.rule, g.score)
        a = w.where if base is None else base
        ok = ~w.retired if usable is None else usable & ~w.retired
        order = np.ascontiguousarray(
            self._order(w, problem, np.asarray(todo, np.int64)), np.int64
        )
        out = np.asarray(a, np.int32).copy()
        out[order] = -1
        self._loaded = _load_counters(self._loaded, problem, cc, out)
        residual, counts, at_total, quota_used = (
            x.copy() for x in self._loaded.counters
        )
        if held is not None:
            h = np.asarray(held, np.int64)
            rows = np.flatnonzero(h >= 0)
            extra = _counters_of(problem, cc, rows, h[rows])
            residual -= problem.capacity - extra[0]
            if len(rows):
                counts += np.where(_spread_slots(cc), 0, extra[1])
                at_total += extra[2]
        sp_min, sp_nmin = _spread_minima(cc, counts)
        ok = ok & (problem.machines.state == UP)
        used = (residual != problem.capacity).any(axis=1)
        used[out[out >= 0]] = True
        _pass(
            problem,
            cc,
            order,
            how,
            score,
            _nodes_to_score(self.candidates, w.m),
            False,
            residual,
            np.ascontiguousarray(ok),
            used,
            np.full(problem.n, -1, np.int32),
            (counts, sp_min, sp_nmin, at_total, quota_used),
            out,
            None,
        )
        return out.astype(np.int64)

    def _settle(
        self,
        w: _State,
        problem: Problem,
        cc: CompiledConstraints,
        movers: np.ndarray,
        make_before_break: bool,
        usable: np.ndarray | None = None,
        rule: tuple[str, str | None] | None = None,
        until: float | None = None,
    ) -> np.ndarray:
        """Targets for ``movers`` (running containers), -1 for those that stay.

        Placements are computed with the movers gone (the state after the step); those
        that find no room go back to their machines and the rest are placed again
        until nothing changes, so the end state keeps every rule. Past the
        ``time.perf_counter`` instant ``until`` every mover stays.
        """
        src = w.where[movers].copy()
        trying = np.ones(len(movers), bool)
        for _ in range(8):
            if until is not None and time.perf_counter() >= until:
                break
            base = w.where.copy()
            held = None
            if make_before_break:
                held = np.full(len(w.ids), -1, np.int64)
                held[movers[trying]] = src[trying]
            base[movers[trying]] = -1
            out = self._place(
                w,
                problem,
                cc,
                movers[trying],
                base=base,
                held=held,
                usable=usable,
                rule=rule,
            )
            failed = trying & (out[movers] < 0)
            if not failed.any():
                return np.where(trying, out[movers], -1)
            trying &= ~failed
            if not trying.any():
                break
        return np.full(len(movers), -1, np.int64)

    def _refill(
        self,
        w: _State,
        b: _Builder,
        reason: Mapping[Any, str],
        stops: list[Any] | None = None,
    ) -> None:
        """One step: re-place every container without a machine, repair the rules."""
        actions = list(stops or [])
        problem, cc = self._compiled(w)
        broken = _affinity_broken(w, cc)
        actions += [
            Stop(str(w.ids[i]), int(w.where[i]), "affinity lost") for i in broken
        ]
        was = w.where.copy()
        w.where[broken] = -1
        todo = np.flatnonzero(w.where < 0)
        out = self._place(w, problem, cc, todo)
        if self.preempt and (out[todo] < 0).any():
            out = self._preempt(w, b, problem, cc, out, todo, actions, was)
        fresh = set(todo.tolist())
        excess = np.array(_spread_excess(w, cc, out), np.int64)
        if len(excess):
            out = self._respread(w, problem, cc, out, excess, fresh, was, actions)
        for i in todo:
            if out[i] >= 0:
                why = reason.get(w.ids[i]) or "was pending"
                actions.append(Start(str(w.ids[i]), int(out[i]), why))
        w.where = out
        b.step(actions)

    def _respread(
        self,
        w: _State,
        problem: Problem,
        cc: CompiledConstraints,
        out: np.ndarray,
        excess: np.ndarray,
        fresh: set[int],
        was: np.ndarray,
        actions: list[Any],
    ) -> np.ndarray:
        """Move containers out of over-full spread domains (or stop them if no room)."""
        base = out.copy()
        base[excess] = -1
        held = np.full(len(w.ids), -1, np.int64)
        stayed = [i for i in excess if i not in fresh and out[i] == was[i]]
        held[stayed] = out[stayed]
        again = self._place(w, problem, cc, excess, base=base, held=held)
        for i in stayed:
            c, src, dst = str(w.ids[i]), int(was[i]), int(again[i])
            if dst < 0:
                actions.append(Stop(c, src, "spread kept"))
            elif dst != src:
                actions.append(Move(c, src, dst, "spread kept"))
        return again

    def _preempt(
        self,
        w: _State,
        b: _Builder,
        problem: Problem,
        cc: CompiledConstraints,
        out: np.ndarray,
        todo: np.ndarray,
        actions: list[Any],
        was: np.ndarray,
    ) -> np.ndarray:
        """Evict the fewest, lowest-priority containers of one machine for each
        unplaced higher-priority container; evicted ones are re-placed if they fit."""
        prio = problem.containers.priority
        protected = cc.sp_group >= 0
        targets = set(cc.at_service)
        if targets:
            protected |= np.isin(w.service, list(targets))
        evicted: list[int] = []
        waiting = [i for i in self._order(w, problem, todo) if out[i] < 0]
        for u in waiting:
            choice = _victims_for(w, cc, out, u, prio, protected)
            for j, victims in choice:
                trial = out.copy()
                trial[victims] = -1
                only = np.zeros(w.m, bool)
                only[j] = True
                got = self._place(
                    w, problem, cc, np.array([u]), base=trial, usable=only
                )
                if got[u] == j:
                    out = got
                    for v in victims:
                        evicted.append(v)
                        b.evicted.append((str(w.ids[v]), str(w.ids[u])))
                    protected[victims] = True
                    break
        if not evicted:
            return out
        rows = np.array(evicted, np.int64)
        again = self._place(w, problem, cc, rows, base=out)
        fresh = set(todo.tolist())
        for v, (_, by) in zip(evicted, b.evicted[-len(evicted) :], strict=True):
            if v in fresh:
                continue
            actions.append(Stop(str(w.ids[v]), int(was[v]), f"preempted by {by}"))
            if again[v] >= 0:
                actions.append(
                    Start(str(w.ids[v]), int(again[v]), "restarted after preemption")
                )
        return again

    def _evacuate(
        self,
        w: _State,
        b: _Builder,
        ids: np.ndarray,
        min_available: int | Mapping[str, int] | None,
        force: bool,
    ) -> dict[str, int]:
        """Move containers off ``ids`` (cordoned first); returns the budgets kept."""
        up = ids[w.state[ids] == UP]
        w.state[up] = CORDONED
        b.machine_states.update(dict.fromkeys(up.tolist(), CORDONED))
        problem, cc = self._compiled(w)
        movers = np.flatnonzero(np.isin(w.where, ids))
        if len(movers):
            targets = self._settle(w, problem, cc, movers, True)
            moved = targets >= 0
            b.step(
                [
                    Move(str(w.ids[i]), int(w.where[i]), int(t), "drain")
                    for i, t in zip(movers[moved], targets[moved], strict=True)
                ]
            )
            w.where[movers[moved]] = targets[moved]
            movers = movers[~moved]
        budgets: dict[str, int] = {}
        for name in {str(s) for s in w.service[movers]}:
            if isinstance(min_available, Mapping):
                limit = min_available.get(name, w.specs[name].min_available)
            elif min_available is not None:
                limit = int(min_available)
            else:
                limit = w.specs[name].min_available
            if limit is not None and not force:
                budgets[name] = int(limit)
        while len(movers):
            running = pd.Series(w.service[w.where >= 0]).value_counts()
            batch = []
            room: dict[str, float] = {}
            for i in movers:
                s = str(w.service[i])
                if s not in room:
                    room[s] = running.get(s, 0) - budgets.get(s, -math.inf)
                if room[s] >= 1:
                    room[s] -= 1
                    batch.append(i)
            if not batch:
                break
            rows = np.array(batch, np.int64)
            targets = self._settle(w, problem, cc, rows, False)
            moved = targets >= 0
            if not moved.any():
                if force:
                    actions = [
                        Stop(str(w.ids[i]), int(w.where[i]), "machine removed")
                        for i in rows
                    ]
                    w.where[rows] = -1
                    # the zone that lost them may now hold too few for the spread
                    excess = np.array(_spread_excess(w, cc, w.where), np.int64)
                    actions += [
                        Stop(str(w.ids[i]), int(w.where[i]), "spread kept")
                        for i in excess
                    ]
                    w.where[excess] = -1
                    b.step(actions)
                    movers = np.setdiff1d(movers, np.concatenate([rows, excess]))
                    continue
                break
            actions: list[Any] = []
            for i, t in zip(rows[moved], targets[moved], strict=True):
                actions.append(Stop(str(w.ids[i]), int(w.where[i]), "drain"))
                actions.append(Start(str(w.ids[i]), int(t), "drain (stop, then start)"))
            b.step(actions)
            w.where[rows[moved]] = targets[moved]
            movers = np.setdiff1d(movers, rows[moved])
        for i in movers:
            problem2, cc2 = self._compiled(w)
            trial = w.where.copy()
            trial[i] = -1
            trial = self._place(w, problem2, cc2, np.array([i]), base=trial)
            if trial[i] < 0:
                found = why_not(problem2, trial, cc2).get(int(i), {})
                text = "; ".join(f"{k}: {v}" for k, v in found.items())
                b.blocked[str(w.ids[i])] = f"no room elsewhere ({text})"
            else:
                b.blocked[str(w.ids[i])] = (
                    f"disruption budget of {w.service[i]!r} "
                    f"(min_available {budgets.get(str(w.service[i]))})"
                )
        return budgets

    def _refuse(
        self,
        w: _State,
        problem: Problem,
        cc: CompiledConstraints,
        name: str,
        fresh: list[int],
        surge: int,
        unavailable: int,
    ) -> None:
        """Explain why a rolling update cannot make progress and raise."""
        text = ""
        if fresh:
            trial = w.where.copy()
            found = why_not(problem, trial, cc).get(int(fresh[0]), {})
            text = "; ".join(f"{k}: {v} machines" for k, v in found.items())
        raise InvalidProblem(
            f"rolling_update {name!r} refused: no room to start a new replica "
            f"(max_surge {surge}, max_unavailable {unavailable}); a new replica "
            f"fits nowhere because {text or 'no machine is usable'}; allow "
            "max_unavailable or add machines"
        )


# ---------------------------------------------------------------- helpers


def _machines(
    machines: Machines | Any, resources: Resources | Sequence[str] | None, source: str
) -> Machines:
    """A Machines object from a Machines or a 2-D capacity array."""
    if isinstance(machines, Machines):
        return machines
    return Machines(machines, resources, source=source)


def _spec_of(c: Containers, i: int, name: str) -> Service:
    """The service spec container ``i`` of a Containers table implies."""

    def col(x: Any) -> Any:
        return None if x is None else x[i]

    return Service(
        name=name,
        replicas=1,
        requests=tuple(int(x) for x in c.requests[i]),
        namespace=str(c.namespace[i]),
        priority=int(c.priority[i]),
        node_selector=dict(col(c.node_selector) or {}),
        tolerations=c.tolerations_of(i),
        anti_affinity=col(c.anti_affinity),
        spread=col(c.spread),
        affinity=col(c.affinity),
    )


def _problem(w: _State, *, named: bool, current: bool) -> Problem:
    """The state as a Problem (retired machines count as down)."""
    names = list(w.specs)
    code = pd.Categorical(w.service, categories=names).codes.astype(np.int64)
    specs = [w.specs[s] for s in names]

    def column(values: list[Any]) -> Any:
        if all(v is None for v in values):
            return None
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr[code]

    tolerations = [frozenset(s.tolerations) for s in specs]
    mach = fleet(w, "cluster")
    cont = Containers(
        w.requests,
        w.resources,
        ids=w.ids if named else None,
        service=w.service,
        namespace=column([s.namespace for s in specs]) if specs else None,
        priority=np.array([s.priority for s in specs] or [0], np.int64)[code]
        if specs
        else None,
        node_selector=column([dict(s.node_selector) or None for s in specs]),
        tolerations=None if not any(tolerations) else column(tolerations),
        anti_affinity=column([s.anti_affinity for s in specs]),
        spread=column([s.spread for s in specs]),
        affinity=column([s.affinity for s in specs]),
        source="cluster",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Problem(mach, cont, current=w.where if current else None)


def _nodes_to_score(candidates: int | str | None, m: int) -> int | None:
    """Feasible machines to score per placement; ``"auto"`` is kube-scheduler's
    adaptive percentageOfNodesToScore (all below 100 machines, at least 5%)."""
    if candidates != "auto":
        return None if candidates is None else int(candidates)
    if m < 100:
        return None
    pct = max(5, 50 - m // 125)
    return max(100, m * pct // 100)


def _restate(
    problem: Problem, cc: CompiledConstraints, state: np.ndarray
) -> tuple[Problem, CompiledConstraints]:
    """``problem`` and ``cc`` (compiled with every live machine up) under the machine
    ``state``: eligibility and spread domains drop machines not up."""
    state = np.asarray(state, np.int8)
    if np.array_equal(problem.machines.state, state):
        return problem, cc
    mach = copy.copy(problem.machines)
    mach.state = state
    view = copy.copy(problem)
    view.machines = mach
    up = state == UP
    eligible = np.ascontiguousarray(cc.eligible & up[None, :])
    sp_valid = spread_domains(
        cc.sp_group, cc.sp_key, cc.sp_off, cc.sp_valid.shape[0], cc.eclass, eligible,
        cc.domain,
    )
    return view, replace(cc, eligible=eligible, sp_valid=sp_valid)


_ROW_FIELDS = (
    "eclass",
    "stay",
    "pin",
    "service_id",
    "aa_own_key",
    "sp_group",
    "af_group",
    "af_required",
    "af_self",
    "ns_id",
)


def _extended(entry: tuple[Any, ...], w: _State, key: tuple[Any, ...]) -> Any:
    """The compiled ``entry`` grown by replicas appended to its services since (their
    scheduling fields unchanged: each new row copies an old row of its service), or
    None when the state differs otherwise."""
    (ids0, req0, cap0, _), retired, problem, cc, specs = entry
    n0, n = len(ids0), len(w.ids)
    if cap0 is not w.capacity or n <= n0 or not np.array_equal(retired, w.retired):
        return None
    tail = w.service[n0:]
    added = set(tail.tolist())
    if set(specs) != set(w.specs):
        return None
    for name, spec in w.specs.items():
        old = specs[name]
        if spec is not old and (
            name not in added
            or any(getattr(spec, f) != getattr(old, f) for f in SCHEDULING_FIELDS)
        ):
            return None
    if not (
        np.array_equal(w.requests[:n0], req0)
        and np.array_equal(w.service[:n0], problem.containers.service)
    ):
        return None
    template = np.empty(n - n0, np.int64)
    for name in added:
        first = np.flatnonzero(problem.containers.service == name)
        if not len(first):
            return None
        template[tail == name] = first[0]
    cont = copy.copy(problem.containers)
    for attr, value in vars(cont).items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (n0,):
            setattr(cont, attr, np.concatenate([value, value[template]]))
        elif isinstance(value, tuple) and len(value) == n0:
            setattr(cont, attr, value + tuple(value[t] for t in template))
    cont.labels = {
        k: np.concatenate([v, v[template]])
        for k, v in problem.containers.labels.items()
    }
    cont.requests = w.requests
    cont.ids = np.arange(n, dtype=np.int64)
    grown = copy.copy(problem)
    grown.containers = cont
    rows = {
        f: np.concatenate([getattr(cc, f), getattr(cc, f)[template]])
        for f in _ROW_FIELDS
    }
    return key, w.retired.copy(), grown, replace(cc, **rows), dict(w.specs)


@dataclass
class _Loaded:
    """Kernel counters (residual, counts, at_total, quota_used) of the containers an
    assignment places, kept so the next placement only counts the differences."""

    token: tuple[Any, Any]  # (cc.domain, problem.requests): the layout counted
    where: np.ndarray  # int32[n] the assignment counted
    counters: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _counters_of(
    problem: Problem, cc: CompiledConstraints, rows: np.ndarray, machines: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(residual, counts, at_total, quota_used) with only ``rows`` on ``machines``."""
    from .engines.greedy import preload

    a = np.full(problem.n, -1, np.int64)
    a[rows] = machines
    residual, counts, _, _, at_total, quota_used = preload(problem, cc, a)
    return residual, counts, at_total, quota_used


def _load_counters(
    last: _Loaded | None, problem: Problem, cc: CompiledConstraints, where: np.ndarray
) -> _Loaded:
    """The kernel counters of ``where``: from ``last`` plus the containers that moved
    when few did under the same layout, else counted from scratch."""
    from .engines.greedy import preload

    token = (cc.domain, problem.requests)
    if (
        last is not None
        and last.token[0] is token[0]
        and last.token[1] is token[1]
        and len(last.where) == len(where)
    ):
        diff = np.flatnonzero(last.where != where)
        if len(diff) <= len(where) // 8:
            gone = diff[last.where[diff] >= 0]
            came = diff[where[diff] >= 0]
            old = _counters_of(problem, cc, gone, last.where[gone])
            new = _counters_of(problem, cc, came, where[came])
            residual, counts, at_total, quota_used = last.counters
            residual += new[0] - old[0]
            counts += new[1] - old[1]
            at_total += new[2] - old[2]
            quota_used += new[3] - old[3]
            last.where = where.copy()
            return last
    residual, counts, _, _, at_total, quota_used = preload(problem, cc, where)
    return _Loaded(token, where.copy(), (residual, counts, at_total, quota_used))


def _spread_slots(cc: CompiledConstraints) -> np.ndarray:
    """bool[n_counts]: the counter slots of spread groups."""
    out = np.zeros(cc.n_counts, bool)
    for o, k in zip(cc.sp_off, cc.sp_key, strict=True):
        out[int(o) : int(o + cc.n_domains[k])] = True
    return out


def _spread_minima(
    cc: CompiledConstraints, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per spread group: the smallest count over its valid domains and how many
    domains hold it."""
    sp_min = np.zeros(len(cc.sp_key), np.int64)
    sp_nmin = np.zeros(len(cc.sp_key), np.int64)
    for g, (o, k) in enumerate(zip(cc.sp_off, cc.sp_key, strict=True)):
        span = slice(int(o), int(o + cc.n_domains[k]))
        valid = counts[span][cc.sp_valid[span]]
        if len(valid):
            sp_min[g] = valid.min()
            sp_nmin[g] = int((valid == sp_min[g]).sum())
    return sp_min, sp_nmin


def _load(w: _State, rows: np.ndarray) -> np.ndarray:
    """int64[m, d] summed requests of containers ``rows`` on their machines."""
    out = np.zeros_like(w.capacity)
    for k in range(w.capacity.shape[1]):
        out[:, k] = np.bincount(w.where[rows], w.requests[rows, k], w.m).astype(
            np.int64
        )
    return out


def _fenceposts(
    name: str, replicas: int, surge: int | str, unavailable: int | str
) -> tuple[int, int]:
    """Kubernetes' resolution of max_surge (round up) and max_unavailable (down)."""

    def resolve(value: int | str, up: bool, field: str) -> int:
        if isinstance(value, str):
            text = value.strip()
            if not text.endswith("%"):
                raise InvalidProblem(
                    f"rolling_update {name!r}: {field} {value!r} is neither a count "
                    "nor a percentage like '25%'"
                )
            try:
                pct = float(text[:-1])
            except ValueError:
                raise InvalidProblem(
                    f"rolling_update {name!r}: {field} {value!r} is not a percentage"
                ) from None
            if pct < 0:
                raise InvalidProblem(f"rolling_update {name!r}: {field} must be >= 0")
            exact = replicas * pct / 100
            return int(math.ceil(exact - 1e-9) if up else math.floor(exact + 1e-9))
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or value < 0
        ):
            raise InvalidProblem(
                f"rolling_update {name!r}: {field} must be a count >= 0 or a percentage"
            )
        return int(value)

    s = resolve(surge, True, "max_surge")
    u = resolve(unavailable, False, "max_unavailable")
    if s == 0 and u == 0:
        if isinstance(surge, str) or isinstance(unavailable, str):
            u = 1  # as Kubernetes: percentages that both round to 0 allow one
        else:
            raise InvalidProblem(
                f"rolling_update {name!r}: max_surge and max_unavailable are both 0"
            )
    return s, min(u, replicas)


def _spread_counts(
    w: _State, cc: CompiledConstraints, where: np.ndarray, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """Placed counts per domain slot of spread group ``h`` and the valid-slot mask."""
    k = cc.sp_key[h]
    n_dom = int(cc.n_domains[k])
    rows = np.flatnonzero((cc.sp_group == h) & (where >= 0))
    counts = np.bincount(cc.domain[k, where[rows]], minlength=n_dom)
    valid = cc.sp_valid[cc.sp_off[h] : cc.sp_off[h] + n_dom]
    return counts, valid


def _pick_victims(
    w: _State,
    cc: CompiledConstraints,
    rows: np.ndarray,
    k: int,
    keep_spread: bool = False,
) -> np.ndarray:
    """Up to ``k`` of ``rows`` to stop: pending ones first, then from the fullest
    spread domains, newest first. With ``keep_spread`` a running container is only
    picked when the spread rule still holds without it (fewer than ``k`` may come)."""
    if k <= 0:
        return np.zeros(0, np.int64)
    rows = np.asarray(rows, np.int64)
    pending = rows[w.where[rows] < 0][::-1]
    chosen = list(pending[:k])
    left = [int(i) for i in rows[w.where[rows] >= 0][::-1]]
    where = w.where.copy()
    where[chosen] = -1
    while len(chosen) < k and left:
        pick = left[0]
        h = cc.sp_group[pick]
        if h >= 0:
            counts, valid = _spread_counts(w, cc, where, h)
            dom = cc.domain[cc.sp_key[h]]
            pick = max(
                left, key=lambda i: counts[dom[where[i]]] if cc.sp_group[i] == h else -1
            )
            if keep_spread and cc.sp_group[pick] == h and valid.any():
                after = counts.copy()
                after[dom[where[pick]]] -= 1
                if after.max() - after[valid].min() > cc.sp_skew[h]:
                    break
        chosen.append(pick)
        left.remove(pick)
        where[pick] = -1
    return np.array(chosen, np.int64)


def _affinity_broken(w: _State, cc: CompiledConstraints) -> np.ndarray:
    """Running containers whose required affinity no longer holds."""
    rows = np.flatnonzero((cc.af_group >= 0) & cc.af_required & (w.where >= 0))
    if not len(rows):
        return rows
    out = []
    names = np.asarray(w.service)
    for i in rows:
        g = cc.af_group[i]
        k = cc.at_key[g]
        x = cc.domain[k, w.where[i]]
        target = cc.at_service[g]
        others = (names == target) & (w.where >= 0)
        others[i] = False
        if x < 0:
            out.append(i)
            continue
        near = others & (cc.domain[k, np.maximum(w.where, 0)] == x)
        if not near.any() and not (cc.af_self[i] and not others.any()):
            out.append(i)
    return np.array(out, np.int64)


def _spread_excess(w: _State, cc: CompiledConstraints, out: np.ndarray) -> list[int]:
    """Containers to stop so every spread group keeps max - min <= max_skew."""
    stop: list[int] = []
    where = out.copy()
    for h in range(len(cc.sp_key)):
        k = cc.sp_key[h]
        dom = cc.domain[k]
        while True:
            counts, valid = _spread_counts(w, cc, where, h)
            if not valid.any():
                break
            low = counts[valid].min()
            rows = np.flatnonzero((cc.sp_group == h) & (where >= 0))
            if not len(rows):
                break
            top = counts[dom[where[rows]]]
            if top.max() - low <= cc.sp_skew[h]:
                break
            i = int(rows[np.argmax(top)])
            where[i] = -1
            stop.append(i)
    return stop


def _victims_for(
    w: _State,
    cc: CompiledConstraints,
    out: np.ndarray,
    u: int,
    prio: np.ndarray,
    protected: np.ndarray,
) -> list[tuple[int, np.ndarray]]:
    """Candidate (machine, victims) for container ``u``, fewest and cheapest first."""
    placed = np.flatnonzero(out >= 0)
    load = np.zeros_like(w.capacity)
    for k in range(w.capacity.shape[1]):
        load[:, k] = np.bincount(out[placed], w.requests[placed, k], w.m)
    need = w.requests[u] - (w.capacity - load)
    ok = cc.eligible[cc.eclass[u]] & ~w.retired
    cand = (out >= 0) & (prio < prio[u]) & ~protected
    rows = np.flatnonzero(cand)
    free = np.zeros_like(w.capacity)
    for k in range(w.capacity.shape[1]):
        free[:, k] = np.bincount(out[rows], w.requests[rows, k], w.m)
    machines = np.flatnonzero(ok & (free >= need).all(axis=1) & (need > 0).any(axis=1))
    options = []
    for j in machines[:256]:
        mine = rows[out[rows] == j]
        order = mine[np.lexsort((-w.requests[mine].sum(axis=1), prio[mine]))]
        freed = np.zeros(w.capacity.shape[1], np.int64)
        take = []
        for v in order:
            take.append(v)
            freed += w.requests[v]
            if (freed >= need[j]).all():
                break
        if (freed >= need[j]).all():
            options.append((len(take), int(prio[take].sum()), int(j), np.array(take)))
    options.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(j, v) for _, _, j, v in options[:8]]
