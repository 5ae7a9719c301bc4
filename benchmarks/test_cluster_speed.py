"""Rescheduling speed: failure re-plan, rolling update and rebalance at scale."""

from __future__ import annotations

import numpy as np
import pytest

from solver.cluster import Cluster
from solver.constraints import AntiAffinity
from solver.model import Containers, Machines, Problem

RES = ("cpu", "memory", "disk", "net")
SIZES = ["small", pytest.param("large", marks=pytest.mark.slow)]


def _cluster(
    machines: int, services: int, replicas: int, big: int, seed: int = 0
) -> Cluster:
    """``machines`` identical machines, ``services`` x ``replicas`` containers plus one
    service of ``big`` replicas, dealt round-robin (a deliberately spread, fragmented
    fleet, built vectorised); every tenth service has one replica per machine at
    most."""
    rng = np.random.default_rng(seed)
    cap = np.tile(np.array([[64000, 262144, 2000, 10000]]), (machines, 1))
    fleet = Machines(cap, RES, labels={"zone": [f"z{j % 8}" for j in range(machines)]})
    unit = np.array([250, 1024, 5, 20])
    sizes = rng.integers(1, [12, 16, 10, 10], size=(services + 1, 4)) * unit
    rows = np.repeat(np.arange(services + 1), [replicas] * services + [big])
    rules = np.empty(services + 1, dtype=object)
    rules[:services:10] = AntiAffinity("machine", 1)
    containers = Containers(
        sizes[rows],
        RES,
        service=np.array([f"s{s}" for s in range(services + 1)], dtype=object)[rows],
        anti_affinity=rules[rows],
    )
    where = np.arange(len(rows)) % machines
    load = np.zeros_like(cap)
    for k in range(cap.shape[1]):
        load[:, k] = np.bincount(where, sizes[rows, k], machines)
    where[(load > cap).any(axis=1)[where]] = -1
    problem = Problem(fleet, containers, current=where)
    return Cluster.from_problem(problem, engine="bfd", candidates=64)


@pytest.fixture(scope="module")
def small() -> Cluster:
    """500 machines, 10,000 containers: the default-run size."""
    return _cluster(500, 99, 100, 100)


@pytest.fixture(scope="module")
def large() -> Cluster:
    """10,000 machines, 200,000 containers (4 dimensions), one 5,000-replica
    service."""
    return _cluster(10_000, 390, 500, 5_000)


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
        cluster.rebalance, kwargs={"max_moves": 1000, "time_limit": 5.0}, rounds=3
    )
    benchmark.extra_info["time_limit"] = 5.0
    benchmark.extra_info["moves"] = plan.moves
    benchmark.extra_info["machines_freed"] = plan.machines_freed
    assert plan.moves <= 1000
    assert plan.machines_freed > 0
