"""GPU sharing: device-level placement in the greedy engines and in validate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from naive import Replay, greedy
from strategies import gpu_problems

import solver
from solver import Containers, Machines, Problem
from solver.engines import get
from solver.engines.greedy import PRESETS, container_order
from solver.placement import Placement, Status

ENGINES = sorted(PRESETS)


def _problem(gpus, whole, share, capacity=None) -> Problem:
    m, n = len(gpus), len(whole)
    cap = np.full((m, 1), 100) if capacity is None else np.array(capacity)
    mach = Machines(cap, gpus=gpus)
    cont = Containers(np.ones((n, 1), np.int64), mach.resources, num_gpu=whole,
                      gpu_milli=share)
    return Problem(mach, cont)


def _device_load(problem: Problem, placement: Placement) -> dict[tuple, int]:
    """milli-GPU held per (machine, device)."""
    load: dict[tuple, int] = {}
    cont = problem.containers
    for i in np.flatnonzero(placement.assignment >= 0).tolist():
        for u in placement.devices[i]:
            if u >= 0:
                key = (int(placement.assignment[i]), int(u))
                milli = 1000 if cont.num_gpu[i] else int(cont.gpu_milli[i])
                load[key] = load.get(key, 0) + milli
    return load


def test_shares_pack_onto_best_fitting_device() -> None:
    """Shares go to the device with least free that fits; whole GPUs to free ones."""
    p = _problem([2], [0, 0, 0, 1], [600, 300, 400, 0])
    pl = get("ff").solve(p)
    assert pl.assignment.tolist() == [0, 0, 0, -1]
    # 600 -> dev 0; 300 -> dev 0 (400 free, least that fits); 400 -> dev 1
    assert pl.devices[:3, 0].tolist() == [0, 0, 1]
    assert pl.reasons[3] == {"gpu devices": 1}
    solver.validate(p, pl)


def test_whole_gpus_get_distinct_free_devices() -> None:
    """Two whole GPUs take devices 0 and 1; a share then takes device 2."""
    p = _problem([3], [2, 0], [0, 500])
    pl = get("ffd").solve(p)
    assert sorted(pl.devices[0].tolist()) == [0, 1]
    assert pl.devices[1, 0] == 2
    solver.validate(p, pl)


def test_machine_without_devices_is_skipped() -> None:
    """A share skips the GPU-less first machine: exact device feasibility."""
    p = _problem([0, 1], [0], [100])
    for name in ENGINES:
        pl = get(name).solve(p)
        assert pl.assignment.tolist() == [1]
        solver.validate(p, pl)


def test_validate_refuses_bad_devices() -> None:
    """Shared whole GPUs, over-full devices and missing devices are refused."""
    p = _problem([2], [1, 1, 0], [0, 0, 0])
    ok = Placement(np.zeros(3, np.int32), "x", Status.FEASIBLE,
                   devices=np.array([[0], [1], [-1]], np.int32))
    solver.validate(p, ok)
    same = Placement(np.zeros(3, np.int32), "x", Status.FEASIBLE,
                     devices=np.array([[0], [0], [-1]], np.int32))
    with pytest.raises(solver.PlacementError, match="1000"):
        solver.validate(p, same)
    absent = Placement(np.zeros(3, np.int32), "x", Status.FEASIBLE,
                       devices=np.array([[0], [5], [-1]], np.int32))
    with pytest.raises(solver.PlacementError, match="has 2 GPU"):
        solver.validate(p, absent)
    with pytest.raises(solver.PlacementError, match="records no devices"):
        solver.validate(p, Placement(np.zeros(3, np.int32), "x", Status.FEASIBLE))
    q = _problem([1], [0, 0], [600, 600])
    over = Placement(np.zeros(2, np.int32), "x", Status.FEASIBLE,
                     devices=np.array([[0], [0]], np.int32))
    with pytest.raises(solver.PlacementError, match="1200 milli"):
        solver.validate(q, over)


@pytest.mark.parametrize("name", ENGINES)
@given(problem=gpu_problems())
def test_gpu_output_valid(name: str, problem: Problem) -> None:
    """Every engine's GPU placement validates; no device above 1000 milli-GPU."""
    pl = get(name).solve(problem)
    solver.validate(problem, pl)
    cont = problem.containers
    if not cont.asks_gpus:
        assert pl.devices is None
        return
    assert all(v <= 1000 for v in _device_load(problem, pl).values())
    for i in np.flatnonzero((pl.assignment >= 0) & (cont.num_gpu > 0)).tolist():
        got = [u for u in pl.devices[i].tolist() if u >= 0]
        assert len(set(got)) == cont.num_gpu[i]


@pytest.mark.parametrize("name", ["ff", "ffd", "bfd", "k8s-least", "dot"])
@given(problem=gpu_problems())
def test_gpu_equals_naive_device_level(name: str, problem: Problem) -> None:
    """Machines and devices equal a plain device-level replay of the same order."""
    engine = get(name)
    pl = engine.solve(problem)
    order = container_order(problem, engine.order)
    rp = Replay(problem)
    expected = greedy(problem, order.tolist(), engine.rule, engine.score, None,
                      engine.open_first, replay=rp)
    assert pl.assignment.tolist() == expected
    if not problem.containers.asks_gpus:
        return
    for i in range(problem.n):
        got = [u for u in pl.devices[i].tolist() if u >= 0]
        assert got == rp.devices[i]
