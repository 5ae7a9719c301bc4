"""Arc-flow engine: optimal bin and vector packing against brute force and BPPLIB."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solver.constraints import AntiAffinity
from solver.engines.arcflow import arcflow_size_estimate, solve_arcflow
from solver.model import Containers, Machines, Problem


def brute_force_bins(requests: np.ndarray, cap: np.ndarray) -> int:
    """Fewest bins of capacity ``cap`` holding every request, by exhaustive search."""
    order = sorted(range(len(requests)), key=lambda i: -int(requests[i].sum()))
    items = [requests[i] for i in order]
    best = [len(items)]

    def search(k: int, loads: list[np.ndarray]) -> None:
        if len(loads) >= best[0]:
            return
        if k == len(items):
            best[0] = len(loads)
            return
        for b in range(len(loads)):
            if (loads[b] + items[k] <= cap).all():
                loads[b] = loads[b] + items[k]
                search(k + 1, loads)
                loads[b] = loads[b] - items[k]
        search(k + 1, [*loads, items[k].copy()])

    search(0, [])
    return best[0]


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
    expected = brute_force_bins(problem.requests, problem.capacity[0])
    if not problem.requests.any():
        expected = 1
    check_packing(problem, result.assignment)
    assert result.bound <= result.objective
    assert len(np.unique(result.assignment)) == result.objective
    assert result.status == "optimal"
    assert result.objective == expected == result.bound


@pytest.mark.parametrize("backend", ["highs", "scip", "cpsat"])
def test_integer_backends_close_the_gap(backend: str) -> None:
    """LP bound 2 but optimum 3: each integer back end closes the gap."""
    # three items of 6 in bins of 10: LP = 1.8 bins, but no two items share a bin
    problem = Problem.from_arrays(np.full((3, 1), 10), [[6], [6], [6]])
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
    """Capacity 10,000 in two dimensions explodes the graph: the engine declines."""
    rng = np.random.default_rng(7)
    requests = rng.integers(500, 4000, size=(50, 2))
    problem = Problem.from_arrays(np.full((50, 2), 10_000), requests)
    assert solve_arcflow(problem, time_limit=10.0, max_arcs=200_000) is None
    assert arcflow_size_estimate(problem, max_arcs=200_000) is None


def read_bpplib(path) -> Problem:
    """A BPPLIB text file: n, capacity, then n weights."""
    values = [int(x) for x in path.read_text().split()]
    n, cap = values[0], values[1]
    requests = np.array(values[2:]).reshape(-1, 1)
    return Problem.from_arrays(np.full((n, 1), cap), requests)


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
    folder = shared_datasets / "bpplib" / family
    path = folder / f"{instance}.txt"
    if not path.exists():
        pytest.skip(f"{instance} is not in this part of the data")
    with (folder / "optima.csv").open() as fh:
        optimum = {r["instance"]: int(r["best_known"]) for r in csv.DictReader(fh)}
    problem = read_bpplib(path)
    result = solve_arcflow(problem, time_limit=30.0)
    assert result is not None
    check_packing(problem, result.assignment)
    assert result.bound <= optimum[instance] <= result.objective
    assert result.objective == optimum[instance]
