"""The seed story (models/seed-story.toml) told through the Cluster API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import solver
from solver.cluster import Cluster
from solver.datasets.generators import generate_problem
from solver.model import Machines, Service

MODEL = Path(__file__).resolve().parents[2] / "models" / "seed-story.toml"


@pytest.fixture
def story() -> Cluster:
    """The story's three machines with its two services placed by the cluster."""
    problem = generate_problem(MODEL, seed=0)
    cluster = Cluster.from_problem(problem, debug=True)
    cluster.schedule(apply=True)  # places the model's initial replicas
    return cluster


def _running(cluster: Cluster, name: str) -> int:
    return len(cluster.endpoints(name))


def test_story_starts_with_every_replica_running(story: Cluster) -> None:
    """Three machines, cat-photos x3 and image-resize x2 all placed and valid."""
    assert len(story.machines_frame()) == 3
    assert _running(story, "cat-photos") == 3
    assert _running(story, "image-resize") == 2
    solver.validate(story.problem(), story.placement())


def test_machine_failure_keeps_replica_count(story: Cluster) -> None:
    """node-1 dies: its containers restart on the other two; no replica is lost."""
    victim = 1
    lost = set(story.containers_frame().query("machine == @victim")["container"])
    plan = story.fail([victim])
    plan.verify(story)
    assert {a.container for a in plan.actions if a.kind == "start"} == lost
    assert all(a.target != victim for a in plan.actions)
    story.apply(plan)
    assert _running(story, "cat-photos") == 3
    assert _running(story, "image-resize") == 2
    assert not plan.pending
    frame = story.containers_frame()
    assert (frame["machine"] != victim).all()
    # anti-affinity: at most two cat-photos per machine, also after the failure
    counts = frame.query("service == 'cat-photos'")["machine"].value_counts()
    assert counts.max() <= 2
    solver.validate(story.problem(), story.placement())


def test_image_service_scales_out_onto_added_machines(story: Cluster) -> None:
    """Scaling image-resize far beyond the fleet leaves replicas pending with reasons;
    added machines take exactly those pending replicas."""
    plan = story.scale("image-resize", 12)
    plan.verify(story)
    story.apply(plan)
    pending = set(plan.pending)
    assert pending, "three machines cannot hold 12 image replicas"
    for reasons in plan.pending.values():
        assert "cpu" in reasons or "memory" in reasons
    frame = plan.to_frame()
    assert set(frame.loc[frame["kind"] == "pending", "container"]) == pending
    new = Machines(
        np.array([[4000, 8192]] * 3), ("cpu", "memory"),
        labels={"zone": ["zone-a", "zone-b", "zone-c"]},
    )
    grow = story.add_machines(new)
    grow.verify(story)
    story.apply(grow)
    started = {a.container for a in grow.actions if a.kind == "start"}
    assert started
    assert started <= pending
    assert all(a.target >= 3 for a in grow.actions)
    assert _running(story, "image-resize") == 12 - len(grow.pending)
    assert _running(story, "cat-photos") == 3


def test_rolling_update_ten_replicas_with_quarter_surge() -> None:
    """10 replicas, max_surge=25% (3), max_unavailable=0: never more than 13 running,
    never fewer than 10 available, and every replica ends on the new revision."""
    cluster = Cluster.from_arrays(
        np.array([[4000, 8192]] * 4), ("cpu", "memory"), debug=True
    )
    cluster.deploy(Service("web", 10, {"cpu": 500, "memory": 512}), apply=True)
    before = cluster.snapshot()
    plan = cluster.rolling_update(
        "web", {"cpu": 600, "memory": 512}, max_surge="25%", max_unavailable=0
    )
    assert (plan.rollout.max_surge, plan.rollout.max_unavailable) == (3, 0)
    plan.verify(cluster)
    assert cluster.snapshot()["where"] == before["where"], "planning changed the state"
    running = 10
    for step in plan.steps:
        stops = sum(a.kind == "stop" for a in step)
        starts = sum(a.kind == "start" for a in step)
        assert running - stops >= 10
        running += starts - stops
        assert running <= 13
    cluster.apply(plan)
    frame = cluster.containers_frame()
    assert len(frame) == 10
    assert (frame["cpu"] == 600).all()
    assert (frame["revision"] == 1).all()
    assert (frame["machine"] >= 0).all()
