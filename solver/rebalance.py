"""Rebalancing a running cluster: free machines, even out load, or lower a cost model.

:func:`rebalance` backs :meth:`solver.Cluster.rebalance`. ``min-machines`` first
empties the least loaded machines greedily, then improves on that with CP-SAT: the
``min-moves`` assignment model of a neighbourhood (the whole cluster when it is small,
else windows of lightly loaded machines, one after another) with the move budget as a
constraint and "fewest machines, then fewest moves" as objective. ``balance`` moves
containers from the hottest machines to cooler ones; ``cost`` runs the migration-cost
optimiser. Every search stops at ``max_moves`` and early enough (a small reserve
before ``time_limit``) for the call to return within ``time_limit``.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

from .cluster import _Builder, _load, _problem, _State
from .constraints import CompiledConstraints
from .engines._cpsat_model import build_model, extract
from .errors import InvalidProblem, PlacementError
from .model import DOWN, UP, Problem
from .placement import Placement, Status, validate
from .plan import Move, Plan, Start, Stop

if TYPE_CHECKING:
    from .cluster import Cluster

OBJECTIVES = ("min-machines", "balance", "cost")
#: Running containers above which min-machines stays with the greedy emptying pass.
CPSAT_MAX_CONTAINERS = 20_000
#: Containers x machines one CP-SAT neighbourhood may hold (its assignment variables).
NEIGHBOURHOOD_VARS = 6_000
#: Share of the time limit the greedy pass may use when CP-SAT follows.
GREEDY_SHARE = 0.4
#: Greedy rules tried for emptying machines: pack into the fullest machines, then
#: the cluster's own engine; the better result is kept.
PACK_RULES: tuple[tuple[str, str | None] | None, ...] = (("best", "k8s-most"), None)
#: Shortest CP-SAT solve worth starting, in seconds.
MIN_SOLVE = 0.05
#: Seconds per assignment variable a CP-SAT model is expected to take to build
#: before the first one has been timed.
BUILD_SECONDS_PER_VAR = 1e-4
#: Time kept for turning the result into a plan: the searches stop this much before
#: the limit (a share of it, at least RESERVE_MIN, at most RESERVE_MAX seconds and
#: half the limit).
RESERVE_SHARE = 0.05
RESERVE_MIN = 0.1
RESERVE_MAX = 0.5


def rebalance(
    cluster: Cluster,
    max_moves: int = 100,
    objective: str = "min-machines",
    time_limit: float = 10.0,
    *,
    seed: int = 0,
    apply: bool = False,
) -> Plan:
    """Move at most ``max_moves`` running containers to improve ``objective``.

    ``min-machines`` empties lightly loaded machines into the others; ``balance``
    moves containers from the most to the least loaded machines (lower spread of
    load fractions); ``cost`` runs :func:`solver.engines.reassign.optimise` (the
    ROADEF-style migration cost model). Moves are ordered into make-before-break
    steps; ``plan.machines_freed``, ``plan.moves`` and ``plan.objective`` report
    the result.
    """
    if objective not in OBJECTIVES:
        raise InvalidProblem(
            f"rebalance: objective {objective!r} is unknown; use one of "
            f"{', '.join(OBJECTIVES)}"
        )
    if max_moves < 0:
        raise InvalidProblem("rebalance: max_moves must be >= 0")
    limit = max(float(time_limit), 0.0)
    reserve = min(max(RESERVE_MIN, RESERVE_SHARE * limit), RESERVE_MAX, limit / 2)
    deadline = time.perf_counter() + limit - reserve
    w = cluster._st.copy()
    b = _Builder(f"rebalance {objective}")
    before = w.where.copy()
    problem, cc = cluster._compiled(w)
    if objective == "cost":
        left = max(deadline - time.perf_counter(), MIN_SOLVE)
        scores = _cost(cluster, w, b, max_moves, left, seed)
    else:
        first = _score(w, objective)
        if objective == "min-machines":
            _min_machines(cluster, w, b, problem, cc, max_moves, deadline, seed)
        else:
            _even_out(cluster, w, b, problem, cc, max_moves, deadline)
        scores = (first, _score(w, objective))
    used_before = _in_use(before)
    used_after = _in_use(w.where)
    return cluster._finish(
        b,
        w,
        apply,
        machines_freed=int(used_before - used_after),
        moves=int(((before != w.where) & (before >= 0) & (w.where >= 0)).sum()),
        objective=scores,
    )


def _min_machines(
    cluster: Cluster,
    w: _State,
    b: _Builder,
    problem: Problem,
    cc: CompiledConstraints,
    max_moves: int,
    deadline: float,
    seed: int,
) -> None:
    """Greedy emptying, then CP-SAT neighbourhoods while time is left; the better
    result (fewer machines, then fewer moves) becomes the plan."""
    placed = int((w.where >= 0).sum())
    exact = max_moves > 0 and 0 < placed <= CPSAT_MAX_CONTAINERS
    now = time.perf_counter()
    share = GREEDY_SHARE if exact else 1.0
    origin = w.where.copy()
    greedy_end = now + share * (deadline - now)
    best = None
    for rule in PACK_RULES:
        trial, steps = w.copy(), _Builder(b.operation)
        _compact(cluster, trial, steps, problem, cc, max_moves, greedy_end, rule)
        key = _key(trial.where, origin)
        if best is None or key < best[0]:
            best = (key, trial.where, steps.steps)
    w.where = best[1]
    b.steps.extend(best[2])
    if not exact or deadline - time.perf_counter() < MIN_SOLVE:
        return
    view = copy.copy(problem)
    view.current = origin
    target = _cpsat_compact(view, origin, w.where, max_moves, deadline, seed)
    if target is None:
        return
    b.steps.clear()
    w.where = origin
    _steps_to(w, b, target, "rebalance: free machines")


def _cpsat_compact(
    problem: Problem,
    origin: np.ndarray,
    start: np.ndarray,
    max_moves: int,
    deadline: float,
    seed: int,
) -> np.ndarray | None:
    """A valid assignment within ``max_moves`` of ``origin`` on fewer machines (or
    as many with fewer moves) than ``start``, or None when CP-SAT finds none.

    The whole cluster is one model when it is small enough; otherwise windows of
    lightly loaded machines are re-packed one after another (large neighbourhood
    search), the rest of the cluster fixed around them.
    """
    live = problem.machines.state != DOWN
    work = start.copy()
    best = _key(work, origin)
    placed = int((work >= 0).sum())
    whole = placed * int(live.sum()) <= NEIGHBOURHOOD_VARS
    rng = np.random.default_rng(seed)
    total = deadline - time.perf_counter()
    rounds = 0
    rate = BUILD_SECONDS_PER_VAR  # model building time per variable, as last seen
    while deadline - time.perf_counter() >= MIN_SOLVE:
        if whole:
            machines = np.flatnonzero(live)
        else:
            machines = _window(problem, work, live, rng, first=rounds == 0)
        inside = np.zeros(problem.m, bool)
        inside[machines] = True
        on = work >= 0
        free = np.flatnonzero(on & inside[np.maximum(work, 0)])
        moved_out = int((on & (work != origin)).sum()) - int(
            (work[free] != origin[free]).sum()
        )
        size = len(free) * len(machines)
        if deadline - time.perf_counter() < MIN_SOLVE + rate * size:
            break  # the model could not be built and solved in time
        until = deadline if whole else time.perf_counter() + max(1.0, total / 4)
        budget = max_moves - moved_out
        out, build = _solve(
            problem,
            work,
            free,
            machines,
            budget,
            min(until, deadline),
            seed + rounds,
            not whole,
        )
        if build > 0:
            rate = build / max(size, 1)
        if out is not None and _key(out, origin) < best:
            work, best = out, _key(out, origin)
        rounds += 1
        if whole:
            break
    if best == _key(start, origin) or not _valid(problem, work):
        return None
    return work


def _window(
    problem: Problem,
    work: np.ndarray,
    live: np.ndarray,
    rng: np.random.Generator,
    first: bool,
) -> np.ndarray:
    """Busy machines for one neighbourhood: the least loaded first, then random
    picks favouring light machines, as many as the variable budget allows."""
    on = work >= 0
    count = np.bincount(work[on], minlength=problem.m)
    load = np.zeros(problem.capacity.shape, np.int64)
    np.add.at(load, work[on], problem.requests[on])
    frac = (load / np.maximum(problem.capacity, 1)).max(axis=1)
    busy = np.flatnonzero((count > 0) & live)
    if first:
        order = busy[np.argsort(frac[busy], kind="stable")]
    else:
        weight = (1.0 - np.minimum(frac[busy], 1.0)) ** 2 + 1e-3
        order = rng.choice(busy, size=len(busy), replace=False, p=weight / weight.sum())
    chosen: list[int] = []
    held = 0
    for j in order.tolist():
        if chosen and (held + count[j]) * (len(chosen) + 1) > NEIGHBOURHOOD_VARS:
            break
        chosen.append(j)
        held += int(count[j])
    return np.sort(np.asarray(chosen, np.int64))


def _solve(
    problem: Problem,
    work: np.ndarray,
    free: np.ndarray,
    machines: np.ndarray,
    budget: int,
    until: float,
    seed: int,
    quick: bool,
) -> tuple[np.ndarray | None, float]:
    """Re-pack ``free`` onto ``machines`` with at most ``budget`` moves away from
    ``problem.current``: fewest machines used, then fewest moves, solving until the
    ``time.perf_counter`` instant ``until``. Returns the assignment (None without a
    solution) and the seconds spent building the model. ``quick`` skips presolve
    (for short neighbourhood solves)."""
    if budget < 0 or not len(free):
        return None, 0.0
    began = time.perf_counter()
    model, mv = build_model(
        problem,
        objective="min-moves",
        free=free,
        machines=machines,
        base=work,
        hint=work,
    )
    moves: list[Any] = []
    for g, members in enumerate(mv.groups):
        stay = mv.x.get((g, mv.group_current[g]))
        moves.append(len(members) - stay if stay is not None else len(members))
    moved = cp_model.LinearExpr.sum(moves)
    model.add(moved <= budget)
    model.clear_objective()
    model.minimize(
        (len(free) + 1) * cp_model.LinearExpr.sum(list(mv.used.values())) + moved
    )
    built = time.perf_counter()
    if until - built < MIN_SOLVE / 5:
        return None, built - began
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = until - built
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    if quick:
        # presolve and symmetry detection cost seconds on a window; the greedy
        # hint is complete, so the search starts from it at once
        solver.parameters.cp_model_presolve = False
        solver.parameters.symmetry_level = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, built - began
    return extract(solver, mv, problem, work), built - began


def _key(assignment: np.ndarray, origin: np.ndarray) -> tuple[int, int]:
    """(machines in use, containers moved from ``origin``): smaller is better."""
    on = assignment >= 0
    used = _in_use(assignment)
    return used, int((on & (origin >= 0) & (assignment != origin)).sum())


def _in_use(assignment: np.ndarray) -> int:
    """Machines running at least one container of ``assignment`` (-1 = none)."""
    return int(np.count_nonzero(np.bincount(assignment[assignment >= 0])))


def _valid(problem: Problem, assignment: np.ndarray) -> bool:
    """True when ``assignment`` keeps every hard rule (``solver.validate``)."""
    pending = np.flatnonzero(assignment < 0)
    placement = Placement(
        assignment=assignment,
        engine="rebalance",
        status=Status.PARTIAL if len(pending) else Status.FEASIBLE,
        reasons={int(i): {"pending": 1} for i in pending},
    )
    try:
        validate(problem, placement)
    except PlacementError:
        return False
    return True


def _steps_to(w: _State, b: _Builder, target: np.ndarray, reason: str) -> None:
    """Move the running containers to ``target`` in one make-before-break step.

    A machine that cannot hold its incoming copies next to everything already on it
    has its own outgoing containers stop before they start elsewhere (largest
    first) until it can: after all of them stop, its load is its final load.
    """
    rows = np.flatnonzero((target != w.where) & (w.where >= 0))
    if not len(rows):
        return
    fullest = _load(w, np.flatnonzero(w.where >= 0))
    np.add.at(fullest, target[rows], w.requests[rows])
    restart = np.zeros(len(w.ids), bool)
    for j in np.flatnonzero((fullest > w.capacity).any(axis=1)):
        out = rows[w.where[rows] == j]
        size = (w.requests[out] / np.maximum(w.capacity[j], 1)).max(axis=1)
        for i in out[np.argsort(-size, kind="stable")]:
            if (fullest[j] <= w.capacity[j]).all():
                break
            fullest[j] -= w.requests[i]
            restart[i] = True
    actions: list[Any] = [
        Stop(str(w.ids[i]), int(w.where[i]), reason) for i in rows if restart[i]
    ]
    actions += [
        Start(str(w.ids[i]), int(target[i]), reason) for i in rows if restart[i]
    ]
    actions += [
        Move(str(w.ids[i]), int(w.where[i]), int(target[i]), reason)
        for i in rows
        if not restart[i]
    ]
    b.step(actions)
    w.where = target.copy()


def _compact(
    cluster: Cluster,
    w: _State,
    b: _Builder,
    problem: Problem,
    cc: CompiledConstraints,
    max_moves: int,
    deadline: float,
    rule: tuple[str, str | None] | None = None,
) -> None:
    """Empty the least loaded machines into the other busy ones, one per step;
    ``rule`` is the greedy (rule, score) for the moved containers (default: the
    cluster's engine)."""
    left = max_moves
    busy = np.zeros(w.m, bool)
    busy[w.where[w.where >= 0]] = True
    frac = _fractions(w)
    for j in np.argsort(frac, kind="stable"):
        if time.perf_counter() >= deadline or left <= 0:
            break
        rows = np.flatnonzero(w.where == j)
        if not busy[j] or not len(rows) or len(rows) > left:
            continue
        usable = busy.copy()
        usable[j] = False
        targets = cluster._settle(
            w, problem, cc, rows, True, usable=usable, rule=rule, until=deadline
        )
        if (targets < 0).any():
            continue
        b.step(
            [
                Move(str(w.ids[i]), j, int(t), "rebalance: free machine")
                for i, t in zip(rows, targets, strict=True)
            ]
        )
        w.where[rows] = targets
        busy[j] = False
        left -= len(rows)


def _even_out(
    cluster: Cluster,
    w: _State,
    b: _Builder,
    problem: Problem,
    cc: CompiledConstraints,
    max_moves: int,
    deadline: float,
) -> None:
    """Move one container from each of the hottest machines to cooler ones."""
    left = max_moves
    while left > 0 and time.perf_counter() < deadline:
        frac = _fractions(w)
        live = (w.state == UP) & ~w.retired
        if live.sum() < 2:
            break
        mean = frac[live].mean()
        hot = np.flatnonzero(live & (frac > mean))
        hot = hot[np.argsort(-frac[hot], kind="stable")][: min(left, 64)]
        rows = []
        for j in hot:
            mine = np.flatnonzero(w.where == j)
            if not len(mine):
                continue
            size = (w.requests[mine] / np.maximum(w.capacity[j], 1)).max(axis=1)
            want = frac[j] - mean
            rows.append(int(mine[np.argmin(np.abs(size - want))]))
        if not rows:
            break
        movers = np.array(rows, np.int64)
        old = _score(w, "balance")
        targets = cluster._settle(
            w,
            problem,
            cc,
            movers,
            True,
            usable=live & (frac < mean),
            rule=("best", "k8s-least"),
            until=deadline,
        )
        moved = targets >= 0
        if not moved.any():
            break
        src = w.where[movers].copy()
        w.where[movers[moved]] = targets[moved]
        if _score(w, "balance") >= old:
            w.where[movers] = src
            break
        b.step(
            [
                Move(str(w.ids[i]), int(s), int(t), "rebalance: even out load")
                for i, s, t in zip(
                    movers[moved], src[moved], targets[moved], strict=True
                )
            ]
        )
        left -= int(moved.sum())


def _cost(
    cluster: Cluster,
    w: _State,
    b: _Builder,
    max_moves: int,
    time_limit: float,
    seed: int,
) -> tuple[float, float]:
    """Optimise the migration-cost model over the running containers."""
    from .engines.reassign import optimise

    rows = np.flatnonzero(w.where >= 0)
    origin = cluster._origin
    if (
        origin is not None
        and "roadef" in origin.metadata
        and len(rows) == origin.n == len(w.ids)
        and w.m == origin.m
    ):
        sub = Problem(
            origin.machines,
            origin.containers,
            current=w.where,
            metadata=origin.metadata,
            name=origin.name,
        )
    else:
        view = w.copy()
        view.drop(np.flatnonzero(w.where < 0))
        sub = _problem(view, named=False, current=True)
    result = optimise(sub, time_limit=float(time_limit), seed=seed, max_moves=max_moves)
    target = w.where.copy()
    target[rows] = np.asarray(result.assignment, np.int64)
    _sequence(w, b, target)
    return float(result.objective_before), float(result.objective_after)


def _fractions(w: _State) -> np.ndarray:
    """float64[m]: each machine's largest load / capacity over the resources."""
    placed = np.flatnonzero(w.where >= 0)
    load = _load(w, placed)
    return (load / np.maximum(w.capacity, 1)).max(axis=1)


def _score(w: _State, objective: str) -> float:
    """Machines in use (min-machines) or the spread of load fractions (balance)."""
    if objective == "min-machines":
        return float(_in_use(w.where))
    live = (w.state == UP) & ~w.retired
    frac = _fractions(w)[live]
    return float(frac.std()) if len(frac) else 0.0


def _sequence(w: _State, b: _Builder, target: np.ndarray) -> None:
    """Order the moves to ``target`` into make-before-break steps.

    A move joins a step when its target has room with every copy already there and
    no container of the same service runs on it; moves left in a cycle finish in a
    last step as stop-then-start, which lands exactly on ``target``.
    """
    todo = [int(i) for i in np.flatnonzero((target != w.where) & (w.where >= 0))]
    placed = np.flatnonzero(w.where >= 0)
    while todo:
        load = _load(w, placed)
        on = {(int(w.where[i]), w.service[i]) for i in placed}
        step, rest = [], []
        for i in todo:
            t = int(target[i])
            if (load[t] + w.requests[i] <= w.capacity[t]).all() and (
                (t, w.service[i]) not in on
            ):
                load[t] += w.requests[i]
                on.add((t, w.service[i]))
                step.append(i)
            else:
                rest.append(i)
        if not step:
            actions: list[Any] = [
                Stop(str(w.ids[i]), int(w.where[i]), "rebalance: swap") for i in rest
            ]
            actions += [
                Start(str(w.ids[i]), int(target[i]), "rebalance: swap") for i in rest
            ]
            b.step(actions)
            w.where[rest] = target[rest]
            break
        b.step(
            [
                Move(str(w.ids[i]), int(w.where[i]), int(target[i]), "rebalance: cost")
                for i in step
            ]
        )
        w.where[step] = target[step]
        todo = rest
