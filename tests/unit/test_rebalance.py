"""rebalance(objective="min-machines"): CP-SAT against the greedy emptying pass."""

from __future__ import annotations

import numpy as np
import pytest

import solver
import solver.rebalance as rebalance_module
from solver.cluster import Cluster
from solver.constraints import AntiAffinity
from solver.model import Service

RES = ("cpu", "memory")


def _spread(machines: int, services: list[Service]) -> Cluster:
    """A k8s-least (spread) cluster of identical 8x8 machines running ``services``."""
    cluster = Cluster.from_arrays(
        np.array([[8, 8]] * machines), RES, engine="k8s-least", debug=True
    )
    cluster.apply(cluster.deploy(services))
    return cluster


def _check(cluster: Cluster, plan: solver.plan.Plan, max_moves: int) -> None:
    """The plan verifies, keeps the move budget and its end state validates."""
    before = cluster.containers_frame()["machine"].to_numpy()
    plan.verify(cluster)
    assert plan.moves <= max_moves
    cluster.apply(plan)
    after = cluster.containers_frame()["machine"].to_numpy()
    assert int((before != after).sum()) == plan.moves
    assert len(np.unique(before)) - len(np.unique(after)) == plan.machines_freed
    solver.validate(cluster.problem(), cluster.placement())


def _greedy(cluster: Cluster, max_moves: int) -> solver.plan.Plan:
    """The plan of the greedy emptying pass alone (CP-SAT switched off)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rebalance_module, "CPSAT_MAX_CONTAINERS", 0)
        return cluster.rebalance(max_moves=max_moves, time_limit=5)


@pytest.mark.parametrize(("max_moves", "freed"), [(7, 7), (12, 7), (3, 3), (0, 0)])
def test_one_small_container_per_machine(max_moves: int, freed: int) -> None:
    """Eight machines with one small container each fit on one machine."""
    cluster = _spread(8, [Service("a", 8, {"cpu": 1, "memory": 1})])
    assert cluster.containers_frame()["machine"].nunique() == 8
    plan = cluster.rebalance(max_moves=max_moves, time_limit=5)
    assert plan.machines_freed == freed
    assert plan.moves == freed
    assert plan.objective == (8.0, 8.0 - freed)
    _check(cluster, plan, max_moves)


@pytest.mark.parametrize("max_moves", [2, 5, 8, 30])
def test_cpsat_frees_at_least_as_many_as_greedy(max_moves: int) -> None:
    """Two shapes spread over twelve machines: CP-SAT >= greedy, budget kept."""
    services = [
        Service("a", 12, {"cpu": 3, "memory": 1}),
        Service("b", 12, {"cpu": 1, "memory": 3}),
        Service("c", 6, {"cpu": 2, "memory": 2}),
    ]
    cluster = _spread(12, services)
    greedy = _greedy(cluster, max_moves)
    greedy.verify(cluster)
    assert greedy.moves <= max_moves
    plan = cluster.rebalance(max_moves=max_moves, time_limit=5)
    assert plan.machines_freed >= greedy.machines_freed
    if plan.machines_freed == greedy.machines_freed:
        assert plan.moves <= greedy.moves
    _check(cluster, plan, max_moves)


def test_unlimited_moves_reach_the_volume_bound() -> None:
    """Sixteen 4x4 containers, one per 8x8 machine, pack two to a machine."""
    cluster = _spread(16, [Service("a", 16, {"cpu": 4, "memory": 4})])
    assert cluster.containers_frame()["machine"].nunique() == 16
    plan = cluster.rebalance(max_moves=100, time_limit=5)
    assert plan.machines_freed == 8  # 16 * 4 / 8 = 8 machines in either dimension
    assert plan.moves == 8
    _check(cluster, plan, 100)


def test_anti_affinity_limits_the_packing() -> None:
    """At most two replicas of a service per machine: six replicas need three."""
    services = [
        Service(
            "a", 6, {"cpu": 1, "memory": 1}, anti_affinity=AntiAffinity("machine", 2)
        )
    ]
    cluster = _spread(6, services)
    plan = cluster.rebalance(max_moves=10, time_limit=5)
    assert plan.machines_freed == 3
    _check(cluster, plan, 10)


def test_pending_containers_stay_pending() -> None:
    """Rebalance moves running containers only; pending ones keep their reasons."""
    cluster = _spread(3, [Service("a", 3, {"cpu": 2, "memory": 2})])
    cluster.apply(cluster.deploy(Service("big", 1, {"cpu": 9, "memory": 1})))
    assert list(cluster.pending()) == ["big-0"]
    plan = cluster.rebalance(max_moves=5, time_limit=5)
    assert plan.machines_freed == 2
    assert list(plan.pending) == ["big-0"]
    _check(cluster, plan, 5)
