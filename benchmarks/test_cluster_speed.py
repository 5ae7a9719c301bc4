"""Rescheduling speed: failure re-plan, rolling update and rebalance at scale."""

from __future__ import annotations

import numpy as np
import pytest

from solver import place
from solver.cluster import Cluster
from solver.constraints import AntiAffinity
from solver.model import Containers, Machines, Problem

RES = ("cpu", "memory", "disk", "net")
SIZES = ["small", pytest.param("large", marks=pytest.mark.slow)]


def _cluster(machines: int, services: int, replicas: int, seed: int = 0) -> Cluster:
    """``machines`` identical machines, ``services`` x ``replicas`` containers placed
    by bfd (64 candidate machines per container), every tenth service with one
    replica per machine at most."""
    rng = np.random.default_rng(seed)
    cap = np.tile(np.array([[64000, 262144, 2000, 10000]]), (machines, 1))
    fleet = Machines(cap, RES, labels={"zone": [f"z{j % 8}" for j in range(machines)]})
    unit = np.array([250, 1024, 5, 20])
    sizes = rng.integers(1, [12, 16, 10, 10], size=(services, 4)) * unit
    rows = np.repeat(np.arange(services), replicas)
    rules = [AntiAffinity("machine", 1) if s % 10 == 0 else None for s in rows]
    containers = Containers(
        sizes[rows], RES, service=[f"s{s}" for s in rows], anti_affinity=rules
    )
    problem = Problem(fleet, containers)
    placement = place(problem, "bfd", candidates=64)
    return Cluster.from_problem(problem, placement, engine="bfd", candidates=64)


@pytest.fixture(scope="module")
def small() -> Cluster:
    """500 machines, 10,000 containers: the default-run size."""
    return _cluster(500, 100, 100)


@pytest.fixture(scope="module")
def large() -> Cluster:
    """10,000 machines, 200,000 containers (4 dimensions)."""
    return _cluster(10_000, 400, 500)


def _fail_five_percent(cluster: Cluster) -> object:
    m = len(cluster.machines_frame())
    return cluster.fail(np.arange(0, m, 20))


@pytest.mark.parametrize("size", SIZES)
def test_fail_five_percent(benchmark, request, size: str) -> None:
    """Fail 5% of the machines and re-plan their containers (greedy bfd)."""
    cluster = request.getfixturevalue(size)
    plan = benchmark(_fail_five_percent, cluster)
    lost = int(
        cluster.containers_frame()["machine"].isin(np.arange(0, 10**6, 20)).sum()
    )
    starts = [a for a in plan.actions if a.kind == "start"]
    assert len(starts) + len(plan.pending) >= lost


@pytest.mark.parametrize("size", SIZES)
def test_rolling_update(benchmark, request, size: str) -> None:
    """Plan a rolling update of the largest service (max_surge 25%)."""
    cluster = request.getfixturevalue(size)
    frame = cluster.containers_frame()
    name = frame["service"].value_counts().index[0]
    replicas = int((frame["service"] == name).sum())
    plan = benchmark(
        cluster.rolling_update, name, None, max_surge="25%", max_unavailable=0
    )
    assert len(plan.new) == replicas


@pytest.mark.parametrize("size", SIZES)
def test_rebalance_min_machines(benchmark, request, size: str) -> None:
    """rebalance(max_moves=1000) returns within its time limit with machines freed."""
    cluster = request.getfixturevalue(size)
    plan = benchmark.pedantic(
        cluster.rebalance, kwargs={"max_moves": 1000, "time_limit": 5.0}, rounds=1
    )
    assert plan.moves <= 1000
    assert plan.machines_freed >= 0
