"""ROADEF/EURO 2012 instances: initial assignments are feasible and cost as published.

The initial-solution objective of every challenge instance was published with the
challenge results; the reader and :func:`solver.datasets.roadef.cost` must reproduce it
exactly, and ``best_known`` (from optima.csv) must lie below it.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from solver.datasets import roadef

pytestmark = pytest.mark.needs_shared_data

FOLDER = "roadef2012_machine_reassignment"

#: Objective of the initial assignment of each challenge instance (published values).
INITIAL_COST = {
    "a1_1": 49_528_750,
    "a1_2": 1_061_649_570,
    "a1_4": 632_499_600,
    "a1_5": 782_189_690,
    "a2_2": 1_876_768_120,
    "a2_3": 2_272_487_840,
    "a2_5": 787_355_300,
    "b_01": 7_644_173_180,
    "b_02": 5_181_493_830,
    "b_04": 9_209_576_380,
    "b_05": 12_426_813_010,
    "b_08": 14_068_207_250,
    "b_09": 23_234_641_520,
}


@pytest.fixture(scope="module", params=sorted(INITIAL_COST))
def instance(request, shared_datasets):
    """One shipped instance, read once per module, with its optima.csv row."""
    name = request.param
    root = shared_datasets / FOLDER
    model = root / ("A" if name.startswith("a") else "B") / f"model_{name}.txt"
    if not model.is_file():
        pytest.skip(f"{model.name} is not in the shared data")
    with (root / "optima.csv").open(newline="") as fh:
        optima = {row["instance"]: int(row["best_known"]) for row in csv.DictReader(fh)}
    return name, roadef.read(model), optima.get(name)


def test_initial_assignment_is_feasible(instance):
    """The shipped initial assignment breaks no hard constraint."""
    _, problem, _ = instance
    assert roadef.check(problem, problem.current) == []


def test_initial_cost_matches_the_published_value(instance):
    """cost() of the initial assignment is the published figure, with no move cost."""
    name, problem, best_known = instance
    got = roadef.cost(problem, problem.current)
    assert got.total == INITIAL_COST[name]
    assert got.process_move == got.service_move == got.machine_move == 0
    assert got.load + got.balance == got.total
    assert problem.best_known == best_known
    assert best_known is not None
    assert best_known < got.total


def test_shapes_match_the_file_header(instance):
    """Sizes and dtypes of the ROADEF arrays agree with the Problem."""
    _, problem, _ = instance
    data = problem.metadata["roadef"]
    assert data.safety.shape == problem.capacity.shape
    assert data.machine_move_cost.shape == (problem.m, problem.m)
    assert data.service.shape == data.process_move_cost.shape == (problem.n,)
    assert (data.safety <= problem.capacity).all()
    assert np.diag(data.machine_move_cost).sum() == 0
    assert all(
        a.dtype == np.int64 for a in vars(data).values() if isinstance(a, np.ndarray)
    )


def test_random_moves_agree_with_full_evaluation(instance):
    """On real data, move deltas and feasibility equal a full cost() and check()."""
    name, problem, _ = instance
    moves = 150 if problem.n <= 5000 else 15  # each move re-evaluates everything
    state = roadef.RoadefState(problem)
    rng = np.random.default_rng(2012)
    for _ in range(moves):
        p = int(rng.integers(problem.n))
        m = int(rng.integers(problem.m))
        moved = state.assignment.copy()
        moved[p] = m
        delta = roadef.move_delta(state, p, m)
        assert delta == roadef.cost(problem, moved).total - state.total, name
        allowed = roadef.move_allowed(state, p, m)
        assert allowed == (not roadef.check(problem, moved)), (name, p, m)
        if allowed:
            roadef.apply_move(state, p, m)
    assert state.total == roadef.cost(problem, state.assignment).total
    assert roadef.check(problem, state.assignment) == []
