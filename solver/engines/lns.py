"""The ``lns`` engine: large neighbourhood search with CP-SAT over a greedy placement.

For instances too large for one exact model (10k to 1M containers). It starts from the
best greedy placement among ``hints`` (tried in order until ``hint_share`` of the time
limit is spent).

Without placement rules (plain vector packing) most of the work is a compiled local
search: each attempt takes the least filled of ``pick`` random machines, moves its
containers into the free room of other machines (tightest fit first, swapping out a
smaller container when one fits nowhere, see ``_lns_kernels``), and when the machine
cannot be emptied keeps only the moves that leave it lighter. It is far more productive
per second than CP-SAT on 100k containers. When a round of ``kernel_attempts`` attempts
frees no machine, one CP-SAT step follows.

A CP-SAT step picks a machine to drain (one of the least loaded) and a few machines
whose free capacity complements its load, frees every container on them and re-solves
those containers on those machines, everything else fixed. The sub-model asks for
strictly less load on the drained machine than now and stops at its first such
solution, so a step is cheap; repeated steps concentrate free capacity on the drained
machine until it empties. Without placement rules the sub-model is a small vector
packing model over kinds of containers; with rules it is the full assignment model of
the neighbourhood (and the only kind of step). Every move keeps the placement valid.

It stops at the time limit, after ``iterations`` steps (a kernel round or a CP-SAT
step), or at the lower bound. With ``workers=1`` and ``iterations`` set, every step is
deterministic and the run is reproducible for a seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from ..errors import InvalidProblem
from ..explain import why_not
from ..model import UP, Problem
from ..placement import Placement, Status
from . import register
from ._cpsat_model import assign_devices, build_model, extract
from ._lns_kernels import empty_machines, link
from .cpsat import best_hint, lower_bound, solve_model

KINDS = ("complement", "cover", "complement", "random")
_SCALE = 1000  # a container asking a whole machine weighs 1000 per dimension
_TABU = 3  # failed steps in a row before a machine rests as drain candidate
_REST = 50  # steps a machine rests


@dataclass
class _State:
    """The incumbent: assignment, per-machine loads and containers."""

    assignment: np.ndarray  # int64 (n,)
    load: np.ndarray  # int64 (m, d), requests summed per machine
    members: list[list[int]]  # containers on each machine

    @classmethod
    def of(cls, problem: Problem, assignment: np.ndarray) -> _State:
        a = np.asarray(assignment, np.int64).copy()
        placed = np.flatnonzero(a >= 0)
        load = np.zeros((problem.m, problem.d), np.int64)
        np.add.at(load, a[placed], problem.requests[placed])
        order = placed[np.argsort(a[placed], kind="stable")]
        cuts = np.searchsorted(a[order], np.arange(problem.m + 1))
        members = [order[cuts[m] : cuts[m + 1]].tolist() for m in range(problem.m)]
        return cls(a, load, members)

    @property
    def used(self) -> int:
        return int(sum(1 for c in self.members if c))

    def free(self, machines: np.ndarray, movable: np.ndarray) -> np.ndarray:
        """Movable containers on ``machines``, sorted: what a sub-solve may place."""
        free = np.asarray(
            sorted(i for m in machines.tolist() for i in self.members[m]), np.int64
        )
        return free[movable[free]]

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
            rows = self.members[m]
            self.load[m] = problem.requests[rows].sum(axis=0) if rows else 0


class _Flat:
    """The incumbent in the flat arrays the machine-emptying kernel works on."""

    def __init__(
        self, problem: Problem, assignment: np.ndarray, movable: np.ndarray, seed: int
    ) -> None:
        n, m = problem.n, problem.m
        self.req = np.ascontiguousarray(problem.requests, np.int64)
        self.cap = np.ascontiguousarray(problem.capacity, np.int64)
        self.target = np.ascontiguousarray(problem.machines.state == UP)
        self.movable = np.ascontiguousarray(movable, np.bool_)
        # sizes weigh each dimension by its utilisation: scarce dimensions count most
        top = np.maximum(self.cap.max(axis=0), 1).astype(np.float64)
        use = self.req.sum(axis=0) / (top * max(1, m))
        self.inv = np.ascontiguousarray(use / max(float(use.max()), 1e-12) / top)
        self.size = np.ascontiguousarray(self.req @ self.inv)
        self.head = np.empty(m, np.int64)
        self.count = np.empty(m, np.int64)
        self.nxt = np.empty(n, np.int64)
        self.prv = np.empty(n, np.int64)
        self.tabu = np.zeros(m, np.int64)
        self.rng = np.array([(seed * 0x9E3779B97F4A7C15 + 1) % 2**64 or 1], np.uint64)
        self.done = 0
        self.reset(assignment)

    def reset(self, assignment: np.ndarray) -> None:
        """Take ``assignment`` as the incumbent."""
        self.assign = np.ascontiguousarray(assignment, np.int64).copy()
        self.load = np.zeros_like(self.cap)
        placed = self.assign >= 0
        np.add.at(self.load, self.assign[placed], self.req[placed])
        link(self.assign, self.cap.shape[0], self.head, self.nxt, self.prv, self.count)

    @property
    def used(self) -> int:
        """Machines holding at least one container."""
        return int(np.count_nonzero(self.count))

    def run(self, attempts: int, max_eject: int, span: int, pick: int = 0) -> int:
        """``attempts`` machine-emptying attempts; machines emptied."""
        span = min(span, self.cap.shape[0])
        out = empty_machines(
            self.req, self.cap, self.target, self.movable, self.size, self.inv,
            self.assign, self.load, self.head, self.nxt, self.prv, self.count,
            self.tabu, self.rng, attempts, max_eject, span, pick, self.done,
        )
        self.done += attempts
        return int(out)


@dataclass
class LnsEngine:
    """CP-SAT large neighbourhood search; see the module docstring."""

    time_limit: float | None = 60.0
    workers: int = 1
    seed: int = 0
    progress: Callable[[str], None] | None = None
    iterations: int | None = None
    neighbourhood: int = 100
    sub_time_limit: float = 0.01
    hints: tuple[str, ...] = ("ffd",)
    hint_share: float = 0.3
    kernel_attempts: int = 200
    max_eject: int = 100
    span: int = 400
    pick: int = 4
    objective: str = "min-machines"
    cover_room: float = 1.5
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
        if min(self.kernel_attempts, self.max_eject, self.pick) < 0 or self.span < 1:
            raise InvalidProblem(
                "lns engine: kernel_attempts, max_eject, pick >= 0 and span >= 1 "
                "needed"
            )
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
        # greedy starts are tried in order until a share of the time limit is spent
        deadline = None
        if self.iterations is None and limit is not None:
            deadline = start + self.hint_share * limit
        hint = best_hint(problem, self.hints, seed, deadline)
        start_assignment = (
            np.full(problem.n, -1, np.int64) if hint is None else hint.assignment
        )
        state = _State.of(problem, start_assignment)
        bound = lower_bound(problem)
        plain = not problem.has_constraints
        # containers asking GPU devices keep their machine (their devices stay put)
        movable = np.ones(problem.n, bool)
        if problem.containers.asks_gpus:
            cont = problem.containers
            movable = (cont.num_gpu == 0) & (cont.gpu_milli == 0)
        if problem.pinned is not None:
            movable &= ~np.asarray(problem.pinned, bool)
        flat = None
        if plain and self.kernel_attempts and problem.n:
            flat = _Flat(problem, state.assignment, movable, seed)
        fails = np.zeros(problem.m, np.int64)
        rest = np.zeros(problem.m, np.int64)
        it = improved = 0
        self._last_report = start
        while problem.n:
            if (flat.used if flat is not None else state.used) <= bound:
                break
            if self.iterations is not None:
                if it >= self.iterations:
                    break
            elif limit is not None and time.perf_counter() - start >= limit:
                break
            if flat is not None:
                before = flat.used
                flat.run(self.kernel_attempts, self.max_eject, self.span, self.pick)
                if flat.used < before:
                    improved += 1
                    it += 1
                    self._report(start, flat.used, bound, it)
                    continue
                # the kernel stalled: one CP-SAT step from its incumbent
                state = _State.of(problem, flat.assign)
            kind = KINDS[it % len(KINDS)]
            machines, drain = self._neighbourhood(
                problem, state, rng, kind, rest, it, movable
            )
            ok = False
            if machines.size >= 2:
                step = self._improve_plain if plain else self._improve
                ok = step(problem, state, machines, drain, seed + it, limit, start,
                          movable)
            if drain >= 0:
                fails[drain] = 0 if ok else fails[drain] + 1
                if fails[drain] >= _TABU:
                    rest[drain] = it + _REST
                    fails[drain] = 0
            improved += ok
            it += 1
            if flat is not None and ok:
                flat.reset(state.assignment)
            self._report(start, state.used, bound, it)
        if flat is not None:
            state = _State.of(problem, flat.assign)
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
            devices=assign_devices(problem, a),
            options={
                "time_limit": limit,
                "workers": self.workers,
                "iterations": it,
                "improvements": improved,
                "neighbourhood": self.neighbourhood,
            },
        )

    def _report(self, start: float, used: int, bound: int, it: int) -> None:
        """A progress line at most once a second."""
        now = time.perf_counter()
        if self.progress is not None and now - self._last_report >= 1.0:
            self._last_report = now
            self.progress(
                f"lns: {now - start:.0f}s {used} machines (bound {bound}), "
                f"{it} steps"
            )

    def _neighbourhood(
        self,
        problem: Problem,
        state: _State,
        rng: np.random.Generator,
        kind: str,
        rest: np.ndarray,
        it: int,
        movable: np.ndarray,
    ) -> tuple[np.ndarray, int]:
        """A machine to drain and machines whose free room complements its load.

        The drain is the least loaded machine not resting (summed over dimensions, so
        it stays the drain while it empties); the others are
        drawn among the machines with the most room in the dimensions the drain uses
        (``complement``) or uniformly (``random``), until about ``neighbourhood``
        containers are freed.
        """
        used = np.flatnonzero(np.fromiter((bool(c) for c in state.members), bool))
        if used.size < 2:
            return used, -1
        if kind == "cover":
            return self._cover(problem, state, rng, used), -1
        cap = np.maximum(problem.capacity[used], 1)
        fill = (state.load[used] * _SCALE // cap).sum(axis=1)
        awake = rest[used] <= it
        candidates = used[awake] if awake.any() else used
        cfill = fill[awake] if awake.any() else fill
        # the emptiest machine stays the drain while steps keep emptying it
        drain = int(candidates[np.argmin(cfill)])
        drain_load = state.load[drain]
        room = np.maximum(problem.capacity[used] - state.load[used], 0)
        useful = (np.minimum(room, drain_load) * _SCALE // cap).sum(axis=1)
        useful[used == drain] = -1
        if kind == "complement":
            width = 4 * max(2, self.neighbourhood // 8)
            top = np.argsort(-useful, kind="stable")[:width]
            top = top[useful[top] > 0]
            weight = useful[top].astype(np.float64) + 1.0
            picks = top[rng.choice(top.size, size=top.size, replace=False,
                                   p=weight / weight.sum())] if top.size else top
        else:
            picks = rng.permutation(used.size)
        chosen = [drain]
        total = len(state.members[drain])
        for t in picks.tolist():
            m = int(used[t])
            if m == drain:
                continue
            size = len(state.members[m])
            if total + size > self.neighbourhood and len(chosen) > 1:
                break
            chosen.append(m)
            total += size
        return np.asarray(sorted(chosen), np.int64), drain

    def _cover(
        self,
        problem: Problem,
        state: _State,
        rng: np.random.Generator,
        used: np.ndarray,
    ) -> np.ndarray:
        """Machines whose free room adds up to a whole machine in every dimension.

        Only then can their containers fit on one machine fewer. Machines are added
        one at a time, each the candidate (a random sample plus those with the most
        room in the dimension still short) that raises the shortest dimension most.
        """
        cap = np.maximum(problem.capacity[used], 1)
        room = np.maximum(problem.capacity[used] - state.load[used], 0) * _SCALE // cap
        sizes = np.fromiter((len(state.members[m]) for m in used), np.int64, used.size)
        first = int(rng.integers(used.size))
        chosen = [first]
        have = room[first].copy()
        total = int(sizes[first])
        sample = rng.choice(used.size, size=min(used.size, 256), replace=False)
        target = int(_SCALE * self.cover_room)
        while (have < target).any() and len(chosen) < used.size:
            short = int(np.argmin(have))
            best_room = np.argsort(-room[:, short], kind="stable")[:64]
            cand = np.setdiff1d(np.concatenate([sample, best_room]), chosen)
            cand = cand[total + sizes[cand] <= self.neighbourhood]
            if not cand.size:
                break
            gain = np.minimum(have + room[cand], target).min(axis=1)
            pick = int(cand[np.argmax(gain)])
            chosen.append(pick)
            have += room[pick]
            total += int(sizes[pick])
        if (have < _SCALE).any():
            return np.empty(0, np.int64)
        return np.asarray(sorted(used[chosen].tolist()), np.int64)

    def _budget(self, limit: float | None, start: float) -> float | None:
        """Wall-clock cap of one sub-solve (None when iterations make runs exact)."""
        if self.iterations is not None:
            return None
        left = None if limit is None else limit - (time.perf_counter() - start)
        wall = 10 * self.sub_time_limit
        return wall if left is None else min(wall, left)

    def _improve_plain(
        self,
        problem: Problem,
        state: _State,
        machines: np.ndarray,
        drain: int,
        seed: int,
        limit: float | None,
        start: float,
        movable: np.ndarray,
    ) -> bool:
        """Vector packing sub-model: less load on ``drain``, first such solution."""
        free = state.free(machines, movable)
        wall = self._budget(limit, start)
        if wall is not None and wall <= 0:
            return False
        req = problem.requests[free]
        room = problem.capacity[machines] - state.load[machines]
        room += req_sum_by(machines, state.assignment[free], req)
        kinds, inverse, counts = np.unique(
            req, axis=0, return_inverse=True, return_counts=True
        )
        inverse = inverse.reshape(-1)
        model = cp_model.CpModel()
        # ub[g, j]: copies of kind g that fit machine j on their own
        big = np.iinfo(np.int64).max
        per = np.where(
            kinds[:, None, :] > 0,
            room[None, :, :] // np.maximum(kinds[:, None, :], 1),
            big,
        ).min(axis=2)
        ub = np.minimum(per, counts[:, None])
        x = {}
        by_machine: list[list[int]] = [[] for _ in range(machines.size)]
        for g, j in zip(*np.nonzero(ub > 0), strict=True):
            g, j = int(g), int(j)
            x[g, j] = model.new_int_var(0, int(ub[g, j]), f"x[{g},{machines[j]}]")
            by_machine[j].append(g)
        rows: list[list[cp_model.IntVar]] = [[] for _ in range(kinds.shape[0])]
        for (g, _), var in x.items():
            rows[g].append(var)
        for g, row in enumerate(rows):
            model.add(cp_model.LinearExpr.sum(row) == int(counts[g]))
        on = [model.new_bool_var(f"used[{m}]") for m in machines.tolist()]
        for j, gs in enumerate(by_machine):
            if not gs:
                continue
            xs = [x[g, j] for g in gs]
            for k in range(problem.d):
                coef = kinds[gs, k].tolist()
                model.add(
                    cp_model.LinearExpr.weighted_sum(xs, coef)
                    <= int(room[j, k]) * on[j]
                )
        if drain < 0:
            # one machine fewer; the first (symmetric) solution is kept
            model.add(sum(on) <= machines.size - 1)
        else:
            j_drain = int(np.searchsorted(machines, drain))
            scale = np.maximum(problem.capacity[drain], 1)
            weight = np.maximum(1, (kinds * _SCALE // scale).sum(axis=1))
            now = np.bincount(
                inverse[state.assignment[free] == drain], minlength=kinds.shape[0]
            )
            on_drain = sum(
                int(weight[g]) * x[g, j_drain]
                for g in range(kinds.shape[0])
                if (g, j_drain) in x
            )
            model.add(on_drain <= int((weight * now).sum()) - 1)
            model.minimize(on_drain)
        here = np.searchsorted(machines, state.assignment[free])
        hinted = np.zeros((kinds.shape[0], machines.size), np.int64)
        np.add.at(hinted, (inverse, here), 1)
        for (g, j), var in x.items():
            model.add_hint(var, int(hinted[g, j]))
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = max(1, self.workers)
        params.random_seed = int(seed)
        params.max_deterministic_time = self.sub_time_limit * (5 if drain < 0 else 1)
        params.stop_after_first_solution = True
        # draining: a few dozen variables, presolve costs more than it saves
        params.cp_model_presolve = drain < 0
        if wall is not None:
            params.max_time_in_seconds = max(0.01, wall)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        new = state.assignment.copy()
        slots: dict[int, list[int]] = {}
        for (g, j), var in x.items():
            slots.setdefault(g, []).extend([int(machines[j])] * solver.value(var))
        for g in range(kinds.shape[0]):
            new[free[inverse == g]] = slots[g]
        # keep containers where they were when the kind count allows it
        new[free] = _stay_where_possible(state.assignment[free], new[free], inverse)
        state.move(problem, free, new)
        return True

    def _improve(
        self,
        problem: Problem,
        state: _State,
        machines: np.ndarray,
        drain: int,
        seed: int,
        limit: float | None,
        start: float,
        movable: np.ndarray,
    ) -> bool:
        """Assignment model of the neighbourhood (placement rules); keep if better."""
        free = state.free(machines, movable)
        model, mv = build_model(
            problem,
            free=free,
            machines=machines,
            base=state.assignment,
            hint=state.assignment,
            drain=drain,
            symmetry=False,
        )
        wall = self._budget(limit, start)
        if wall is not None and wall <= 0:
            return False
        solver, status = solve_model(
            model,
            time_limit=wall,
            workers=max(1, self.workers),
            seed=seed,
            deterministic_limit=self.sub_time_limit,
            label="lns",
        )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        new = extract(solver, mv, problem, state.assignment)
        before = _score(problem, state.assignment, free, drain)
        after = _score(problem, new, free, drain)
        if after < before:
            state.move(problem, free, new)
            return True
        return False


def req_sum_by(machines: np.ndarray, where: np.ndarray, req: np.ndarray) -> np.ndarray:
    """Requests of ``req`` summed per entry of ``machines`` (by ``where``)."""
    out = np.zeros((machines.size, req.shape[1]), np.int64)
    np.add.at(out, np.searchsorted(machines, where), req)
    return out


def _stay_where_possible(
    old: np.ndarray, new: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Same multiset of machines per kind as ``new``, with unmoved containers kept."""
    out = new.copy()
    for g in np.unique(kind).tolist():
        idx = np.flatnonzero(kind == g)
        slots = list(new[idx])
        keep = np.zeros(idx.size, bool)
        for t, i in enumerate(idx.tolist()):
            if old[i] in slots:
                slots.remove(old[i])
                keep[t] = True
        out[idx[keep]] = old[idx[keep]]
        out[idx[~keep]] = slots
    return out


def _score(
    problem: Problem, assignment: np.ndarray, free: np.ndarray, drain: int
) -> tuple[int, int, float]:
    """(unplaced, machines used, load on the drained machine) of the freed ones."""
    a = assignment[free]
    on_drain = free[a == drain]
    load = 0.0
    if drain >= 0 and on_drain.size:
        cap = np.maximum(problem.capacity[drain], 1)
        load = float((problem.requests[on_drain].sum(axis=0) / cap).sum())
    return (int((a < 0).sum()), int(np.unique(a[a >= 0]).shape[0]), load)


register("lns", LnsEngine)
