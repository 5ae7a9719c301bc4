"""Arc-flow engine: optimal bin and vector packing against brute force and BPPLIB."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import bpplib_case
from hypothesis import given
from hypothesis import strategies as st
from naive import fewest_bins

from solver.constraints import AntiAffinity
from solver.engines import _arcflow_kernels as kernels
from solver.engines import arcflow
from solver.engines.arcflow import arcflow_size_estimate, solve_arcflow
from solver.model import Containers, Machines, Problem


def check_packing(problem: Problem, assignment: np.ndarray) -> None:
    """Every container in a bin below the machine count, no bin over capacity."""
    assert (assignment >= 0).all()
    assert (assignment < problem.m).all()
    loads = np.zeros((problem.m, problem.d), np.int64)
    np.add.at(loads, assignment, problem.requests)
    assert (loads <= problem.capacity).all()


@st.composite
def tiny_packings(draw: st.DrawFn) -> Problem:
    """Identical machines and up to 9 containers in 1 to 3 dimensions."""
    d = draw(st.integers(1, 3))
    n = draw(st.integers(1, 9))
    cap = np.array([draw(st.integers(5, 30)) for _ in range(d)])
    sizes = st.lists(st.integers(0, 30), min_size=d, max_size=d)
    rows = [draw(sizes) for _ in range(n)]
    requests = np.minimum(np.array(rows), cap)
    if draw(st.booleans()):  # repeat a few rows so item types have demands above one
        requests = np.concatenate([requests, requests[: draw(st.integers(0, n))]])
    return Problem.from_arrays(np.tile(cap, (len(requests), 1)), requests)


@given(tiny_packings())
def test_objective_equals_brute_force(problem: Problem) -> None:
    """The arc-flow optimum matches exhaustive search; the packing is valid."""
    result = solve_arcflow(problem, time_limit=20.0)
    assert result is not None
    expected = fewest_bins(problem.requests, problem.capacity[0])
    if not problem.requests.any():
        expected = 1
    check_packing(problem, result.assignment)
    assert result.bound <= result.objective
    assert len(np.unique(result.assignment)) == result.objective
    assert result.status == "optimal"
    assert result.objective == expected == result.bound


@st.composite
def typed_items(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item types (weights in decreasing size order), demands and a capacity."""
    d = draw(st.integers(1, 3))
    cap = np.array([draw(st.integers(5, 30)) for _ in range(d)], np.int64)
    t = draw(st.integers(1, 5))
    rows = [[draw(st.integers(0, int(c))) for c in cap] for _ in range(t)]
    weights = np.array(rows, np.int64).reshape(t, d)
    weights[:, 0] = np.maximum(weights[:, 0], 1)  # every type requests something
    size = (weights / cap).sum(axis=1)
    weights = np.ascontiguousarray(weights[np.argsort(-size, kind="stable")])
    demands = np.array([draw(st.integers(1, 3)) for _ in range(t)], np.int64)
    return weights, demands, cap


def check_copies(weights, demands, cap, where, bins) -> None:
    """Each copy (numbered type by type) sits in a bin below ``bins``, none overfull."""
    types = np.repeat(np.arange(len(demands)), demands)
    assert where.shape == types.shape
    assert ((where >= 0) & (where < bins)).all()
    loads = np.zeros((bins, len(cap)), np.int64)
    np.add.at(loads, where, weights[types])
    assert (loads <= cap).all()
    assert len(np.unique(where)) == bins  # no empty bin


def naive_best_fit(weights, demands, cap) -> int:
    """Plain best fit decreasing: the fitting bin with the largest summed fill."""
    loads: list[np.ndarray] = []
    for t in range(len(demands)):
        for _ in range(int(demands[t])):
            fitting = [b for b, x in enumerate(loads) if (x + weights[t] <= cap).all()]
            if fitting:
                b = max(fitting, key=lambda b: ((loads[b] / cap).sum(), -b))
                loads[b] = loads[b] + weights[t]
            else:
                loads.append(weights[t].copy())
    return len(loads)


@given(typed_items())
def test_greedy_heuristics_pack_validly(instance) -> None:
    """FFD, BFD and MBS' give valid packings; BFD matches a plain best fit; MBS' and
    every heuristic stay at or above the brute-force optimum."""
    weights, demands, cap = instance
    types = np.repeat(np.arange(len(demands)), demands)
    optimum = fewest_bins(weights[types], cap)
    order = np.arange(len(demands), dtype=np.int64)
    ffd = kernels.first_fit_decreasing(weights, demands, cap)
    bfd = kernels.best_fit_decreasing(weights, demands, cap)
    mbs = kernels.minimum_bin_slack(weights, demands, cap, order, 10_000)
    shuffled = kernels.minimum_bin_slack(weights, demands, cap, order[::-1].copy(), 3)
    for where, bins in (ffd, bfd, mbs, shuffled):
        check_copies(weights, demands, cap, where, bins)
        assert bins >= optimum
    assert bfd[1] == naive_best_fit(weights, demands, cap)


@given(typed_items(), st.integers(0, 2**31 - 1))
def test_target_search_finds_valid_packings(instance, seed: int) -> None:
    """The tabu search only reports success with a valid packing into k bins, and
    with one bin per item it always succeeds."""
    weights, demands, cap = instance
    types = np.repeat(np.arange(len(demands)), demands)
    w = np.ascontiguousarray(weights[types])
    n = len(types)
    optimum = fewest_bins(w, cap)
    for k in (optimum, n):
        assign = np.arange(n, dtype=np.int64) % k
        tabu = np.zeros(n, np.int64)
        clock = np.zeros(1, np.int64)
        ok = kernels.target_search(w, cap, assign, k, tabu, clock, seed, 500)
        if k == n:
            assert ok
        if ok:
            loads = np.zeros((k, len(cap)), np.int64)
            np.add.at(loads, assign, w)
            assert ((assign >= 0) & (assign < k)).all()
            assert (loads <= cap).all()
    below = np.zeros(n, np.int64)
    if optimum > 1:  # one bin fewer than the optimum can never be reached
        assert not kernels.target_search(
            w, cap, below % (optimum - 1), optimum - 1, np.zeros(n, np.int64),
            np.zeros(1, np.int64), seed, 200,
        )


def all_maximal_patterns(weights, demands, cap) -> list[tuple[int, ...]]:
    """Every maximal pattern (no type below its demand fits in the room left), by
    plain product over the copy counts."""
    ranges = [range(int(b) + 1) for b in demands]
    found = []
    for counts in itertools.product(*ranges):
        load = np.array(counts) @ weights
        if (load > cap).any():
            continue
        room = cap - load
        if any(
            c < b and (weights[i] <= room).all()
            for i, (c, b) in enumerate(zip(counts, demands, strict=True))
        ):
            continue
        found.append(tuple(counts))
    return found


@given(typed_items(), st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5),
       st.floats(-0.5, 1.5), st.sampled_from([0, 10**6]))
def test_maximal_enumeration_matches_plain_search(
    instance, profit, threshold, cells
) -> None:
    """The pruned search lists exactly the maximal patterns whose profit reaches the
    threshold, each once, with the ratio bound and with the knapsack tables."""
    weights, demands, cap = instance
    t_count = len(demands)
    duals = np.array(profit[:t_count])
    expected = {
        c for c in all_maximal_patterns(weights, demands, cap)
        if float(np.dot(c, duals)) >= threshold
    }
    counts, found, complete = kernels.enumerate_maximal(
        weights, demands, cap, duals, threshold, 10_000, 10**7, cells
    )
    listed = [tuple(int(x) for x in row) for row in counts[:found]]
    assert complete
    assert len(listed) == len(set(listed))
    assert set(listed) == expected


def solved_master(instance):
    """Items, graph and a column generation master solved to the LP optimum."""
    weights, demands, cap = instance
    items = arcflow._Items(weights, demands, [], np.zeros(0, np.int64), cap)
    graph = arcflow._build(items, 100_000, float("inf"))
    master = arcflow._Master(graph, items, arcflow._greedy(items))
    return items, graph, master, master.optimize(float("inf"))


def check_type_packing(packing, weights, demands, cap) -> None:
    """Patterns of item types that hold every copy exactly once, none overfull."""
    placed = np.bincount(np.concatenate(packing), minlength=len(demands))
    assert (placed == demands).all()
    for pattern in packing:
        assert (weights[pattern].sum(axis=0) <= cap).all()


@given(typed_items(), st.booleans())
def test_price_and_branch_is_exact(instance, exact_only: bool) -> None:
    """At the rounded-up LP bound and at the brute-force optimum, price-and-branch over
    the maximal patterns packs into the target when that many bins suffice (a valid
    packing) and proves the target too low otherwise."""
    weights, demands, cap = instance
    items, _, master, value = solved_master(instance)
    bound = int(np.ceil(value - 1e-6))
    types = np.repeat(np.arange(len(demands)), demands)
    optimum = fewest_bins(weights[types], cap)
    assert bound <= optimum
    for target in sorted({bound, optimum}):
        found, too_few = arcflow._price_and_branch(
            items, master.duals, target, float("inf"), 0, exact_only=exact_only
        )
        assert too_few == (optimum > target)
        assert (found is not None) == (optimum <= target)
        if found is not None:
            assert len(found) <= target
            check_type_packing(found, weights, demands, cap)


def graph_paths(graph) -> list[list[int]]:
    """Every source-to-sink path of a graph as its list of arcs (plain recursion)."""
    out: dict[int, list[int]] = {}
    for a, tail in enumerate(graph.arcs[:, 0].tolist()):
        out.setdefault(tail, []).append(a)

    def walk(node: int) -> list[list[int]]:
        if node == graph.sink:
            return [[]]
        return [
            [a, *rest]
            for a in out.get(node, [])
            for rest in walk(int(graph.arcs[a, 1]))
        ]

    return walk(graph.source)


@given(typed_items(), st.integers(0, 2))
def test_fixing_keeps_exactly_the_arcs_of_cheap_paths(instance, slack: int) -> None:
    """An arc is kept exactly when some source-to-sink path through it has a reduced
    cost within the gap (checked against every path of the graph)."""
    demands = instance[1]
    _, graph, master, value = solved_master(instance)
    target = int(np.ceil(value - 1e-6)) + slack
    gap = target - float(demands @ master.duals)
    keep = arcflow._useful_arcs(graph, master.duals, gap, target)
    expected = np.zeros(graph.size, bool)
    tol = 1e-6 * (target + 1)
    for path in graph_paths(graph):
        arcs = graph.arcs[path]
        items_on = arcs[:, 2] >= 0
        profit = (master.duals[arcs[items_on, 2]] * arcs[items_on, 3]).sum()
        if 1.0 - profit <= gap + tol:
            expected[path] = True
    assert (keep == expected).all()


@given(typed_items())
def test_fixed_flow_program_is_exact(instance) -> None:
    """With reduced-cost fixing, the integer flow program for at most ``target`` bins
    is infeasible exactly when brute force needs more, from the rounded-up LP bound
    to the optimum, and its flow is then a valid packing into ``target`` bins."""
    weights, demands, cap = instance
    items, graph, master, value = solved_master(instance)
    bound = int(np.ceil(value - 1e-6))
    types = np.repeat(np.arange(len(demands)), demands)
    optimum = fewest_bins(weights[types], cap)
    for target in range(bound, optimum + 1):
        model = arcflow._FlowModel.build(
            graph, items, target, float("inf"), master.duals
        )
        outcome, flow, _ = model.integer(0, target, "scip", 20.0, 1, 0)
        assert (outcome == "infeasible") == (optimum > target)
        if optimum <= target:
            assert flow is not None
            patterns = [
                p for p, amount in arcflow._decompose(graph, flow)
                for _ in range(round(amount))
            ]
            packing = arcflow._fix([(p, 1) for p in patterns], demands.copy())
            assert len(packing) <= target
            check_type_packing(packing, weights, demands, cap)


@given(typed_items(), st.integers(0, 3))
def test_dive_packs_every_copy_validly(instance, slack: int) -> None:
    """An LP dive aimed at the rounded LP bound plus ``slack`` returns a valid packing
    of every copy, never below the brute-force optimum, and leaves the master's
    demands as they were."""
    weights, demands, cap = instance
    items, _, master, value = solved_master(instance)
    target = int(np.ceil(value - 1e-6)) + slack
    found = arcflow._dive(master, items, target, float("inf"), 0)
    types = np.repeat(np.arange(len(demands)), demands)
    assert found is not None
    assert len(found) >= fewest_bins(weights[types], cap)
    check_type_packing(found, weights, demands, cap)
    assert [row.lb() for row in master.rows] == demands.tolist()


@pytest.mark.parametrize("backend", ["highs", "scip", "cpsat"])
def test_integer_backends_close_the_gap(backend: str) -> None:
    """Each integer back end proves 2 bins infeasible and finds 3 for 6, 6, 6 in 10."""
    problem = Problem.from_arrays(np.full((3, 1), 10), [[6], [6], [6]])
    items = arcflow._items(problem)
    graph = arcflow._build(items, 10_000, float("inf"))
    model = arcflow._FlowModel.build(graph, items, 4, float("inf"))
    outcome, _, _ = model.integer(1, 2, backend, 20.0, 1, 0)
    assert outcome == "infeasible"
    outcome, flow, _ = model.integer(1, 3, backend, 20.0, 1, 0)
    assert outcome == "optimal"
    paths = arcflow._decompose(graph, flow)
    assert sorted((len(p), round(amount)) for p, amount in paths) == [(1, 3)]
    result = solve_arcflow(problem, time_limit=20.0, backend=backend)
    assert result is not None
    assert result.objective == 3
    assert result.status == "optimal"
    check_packing(problem, result.assignment)


def test_vector_packing_needs_every_dimension() -> None:
    """Items that fit together in one dimension but not the other take two bins."""
    problem = Problem.from_arrays(np.full((2, 2), 10), [[5, 8], [5, 8], [5, 1]])
    result = solve_arcflow(problem, time_limit=20.0)
    assert result is not None
    assert result.objective == 2
    check_packing(problem, result.assignment)


def test_hint_is_used_and_bad_hints_are_ignored() -> None:
    """A complete valid hint is accepted; an overloaded or partial one is ignored."""
    problem = Problem.from_arrays(np.full((4, 1), 10), [[5], [5], [4], [6]])
    good = solve_arcflow(problem, time_limit=20.0, hint=np.array([0, 0, 1, 1]))
    over = solve_arcflow(problem, time_limit=20.0, hint=np.array([0, 0, 0, 0]))
    partial = solve_arcflow(problem, time_limit=20.0, hint=np.array([0, -1, 1, 1]))
    for result in (good, over, partial):
        assert result is not None
        assert result.objective == 2
        check_packing(problem, result.assignment)


def test_not_applicable_problems_return_none() -> None:
    """Different machines, constraints, oversize items or too few machines: None."""
    mixed = Problem.from_arrays([[10], [20]], [[5], [5]])
    oversize = Problem.from_arrays([[10], [10]], [[11], [5]])
    too_few = Problem.from_arrays([[10]], [[6], [6]])
    constrained = Problem(
        Machines(np.full((2, 1), 10)),
        Containers(
            [[5], [5]], service=["a", "a"], anti_affinity=AntiAffinity("machine", 1)
        ),
    )
    down = Problem(
        Machines(np.full((2, 1), 10), state=["up", "down"]), Containers([[5]])
    )
    for problem in (mixed, oversize, too_few, constrained, down):
        assert solve_arcflow(problem, time_limit=5.0) is None
        if problem is not too_few:  # the graph itself does not depend on the count
            assert arcflow_size_estimate(problem) is None
    assert arcflow_size_estimate(Problem.from_arrays([[10], [10]], [[5], [4]])) > 0


def test_fine_grained_capacities_give_up() -> None:
    """Capacity 10,000 in two dimensions explodes the graph: no graph is built."""
    rng = np.random.default_rng(7)
    requests = rng.integers(500, 4000, size=(50, 2))
    problem = Problem.from_arrays(np.full((50, 2), 10_000), requests)
    assert arcflow_size_estimate(problem, max_arcs=200_000) is None
    # the engine declines unless its heuristics already meet the simple lower bound
    result = solve_arcflow(problem, time_limit=10.0, max_arcs=200_000)
    if result is not None:
        assert result.status == "optimal"
        assert result.graph_arcs == 0
        check_packing(problem, result.assignment)


@pytest.mark.needs_shared_data
@pytest.mark.parametrize(
    ("family", "instance"),
    [
        ("falkenauer_u", "Falkenauer_u120_00"),
        ("scholl_2", "N1W1B1R0"),
        ("scholl_1", "N1C1W1_A"),
    ],
)
def test_bpplib_known_optimum(shared_datasets, family: str, instance: str) -> None:
    """A few BPPLIB instances are packed into their known optimal number of bins."""
    problem, optimum = bpplib_case(shared_datasets, family, instance)
    result = solve_arcflow(problem, time_limit=30.0)
    assert result is not None
    check_packing(problem, result.assignment)
    assert result.bound <= optimum <= result.objective
    assert result.objective == optimum


@pytest.mark.slow
@pytest.mark.needs_shared_data
@pytest.mark.parametrize(
    "instance",
    # optimum = rounded LP bound; one above it; LP bound with 79 zero duals; integral
    # LP, listing too long: a packing at it (BPP742) and none (BPP175, optimum 84)
    ["Hard28_BPP13", "Hard28_BPP14", "Hard28_BPP47", "Hard28_BPP742", "Hard28_BPP175"],
)
def test_hard28_proven_optimal(shared_datasets, instance: str) -> None:
    """Hard28 instances are proven optimal: by a packing meeting the rounded LP
    bound, (non-IRUP) by raising the bound past the LP, with half the duals zero
    (the listing explodes; cheap types fill the patterns of the others), and through
    the flow program over the arcs that reduced-cost fixing keeps."""
    problem, optimum = bpplib_case(shared_datasets, "hard28", instance)
    result = solve_arcflow(problem, time_limit=60.0)
    assert result is not None
    check_packing(problem, result.assignment)
    assert result.bound <= optimum <= result.objective
    assert result.status == "optimal"
    assert result.objective == optimum


@pytest.mark.slow
@pytest.mark.needs_shared_data
@pytest.mark.parametrize("instance", ["Waescher_TEST0005", "Waescher_TEST0030"])
def test_waescher_proven_by_lp_diving(shared_datasets, instance: str) -> None:
    """Waescher instances whose patterns within the LP gap are too many to list are
    proven optimal by an LP dive meeting the rounded LP bound."""
    problem, optimum = bpplib_case(shared_datasets, "waescher", instance)
    result = solve_arcflow(problem, time_limit=30.0)
    assert result is not None
    check_packing(problem, result.assignment)
    assert result.status == "optimal"
    assert result.objective == optimum
