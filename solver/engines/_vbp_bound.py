"""Column generation lower bound for vector packing on identical machines.

The set-covering model (one column per feasible machine content, minimise the
columns used while every container type is covered) has an LP relaxation that is
usually within one machine of the optimum (Caprara & Toth, 2001). It is solved by
column generation: GLOP solves the restricted master, and the pricing problem, a
d-dimensional bounded knapsack, is solved by
:func:`~solver.engines._vbp_kernels.knapsack` with a node budget, after cheaper
columns: greedy packings under the duals, and neighbours of the master's basis (one
item type out, the room refilled greedily), which near the LP optimum supply most
improving columns for a fraction of a knapsack call. Whatever the
state of the search, the duals ``pi`` give Farley's bound ``u.pi / z`` with ``z``
any upper bound on the knapsack maximum, so the bound is valid at any deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from queue import Empty, SimpleQueue

import numpy as np
from ortools.linear_solver import pywraplp

from . import _vbp_kernels as kernels
from ._master import PatternMaster

#: Knapsack nodes per pricing call, the factor by which the budget grows when it
#: cuts the pricing that would prove the LP optimal, and the most it grows to.
NODES = 200_000
_GROW = 4
MAX_NODES = 50_000_000
#: Fewest knapsack nodes worth a pricing call: a call gets only the nodes that the
#: time left allows, at the slowest speed seen (with 10 dimensions a full budget
#: takes most of a second).
NODES_MIN = 1_000
#: Slack under the fractional bound before rounding up.
EPS = 1e-6
#: Reduced cost a column must reach to enter the master.
_ENTER = 1e-7
#: Reduced cost after which the pricing search may stop early (a column good enough
#: to move the master on).
_GOOD = 0.02
#: Weight of the best duals so far in the duals the pricing sees, and the pricing
#: calls in a row without an improving column after which the master's own duals
#: are priced.
SMOOTH = 0.3
_MISSES = 3
#: Weight of the best duals in the second point priced in a round when another
#: thread lends its core (:meth:`LPWatch.lend`): nearer the stability center than
#: the first, so that the two calls give different columns and bounds.
SMOOTH_SECOND = 0.65
#: Further improving columns a pricing call may hand back, and the knapsack value
#: above which it keeps them (a pricing call near the LP optimum costs a full node
#: budget, so it should hand back many).
_MORE = 32
KEEP = 1.0 + _ENTER
#: Machine contents of each greedy packing offered to the master in a round: more
#: columns per round, fewer master solves.
_CHAIN = 16
#: GLOP parameters for a master re-solved after every few added columns: presolve
#: and the steepest-edge norms are rebuilt on every solve, which costs more than
#: the few simplex iterations from the last basis (about half of each solve with
#: 500 container types).
RESOLVE_PARAMETERS = (
    "use_preprocessing: false, feasibility_rule: DEVEX, optimization_rule: DEVEX"
)


@dataclass
class LPBound:
    """Farley bound of the column generation (float, machines), whether the LP was
    solved to optimality, and the master's columns (type counts, C x T) with their
    LP values; ``types`` (T x d) and ``counts`` (T) describe the container types
    and ``kind`` (n) maps each container to its type. ``duals`` (T) are the dual
    solution behind ``bound``: no pattern is worth more than 1 under them, and
    ``counts @ duals == bound``. ``settled``: the LP is optimal, or the bound rounds
    up to the same machines as the master's value (more columns cannot raise it).
    ``node_seconds``: the most seconds per knapsack node a pricing call took, so
    that later calls can size their budget to the time left."""

    bound: float
    optimal: bool
    columns: np.ndarray
    values: np.ndarray
    types: np.ndarray
    counts: np.ndarray
    kind: np.ndarray
    duals: np.ndarray
    settled: bool = False
    node_seconds: float = 0.0


#: Seconds between looks at another thread's state.
_POLL = 0.01


class LPWatch:
    """A column generation seen from another thread: the master's value after its
    latest solve, and a copy of its LP as it stands (:meth:`copy`), so that dives
    can start long before the LP is solved; the master's value only bounds the LP
    optimum from above, but its solution already points to good machine contents.
    A thread with nothing better to do can also lend its core to the pricing
    (:meth:`lend`)."""

    def __init__(self) -> None:
        self.value = np.inf
        self._wanted = threading.Event()
        self._ready = threading.Event()
        self._copy: LPBound | None = None
        self._lent = False
        self._lock = threading.Lock()
        self._jobs: SimpleQueue = SimpleQueue()

    def solved(self, value: float, current: Callable[[], LPBound]) -> None:
        """Called by the column generation after each master solve: ``current``
        makes the copy when one is wanted."""
        self.value = value
        if self._wanted.is_set():
            self._copy = current()
            self._wanted.clear()
            self._ready.set()

    def _machines(self) -> float:
        """Machines the master's value rounds up to (infinite before a solve)."""
        return machines(self.value) if np.isfinite(self.value) else np.inf

    def below(self, used: int) -> bool:
        """The master's value rounds up to fewer than ``used`` machines."""
        return self._machines() < used

    def meets(self, used: int) -> bool:
        """The master's value rounds up to ``used`` machines."""
        return self._machines() == used

    def lend(self, used: int, ended: Callable[[], bool]) -> None:
        """Run the LP's second pricing calls (:meth:`beside`) in the calling thread
        while the master rounds up to ``used`` machines (a packing in hand that
        only the proof is missing for) and ``ended()`` stays false."""
        with self._lock:
            self._lent = True
        try:
            while self.meets(used) and not ended():
                with suppress(Empty):
                    self._run(self._jobs.get(timeout=_POLL))
        finally:
            with self._lock:
                self._lent = False
            # calls handed over before the loan ended are still owed
            while not self._jobs.empty():
                self._run(self._jobs.get())

    @staticmethod
    def _run(job: tuple[Future, Callable, tuple]) -> None:
        done, call, args = job
        try:
            done.set_result(call(*args))
        except BaseException as error:  # handed to the caller of result()
            done.set_exception(error)

    def beside(self, call: Callable, *args) -> Future | None:
        """``call(*args)`` run by the thread that lends its core, or None when no
        thread does."""
        with self._lock:
            if not self._lent:
                return None
            done: Future = Future()
            self._jobs.put((done, call, args))
            return done

    def copy(self, ended: Callable[[], bool]) -> LPBound | None:
        """The LP after the master's next solve; None if ``ended()`` turns true
        first (the column generation is over)."""
        self._ready.clear()
        self._wanted.set()
        while not self._ready.wait(_POLL):
            if ended():
                self._wanted.clear()
                return None
        return self._copy


def machines(bound: float) -> int:
    """Whole machines a fractional bound guarantees (rounding noise allowed for)."""
    return int(np.ceil(bound - EPS))


def _columns_of(kind: np.ndarray, assign: np.ndarray, n_types: int) -> np.ndarray:
    """Type counts of every bin of ``assign`` (one row per bin used)."""
    bins, local = np.unique(assign, return_inverse=True)
    cols = np.zeros((bins.shape[0], n_types), np.int64)
    np.add.at(cols, (local.reshape(-1), kind), 1)
    return cols


def _greedy(
    at: np.ndarray,
    pi: np.ndarray,
    types: np.ndarray,
    counts: np.ndarray,
    cap: np.ndarray,
    chain: np.ndarray,
    enter: Callable[[np.ndarray], None],
) -> bool:
    """Greedy packings (rows of ``chain``) for the duals ``at`` and ``pi``: their
    machine contents that improve the master (for ``pi``) enter; True if any did.
    (A content already in the solved master cannot improve it, so only repeats
    within this round are skipped.)"""
    seen: set[bytes] = set()
    for duals in (at, pi):
        for peak in (False, True):
            filled = kernels.greedy_columns(duals, types, counts, cap, peak, chain)
            for col in chain[:filled]:
                key = col.tobytes()
                if float(col @ pi) > 1.0 + _GOOD and key not in seen:
                    seen.add(key)
                    enter(col.copy())
    return bool(seen)


#: Distance from 1 within which a column's value counts as the basis's.
_TIGHT = 1e-6


class _Sparse:
    """The master's columns as a growing sparse list (type, count), so that every
    column's value under new duals costs one pass over a few entries each."""

    def __init__(self, n_types: int) -> None:
        self.n_types = n_types
        self.types = np.zeros(1024, np.int64)
        self.counts = np.zeros(1024, np.int64)
        self.ends = [0]

    def append(self, col: np.ndarray) -> None:
        at = np.flatnonzero(col)
        start, stop = self.ends[-1], self.ends[-1] + at.shape[0]
        if stop > self.types.shape[0]:
            self.types = np.resize(self.types, 2 * stop)
            self.counts = np.resize(self.counts, 2 * stop)
        self.types[start:stop] = at
        self.counts[start:stop] = col[at]
        self.ends.append(stop)

    def tight(self, pi: np.ndarray) -> np.ndarray:
        """The columns worth 1 under ``pi`` (int64, K x T)."""
        ends = np.asarray(self.ends)
        nnz = ends[-1]
        if nnz == 0:
            return np.zeros((0, self.n_types), np.int64)
        worth = np.add.reduceat(pi[self.types[:nnz]] * self.counts[:nnz], ends[:-1])
        rows = np.flatnonzero(np.abs(worth - 1.0) <= _TIGHT)
        sizes = ends[rows + 1] - ends[rows]
        row = np.repeat(np.arange(rows.shape[0]), sizes)
        first = ends[rows] - np.cumsum(sizes) + sizes
        entry = np.arange(row.shape[0]) + np.repeat(first, sizes)
        out = np.zeros((rows.shape[0], self.n_types), np.int64)
        out[row, self.types[entry]] = self.counts[entry]
        return out


def _swaps(
    pi: np.ndarray,
    types: np.ndarray,
    counts: np.ndarray,
    cap: np.ndarray,
    sparse: _Sparse,
    out: np.ndarray,
    enter: Callable[[np.ndarray], None],
) -> bool:
    """Neighbours of the master's columns of zero reduced cost (its basis and its
    ties) under ``pi``, one item type out and the room refilled greedily: those that
    improve the master enter; True if any did. Near the LP optimum the improving
    columns are mostly such neighbours, and finding them costs far less than a
    knapsack call."""
    tight = sparse.tight(pi)
    filled = kernels.swap_columns(pi, types, counts, cap, tight, KEEP, out)
    new = {col.tobytes(): col for col in out[:filled]}
    for col in new.values():
        enter(col.copy())
    return bool(new)


def _price(
    duals: np.ndarray,
    types: np.ndarray,
    ub: np.ndarray,
    cap: np.ndarray,
    nodes: int,
    out: np.ndarray,
    more: np.ndarray,
) -> tuple[float, float, int, int]:
    """The pricing knapsack under ``duals``: machine contents worth more than 1
    (within ``ub`` copies per type), the best in ``out`` and more in ``more``;
    returns the kernel's (value, upper bound, rows of ``more`` filled, nodes)."""
    return kernels.knapsack(
        duals, types, ub, cap, nodes, 1.0 + _GOOD, out, more, KEEP, 1.0
    )


def _compile_pricing(
    duals: np.ndarray, types: np.ndarray, counts: np.ndarray, cap: np.ndarray
) -> None:
    """One pricing call of a single node, untimed: the first call in a process
    compiles the knapsack (seconds on a fresh install) or loads it from the cache,
    and a timed call would take that for the speed of its nodes and starve every
    later call's budget."""
    _price(
        np.ascontiguousarray(duals[:1]),
        types[:1],
        counts[:1],
        cap,
        1,
        np.zeros(1, np.int64),
        np.zeros((1, 1), np.int64),
    )


def _nodes_in(left: float, node_seconds: float, most: int) -> int:
    """Knapsack nodes, ``most`` at the most, that a pricing call may take in
    ``left`` seconds at the slowest speed seen so far (``node_seconds``, 0 while
    unknown; a call with 10 dimensions can take most of a second); 0 when too few
    to be worth a call."""
    if left <= 0.0:
        return 0
    if node_seconds <= 0.0 or left >= most * node_seconds:
        return most
    nodes = int(left / node_seconds)
    return nodes if nodes >= NODES_MIN else 0


def _slowest(node_seconds: float, spent: float, searched: int) -> float:
    """The slowest seconds per knapsack node so far, with a call that searched
    ``searched`` nodes in ``spent`` seconds (calls too short to time left out: a
    call that finds a good column early stops after a hundredth of its budget)."""
    if searched < NODES_MIN:
        return node_seconds
    return max(node_seconds, spent / searched)


def _entering(
    pi: np.ndarray, out: np.ndarray, more: np.ndarray, found: int
) -> list[np.ndarray]:
    """Copies of the priced columns that improve the master under ``pi``: ``out``
    and the other distinct ones of ``more``; none when ``out`` does not."""
    if float(out @ pi) <= 1.0 + _ENTER:
        return []
    return [
        col.copy()
        for col in (out, *more[:found])
        if float(col @ pi) > 1.0 + _ENTER
        and (col is out or not np.array_equal(col, out))
    ]


def column_generation(
    req: np.ndarray,
    cap: np.ndarray,
    start: np.ndarray | None = None,
    deadline: float | Callable[[], float] | None = None,
    nodes: int = NODES,
    max_iter: int = 100_000,
    target: int | Callable[[], int] | None = None,
    settle: bool = False,
    stop: Callable[[], bool] | None = None,
    watch: LPWatch | None = None,
) -> LPBound:
    """The LP bound of the set-covering model for ``req`` (int64, n x d, each row
    within ``cap``) in bins of capacity ``cap`` (int64, d), by column generation
    from the bins of ``start`` (an assignment, int64 n; bin-centric packing when
    None) until the LP is optimal, ``max_iter`` rounds, ``deadline``
    (``time.perf_counter`` instant, or a function giving it, read every round; no
    pricing call runs past it) or ``stop()``; with ``settle``, also as soon as
    the bound rounds up to the same machines as the master's value, since the LP
    optimum lies between the two (this skips the slow tail of column generation).
    ``target`` (machines of a packing in hand, or a function giving them as a
    search in another thread improves it): stop once the bound proves it optimal.
    ``watch`` hears the master's value after every solve and hands out copies;
    while a thread lends its core through it, every knapsack call has a second
    one beside it, at duals nearer the best so far: a tail of exact pricing calls
    is most of the time to a proof."""
    req = np.ascontiguousarray(req, dtype=np.int64)
    cap = np.ascontiguousarray(cap, dtype=np.int64)
    types, kind, counts = np.unique(
        req, axis=0, return_inverse=True, return_counts=True
    )
    types = np.ascontiguousarray(types, dtype=np.int64)
    kind = kind.reshape(-1).astype(np.int64)
    counts = counts.astype(np.int64)
    n_types = types.shape[0]
    scaled = types / np.maximum(cap, 1)
    # each dimension's volume is a dual solution whose knapsack value is at most 1:
    # the largest one is the first stability center
    volume = (scaled * counts[:, None]).sum(axis=0)
    center = np.ascontiguousarray(scaled[:, int(np.argmax(volume))])
    best = float(max(volume.max(), 0.0))
    best_duals = center.copy()
    if start is None:
        share = np.ascontiguousarray(req / np.maximum(cap, 1), dtype=np.float64)
        start = kernels.bin_centric(req, cap, share, np.ones(req.shape[1]), 0)
    cols: list[np.ndarray] = []
    master = PatternMaster(counts, [], parameters=RESOLVE_PARAMETERS)
    lp = master.lp

    sparse = _Sparse(n_types)

    def enter(col: np.ndarray) -> None:
        cols.append(col)
        sparse.append(col)
        master.add_counts(col)

    for col in _columns_of(kind, np.asarray(start, np.int64), n_types):
        enter(col)
    _compile_pricing(center, types, counts, cap)
    out = np.zeros(n_types, np.int64)
    more = np.zeros((_MORE, n_types), np.int64)
    chain = np.zeros((_CHAIN, n_types), np.int64)
    # the second pricing call's columns, when another thread lends its core
    out_beside = np.zeros(n_types, np.int64)
    more_beside = np.zeros((_MORE, n_types), np.int64)
    optimal = settled = False
    solved = np.zeros(0)
    misses = 0
    node_seconds = 0.0

    def settles() -> bool:
        """The bound rounds up like the master's value (asked for by ``settle``)."""
        return settle and machines(best) >= machines(lp.Objective().Value())

    def current() -> LPBound:
        """The LP as it stands, right after a master solve."""
        return LPBound(
            best,
            False,
            np.array(cols, np.int64),
            solved,
            types,
            counts,
            kind,
            best_duals,
            False,
            node_seconds,
        )

    def time_left() -> float:
        """Seconds to the deadline (infinite without one)."""
        if deadline is None:
            return np.inf
        return (deadline() if callable(deadline) else deadline) - time.perf_counter()

    for _ in range(max_iter):
        if time_left() <= 0.0:
            break
        goal = target() if callable(target) else target
        if goal is not None and machines(best) >= goal:
            break
        if stop is not None and stop():
            break
        if misses == 0:
            if np.isfinite(left := time_left()):
                # a master solve can take most of a second with 500 types
                lp.SetTimeLimit(max(1, int(1000 * left)))
            if lp.Solve() != pywraplp.Solver.OPTIMAL:
                break
            solved, pi = master.solution()
            if watch is not None:
                watch.solved(lp.Objective().Value(), current)
            if settles():
                settled = True
                break
        # Wentges smoothing: price between the best duals so far and the master's
        exact = misses >= _MISSES
        at = pi if exact else SMOOTH * center + (1.0 - SMOOTH) * pi
        if misses == 0 and _greedy(at, pi, types, counts, cap, chain, enter):
            continue
        if misses == 0 and _swaps(pi, types, counts, cap, sparse, more, enter):
            continue
        began = time.perf_counter()
        budget = _nodes_in(time_left(), node_seconds, nodes)
        if budget == 0:
            break
        near = SMOOTH_SECOND * center + (1.0 - SMOOTH_SECOND) * pi
        second = None
        if watch is not None:
            second = watch.beside(
                _price, near, types, counts, cap, budget, out_beside, more_beside
            )
        value, upper, found, searched = _price(
            at, types, counts, cap, budget, out, more
        )
        spent = time.perf_counter() - began
        node_seconds = _slowest(node_seconds, spent, searched)
        priced = [(at, upper)]
        entering = _entering(pi, out, more, found)
        if second is not None:
            _, upper_beside, found_beside, _ = second.result()
            priced.append((near, upper_beside))
            seen = {col.tobytes() for col in entering}
            entering += [
                col
                for col in _entering(pi, out_beside, more_beside, found_beside)
                if col.tobytes() not in seen
            ]
        for duals, bound_on_max in priced:
            farley = float(counts @ duals) / max(bound_on_max, 1.0)
            if farley > best:
                best = farley
                best_duals = duals / max(bound_on_max, 1.0)
                center = duals
        if settles():
            settled = True
            break
        if entering:
            for col in entering:
                enter(col)
            misses = 0
        elif exact:
            optimal = value <= 1.0 + _ENTER and upper <= 1.0 + _ENTER
            if optimal:
                break
            # the budget cut the proof short: a larger one, if the clock allows
            larger = min(_GROW * nodes, MAX_NODES)
            if np.isfinite(left := time_left()):
                larger = min(larger, int(budget * left / max(spent, 1e-6)))
            if larger <= nodes:
                break
            nodes = larger
        else:
            center = at
            misses += 1
    # the last solve's values, columns added since then at 0 (no further solve:
    # near the deadline one can take most of a second)
    values = np.zeros(len(cols))
    values[: solved.shape[0]] = solved
    return LPBound(
        best,
        optimal,
        np.array(cols, np.int64),
        values,
        types,
        counts,
        kind,
        best_duals,
        settled or optimal,
        node_seconds,
    )


#: LP value of what is left below which a dive hands the rest to the pool search.
DIVE_REST = 2.0
#: Least LP value of a machine content that a dive fixing several at once rounds up.
ROUND_UP = 0.6
#: Pricing rounds after each fixing step, when fixing several contents or one (one
#: at a time, a step prices only when the path seems dead, as below: dives at the
#: bound then succeed more often, at a fraction of the cost per step).
_DIVE_ROUNDS = (3, 0)
#: Most pricing rounds a dive spends to see whether a path that seems to need too
#: many machines really does (its few rounds per step overstate the LP).
CONFIRM_ROUNDS = 20
#: Further columns a dive's pricing call hands back: a dive prices only a few rounds
#: per step, and every column makes its re-solves dearer.
_DIVE_MORE = 8
#: GLOP parameters for a dive's master, re-solved after every step with lower
#: demands: its last basis stays dual feasible, so the dual simplex from it (with no
#: presolve, which would rebuild the problem) takes 2-4 ms a step with 500 container
#: types, against 4-9 ms with GLOP's defaults.
DIVE_PARAMETERS = "use_preprocessing: false, use_dual_simplex: true"
#: Most columns times container types of the LP a Diver starts from: its first
#: solve is from scratch, and takes most of a second on 2,800 columns of 500 types.
DIVE_SIZE = 500_000


def _dive_columns(lp: LPBound) -> np.ndarray:
    """The LP's columns a Diver starts from: those of positive LP value, then the
    cheapest under the bound's duals, ``DIVE_SIZE`` over the types in all."""
    limit = DIVE_SIZE // lp.types.shape[0]
    if lp.columns.shape[0] <= limit:
        return lp.columns
    cost = 1.0 - lp.columns @ lp.duals
    cost[lp.values > EPS] = -np.inf
    return lp.columns[np.sort(np.argsort(cost, kind="stable")[:limit])]


class Diver:
    """LP dives with re-optimisation over the columns of a solved LP (``lp``): the
    machine contents the LP uses are fixed step by step, and the LP over what is
    left is re-solved after each step (priced when several were fixed, or when the
    path seems dead). Unlike rounding the first LP solution once, every step sees
    the containers still open."""

    def __init__(self, lp: LPBound, cap: np.ndarray) -> None:
        self.types, self.counts = lp.types, lp.counts
        self.cap = np.ascontiguousarray(cap, dtype=np.int64)
        self.node_seconds = lp.node_seconds
        self.master = PatternMaster(self.counts, [], parameters=DIVE_PARAMETERS)
        self.cols: list[np.ndarray] = []
        for col in _dive_columns(lp):
            self._add(col)

    def _add(self, col: np.ndarray) -> None:
        self.cols.append(col.copy())
        self.master.add_counts(col)

    def _budget(self, deadline: float) -> int:
        """Knapsack nodes a pricing call may take before ``deadline`` (see
        :func:`_nodes_in`)."""
        return _nodes_in(deadline - time.perf_counter(), self.node_seconds, NODES)

    def _resolve(
        self,
        demands: np.ndarray,
        rounds: int,
        deadline: float,
        goal: int | None = None,
    ) -> bool:
        """The LP over ``demands`` with ``rounds`` pricing rounds, fewer when
        ``deadline`` leaves no time for them or no column improves. Given ``goal``,
        while the master's value then rounds up to more than ``goal`` machines, up
        to ``CONFIRM_ROUNDS`` more, until Farley's bound proves it: a master priced
        this little overstates the LP, and a dive must not give up a path on that.
        False when GLOP fails."""
        master, n_types = self.master, self.types.shape[0]
        out = np.zeros(n_types, np.int64)
        more = np.zeros((_DIVE_MORE, n_types), np.int64)
        last = rounds + (0 if goal is None else CONFIRM_ROUNDS)
        master.set_demands(demands)
        for r in range(last + 1):
            if master.lp.Solve() != pywraplp.Solver.OPTIMAL:
                return False
            if r >= rounds and (
                goal is None or machines(master.objective.Value()) <= goal
            ):
                break
            nodes = self._budget(deadline)
            if r == last or nodes == 0:
                break
            pi = master.row_duals()
            began = time.perf_counter()
            _, upper, found, searched = _price(
                pi, self.types, demands, self.cap, nodes, out, more
            )
            spent = time.perf_counter() - began
            self.node_seconds = _slowest(self.node_seconds, spent, searched)
            farley = demands @ pi / max(upper, 1.0)
            if goal is not None and r >= rounds and machines(farley) > goal:
                break
            entering = _entering(pi, out, more, found)
            if not entering:
                break
            for col in entering:
                self._add(col)
        return True

    def _picks(
        self,
        values: np.ndarray,
        demands: np.ndarray,
        several: bool,
        noise: np.ndarray,
        tabu: frozenset[int],
    ) -> list[tuple[int, int]]:
        """Columns to fix at one step, with copies: those the LP uses whole, else
        the largest by (perturbed) LP value and, with ``several``, every further one
        of value at least ``ROUND_UP`` that fits what is left; never a ``tabu`` one."""
        whole = np.flatnonzero(values >= 1.0 - EPS).tolist()
        picks = [(k, int(np.floor(values[k] + EPS))) for k in whole if k not in tabu]
        if picks:
            return picks
        left = demands.copy()
        for k in np.argsort(-values * noise, kind="stable").tolist():
            if k in tabu:
                continue
            if values[k] <= EPS or (picks and (not several or values[k] < ROUND_UP)):
                break
            if not picks or (self.cols[k] <= left).all():
                picks.append((k, 1))
                left = np.maximum(left - self.cols[k], 0)
        return picks

    def dives(
        self,
        target: int,
        deadline: float,
        several: bool,
        seed: int = 0,
        discrepancies: int = 0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[np.ndarray]:
        """Machine contents (type counts, one row each) fixed by dives, each
        leaving what the LP packs into at most ``DIVE_REST`` machines; a dive stops
        where the LP over what is left shows that ``target`` machines cannot be
        met. Limited discrepancy search (Sadykov et al., 2019): after a dead end the
        search backs up and fixes the next column instead of the first, which stays
        tabu below, at most ``discrepancies`` times along a path. ``several``: every
        content of LP value at least ``ROUND_UP`` that fits what is left is fixed at
        once, else only the largest (when none is used whole); ``seed`` > 0
        perturbs the LP values compared. Ends at ``deadline`` or when ``stop()``
        turns true."""
        rng = np.random.default_rng(seed)
        rounds = _DIVE_ROUNDS[0 if several else 1]

        def descend(
            demands: np.ndarray,
            fixed: list[np.ndarray],
            tabu: frozenset[int],
            spare: int,
        ) -> Iterator[np.ndarray]:
            if (
                time.perf_counter() >= deadline
                or (stop is not None and stop())
                or not self._resolve(demands, rounds, deadline, target - len(fixed))
            ):
                return
            rest = float(self.master.objective.Value())
            if len(fixed) + machines(rest) > target:
                return
            if rest <= DIVE_REST or not demands.any():
                yield np.array(fixed, np.int64).reshape(-1, self.types.shape[0])
                return
            values = self.master.values()
            noise = np.ones(values.shape[0])
            if seed:
                noise += 0.1 * rng.random(values.shape[0])
            for tried in range(spare + 1):
                picks = self._picks(values, demands, several, noise, tabu)
                if not picks:
                    return
                rest_demands, more = demands.copy(), list(fixed)
                for k, copies in picks:
                    for _ in range(copies):
                        col = np.minimum(self.cols[k], rest_demands)
                        if not col.any():
                            break
                        more.append(col)
                        rest_demands = rest_demands - col
                yield from descend(rest_demands, more, tabu, spare - tried)
                tabu = tabu | {picks[0][0]}

        try:
            yield from descend(self.counts.copy(), [], frozenset(), discrepancies)
        finally:
            self.master.set_demands(self.counts)
