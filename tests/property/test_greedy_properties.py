"""Hypothesis properties of every greedy engine against validate and the naive twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from naive import ffd_1d, greedy
from strategies import constrained_problems, plain_problems, problems

import solver
from solver.engines import get
from solver.engines.greedy import PRESETS, container_order

ENGINES = sorted(PRESETS)


def _continuous_bound(problem: solver.Problem, placement: solver.Placement) -> int:
    """Machines needed by the placed load if each machine were the fleet's largest."""
    placed = placement.assignment >= 0
    load = problem.requests[placed].sum(axis=0)
    top = problem.capacity.max(axis=0, initial=0)
    need = [int(-(-int(x) // int(c))) for x, c in zip(load, top, strict=True) if c > 0]
    return max([0, *need])


@pytest.mark.parametrize("name", ENGINES)
@given(problem=problems())
def test_engine_output_is_valid_and_complete(
    name: str, problem: solver.Problem
) -> None:
    """Every engine's placement passes validate and accounts for every container."""
    placement = get(name).solve(problem)
    solver.validate(problem, placement)
    assert placement.placed + len(placement.unplaced) == problem.n
    assert set(placement.reasons) == set(placement.unplaced.tolist())
    assert placement.machines_used >= _continuous_bound(problem, placement)
    expected = solver.Status.FEASIBLE if placement.placed == problem.n else "partial"
    assert placement.status == expected


@pytest.mark.parametrize("name", ENGINES)
@given(problem=problems(), candidates=st.sampled_from([None, 1, 3]))
def test_engine_equals_naive_replay(
    name: str, problem: solver.Problem, candidates: int | None
) -> None:
    """The kernel's choices equal a plain-Python replay of the same order and score.

    Hence a container is unplaced only if no machine was feasible at its turn.
    """
    engine = get(name) if candidates is None else get(name, candidates=candidates)
    placement = engine.solve(problem)
    order = container_order(problem, engine.order, _compiled(problem))
    expected = greedy(
        problem, order.tolist(), engine.rule, engine.score, candidates,
        engine.open_first,
    )
    assert placement.assignment.tolist() == expected


def _compiled(problem: solver.Problem):
    from solver.constraints import compile_constraints

    return compile_constraints(problem)


@pytest.mark.parametrize("name", ["ffd", "bfd", "k8s-balanced"])
@given(problem=problems())
def test_deterministic(name: str, problem: solver.Problem) -> None:
    """Two runs (any seed) give the same placement."""
    a = get(name).solve(problem, seed=1).assignment
    b = get(name).solve(problem, seed=2).assignment
    assert np.array_equal(a, b)


@given(problem=plain_problems(min_d=1, max_d=1, max_n=60, states=False))
def test_ffd_1d_equals_textbook(problem: solver.Problem) -> None:
    """ffd in one dimension is exactly the textbook first-fit decreasing."""
    placement = get("ffd").solve(problem)
    expected = ffd_1d(problem.requests[:, 0].tolist(), problem.capacity[:, 0].tolist())
    assert placement.assignment.tolist() == expected


@given(problem=constrained_problems())
def test_reasons_count_every_machine(problem: solver.Problem) -> None:
    """Each unplaced container's reasons count every machine exactly once."""
    placement = get("bfd").solve(problem)
    for i in placement.unplaced:
        assert sum(placement.reasons[int(i)].values()) == problem.m
