"""The ``lns`` engine: large neighbourhood search with CP-SAT over a greedy placement.

For instances too large for one exact model (10k to 1M containers). Starting from the
best greedy placement, each step frees a neighbourhood of a few machines (a nearly empty
machine plus machines with slack, a random set, or the machines of one service), and
re-solves those containers on those machines with the assignment model, everything else
fixed; an improvement (fewer machines there, or less load on the machine being drained)
is kept. It stops at the time limit, after ``iterations`` steps, or at the lower bound.
With ``workers=1`` and ``iterations`` set, every sub-solve has a deterministic time
budget and the run is reproducible for a seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from ..errors import InvalidProblem
from ..explain import why_not
from ..model import Problem
from ..placement import Placement, Status
from . import register
from ._cpsat_model import build_model, extract
from .cpsat import best_hint, lower_bound, solve_model

KINDS = ("slack", "random", "service")


@dataclass
class _State:
    """The incumbent: assignment, per-machine load and containers."""

    assignment: np.ndarray  # int64 (n,)
    load: np.ndarray  # float64 (m,), requests / capacity summed over dimensions
    members: list[list[int]]  # containers on each machine

    @classmethod
    def of(cls, problem: Problem, assignment: np.ndarray) -> _State:
        a = np.asarray(assignment, np.int64).copy()
        placed = np.flatnonzero(a >= 0)
        cap = problem.capacity.astype(np.float64)
        cap[cap == 0] = 1.0
        share = (problem.requests[placed] / cap[a[placed]]).sum(axis=1)
        load = np.zeros(problem.m)
        np.add.at(load, a[placed], share)
        order = placed[np.argsort(a[placed], kind="stable")]
        cuts = np.searchsorted(a[order], np.arange(problem.m + 1))
        members = [order[cuts[m] : cuts[m + 1]].tolist() for m in range(problem.m)]
        return cls(a, load, members)

    @property
    def used(self) -> int:
        return int(sum(1 for c in self.members if c))

    def move(self, problem: Problem, containers: np.ndarray, new: np.ndarray) -> None:
        """Apply ``new[containers]`` and update loads and member lists."""
        touched = set(self.assignment[containers].tolist()) | set(
            new[containers].tolist()
        )
        touched.discard(-1)
        self.assignment[containers] = new[containers]
        for m in touched:
            self.members[m] = []
        for i in containers.tolist():
            m = int(self.assignment[i])
            if m >= 0:
                self.members[m].append(i)
        for m in touched:
            self.load[m] = float(_norm(problem, self.members[m], m))


def _norm(problem: Problem, containers: list[int], m: int) -> float:
    """Load of ``containers`` on machine ``m`` as a sum of fractions of its capacity."""
    if not containers:
        return 0.0
    cap = problem.capacity[m].astype(np.float64)
    cap[cap == 0] = 1.0
    return float((problem.requests[containers].sum(axis=0) / cap).sum())


@dataclass
class LnsEngine:
    """CP-SAT large neighbourhood search; see the module docstring."""

    time_limit: float | None = 60.0
    workers: int = 1
    seed: int = 0
    progress: Callable[[str], None] | None = None
    iterations: int | None = None
    neighbourhood: int = 60
    sub_time_limit: float = 0.1
    hints: tuple[str, ...] = ("ffd",)
    objective: str = "min-machines"
    name: str = "lns"

    def __post_init__(self) -> None:
        if self.objective != "min-machines":
            raise InvalidProblem(
                f"lns engine: option objective={self.objective!r}; lns minimises "
                "machines (use the cpsat engine for max-placed or min-moves)"
            )
        if self.neighbourhood < 2:
            raise InvalidProblem("lns engine: option neighbourhood must be at least 2")
        if self.iterations is not None and self.iterations < 0:
            raise InvalidProblem("lns engine: option iterations must be >= 0")
        if self.workers < 0 or self.sub_time_limit <= 0:
            raise InvalidProblem(
                "lns engine: workers >= 0 and sub_time_limit > 0 needed"
            )

    def solve(
        self, problem: Problem, *, time_limit: float | None = None, seed: int = 0
    ) -> Placement:
        """Improve the best greedy placement, one neighbourhood at a time."""
        start = time.perf_counter()
        limit = self.time_limit if time_limit is None else time_limit
        seed = seed or self.seed
        rng = np.random.default_rng(seed)
        hint = best_hint(problem, self.hints, seed)
        start_assignment = (
            np.full(problem.n, -1, np.int64) if hint is None else hint.assignment
        )
        state = _State.of(problem, start_assignment)
        bound = lower_bound(problem)
        services = _services(problem)
        it = 0
        last_report = start
        while problem.n and state.used > bound:
            if self.iterations is not None:
                if it >= self.iterations:
                    break
            elif limit is not None and time.perf_counter() - start >= limit:
                break
            kind = KINDS[it % (3 if services else 2)]
            machines, drain = self._neighbourhood(problem, state, rng, kind, services)
            if machines.size >= 2:
                self._improve(problem, state, machines, drain, seed + it, limit, start)
            it += 1
            now = time.perf_counter()
            if self.progress is not None and now - last_report >= 1.0:
                last_report = now
                self.progress(
                    f"lns: {now - start:.0f}s {state.used} machines "
                    f"(bound {bound}), {it} neighbourhoods"
                )
        a = state.assignment
        reasons = why_not(problem, a)
        used = state.used
        status = Status.OPTIMAL if used <= bound and not reasons else Status.FEASIBLE
        if reasons:
            status = Status.PARTIAL
        return Placement(
            assignment=a,
            engine=self.name,
            status=status,
            seconds=time.perf_counter() - start,
            objective=used,
            bound=bound,
            reasons=reasons,
            options={
                "time_limit": limit,
                "workers": self.workers,
                "iterations": it,
                "neighbourhood": self.neighbourhood,
            },
        )

    def _neighbourhood(
        self,
        problem: Problem,
        state: _State,
        rng: np.random.Generator,
        kind: str,
        services: list[np.ndarray],
    ) -> tuple[np.ndarray, int]:
        """Machines to re-solve and the one to drain."""
        used = np.flatnonzero(np.fromiter((bool(c) for c in state.members), bool))
        if used.size < 2:
            return used, -1
        load = state.load[used]
        if kind == "service":
            svc = services[int(rng.integers(len(services)))]
            pool = np.unique(state.assignment[svc])
            pool = pool[pool >= 0]
            drain = int(pool[np.argmin(state.load[pool])]) if pool.size else -1
        elif kind == "slack":
            emptiest = np.argsort(load, kind="stable")[: 3 * self.neighbourhood]
            pool = used[emptiest]
            drain = int(pool[rng.integers(min(pool.size, 5))])
        else:
            few = used[np.argsort(load, kind="stable")[: max(2, used.size // 10)]]
            drain = int(few[rng.integers(few.size)])
            pool = used
        if drain < 0:
            return np.empty(0, np.int64), -1
        chosen = [drain]
        total = len(state.members[drain])
        slack = np.maximum(0.0, problem.d - state.load[pool]) + 1e-3
        picks = rng.choice(
            pool.size,
            size=min(pool.size, 4 * self.neighbourhood),
            replace=False,
            p=slack / slack.sum() if kind == "slack" else None,
        )
        for m in pool[picks].tolist():
            if total >= self.neighbourhood:
                break
            if m != drain:
                chosen.append(m)
                total += len(state.members[m])
        return np.asarray(sorted(chosen), np.int64), drain

    def _improve(
        self,
        problem: Problem,
        state: _State,
        machines: np.ndarray,
        drain: int,
        seed: int,
        limit: float | None,
        start: float,
    ) -> None:
        """Re-solve the containers of ``machines`` there; keep the result if better."""
        free = np.asarray(
            sorted(i for m in machines.tolist() for i in state.members[m]), np.int64
        )
        model, mv = build_model(
            problem,
            free=free,
            machines=machines,
            base=state.assignment,
            hint=state.assignment,
            drain=drain,
            symmetry=False,
        )
        wall = None
        if self.iterations is None:
            left = None if limit is None else limit - (time.perf_counter() - start)
            wall = 10 * self.sub_time_limit
            wall = wall if left is None else min(wall, left)
            if wall <= 0:
                return
        solver, status = solve_model(
            model,
            time_limit=wall,
            workers=self.workers,
            seed=seed,
            deterministic_limit=self.sub_time_limit,
            label="lns",
        )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return
        new = extract(solver, mv, problem, state.assignment)
        before = _score(problem, state.assignment, free, drain)
        after = _score(problem, new, free, drain)
        if after < before:
            state.move(problem, free, new)


def _score(
    problem: Problem, assignment: np.ndarray, free: np.ndarray, drain: int
) -> tuple[int, int, float]:
    """(unplaced, machines used, load on the drained machine) of the freed ones."""
    a = assignment[free]
    on_drain = free[a == drain].tolist()
    return (
        int((a < 0).sum()),
        int(np.unique(a[a >= 0]).shape[0]),
        _norm(problem, on_drain, drain) if drain >= 0 else 0.0,
    )


def _services(problem: Problem) -> list[np.ndarray]:
    """Container indices of each service that has at least two containers."""
    if problem.n == 0:
        return []
    _, inverse, counts = np.unique(
        problem.containers.service.astype(str), return_inverse=True, return_counts=True
    )
    if counts.size <= 1:
        return []
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    parts = np.split(order, np.cumsum(counts)[:-1])
    return [p for p in parts if p.size >= 2]


register("lns", LnsEngine)
