"""Reassignment optimiser on tiny ROADEF instances and on plain Problems.

Instances are written in the challenge's file format with a feasible initial
assignment, read back, optimised, and the result is checked with the official
checker and cost; a brute force over every assignment gives the optimum to compare
with on the smallest ones.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import roadef_model_text, write_roadef
from hypothesis import example, given, settings
from hypothesis import strategies as st

import solver.engines
from solver import AntiAffinity, InvalidProblem, Problem
from solver.datasets import roadef
from solver.engines import reassign


def _read(inst) -> Problem:
    with tempfile.TemporaryDirectory() as folder:
        return roadef.read(write_roadef(Path(folder), inst))


@st.composite
def feasible_instances(draw):
    """Tiny ROADEF instances whose initial assignment keeps every hard rule."""
    r = draw(st.integers(1, 3))
    m = draw(st.integers(2, 5))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(1, 8))
    service = [draw(st.integers(0, s - 1)) for _ in range(p)]
    # conflict: processes of one service on distinct machines (drop the rest)
    initial: list[int] = []
    keep: list[int] = []
    for i in range(p):
        taken = {initial[k] for k, j in enumerate(keep) if service[j] == service[i]}
        free = [mm for mm in range(m) if mm not in taken]
        if free:
            initial.append(draw(st.sampled_from(free)))
            keep.append(i)
    service = [service[i] for i in keep]
    requests = [draw(st.lists(st.integers(0, 8), min_size=r, max_size=r)) for _ in keep]
    nbh = [draw(st.integers(0, 1)) for _ in range(m)]  # m >= 2
    loc = [draw(st.integers(0, min(2, m - 1))) for _ in range(m)]
    used = [[0] * r for _ in range(m)]
    for mm, req in zip(initial, requests, strict=True):
        for k in range(r):
            used[mm][k] += req[k]
    transient = [draw(st.integers(0, 1)) for _ in range(r)]
    machines = []
    for mm in range(m):
        cap = [used[mm][k] + draw(st.integers(0, 10)) for k in range(r)]
        safe = [draw(st.integers(0, c)) for c in cap]
        machines.append((nbh[mm], loc[mm], cap, safe))
    locs = [{loc[initial[k]] for k in range(len(keep)) if service[k] == sv}
            for sv in range(s)]
    nbhs = [{nbh[initial[k]] for k in range(len(keep)) if service[k] == sv}
            for sv in range(s)]
    services = []
    for sv in range(s):
        spread = draw(st.integers(0, len(locs[sv])))
        deps = [d for d in range(s) if d != sv and nbhs[sv] <= nbhs[d]
                and draw(st.booleans())]
        services.append((spread, deps))
    small = st.integers(0, 9)
    return {
        "resources": [(t, draw(small)) for t in transient],
        "machines": machines,
        "mmc": [[0 if a == b else draw(st.integers(0, 5)) for b in range(m)]
                for a in range(m)],
        "services": services,
        "processes": [(sv, req, draw(small))
                      for sv, req in zip(service, requests, strict=True)],
        "balance": draw(st.lists(
            st.tuples(st.integers(0, r - 1), st.integers(0, r - 1),
                      st.integers(0, 3), small),
            max_size=2,
        )),
        "weights": tuple(draw(small) for _ in range(3)),
        "initial": initial,
    }


def _brute_force(problem: Problem, max_moves: int | None = None) -> int:
    """Smallest official cost over every feasible assignment (tiny instances only)."""
    best = None
    initial = problem.current
    for combo in itertools.product(range(problem.m), repeat=problem.n):
        a = np.array(combo, np.int64)
        if max_moves is not None and (a != initial).sum() > max_moves:
            continue
        if roadef.check(problem, a):
            continue
        total = roadef.cost(problem, a).total
        best = total if best is None else min(best, total)
    assert best is not None
    return best


# all costs zero: a repair step's moves of equal cost once went unrecorded in the
# journal the best state is rebuilt from, and the result put two processes of one
# service on one machine
_ZERO_COSTS = {
    "resources": [(0, 0)],
    "machines": [(0, 0, [0], [0])] * 3,
    "mmc": [[0, 0, 0]] * 3,
    "services": [(0, []), (0, [])],
    "processes": [(0, [0], 0), (1, [0], 0), (0, [0], 0)],
    "balance": [],
    "weights": (0, 0, 0),
    "initial": [0, 0, 1],
}


@given(feasible_instances(), st.integers(0, 3), st.sampled_from([None, 0, 1, 2]))
@example(inst=_ZERO_COSTS, seed=0, max_moves=None)
@settings(max_examples=20)
def test_result_is_feasible_cheaper_and_exact(inst, seed, max_moves):
    """Result keeps every rule, costs no more than the start and respects max_moves."""
    problem = _read(inst)
    assert roadef.check(problem, problem.current) == []
    result = reassign.optimise(
        problem, time_limit=30, seed=seed, max_moves=max_moves, iterations=10_000
    )
    assert roadef.check(problem, result.assignment) == []
    assert result.feasible
    recomputed = roadef.cost(problem, result.assignment)
    assert result.cost_after == recomputed
    assert result.objective_after == recomputed.total
    assert result.cost_before == roadef.cost(problem, problem.current)
    assert recomputed.total <= result.cost_before.total
    moves = int((result.assignment != problem.current).sum())
    assert moves == result.moves
    if max_moves is not None:
        assert moves <= max_moves
    if problem.n <= 5 and problem.m <= 4:
        assert recomputed.total >= _brute_force(problem, max_moves)


@given(feasible_instances(), st.integers(0, 5))
@settings(max_examples=10)
def test_deterministic_for_a_seed(inst, seed):
    """Same seed and iteration budget, same assignment and cost."""
    problem = _read(inst)
    runs = [
        reassign.optimise(problem, time_limit=60, seed=seed, iterations=30_000)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].assignment, runs[1].assignment)
    assert runs[0].cost_after == runs[1].cost_after


def _hand_made():
    """Machine 0 is above its safety capacity; moving one process there is optimal."""
    return {
        "resources": [(0, 10), (1, 1)],
        "machines": [
            (0, 0, [20, 20], [5, 20]),
            (0, 1, [20, 20], [20, 20]),
            (1, 2, [20, 20], [20, 20]),
        ],
        "mmc": [[0, 1, 5], [1, 0, 5], [5, 5, 0]],
        "services": [(1, []), (0, []), (0, [1])],
        "processes": [(0, [4, 1], 3), (0, [3, 2], 2), (1, [2, 1], 1), (2, [1, 1], 1)],
        "balance": [],
        "weights": (1, 2, 1),
        "initial": [0, 1, 0, 0],
    }


def test_reaches_brute_force_optimum():
    """On a hand-made instance the search ends at the brute-force optimum."""
    problem = _read(_hand_made())
    optimum = _brute_force(problem)
    result = reassign.optimise(problem, time_limit=30, iterations=50_000)
    assert result.cost_after.total == optimum
    assert result.bound == roadef.lower_bound(problem) <= optimum
    assert result.cost_after.total < result.cost_before.total


def test_hill_climb_baseline_is_feasible():
    """The baseline keeps every rule and never raises the cost."""
    problem = _read(_hand_made())
    result = reassign.hill_climb(problem, time_limit=0.5, seed=1)
    assert roadef.check(problem, result.assignment) == []
    assert result.cost_after.total <= result.cost_before.total


def test_infeasible_start_is_refused():
    """An initial assignment that breaks a rule raises InvalidProblem, naming it."""
    inst = _hand_made()
    inst["initial"] = [0, 0, 0, 0]  # two processes of service 0 share machine 0
    problem = _read(inst)
    with pytest.raises(InvalidProblem, match="current"):
        reassign.optimise(problem, time_limit=1)


def _plain_problem() -> Problem:
    """Six containers spread over four machines; two machines would do."""
    capacity = np.array([[10, 10]] * 4)
    requests = np.array([[3, 2], [3, 3], [2, 2], [4, 3], [2, 1], [1, 1]])
    base = Problem.from_arrays(capacity, requests)
    return Problem(
        base.machines, base.containers, current=np.array([0, 1, 2, 3, 0, 1])
    )


def test_generic_cost_model_defaults():
    """The default model: no load cost, one per moved container, nothing else."""
    problem = _plain_problem()
    data = reassign.generic_cost_model(problem)
    np.testing.assert_array_equal(data.safety, problem.capacity)
    np.testing.assert_array_equal(data.process_move_cost, np.ones(problem.n))
    assert data.move_weights.tolist() == [1, 0, 0]
    assert data.balance.shape == (0, 3)
    assert (data.machine_move_cost == 0).all()
    np.testing.assert_array_equal(data.initial, problem.current)


def test_generic_conflict_from_anti_affinity():
    """Containers with AntiAffinity("machine", 1) share a conflict service."""
    capacity = np.array([[10], [10], [10]])
    requests = np.array([[1], [1], [1]])
    base = Problem.from_arrays(capacity, requests)
    containers = type(base.containers)(
        requests, base.resources, service=np.array(["a", "a", "b"], object),
        anti_affinity=[AntiAffinity("machine", 1)] * 2 + [None],
    )
    problem = Problem(base.machines, containers, current=np.array([0, 1, 1]))
    data = reassign.generic_cost_model(problem)
    assert data.service[0] == data.service[1] != data.service[2]
    result = reassign.optimise(
        problem, time_limit=10, objective="min-machines", iterations=20_000
    )
    a = result.assignment
    assert a[0] != a[1]
    assert np.unique(a).shape[0] == 2


def test_min_machines_frees_machines():
    """min-machines packs the plain problem onto two machines."""
    problem = _plain_problem()
    result = reassign.optimise(
        problem, time_limit=10, objective="min-machines", iterations=50_000
    )
    used = np.unique(result.assignment).shape[0]
    assert used == 2
    load = np.zeros_like(problem.capacity)
    np.add.at(load, result.assignment, problem.requests)
    assert (load <= problem.capacity).all()


def test_balance_evens_the_load():
    """balance lowers the sum of squared load fractions of a lopsided start."""
    capacity = np.array([[20, 20]] * 3)
    requests = np.array([[2, 2]] * 6)
    base = Problem.from_arrays(capacity, requests)
    problem = Problem(base.machines, base.containers, current=np.zeros(6, np.int64))
    result = reassign.optimise(
        problem, time_limit=10, objective="balance", iterations=20_000
    )
    assert np.bincount(result.assignment, minlength=3).tolist() == [2, 2, 2]
    assert result.objective_after < result.objective_before


def test_unknown_objective_is_refused():
    """An unknown objective names the known ones."""
    with pytest.raises(InvalidProblem, match="min-machines"):
        reassign.optimise(_plain_problem(), time_limit=1, objective="fast")


def test_rebalance_file_fields(tmp_path):
    """rebalance_file returns exactly the documented JSON fields plus the assignment."""
    inst = _hand_made()
    model = tmp_path / "model_t.txt"
    model.write_text(roadef_model_text(inst))
    (tmp_path / "assignment_t.txt").write_text(" ".join(map(str, inst["initial"])))
    out = reassign.rebalance_file(model, time_limit=2, max_moves=1)
    assert set(out) == {
        "instance", "objective", "cost_before", "cost_after", "moves",
        "machines_freed", "feasible", "seconds", "assignment",
    }
    json.dumps(out)
    assert out["feasible"] is True
    assert out["moves"] <= 1
    assert out["cost_after"] <= out["cost_before"]
    problem = roadef.read(model)
    assert roadef.cost(problem, np.array(out["assignment"])).total == out["cost_after"]


def test_engine_registered():
    """The registry builds the reassign engine; its placement passes the validator."""
    problem = _read(_hand_made())
    engine = reassign.ReassignEngine()
    assert engine.name == "reassign"
    placement = engine.solve(problem, time_limit=1)
    assert roadef.check(problem, placement.assignment.astype(np.int64)) == []
    assert placement.objective == roadef.cost(problem, placement.assignment).total
    assert "reassign" in solver.engines.names()


def test_exact_repair_of_the_whole_instance_is_optimal():
    """CP-SAT repair with every process free finds the brute-force optimum."""
    problem = _read(_hand_made())
    view, native, code = reassign._start(problem, "cost")
    search = reassign._Search(view, native, code, 0, None)
    moves = reassign._repair(
        search, np.arange(problem.n), np.arange(problem.m), seconds=10,
        deterministic=None, workers=1, seed=0,
    )
    assert moves is not None
    a = problem.current.copy()
    for p, j in moves.items():
        a[p] = j
    assert roadef.check(problem, a) == []
    assert roadef.cost(problem, a).total == _brute_force(problem)


@given(
    feasible_instances(), st.integers(0, 3), st.sampled_from([0, 1, 2]),
    st.sampled_from([0, 50, 100]), st.sampled_from([0, 40, 100]),
    st.sampled_from([0, 50]), st.sampled_from([0, 50, 100]),
)
@settings(max_examples=25)
def test_kernel_moves_match_the_official_cost(inst, seed, mode, scan, swap, eject,
                                              home):
    """Every accepted move keeps the rules and the running cost equals the official.

    Covers every acceptance mode and mix of random, scanning, ejection and homing
    moves (several calls, so processes are away from home when a call starts). Also
    the kernel's move delta equals the official one for every process and
    machine, at the start and after the search.
    """
    from solver.engines import _reassign_kernels as kernels

    problem = _read(inst)
    search = reassign._Search(problem, True, 0, seed, None)
    static, dynamic = search.state.static, search.state.dynamic

    def deltas_agree():
        for p in range(problem.n):
            for m in range(problem.m):
                ours = kernels.delta_of(static, dynamic, search.extra, p, m)
                assert ours == roadef.move_delta(search.state, p, m)

    deltas_agree()
    search.ctl[7] = mode
    search.ctl[8] = 5
    search.ctl[9] = scan
    search.ctl[10] = eject
    search.ctl[15] = home
    for _ in range(3):
        search.run(100, swap)
    assignment = search.state.assignment
    assert roadef.check(problem, assignment) == []
    assert search.ctl[0] == roadef.cost(problem, assignment).total
    assert search.best_cost == roadef.cost(problem, search.best_assignment()).total
    deltas_agree()


@given(feasible_instances(), st.integers(0, 5))
@settings(max_examples=10, deadline=None)
def test_many_annealing_runs_stay_exact_and_deterministic(inst, seed):
    """Short annealing runs (5% of the budget each, the next only after one that
    improved the best) keep the contract of a budgeted run.

    With an iteration budget every annealing run (restart point, temperature,
    length, whether another follows) depends on the seed only: two runs give the
    same assignment, which is feasible and costs what the result says.
    """
    problem = _read(inst)
    old = reassign._RESTART_SHARE
    reassign._RESTART_SHARE = 0.05
    try:
        runs = [
            reassign.optimise(problem, time_limit=60, seed=seed, iterations=40_000)
            for _ in range(2)
        ]
    finally:
        reassign._RESTART_SHARE = old
    np.testing.assert_array_equal(runs[0].assignment, runs[1].assignment)
    assert roadef.check(problem, runs[0].assignment) == []
    assert runs[0].cost_after == roadef.cost(problem, runs[0].assignment)
    assert runs[0].cost_after.total <= runs[0].cost_before.total


@given(feasible_instances(), st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_lower_bound_is_below_every_assignment(inst, seed):
    """The fleet-wide bound is at most the cost of any assignment, rules kept or not."""
    problem = _read(inst)
    bound = roadef.lower_bound(problem)
    rng = np.random.default_rng(seed)
    for _ in range(50):
        a = rng.integers(0, problem.m, problem.n)
        assert bound <= roadef.cost(problem, a).total
    assert bound <= roadef.cost(problem, problem.current).total


@settings(max_examples=50, deadline=None)
@given(
    rates=st.lists(st.just(0.0) | st.floats(100.0, 1e6), min_size=2, max_size=4),
    floor=st.sampled_from([0.0, 0.05, 0.1]),
)
def test_time_shares_follow_the_gain_rates(rates, floor):
    """Activities that gain at steady rates get the floor plus the share of the
    rest their rates earn, once each has been tried and the prior (a gain of 1) has
    decayed away. (An activity first tried late catches up on its decayed share in
    a burst, which an average over a fixed window would count.)"""
    shares = reassign._Shares(len(rates), floor, half_life=50.0)
    for arm, rate in enumerate(rates):
        shares.credit(arm, rate * 0.1, 0.1)
    spent = np.zeros(len(rates))
    for step in range(4_000):
        arm = shares.pick()
        shares.credit(arm, rates[arm] * 0.1, 0.1)
        if step >= 2_000:
            spent[arm] += 0.1
    got = spent / spent.sum()
    total = sum(rates)
    assert got.min() >= floor - 0.01
    if total > 0:  # else no rate to follow: any split above the floor is right
        target = floor + (1 - floor * len(rates)) * np.array(rates) / total
        assert np.abs(got - target).max() < 0.02
