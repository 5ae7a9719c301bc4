"""ROADEF/EURO 2012 reader, cost, checker and move kernels on tiny instances.

Instances are written here in the challenge's file format by a plain writer, read back,
and compared field by field; costs and feasibility are compared with straightforward
loops that follow the challenge's problem statement.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import roadef_model_text, write_roadef
from hypothesis import given
from hypothesis import strategies as st

import solver.datasets
from solver import AntiAffinity, InvalidProblem, PlacementError
from solver.datasets import roadef

# ----------------------------------------------------------------- instances as lists


def _instance(**overrides):
    """A small feasible instance: 2 resources, 4 machines, 3 services, 5 processes."""
    inst = {
        "resources": [(0, 10), (1, 3)],
        "machines": [
            # neighborhood, location, capacity, safety capacity
            (0, 0, [10, 10], [8, 8]),
            (0, 1, [10, 10], [8, 8]),
            (1, 2, [10, 10], [5, 5]),
            (1, 2, [6, 6], [6, 6]),
        ],
        "mmc": [[0, 1, 2, 2], [1, 0, 2, 2], [2, 2, 0, 1], [2, 2, 1, 0]],
        "services": [(2, []), (0, [0]), (0, [])],
        "processes": [(0, [3, 2], 5), (0, [4, 1], 6), (1, [2, 2], 7), (2, [1, 1], 1),
                      (1, [2, 3], 2)],
        "balance": [(0, 1, 2, 4)],
        "weights": (1, 10, 100),
        "initial": [0, 1, 0, 3, 1],
    }
    inst.update(overrides)
    return inst






@st.composite
def instances(draw):
    """Tiny ROADEF instances with arbitrary (not necessarily feasible) assignments."""
    r = draw(st.integers(1, 3))
    m = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(1, 7))
    small = st.integers(0, 12)
    machines = [
        (
            draw(st.integers(0, min(2, m - 1))),
            draw(st.integers(0, min(2, m - 1))),
            draw(st.lists(st.integers(0, 25), min_size=r, max_size=r)),
            draw(st.lists(small, min_size=r, max_size=r)),
        )
        for _ in range(m)
    ]
    cost = st.integers(0, 5)
    mmc = [[0 if a == b else draw(cost) for b in range(m)] for a in range(m)]
    services = [
        (
            draw(st.integers(0, 2)),
            sorted(draw(st.sets(st.integers(0, s - 1).filter(lambda d, i=i: d != i)))),
        )
        for i in range(s)
    ]
    processes = [
        (
            draw(st.integers(0, s - 1)),
            draw(st.lists(st.integers(0, 10), min_size=r, max_size=r)),
            draw(st.integers(0, 9)),
        )
        for _ in range(p)
    ]
    balance = draw(
        st.lists(
            st.tuples(
                st.integers(0, r - 1), st.integers(0, r - 1), st.integers(0, 3), small
            ),
            max_size=2,
        )
    )
    inst = {
        "resources": [(draw(st.integers(0, 1)), draw(small)) for _ in range(r)],
        "machines": machines,
        "mmc": mmc,
        "services": services,
        "processes": processes,
        "balance": balance,
        "weights": tuple(draw(small) for _ in range(3)),
        "initial": draw(st.lists(st.integers(0, m - 1), min_size=p, max_size=p)),
    }
    new = draw(st.lists(st.integers(0, m - 1), min_size=p, max_size=p))
    return inst, new


# ------------------------------------------------- naive twins of the official rules


def _usage(inst, assignment):
    r = len(inst["resources"])
    used = [[0] * r for _ in inst["machines"]]
    for (_, req, _), mach in zip(inst["processes"], assignment, strict=True):
        for k in range(r):
            used[mach][k] += req[k]
    return used


def naive_cost(inst, assignment) -> dict[str, int]:
    """The objective exactly as the challenge's statement writes it, in loops."""
    used = _usage(inst, assignment)
    load = 0
    for k, (_, weight) in enumerate(inst["resources"]):
        for mach, (_, _, _, safe) in enumerate(inst["machines"]):
            load += weight * max(0, used[mach][k] - safe[k])
    balance = 0
    for r1, r2, target, weight in inst["balance"]:
        part = 0
        for mach, (_, _, cap, _) in enumerate(inst["machines"]):
            free1 = cap[r1] - used[mach][r1]
            free2 = cap[r2] - used[mach][r2]
            part += max(0, target * free1 - free2)
        balance += weight * part
    w_process, w_service, w_machine = inst["weights"]
    process_move = 0
    machine_move = 0
    moved_per_service = [0] * len(inst["services"])
    for i, (svc, _, pmc) in enumerate(inst["processes"]):
        machine_move += inst["mmc"][inst["initial"][i]][assignment[i]]
        if assignment[i] != inst["initial"][i]:
            process_move += pmc
            moved_per_service[svc] += 1
    parts = {
        "load": load,
        "balance": balance,
        "process_move": w_process * process_move,
        "service_move": w_service * max(moved_per_service),
        "machine_move": w_machine * machine_move,
    }
    parts["total"] = sum(parts.values())
    return parts


def naive_violations(inst, assignment) -> set[str]:
    """The kinds of hard constraint the assignment breaks, by plain enumeration."""
    kinds = set()
    used = _usage(inst, assignment)
    held = [row[:] for row in used]
    for i, (_, req, _) in enumerate(inst["processes"]):
        if assignment[i] != inst["initial"][i]:
            for k in range(len(req)):
                held[inst["initial"][i]][k] += req[k]
    for mach, (_, _, cap, _) in enumerate(inst["machines"]):
        for k, (transient, _) in enumerate(inst["resources"]):
            if used[mach][k] > cap[k]:
                kinds.add("capacity")
            if transient and held[mach][k] > cap[k]:
                kinds.add("transient")
    procs = inst["processes"]
    for i, j in itertools.combinations(range(len(procs)), 2):
        if procs[i][0] == procs[j][0] and assignment[i] == assignment[j]:
            kinds.add("conflict")
    for s, (spread_min, deps) in enumerate(inst["services"]):
        mine = [i for i in range(len(procs)) if procs[i][0] == s]
        locations = {inst["machines"][assignment[i]][1] for i in mine}
        if len(locations) < spread_min:
            kinds.add("spread")
        for d in deps:
            theirs = {
                inst["machines"][assignment[i]][0]
                for i in range(len(procs))
                if procs[i][0] == d
            }
            for i in mine:
                if inst["machines"][assignment[i]][0] not in theirs:
                    kinds.add("dependency")
    return kinds


def _kinds(messages: list[str]) -> set[str]:
    return {msg.split(":", 1)[0] for msg in messages}


# ------------------------------------------------------------------------- reading


def test_read_maps_every_field(tmp_path):
    """The reader maps resources, machines, services and processes as documented."""
    inst = _instance()
    problem = roadef.read(write_roadef(tmp_path, inst))
    data = problem.metadata["roadef"]
    assert problem.name == "t"
    assert problem.resources.names == ("r0", "r1")
    assert problem.capacity.tolist() == [list(m[2]) for m in inst["machines"]]
    assert problem.requests.tolist() == [list(p[1]) for p in inst["processes"]]
    assert list(problem.machines.labels["location"]) == ["0", "1", "2", "2"]
    assert list(problem.machines.labels["neighborhood"]) == ["0", "0", "1", "1"]
    assert list(problem.containers.service) == ["s0", "s0", "s1", "s2", "s1"]
    conflict = AntiAffinity("machine", 1)
    assert all(a == conflict for a in problem.containers.anti_affinity)
    assert problem.current.tolist() == inst["initial"]
    assert data.transient.tolist() == [0, 1]
    assert data.load_weight.tolist() == [10, 3]
    assert data.safety.tolist() == [list(m[3]) for m in inst["machines"]]
    assert data.machine_move_cost.tolist() == inst["mmc"]
    assert data.spread_min.tolist() == [2, 0, 0]
    assert [data.dependencies(s).tolist() for s in range(3)] == [[], [0], []]
    assert data.process_move_cost.tolist() == [5, 6, 7, 1, 2]
    assert data.balance.tolist() == [[0, 1, 2]]
    assert data.balance_weight.tolist() == [4]
    assert data.move_weights.tolist() == [1, 10, 100]
    assert data.initial.tolist() == inst["initial"]
    assert data.safety.dtype == np.int64
    assert not data.safety.flags.writeable


@given(instances())
def test_read_back_equals_generated(case):
    """Every field written in the file format comes back unchanged."""
    inst, _ = case
    with tempfile.TemporaryDirectory() as folder:
        problem = roadef.read(write_roadef(Path(folder), inst))
    data = problem.metadata["roadef"]
    assert data.transient.tolist() == [t for t, _ in inst["resources"]]
    assert data.load_weight.tolist() == [w for _, w in inst["resources"]]
    assert problem.capacity.tolist() == [list(m[2]) for m in inst["machines"]]
    assert data.safety.tolist() == [list(m[3]) for m in inst["machines"]]
    assert data.neighborhood.tolist() == [m[0] for m in inst["machines"]]
    assert data.location.tolist() == [m[1] for m in inst["machines"]]
    assert data.machine_move_cost.tolist() == inst["mmc"]
    assert data.spread_min.tolist() == [sm for sm, _ in inst["services"]]
    assert [data.dependencies(s).tolist() for s in range(len(inst["services"]))] == [
        dep for _, dep in inst["services"]
    ]
    assert data.service.tolist() == [p[0] for p in inst["processes"]]
    assert problem.requests.tolist() == [list(p[1]) for p in inst["processes"]]
    assert data.process_move_cost.tolist() == [p[2] for p in inst["processes"]]
    assert data.balance.tolist() == [list(b[:3]) for b in inst["balance"]]
    assert data.balance_weight.tolist() == [b[3] for b in inst["balance"]]
    assert tuple(data.move_weights.tolist()) == inst["weights"]
    assert problem.current.tolist() == inst["initial"] == data.initial.tolist()


def test_explicit_assignment_path_and_registry(tmp_path):
    """An explicit assignment path is used; the registry sniffs and reads the model."""
    inst = _instance()
    model = write_roadef(tmp_path, inst)
    other = tmp_path / "elsewhere.txt"
    other.write_text("1 1 0 3 1\n")
    assert roadef.read(model, other).current.tolist() == [1, 1, 0, 3, 1]
    assert solver.datasets.detect(model) == "roadef"
    problem = solver.datasets.read(model)
    assert problem.metadata["format"] == "roadef"
    assert problem.n == 5


def test_sniff_recognises_the_header_shape(tmp_path):
    """The sniffer accepts a model under any name and refuses other integer files."""
    text = roadef_model_text(_instance())
    assert roadef.sniff(tmp_path / "whatever.dat", text)
    assert not roadef.sniff(tmp_path / "x.txt", "2\n10\n3\n4 5\n")
    assert not roadef.sniff(tmp_path / "x.vbp", "2\n10 10\n1\n3 4 1\n")


def test_best_known_comes_from_optima_by_instance_name(tmp_path):
    """optima.csv beside the data folder names instances without the model_ prefix."""
    folder = tmp_path / "A"
    folder.mkdir()
    model = write_roadef(folder, _instance(), name="x9")
    (tmp_path / "optima.csv").write_text(
        "instance,best_known,is_optimal\nx9,1234,true\n"
    )
    problem = roadef.read(model)
    assert problem.best_known == 1234
    assert problem.metadata["is_optimal"] is True


def test_write_assignment_round_trip(tmp_path):
    """A solution written in the assignment format reads back as the current one."""
    inst = _instance()
    model = write_roadef(tmp_path, inst)
    roadef.write_assignment(tmp_path / "solution.txt", np.array([1, 0, 2, 3, 0]))
    assert roadef.read(model, tmp_path / "solution.txt").current.tolist() == [
        1, 0, 2, 3, 0,
    ]


# ---------------------------------------------------------------------------- cost


def test_cost_of_the_hand_made_instance():
    """Hand-computed parts of one small moved assignment."""
    inst = _instance()
    with tempfile.TemporaryDirectory() as folder:
        problem = roadef.read(write_roadef(Path(folder), inst))
    new = [0, 1, 2, 3, 1]  # process 2 (pmc 7, service 1) moves 0 -> 2
    assert roadef.usage(problem, new).tolist() == [[3, 2], [6, 4], [2, 2], [1, 1]]
    got = roadef.cost(problem, new)
    # usage: m0 = (3,2), m1 = (6,4), m2 = (2,2), m3 = (1,1); no usage above safety
    # free: m0 (7,8) m1 (4,6) m2 (8,8) m3 (5,5); balance 2*A0 - A1: 6, 2, 8, 5
    assert got.load == 0
    assert got.balance == 4 * (6 + 2 + 8 + 5)
    assert got.process_move == 1 * 7
    assert got.service_move == 10 * 1
    assert got.machine_move == 100 * 2
    assert got.total == got.load + got.balance + 7 + 10 + 200
    assert got.summary()["total"] == got.total


@given(instances())
def test_cost_matches_the_naive_statement(case):
    """cost() equals the plain-loop objective on random instances and assignments."""
    inst, new = case
    with tempfile.TemporaryDirectory() as folder:
        problem = roadef.read(write_roadef(Path(folder), inst))
    for assignment in (inst["initial"], new):
        got = roadef.cost(problem, assignment).summary()
        assert got == naive_cost(inst, assignment)
        assert _kinds(roadef.check(problem, assignment)) == naive_violations(
            inst, assignment
        )


@given(instances(), st.data())
def test_moves_match_full_recomputation(case, data):
    """move_delta, move_allowed and apply_move agree with cost() and the naive check."""
    inst, new = case
    with tempfile.TemporaryDirectory() as folder:
        problem = roadef.read(write_roadef(Path(folder), inst))
    state = roadef.RoadefState(problem, new)
    assert state.total == naive_cost(inst, new)["total"]
    current = list(new)
    for _ in range(6):
        p = data.draw(st.integers(0, problem.n - 1))
        m = data.draw(st.integers(0, problem.m - 1))
        moved = current.copy()
        moved[p] = m
        expected = naive_cost(inst, moved)["total"] - naive_cost(inst, current)["total"]
        assert roadef.move_delta(state, p, m) == expected
        deltas, allowed = roadef.process_moves(state, p)
        assert deltas[m] == expected
        assert allowed[m] == roadef.move_allowed(state, p, m)
        if not naive_violations(inst, current):
            feasible = not naive_violations(inst, moved)
            assert roadef.move_allowed(state, p, m) == feasible
        assert roadef.apply_move(state, p, m) == expected
        current = moved
        assert state.assignment.tolist() == current
        assert state.total == naive_cost(inst, current)["total"]


_TRANSIENT = {
    "processes": [(0, [3, 2], 5), (0, [4, 1], 6), (1, [2, 2], 7), (2, [1, 5], 1),
                  (2, [2, 3], 2)],
}
_TIGHT = {
    "machines": [(0, 0, [8, 6], [8, 8]), (0, 1, [10, 10], [8, 8]),
                 (1, 2, [10, 10], [5, 5]), (1, 2, [6, 6], [6, 6])],
    "services": [(1, []), (0, [0]), (1, [])],
}
_NO_DEPENDENCY = {"services": [(2, []), (0, []), (0, [])]}


@pytest.mark.parametrize(
    "overrides",
    [{}, _TRANSIENT, _TIGHT, _NO_DEPENDENCY],
    ids=["base", "transient", "tight", "no-dependency"],
)
def test_move_allowed_matches_check_exhaustively(tmp_path, overrides):
    """Every move, from the start and after every feasible first move, is judged as
    the full check judges the result."""
    inst = _instance(**overrides)
    problem = roadef.read(write_roadef(tmp_path, inst))
    assert not naive_violations(inst, inst["initial"])
    first_moves = itertools.product(range(problem.n), range(problem.m))
    judged = 0
    for p1, m1 in [(0, int(inst["initial"][0])), *first_moves]:
        state = roadef.RoadefState(problem)
        start = list(inst["initial"])
        start[p1] = m1
        if naive_violations(inst, start):
            assert not roadef.move_allowed(state, p1, m1)
            continue
        assert roadef.move_allowed(state, p1, m1)
        roadef.apply_move(state, p1, m1)
        for p2, m2 in itertools.product(range(problem.n), range(problem.m)):
            moved = start.copy()
            moved[p2] = m2
            feasible = not naive_violations(inst, moved)
            assert roadef.move_allowed(state, p2, m2) == feasible, (p1, m1, p2, m2)
            assert not (feasible and roadef.check(problem, moved))
            judged += 1
    assert judged > 100


def test_cost_refuses_a_bad_assignment(tmp_path):
    """Wrong length, unplaced or unknown machines raise InvalidProblem."""
    problem = roadef.read(write_roadef(tmp_path, _instance()))
    with pytest.raises(InvalidProblem, match="expected 5"):
        roadef.cost(problem, [0, 1])
    with pytest.raises(InvalidProblem, match="row 2"):
        roadef.cost(problem, [0, 1, -1, 3, 1])
    with pytest.raises(InvalidProblem, match="row 0"):
        roadef.check(problem, [4, 1, 0, 3, 1])
    with pytest.raises(InvalidProblem, match="not a ROADEF instance"):
        roadef.cost(solver.Problem.from_arrays([[1]], [[1]]), [0])


# --------------------------------------------------------------------------- check


def test_initial_hand_made_assignment_is_feasible(tmp_path):
    """The reference instance starts feasible, so every later failure is the edit's."""
    problem = roadef.read(write_roadef(tmp_path, _instance()))
    assert roadef.check(problem, problem.current) == []
    roadef.ensure_feasible(problem, problem.current)


@pytest.mark.parametrize(
    ("assignment", "kind", "detail"),
    [
        # the two processes of s1 on machine 1
        ([0, 1, 1, 3, 1], "conflict", "service s1: processes 2 and 4 share machine 1"),
        # s0 only in location 2 (s1 follows it to neighbourhood 1, s2 makes room)
        ([2, 3, 2, 0, 3], "spread", "service s0 runs in 1 location(s) < spread_min 2"),
        # s1 (depends on s0) moves to neighbourhood 1, where s0 is absent
        ([0, 1, 2, 3, 1], "dependency", "service s1 runs in neighborhood 1 without"),
    ],
)
def test_check_catches_each_kind(tmp_path, assignment, kind, detail):
    """Each violation kind is reported with its service, machine or neighbourhood."""
    problem = roadef.read(write_roadef(tmp_path, _instance()))
    messages = roadef.check(problem, assignment)
    assert _kinds(messages) == {kind}
    assert any(detail in msg for msg in messages), messages
    with pytest.raises(PlacementError, match=kind):
        roadef.ensure_feasible(problem, assignment)


def test_check_catches_capacity(tmp_path):
    """Usage above the hard capacity is reported per machine and resource."""
    inst = _instance(processes=[(0, [3, 2], 5), (0, [4, 1], 6), (1, [2, 2], 7),
                                (2, [6, 1], 1), (1, [2, 3], 2)])
    problem = roadef.read(write_roadef(tmp_path, inst))
    messages = roadef.check(problem, [0, 1, 0, 3, 1])
    assert messages == []
    messages = roadef.check(problem, [0, 1, 0, 0, 1])
    assert messages == ["capacity: machine 0, resource r0: usage 11 > capacity 10"]


def test_check_catches_transient_usage(tmp_path):
    """A moved process still holds its transient resource on its initial machine."""
    inst = _instance(
        processes=[(0, [3, 2], 5), (0, [4, 1], 6), (1, [2, 2], 7), (2, [1, 5], 1),
                   (2, [2, 3], 2)],
    )
    problem = roadef.read(write_roadef(tmp_path, inst))
    assert roadef.check(problem, problem.current) == []
    # process 3 (r1 = 5) leaves m3 for m2 and process 4 (r1 = 3) moves m1 -> m3:
    # r1 is transient, so m3 holds 5 + 3 = 8 > 6 although its plain usage is 3.
    messages = roadef.check(problem, [0, 1, 0, 2, 3])
    assert messages == [
        "transient: machine 3, resource r1: usage 8 with moved-away processes > "
        "capacity 6"
    ]
    # the first move alone keeps m3 within capacity
    assert roadef.check(problem, [0, 1, 0, 2, 1]) == []


# ---------------------------------------------------------------------- bad input


def _bad(tmp_path, model_text: str, assignment: str = "0 1 0 3 1\n") -> str:
    model = tmp_path / "model_bad.txt"
    model.write_text(model_text)
    (tmp_path / "assignment_bad.txt").write_text(assignment)
    with pytest.raises(InvalidProblem) as err:
        roadef.read(model)
    return str(err.value)


def _lines() -> list[str]:
    return roadef_model_text(_instance()).splitlines()


def _with(lines: list[str], number: int, text: str) -> str:
    """The model text with 1-based line ``number`` replaced."""
    out = list(lines)
    out[number - 1] = text
    return "\n".join(out) + "\n"


def test_bad_input_malformed_token(tmp_path):
    """A token that is not an integer names its line."""
    msg = _bad(tmp_path, _with(_lines(), 5, "0 0 10 10 8 8 0 1 x 2"))
    assert "model_bad.txt" in msg
    assert "line 5" in msg
    assert "field 'machines (record 0)'" in msg
    assert "'x' is not an integer" in msg


def test_bad_input_lone_sign(tmp_path):
    """A sign without digits is refused, not read as 0."""
    msg = _bad(tmp_path, _with(_lines(), 2, "0 -"))
    assert "line 2" in msg
    assert "resources (record 0)" in msg
    assert "'-'" in msg


def test_bad_input_malformed_dependency(tmp_path):
    """A broken token inside the variable-length service block names the service."""
    lines = _lines()
    index = lines.index("0 1 0") + 1
    msg = _bad(tmp_path, _with(lines, index, "0 1 0.5"))
    assert f"line {index}" in msg
    assert "service 1 dependencies" in msg


def test_bad_input_negative_value_names_the_field(tmp_path):
    """A negative capacity is refused with its line and field."""
    msg = _bad(tmp_path, _with(_lines(), 6, "0 1 10 -10 8 8 1 0 2 2"))
    assert "line 6" in msg
    assert "machine capacity (record 1)" in msg


def test_bad_input_location_out_of_range(tmp_path):
    """Location ids index machines' domains, so they stay below the machine count."""
    msg = _bad(tmp_path, _with(_lines(), 7, "1 9 10 10 5 5 2 2 0 1"))
    assert "line 7" in msg
    assert "machine location (record 2)" in msg


def test_bad_input_transient_flag(tmp_path):
    """A transient flag other than 0 or 1 is refused."""
    msg = _bad(tmp_path, _with(_lines(), 3, "2 3"))
    assert "line 3" in msg
    assert "transient flag" in msg


def test_bad_input_unknown_dependency(tmp_path):
    """A dependency on a service that does not exist is refused."""
    lines = _lines()
    index = lines.index("0 1 0") + 1
    msg = _bad(tmp_path, _with(lines, index, "0 1 7"))
    assert f"line {index}" in msg
    assert "service 1 dependency" in msg


def test_bad_input_unknown_resource_in_balance(tmp_path):
    """A balance objective naming resource 5 of 2 is refused."""
    lines = _lines()
    msg = _bad(tmp_path, _with(lines, len(lines) - 2, "0 5 2"))
    assert f"line {len(lines) - 2}" in msg
    assert "balance resource" in msg


@pytest.mark.parametrize("keep", [1, 4, 12, 16, 21])
def test_bad_input_truncated_model(tmp_path, keep):
    """A model cut after ``keep`` lines reports the end of file and the field."""
    msg = _bad(tmp_path, "\n".join(_lines()[:keep]) + "\n")
    assert "model_bad.txt" in msg
    assert "unexpected end of file" in msg
    assert f"line {keep}" in msg
    assert "field" in msg


def test_bad_input_extra_values(tmp_path):
    """Values after the move weights are refused."""
    msg = _bad(tmp_path, roadef_model_text(_instance()) + "7 7\n")
    assert "unexpected value" in msg


def test_bad_input_empty_model(tmp_path):
    """An empty model file reports the missing resource count."""
    msg = _bad(tmp_path, "")
    assert "resource count" in msg


@pytest.mark.parametrize(
    ("assignment", "detail"),
    [
        ("0 1 0 3\n", "4 machine ids for 5 processes"),
        ("0 1 0 3 1 2\n", "6 machine ids for 5 processes"),
        ("0 1 9 3 1\n", "machine of process 2"),
        ("0 1 0 3 x\n", "'x'"),
    ],
)
def test_bad_input_assignment(tmp_path, assignment, detail):
    """The assignment file must hold one valid machine id per process."""
    msg = _bad(tmp_path, roadef_model_text(_instance()), assignment)
    assert "assignment_bad.txt" in msg
    assert "line 1" in msg
    assert detail in msg


def test_missing_assignment_file(tmp_path):
    """Without an assignment beside the model, the expected path is named."""
    model = tmp_path / "model_lonely.txt"
    model.write_text(roadef_model_text(_instance()))
    with pytest.raises(InvalidProblem, match=r"assignment_lonely\.txt"):
        roadef.read(model)
