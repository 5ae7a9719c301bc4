"""Plan.verify catches each broken rule in a hand-altered plan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import solver
from solver.cluster import Cluster
from solver.constraints import AntiAffinity
from solver.model import Service
from solver.plan import Move, Plan, Rollout, Start, Stop


@pytest.fixture
def cluster() -> Cluster:
    """Three machines of 1000 cpu: batch (900) + web-0 (100) fill machine 0, web-1 runs
    on machine 1 (one web per machine), machine 2 is empty."""
    c = Cluster.from_arrays(np.array([[1000], [1000], [1000]]), ("cpu",))
    c.deploy(Service("batch", 1, {"cpu": 900}), apply=True)
    c.deploy(
        Service("web", 2, {"cpu": 100}, anti_affinity=AntiAffinity("machine", 1)),
        apply=True,
    )
    assert _where(c) == {"batch-0": 0, "web-0": 0, "web-1": 1}
    return c


def _where(cluster: Cluster) -> dict[str, int]:
    frame = cluster.containers_frame()
    return dict(zip(frame["container"], frame["machine"], strict=True))


def _with_steps(cluster: Cluster, *steps: tuple) -> Plan:
    return Plan("hand-made", cluster.version, steps=tuple(steps))


def test_real_plans_verify(cluster: Cluster) -> None:
    """A plan the cluster made passes; its frame lists every action."""
    plan = cluster.fail([0])
    plan.verify(cluster)
    frame = plan.to_frame()
    assert list(frame.columns) == [
        "step", "kind", "container", "source", "target", "reason"
    ]
    assert len(frame) == len(plan.actions) + len(plan.pending)


def test_capacity_at_the_fullest_point(cluster: Cluster) -> None:
    """Moving web-1 onto the full machine 0 overflows it."""
    plan = _with_steps(cluster, (Move("web-1", 1, 0),))
    with pytest.raises(solver.PlacementError, match="capacity"):
        plan.verify(cluster)


def test_stop_first_frees_room(cluster: Cluster) -> None:
    """Stop-then-start inside one step is checked after the stops."""
    where = _where(cluster)
    free = ({0, 1, 2} - set(where.values())).pop()
    plan = _with_steps(
        cluster,
        (Stop("batch-0", where["batch-0"]), Start("batch-0", free)),
    )
    with pytest.raises(solver.PlacementError, match=r"lost|neither"):
        replace(plan, steps=((Stop("batch-0", where["batch-0"]),),)).verify(cluster)
    plan.verify(cluster)


def test_start_on_cordoned_or_down_machine(cluster: Cluster) -> None:
    """Nothing new starts on a cordoned machine, nothing runs on a down one."""
    where = _where(cluster)
    free = ({0, 1, 2} - set(where.values())).pop()
    cordon = cluster.cordon([free])
    bad = replace(
        cordon,
        steps=((Stop("web-0", where["web-0"]), Start("web-0", free)),),
    )
    with pytest.raises(solver.PlacementError, match="cordoned"):
        bad.verify(cluster)
    fail = cluster.fail([where["batch-0"]])
    kept = replace(fail, steps=(), pending={})
    with pytest.raises(solver.PlacementError, match=r"lost|neither"):
        kept.verify(cluster)


def test_duplicate_start(cluster: Cluster) -> None:
    """Starting a running container again is a duplicate."""
    where = _where(cluster)
    free = ({0, 1, 2} - set(where.values())).pop()
    plan = _with_steps(cluster, (Start("web-0", free),))
    with pytest.raises(solver.PlacementError, match="duplicate"):
        plan.verify(cluster)


def test_constraints_after_each_step(cluster: Cluster) -> None:
    """Two web replicas on one machine break anti-affinity after the step."""
    plan = _with_steps(cluster, (Move("web-0", 0, 1),))
    with pytest.raises(solver.PlacementError, match="anti_affinity"):
        plan.verify(cluster)


def test_rollout_bounds(cluster: Cluster) -> None:
    """A rolling-update plan that stops below replicas - max_unavailable fails."""
    where = _where(cluster)
    plan = replace(
        _with_steps(cluster, (Stop("web-0", where["web-0"]),)),
        rollout=Rollout("web", 2, 1, 0),
        pending={"web-0": {"cpu": 1}},
    )
    with pytest.raises(solver.PlacementError, match="max_unavailable"):
        plan.verify(cluster)


def test_stale_plan(cluster: Cluster) -> None:
    """A plan made before another one was applied no longer verifies."""
    plan = cluster.scale("web", 1)
    cluster.apply(cluster.scale("batch", 0))
    with pytest.raises(solver.PlacementError, match="stale"):
        plan.verify(cluster)
