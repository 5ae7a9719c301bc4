"""The cpsat engine: objectives, constraints, statuses and its guarantees."""

from __future__ import annotations

import numpy as np
import pytest

import solver
from solver import AntiAffinity, InvalidProblem, Machines, Problem, Spread, Status
from solver.constraints import Affinity
from solver.engines.cpsat import export_model
from solver.model import Containers

FAST = {"time_limit": 5.0, "workers": 1}


def one_dim(capacity: list[int], sizes: list[int], **kwargs) -> Problem:
    """A one-dimensional problem."""
    return Problem.from_arrays(
        np.array(capacity).reshape(-1, 1), np.array(sizes).reshape(-1, 1), **kwargs
    )


# First fit decreasing needs 3 machines here, 2 suffice: {5,3,2} and {4,3,3}.
FFD_TRAP = one_dim([10] * 6, [5, 4, 3, 3, 3, 2])


@pytest.mark.parametrize("formulation", ["assignment", "auto"])
def test_min_machines_beats_ffd_and_proves_it(formulation):
    """The exact model finds the 2-machine packing that FFD misses and proves it."""
    assert solver.place(FFD_TRAP, engine="ffd").machines_used == 3
    # generous limit: the first arc-flow call includes its compilation
    pl = solver.place(FFD_TRAP, engine="cpsat", formulation=formulation, workers=1)
    assert pl.status is Status.OPTIMAL
    assert pl.machines_used == 2
    assert pl.objective == 2
    assert pl.bound == 2
    assert pl.gap == 0


def test_heterogeneous_machines_use_the_big_one():
    """With one large and many small machines the large one replaces three small."""
    p = one_dim([30, 10, 10, 10], [10, 10, 10])
    pl = solver.place(p, engine="cpsat", **FAST)
    assert pl.machines_used == 1
    assert pl.status is Status.OPTIMAL


def test_anti_affinity_per_machine():
    """Three replicas with at most one per machine need three machines."""
    mach = Machines(np.full((4, 1), 100))
    cont = Containers(
        np.full((3, 1), 10), mach.resources, service="web", anti_affinity=AntiAffinity()
    )
    pl = solver.place(Problem(mach, cont), engine="cpsat", **FAST)
    assert pl.machines_used == 3
    assert pl.status is Status.OPTIMAL


def test_spread_over_zones():
    """Four replicas spread with skew 1 over two zones land two and two."""
    mach = Machines(np.full((4, 1), 100), labels={"zone": ["a", "a", "b", "b"]})
    cont = Containers(
        np.full((4, 1), 10), mach.resources, service="web", spread=Spread("zone", 1)
    )
    p = Problem(mach, cont)
    pl = solver.place(p, engine="cpsat", **FAST)
    zones = mach.labels["zone"][pl.assignment]
    assert sorted(zones.tolist()) == ["a", "a", "b", "b"]
    assert pl.machines_used == 2


def test_affinity_to_another_service():
    """A container with required affinity joins the machine of its target service."""
    mach = Machines(np.full((3, 1), 100))
    cont = Containers(
        np.array([[60], [30]]),
        mach.resources,
        service=["db", "app"],
        affinity=[None, Affinity("db", "machine")],
    )
    pl = solver.place(Problem(mach, cont), engine="cpsat", **FAST)
    assert pl.assignment[0] == pl.assignment[1]


def test_selector_taints_and_states():
    """Selectors, taints, down and cordoned machines steer the placement."""
    mach = Machines(
        np.full((4, 1), 100),
        labels={"disk": ["ssd", "ssd", "hdd", "ssd"]},
        taints=[set(), {"gpu"}, set(), set()],
        state=["down", "up", "up", "cordoned"],
    )
    cont = Containers(
        np.full((2, 1), 10), mach.resources, node_selector={"disk": "ssd"}
    )
    # only machine 1 is up and ssd, but it is tainted
    p = Problem(mach, cont)
    pl = solver.place(p, engine="cpsat", **FAST)
    assert pl.status is Status.INFEASIBLE
    assert set(pl.unplaced.tolist()) == {0, 1}
    tolerant = Containers(
        np.full((2, 1), 10),
        mach.resources,
        node_selector={"disk": "ssd"},
        tolerations=[{"gpu"}, {"gpu"}],
    )
    pl = solver.place(Problem(mach, tolerant), engine="cpsat", **FAST)
    assert pl.assignment.tolist() == [1, 1]


def test_max_placed_prefers_priority_and_respects_quota():
    """Only one container fits: the high-priority one; a quota then blocks it."""
    mach = Machines(np.full((1, 1), 10))
    cont = Containers(
        np.array([[8], [8], [2]]), mach.resources, priority=[0, 5, 0], namespace="team"
    )
    pl = solver.place(
        Problem(mach, cont), engine="cpsat", objective="max-placed", **FAST
    )
    assert pl.assignment.tolist() == [-1, 0, 0]
    assert pl.status is Status.OPTIMAL
    assert pl.objective == 1  # one unplaced container of weight 1
    quota = Problem(mach, cont, quotas={"team": {"size": 5}})
    pl = solver.place(quota, engine="cpsat", objective="max-placed", **FAST)
    assert pl.assignment.tolist() == [-1, -1, 0]
    assert set(pl.reasons) == {0, 1}


def test_min_moves_zero_when_current_is_valid():
    """A valid current assignment is returned unchanged, proven optimal."""
    mach = Machines(np.full((3, 1), 10))
    cont = Containers(np.full((3, 1), 3), mach.resources)
    p = Problem(mach, cont, current=[0, 1, 2])
    pl = solver.place(p, engine="cpsat", objective="min-moves", **FAST)
    assert pl.assignment.tolist() == [0, 1, 2]
    assert pl.objective == 0
    assert pl.status is Status.OPTIMAL


def test_min_moves_moves_only_what_a_down_machine_forces():
    """Machine 0 goes down: exactly its two containers move."""
    mach = Machines(np.full((3, 1), 10), state=["down", "up", "up"])
    cont = Containers(np.array([[3], [3], [3], [3]]), mach.resources)
    p = Problem(mach, cont, current=[0, 0, 1, 2])
    pl = solver.place(p, engine="cpsat", objective="min-moves", **FAST)
    assert pl.objective == 2
    assert pl.assignment[2] == 1
    assert pl.assignment[3] == 2
    assert pl.status is Status.OPTIMAL


def test_min_moves_with_a_machine_budget_and_size_weights():
    """Compacting onto one machine moves the smaller container when moves weigh size."""
    mach = Machines(np.full((2, 1), 10))
    cont = Containers(np.array([[6], [3]]), mach.resources)
    p = Problem(mach, cont, current=[0, 1])
    pl = solver.place(
        p,
        engine="cpsat",
        objective="min-moves",
        max_machines=1,
        move_weight="size",
        **FAST,
    )
    assert pl.assignment.tolist() == [0, 0]
    assert pl.machines_used == 1
    assert pl.status is Status.OPTIMAL


def test_pinned_container_stays():
    """A pinned container keeps its machine even when moving it would save one."""
    mach = Machines(np.full((2, 1), 10))
    cont = Containers(np.array([[3], [3]]), mach.resources)
    p = Problem(mach, cont, current=[0, 1], pinned=[False, True])
    pl = solver.place(p, engine="cpsat", **FAST)
    assert pl.assignment.tolist() == [1, 1]


def test_never_worse_than_the_greedy_start():
    """Even with a tiny time limit the result is no worse than the best greedy one."""
    rng = np.random.default_rng(3)
    p = one_dim([100] * 300, rng.integers(10, 60, 300).tolist())
    greedy = min(solver.place(p, engine=e).machines_used for e in ("ffd", "bfd"))
    pl = solver.place(
        p, engine="cpsat", time_limit=0.2, workers=1, formulation="assignment"
    )
    assert pl.placed == p.n
    assert pl.machines_used <= greedy
    assert pl.bound <= pl.machines_used


def test_progress_lines_are_reported():
    """A progress callable receives one-line summaries of the search."""
    lines: list[str] = []
    rng = np.random.default_rng(0)
    p = one_dim([100] * 40, rng.integers(20, 60, 40).tolist())
    solver.place(
        p, engine="cpsat", formulation="assignment", progress=lines.append, **FAST
    )
    assert all(line.startswith("cpsat: ") for line in lines)


def test_export_model(tmp_path):
    """The debug hook writes the model CP-SAT would solve."""
    path = tmp_path / "model.pbtxt"
    export_model(FFD_TRAP, str(path))
    assert "x[" in path.read_text()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"objective": "fastest"}, "objective"),
        ({"move_weight": "mass"}, "move_weight"),
        ({"formulation": "magic"}, "formulation"),
        ({"workers": -1}, "workers"),
    ],
)
def test_bad_options_name_the_field(options, field):
    """Unknown option values raise InvalidProblem naming the option."""
    with pytest.raises(InvalidProblem, match=field):
        solver.engines.get("cpsat", **options)


def test_min_moves_needs_a_current_assignment():
    """min-moves without a current assignment is refused with a clear message."""
    with pytest.raises(InvalidProblem, match="current"):
        solver.place(FFD_TRAP, engine="cpsat", objective="min-moves", **FAST)


def test_gpu_shares_need_a_device_each_when_large():
    """Three 600 milli-GPU shares: two fit a 2-device machine (one per device), the
    third needs a second machine although the machine total (1800 <= 2000) fits."""
    mach = Machines(np.full((3, 1), 100), gpus=[2, 2, 2])
    cont = Containers(np.full((3, 1), 10), mach.resources, gpu_milli=[600] * 3)
    pl = solver.place(Problem(mach, cont), engine="cpsat", **FAST)
    assert pl.machines_used == 2
    assert pl.status is Status.OPTIMAL
    assert pl.devices.shape == (3, 1)
    pairs = set(zip(pl.assignment.tolist(), pl.devices[:, 0].tolist(), strict=True))
    assert len(pairs) == 3  # no device holds two of them


def test_whole_gpus_take_distinct_devices():
    """A container asking both GPUs of a machine leaves no room for a share there."""
    mach = Machines(np.full((2, 1), 100), gpus=[2, 2])
    cont = Containers(
        np.full((3, 1), 10), mach.resources, num_gpu=[2, 0, 0], gpu_milli=[0, 500, 500]
    )
    pl = solver.place(Problem(mach, cont), engine="cpsat", **FAST)
    assert pl.machines_used == 2
    assert pl.assignment[1] == pl.assignment[2] != pl.assignment[0]
    assert sorted(pl.devices[0].tolist()) == [0, 1]
    assert set(pl.devices[1:, 0].tolist()) <= {0, 1}
    assert pl.devices[1:, 1].tolist() == [-1, -1]  # a share takes one device


def test_gpu_container_without_enough_devices_is_unplaced_with_a_reason():
    """Asking two whole GPUs where machines have one leaves that container out."""
    mach = Machines(np.full((2, 1), 100), gpus=[1, 1])
    cont = Containers(np.full((2, 1), 10), mach.resources, num_gpu=[2, 1])
    pl = solver.place(Problem(mach, cont), engine="cpsat", **FAST)
    assert pl.assignment[0] == -1
    assert pl.assignment[1] >= 0
    assert pl.reasons[0] == {"gpu devices": 2}


def test_arcflow_then_assignment_proves_a_vector_packing_optimum():
    """Two dimensions, identical machines: the arc-flow start and the assignment
    model agree on the optimum, proven."""
    rng = np.random.default_rng(4)
    p = Problem.from_arrays(np.full((30, 2), 100), rng.integers(20, 70, size=(24, 2)))
    auto = solver.place(p, engine="cpsat", **FAST)
    plain = solver.place(p, engine="cpsat", formulation="assignment", **FAST)
    assert auto.status is Status.OPTIMAL
    assert plain.machines_used >= auto.machines_used
    assert auto.bound == auto.machines_used
