"""Vector packing on identical machines: constructive heuristics, then pool search.

Used by the ``cpsat`` engine before its exact models: bin-centric packings (dot
product, norm, size, with uniform and demand weighted dimensions) give a start, and
:func:`improve` then removes one machine at a time (the lightest one's containers go
to a pool that :func:`~solver.engines._vbp_kernels.pool_search` packs into the
others) until the lower bound or the deadline is reached. As in consistent
neighbourhood search, the two next lightest machines are emptied too and the search
only has to leave a pool that fits two machines.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..model import UP, Problem
from . import _vbp_kernels as kernels
from ._vbp_bound import Diver, LPBound, LPWatch, column_generation, machines

#: Iterations of the first pool search call; later calls are sized from its speed.
_FIRST_CHUNK = 200
_CHUNK_SECONDS = 0.05
_TENURE = 7
#: Weight added per iteration in the pool, relative to an item's size.
BUMP = 0.01
#: Calls without a lighter pool after which the search restarts differently.
_STALE_CHUNKS = 10
#: Failed attempts in a row (other weights, other emptied machine) before giving up.
ATTEMPTS = 4
#: Bins besides the target that take the pool at the end (the search works on
#: the rest), as in consistent neighbourhood search.
SPARE = 2
#: Times each LP dive may back up and fix another machine content along a path.
DISCREPANCIES = 1


def applies(problem: Problem) -> bool:
    """True for plain vector packing (two or more dimensions; one-dimensional bin
    packing has its own heuristics in the arc-flow engine): identical up machines, no
    placement rules."""
    mach = problem.machines
    return bool(
        problem.d > 1
        and problem.m > 0
        and problem.n > 1
        and not problem.has_constraints
        and (mach.state == UP).all()
        and not mach.gpus.any()
        and (mach.capacity == mach.capacity[0]).all()
        and (problem.requests <= mach.capacity[0]).all()
    )


def _arrays(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Requests, capacity and request shares as contiguous arrays."""
    req = np.ascontiguousarray(problem.requests, dtype=np.int64)
    cap = np.ascontiguousarray(problem.machines.capacity[0], dtype=np.int64)
    share = np.ascontiguousarray(req / np.maximum(cap, 1), dtype=np.float64)
    return req, cap, share


def _used(assign: np.ndarray) -> int:
    """Machines an assignment uses."""
    return int(np.unique(assign).shape[0])


def constructive(problem: Problem) -> np.ndarray | None:
    """The best of the bin-centric packings (fewest machines, machines 0..k-1);
    None when none of them is complete."""
    req, cap, share = _arrays(problem)
    demand = share.sum(axis=0)
    weightings = [np.ones(problem.d), demand / max(float(demand.max()), 1e-12)]
    best = None
    for dim_weight in weightings:
        w = np.ascontiguousarray(dim_weight, dtype=np.float64)
        for rule in (kernels.DOT, kernels.NORM, kernels.SIZE):
            a = kernels.bin_centric(req, cap, share, w, rule)
            if (a < 0).any():
                continue
            if best is None or _used(a) < _used(best):
                best = a
    return best


def _drop_lightest(
    assign: np.ndarray, weight: np.ndarray, pick: int, spare: int = 0
) -> tuple[np.ndarray, int]:
    """The ``pick``-th lightest bin and the ``spare`` lightest others emptied into
    the pool (-1), the k-1-spare bins left renumbered from 0; also returns
    k-1-spare."""
    bins, local = np.unique(assign, return_inverse=True)
    local = local.reshape(-1)
    k = bins.shape[0]
    load = np.bincount(local, weights=weight, minlength=k)
    order = np.argsort(load, kind="stable")
    first = min(pick, k - 1)
    drop = np.zeros(k, bool)
    drop[order[first]] = True
    drop[[b for b in order if b != order[first]][:spare]] = True
    keep = np.cumsum(~drop) - 1
    out = np.where(drop[local], -1, keep[local])
    return out.astype(np.int64), k - 1 - spare


def _search(
    req: np.ndarray,
    cap: np.ndarray,
    weight: np.ndarray,
    cur: np.ndarray,
    target: int,
    deadline: float,
    rng: np.random.Generator,
    bump: float = BUMP,
    spare: int = 0,
    stop: Callable[[], bool] | None = None,
) -> np.ndarray | None:
    """A packing into ``target`` bins from ``cur`` (-1 = pool), plus ``spare``
    bins that take the pool at the end, or None when the pool search stalls or
    ``deadline`` passes (or ``stop()`` turns true) first."""
    best = cur.copy()
    memory = np.zeros((3, cur.shape[0]), np.int64)
    memory[1] = -1
    dyn = weight.copy()
    pool_w = float(weight[cur < 0].sum())
    state = np.array([0, int(rng.integers(1, 2**62)), int(pool_w * 1e6)], np.int64)
    chunk = _FIRST_CHUNK
    last = (int((cur < 0).sum()), pool_w)
    stale = 0
    while time.perf_counter() < deadline and not (stop is not None and stop()):
        t0 = time.perf_counter()
        left = kernels.pool_search(
            req,
            cap,
            weight,
            dyn,
            bump,
            cur,
            best,
            target,
            spare,
            chunk,
            _TENURE,
            memory,
            state,
        )
        if left == 0:
            return best
        spent = time.perf_counter() - t0
        chunk = max(10, int(chunk * _CHUNK_SECONDS / max(spent, 1e-4)))
        now = (left, state[2] / 1e6 + 1e-9)
        stale = 0 if now < last else stale + 1
        last = min(last, now)
        if stale >= _STALE_CHUNKS:
            return None
    return None


def improve(
    problem: Problem,
    start: np.ndarray,
    lower: int,
    deadline: float,
    seed: int = 0,
    attempts: int | None = ATTEMPTS,
    stop: Callable[[], bool] | None = None,
    on_better: Callable[[int], None] | None = None,
) -> np.ndarray:
    """A packing on fewer machines than ``start`` when the search finds one before
    ``deadline`` (a ``time.perf_counter`` instant), ``attempts`` stalls in a row
    (None: no such limit) or ``stop()`` turns true; machines are numbered from 0.
    ``on_better`` hears the machines of every better packing as it is found."""
    req, cap, share = _arrays(problem)
    demand = share.sum(axis=0)
    tight = demand / max(float(demand.max()), 1e-12)
    best = np.unique(np.asarray(start, np.int64), return_inverse=True)[1].reshape(-1)
    best = best.astype(np.int64)
    rng = np.random.default_rng(seed)
    attempt = 0
    while (
        _used(best) > max(lower, 1)
        and (attempts is None or attempt < attempts)
        and time.perf_counter() < deadline
        and not (stop is not None and stop())
    ):
        # alternate plain and tightness weighted sizes; the emptied bin varies
        dim_w = tight if attempt % 2 else np.ones(problem.d)
        weight = np.ascontiguousarray(share @ dim_w, dtype=np.float64)
        k = _used(best)
        spare = SPARE if k - 1 - SPARE >= 1 else 0
        cur, target = _drop_lightest(best, weight, attempt // 2 % 3, spare)
        bump = BUMP if attempt % 2 else 0.0
        found = _search(req, cap, weight, cur, target, deadline, rng, bump, spare, stop)
        if found is not None:
            best = found
            attempt = 0
            if on_better is not None:
                on_better(_used(best))
        else:
            attempt += 1
    return best


def search_beside_lp(
    problem: Problem,
    start: np.ndarray,
    lower: int,
    deadline: float,
    seed: int = 0,
    proof_deadline: float | None = None,
) -> tuple[np.ndarray, LPBound]:
    """The column generation LP bound computed in a second thread while this one
    improves ``start`` (their kernels and GLOP release the GIL): the pool search,
    and whenever it stalls and the LP's master rounds up below the packing in hand,
    LP dives on a copy of the LP as it stands. The search stops when the LP ends,
    the LP when its bound meets the search's packing or the search reaches
    ``lower``, both by ``deadline``; the LP goes on to ``proof_deadline`` (when
    later) once the packing meets its master, as only the proof is then missing
    (and this thread then prices beside the LP's). Returns the best packing and
    the LP."""
    first = np.asarray(start, np.int64)
    held = [_used(first)]
    lp_ended, search_ended = threading.Event(), threading.Event()
    watch = LPWatch()
    last = deadline if proof_deadline is None else max(deadline, proof_deadline)

    def lp_deadline() -> float:
        """``deadline``, or the later one while the master rounds up to the packing
        in hand: only the proof is then missing (a master above it is far from the
        optimum, one below points to a better packing)."""
        return last if watch.meets(held[0]) else deadline

    def bound() -> LPBound:
        try:
            return column_generation(
                problem.requests,
                problem.machines.capacity[0],
                first,
                deadline=lp_deadline,
                target=lambda: held[0],
                stop=search_ended.is_set,
                watch=watch,
            )
        finally:
            lp_ended.set()

    def better(used: int) -> None:
        held[0] = used

    with ThreadPoolExecutor(1) as pool:
        lp = pool.submit(bound)
        try:
            best = _search_and_dive(
                problem, first, lower, last, seed, watch, lp_ended.is_set, better
            )
        finally:
            search_ended.set()
        return best, lp.result()


#: LP dives (of each kind) on a copy of an LP still being solved, each time the
#: pool search beside it stalls.
EARLY_DIVES = 2
#: Failed attempts after which the pool search beside the LP counts as stalled:
#: each of the three lightest machines emptied, with both weightings; and the
#: share of the time left after which it stops to look at the LP all the same.
_CYCLE = 6
_SLICES = 4
#: Share of the time left after which the dives on a copy of the LP stop.
_DIVE_SLICES = 2


def _search_and_dive(
    problem: Problem,
    best: np.ndarray,
    lower: int,
    deadline: float,
    seed: int,
    watch: LPWatch,
    ended: Callable[[], bool],
    on_better: Callable[[int], None],
) -> np.ndarray:
    """The pool search from ``best`` until it stalls (or a share of the time left
    passes), then, when the master of the LP that ``watch`` follows rounds up below
    the packing in hand, dives (for a share of the time left) on a copy of that LP
    for the machines it rounds up to; again with other seeds until ``ended()``,
    ``deadline`` or ``lower``. After the first dives, the pool search also gives
    way as soon as the master rounds up below both the packing in hand and what
    the last dives aimed at. While the master rounds up to the packing in hand
    (after a first round), only the proof is missing: this thread then lends its
    core to the LP's pricing."""
    cap = problem.machines.capacity[0]
    held = _used(best)
    aimed: int | None = None  # machines the last dives aimed at

    def better(used: int) -> None:
        nonlocal held
        held = used
        on_better(used)

    def proof_missing() -> bool:
        """The master rounds up to the packing in hand after a round of search."""
        return round_ > 0 and watch.meets(held)

    def give_way() -> bool:
        return (
            ended()
            or (aimed is not None and watch.below(min(held, aimed)))
            or proof_missing()
        )

    round_ = 0
    while not ended() and time.perf_counter() < deadline and held > lower:
        if proof_missing():
            # until the master rounds up below the packing: then straight to dives
            watch.lend(held, ended)
        else:
            now = time.perf_counter()
            until = now + (deadline - now) / _SLICES
            best = improve(
                problem, best, lower, until, seed + round_, _CYCLE, give_way, better
            )
            round_ += 1
        if not watch.below(held):
            continue
        lp = watch.copy(ended)
        if lp is None:
            continue
        # the machines the master's value rounds up to (one fewer at least)
        aimed = max(min(held - 1, machines(float(lp.values.sum()))), lower, 1)
        now = time.perf_counter()
        found = lp_dives(
            problem,
            lp,
            Diver(lp, cap),
            aimed,
            now + (deadline - now) / _DIVE_SLICES,
            seed + round_,
            EARLY_DIVES,
            ended,
        )
        round_ += 1  # (other seeds for dives after a loan, with no search between)
        if found is not None:
            best = found
            better(_used(best))
    return best


def dive(
    problem: Problem,
    columns: np.ndarray,
    values: np.ndarray,
    kind: np.ndarray,
    target: int,
    deadline: float,
    seed: int = 0,
    drop: float = 0.0,
    stop: Callable[[], bool] | None = None,
) -> np.ndarray | None:
    """A packing into ``target`` machines that starts from the machine contents of
    an LP solution (``columns``: type counts per content, ``values``: LP values,
    ``kind``: each container's type), the largest values first and each skipped
    with probability ``drop``, with the pool search packing the rest; None when it
    stalls or ``deadline`` passes (or ``stop()`` turns true) first."""
    req, cap, share = _arrays(problem)
    rng = np.random.default_rng(seed)
    left = np.bincount(kind, minlength=columns.shape[1]).astype(np.int64)
    members = [list(np.flatnonzero(kind == t)) for t in range(columns.shape[1])]
    cur = np.full(problem.n, -1, np.int64)
    b = 0
    for c in np.argsort(-values, kind="stable"):
        if b >= target or values[c] < 0.5:
            break
        col = columns[c]
        if drop and rng.random() < drop:
            continue
        for _ in range(round(float(values[c]))):
            if b >= target or (col > left).any():
                break
            for t in np.flatnonzero(col):
                for _ in range(int(col[t])):
                    cur[members[t].pop()] = b
            left -= col
            b += 1
    weight = np.ascontiguousarray(share.sum(axis=1), dtype=np.float64)
    return _search(req, cap, weight, cur, target, deadline, rng, stop=stop)


def lp_dives(
    problem: Problem,
    lp: LPBound,
    diver: Diver,
    target: int,
    deadline: float,
    seed: int = 0,
    attempts: int | None = None,
    stop: Callable[[], bool] | None = None,
    single_first: bool = False,
) -> np.ndarray | None:
    """A packing into ``target`` machines from dives on the LP that re-solve it
    as they go (:class:`~solver.engines._vbp_bound.Diver`), fixing several machine
    contents per step and one per step in turn (one first with ``single_first``),
    each backing up ``DISCREPANCIES`` times, the pool search packing what each
    leaves; None when ``attempts`` such searches (None: any number) or ``deadline``
    pass first, or ``stop()`` turns true."""

    def stopped() -> bool:
        return time.perf_counter() >= deadline or (stop is not None and stop())

    k = 0
    while (attempts is None or k < attempts) and not stopped():
        several, step = (k % 2 == 0) != single_first, seed + k // 2
        k += 1
        leaves = diver.dives(target, deadline, several, step, DISCREPANCIES, stop)
        with contextlib.closing(leaves):
            for columns in leaves:
                ones = np.ones(columns.shape[0])
                found = dive(
                    problem, columns, ones, lp.kind, target, deadline, seed, 0.0, stop
                )
                if found is not None:
                    return found
                if stopped():
                    return None
    return None


#: Unit of the lengths (in seconds, times Luby's sequence) after which dives that
#: found nothing start again with other seeds.
RESTART_SECONDS = 1.0


def restart_deadline(run: int, deadline: float) -> float:
    """When the ``run``-th (from 1) run of restarted dives gives way to the next."""
    return min(deadline, time.perf_counter() + RESTART_SECONDS * luby(run))


def luby(i: int) -> int:
    """The ``i``-th term (from 1) of Luby's sequence 1, 1, 2, 1, 1, 2, 4, 1, ...:
    restart lengths whose expected time to success is within a logarithmic factor
    of the best fixed length's, whatever the distribution of run times (Luby,
    Sinclair and Zuckerman, 1993)."""
    k = i.bit_length()
    while i != (1 << k) - 1:
        i -= (1 << (k - 1)) - 1
        k = i.bit_length()
    return 1 << (k - 1)


class DivesBeside:
    """LP dives in a second thread, on a :class:`~solver.engines._vbp_bound.Diver`
    of their own, with other seeds and starting with the other kind of dive, while
    the caller searches in this one: ``packing`` is the first packing into
    ``target`` machines they find (None until then). They end at ``deadline``, at
    that packing, or at :meth:`close`.

    Whether a dive succeeds hangs on its seed: on Panigrahy class9_500_5_0 the
    seeds the engine used first never pack it in 5 s, while other seeds often do
    in a second or two. So the dives beside restart with a fresh Diver and other
    seeds after ``RESTART_SECONDS`` times the next term of Luby's sequence; the
    caller's dives right after the LP, which some instances need for longer, run
    as before."""

    #: Added to the caller's seed: the dives beside take other paths.
    SEED_OFFSET = 1_000
    #: Seeds between restarts (each run of dives takes several).
    SEED_STEP = 100

    def __init__(
        self,
        problem: Problem,
        lp: LPBound,
        target: int,
        deadline: float,
        seed: int = 0,
    ) -> None:
        self.packing: np.ndarray | None = None
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(1)
        self._future = self._pool.submit(
            self._run, problem, lp, target, deadline, seed + self.SEED_OFFSET
        )

    def _run(
        self, problem: Problem, lp: LPBound, target: int, deadline: float, seed: int
    ) -> None:
        run = 0
        while not self._closed.is_set() and time.perf_counter() < deadline:
            run += 1
            until = restart_deadline(run, deadline)
            # one content at a time first: the caller's dives start with several
            found = lp_dives(
                problem,
                lp,
                Diver(lp, problem.machines.capacity[0]),
                target,
                until,
                seed + self.SEED_STEP * (run - 1),
                stop=self._closed.is_set,
                single_first=True,
            )
            if found is not None:
                self.packing = found
                return

    def found(self) -> bool:
        """True once the dives have found their packing."""
        return self.packing is not None

    def close(self) -> None:
        """Stop the dives and wait for their thread (errors in it surface here)."""
        self._closed.set()
        self._pool.shutdown(wait=True)
        self._future.result()
