"""The ``cpsat`` engine: an exact CP-SAT model with three objectives.

``min-machines`` (default) packs every container on the fewest machines, ``max-placed``
places the most priority-weighted containers when not everything fits (then uses the
fewest machines), ``min-moves`` repairs a current assignment with the fewest moves. The
model (``_cpsat_model``) aggregates identical containers into integer counts, breaks
symmetry between identical machines (and fixes a clique of pairwise conflicting
containers on distinct machines), starts from the best greedy placement and is cut by
the lower bound; it encodes GPU devices (shares and whole devices per device) and
fills ``Placement.devices``. Bin and vector packing on identical machines go to the
arc-flow formulation first, then the assignment model continues from its packing and
bound. Every phase runs within the time limit. The engine never returns anything worse
than its greedy start.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from ..errors import InvalidProblem, PlacementError
from ..explain import why_not
from ..model import DOWN, Problem
from ..placement import Placement, Status
from . import _vbp, _vbp_bound, register
from ._cpsat_model import (
    OBJECTIVES,
    ModelVars,
    assign_devices,
    build_model,
    extract,
    extract_devices,
)

HINT_ENGINES = ("ffd", "bfd", "dot", "k8s-most")
#: Share of the time left that the arc-flow model gets before the assignment model
#: when its graph is larger than the assignment model.
ARCFLOW_SHARE = 1 / 3
#: Seconds the assignment model needs per variable to be built (Python), so that it
#: is skipped when the time left would not even cover building it.
_BUILD_SECONDS_PER_VAR = 2e-4
#: Share of the time limit the vector packing pool search may take before the
#: exact models (it stops earlier at the lower bound or when it stalls), and the
#: share when the arc-flow graph is small.
VBP_SHARE = 0.8
VBP_SHARE_SMALL = 0.2
#: Share of the time limit by which the search stops at the latest (the exact model
#: keeps the rest).
VBP_SEARCH_END = 0.95
#: Share of the time limit by which the column generation bound of vector packing
#: stops (it stops earlier once it proves the packing in hand optimal).
VBP_LP_SHARE = 0.6
#: Container types times dimensions above which the LP is left out (it does not
#: settle in time on many types in many dimensions).
VBP_LP_SIZE_MAX = 6000
#: Share of the time limit by which the LP bound stops when it runs in a thread of
#: its own beside the pool search (the engine has two or more workers): it then
#: takes no time from the search.
VBP_LP_SHARE_BESIDE = 0.8
#: Share of the pool search's time kept for dives from the LP solution.
VBP_DIVE = 0.2
#: Share of the time limit for the first dives, right after the LP (at most a third
#: of the time left).
VBP_DIVE_FIRST = 0.2
#: Share of the time limit for price-and-branch at the LP bound after that dive.
VBP_PRICING = 0.35
#: Longest the arc-flow graph may take to build when measuring it, in seconds and as a
#: share of the time left.
ESTIMATE_SECONDS = 5.0
ESTIMATE_SHARE = 0.25
FORMULATIONS = ("auto", "assignment", "arcflow")
MOVE_WEIGHTS = ("count", "size")
_LOG_LINE = re.compile(r"^#(\w+)\s+([\d.]+)s\s+best:(\S+)\s+next:\[([^,\]]*)")
_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.UNKNOWN: Status.UNKNOWN,
}


@dataclass
class Solved:
    """A raw CP-SAT outcome in problem terms, before it becomes a Placement."""

    assignment: np.ndarray | None
    status: Status
    objective: float | None
    bound: float | None
    devices: np.ndarray | None = None  # GPU devices chosen by the model


def lower_bound(problem: Problem) -> int:
    """Machines any complete placement needs: the project bound, else a volume bound."""
    try:
        from ..bounds import lower_bound as project_bound
    except ImportError:
        project_bound = None
    up = problem.machines.state != DOWN
    demand = problem.requests.sum(axis=0)
    best = 0
    for k in range(problem.d):
        if demand[k] == 0:
            continue
        cum = np.cumsum(np.sort(problem.capacity[up, k])[::-1])
        best = max(best, int(np.searchsorted(cum, demand[k])) + 1)
    if project_bound is not None:
        best = max(best, int(project_bound(problem)))
    return best


def best_hint(
    problem: Problem,
    engines: tuple[str, ...],
    seed: int = 0,
    deadline: float | None = None,
) -> Placement | None:
    """The best placement among the greedy ``engines`` that exist (most placed, fewest
    machines); None when none of them is available. Past ``deadline`` (a
    ``time.perf_counter`` instant) no further engine is tried. With GPU asks, a
    placement whose devices cannot be packed ranks last."""
    from . import names, place

    known = set(names())
    best = None
    for name in engines:
        if name not in known:
            continue
        if best is not None and deadline is not None and time.perf_counter() > deadline:
            break
        pl = place(problem, engine=name, seed=seed, check=False)
        devices_ok = not problem.containers.asks_gpus or (
            assign_devices(problem, pl.assignment) is not None
        )
        key = (
            not devices_ok,
            _unplaced_weight(problem, pl.assignment),
            pl.machines_used,
        )
        if best is None or key < best[0]:
            best = (key, pl)
    return None if best is None else best[1]


def _unplaced_weight(problem: Problem, assignment: np.ndarray) -> int:
    """Priority-weighted count of unplaced containers (weights start at 1)."""
    prio = problem.containers.priority
    low = int(prio.min()) if problem.n else 0
    return int((prio[assignment < 0] - low + 1).sum())


def _moves(problem: Problem, assignment: np.ndarray, mv: ModelVars | None) -> int:
    """Weighted number of containers whose machine differs from the current one."""
    cur = problem.current
    moved = (cur >= 0) & (assignment != cur)
    if mv is None:
        return int(moved.sum())
    weight = np.ones(problem.n, np.int64)
    for g, members in enumerate(mv.groups):
        weight[members] = mv.placed_weight[g]
    return int(weight[moved].sum())


class _Progress:
    """Turns CP-SAT log lines into one-line progress messages."""

    def __init__(self, sink: Callable[[str], None], label: str) -> None:
        self.sink = sink
        self.label = label

    def __call__(self, line: str) -> None:
        match = _LOG_LINE.match(line)
        if match:
            kind, seconds, best, nxt = match.groups()
            self.sink(
                f"{self.label}: {seconds}s best {best} bound {nxt or best} ({kind})"
            )


def solve_model(
    model: cp_model.CpModel,
    *,
    time_limit: float | None,
    workers: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
    deterministic_limit: float | None = None,
    label: str = "cpsat",
) -> tuple[cp_model.CpSolver, int]:
    """Run CP-SAT with the engine's parameters; returns the solver and its status."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    if time_limit is not None:
        params.max_time_in_seconds = max(0.01, float(time_limit))
    if deterministic_limit is not None:
        params.max_deterministic_time = float(deterministic_limit)
    params.num_workers = int(workers)
    params.random_seed = int(seed)
    if progress is not None:
        params.log_search_progress = True
        params.log_to_stdout = False
        solver.log_callback = _Progress(progress, label)
    status = solver.solve(model)
    return solver, status


def _arcflow_size(
    problem: Problem, max_arcs: int | None = None, seconds: float = ESTIMATE_SECONDS
) -> int | None:
    """Size of the arc-flow graph when that formulation applies, else None (also when
    the graph would exceed ``max_arcs`` or take over ``seconds`` to build, which keeps
    the estimate itself cheap)."""
    try:
        from .arcflow import arcflow_size_estimate
    except ImportError:
        return None
    if max_arcs is None:
        return arcflow_size_estimate(problem, seconds=seconds)
    return arcflow_size_estimate(problem, max_arcs=max_arcs, seconds=seconds)


def _dives_due(lp: _vbp_bound.LPBound, lb: int) -> bool:
    """The LP points to a packing at the bound ``lb``: it is solved, or the clock
    cut it where its master already rounds up to ``lb`` (its bound proves ``lb``
    all the same, and its solution is as good a start for dives)."""
    solved = bool(lp.values.any())  # (a master solve at all)
    return lp.optimal or (solved and _vbp_bound.machines(float(lp.values.sum())) <= lb)


def choose_formulation(
    problem: Problem,
    assignment_size: int,
    formulation: str,
    time_left: float | None = None,
) -> tuple[str, float]:
    """The formulation to start with and the share of the time left it gets.

    Arc-flow where it applies: its packing heuristics and LP bound settle most
    instances within a fraction of a second. It gets all the time when its graph is
    smaller than the assignment model, a third otherwise (few large items per
    machine, where the assignment model tends to be stronger); the assignment model
    then goes on from its packing and bound. One-dimensional packings whose graph is
    beyond the engine's budget get all the time: the engine then runs without the
    graph (the assignment model would not prove them either). Building the
    graph to measure it takes at most ``ESTIMATE_SHARE`` of ``time_left`` (and
    ``ESTIMATE_SECONDS``).
    """
    if formulation == "assignment":
        return "assignment", 0.0
    # a graph several times the assignment model is not worth building; the cap also
    # bounds the time the estimate (construction and compression) takes
    budget = None if formulation == "arcflow" else max(100_000, 5 * assignment_size)
    seconds = ESTIMATE_SECONDS
    if time_left is not None:
        seconds = min(seconds, ESTIMATE_SHARE * time_left)
    size = _arcflow_size(problem, budget, seconds)
    from .colgen import applies as graph_free

    if size is None and graph_free(problem):
        # column generation with knapsack pricing gives the arc-flow bound
        return "arcflow", 1.0
    if size is None:
        if formulation == "arcflow":
            raise InvalidProblem(
                f"{problem.name or 'problem'}: the arc-flow formulation does not apply "
                "(it needs identical machines and no placement rules)"
            )
        return "assignment", 0.0
    if formulation == "arcflow" or size < assignment_size:
        return "arcflow", 1.0
    return "arcflow", ARCFLOW_SHARE


def _solve_arcflow(
    problem: Problem,
    time_limit: float | None,
    workers: int,
    seed: int,
    hint: np.ndarray | None,
) -> Solved | None:
    """The arc-flow formulation's result, or None when it gives up on ``problem``."""
    from .arcflow import solve_arcflow

    res = solve_arcflow(
        problem,
        time_limit=10.0 if time_limit is None else time_limit,
        workers=max(1, workers),
        seed=seed,
        hint=hint,
    )
    if res is None:
        return None
    found = res.objective is not None
    return Solved(
        np.asarray(res.assignment, np.int64) if found else None,
        Status(res.status),
        res.objective,
        res.bound,
    )


@dataclass
class CpsatEngine:
    """Exact CP-SAT engine; see the module docstring for the objectives."""

    objective: str = "min-machines"
    time_limit: float | None = 10.0
    workers: int = 0
    seed: int = 0
    progress: Callable[[str], None] | None = None
    max_machines: int | None = None
    move_weight: str = "count"
    formulation: str = "auto"
    hints: tuple[str, ...] = HINT_ENGINES
    name: str = "cpsat"

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.objective, OBJECTIVES, "objective"),
            (self.move_weight, MOVE_WEIGHTS, "move_weight"),
            (self.formulation, FORMULATIONS, "formulation"),
        ):
            if value not in allowed:
                raise InvalidProblem(
                    f"cpsat engine: option {what}={value!r}; "
                    f"use one of {', '.join(allowed)}"
                )
        if self.workers < 0:
            raise InvalidProblem(
                "cpsat engine: option workers must be >= 0 (0 = all cores)"
            )
        if self.time_limit is not None and self.time_limit <= 0:
            raise InvalidProblem("cpsat engine: option time_limit must be positive")

    def options(self) -> dict[str, object]:
        """Options as recorded on the Placement."""
        return {
            "objective": self.objective,
            "time_limit": self.time_limit,
            "workers": self.workers,
            "max_machines": self.max_machines,
            "move_weight": self.move_weight,
            "formulation": self.formulation,
        }

    def solve(
        self, problem: Problem, *, time_limit: float | None = None, seed: int = 0
    ) -> Placement:
        """Place ``problem`` under this engine's objective; the result is never worse
        than the best greedy start."""
        start = time.perf_counter()
        limit = self.time_limit if time_limit is None else time_limit
        seed = seed or self.seed
        if self.objective == "min-moves":
            solved = self._min_moves(problem, limit, seed, start)
        else:
            solved = self._pack(problem, self.objective, limit, seed, start)
        assignment = solved.assignment
        devices = solved.devices
        if assignment is None:
            assignment = np.full(problem.n, -1, np.int64)
            reasons = {i: {"time limit": problem.m} for i in range(problem.n)}
        else:
            if devices is None and problem.containers.asks_gpus:
                devices = assign_devices(problem, assignment)
            reasons = why_not(problem, assignment, devices=devices)
        status = solved.status
        if status is Status.FEASIBLE and reasons:
            status = Status.PARTIAL
        return Placement(
            devices=devices,
            assignment=assignment,
            engine=self.name,
            status=status,
            seconds=time.perf_counter() - start,
            objective=solved.objective,
            bound=solved.bound,
            reasons=reasons,
            options=self.options(),
        )

    def _threads(self) -> int:
        """Threads the engine may use (``workers``; 0: every core)."""
        return self.workers or os.cpu_count() or 1

    def _remaining(self, limit: float | None, start: float) -> float | None:
        """Seconds left of ``limit`` (at least a token amount), None without limit."""
        return (
            None if limit is None else max(0.05, limit - (time.perf_counter() - start))
        )

    def _pack(
        self,
        problem: Problem,
        objective: str,
        limit: float | None,
        seed: int,
        start: float,
    ) -> Solved:
        """min-machines or max-placed, every phase within ``limit`` from ``start``.

        Greedy starts (at most a fifth of the budget), then for one-dimensional or
        vector packing on identical machines the arc-flow model with part of the
        budget, then the assignment model with the time left, cut by the best bound
        so far and hinted with the best packing so far.
        """
        if problem.n == 0:
            return Solved(np.zeros(0, np.int64), Status.OPTIMAL, 0, 0)
        deadline = None if limit is None else start + limit
        soft = None if limit is None else start + 0.2 * limit
        hint_pl = best_hint(problem, self.hints, seed, soft)
        hint = None if hint_pl is None else np.asarray(hint_pl.assignment, np.int64)
        cp_hint = hint
        if (
            hint is not None
            and problem.containers.asks_gpus
            and assign_devices(problem, hint) is None
        ):
            hint = None  # a hint for the search, not a placement to return
        complete = hint is not None and bool((hint >= 0).all())
        lb = lower_bound(problem) if objective == "min-machines" else 0
        hint_used = hint_pl.machines_used if complete else problem.n
        chosen = None
        if complete and objective == "min-machines" and _vbp.applies(problem):
            hint, lb, chosen = self._vector_packing(
                problem, hint, lb, limit, seed, start
            )
            hint_used = int(np.unique(hint).shape[0])
            cp_hint = hint
        if complete and objective == "min-machines" and hint_used <= lb:
            return Solved(hint, Status.OPTIMAL, hint_used, hint_used)
        hint_weight = None if hint is None else _unplaced_weight(problem, hint)
        cap = hint_used if complete and objective == "min-machines" else problem.n

        if objective == "min-machines":
            n_types = np.unique(problem.requests, axis=0).shape[0]
            size = n_types * min(problem.m, cap)
            first, share = chosen or choose_formulation(
                problem, size, self.formulation, self._remaining(limit, start)
            )
            if first == "arcflow":
                left = self._remaining(limit, start)
                solved = _solve_arcflow(
                    problem,
                    None if left is None else share * left,
                    self.workers,
                    seed,
                    hint if complete else None,
                )
                if solved is not None:
                    solved = self._not_worse(problem, solved, hint, complete, lb)
                    if (
                        solved.status is Status.OPTIMAL
                        or self.formulation == "arcflow"
                        or solved.assignment is None
                    ):
                        return solved
                    left = self._remaining(limit, start)
                    if left is not None and left < 0.5 + _BUILD_SECONDS_PER_VAR * size:
                        return solved
                    # the assignment model goes on from the arc-flow packing and bound
                    lb = max(lb, int(solved.bound or 0))
                    hint = cp_hint = solved.assignment
                    cap = int(np.unique(hint).shape[0])
                    complete = True

        left = self._remaining(limit, start)
        n_types = np.unique(problem.requests, axis=0).shape[0]
        if (
            hint is not None
            and left is not None
            and left < 0.2 + _BUILD_SECONDS_PER_VAR * n_types * min(problem.m, cap)
        ):
            # no time to build the model, let alone solve it: the best start stands
            if objective == "max-placed":
                return Solved(hint, Status.FEASIBLE, hint_weight, None)
            return self._not_worse(
                problem, Solved(None, Status.UNKNOWN, None, lb), hint, complete, lb
            )
        model, mv = build_model(
            problem, objective=objective, hint=cp_hint, lower_bound=lb, machine_cap=cap
        )
        left = None if deadline is None else deadline - time.perf_counter() - 0.05
        if left is not None and left <= 0.01:
            solver, status = None, cp_model.UNKNOWN
        else:
            solver, status = solve_model(
                model,
                time_limit=left,
                workers=self.workers,
                seed=seed,
                progress=self.progress,
            )
        if status == cp_model.MODEL_INVALID:
            raise PlacementError(f"cpsat: invalid model ({model.validate()})")
        if status == cp_model.INFEASIBLE and objective == "min-machines":
            fallback = self._pack(problem, "max-placed", limit, seed, start)
            return replace(
                fallback, status=Status.INFEASIBLE, objective=None, bound=None
            )
        if objective == "max-placed":
            return self._max_placed_result(
                problem, solver, status, mv, hint, hint_weight
            )
        solved = Solved(None, _STATUS[status], None, None)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solved.assignment = extract(solver, mv, problem, None)
            solved.devices = extract_devices(solver, mv, problem, solved.assignment)
            solved.objective = round(solver.objective_value)
        if status != cp_model.INFEASIBLE:
            solved.bound = max(lb, mv.clique)
            if solver is not None:
                cp_bound = int(np.ceil(solver.best_objective_bound - 1e-6))
                solved.bound = max(solved.bound, cp_bound)
        return self._not_worse(problem, solved, hint, complete, lb)

    def _vector_packing(
        self,
        problem: Problem,
        hint: np.ndarray,
        lb: int,
        limit: float | None,
        seed: int,
        start: float,
    ) -> tuple[np.ndarray, int, tuple[str, float] | None]:
        """Plain vector packing: the vector bound (conflicts, dual feasible functions)
        and the column generation LP bound, then bin-centric packings and the pool
        search improve on the greedy start; returns the packing, the bound and the
        formulation chosen for what follows (None if not yet chosen).

        The search gets ``VBP_SHARE`` of the time after the LP (up to
        ``VBP_SEARCH_END`` of the limit), ``VBP_SHARE_SMALL`` from the start when the
        arc-flow graph is small (the exact model then tends to settle the instance),
        all of it when building the assignment model would take half the time left.
        """
        from .. import bounds

        lb = max(lb, bounds.vector_bound(problem))
        best = _vbp.constructive(problem)
        if best is None or np.unique(best).shape[0] >= np.unique(hint).shape[0]:
            best = hint
        used = int(np.unique(best).shape[0])
        if used <= lb:
            return np.asarray(best, np.int64), lb, None
        total = 30.0 if limit is None else limit
        n_types = np.unique(problem.requests, axis=0).shape[0]
        lp = None
        if n_types * problem.d <= VBP_LP_SIZE_MAX:
            if self._threads() > 1:
                best, lp = _vbp.search_beside_lp(
                    problem,
                    best,
                    lb,
                    start + VBP_LP_SHARE_BESIDE * total,
                    seed,
                    start + VBP_SEARCH_END * total,
                )
                used = int(np.unique(best).shape[0])
            else:
                lp = _vbp_bound.column_generation(
                    problem.requests,
                    problem.machines.capacity[0],
                    np.asarray(best, np.int64),
                    deadline=start + VBP_LP_SHARE * total,
                    target=used,
                )
            lb = max(lb, _vbp_bound.machines(lp.bound))
        beside = None
        if lp is not None and _dives_due(lp, lb) and used > lb and self._threads() > 1:
            # dives with other seeds in a second thread until the search ends
            beside = _vbp.DivesBeside(
                problem, lp, lb, start + VBP_SEARCH_END * total, seed
            )
        try:
            return self._pack_from_lp(
                problem, best, lb, lp, beside, n_types, limit, seed, start
            )
        finally:
            if beside is not None:
                beside.close()

    def _pack_from_lp(
        self,
        problem: Problem,
        best: np.ndarray,
        lb: int,
        lp: _vbp_bound.LPBound | None,
        beside: _vbp.DivesBeside | None,
        n_types: int,
        limit: float | None,
        seed: int,
        start: float,
    ) -> tuple[np.ndarray, int, tuple[str, float] | None]:
        """Vector packing after the bounds: dives on the LP, price-and-branch at
        the bound, then the pool search (left out after a solved LP with no dives
        beside) and more dives, each phase skipped once ``beside`` (dives in another
        thread) packs into ``lb`` machines; ``n_types``: distinct container
        requests."""
        used = int(np.unique(best).shape[0])
        total = 30.0 if limit is None else limit

        def settled() -> bool:
            nonlocal best, used
            if beside is not None and beside.found():
                best = beside.packing
                used = int(np.unique(best).shape[0])
            return used <= lb

        diver = None
        if lp is not None and used > lb:
            diver = _vbp_bound.Diver(lp, problem.machines.capacity[0])
        if diver is not None and _dives_due(lp, lb) and not settled():
            # dives on the LP, re-solved as contents are fixed; pool search for the rest
            now = time.perf_counter()
            # (at most a third of what is left: the pool search needs time too)
            until = now + min(VBP_DIVE_FIRST * total, (start + total - now) / 3)
            found = _vbp.lp_dives(problem, lp, diver, lb, until, seed)
            best = best if found is None else found
            used = int(np.unique(best).shape[0])
        if lp is not None and not settled():
            # the patterns within the gap under the LP's duals: a packing at the
            # bound, or (a complete listing without one) a proof of one machine more
            from .arcflow import packing_from_duals

            found, too_few = packing_from_duals(
                problem,
                lp.types,
                lp.duals,
                lb,
                min(
                    time.perf_counter() + VBP_PRICING * total,
                    start + VBP_SEARCH_END * total,
                ),
                seed,
            )
            if found is not None:
                best, used = found, int(np.unique(found).shape[0])
            lb += int(too_few)
        if settled():
            return np.asarray(best, np.int64), lb, None
        chosen = choose_formulation(
            problem,
            n_types * min(problem.m, used),
            self.formulation,
            self._remaining(limit, start),
        )
        small = chosen == ("arcflow", 1.0)
        budget = (VBP_SHARE_SMALL if small else VBP_SHARE) * total
        end = start + budget
        if not small:
            # the LP's time comes out of the exact model's share, not the search's
            end = min(time.perf_counter() + budget, start + VBP_SEARCH_END * total)
        attempts = _vbp.ATTEMPTS
        build = _BUILD_SECONDS_PER_VAR * n_types * min(problem.m, used)
        if chosen[0] == "assignment" and build > (1 - VBP_SHARE) * total / 2:
            # building the assignment model would leave it next to no time to solve:
            # the search keeps trying until the limit, nothing else would use it
            budget = total - 0.1
            end = start + budget
            attempts = None
        dives = 0.0 if lp is None else VBP_DIVE * budget
        stop = None if beside is None else beside.found
        # With the LP solved and no dives beside, the time goes to dives restarted
        # after Luby's lengths instead of the pool search, whose packings were
        # needed only where the clock cut the LP short.
        restart = beside is None and diver is not None and lp.optimal
        if not restart:
            best = _vbp.improve(problem, best, lb, end - dives, seed, attempts, stop)
        used = int(np.unique(best).shape[0])
        tries = 0
        while lp is not None and not settled() and time.perf_counter() < end:
            # other roundings of the LP solution, and dives when it is optimal
            if diver is not None and tries % 2:
                until = _vbp.restart_deadline(tries // 2 + 1, end) if restart else end
                found = _vbp.lp_dives(
                    problem, lp, diver, used - 1, until, seed + tries, 2, stop
                )
            else:
                found = _vbp.dive(
                    problem,
                    lp.columns,
                    lp.values,
                    lp.kind,
                    used - 1,
                    end,
                    seed + tries,
                    min(0.1 * tries, 0.5),
                    stop,
                )
            tries += 1
            if found is not None:
                best, used = found, int(np.unique(found).shape[0])
        settled()
        return np.asarray(best, np.int64), lb, chosen

    def _not_worse(
        self,
        problem: Problem,
        solved: Solved,
        hint: np.ndarray | None,
        complete: bool,
        lb: int,
    ) -> Solved:
        """min-machines: keep the greedy start unless the solve is as good or better."""
        bound = max(lb, int(solved.bound or 0))
        if complete:
            hint_used = int(np.unique(hint).shape[0])
            if solved.assignment is None or (solved.objective or np.inf) > hint_used:
                status = Status.OPTIMAL if hint_used <= bound else Status.FEASIBLE
                return Solved(hint, status, hint_used, bound)
        if solved.assignment is not None:
            used = int(np.unique(solved.assignment).shape[0])
            status = Status.OPTIMAL if used <= bound else Status.FEASIBLE
            return replace(solved, status=status, objective=used, bound=bound)
        if hint is not None and solved.status is not Status.INFEASIBLE:
            return Solved(hint, Status.FEASIBLE, None, bound)
        return replace(
            solved, bound=bound if solved.status is not Status.INFEASIBLE else None
        )

    def _max_placed_result(
        self,
        problem: Problem,
        solver: cp_model.CpSolver,
        status: int,
        mv: ModelVars,
        hint: np.ndarray | None,
        hint_weight: int | None,
    ) -> Solved:
        """max-placed: objective = priority-weighted unplaced count (0 = all placed)."""
        bound = None
        if solver is not None and status in (
            cp_model.OPTIMAL,
            cp_model.FEASIBLE,
            cp_model.UNKNOWN,
        ):
            bound = int(solver.best_objective_bound // mv.big)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            a = extract(solver, mv, problem, None)
            key = (_unplaced_weight(problem, a), int(np.unique(a[a >= 0]).shape[0]))
            if hint is None or key <= (
                _unplaced_weight(problem, hint),
                int(np.unique(hint[hint >= 0]).shape[0]),
            ):
                st = Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FEASIBLE
                return Solved(
                    a, st, key[0], bound, extract_devices(solver, mv, problem, a)
                )
        if hint is not None:
            st = (
                Status.OPTIMAL
                if bound is not None and hint_weight <= bound
                else (Status.FEASIBLE)
            )
            return Solved(hint, st, hint_weight, bound)
        return Solved(None, _STATUS.get(status, Status.UNKNOWN), None, bound)

    def _min_moves(
        self, problem: Problem, limit: float | None, seed: int, start: float
    ) -> Solved:
        """Fewest (weighted) moves from ``problem.current`` to a valid placement."""
        if problem.current is None:
            raise InvalidProblem(
                f"{problem.name or 'problem'}: objective 'min-moves' needs a current "
                "assignment (field 'current')"
            )
        current = np.asarray(problem.current, np.int64)
        within_budget = self.max_machines is None or (
            np.unique(current[current >= 0]).shape[0] <= self.max_machines
        )
        devices_ok = not problem.containers.asks_gpus or (
            assign_devices(problem, current) is not None
        )
        if (
            (current >= 0).all()
            and within_budget
            and devices_ok
            and _is_valid(problem, current)
        ):
            return Solved(current, Status.OPTIMAL, 0, 0)
        model, mv = build_model(
            problem,
            objective="min-moves",
            max_machines=self.max_machines,
            move_weight=self.move_weight,
        )
        for (g, j), var in mv.x.items():
            cur = mv.group_current[g]
            model.add_hint(var, len(mv.groups[g]) if j == cur else 0)
        solver, status = solve_model(
            model,
            time_limit=self._remaining(limit, start),
            workers=self.workers,
            seed=seed,
            progress=self.progress,
        )
        if status == cp_model.MODEL_INVALID:
            raise PlacementError(f"cpsat: invalid model ({model.validate()})")
        solved = Solved(None, _STATUS[status], None, None)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solved.assignment = extract(solver, mv, problem, None)
            solved.devices = extract_devices(solver, mv, problem, solved.assignment)
            solved.objective = _moves(problem, solved.assignment, mv)
        if status != cp_model.INFEASIBLE:
            solved.bound = int(np.ceil(solver.best_objective_bound - 1e-6))
        if status == cp_model.INFEASIBLE:
            fallback = self._pack(problem, "max-placed", limit, seed, start)
            return replace(
                fallback, status=Status.INFEASIBLE, objective=None, bound=None
            )
        return solved


def _is_valid(problem: Problem, assignment: np.ndarray) -> bool:
    """True when ``assignment`` passes the project validator."""
    from ..placement import validate

    try:
        validate(problem, Placement(assignment, "current", Status.FEASIBLE))
    except (PlacementError, AssertionError):
        return False
    return True


def export_model(problem: Problem, path: str, **options: object) -> None:
    """Write the model the engine would solve to ``path`` (``.pb`` or ``.pbtxt``)."""
    engine = CpsatEngine(**options)
    objective = engine.objective
    kwargs: Mapping[str, object] = {}
    if objective == "min-moves":
        kwargs = {
            "max_machines": engine.max_machines,
            "move_weight": engine.move_weight,
        }
    else:
        hint_pl = best_hint(problem, engine.hints, engine.seed)
        if hint_pl is not None:
            kwargs = {"hint": np.asarray(hint_pl.assignment, np.int64)}
        if objective == "min-machines":
            kwargs = {**kwargs, "lower_bound": lower_bound(problem)}
    model, _ = build_model(problem, objective=objective, **kwargs)
    if not model.export_to_file(str(path)):
        raise OSError(f"could not write the model to {path}")


register("cpsat", CpsatEngine)
