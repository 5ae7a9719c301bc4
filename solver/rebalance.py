"""Rebalancing a running cluster: free machines, even out load, or lower a cost model.

:func:`rebalance` backs :meth:`solver.Cluster.rebalance`. ``min-machines`` asks CP-SAT
for the fewest moves that fit the running containers on fewer machines (``min-moves``
with a machine budget) on small clusters, and empties the least loaded machines
greedily at scale; ``balance`` moves containers from the hottest machines to cooler
ones; ``cost`` runs the migration-cost optimiser. Every search stops at ``max_moves``
and at ``time_limit``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .cluster import _Builder, _load, _problem, _State
from .constraints import CompiledConstraints
from .errors import InvalidProblem
from .model import UP, Problem
from .plan import Move, Plan, Start, Stop

if TYPE_CHECKING:
    from .cluster import Cluster

OBJECTIVES = ("min-machines", "balance", "cost")


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
    w = cluster._st.copy()
    b = _Builder(f"rebalance {objective}")
    before = w.where.copy()
    problem, cc = cluster._compiled(w)
    deadline = time.perf_counter() + float(time_limit)
    if objective == "cost":
        scores = _cost(cluster, w, b, max_moves, time_limit, seed)
    else:
        first = _score(w, objective)
        search = _compact if objective == "min-machines" else _even_out
        search(cluster, w, b, problem, cc, max_moves, deadline)
        scores = (first, _score(w, objective))
    used_before = np.unique(before[before >= 0]).shape[0]
    used_after = np.unique(w.where[w.where >= 0]).shape[0]
    return cluster._finish(
        b,
        w,
        apply,
        machines_freed=int(used_before - used_after),
        moves=int(((before != w.where) & (before >= 0) & (w.where >= 0)).sum()),
        objective=scores,
    )


def _compact(
    cluster: Cluster,
    w: _State,
    b: _Builder,
    problem: Problem,
    cc: CompiledConstraints,
    max_moves: int,
    deadline: float,
) -> None:
    """Empty the least loaded machines into the other busy ones, one per step."""
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
        targets = cluster._settle(w, problem, cc, rows, True, usable=usable)
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
        return float(np.unique(w.where[w.where >= 0]).shape[0])
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
