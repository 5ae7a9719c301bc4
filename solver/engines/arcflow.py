"""Arc-flow model for bin packing and vector packing on identical machines.

Identical containers are grouped into item types with demands. The graph's nodes are
partial machine loads reachable by packing item types in a fixed decreasing order (the
ordering breaks the symmetry between permutations of one pattern); its arcs are item
types, plus loss arcs into a sink. Following Brandão & Pedroso's general arc-flow with
graph compression, nodes are relabelled with "capacity minus the longest path to the
sink" and merged, then relabelled with "longest path from the source" and merged again.
A source-to-sink path is a feasible machine pattern; the minimum flow covering every
demand is an optimal packing; its LP relaxation (rounded up) is a strong lower bound.
The LP is solved by column generation over the patterns; then every maximal pattern
whose reduced cost fits the gap between the bound and the LP is enumerated (a
depth-first search over the item types bounded by knapsack tables), and the covering
program over them (price-and-branch) either finds a packing meeting the bound or,
when the enumeration is complete, proves the bound one higher. LP diving runs the
same step on each residual problem, where the listing is short.

The exact model grows with the number of distinct reachable loads, so construction stops
at a size or time budget; in one dimension the engine then goes on without the graph
(:mod:`solver.engines.colgen`), otherwise the caller falls back to the assignment model.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..bounds import martello_toth_l2
from ..model import UP, Problem
from . import _arcflow_kernels as kernels
from ._master import PatternMaster

#: Arc budget of the graph before compression; beyond it the model is not built.
ARC_BUDGET = 3_000_000
#: Mixed-integer back ends reachable through ``ortools.linear_solver``.
BACKENDS = {"highs": "HIGHS", "scip": "SCIP", "cpsat": "CP_SAT"}
_EPS = 1e-6
#: Columns the pricing step may add per master solve (best path per last arc).
_COLUMNS_PER_ROUND = 10
#: Search-tree leaves MBS' may visit to fill one bin.
_MBS_NODES = 20_000
#: Relative noise on item sizes when MBS' is rerun with perturbed orders.
_PERTURB = 0.3
#: Time the tabu search may spend on one residual problem of LP rounding.
_RESIDUAL_SECONDS = 0.3
#: Machines the rest of a dive may need before MBS' and the tabu search are tried on
#: it, and the fewest patterns fixed between two tries (each try costs several
#: rounds of the dive).
_RESIDUAL_BINS = 12
_RESIDUAL_EVERY = 3
#: Shares of the time left given to price-and-branch over the whole problem, then
#: to LP diving (whose residual price-and-branch finds most packings at the bound).
_PRICING_SHARE = 0.2
_DIVE_SHARE = 0.7
#: Patterns of least reduced cost the covering program is first tried on (with half
#: the time) when the listing is longer.
_FIRST_COLUMNS = 4_000
#: Most seconds one price-and-branch over a residual problem of LP diving may take.
_RESIDUAL_PRICING_SECONDS = 0.5
#: Most seconds one round of perturbed MBS' and tabu search may take: on instances
#: they do not settle at once, price-and-branch is the better use of the time.
_IMPROVE_SECONDS = 2.0
#: Fewest seconds the integer flow program is started with.
_FLOW_MIN_SECONDS = 1.0
#: Lowest machine count the integer flow program is given (SCIP proves and finds
#: sooner without the LP bound as a variable bound).
_FLOW_LOW = 0
#: Most distance from the LP value to the bound at which the LP counts as integral
#: and the fixed flow program runs before the dives, and its share of the time left.
_TIGHT_GAP = 1e-6
_TIGHT_FLOW_SHARE = 0.95
#: Share of its time left a solver call is told, for presolve and time checks that
#: overrun the limit and for mapping the answer back.
_SOLVER_SHARE = 0.9
#: Most patterns the reduced-cost enumeration lists, and most cells of their table.
_ENUM_LIMIT = 50_000
_ENUM_CELLS = 10_000_000
#: Most steps the enumeration's depth-first search may take.
_ENUM_STEPS = 50_000_000
#: Most cells of the knapsack tables that bound the enumeration.
_ENUM_TABLE_CELLS = 4_000_000
#: Patterns and search steps per second of budget (a quarter of the speed measured,
#: so the enumeration and the model build keep within the budget).
_ENUM_PER_SECOND = 10_000
_ENUM_STEPS_PER_SECOND = 5_000_000
#: Shares of the reduced-cost gap tried in turn until the enumeration completes.
_ENUM_SHARES = (1.0, 0.25, 0.05, 0.0)


@dataclass(frozen=True)
class ArcflowResult:
    """Outcome of :func:`solve_arcflow`.

    ``assignment`` (int64, shape (n,)) maps each container to a bin ``0 .. k-1``; bin
    ``j`` is machine ``j`` (the machines are identical). It is all -1 when the status is
    ``unknown`` and no packing within the machine count was found.
    """

    assignment: np.ndarray
    status: str
    objective: int | None
    bound: int
    seconds: float
    backend: str
    graph_arcs: int = 0

    def __post_init__(self) -> None:
        a = np.ascontiguousarray(self.assignment, dtype=np.int64)
        a.setflags(write=False)
        object.__setattr__(self, "assignment", a)
        if self.status not in ("optimal", "feasible", "unknown"):
            raise ValueError(f"unknown status {self.status!r}")
        if self.objective is not None and self.bound > self.objective:
            raise ValueError(f"bound {self.bound} above objective {self.objective}")
        if self.status == "optimal" and self.objective != self.bound:
            raise ValueError("status optimal needs objective == bound")


@dataclass(frozen=True)
class _Items:
    """Distinct nonzero requests in packing order, their demands and their members."""

    weights: np.ndarray  # int64 (t, d), decreasing
    demands: np.ndarray  # int64 (t,)
    members: list[np.ndarray]  # container indices of each type
    zero: np.ndarray  # containers requesting nothing
    cap: np.ndarray  # int64 (d,)


@dataclass(frozen=True)
class _Graph:
    """Compressed arc-flow graph; arcs are (tail, head, type or -1 for loss, copies)."""

    arcs: np.ndarray  # int64 (a, 4)
    nodes: int
    source: int
    sink: int
    step2_arcs: int
    order: np.ndarray  # nodes in topological order

    def pricing(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Topological order and the incoming-arc CSR used by the pricing kernel."""
        in_start, in_arcs = _csr(self.arcs[:, 1], self.nodes)
        return self.order, in_start, in_arcs

    @property
    def size(self) -> int:
        """Number of arcs (item and loss arcs)."""
        return int(self.arcs.shape[0])


def _items(problem: Problem) -> _Items | None:
    """Item types of an applicable problem, or None when the model does not apply."""
    mach = problem.machines
    if (
        problem.m == 0
        or problem.has_constraints
        or (mach.state != UP).any()
        or mach.gpus.any()
        or (mach.capacity != mach.capacity[0]).any()
    ):
        return None
    cap = np.ascontiguousarray(mach.capacity[0], dtype=np.int64)
    req = problem.requests
    if (req > cap).any():
        return None
    nonzero = np.flatnonzero(req.any(axis=1))
    uniq, inverse = np.unique(req[nonzero], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    share = (uniq / np.maximum(cap, 1)).sum(axis=1)
    keys = [uniq[:, j] for j in range(uniq.shape[1] - 1, -1, -1)]
    order = np.lexsort([*keys, share])[::-1]
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    type_of = rank[inverse]
    members = [[] for _ in range(order.shape[0])]
    for i, t in zip(nonzero.tolist(), type_of.tolist(), strict=True):
        members[t].append(i)
    return _Items(
        weights=np.ascontiguousarray(uniq[order], dtype=np.int64),
        demands=np.bincount(type_of, minlength=order.shape[0]).astype(np.int64),
        members=[np.array(x, dtype=np.int64) for x in members],
        zero=np.flatnonzero(~req.any(axis=1)),
        cap=cap,
    )


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=start[1:])
    return start, order.astype(np.int64)


def _merge(
    labels: np.ndarray, arcs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge nodes with equal labels; returns (unique labels, node map, merged arcs).

    Loss arcs that become loops are dropped and parallel copies of an arc are merged.
    """
    uniq, inverse = _unique_rows(labels)
    tail = inverse[arcs[:, 0]]
    head = inverse[arcs[:, 1]]
    keep = tail != head
    stacked = np.stack([tail[keep], head[keep], arcs[keep, 2], arcs[keep, 3]], axis=1)
    merged, _ = _unique_rows(stacked)
    return uniq, inverse, np.ascontiguousarray(merged, dtype=np.int64)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct rows and the inverse map; one int64 key per row when it fits."""
    if rows.shape[0] == 0:
        return rows, np.zeros(0, np.int64)
    low = rows.min(axis=0)
    span = rows.max(axis=0) - low + 1
    exact = math.prod(int(x) for x in span) < 2**62
    if exact:
        weight = np.ones(rows.shape[1], np.int64)
        for j in range(rows.shape[1] - 2, -1, -1):
            weight[j] = weight[j + 1] * span[j + 1]
    else:
        # a random 64-bit hash (wrapping), checked below: sorting rows as records
        # is an order of magnitude slower
        weight = np.random.default_rng(7).integers(1, 2**62, rows.shape[1])
    keys = (rows - low) @ weight
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not exact and (rows[first][inverse] != rows).any():
        uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
        return uniq, inverse.reshape(-1)
    return rows[first], inverse


def _build(items: _Items, max_arcs: int, deadline: float) -> _Graph | None:
    """Step-2 graph, then main and final compression; None beyond a budget."""
    weights, cap = items.weights, items.cap
    d = cap.shape[0]
    state = kernels.new_graph(d, 1024)
    for t in range(weights.shape[0]):
        copies = int(min(items.demands[t], _fit_count(weights[t], cap)))
        began = time.perf_counter()
        state = kernels.add_level(*state, weights[t], copies, cap, t, max_arcs)
        now = time.perf_counter()
        # levels only grow: stop when the next one would likely end past the deadline
        if state[3][1] > max_arcs or now + 2 * (now - began) > deadline:
            return None
    _loads, _, arcs, counts = state
    n_nodes, n_arcs = int(counts[0]), int(counts[1])
    arcs = np.ascontiguousarray(arcs[:n_arcs])
    # main compression: capacity minus the longest path to the sink; a node's level
    # only grows along arcs, so decreasing ids are a reverse topological order
    out_start, out_arcs = _csr(arcs[:, 0], n_nodes)
    order = np.arange(n_nodes - 1, -1, -1, dtype=np.int64)
    phi = kernels.label_to_sink(order, out_start, out_arcs, arcs, weights, cap)
    labels, inverse, arcs = _merge(phi, arcs)
    source, sink = int(inverse[0]), int(inverse[n_nodes - 1])
    n_nodes = labels.shape[0]
    if time.perf_counter() > deadline:
        return None

    # final compression: the longest path from the source; every remaining arc raises
    # the sum of the main label, which orders the nodes topologically
    in_start, in_arcs = _csr(arcs[:, 1], n_nodes)
    order = np.argsort(labels.sum(axis=1), kind="stable").astype(np.int64)
    psi = kernels.label_from_source(order, in_start, in_arcs, arcs, weights, source)
    labels, inverse, arcs = _merge(psi, arcs)
    if time.perf_counter() > deadline:
        return None
    return _Graph(
        arcs=arcs,
        nodes=labels.shape[0],
        source=int(inverse[source]),
        sink=int(inverse[sink]),
        step2_arcs=n_arcs,
        order=np.argsort(labels.sum(axis=1), kind="stable").astype(np.int64),
    )


def _fit_count(weight: np.ndarray, cap: np.ndarray) -> int:
    positive = weight > 0
    return int((cap[positive] // weight[positive]).min())


def arcflow_size_estimate(
    problem: Problem, *, max_arcs: int = ARC_BUDGET, seconds: float = 5.0
) -> int | None:
    """Arcs of the compressed arc-flow graph, or None when the model does not apply.

    None also means the graph would exceed ``max_arcs`` before compression or could
    not be built and compressed within ``seconds``, i.e. :func:`solve_arcflow` would
    give up as well.
    """
    began = time.perf_counter()
    items = _items(problem)
    if items is None:
        return None
    from .colgen import graph_exceeds

    if graph_exceeds(items, max_arcs):
        return None
    _warm_kernels()
    graph = _build(items, max_arcs, began + seconds)
    return None if graph is None else graph.size


def _warm_kernels() -> None:
    """Run every kernel on a one-item graph so compilation stays out of time budgets."""
    one = np.ones((1, 1), np.int64)
    items = _Items(one, np.ones(1, np.int64), [np.zeros(1, np.int64)],
                   np.zeros(0, np.int64), np.full(1, 2, np.int64))
    graph = _build(items, ARC_BUDGET, math.inf)
    order, in_start, in_arcs = graph.pricing()
    kernels.longest_paths(order, in_start, in_arcs, graph.arcs, np.ones(1), 0)
    twice = np.full(1, 2, np.int64)
    kernels.first_fit_decreasing(one, np.ones(1, np.int64), twice)
    kernels.best_fit_decreasing(one, np.ones(1, np.int64), twice)
    first = np.zeros(1, np.int64)
    kernels.minimum_bin_slack(one, np.ones(1, np.int64), twice, first, 9)
    kernels.target_search(one, twice, first.copy(), 1, first.copy(), first.copy(), 0, 1)
    for cells in (0, 100):  # the ratio bound and the knapsack tables
        kernels.enumerate_maximal(one, twice, twice, np.ones(1), 0.0, 10, 100, cells)


def _lower_bound(items: _Items) -> int:
    """Martello & Toth's L2 bound of each dimension (at least the continuous bound)."""
    total = (items.weights * items.demands[:, None]).sum(axis=0)
    best = int((-(-total // np.maximum(items.cap, 1))).max(initial=0))
    for j in range(items.cap.shape[0]):
        sizes = np.repeat(items.weights[:, j], items.demands)
        best = max(best, martello_toth_l2(sizes, int(items.cap[j])))
    return best


def _patterns(items: _Items, where: np.ndarray, bins: int) -> list[list[int]]:
    """Bin contents from the bin of each copy (copies numbered type by type)."""
    types = np.repeat(np.arange(items.demands.shape[0]), items.demands)
    patterns: list[list[int]] = [[] for _ in range(int(bins))]
    for b, t in zip(where.tolist(), types.tolist(), strict=True):
        patterns[b].append(t)
    return [p for p in patterns if p]


def _greedy(items: _Items) -> list[list[int]]:
    """The best of first fit, best fit and MBS' over the types in decreasing order."""
    w, dem, cap = items.weights, items.demands, items.cap
    order = np.arange(dem.shape[0], dtype=np.int64)
    runs = [
        kernels.first_fit_decreasing(w, dem, cap),
        kernels.best_fit_decreasing(w, dem, cap),
        kernels.minimum_bin_slack(w, dem, cap, order, _MBS_NODES),
    ]
    where, bins = min(runs, key=lambda run: run[1])
    return _patterns(items, where, bins)


def _perturbed_mbs(
    items: _Items, target: int, deadline: float, seed: int, runs: int
) -> list[list[int]] | None:
    """MBS' over randomly perturbed type orders; the first packing into ``target``
    bins or fewer, else None once ``runs`` orders or the time are spent."""
    rng = np.random.default_rng(seed)
    w, dem, cap = items.weights, items.demands, items.cap
    size = (w / np.maximum(cap, 1)).sum(axis=1)
    for _ in range(runs):
        if time.perf_counter() > deadline:
            break
        noise = rng.uniform(1 - _PERTURB, 1 + _PERTURB, size.shape[0])
        order = np.argsort(-size * noise, kind="stable").astype(np.int64)
        where, bins = kernels.minimum_bin_slack(w, dem, cap, order, _MBS_NODES)
        if bins <= target:
            return _patterns(items, where, bins)
    return None


def _target_search(
    items: _Items, start: list[list[int]], target: int, deadline: float, seed: int
) -> list[list[int]] | None:
    """Tabu search from ``start`` for a packing into ``target`` bins, or None.

    The fullest ``target`` bins of ``start`` are kept and the other bins' items go,
    largest first, to the bin with the most room, possibly overloading it; the
    search then removes the overload.
    """
    if target < 1:
        return None
    cap = items.cap
    size = (items.weights / np.maximum(cap, 1)).sum(axis=1)
    fills = [float(size[p].sum()) for p in start]
    keep = sorted(range(len(start)), key=lambda b: -fills[b])
    types = np.array([t for b in keep for t in start[b]], dtype=np.int64)
    assign = np.array(
        [min(r, target) for r, b in enumerate(keep) for _ in start[b]], dtype=np.int64
    )
    room = np.zeros(target)
    for r in range(min(target, len(keep))):
        room[r] = 1.0 * cap.shape[0] - fills[keep[r]]
    spill = np.flatnonzero(assign == target)
    for i in spill[np.argsort(-size[types[spill]])]:
        b = int(np.argmax(room))
        assign[i] = b
        room[b] -= size[types[i]]
    weights = np.ascontiguousarray(items.weights[types])
    tabu = np.zeros(types.shape[0], np.int64)
    clock = np.zeros(1, np.int64)
    chunk = 200
    while time.perf_counter() < deadline:
        seed += 1
        done = kernels.target_search(
            weights, cap, assign, target, tabu, clock, seed, chunk
        )
        if done:
            patterns: list[list[int]] = [[] for _ in range(target)]
            for t, b in zip(types.tolist(), assign.tolist(), strict=True):
                patterns[b].append(t)
            return [p for p in patterns if p]
    return None


def _patterns_from_hint(
    items: _Items, hint: np.ndarray, n: int
) -> list[list[int]] | None:
    """Patterns of a complete capacity-feasible assignment, or None if it is not one."""
    hint = np.asarray(hint).reshape(-1)
    if hint.shape != (n,) or (hint < 0).any():
        return None
    patterns: dict[int, list[int]] = defaultdict(list)
    loads: dict[int, np.ndarray] = {}
    for t, members in enumerate(items.members):
        for i in members.tolist():
            b = int(hint[i])
            patterns[b].append(t)
            loads[b] = loads.get(b, 0) + items.weights[t]
            if (loads[b] > items.cap).any():
                return None
    return list(patterns.values())


def _decompose(graph: _Graph, flow: np.ndarray) -> list[tuple[list[int], float]]:
    """Split a flow on the arcs into source-to-sink paths (patterns) with amounts."""
    arcs = graph.arcs
    rest = flow.astype(np.float64).copy()
    out: dict[int, list[int]] = defaultdict(list)
    for a in np.flatnonzero(rest > _EPS).tolist():
        out[int(arcs[a, 0])].append(a)
    paths = []
    while True:
        arcs_used, u = [], graph.source
        while u != graph.sink:
            arcs_here = out[u]
            while arcs_here and rest[arcs_here[-1]] <= _EPS:
                arcs_here.pop()
            if not arcs_here:
                break
            a = arcs_here[-1]
            arcs_used.append(a)
            u = int(arcs[a, 1])
        if u != graph.sink or not arcs_used:
            return paths
        amount = float(rest[arcs_used].min())
        rest[arcs_used] -= amount
        pattern = [int(arcs[a, 2]) for a in arcs_used for _ in range(arcs[a, 3])]
        if pattern:
            paths.append((pattern, amount))


def _assign(items: _Items, patterns: list[list[int]], n: int) -> tuple[np.ndarray, int]:
    """Containers onto pattern bins; surplus copies are dropped, empty bins removed."""
    assignment = np.full(n, -1, np.int64)
    left = [m.tolist() for m in items.members]
    bins = 0
    for pattern in patterns:
        used = False
        for t in pattern:
            if left[t]:
                assignment[left[t].pop()] = bins
                used = True
        bins += used
    if items.zero.shape[0]:
        bins = max(bins, 1)
        assignment[items.zero] = 0
    return assignment, bins


class _Master(PatternMaster):
    """Pattern master priced by longest paths in the graph.

    Its optimum over all paths equals the arc-flow LP relaxation (flow decomposition),
    so column generation with a longest-path pricing over the compressed graph gives
    the arc-flow bound at a fraction of the cost of the full LP. Compression may let a
    path carry more copies of a type than its demand, so that bound can fall below the
    LP over contents bounded by demand (never below the one bounded by capacity).
    """

    def __init__(self, graph: _Graph, items: _Items, patterns: list[list[int]]) -> None:
        self.graph = graph
        self.pricing = graph.pricing()
        super().__init__(items.demands, patterns, _COLUMNS_PER_ROUND)

    def optimize(self, deadline: float) -> float | None:
        """Column generation to the LP optimum; None if time runs out first.

        ``farley`` keeps the best Lagrangian (Farley) bound seen, valid even then.
        """
        order, in_start, in_arcs = self.pricing
        g = self.graph
        while time.perf_counter() < deadline:
            if self.lp.Solve() != self.pywraplp.Solver.OPTIMAL:
                return None
            value = self.objective.Value()
            duals = self.row_duals()
            best, pred = kernels.longest_paths(
                order, in_start, in_arcs, g.arcs, duals, g.source
            )
            self.farley = max(self.farley, value / max(best[g.sink], 1.0))
            if best[g.sink] <= 1 + 1e-9:
                self.duals = duals
                return value
            self._add_best(best, pred, duals)
        return None

    def _add_best(self, best: np.ndarray, pred: np.ndarray, duals: np.ndarray) -> None:
        """Add the most profitable paths through the sink's distinct last arcs."""
        g = self.graph
        _, in_start, in_arcs = self.pricing
        last = in_arcs[in_start[g.sink] : in_start[g.sink + 1]]
        tails = g.arcs[last, 0]
        gain = best[tails] + np.where(
            g.arcs[last, 2] >= 0, duals[g.arcs[last, 2]] * g.arcs[last, 3], 0.0
        )
        seen = set()
        for k in np.argsort(-gain)[: self.per_round]:
            if gain[k] <= 1 + 1e-9:
                break
            pattern, a = [], int(last[k])
            while a >= 0:
                t, copies = int(g.arcs[a, 2]), int(g.arcs[a, 3])
                pattern.extend([t] * (copies if t >= 0 else 0))
                a = int(pred[g.arcs[a, 0]])
            key = tuple(sorted(pattern))
            if key not in seen:
                seen.add(key)
                self.add(pattern)


def _fix(chosen: list[tuple[list[int], int]], demands: np.ndarray) -> list[list[int]]:
    """Copies of patterns trimmed to the remaining ``demands`` (updated in place)."""
    fixed = []
    for pattern, copies in chosen:
        for _ in range(copies):
            kept = []
            for t in pattern:
                if demands[t] > 0:
                    demands[t] -= 1
                    kept.append(t)
            if not kept:
                break
            fixed.append(kept)
    return fixed


def _dive(
    master: PatternMaster, items: _Items, target: int, deadline: float, seed: int
) -> list[list[int]] | None:
    """Round the LP by diving: fix whole patterns, re-optimise the rest, repeat.

    Each round tries, in turn, to fix every pattern the LP uses at least once (rounded
    down), the pattern with the largest amount (rounded down, at least once), and that
    pattern once, keeping the first whose rest's LP still allows ``target`` machines
    (else the one that allows the fewest); surplus copies are trimmed. Once the
    rest's LP needs at most ``_RESIDUAL_BINS`` machines, MBS' and the tabu search try
    to pack the residual items into the machines ``target`` leaves for them
    (residual rounding; every few rounds, as a try costs more than a round). When
    the rest's LP allows those machines, a short price-and-branch runs with the
    residual LP's duals: the residual has far fewer patterns within its gap than the
    whole problem, so the listing often completes and SCIP settles it; a residual
    proven infeasible ends the dive.
    """
    demands = items.demands.copy()
    patterns: list[list[int]] = []
    tried = -_RESIDUAL_EVERY
    try:
        while demands.any():
            master.set_demands(demands)
            rest_lp = master.optimize(deadline)
            if rest_lp is None:
                return None
            left = target - len(patterns)
            if (
                patterns
                and rest_lp <= _RESIDUAL_BINS
                and len(patterns) - tried >= _RESIDUAL_EVERY
            ):
                tried = len(patterns)
                rest = _complete(items, demands, left, deadline, seed)
                if rest is not None:
                    return patterns + rest
            if patterns and rest_lp <= left + _EPS:
                until = min(deadline, time.perf_counter() + _RESIDUAL_PRICING_SECONDS)
                sub = _Items(items.weights, demands.copy(), [], items.zero, items.cap)
                rest, too_few = _price_and_branch(
                    sub, master.duals, left, until, seed, exact_only=True
                )
                if rest is not None:
                    return patterns + rest
                if too_few:
                    return None
            amounts = master.values()
            whole = [
                (master.columns[k], math.floor(a + _EPS))
                for k, a in enumerate(amounts) if a >= 1 - _EPS
            ]
            top = int(np.argmax(amounts))
            options = [whole] if whole else []
            copies = max(1, math.floor(amounts[top] + _EPS))
            options.append([(master.columns[top], copies)])
            options.append([(master.columns[top], 1)])
            best = None
            for option in options:
                trial = demands.copy()
                fixed = _fix(option, trial)
                master.set_demands(trial)
                rest = master.optimize(deadline)
                if rest is None:
                    return None
                reach = len(patterns) + len(fixed) + math.ceil(rest - _EPS)
                if best is None or reach < best[0]:
                    best = (reach, trial, fixed)
                if reach <= target:
                    break
            _, demands, fixed = best
            patterns.extend(fixed)
    finally:
        master.set_demands(items.demands)
    return patterns


def _complete(
    items: _Items, demands: np.ndarray, target: int, deadline: float, seed: int
) -> list[list[int]] | None:
    """Packing of ``demands`` copies of the item types into ``target`` bins, or None;
    a short heuristic attempt (residual problems of LP rounding are small)."""
    if target < 1:
        return None
    sub = _Items(items.weights, demands.copy(), [], items.zero, items.cap)
    start = _greedy(sub)
    if len(start) <= target:
        return start
    now = time.perf_counter()
    until = min(deadline, now + _RESIDUAL_SECONDS)
    return _target_search(sub, start, target, until, seed)


def _tolerance(target: int) -> float:
    """Rounding allowed on a sum of reduced costs over up to ``target`` patterns."""
    return 1e-6 * (target + 1)


def _enum_budget(t_count: int, seconds: float) -> tuple[int, int]:
    """Most patterns and search steps one listing over ``t_count`` item types may
    take in ``seconds``."""
    limit = max(1000, min(_ENUM_LIMIT, _ENUM_CELLS // max(t_count, 1)))
    limit = int(min(limit, 1000 + _ENUM_PER_SECOND * seconds))
    steps = int(min(_ENUM_STEPS, 1000 + _ENUM_STEPS_PER_SECOND * seconds))
    return limit, steps


def _price_and_branch(
    items: _Items,
    duals: np.ndarray,
    target: int,
    deadline: float,
    seed: int,
    exact_only: bool = False,
) -> tuple[list[list[int]] | None, bool]:
    """A packing into ``target`` machines from the patterns that can be part of one.

    With optimal duals ``pi`` of the LP (so ``1 - pi.a >= 0`` for every pattern ``a``
    within the demands ``b``), SCIP solves the covering program over the *maximal*
    patterns whose reduced cost is at most the gap ``g = target - pi.b``, each type's
    surplus ``s_i`` capped at ``g / pi_i``. This is exact when the listing is
    complete: take any packing into ``k <= target`` machines and grow each machine's
    pattern ``P`` to a maximal pattern ``Q >= P`` (still within the demands) by adding
    copies that fit. The grown patterns cover ``b`` with surplus ``s = sum Q - b``,
    and ``sum (1 - pi.Q) = k - pi.b - pi.s <= g - pi.s``. Every term of the sum is
    nonnegative, so each ``1 - pi.Q <= g`` and ``pi_i s_i <= pi.s <= g``: the grown
    packing is a solution of the program. Conversely a solution, with its surplus
    copies dropped, is a packing. So a complete listing with an infeasible program
    proves ``target`` machines too few, and zero-dual types no longer multiply the
    listing with every sub-pattern that leaves them out. When the patterns are too
    many, those within a smaller share of the gap are used (a heuristic then), and
    SCIP first gets the cheapest of a long listing; with ``exact_only`` neither: an
    incomplete listing solves nothing, a complete one goes to SCIP whole. Returns
    (the packing or None, whether ``target`` machines are proven too few).
    """

    t_count = items.demands.shape[0]
    gap = target - float(items.demands @ duals)
    tol = _tolerance(target)
    # too many patterns: the ones of smallest reduced cost (not exact any more)
    cheap = duals <= max(gap, 0.0) + tol
    shares = _ENUM_SHARES[:1] if exact_only or cheap.any() else _ENUM_SHARES
    for k, share in enumerate(shares):
        # the whole gap may take half the time; each smaller share half of the rest
        left = max(deadline - time.perf_counter(), 0.0) / (1 if k == 0 else 2)
        limit, steps = _enum_budget(t_count, left)
        columns, found, complete = kernels.enumerate_maximal(
            items.weights, items.demands, items.cap, duals,
            1.0 - share * gap - tol, limit, steps, _ENUM_TABLE_CELLS,
        )
        if complete:
            break
    if not complete and exact_only:
        return None, False
    exact = complete and share == 1.0
    columns = columns[:found]
    if not complete and cheap.any():
        columns = _cheap_completions(items, duals, cheap, 1.0 - gap - tol, deadline)
    columns = columns[columns.any(axis=1)]
    if columns.shape[0] == 0 or time.perf_counter() > deadline:
        return None, exact and columns.shape[0] == 0
    if columns.shape[0] > _FIRST_COLUMNS and not exact_only:
        # SCIP finds packings far sooner among the patterns of least reduced cost
        rc = 1.0 - columns @ duals
        few = columns[np.argsort(rc, kind="stable")[:_FIRST_COLUMNS]]
        now = time.perf_counter()
        packing, _ = _cover(items, few, duals, gap, target, (now + deadline) / 2, seed)
        if packing is not None:
            return packing, False
    packing, infeasible = _cover(items, columns, duals, gap, target, deadline, seed)
    return packing, exact and infeasible


def packing_from_duals(
    problem: Problem,
    types: np.ndarray,
    duals: np.ndarray,
    target: int,
    deadline: float,
    seed: int = 0,
) -> tuple[np.ndarray | None, bool]:
    """Price-and-branch for any set of dual prices: a packing of ``problem`` into
    ``target`` machines (an assignment) or None, and whether ``target`` machines are
    proven too few.

    ``duals[k]`` prices a container of request ``types[k]`` (int64 rows, every
    distinct nonzero request among them); no machine pattern may be worth more than
    1 under them (as for the duals of a solved LP, or Farley's scaled ones). Only a
    complete listing is solved, so the time goes back to the caller's search when the
    patterns are too many. Used for vector packing, whose LP comes from
    knapsack-priced column generation.
    """
    items = _items(problem)
    if items is None:
        return None, False
    if items.demands.shape[0] == 0:  # nothing requests anything: one machine
        return _assign(items, [], problem.n)[0], False
    price = {tuple(row): float(v) for row, v in zip(types.tolist(), duals, strict=True)}
    aligned = np.array([price[tuple(row)] for row in items.weights.tolist()])
    found, too_few = _price_and_branch(
        items, aligned, target, deadline, seed, exact_only=True
    )
    if found is None:
        return None, too_few
    assignment, _ = _assign(items, found, problem.n)
    return assignment, too_few


def _cheap_completions(
    items: _Items, duals: np.ndarray, cheap: np.ndarray, threshold: float,
    deadline: float,
) -> np.ndarray:
    """Patterns for the covering program when the listing explodes on cheap types.

    The types whose dual fits in the gap (``cheap``, often zero duals of small
    items) multiply the maximal patterns. Instead the patterns of the other types
    within the gap are listed, each then filled with cheap copies in several type
    orders: largest first, smallest first, and each cheap type first and then the
    others largest first (a heuristic: other fillings are left out).
    """
    left = max(deadline - time.perf_counter(), 0.0) / 2
    limit, steps = _enum_budget(items.demands.shape[0], left)
    cores, found, _ = kernels.enumerate_maximal(
        items.weights, np.where(cheap, 0, items.demands), items.cap, duals,
        threshold, limit, steps, _ENUM_TABLE_CELLS,
    )
    cores = cores[:found].astype(np.int64)
    room = items.cap - cores @ items.weights
    filled = []
    largest = np.flatnonzero(cheap)
    orders = [largest, largest[::-1]] + [
        np.concatenate([[t], largest[largest != t]])
        for t in largest[: limit // max(found, 1)].tolist()
    ]
    for order in orders:
        counts, free = cores.copy(), room.copy()
        for t in order.tolist():
            w = items.weights[t]
            fit = np.full(found, int(items.demands[t]), np.int64)
            for j in np.flatnonzero(w).tolist():
                fit = np.minimum(fit, free[:, j] // w[j])
            counts[:, t] = fit
            free -= fit[:, None] * w[None, :]
        filled.append(counts)
    return np.unique(np.concatenate(filled), axis=0)


def _cover(
    items: _Items,
    columns: np.ndarray,
    duals: np.ndarray,
    gap: float,
    target: int,
    deadline: float,
    seed: int,
) -> tuple[list[list[int]] | None, bool]:
    """The covering program of price-and-branch over ``columns`` (SCIP): (a packing
    into ``target`` machines or None, whether the program is infeasible)."""
    from ortools.linear_solver import pywraplp

    t_count = items.demands.shape[0]
    upper = _demand_caps(items, duals, gap, target)
    solver = pywraplp.Solver.CreateSolver("SCIP")
    rows = [
        solver.Constraint(float(b), float(u))
        for b, u in zip(items.demands, upper, strict=True)
    ]
    total = solver.Constraint(0.0, float(target))
    amount = []
    for k, column in enumerate(columns):
        if k % 1024 == 0 and time.perf_counter() > deadline:
            return None, False
        x = solver.IntVar(0.0, float(target), f"p[{k}]")
        for t in np.flatnonzero(column).tolist():
            rows[t].SetCoefficient(x, float(column[t]))
        total.SetCoefficient(x, 1.0)
        solver.Objective().SetCoefficient(x, 1.0)
        amount.append(x)
    solver.Objective().SetMinimization()
    left = deadline - time.perf_counter()
    if left < 0.05:
        return None, False
    if left < math.inf:
        solver.SetTimeLimit(max(1, int(_SOLVER_SHARE * left * 1000)))
    solver.SetSolverSpecificParametersAsString(
        f"randomization/randomseedshift = {seed}\n"
    )
    status = solver.Solve()
    if status == pywraplp.Solver.INFEASIBLE:
        return None, True
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, False
    patterns = []
    for x, column in zip(amount, columns, strict=True):
        pattern = np.repeat(np.arange(t_count), column).tolist()
        patterns.extend([pattern] * round(x.solution_value()))
    return _fix([(p, 1) for p in patterns], items.demands.copy()), False


def _demand_caps(
    items: _Items, duals: np.ndarray, gap: float, target: int
) -> np.ndarray:
    """Most copies of each type a packing into ``target`` machines can cover with
    patterns of reduced cost within ``gap``: a surplus ``s`` of type ``i`` costs
    ``pi_i * s`` of the same gap."""
    tol = _tolerance(target)
    surplus = np.floor((gap + tol) / np.maximum(duals, 1e-12))
    return items.demands + np.minimum(surplus, items.demands * target)


def _useful_arcs(
    graph: _Graph, duals: np.ndarray, gap: float, target: int
) -> np.ndarray:
    """Arcs on some source-to-sink path whose reduced cost fits ``gap`` (bool mask).

    Reduced-cost fixing: the patterns of a packing into ``target`` machines have
    reduced costs summing to at most ``gap = target - pi.b`` (the argument of
    :func:`_price_and_branch`), so no path through any other arc can be part of one.
    """
    order, in_start, in_arcs = graph.pricing()
    arcs = graph.arcs
    into, _ = kernels.longest_paths(order, in_start, in_arcs, arcs, duals, graph.source)
    # the same longest paths on the reversed graph: from each node to the sink
    out_start, out_arcs = _csr(arcs[:, 0], graph.nodes)
    reverse = np.ascontiguousarray(arcs[:, [1, 0, 2, 3]])
    onward, _ = kernels.longest_paths(
        order[::-1].copy(), out_start, out_arcs, reverse, duals, graph.sink
    )
    own = np.where(arcs[:, 2] >= 0, duals[np.maximum(arcs[:, 2], 0)] * arcs[:, 3], 0.0)
    tol = _tolerance(target)
    return into[arcs[:, 0]] + own + onward[arcs[:, 1]] >= 1.0 - gap - tol


class _FlowModel:
    """Min-flow program over the compressed graph, through ``ortools.linear_solver``.

    The model is written once through GLOP's interface, exported as a proto with
    integral variables and loaded into the chosen mixed-integer back end. With LP
    duals it holds only the arcs that reduced-cost fixing keeps for packings into
    ``target`` machines, and caps each type's surplus the same way.
    """

    def __init__(self, lp, keep: np.ndarray) -> None:
        from ortools.linear_solver import pywraplp

        self.pywraplp = pywraplp
        self.lp = lp
        self.keep = keep

    @classmethod
    def build(
        cls,
        graph: _Graph,
        items: _Items,
        target: int,
        deadline: float,
        duals: np.ndarray | None = None,
    ) -> _FlowModel | None:
        """The model for packings into at most ``target`` machines (every such
        packing stays feasible); None if ``deadline`` passes first."""
        from ortools.linear_solver import pywraplp

        keep = np.ones(graph.size, bool)
        caps = np.full(items.demands.shape[0], np.inf)
        if duals is not None:
            gap = target - float(items.demands @ duals)
            keep = _useful_arcs(graph, duals, gap, target)
            caps = _demand_caps(items, duals, gap, target)
        s = pywraplp.Solver.CreateSolver("GLOP")
        z = s.NumVar(0, target + 1, "z")
        node_row = [s.Constraint(0, 0, f"flow[{u}]") for u in range(graph.nodes)]
        node_row[graph.source].SetCoefficient(z, -1)
        demand_row = [
            s.Constraint(float(b), float(c), f"demand[{t}]")
            for t, (b, c) in enumerate(zip(items.demands, caps, strict=True))
        ]
        for a, (u, v, t, c) in enumerate(graph.arcs[keep].tolist()):
            if a % 4096 == 0 and time.perf_counter() > deadline:
                return None
            var = s.NumVar(0, target + 1, f"x[{a}]")
            node_row[u].SetCoefficient(var, 1)
            if v != graph.sink:
                node_row[v].SetCoefficient(var, -1)
            if t >= 0:
                demand_row[t].SetCoefficient(var, c)
        s.Minimize(z)
        return cls(s, keep)

    def integer(
        self, low: int, high: int, backend: str, seconds: float, workers: int, seed: int
    ) -> tuple[str, np.ndarray | None, float]:
        """Integer flow with ``low <= z <= high``: (outcome, flow on every arc of the
        graph, best bound)."""
        from ortools.linear_solver import linear_solver_pb2

        began = time.perf_counter()
        proto = linear_solver_pb2.MPModelProto()
        self.lp.ExportModelToProto(proto)
        for var in proto.variable:
            var.is_integer = True
        proto.variable[0].lower_bound = low
        proto.variable[0].upper_bound = high
        solver = self.pywraplp.Solver.CreateSolver(BACKENDS[backend])
        solver.LoadModelFromProto(proto)
        seconds -= time.perf_counter() - began
        if seconds < 0.05:
            return "unknown", None, float(low)
        solver.SetTimeLimit(max(1, int(_SOLVER_SHARE * seconds * 1000)))
        solver.SetNumThreads(max(1, workers))
        if backend == "scip":
            solver.SetSolverSpecificParametersAsString(
                f"randomization/randomseedshift = {seed}\n"
            )
        elif backend == "cpsat":
            solver.SetSolverSpecificParametersAsString(f"random_seed:{seed}")
        status = solver.Solve()
        codes = self.pywraplp.Solver
        if status == codes.INFEASIBLE:
            return "infeasible", None, float(high + 1)
        if status not in (codes.OPTIMAL, codes.FEASIBLE):
            return "unknown", None, float(low)
        flow = np.zeros(self.keep.shape[0])
        flow[self.keep] = np.rint([v.solution_value() for v in solver.variables()[1:]])
        outcome = "optimal" if status == codes.OPTIMAL else "feasible"
        return outcome, flow, solver.Objective().BestBound()


def _lp_bound(master: PatternMaster, end: float) -> tuple[float | None, int]:
    """Column generation until ``end``: the LP value (None when the clock stopped
    it) and the machines it proves (from Farley's bound when stopped)."""
    relaxed = master.optimize(end)
    lp_value = master.farley if relaxed is None else relaxed
    return relaxed, math.ceil(lp_value - _EPS)


def solve_arcflow(
    problem: Problem,
    *,
    time_limit: float,
    workers: int = 1,
    seed: int = 0,
    hint: np.ndarray | None = None,
    backend: str = "scip",
    max_arcs: int = ARC_BUDGET,
) -> ArcflowResult | None:
    """Minimise the machines used by an arc-flow model; None when it does not apply.

    Not applicable (None): machines that differ, are not all up, or carry GPUs; any
    constraint beyond capacity; a container larger than a machine; in several
    dimensions, a graph beyond ``max_arcs`` or beyond a third of the time limit to
    build (unless the heuristics already reach the simple lower bound); or more
    machines needed than the problem has (the caller's model then decides what to
    leave unplaced). In one dimension such a graph is not built: the LP bound comes
    from column generation with knapsack pricing, LP dives look for the packing and
    price-and-branch may prove the bound one higher (:mod:`solver.engines.colgen`).
    ``hint`` (int, shape (n,)) is a complete assignment used as a starting incumbent.

    Stages, each stopped by the clock: first fit, best fit and MBS' packings; a tabu
    search for a packing meeting the L2 bound; the graph and its LP bound (column
    generation); perturbed MBS' and the tabu search aimed at that bound;
    price-and-branch over the maximal patterns of small reduced cost (SCIP); LP
    diving with price-and-branch on its residual problems; the
    integer flow program on ``backend`` with the time left. The result is the best
    packing found with the best bound proven.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {sorted(BACKENDS)}")
    start = time.perf_counter()
    _warm_kernels()
    # a margin for the last solver call to hand back and the packing to be mapped
    end = start + time_limit - min(1.0, 0.08 * time_limit)
    items = _items(problem)
    if items is None:
        return None
    n = problem.n
    bound = max(_lower_bound(items), min(n, 1))
    if bound > problem.m:
        return None
    incumbent = _greedy(items)
    if hint is not None:
        hinted = _patterns_from_hint(items, hint, n)
        if hinted is not None and len(hinted) < len(incumbent):
            incumbent = hinted
    stage = "heuristic"

    def result(status: str, patterns: list[list[int]] | None, arcs: int = 0):
        assignment, objective = _assign(items, patterns or [], n)
        if patterns is None or objective > problem.m:
            assignment, objective, status = np.full(n, -1, np.int64), None, "unknown"
        elif objective == bound:
            status = "optimal"
        return ArcflowResult(
            assignment, status, objective, bound,
            time.perf_counter() - start, stage, arcs,
        )

    def improve(target: int, share: float) -> None:
        """Perturbed MBS' then the tabu search for ``target`` bins, in ``share`` of
        the time left (at most ``_IMPROVE_SECONDS``)."""
        nonlocal incumbent, stage
        if len(incumbent) <= target:
            return
        now = time.perf_counter()
        until = now + min(share * max(end - now, 0.0), _IMPROVE_SECONDS)
        found = _perturbed_mbs(items, target, now + 0.2 * (until - now), seed, 50)
        if found is None:
            found = _target_search(items, incumbent, target, until, seed)
        if found is not None and len(found) < len(incumbent):
            incumbent, stage = found, "heuristic"

    improve(bound, 0.1)
    if len(incumbent) <= bound:
        return result("optimal", incumbent)
    from .colgen import KnapsackMaster, dive_rounds, graph_exceeds

    now = time.perf_counter()
    graph = None
    if not graph_exceeds(items, max_arcs):
        graph = _build(items, max_arcs, min(end, now + max(0.5, time_limit / 3)))
    if graph is None and items.cap.shape[0] > 1:
        return None
    if graph is None:
        # too large a graph: an LP bound as strong by column generation priced by a
        # knapsack, LP dives, then price-and-branch (the flow program needs the graph)
        master = KnapsackMaster(items, incumbent)
        relaxed, proven = _lp_bound(master, end)
        bound = max(bound, proven)
        if bound > problem.m:
            return None
        improve(bound, 0.1)
        if relaxed is None or len(incumbent) <= bound:
            return result("feasible", incumbent)
        duals = master.duals.copy()  # the dives re-solve the master on residuals
        now = time.perf_counter()
        dive_end = now + _DIVE_SHARE * max(end - now, 0.0)
        dived = dive_rounds(master, items, incumbent, bound, dive_end, seed)
        if dived is not None and len(dived) < len(incumbent):
            incumbent, stage = dived, "colgen-lp"
        if len(incumbent) > bound:
            found, too_few = _price_and_branch(items, duals, bound, end, seed)
            if found is not None and len(found) < len(incumbent):
                incumbent, stage = found, "colgen-pricing"
            if too_few:
                bound += 1
        return result("feasible", incumbent)

    master = _Master(graph, items, incumbent)
    relaxed, proven = _lp_bound(master, end)
    aimed, bound = bound, max(bound, proven)
    if bound > problem.m:
        return None
    if bound > aimed:  # the same search at the same bound would fail the same way
        improve(bound, 0.1)
    # price-and-branch over the patterns whose reduced cost fits the gap to the bound;
    # a complete enumeration with no packing proves the bound one higher
    for _ in range(2):
        if relaxed is None or len(incumbent) <= bound:
            break
        now = time.perf_counter()
        found, too_few = _price_and_branch(
            items, master.duals, bound, now + _PRICING_SHARE * max(end - now, 0.0), seed
        )
        if found is not None and len(found) < len(incumbent):
            incumbent, stage = found, "arcflow-pricing"
        if not too_few:
            break
        bound += 1
        if bound > problem.m:
            return None

    def flow_program(high: int, seconds: float) -> None:
        """The integer flow program for at most ``high`` machines over the arcs that
        reduced-cost fixing keeps, in at most ``seconds``."""
        nonlocal incumbent, stage, bound
        until = min(end, time.perf_counter() + seconds)
        model = _FlowModel.build(graph, items, high, until, duals)
        left = until - time.perf_counter()
        if model is None or left <= _FLOW_MIN_SECONDS:
            return
        outcome, flow, best = model.integer(
            _FLOW_LOW, high, backend, left, workers, seed
        )
        if outcome == "infeasible":
            bound = high + 1
        elif flow is not None:
            paths = _decompose(graph, flow)
            incumbent = [p for p, amount in paths for _ in range(round(amount))]
            stage = f"arcflow/{backend}"
            if outcome == "optimal":
                bound = max(bound, len(incumbent))
            else:
                bound = max(bound, min(math.ceil(best - _EPS), len(incumbent)))

    duals = master.duals.copy()  # the dives re-solve the master on residuals
    # an integral LP: a packing at the bound uses only paths of reduced cost zero,
    # so the fixed flow program is small and both finds it and proves there is none
    if relaxed is not None and len(incumbent) > bound and bound - relaxed < _TIGHT_GAP:
        now = time.perf_counter()
        flow_program(bound, _TIGHT_FLOW_SHARE * max(end - now, 0.0))
        if bound > problem.m:
            return None
    # dives with one and with several new columns per round find different packings;
    # they keep the whole time when the flow program would not get its minimum after
    now = time.perf_counter()
    dive_end = now + _DIVE_SHARE * max(end - now, 0.0)
    if end - dive_end <= 2 * _FLOW_MIN_SECONDS:
        dive_end = end
    for per_round in (_COLUMNS_PER_ROUND, 1, _COLUMNS_PER_ROUND, 1):
        if relaxed is None or len(incumbent) <= bound or time.perf_counter() > dive_end:
            break
        master.per_round = per_round
        dived = _dive(master, items, bound, dive_end, seed)
        if dived is not None and len(dived) < len(incumbent):
            incumbent, stage = dived, "arcflow-lp"
        elif dived is not None and len(incumbent) > bound:
            # the tabu search again, from the LP-shaped packing
            now = time.perf_counter()
            until = now + 0.3 * max(end - now, 0.0)
            found = _target_search(items, dived, bound, until, seed + per_round)
            if found is not None:
                incumbent, stage = found, "arcflow-lp"
    if len(incumbent) <= bound:
        return result("optimal", incumbent, graph.size)
    # ask for a packing strictly better than the incumbent, no better than the bound;
    # the solvers' presolve overruns short time limits: skip the program then
    if end - time.perf_counter() > 2 * _FLOW_MIN_SECONDS:
        flow_program(min(len(incumbent), problem.m + 1) - 1, end - time.perf_counter())
        if bound > problem.m:
            return None
    return result("feasible", incumbent, graph.size)
