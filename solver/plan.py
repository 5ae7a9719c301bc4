"""Plans: what a cluster operation would do, as ordered steps of Start / Stop / Move.

A :class:`Plan` is returned by every :class:`~solver.cluster.Cluster` operation. It can
be inspected (``to_frame()``), checked against the cluster it was made for
(:meth:`Plan.verify`) and then committed with ``cluster.apply(plan)``.

Within one step, actions happen make-before-break: stops first, then starts and the new
copies of moves, then the old copies of moves stop. Capacity is checked at the fullest
point of a step, availability bounds at its emptiest point (after the stops).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import PlacementError
from .model import CORDONED, DOWN, STATES, Containers, Machines, Problem, Service

if TYPE_CHECKING:
    from .cluster import Cluster, _State


@dataclass(frozen=True)
class Start:
    """Start ``container`` on machine ``target``."""

    container: str
    target: int
    reason: str = ""
    source: int = -1
    kind: str = field(default="start", init=False)


@dataclass(frozen=True)
class Stop:
    """Stop ``container`` on ``source``; it leaves the cluster or waits pending."""

    container: str
    source: int
    reason: str = ""
    target: int = -1
    kind: str = field(default="stop", init=False)


@dataclass(frozen=True)
class Move:
    """Start a copy of ``container`` on ``target``, then stop the one on ``source``."""

    container: str
    source: int
    target: int
    reason: str = ""
    kind: str = field(default="move", init=False)


Action = Start | Stop | Move


@dataclass(frozen=True)
class Rollout:
    """Bounds of a rolling update: ``replicas``, ``max_surge``, ``max_unavailable``."""

    service: str
    replicas: int
    max_surge: int
    max_unavailable: int


@dataclass(frozen=True)
class NewContainer:
    """A container a plan creates: its service, requests and revision."""

    service: str
    requests: tuple[int, ...]
    revision: int = 0


@dataclass(frozen=True)
class Plan:
    """Ordered steps of actions that take a cluster from one state to the next.

    Attributes
    ----------
    operation : what asked for the plan, e.g. ``"fail"``, ``"rolling_update web"``.
    steps : tuple of steps, each a tuple of Start, Stop and Move actions.
    pending : container id -> why-not reasons ``{check: machines excluded}`` for every
        desired container left without a machine after the plan.
    evicted : ``(container, by)`` pairs: lower-priority containers stopped to make room
        for ``by`` (preemption).
    blocked : container id -> reason, for containers a drain had to leave in place
        because stopping them would break the service's disruption budget.
    machine_states : machine index -> new state (0 up, 1 cordoned, 2 down), effective
        before the first step.
    added : machines appended to the fleet before the first step, or None.
    removed_machines : machines retired after the last step (they must be empty).
    new : container id -> :class:`NewContainer` for the containers the plan creates.
    removed : ids of containers that leave the desired set (scale-in, old revisions).
    services : service name -> the :class:`~solver.model.Service` spec after the plan.
    rollout : the bounds every step of a rolling update keeps, or None.
    budgets : service -> min_available, kept after the stops of every step.
    machines_freed : machines running something before and nothing after.
    moves : containers that end on another machine than they started on.
    objective : ``(before, after)`` of a rebalance objective, or None.
    """

    operation: str
    base: int
    steps: tuple[tuple[Action, ...], ...] = ()
    pending: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    evicted: tuple[tuple[str, str], ...] = ()
    blocked: Mapping[str, str] = field(default_factory=dict)
    machine_states: Mapping[int, int] = field(default_factory=dict)
    added: Machines | None = None
    removed_machines: tuple[int, ...] = ()
    new: Mapping[str, NewContainer] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    services: Mapping[str, Service] = field(default_factory=dict)
    rollout: Rollout | None = None
    budgets: Mapping[str, int] = field(default_factory=dict)
    machines_freed: int = 0
    moves: int = 0
    objective: tuple[float, float] | None = None
    after: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if set(self.pending) & set(self.blocked):
            raise ValueError("a container cannot be both pending and blocked")

    @property
    def actions(self) -> list[Action]:
        """Every action of every step, in order."""
        return [a for step in self.steps for a in step]

    def summary(self) -> dict[str, object]:
        """The headline numbers as a plain dict."""
        kinds = [a.kind for a in self.actions]
        return {
            "operation": self.operation,
            "steps": len(self.steps),
            "starts": kinds.count("start"),
            "stops": kinds.count("stop"),
            "moves": kinds.count("move"),
            "pending": len(self.pending),
            "evicted": len(self.evicted),
            "blocked": len(self.blocked),
            "machines_freed": self.machines_freed,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per action (``step`` from 0), then per pending or blocked container.

        Columns: ``step, kind, container, source, target, reason``; pending rows have
        kind ``pending``, step -1 and the why-not counts spelled out in ``reason``.
        """
        rows = [
            (s, a.kind, a.container, a.source, a.target, a.reason)
            for s, step in enumerate(self.steps)
            for a in step
        ]
        rows += [
            (-1, "pending", c, -1, -1, _reasons_text(r))
            for c, r in self.pending.items()
        ]
        rows += [(-1, "blocked", c, -1, -1, r) for c, r in self.blocked.items()]
        frame = pd.DataFrame(
            rows, columns=["step", "kind", "container", "source", "target", "reason"]
        )
        return frame.astype({"step": np.int64, "source": np.int64, "target": np.int64})

    def verify(self, cluster_before: Cluster, *, constraints: bool = True) -> None:
        """Replay the steps on ``cluster_before``; PlacementError names a broken rule.

        Rules: the plan was made for this cluster state; every action refers to a
        container where it is; capacity is never exceeded (at the fullest point of each
        step); nothing runs on a down machine and nothing new starts on a cordoned one;
        rolling-update and disruption-budget bounds hold after the stops of every step
        and the surge bound at its fullest point; with ``constraints`` every hard rule
        holds after each step (:func:`solver.validate` on the state); at the end every
        desired container is running exactly once, or pending.
        """
        _Replay(self, cluster_before).run(constraints)


def _reasons_text(reasons: Mapping[str, int]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "no machines"


def fleet(snapshot: _State | _Replay, source: str) -> Machines:
    """The machines of a cluster state; retired ones count as down so indices stay."""
    state = snapshot.state.copy()
    state[snapshot.retired] = DOWN
    return Machines(
        snapshot.capacity,
        snapshot.resources,
        labels=snapshot.labels,
        taints=snapshot.taints,
        state=state,
        source=source,
    )


class _Replay:
    """Independent re-execution of a plan over plain dicts and numpy arrays."""

    def __init__(self, plan: Plan, cluster: Cluster) -> None:
        self.plan = plan
        snap = cluster.snapshot()
        if plan.base != snap["version"]:
            self.fail(
                -1,
                "stale plan",
                f"made for version {plan.base}, cluster is at {snap['version']}",
            )
        self.resources = snap["resources"]
        self.capacity = snap["capacity"]
        self.labels = dict(snap["labels"])
        self.taints = snap["taints"]
        self.state = snap["state"].copy()
        self.retired = snap["retired"].copy()
        self.services = dict(snap["services"])
        self.info: dict[str, tuple[str, np.ndarray, int]] = {
            c: (s, r, v)
            for c, s, r, v in zip(
                snap["ids"],
                snap["service"],
                snap["requests"],
                snap["revision"],
                strict=True,
            )
        }
        self.where: dict[str, int] = dict(zip(snap["ids"], snap["where"], strict=True))

    def fail(self, step: int, rule: str, message: str) -> None:
        where = "before the first step" if step < 0 else f"step {step}"
        raise PlacementError(
            f"plan {self.plan.operation!r}, {where}: {rule}: {message}"
        )

    def run(self, constraints: bool) -> None:
        plan = self.plan
        if plan.added is not None:
            self._add(plan.added)
        m = self.capacity.shape[0]
        for j, s in plan.machine_states.items():
            if not 0 <= j < m:
                self.fail(-1, "machine", f"machine {j} does not exist")
            self.state[j] = s
        self.services.update(plan.services)
        for c, spec in plan.new.items():
            if c in self.info:
                self.fail(-1, "duplicate", f"new container {c!r} already exists")
            self.info[c] = (
                spec.service,
                np.array(spec.requests, np.int64),
                spec.revision,
            )
            self.where[c] = -1
        for (
            c,
            j,
        ) in self.where.items():  # containers on machines that went down are lost
            if j >= 0 and self.state[j] == DOWN:
                self.where[c] = -1
        start_running = self._running_by_service()
        self.floor = {
            s: min(b, start_running.get(s, 0)) for s, b in plan.budgets.items()
        }
        if plan.rollout is not None:
            r = plan.rollout
            self.floor[r.service] = min(
                r.replicas - r.max_unavailable, start_running.get(r.service, 0)
            )
        for k, step in enumerate(plan.steps):
            self._step(k, step)
            if constraints:
                self._constraints(k)
        self._end()

    def _add(self, added: Machines) -> None:
        if added.resources.names != tuple(self.resources.names):
            self.fail(-1, "machines", "added machines have other resources")
        m0 = self.capacity.shape[0]
        self.capacity = np.vstack([self.capacity, added.capacity])
        for key in set(self.labels) | set(added.labels):
            old = self.labels.get(key, np.full(m0, None, dtype=object))
            new = added.labels.get(key, np.full(len(added), None, dtype=object))
            self.labels[key] = np.concatenate([old, new])
        if self.taints is not None or added.taints is not None:
            old = self.taints or (frozenset(),) * m0
            new = added.taints or (frozenset(),) * len(added)
            self.taints = tuple(old) + tuple(new)
        self.state = np.concatenate([self.state, added.state])
        self.retired = np.concatenate([self.retired, np.zeros(len(added), bool)])

    def _running_by_service(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c, j in self.where.items():
            if j >= 0:
                s = self.info[c][0]
                out[s] = out.get(s, 0) + 1
        return out

    def _load(self) -> np.ndarray:
        load = np.zeros_like(self.capacity)
        for c, j in self.where.items():
            if j >= 0:
                load[j] += self.info[c][1]
        return load

    def _step(self, k: int, step: tuple[Action, ...]) -> None:
        seen: dict[str, list[str]] = {}
        for a in step:
            if a.container not in self.info:
                self.fail(k, "unknown container", repr(a.container))
            kinds = seen.setdefault(a.container, [])
            kinds.append(a.kind)
            if len(kinds) > 1 and sorted(kinds) != ["start", "stop"]:
                self.fail(k, "duplicate", f"container {a.container!r} acts twice")
        m = self.capacity.shape[0]
        for a in step:
            if a.kind == "stop":
                if self.where[a.container] != a.source or a.source < 0:
                    self.fail(
                        k, "stop", f"{a.container!r} is not running on {a.source}"
                    )
                self.where[a.container] = -1
        running = self._running_by_service()
        for s, low in self.floor.items():
            if running.get(s, 0) < low:
                bound = "max_unavailable" if self.plan.rollout else "disruption budget"
                self.fail(
                    k,
                    bound,
                    f"service {s!r} has {running.get(s, 0)} available, needs {low}",
                )
        load = self._load()
        old_copies = []
        for a in step:
            if a.kind == "stop":
                continue
            j = a.target
            if not 0 <= j < m:
                self.fail(k, a.kind, f"{a.container!r}: no machine {j}")
            if self.state[j] != 0 or self.retired[j]:
                self.fail(
                    k,
                    "machine state",
                    f"{a.container!r} starts on {STATES[self.state[j]]} machine {j}",
                )
            if a.kind == "start":
                if self.where[a.container] >= 0:
                    self.fail(
                        k,
                        "duplicate",
                        f"{a.container!r} starts but runs on {self.where[a.container]}",
                    )
            else:
                if self.where[a.container] != a.source or a.source == j:
                    self.fail(k, "move", f"{a.container!r} is not on {a.source}")
                old_copies.append(a)
            load[j] += self.info[a.container][1]
        over = np.argwhere(load > self.capacity)
        if len(over):
            j, d = over[0]
            self.fail(
                k,
                "capacity",
                f"machine {j}, {self.resources.names[d]}: {load[j, d]} > "
                f"{self.capacity[j, d]} at the fullest point",
            )
        for a in step:
            if a.kind != "stop":
                self.where[a.container] = a.target
        if self.plan.rollout is not None:
            r = self.plan.rollout
            total = self._running_by_service().get(r.service, 0)
            if total > r.replicas + r.max_surge:
                self.fail(
                    k,
                    "max_surge",
                    f"{r.service!r} runs {total} > {r.replicas} + {r.max_surge}",
                )
        for c, j in self.where.items():
            if j >= 0 and self.state[j] == DOWN:
                self.fail(k, "down machine", f"{c!r} runs on down machine {j}")

    def _problem(self) -> tuple[Problem, np.ndarray]:
        ids = list(self.where)
        svc = [self.info[c][0] for c in ids]
        specs = [self.services[s] for s in svc]
        req = np.array([self.info[c][1] for c in ids], np.int64).reshape(
            len(ids), len(self.resources)
        )
        cont = Containers(
            req,
            self.resources,
            ids=np.array(ids, dtype=object),
            service=svc,
            namespace=[sp.namespace for sp in specs],
            priority=[sp.priority for sp in specs],
            node_selector=[dict(sp.node_selector) or None for sp in specs],
            tolerations=[frozenset(sp.tolerations) for sp in specs],
            anti_affinity=[sp.anti_affinity for sp in specs],
            spread=[sp.spread for sp in specs],
            affinity=[sp.affinity for sp in specs],
            source="plan replay",
        )
        mach = fleet(self, "plan replay")
        a = np.array([self.where[c] for c in ids], np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problem = Problem(
                mach,
                cont,
                current=np.where(mach.state[a] == CORDONED, a, -1) if len(a) else None,
            )
        return problem, a

    def _constraints(self, k: int) -> None:
        from .placement import Placement, validate

        if not self.where:
            return
        problem, a = self._problem()
        reasons = {int(i): {"pending": 1} for i in np.flatnonzero(a < 0)}
        placement = Placement(
            assignment=a, engine="plan", status="partial", reasons=reasons
        )
        try:
            validate(problem, placement)
        except PlacementError as exc:
            self.fail(k, "constraints", str(exc))

    def _end(self) -> None:
        plan = self.plan
        last = len(plan.steps)
        for c in plan.removed:
            if c not in self.info:
                self.fail(last, "removed", f"unknown container {c!r}")
            if self.where[c] >= 0:
                self.fail(last, "removed", f"{c!r} leaves but still runs")
        for c, j in self.where.items():
            if c in plan.removed:
                continue
            if j < 0 and c not in plan.pending:
                self.fail(last, "lost", f"{c!r} neither runs nor is pending")
            if j >= 0 and c in plan.pending:
                self.fail(last, "pending", f"{c!r} is pending but runs on {j}")
        for c in plan.blocked:
            if self.where.get(c, -1) < 0:
                self.fail(last, "blocked", f"{c!r} is blocked but does not run")
        for j in plan.removed_machines:
            busy = [c for c, x in self.where.items() if x == j]
            if busy:
                self.fail(
                    last, "remove machines", f"machine {j} still runs {busy[0]!r}"
                )
