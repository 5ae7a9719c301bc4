"""Column generation for bin packing without the arc-flow graph.

When the arc-flow graph is too large to build (large capacities with few items per
machine, such as Scholl's hard instances), an LP bound at least as strong comes from
column generation over the patterns themselves (bounded by demand, while compression
lets a path of the graph carry more copies of a type than exist): the restricted master
LP covers the demand of each item type, and its pricing problem, the most profitable
pattern under the duals, is a bounded knapsack solved exactly (``_knapsack_kernels``:
dynamic programming over the capacity in one dimension when its table is small enough,
else branch and bound). Each round adds the best few patterns. Farley's bound (LP value
over the largest pattern profit) holds at every round, so a master stopped by the clock
still gives a bound.

The master has the interface of the arc-flow master, so the LP dive, residual
rounding and the tabu search of :mod:`solver.engines.arcflow` run on it unchanged;
:func:`dive_rounds` uses a cheaper dive of its own (it rounds up several columns per
round and prices to the optimum only every few rounds).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..model import Problem
from . import _knapsack_kernels as kernels
from ._master import PatternMaster
from .arcflow import (
    _EPS,
    ARC_BUDGET,
    _complete,
    _fix,
    _Items,
    _items,
    _target_search,
)

#: Columns the pricing step may add per master solve (the most profitable patterns).
COLUMNS_PER_ROUND = 30
#: Branch-and-bound nodes one pricing call may visit; beyond them the best patterns
#: found are used and the fractional root bound stands in for Farley's bound.
_PRICING_NODES = 2_000_000
#: Most cells of the dynamic program's choice table (bytes).
_DP_CELLS = 50_000_000
#: Most cells (levels and copies times the capacity) :func:`graph_exceeds` scans.
_COUNT_CELLS = 100_000_000
#: Machines the rest of a dive may need before residual heuristics are tried, and
#: the fewest patterns fixed between two tries.
_RESIDUAL_BINS = 12
_RESIDUAL_EVERY = 3
#: Least amount of a column that a dive rounds up when none is used whole.
_ROUND_UP = 0.6
#: Dive rounds per complete column generation (the others re-solve the master).
_PRICE_EVERY = 4
#: Reduced-cost tolerance: a pattern enters when its profit exceeds one by this.
_TOL = 1e-9


class KnapsackMaster(PatternMaster):
    """Pattern master priced by an exact bounded knapsack, with the interface of the
    arc-flow master. ``items`` is the arc-flow item-type table (weights int64 (t, d),
    demands int64 (t,), cap int64 (d,)); ``patterns`` are lists of item types.
    """

    def __init__(self, items: _Items, patterns: list[list[int]]) -> None:
        self.weights = np.ascontiguousarray(items.weights, dtype=np.int64)
        self.cap = np.ascontiguousarray(items.cap, dtype=np.int64)
        self.demands = np.ascontiguousarray(items.demands, dtype=np.int64).copy()
        # one dimension and a small enough table: pricing by dynamic programming
        self.table = None
        if self.cap.shape[0] == 1:
            fits = self.cap[0] // self.weights[:, 0]
            copies = int(np.minimum(self.demands, fits).sum())
            if copies * (int(self.cap[0]) + 1) <= _DP_CELLS:
                self.table = np.empty((copies, int(self.cap[0]) + 1), np.bool_)
        self.changed = False
        super().__init__(self.demands, patterns, COLUMNS_PER_ROUND)

    def _solve(self) -> int:
        """Solve the master: the dual simplex after demands changed (the basis stays
        dual feasible), the primal one after columns were added."""
        self.lp.SetSolverSpecificParametersAsString(
            f"use_dual_simplex: {'true' if self.changed else 'false'}"
        )
        self.changed = False
        return self.lp.Solve()

    def set_demands(self, demands: np.ndarray) -> None:
        """Change the demand each item type must meet (the next solve is dual)."""
        self.changed = True
        self.demands = np.ascontiguousarray(demands, dtype=np.int64).copy()
        super().set_demands(self.demands)

    def optimize(self, deadline: float, rounds: int | None = None) -> float | None:
        """Column generation to the LP optimum; None if time runs out first.

        ``farley`` keeps the best Farley bound seen, valid even then: for duals
        ``pi >= 0`` no packing beats ``b.pi / max_a pi.a`` machines. With ``rounds``,
        at most that many pricing rounds: the value is then the restricted LP's (an
        upper bound on the LP; dives use it to save time).
        """
        while time.perf_counter() < deadline:
            if self._solve() != self.pywraplp.Solver.OPTIMAL:
                return None
            value = self.objective.Value()
            if rounds is not None:
                if rounds == 0:
                    return value
                rounds -= 1
            duals = self.row_duals()
            values, patterns, found, upper, complete = self._price(duals)
            if complete:
                lagrangian = min(value, float(self.demands @ duals))
                self.farley = max(self.farley, lagrangian / max(upper, 1.0))
            if found == 0 and complete:
                self.duals = duals
                return value
            if found == 0:
                return None  # the search stopped short of proving the LP optimal
            for k in np.argsort(-values[:found]).tolist():
                column = patterns[k]
                self.add(np.repeat(np.arange(column.shape[0]), column).tolist())
        return None

    def _price(self, duals: np.ndarray) -> tuple:
        """The best patterns under ``duals``: (values, patterns, number found, an
        upper bound on the best value, whether that bound is the best value)."""
        keep = max(1, self.per_round)
        if self.table is not None:
            fits = self.cap[0] // self.weights[:, 0]
            rows = int(np.minimum(self.demands, fits).sum())
            if rows > self.table.shape[0]:  # demands raised above the first ones
                self.table = np.empty((rows, self.table.shape[1]), np.bool_)
            values, patterns, found, best = kernels.dp_patterns(
                self.weights[:, 0], self.demands, duals, int(self.cap[0]), keep,
                1.0 + _TOL, self.table,
            )
            return values, patterns, found, best, True
        return kernels.best_patterns(
            self.weights, self.demands, duals, self.cap, keep, 1.0 + _TOL,
            _PRICING_NODES,
        )


def applies(problem: Problem) -> bool:
    """Whether the arc-flow engine runs without its graph on ``problem``: a
    one-dimensional packing onto identical machines with no placement rules whose
    graph exceeds the engine's arc budget."""
    items = _items(problem)
    return (
        items is not None
        and items.cap.shape[0] == 1
        and graph_exceeds(items, ARC_BUDGET)
    )


def graph_exceeds(items: _Items, max_arcs: int) -> bool:
    """Whether the one-dimensional arc-flow graph has over ``max_arcs`` arcs before
    compression, counted over the reachable loads without building it.

    Level ``t`` has a node per load reachable with the types before ``t`` and, from
    each, an arc per number of copies of ``t`` that fits (zero included). False when
    the count is not cheap (several dimensions or over ``_COUNT_CELLS`` cells).
    """
    if items.cap.shape[0] != 1:
        return False
    cap = int(items.cap[0])
    copies = np.minimum(items.demands, cap // np.maximum(items.weights[:, 0], 1))
    if int(copies.sum() + copies.shape[0]) * (cap + 1) > _COUNT_CELLS:
        return False
    reach = np.zeros(cap + 1, np.bool_)
    reach[0] = True
    arcs = 0
    for w, b in zip(items.weights[:, 0].tolist(), items.demands.tolist(), strict=True):
        copies = min(b, cap // w) if w > 0 else 0
        new = reach.copy()
        arcs += int(np.count_nonzero(reach))
        for c in range(1, copies + 1):
            shifted = reach[: cap + 1 - c * w]
            arcs += int(np.count_nonzero(shifted))
            new[c * w :] |= shifted
        if arcs > max_arcs:
            return True
        reach = new
    return False


def _dive(
    master: KnapsackMaster, items: _Items, target: int, deadline: float, seed: int
) -> list[list[int]] | None:
    """Round the LP by diving: fix patterns, re-optimise the rest, repeat.

    Every pattern the LP uses at least once is fixed (rounded down); when there is
    none, the one of largest amount and those of amount at least ``_ROUND_UP`` that
    fit the demands left are fixed once; surplus copies are trimmed. The rest is
    re-solved over the columns at hand, with pricing to the optimum every
    ``_PRICE_EVERY`` rounds. Once the rest's LP needs at most ``_RESIDUAL_BINS``
    machines, MBS' and the tabu search try to pack it into the machines ``target``
    leaves (every few rounds: they cost more than a round). Returns None if the
    clock stops the dive.
    """
    demands = items.demands.copy()
    patterns: list[list[int]] = []
    tried = -_RESIDUAL_EVERY
    step = -1
    try:
        while demands.any():
            master.set_demands(demands)
            # pricing to the optimum only every few patterns fixed
            step += 1
            rest = master.optimize(deadline, None if step % _PRICE_EVERY == 0 else 0)
            if rest is None:
                return None
            if (
                patterns
                and rest <= _RESIDUAL_BINS
                and len(patterns) - tried >= _RESIDUAL_EVERY
            ):
                tried = len(patterns)
                done = _complete(items, demands, target - len(patterns), deadline, seed)
                if done is not None:
                    return patterns + done
            amounts = master.values()
            whole = [
                (master.columns[k], math.floor(amounts[k] + _EPS))
                for k in np.flatnonzero(amounts >= 1 - _EPS).tolist()
            ]
            if not whole:
                # round up the columns of large amount that fit the demands left,
                # largest first, else the largest one
                left = demands.copy()
                for k in np.argsort(-amounts).tolist():
                    if amounts[k] < _ROUND_UP and whole:
                        break
                    column = np.bincount(master.columns[k], minlength=left.shape[0])
                    if (column <= left).all() or not whole:
                        whole.append((master.columns[k], 1))
                        left = np.maximum(left - column, 0)
            patterns.extend(_fix(whole, demands))
    finally:
        master.set_demands(items.demands)
    return patterns


def dive_rounds(
    master: KnapsackMaster,
    items: _Items,
    incumbent: list[list[int]],
    target: int,
    deadline: float,
    seed: int,
) -> list[list[int]] | None:
    """A packing better than ``incumbent`` by repeated LP dives, or None.

    Dives alternate between several and one new column per round (they find
    different packings); after a dive that misses ``target``, the tabu search starts
    from the LP-shaped packing. Stops at ``target`` machines or at ``deadline``.
    """
    best = None
    rounds = 0
    while len(incumbent) > target and time.perf_counter() < deadline:
        master.per_round = COLUMNS_PER_ROUND if rounds % 2 == 0 else 1
        dived = _dive(master, items, target, deadline, seed + rounds)
        rounds += 1
        if dived is None:
            break
        if len(dived) > target:
            now = time.perf_counter()
            until = now + 0.3 * max(deadline - now, 0.0)
            found = _target_search(items, dived, target, until, seed + rounds)
            dived = found if found is not None else dived
        if len(dived) < len(incumbent):
            incumbent = best = dived
    return best
