"""Graph-free column generation: knapsack pricing, LP bound and Scholl's hard set."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from helpers import bpplib_case
from hypothesis import given
from hypothesis import strategies as st
from naive import fewest_bins

from solver.engines import _knapsack_kernels as kernels
from solver.engines import arcflow, colgen
from solver.engines.cpsat import choose_formulation
from solver.model import Problem

_NODES = 10**7


def brute_patterns(weights, bounds, profits, cap) -> list[tuple[float, tuple]]:
    """Every feasible pattern over the types of positive profit, with its value."""
    ranges = [
        range(int(b) + 1) if p > 0 else range(1)
        for b, p in zip(bounds, profits, strict=True)
    ]
    out = []
    for a in itertools.product(*ranges):
        a = np.array(a, dtype=np.int64)
        if (a @ weights <= cap).all():
            out.append((float(a @ profits), tuple(a.tolist())))
    return out


@st.composite
def knapsacks(draw: st.DrawFn, dims: int | None = None):
    """Up to five item types in 1 to 3 dimensions with bounds and mixed-sign profits."""
    d = dims or draw(st.integers(1, 3))
    t = draw(st.integers(1, 5))
    cap = np.array([draw(st.integers(1, 20)) for _ in range(d)], dtype=np.int64)
    weights = np.array(
        [[draw(st.integers(0, 12)) for _ in range(d)] for _ in range(t)], np.int64
    )
    weights[weights.sum(axis=1) == 0, 0] = 1
    bounds = np.array([draw(st.integers(0, 3)) for _ in range(t)], np.int64)
    profits = np.array([draw(st.floats(-0.3, 1.0)) for _ in range(t)])
    return weights, bounds, profits, cap


@given(knapsacks(), st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.0]))
def test_branch_and_bound_returns_the_best_patterns(instance, keep, floor) -> None:
    """The branch and bound returns the ``keep`` best values above the floor, each
    with a feasible pattern of that value, and the best value as its bound."""
    weights, bounds, profits, cap = instance
    values, patterns, found, upper, complete = kernels.best_patterns(
        weights, bounds, profits, cap, keep, floor, _NODES
    )
    assert complete
    good = sorted(
        (v for v, _ in brute_patterns(weights, bounds, profits, cap) if v > floor),
        reverse=True,
    )
    assert found == min(keep, len(good))
    np.testing.assert_allclose(sorted(values[:found], reverse=True), good[:found])
    for value, a in zip(values[:found], patterns[:found], strict=True):
        assert (a <= bounds).all()
        assert (a @ weights <= cap).all()
        assert a @ profits == pytest.approx(value)
    assert upper == pytest.approx(max([floor, *good]))


@given(knapsacks(), st.integers(1, 6))
def test_stopped_search_still_bounds_the_best(instance, nodes) -> None:
    """With a node limit the returned bound is still at least the best value."""
    weights, bounds, profits, cap = instance
    *_, upper, _ = kernels.best_patterns(weights, bounds, profits, cap, 2, 0.0, nodes)
    best = max(v for v, _ in brute_patterns(weights, bounds, profits, cap))
    assert upper >= best - 1e-9


@given(knapsacks(dims=1), st.integers(1, 4))
def test_dynamic_program_finds_the_best_pattern(instance, keep) -> None:
    """The one-dimensional program's best value equals brute force; its patterns are
    feasible, worth what it says, above the floor, the best one first."""
    weights, bounds, profits, cap = instance
    table = np.empty((int(bounds.sum()), int(cap[0]) + 1), np.bool_)
    values, patterns, found, best = kernels.dp_patterns(
        weights[:, 0], bounds, profits, int(cap[0]), keep, 0.5, table
    )
    truth = max(v for v, _ in brute_patterns(weights, bounds, profits, cap))
    assert best == pytest.approx(truth)
    assert found == 0 or values[0] == pytest.approx(truth)
    assert (found > 0) == (truth > 0.5 + 1e-12)
    for value, a in zip(values[:found], patterns[:found], strict=True):
        assert value > 0.5
        assert (a <= bounds).all()
        assert a @ weights[:, 0] <= cap[0]
        assert a @ profits == pytest.approx(value)


@st.composite
def packings(draw: st.DrawFn, dims: int = 1) -> Problem:
    """Identical machines and up to 9 containers in ``dims`` dimensions."""
    n = draw(st.integers(1, 9))
    cap = np.array([draw(st.integers(5, 40)) for _ in range(dims)])
    rows = [[draw(st.integers(1, 40)) for _ in range(dims)] for _ in range(n)]
    requests = np.minimum(np.array(rows), cap)
    if draw(st.booleans()):  # repeated sizes give item types with demands above one
        requests = np.concatenate([requests, requests[: n // 2 + 1]])
    return Problem.from_arrays(np.repeat(cap[None, :], len(requests), axis=0), requests)


def _unbounded_lp(items) -> float:
    """LP over every machine content, copies limited by capacity only: scaling each
    demand by the most copies that fit leaves no demand binding a pattern, and the
    master is linear in its demands."""
    scale = int(max(arcflow._fit_count(w, items.cap) for w in items.weights))
    scaled = dataclasses.replace(items, demands=items.demands * scale)
    master = colgen.KnapsackMaster(scaled, arcflow._greedy(scaled))
    return master.optimize(math.inf) / scale


@given(st.one_of(packings(1), packings(2)))
def test_arcflow_lp_lies_between_bounded_and_unbounded_lps(problem: Problem) -> None:
    """Every path of the compressed graph fits a machine, but compression may let a
    path carry more copies of a type than its demand (Brandao & Pedroso): the graph's
    LP lies between the LP over contents bounded by demand (knapsack pricing, whose
    Farley bound is no higher) and the LP over contents bounded by capacity alone.
    Rounded up, none exceeds the optimum."""
    items = arcflow._items(problem)
    start = arcflow._greedy(items)
    graph = arcflow._build(items, arcflow.ARC_BUDGET, math.inf)
    with_graph = arcflow._Master(graph, items, start).optimize(math.inf)
    master = colgen.KnapsackMaster(items, start)
    bounded = master.optimize(math.inf)
    assert _unbounded_lp(items) - 1e-6 <= with_graph <= bounded + 1e-6
    assert master.farley <= bounded + 1e-6
    if problem.d == 1:
        optimum = fewest_bins(problem.requests, problem.capacity[0])
        assert math.ceil(bounded - 1e-6) <= optimum


def test_compression_may_exceed_a_demand_along_a_path() -> None:
    """The case that shows it: two items of size 2 exist, but the graph's LP uses a
    content with four of them, and stays below the LP bounded by demand."""
    sizes = np.array([1] * 11 + [2, 2, 12]).reshape(-1, 1)
    problem = Problem.from_arrays(np.full((len(sizes), 1), 24), sizes)
    items = arcflow._items(problem)
    start = arcflow._greedy(items)
    graph = arcflow._build(items, arcflow.ARC_BUDGET, math.inf)
    with_graph = arcflow._Master(graph, items, start).optimize(math.inf)
    bounded = colgen.KnapsackMaster(items, start).optimize(math.inf)
    assert with_graph == pytest.approx(1.1875)  # the content [2] * 4 + [1] * 8
    assert bounded == pytest.approx(1.2)


@st.composite
def pair_packings(draw: st.DrawFn) -> Problem:
    """An odd number of items of a third to two fifths of a machine (two per machine,
    so the simple bounds fall short and the LP bound is needed), and a few small."""
    big = draw(st.lists(st.integers(34, 40), min_size=5, max_size=9))
    big = big[: len(big) - 1 + len(big) % 2]
    small = draw(st.lists(st.integers(1, 25), max_size=2))
    sizes = np.array([*big, *small]).reshape(-1, 1)
    return Problem.from_arrays(np.full((len(sizes), 1), 100), sizes)


@pytest.mark.parametrize("dive", [arcflow._dive, colgen._dive])
@given(problem=pair_packings())
def test_dives_run_on_the_knapsack_master(dive, problem: Problem) -> None:
    """The arc-flow LP dive and the cheaper one both run on the graph-free master and
    pack every item within capacity; the master's demands are restored."""
    items = arcflow._items(problem)
    master = colgen.KnapsackMaster(items, arcflow._greedy(items))
    lp = master.optimize(math.inf)
    packing = dive(master, items, math.ceil(lp - 1e-6), math.inf, 0)
    counts = np.bincount(
        [t for pattern in packing for t in pattern], minlength=len(items.demands)
    )
    np.testing.assert_array_equal(counts, items.demands)
    for pattern in packing:
        assert items.weights[pattern].sum() <= items.cap[0]
    np.testing.assert_array_equal(master.demands, items.demands)


@given(pair_packings())
def test_solve_without_graph_is_optimal(problem: Problem) -> None:
    """With no arc budget the engine runs graph-free and still packs optimally (and
    proves it: the simple bounds fall short here, the LP bound does not)."""
    result = arcflow.solve_arcflow(problem, time_limit=2.0, max_arcs=0)
    assert result is not None
    assert result.graph_arcs == 0
    optimum = fewest_bins(problem.requests, problem.capacity[0])
    assert result.bound <= optimum
    assert result.objective == optimum
    assert result.status == "optimal"
    loads = np.zeros(problem.m, np.int64)
    np.add.at(loads, result.assignment, problem.requests[:, 0])
    assert (loads <= problem.capacity[0, 0]).all()


@given(packings(1))
def test_graph_size_count_matches_the_build(problem: Problem) -> None:
    """Counting reachable loads gives exactly the arcs the graph has before
    compression."""
    items = arcflow._items(problem)
    arcs = arcflow._build(items, arcflow.ARC_BUDGET, math.inf).step2_arcs
    assert colgen.graph_exceeds(items, arcs - 1)
    assert not colgen.graph_exceeds(items, arcs)


def test_large_one_dimensional_graphs_run_without_the_graph() -> None:
    """Large capacities with few items per machine pick the arc-flow engine, which
    then runs graph-free; two dimensions still fall back to the assignment model."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(20_000, 35_001, size=(200, 1))
    one = Problem.from_arrays(np.full((200, 1), 100_000), sizes)
    assert arcflow.arcflow_size_estimate(one) is None
    assert choose_formulation(one, 200 * 60, "auto") == ("arcflow", 1.0)
    two = Problem.from_arrays(
        np.full((50, 2), 10_000), rng.integers(500, 4000, size=(50, 2))
    )
    assert choose_formulation(two, 1000, "auto", 1.0) == ("assignment", 0.0)


@pytest.mark.slow
@pytest.mark.needs_shared_data
@pytest.mark.parametrize("instance", ["HARD4", "HARD6"])
def test_scholl_hard_proven_optimal(shared_datasets, instance: str) -> None:
    """Scholl's hard instances (graph beyond the budget) are proven optimal."""
    problem, optimum = bpplib_case(shared_datasets, "scholl_3", instance)
    result = arcflow.solve_arcflow(problem, time_limit=30.0)
    assert result is not None
    assert result.bound <= optimum <= result.objective
    assert result.status == "optimal"
    assert result.objective == optimum
