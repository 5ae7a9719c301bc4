"""Vector packing heuristics of the cpsat engine: bin-centric packing, pool search."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import vector_instances
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import fewest_bins
from ortools.linear_solver import pywraplp

import solver
from solver import Problem, Status
from solver.datasets import read
from solver.engines import _vbp, _vbp_bound
from solver.engines import _vbp_kernels as kernels
from solver.engines.arcflow import packing_from_duals


def naive_bin_centric(req, cap, weights, rule):
    """Plain-Python twin of ``bin_centric``: same scores, first best item wins."""
    n, d = len(req), len(cap)
    out = [-1] * n
    b = 0
    while -1 in out:
        room = list(cap)
        placed = 0
        while True:
            best, best_score = -1, -float("inf")
            for i in range(n):
                if out[i] >= 0 or any(req[i][k] > room[k] for k in range(d)):
                    continue
                s = 0.0
                for k in range(d):
                    r = room[k] / max(cap[k], 1)
                    a = req[i][k] / max(cap[k], 1)
                    if rule == kernels.DOT:
                        s += weights[k] * a * r
                    elif rule == kernels.NORM:
                        s -= weights[k] * (r - a) * (r - a)
                    else:
                        s += weights[k] * a
                if s > best_score:
                    best, best_score = i, s
            if best < 0:
                break
            out[best] = b
            room = [room[k] - req[best][k] for k in range(d)]
            placed += 1
        if not placed:
            break
        b += 1
    return out


def loads_fit(req: np.ndarray, cap: np.ndarray, assign: np.ndarray) -> bool:
    """Every bin of ``assign`` (-1 ignored) within ``cap``."""
    placed = assign >= 0
    load = np.zeros((int(assign.max(initial=-1)) + 1, req.shape[1]), np.int64)
    np.add.at(load, assign[placed], req[placed])
    return bool((load <= cap).all())


instances = vector_instances(dims=4, size=30, items=25, min_items=2)


def arrays(data):
    """Capacity and requests (clipped to the capacity) as int64 arrays."""
    cap = np.asarray(data[0], np.int64)
    req = np.minimum(np.asarray(data[1], np.int64), cap)
    return req, cap


@settings(max_examples=60, deadline=None)
@given(instances, st.sampled_from([kernels.DOT, kernels.NORM, kernels.SIZE]))
def test_bin_centric_matches_reference(data, rule):
    """The kernel packs exactly as the plain-Python twin, and validly."""
    req, cap = arrays(data)
    share = req / np.maximum(cap, 1)
    weights = np.linspace(1.0, 0.5, cap.shape[0])
    got = kernels.bin_centric(req, cap, share, weights, rule)
    assert got.tolist() == naive_bin_centric(req.tolist(), cap.tolist(), weights, rule)
    assert (got >= 0).all()
    assert loads_fit(req, cap, got)


@settings(max_examples=60, deadline=None)
@given(instances, st.integers(0, 3), st.integers(0, 2))
def test_pool_search_keeps_packings_valid(data, seed, spare):
    """Whatever the pool search returns is a valid partial packing in ``target``
    bins; on success it holds every item, in ``target`` plus ``spare`` bins."""
    req, cap = arrays(data)
    start = kernels.bin_centric(req, cap, req / np.maximum(cap, 1), np.ones(2), 0)
    bins = int(start.max()) + 1
    if bins < 2 + spare:
        return
    target = bins - 1 - spare
    cur = np.where(start >= target, -1, start)
    best = cur.copy()
    weight = (req / np.maximum(cap, 1)).sum(axis=1)
    memory = np.zeros((3, req.shape[0]), np.int64)
    memory[1] = -1
    state = np.array([0, seed + 1, int(weight[cur < 0].sum() * 1e6)], np.int64)
    left = kernels.pool_search(
        req,
        cap,
        weight,
        weight.copy(),
        0.01,
        cur,
        best,
        target,
        spare,
        300,
        3,
        memory,
        state,
    )
    for a in (cur, best):
        assert a.max() < (bins - 1 if left == 0 else target)
        assert loads_fit(req, cap, a)
    if left == 0:
        assert (best >= 0).all()
    else:
        assert left == int((best < 0).sum())


@settings(max_examples=80, deadline=None)
@given(instances, st.integers(0, 7))
def test_repack_finds_the_heaviest_refill(data, in_bin):
    """Refilling a bin from its items and the pool (few enough for the search to
    be complete) finds the heaviest subset that fits, as brute force does."""
    req, cap = arrays(data)
    n = min(req.shape[0], 7)
    req = req[:n]
    weight = (req / np.maximum(cap, 1)).sum(axis=1) + 0.01
    load, members = np.zeros(cap.shape[0], np.int64), []
    for i in range(min(in_bin, n)):
        if (load + req[i] <= cap).all():
            load += req[i]
            members.append(i)
    pool = np.array([i for i in range(n) if i not in members], np.int64)
    items = np.zeros((1, n), np.int64)
    items[0, : len(members)] = members
    count = np.array([len(members)], np.int64)
    mark = np.zeros(n, np.bool_)
    found = kernels._repack(
        req, cap, weight, items, count, 0, pool, pool.shape[0], mark
    )
    best = max(
        weight[list(sub)].sum()
        for r in range(n + 1)
        for sub in itertools.combinations(range(n), r)
        if (req[list(sub)].sum(axis=0) <= cap).all()
    )
    now = weight[members].sum()
    assert found == (best > now + 1e-9)
    if found:
        assert (req[mark].sum(axis=0) <= cap).all()
        assert weight[mark].sum() == pytest.approx(best)


def paired(n_pairs: int, seed: int) -> Problem:
    """Items in complementary pairs that exactly fill a machine: optimum n_pairs."""
    rng = np.random.default_rng(seed)
    cap = np.array([100, 100, 100], np.int64)
    a = rng.integers(1, 100, size=(n_pairs, 3))
    req = np.concatenate([a, cap - a])
    return Problem.from_arrays(np.tile(cap, (2 * n_pairs, 1)), req)


@pytest.mark.parametrize("seed", [0, 1])
def test_improve_reaches_a_perfect_pairing(seed):
    """From one item per machine the search gets down to the volume bound."""
    problem = paired(12, seed)
    start = np.arange(problem.n, dtype=np.int64)
    got = _vbp.improve(problem, start, 12, time.perf_counter() + 20.0, seed)
    assert np.unique(got).shape[0] == 12
    assert loads_fit(problem.requests, problem.capacity[0], got)


def test_improve_without_an_attempt_limit_searches_until_the_deadline():
    """With no limit on stalled attempts and a bound it cannot reach (the perfect
    pairing's 12 machines, asked for 11), the search goes on to the deadline and
    hands back a valid packing."""
    problem = paired(12, 0)
    start = np.arange(problem.n, dtype=np.int64)
    began = time.perf_counter()
    got = _vbp.improve(problem, start, 11, began + 4.0, 0, attempts=None)
    assert time.perf_counter() - began >= 4.0  # four stalls take about 2 s
    assert np.unique(got).shape[0] == 12
    assert loads_fit(problem.requests, problem.capacity[0], got)


def test_constructive_is_valid_and_complete():
    """The bin-centric start places every item within capacity."""
    problem = paired(15, 3)
    got = _vbp.constructive(problem)
    assert (got >= 0).all()
    assert loads_fit(problem.requests, problem.capacity[0], got)


def test_applies_only_to_plain_vector_packing():
    """Mixed fleets are left to the exact models."""
    assert _vbp.applies(paired(3, 0))
    mixed = Problem.from_arrays(
        np.array([[100, 100, 100], [50, 50, 50]]), np.ones((3, 3), np.int64)
    )
    assert not _vbp.applies(mixed)


@pytest.mark.parametrize("workers", [1, 2])
def test_cpsat_vector_packing_never_worse_than_ffd(workers):
    """The engine's answer is valid, complete and at most the greedy count, with
    the LP and the search in turn (one worker) or side by side (two)."""
    problem = paired(20, 5)
    ffd = solver.place(problem, engine="ffd").machines_used
    pl = solver.place(problem, engine="cpsat", time_limit=5, workers=workers)
    solver.validate(problem, pl)
    assert pl.placed == problem.n
    assert pl.machines_used <= ffd
    assert pl.machines_used == 20
    assert pl.status is Status.OPTIMAL


@pytest.mark.needs_shared_data
@pytest.mark.parametrize("workers", [1, 2])
def test_vbp_instance_met_and_proven(shared_datasets, workers):
    """A New class 2 instance the exact models alone left one machine short of."""
    path = shared_datasets / "vbp_vectorpack/new/class2/class2_60_5_7.vbp"
    if not path.is_file():
        pytest.skip("instance not in this copy of the public data")
    problem = read(path)
    pl = solver.place(problem, engine="cpsat", time_limit=10, workers=workers)
    solver.validate(problem, pl)
    assert pl.machines_used == problem.best_known == 14
    assert pl.status is Status.OPTIMAL


def naive_knapsack(value, w, ub, cap):
    """Best value over every count vector within ``ub`` and ``cap``."""
    best = 0.0
    for counts in itertools.product(*(range(u + 1) for u in ub)):
        load = [
            sum(c * row[k] for c, row in zip(counts, w, strict=True))
            for k in range(len(cap))
        ]
        if all(x <= c for x, c in zip(load, cap, strict=True)):
            best = max(best, sum(c * v for c, v in zip(counts, value, strict=True)))
    return best


knapsacks = st.integers(1, 3).flatmap(
    lambda d: st.tuples(
        st.lists(st.integers(1, 20), min_size=d, max_size=d),
        st.lists(
            st.tuples(
                st.lists(st.integers(0, 12), min_size=d, max_size=d),
                st.integers(0, 3),
                st.floats(0.0, 1.0),
            ),
            min_size=1,
            max_size=5,
        ),
    )
)


@settings(max_examples=80, deadline=None)
@given(knapsacks, st.sampled_from([1, 3, 10**6]))
def test_knapsack_matches_brute_force(data, budget):
    """The complete search finds the brute-force maximum; a search cut short by its
    node budget still returns a packable set and an upper bound on the maximum; the
    further sets handed back are packable and worth more than asked."""
    cap = np.asarray(data[0], np.int64)
    w = np.asarray([row[0] for row in data[1]], np.int64)
    ub = np.asarray([row[1] for row in data[1]], np.int64)
    value = np.asarray([row[2] for row in data[1]], np.float64)
    out = np.zeros(len(ub), np.int64)
    more = np.zeros((4, len(ub)), np.int64)
    best, upper, found, _ = kernels.knapsack(value, w, ub, cap, budget, 0.5, out, more)
    want = naive_knapsack(value.tolist(), w.tolist(), ub.tolist(), cap.tolist())
    assert (out <= ub).all()
    assert ((out @ w) <= cap).all()
    assert best == pytest.approx(float(out @ value), abs=1e-9)
    assert best <= want + 1e-9
    assert upper >= want - 1e-12
    for row in more[:found]:
        assert (row <= ub).all()
        assert ((row @ w) <= cap).all()
        assert 0.5 < float(row @ value) <= want + 1e-9
    if budget == 10**6:
        assert best == pytest.approx(want, abs=1e-9)


small_vbp = st.integers(1, 3).flatmap(
    lambda d: st.tuples(
        st.lists(st.integers(4, 12), min_size=d, max_size=d),
        st.lists(
            st.lists(st.integers(0, 12), min_size=d, max_size=d),
            min_size=1,
            max_size=7,
        ),
    )
)


@settings(max_examples=60, deadline=None)
@given(small_vbp, st.sampled_from([1, 2, 10**6]))
def test_lp_bound_between_volume_and_optimum(data, nodes):
    """The column generation bound is never above the exhaustive optimum and never
    below any dimension's volume; without a deadline the pricing budget grows until
    it proves the LP optimal (even from a few nodes), and then the bound is the LP
    over every machine content."""
    req, cap = arrays(data)
    lp = _vbp_bound.column_generation(req, cap, nodes=nodes)
    opt = fewest_bins(req.tolist(), cap.tolist())
    assert _vbp_bound.machines(lp.bound) <= opt
    volume = (req / cap).sum(axis=0).max()
    assert lp.bound >= volume - 1e-9
    assert lp.optimal
    assert lp.bound == pytest.approx(complete_lp(lp, cap), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(small_vbp, st.sampled_from([1, 10**6]))
def test_settled_lp_bound_rounds_like_the_lp(data, nodes):
    """Column generation told to settle stops once its bound rounds up like the
    master's value: the rounded bound is then the rounded LP over every machine
    content, and the duals behind it still add up to the bound."""
    req, cap = arrays(data)
    lp = _vbp_bound.column_generation(req, cap, nodes=nodes, settle=True)
    assert lp.settled
    full = complete_lp(lp, cap)
    assert lp.bound <= full + 1e-6
    assert _vbp_bound.machines(lp.bound) == _vbp_bound.machines(full)
    assert float(lp.counts @ lp.duals) == pytest.approx(lp.bound, abs=1e-9)


def complete_lp(lp, cap: np.ndarray) -> float:
    """The set-covering LP over every machine content, solved by GLOP."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    patterns = all_patterns(lp, cap)
    x = [solver.NumVar(0, solver.infinity(), "") for _ in patterns]
    for t, need in enumerate(lp.counts.tolist()):
        solver.Add(sum(int(p[t]) * v for p, v in zip(patterns, x, strict=True)) >= need)
    solver.Minimize(sum(x))
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    return solver.Objective().Value()


def all_patterns(lp, cap: np.ndarray) -> list[np.ndarray]:
    """Every machine content (type counts within the demands) that fits ``cap``."""
    ranges = [range(int(c) + 1) for c in lp.counts]
    return [
        np.array(combo)
        for combo in itertools.product(*ranges)
        if (np.array(combo) @ lp.types <= cap).all()
    ]


@settings(max_examples=60, deadline=None)
@given(small_vbp, st.sampled_from([1, 2, 10**6]), st.sampled_from([1, 3, 10**5]))
def test_lp_duals_price_no_pattern_above_one(data, nodes, rounds):
    """The duals behind the bound (after any number of rounds, with cut or complete
    pricing) value no machine content above 1 and add up to the bound."""
    req, cap = arrays(data)
    lp = _vbp_bound.column_generation(req, cap, nodes=nodes, max_iter=rounds)
    assert float(lp.counts @ lp.duals) == pytest.approx(lp.bound, abs=1e-9)
    for pattern in all_patterns(lp, cap):
        assert float(pattern @ lp.duals) <= 1.0 + 1e-7


@settings(max_examples=60, deadline=None)
@given(small_vbp, st.sampled_from([1, 10**6]))
def test_packing_from_duals_is_exact(data, nodes):
    """Price-and-branch under the LP's duals, at the rounded bound and at the
    exhaustive optimum: a valid packing exactly when that many machines suffice, a
    proof of one more exactly when they do not."""
    req, cap = arrays(data)
    problem = Problem.from_arrays(np.tile(cap, (req.shape[0], 1)), req)
    lp = _vbp_bound.column_generation(req, cap, nodes=nodes)
    opt = fewest_bins(req.tolist(), cap.tolist())
    for target in sorted({max(_vbp_bound.machines(lp.bound), 1), opt}):
        found, too_few = packing_from_duals(
            problem, lp.types, lp.duals, target, float("inf")
        )
        assert too_few == (opt > target)
        assert (found is not None) == (opt <= target)
        if found is not None:
            assert (found >= 0).all()
            assert np.unique(found).shape[0] <= target
            assert loads_fit(req, cap, found)


@settings(max_examples=60, deadline=None)
@given(small_vbp, st.booleans(), st.integers(0, 2), st.sampled_from([1, 10**6]))
def test_lp_dive_fixes_contents_that_fit_what_is_left(data, several, seed, nodes):
    """A dive fixes machine contents that fit a machine and never more copies of a
    type than there are containers; below the LP bound it gives up at once (the LP
    over everything already needs more machines). Backing up (limited discrepancy)
    first yields the plain dive's contents, and every later leaf keeps the same
    rules; the completion by the pool search is a valid packing within the target."""
    req, cap = arrays(data)
    problem = Problem.from_arrays(np.tile(cap, (req.shape[0], 1)), req)
    lp = _vbp_bound.column_generation(req, cap, nodes=nodes)
    diver = _vbp_bound.Diver(lp, cap)
    bound = _vbp_bound.machines(lp.bound)
    assert next(diver.dives(bound - 1, float("inf"), several, seed), None) is None
    for target in (bound, fewest_bins(req.tolist(), cap.tolist())):
        # (fresh divers: one keeps the columns it priced, and a degenerate master
        # with more columns may take another of its optimal solutions)
        plain = _vbp_bound.Diver(lp, cap)
        fixed = next(plain.dives(target, float("inf"), several, seed), None)
        backing = _vbp_bound.Diver(lp, cap)
        leaves = list(backing.dives(target, float("inf"), several, seed, 2))
        if fixed is not None:
            np.testing.assert_array_equal(leaves[0], fixed)
        for leaf in leaves:
            assert leaf.shape[0] <= target
            assert (leaf.sum(axis=0) <= lp.counts).all()
            assert (leaf @ lp.types <= cap).all()
        found = _vbp.lp_dives(problem, lp, diver, target, float("inf"), seed, 2)
        if found is not None:
            assert (found >= 0).all()
            assert np.unique(found).shape[0] <= target
            assert loads_fit(req, cap, found)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_dives_reach_a_perfect_pairing(seed):
    """On complementary pairs the LP is integral and the dives, completed by the
    pool search, pack it into the optimum of one machine per pair."""
    problem = paired(40, seed)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    assert lp.optimal
    assert _vbp_bound.machines(lp.bound) == 40
    diver = _vbp_bound.Diver(lp, cap)
    found = _vbp.lp_dives(
        problem, lp, diver, 40, time.perf_counter() + 20.0, seed, attempts=2
    )
    assert found is not None
    assert np.unique(found).shape[0] == 40
    assert loads_fit(problem.requests, cap, found)


def test_dives_start_from_the_used_then_the_cheapest_columns(monkeypatch):
    """A Diver over a large LP keeps every column the LP uses, then the cheapest
    under the bound's duals up to its size limit, and its dives still reach the
    optimum of complementary pairs."""
    problem = paired(40, 0)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    types = lp.types.shape[0]
    limit = lp.columns.shape[0] // 2
    assert (lp.values > _vbp_bound.EPS).sum() < limit
    monkeypatch.setattr(_vbp_bound, "DIVE_SIZE", limit * types)
    diver = _vbp_bound.Diver(lp, cap)
    kept = {col.tobytes() for col in diver.cols}
    assert len(diver.cols) == limit
    cost = 1.0 - lp.columns @ lp.duals
    used = lp.values > _vbp_bound.EPS
    is_kept = np.array([col.tobytes() in kept for col in lp.columns])
    assert is_kept[used].all()
    assert cost[is_kept & ~used].max() <= cost[~is_kept].min() + 1e-12
    found = _vbp.lp_dives(
        problem, lp, diver, 40, time.perf_counter() + 20.0, 0, attempts=2
    )
    assert found is not None
    assert np.unique(found).shape[0] == 40


def test_dive_pricing_fits_the_time_left():
    """A dive's re-solve prices only while its deadline leaves room for a knapsack
    call at the slowest speed seen so far: past the deadline, or with too few
    nodes' worth of time, the master's columns stay as they are."""
    rng = np.random.default_rng(3)
    cap = np.array([100, 100, 100], np.int64)
    req = rng.integers(5, 20, size=(200, 3))  # pricing calls of 1,600+ nodes
    lp = _vbp_bound.column_generation(req, cap, max_iter=1)
    diver = _vbp_bound.Diver(lp, cap)
    assert diver._budget(time.perf_counter() + 60.0) == _vbp_bound.NODES
    before = len(diver.cols)
    assert diver._resolve(lp.counts, 3, time.perf_counter() - 1.0)
    assert len(diver.cols) == before
    diver.node_seconds = 0.0
    assert diver._resolve(lp.counts, 3, time.perf_counter() + 60.0)
    assert len(diver.cols) > before
    assert diver.node_seconds > 0.0
    diver.node_seconds = 1.0  # a node a second: a minute holds too few nodes
    assert diver._budget(time.perf_counter() + 60.0) == 0
    diver.node_seconds = 1e-6
    assert 0 < diver._budget(time.perf_counter() + 0.1) < _vbp_bound.NODES
    grown = len(diver.cols)
    diver.node_seconds = 1.0
    assert diver._resolve(lp.counts - 1, 3, time.perf_counter() + 60.0)
    assert len(diver.cols) == grown


def test_dive_resolve_prices_until_the_goal_is_met_or_disproved(monkeypatch):
    """Given a goal, a dive's re-solve stops pricing as soon as the master's value
    fits it, prices on until it does when the LP allows, and never fits a goal
    below the LP bound."""
    monkeypatch.setattr(_vbp_bound, "CONFIRM_ROUNDS", 500)
    rng = np.random.default_rng(5)
    cap = np.array([100, 100, 100], np.int64)
    req = rng.integers(5, 60, size=(40, 3))
    full = _vbp_bound.column_generation(req, cap)
    assert full.optimal
    bound = _vbp_bound.machines(full.bound)
    lp = _vbp_bound.column_generation(req, cap, max_iter=1)
    diver = _vbp_bound.Diver(lp, cap)

    def machines_now() -> int:
        return _vbp_bound.machines(diver.master.objective.Value())

    assert diver._resolve(lp.counts, 0, float("inf"))
    start, before = machines_now(), len(diver.cols)
    assert start > bound
    assert diver._resolve(lp.counts, 0, float("inf"), start)
    assert len(diver.cols) == before
    assert diver._resolve(lp.counts, 0, float("inf"), bound - 1)
    assert machines_now() > bound - 1
    assert diver._resolve(lp.counts, 0, float("inf"), bound)
    assert machines_now() <= bound


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dives_price_before_calling_a_path_dead(monkeypatch, seed):
    """From one container per machine and no pricing at the steps, the master over
    what is left overstates the machines it needs; the dives price on before
    giving a path up, and still reach the optimum of complementary pairs."""
    monkeypatch.setattr(_vbp_bound, "_DIVE_ROUNDS", (0, 0))
    monkeypatch.setattr(_vbp_bound, "CONFIRM_ROUNDS", 100)  # from no pairs at all
    problem = paired(30, seed)
    cap = problem.machines.capacity[0]
    alone = np.arange(problem.n, dtype=np.int64)
    lp = _vbp_bound.column_generation(problem.requests, cap, alone, max_iter=0)
    diver = _vbp_bound.Diver(lp, cap)
    leaf = next(diver.dives(30, time.perf_counter() + 20.0, False, seed), None)
    assert leaf is not None
    assert leaf.shape[0] <= 30
    assert (leaf.sum(axis=0) <= lp.counts).all()
    assert (leaf @ lp.types <= cap).all()


def test_vector_lp_bound_closes_paired_instances():
    """Complementary pairs: the LP bound equals the optimum and the vector bound."""
    problem = paired(10, 2)
    got = solver.bounds.vector_lp_bound(problem, time_limit=5.0)
    assert solver.bounds.vector_bound(problem) <= got == 10


@pytest.mark.needs_shared_data
def test_vector_lp_bound_on_known_optima(shared_datasets):
    """On instances where the vector bound is short, the LP bound reaches the proven
    optimum and never passes it."""
    for name, opt in (
        ("panigrahy/class1/class1_40_5_3", 12),
        ("panigrahy/class7/class7_40_5_9", 19),
    ):
        path = shared_datasets / f"vbp_vectorpack/{name}.vbp"
        if not path.is_file():
            pytest.skip("instance not in this copy of the public data")
        problem = read(path)
        assert problem.best_known == opt
        assert solver.bounds.vector_bound(problem) < opt
        assert solver.bounds.vector_lp_bound(problem, time_limit=20.0) == opt


@pytest.mark.parametrize("seed", [0, 1])
def test_search_beside_lp_stops_with_the_lp(seed):
    """The pool search beside the LP (no attempt limit, a bound it cannot reach)
    stops when the LP ends rather than at its far deadline; its packing is valid
    and no worse than the start, and the LP is the one computed alone."""
    problem = paired(30, seed)
    cap = problem.machines.capacity[0]
    start = np.arange(problem.n, dtype=np.int64)
    began = time.perf_counter()
    best, lp = _vbp.search_beside_lp(problem, start, 1, began + 60.0, seed)
    assert time.perf_counter() - began < 30.0
    assert (best >= 0).all()
    assert loads_fit(problem.requests, cap, best)
    assert np.unique(best).shape[0] <= problem.n
    alone = _vbp_bound.column_generation(problem.requests, cap, start)
    assert _vbp_bound.machines(lp.bound) == _vbp_bound.machines(alone.bound) == 30
    assert _vbp_bound.machines(lp.bound) <= np.unique(best).shape[0]


def test_lp_ends_when_told_and_at_a_moving_target():
    """Column generation ends at once when ``stop()`` is true (with only the
    start's columns), and ends at a target it reads anew every round as soon as
    its bound proves it, before the LP optimum."""
    problem = paired(30, 4)
    req, cap = problem.requests, problem.machines.capacity[0]
    start = np.arange(problem.n, dtype=np.int64)
    stopped = _vbp_bound.column_generation(req, cap, start, stop=lambda: True)
    assert not stopped.optimal
    assert stopped.columns.shape[0] == problem.n
    full = _vbp_bound.column_generation(req, cap, start)
    goal = _vbp_bound.machines(full.bound)
    asked = []

    def target() -> int:
        asked.append(goal)
        return goal if len(asked) > 3 else problem.n

    moving = _vbp_bound.column_generation(req, cap, start, target=target)
    assert len(asked) > 3
    assert _vbp_bound.machines(moving.bound) == goal
    assert moving.columns.shape[0] <= full.columns.shape[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_dives_beside_find_the_pairing_and_close(seed):
    """Dives in a second thread pack complementary pairs into one machine per
    pair; asked for one machine fewer they find nothing, and ``close`` ends them
    long before their deadline."""
    problem = paired(40, seed)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    beside = _vbp.DivesBeside(problem, lp, 40, time.perf_counter() + 60.0, seed)
    began = time.perf_counter()
    while not beside.found() and time.perf_counter() - began < 60.0:
        time.sleep(0.05)
    beside.close()
    assert beside.packing is not None
    assert np.unique(beside.packing).shape[0] == 40
    assert loads_fit(problem.requests, cap, beside.packing)
    began = time.perf_counter()
    beside = _vbp.DivesBeside(problem, lp, 39, began + 60.0, seed)
    time.sleep(0.5)
    beside.close()
    assert beside.packing is None
    assert time.perf_counter() - began < 30.0


@settings(max_examples=15, deadline=None)
@given(instances)
def test_cpsat_with_two_workers_is_valid_and_honest(data):
    """With the LP, the search and the dives in two threads, the engine's packing
    is valid, never worse than first fit decreasing, its bound never above it, and
    it says optimal exactly when the two meet."""
    req, cap = arrays(data)
    problem = Problem.from_arrays(np.tile(cap, (req.shape[0], 1)), req)
    ffd = solver.place(problem, engine="ffd").machines_used
    pl = solver.place(problem, engine="cpsat", time_limit=1, workers=2)
    solver.validate(problem, pl)
    assert pl.placed == problem.n
    assert pl.machines_used <= ffd
    assert pl.bound <= pl.objective == pl.machines_used
    assert (pl.status is Status.OPTIMAL) == (pl.objective == pl.bound)


def test_dives_end_when_told():
    """A dive checks ``stop()`` at every step: told to stop it fixes nothing, and
    otherwise it reaches a leaf on complementary pairs."""
    problem = paired(20, 3)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    diver = _vbp_bound.Diver(lp, cap)
    far = time.perf_counter() + 60.0
    assert list(diver.dives(20, far, True, 0, 1, stop=lambda: True)) == []
    assert next(diver.dives(20, far, True, 0, 1, stop=lambda: False)).shape[0] > 0


@pytest.mark.parametrize("single_first", [False, True])
def test_lp_dives_alternate_the_kinds_of_dive(monkeypatch, single_first):
    """``lp_dives`` alternates dives fixing several contents per step and one, a new
    seed every two; the dives beside the caller's start with the other kind."""
    problem = paired(10, 4)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    asked = []

    def no_leaves(self, target, deadline, several, seed=0, *rest, **kw):
        asked.append((several, seed))
        yield from ()

    monkeypatch.setattr(_vbp_bound.Diver, "dives", no_leaves)
    diver = _vbp_bound.Diver(lp, cap)
    far = time.perf_counter() + 60.0
    kwargs = {"single_first": True} if single_first else {}
    assert _vbp.lp_dives(problem, lp, diver, 9, far, 5, attempts=4, **kwargs) is None
    first = not single_first
    assert asked == [(first, 5), (not first, 5), (first, 6), (not first, 6)]
    asked.clear()
    beside = _vbp.DivesBeside(problem, lp, 9, time.perf_counter() + 60.0, 5)
    began = time.perf_counter()
    while not asked and time.perf_counter() - began < 30.0:
        time.sleep(0.01)
    beside.close()
    assert asked[0] == (False, 5 + _vbp.DivesBeside.SEED_OFFSET)


def test_luby_sequence():
    """Luby's restart lengths: each block repeats the ones before and doubles."""
    assert [_vbp.luby(i) for i in range(1, 16)] == [
        1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8
    ]


def test_dives_beside_restart_after_luby_lengths(monkeypatch):
    """Dives beside that find nothing start again on a fresh Diver with the next
    seeds after ``RESTART_SECONDS`` times the terms of Luby's sequence, until
    closed."""
    problem = paired(10, 4)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    runs = []

    def fruitless(self, target, deadline, several, seed=0, *rest, **kw):
        runs.append((self, seed, several, deadline - time.perf_counter()))
        while time.perf_counter() < deadline:
            time.sleep(0.002)
        yield from ()

    monkeypatch.setattr(_vbp_bound.Diver, "dives", fruitless)
    unit = 0.1
    monkeypatch.setattr(_vbp, "RESTART_SECONDS", unit)
    beside = _vbp.DivesBeside(problem, lp, 9, time.perf_counter() + 60.0, 5)
    time.sleep(1.6)
    beside.close()
    assert beside.packing is None
    assert len(runs) >= 7
    first = 5 + _vbp.DivesBeside.SEED_OFFSET
    step = _vbp.DivesBeside.SEED_STEP
    assert [seed for _, seed, _, _ in runs] == [
        first + step * k for k in range(len(runs))
    ]
    assert not any(several for _, _, several, _ in runs)
    assert len({id(diver) for diver, _, _, _ in runs}) == len(runs)
    for k, (_, _, _, length) in enumerate(runs[:7]):
        assert unit * _vbp.luby(k + 1) - 0.05 < length <= unit * _vbp.luby(k + 1)


@pytest.mark.parametrize("solved", [True, False])
def test_one_worker_restarts_its_dives_after_a_solved_lp(monkeypatch, solved):
    """With one worker and the LP solved, the time after the first dives goes to
    dives restarted after Luby's lengths with new seeds, not to the pool search;
    with the LP cut short, the pool search runs and the dives run to the end."""
    from solver.engines import arcflow, cpsat

    problem = paired(10, 4)
    cap = problem.machines.capacity[0]
    cut = {} if solved else {"max_iter": 1}
    lp = _vbp_bound.column_generation(problem.requests, cap, **cut)
    assert lp.optimal == solved
    unit = 0.05
    monkeypatch.setattr(_vbp, "RESTART_SECONDS", unit)
    searched, windows = [], []

    def no_search(problem, best, *rest):
        searched.append(1)
        return best

    def fruitless_dives(problem, lp, diver, target, deadline, seed, *rest):
        windows.append((seed, deadline - time.perf_counter()))
        time.sleep(max(deadline - time.perf_counter(), 0.0))

    monkeypatch.setattr(_vbp, "improve", no_search)
    monkeypatch.setattr(_vbp, "lp_dives", fruitless_dives)
    monkeypatch.setattr(_vbp, "dive", lambda *args: None)
    monkeypatch.setattr(arcflow, "packing_from_duals", lambda *args: (None, False))
    monkeypatch.setattr(cpsat, "choose_formulation", lambda *args: ("assignment", 1.0))
    engine = cpsat.CpsatEngine(time_limit=3.0, workers=1)
    start = np.arange(problem.n, dtype=np.int64)
    began = time.perf_counter()
    engine._pack_from_lp(problem, start, 10, lp, None, problem.n, 3.0, 7, began)
    loop = [(seed, length) for seed, length in windows if seed != 7]  # after the first
    assert [seed for seed, _ in loop] == [8 + 2 * k for k in range(len(loop))]
    if solved:
        assert searched == []
        assert len(loop) >= 6
        for k, (_, length) in enumerate(loop[:6]):
            assert unit * _vbp.luby(k + 1) - 0.05 < length <= unit * _vbp.luby(k + 1)
    else:
        assert searched == [1]
        assert loop[0][1] > 5 * unit


def test_lp_watch_hands_out_the_lp_as_it_stands():
    """A copy asked for before the column generation starts is the master of its
    first solve: the start's machine contents, at the master's value; asked for
    once the column generation is over, there is none."""
    problem = paired(15, 2)
    req, cap = problem.requests, problem.machines.capacity[0]
    start = np.arange(problem.n, dtype=np.int64)
    watch = _vbp_bound.LPWatch()
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(watch.copy, done.is_set)
        time.sleep(0.05)
        lp = _vbp_bound.column_generation(req, cap, start, watch=watch)
        done.set()
        first = asked.result(timeout=30.0)
    assert first is not None
    assert not first.optimal
    assert first.columns.shape[0] == problem.n
    assert (first.columns.sum(axis=1) == 1).all()
    assert first.values.sum() == pytest.approx(problem.n)
    assert watch.value == pytest.approx(lp.values.sum())
    assert watch.below(problem.n)
    assert not watch.below(15)
    assert watch.copy(done.is_set) is None


def search_beside_a_master(
    problem: Problem,
    watch: _vbp_bound.LPWatch,
    master_solve: Callable[[], None],
    on_better: Callable[[int], None],
) -> np.ndarray:
    """The search beside the LP from one container per machine down to half as many
    machines, while another thread calls ``master_solve`` every 10 ms as a master
    would tell ``watch`` of its solves."""
    ended = threading.Event()

    def master() -> None:
        while not ended.is_set():
            master_solve()
            time.sleep(0.01)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(master)
        start = np.arange(problem.n, dtype=np.int64)
        far = time.perf_counter() + 60.0
        try:
            return _vbp._search_and_dive(
                problem, start, problem.n // 2, far, 0, watch, ended.is_set, on_better
            )
        finally:
            ended.set()


def test_search_beside_lp_dives_on_the_lp_as_it_stands(monkeypatch):
    """When the pool search finds nothing, the dives on a copy of the LP still pack
    complementary pairs into one machine per pair, and the LP hears of it."""
    problem = paired(30, 5)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    monkeypatch.setattr(_vbp, "improve", lambda problem, best, *rest: best)
    watch = _vbp_bound.LPWatch()
    heard = []
    best = search_beside_a_master(
        problem,
        watch,
        lambda: watch.solved(float(lp.values.sum()), lambda: lp),
        heard.append,
    )
    assert np.unique(best).shape[0] == 30
    assert loads_fit(problem.requests, cap, best)
    assert heard[-1] == 30


def test_lp_beside_the_search_goes_on_to_prove_the_packing(monkeypatch):
    """Past its deadline the LP goes on while its master rounds up to the packing
    in hand (only the proof is missing), up to the later deadline: one item per
    machine is proven optimal when no two items fit together, though the slow
    pricing (0.3 s a call, as with many dimensions) needs four calls for it."""
    rng = np.random.default_rng(3)
    cap = np.array([100, 100, 100], np.int64)
    req = np.column_stack([rng.integers(51, 60, 25), rng.integers(1, 30, (25, 2))])
    problem = Problem.from_arrays(np.tile(cap, (25, 1)), req)
    assert (req / cap).sum(axis=0).max() < 24  # the LP's first bound, volume
    price = _vbp_bound._price

    def slow_price(*args):
        time.sleep(0.3)
        return price(*args)

    monkeypatch.setattr(_vbp_bound, "_price", slow_price)
    start = np.arange(25, dtype=np.int64)
    now = time.perf_counter()
    best, lp = _vbp.search_beside_lp(problem, start, 1, now + 0.5, 0, now + 60.0)
    assert np.unique(best).shape[0] == 25
    assert _vbp_bound.machines(lp.bound) == 25


def test_lp_pricing_fits_the_time_left(monkeypatch):
    """Once it has timed a call, the LP gives each pricing call the knapsack nodes
    that the time left allows at that speed, and none below the least worth a
    call: with 2 microseconds a node (a full call 0.4 s), no call runs past a
    deadline that a function sets one second away. The first call in a process
    also compiles the knapsack (here 0.3 s): the LP makes it with a single node
    before timing any, so later budgets follow the speed of the nodes alone."""
    problem = paired(30, 6)
    price = _vbp_bound._price
    cap = problem.machines.capacity[0]
    # loaded before the clock runs (the LP's own first call comes under the fake)
    _vbp_bound._compile_pricing(np.ones(1), problem.requests, np.ones(1, np.int64), cap)
    calls = []
    per_node = 2e-6

    def timed_price(duals, types, ub, cap, nodes, out, more):
        calls.append((nodes, end - time.perf_counter()))
        time.sleep(nodes * per_node + (0.3 if len(calls) == 1 else 0.0))
        value, upper, found, _ = price(duals, types, ub, cap, nodes, out, more)
        return value, upper, found, nodes  # as if every node were searched

    monkeypatch.setattr(_vbp_bound, "_price", timed_price)
    monkeypatch.setattr(_vbp_bound, "_greedy", lambda *args: False)
    monkeypatch.setattr(_vbp_bound, "_swaps", lambda *args: False)
    start = np.arange(problem.n, dtype=np.int64)
    end = time.perf_counter() + 1.3
    lp = _vbp_bound.column_generation(
        problem.requests, problem.machines.capacity[0], start, deadline=lambda: end
    )
    assert not lp.optimal
    assert calls[0][0] == 1
    assert calls[1][0] == _vbp_bound.NODES
    assert len(calls) > 3
    for nodes, left in calls[2:]:
        assert _vbp_bound.NODES_MIN <= nodes <= max(left, 0.0) / per_node + 1
        # (a compile timed with the first call would have cut these by 40%)
        assert nodes >= min(_vbp_bound.NODES, 0.8 * left / per_node)
    assert any(nodes < _vbp_bound.NODES for nodes, _ in calls[1:])


def test_lp_watch_runs_pricing_in_the_thread_that_lends_its_core():
    """A call handed to the watch runs in the thread lending its core, which lends
    it while the master rounds up to its packing and stops once the master rounds
    up below; no thread lends before or after."""
    watch = _vbp_bound.LPWatch()
    assert watch.beside(threading.get_ident) is None
    watch.solved(10.5, lambda: None)
    ended = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        lender = pool.submit(
            lambda: (watch.lend(11, ended.is_set), threading.get_ident())
        )
        far = time.perf_counter() + 30.0
        while (handed := watch.beside(threading.get_ident)) is None:
            assert time.perf_counter() < far
            time.sleep(0.001)
        ran_in = handed.result(timeout=30.0)
        watch.solved(9.5, lambda: None)
        _, lender_thread = lender.result(timeout=30.0)
    assert ran_in == lender_thread != threading.get_ident()
    assert watch.beside(threading.get_ident) is None


def test_lp_prices_beside_itself_on_a_lent_core(monkeypatch):
    """While another thread lends its core, the LP prices in both threads and still
    ends optimal at the LP optimum it reaches alone (the pricing is all
    knapsack calls here)."""
    problem = paired(20, 7)
    req, cap = problem.requests, problem.machines.capacity[0]
    start = np.arange(problem.n, dtype=np.int64)
    alone = _vbp_bound.column_generation(req, cap, start)
    price = _vbp_bound._price
    threads = set()

    def recorded_price(*args):
        threads.add(threading.get_ident())
        return price(*args)

    monkeypatch.setattr(_vbp_bound, "_price", recorded_price)
    monkeypatch.setattr(_vbp_bound, "_greedy", lambda *args: False)
    monkeypatch.setattr(_vbp_bound, "_swaps", lambda *args: False)
    watch = _vbp_bound.LPWatch()
    done = threading.Event()

    def lend() -> None:
        """Lends its core whatever the master rounds up to."""
        while not done.is_set():
            if np.isfinite(watch.value):
                watch.lend(_vbp_bound.machines(watch.value), done.is_set)
            time.sleep(0.001)

    with ThreadPoolExecutor(1) as pool:
        lender = pool.submit(lend)
        try:
            helped = _vbp_bound.column_generation(req, cap, start, watch=watch)
        finally:
            done.set()
        lender.result(timeout=30.0)
    assert alone.optimal
    assert helped.optimal
    assert helped.bound == pytest.approx(alone.bound, abs=1e-6)
    assert len(threads) == 2


def test_search_lends_its_core_once_only_the_proof_is_missing(monkeypatch):
    """After a round of search that leaves the packing where the master rounds up
    to, the search thread runs the LP's pricing calls."""
    problem = paired(10, 4)
    monkeypatch.setattr(_vbp, "improve", lambda problem, best, *rest: best)
    watch = _vbp_bound.LPWatch()
    watch.solved(problem.n - 0.5, lambda: None)
    ended = threading.Event()
    start = np.arange(problem.n, dtype=np.int64)
    search_thread = []

    def search() -> np.ndarray:
        search_thread.append(threading.get_ident())
        far = time.perf_counter() + 60.0
        return _vbp._search_and_dive(
            problem, start, 10, far, 0, watch, ended.is_set, lambda used: None
        )

    with ThreadPoolExecutor(1) as pool:
        searched = pool.submit(search)
        try:
            far = time.perf_counter() + 30.0
            while (handed := watch.beside(threading.get_ident)) is None:
                assert time.perf_counter() < far
                time.sleep(0.001)
            ran_in = handed.result(timeout=30.0)
        finally:
            ended.set()
        best = searched.result(timeout=30.0)
    assert ran_in == search_thread[0]
    assert np.array_equal(best, start)


def test_search_dives_straight_after_its_loan(monkeypatch):
    """When the master drops below the packing while the search thread lends its
    core, the thread dives at once, with no round of search between: one round of
    search in all, before the loan, and the dives pack the pairs."""
    problem = paired(30, 5)
    cap = problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(problem.requests, cap)
    rounds = []

    def no_search(problem, best, *rest):
        rounds.append(1)
        return best

    monkeypatch.setattr(_vbp, "improve", no_search)
    watch = _vbp_bound.LPWatch()
    value = problem.n - 0.5

    def master_solve() -> None:
        """Rounds up to the packing in hand until the search lends its core, then
        to the pairs."""
        nonlocal value
        watch.solved(value, lambda: lp)
        if value > 30 and watch.beside(lambda: None) is not None:
            value = float(lp.values.sum())

    best = search_beside_a_master(problem, watch, master_solve, lambda used: None)
    assert np.unique(best).shape[0] == 30
    assert loads_fit(problem.requests, cap, best)
    assert len(rounds) == 1


def test_dives_follow_an_lp_cut_where_its_master_meets_the_bound():
    """The dives after the LP run when it is solved, or when the clock cut it where
    its master already rounds up to the bound; not when the master rounds up above
    the bound or was never solved."""
    from solver.engines.cpsat import _dives_due

    problem = paired(12, 3)
    req, cap = problem.requests, problem.machines.capacity[0]
    lp = _vbp_bound.column_generation(req, cap, max_iter=1)
    assert not lp.optimal
    at = _vbp_bound.machines(float(lp.values.sum()))
    assert _dives_due(lp, at)
    assert not _dives_due(lp, at - 1)
    unsolved = dataclasses.replace(lp, values=np.zeros_like(lp.values))
    assert not _dives_due(unsolved, at)
    solved = _vbp_bound.column_generation(req, cap)
    assert solved.optimal
    assert _dives_due(solved, _vbp_bound.machines(solved.bound))
