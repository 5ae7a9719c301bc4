"""Cluster operations on small hand-made fleets, each plan verified and validated."""

from __future__ import annotations

import numpy as np
import pytest

import solver
from solver.cluster import Cluster
from solver.constraints import AntiAffinity, Spread
from solver.model import Machines, Problem, Service

RES = ("cpu", "memory")


def _cluster(rows: int, cpu: int = 4000, mem: int = 8192, **options: object) -> Cluster:
    zones = [("a", "b", "c")[j % 3] for j in range(rows)]
    machines = Machines(
        np.array([[cpu, mem]] * rows), RES, labels={"zone": zones}
    )
    return Cluster(machines, debug=True, **options)


def _commit(cluster: Cluster, plan: solver.plan.Plan) -> None:
    plan.verify(cluster)
    cluster.apply(plan)
    solver.validate(cluster.problem(), cluster.placement())


def test_frames_follow_the_contract() -> None:
    """containers_frame / machines_frame have exactly the documented columns."""
    cluster = Cluster.from_arrays(np.array([[10, 10], [10, 10]]), RES)
    _commit(cluster, cluster.deploy(Service("web", 3, {"cpu": 4, "memory": 1})))
    frame = cluster.containers_frame()
    assert list(frame.columns) == [
        "container", "service", "revision", "machine", "cpu", "memory"
    ]
    assert frame["container"].tolist() == ["web-0", "web-1", "web-2"]
    machines = cluster.machines_frame()
    assert list(machines.columns) == ["machine", "state", "cpu", "memory"]
    assert machines["state"].tolist() == ["up", "up"]


def test_plan_changes_nothing_until_applied() -> None:
    """An operation returns a plan; the state moves only on apply."""
    cluster = _cluster(2)
    plan = cluster.deploy(Service("web", 2, {"cpu": 100}))
    assert cluster.containers_frame().empty
    _commit(cluster, plan)
    assert len(cluster.endpoints("web")) == 2
    with pytest.raises(solver.InvalidProblem, match="another cluster state"):
        cluster.apply(plan)


def test_unknown_service_is_refused_without_change() -> None:
    """Scaling or updating an unknown service raises InvalidProblem naming it."""
    cluster = _cluster(1)
    with pytest.raises(solver.InvalidProblem, match="unknown service 'nope'"):
        cluster.scale("nope", 3)
    with pytest.raises(solver.InvalidProblem, match="unknown service"):
        cluster.rolling_update("nope", {"cpu": 1})
    assert cluster.version == 0


def test_failure_replaces_and_reports_pending_with_reasons() -> None:
    """Containers of a failed machine restart elsewhere; overflow is pending with
    per-dimension reasons, and is retried on repair."""
    cluster = _cluster(2, cpu=1000)
    _commit(cluster, cluster.deploy(Service("web", 4, {"cpu": 500})))
    plan = cluster.fail([0])
    assert len(plan.pending) == 2
    for reasons in plan.pending.values():
        assert reasons == {"down": 1, "cpu": 1}
    frame = plan.to_frame()
    assert (frame["kind"] == "pending").sum() == 2
    assert frame.loc[frame["kind"] == "pending", "reason"].str.contains("cpu").all()
    _commit(cluster, plan)
    again = cluster.repair([0])
    assert {a.kind for a in again.actions} == {"start"}
    assert len(again.actions) == 2
    _commit(cluster, again)
    assert not cluster.pending()


def test_preemption_evicts_fewest_lowest_priority() -> None:
    """A high-priority container evicts the single low-priority one that makes room,
    and the eviction is reported with who caused it."""
    cluster = _cluster(2, cpu=1000, preempt=True)
    _commit(cluster, cluster.deploy(Service("low", 2, {"cpu": 600}, priority=0)))
    _commit(cluster, cluster.deploy(Service("mid", 2, {"cpu": 300}, priority=5)))
    plan = cluster.deploy(Service("high", 1, {"cpu": 600}, priority=10))
    assert len(plan.evicted) == 1
    victim, by = plan.evicted[0]
    assert victim.startswith("low-")
    assert by == "high-0"
    assert victim in plan.pending
    _commit(cluster, plan)
    assert len(cluster.endpoints("high")) == 1
    assert len(cluster.endpoints("mid")) == 2


def test_without_preemption_nothing_is_evicted() -> None:
    """preempt=False leaves the high-priority container pending."""
    cluster = _cluster(1, cpu=1000)
    _commit(cluster, cluster.deploy(Service("low", 1, {"cpu": 900})))
    plan = cluster.deploy(Service("high", 1, {"cpu": 600}, priority=10))
    assert not plan.evicted
    assert "high-0" in plan.pending


def test_drain_moves_make_before_break() -> None:
    """A drain with room elsewhere is one step of moves; the machine ends empty."""
    cluster = _cluster(3)
    _commit(cluster, cluster.deploy(Service("web", 3, {"cpu": 1000})))
    busy = int(cluster.containers_frame()["machine"].iloc[0])
    plan = cluster.drain([busy])
    assert {a.kind for a in plan.actions} == {"move"}
    assert all(a.source == busy for a in plan.actions)
    _commit(cluster, plan)
    assert (cluster.containers_frame()["machine"] != busy).all()
    assert cluster.machines_frame()["state"][busy] == "cordoned"


def test_drain_respects_disruption_budget() -> None:
    """Where only stop-then-start helps (anti-affinity per zone), the budget decides:
    with min_available equal to the replicas nothing may stop, so the container stays
    and is reported blocked; with a looser budget it restarts in the same zone."""
    machines = Machines(
        np.array([[4000, 8192]] * 4), RES, labels={"zone": ["a", "a", "b", "c"]}
    )
    cluster = Cluster(machines, debug=True)
    svc = Service("db", 3, {"cpu": 1000}, anti_affinity=AntiAffinity("zone", 1))
    _commit(cluster, cluster.deploy(svc))
    on_a = int(
        cluster.containers_frame().query("machine in (0, 1)")["machine"].iloc[0]
    )
    strict = cluster.drain([on_a], min_available=3)
    assert len(strict.blocked) == 1
    assert "disruption budget" in next(
        iter(strict.blocked.values())
    )
    _commit(cluster, strict)
    cluster = Cluster(machines, debug=True)
    _commit(cluster, cluster.deploy(svc))
    loose = cluster.drain([on_a], min_available=2)
    kinds = [a.kind for a in loose.actions]
    assert kinds == ["stop", "start"]
    assert loose.budgets == {"db": 2}
    _commit(cluster, loose)
    assert len(cluster.endpoints("db")) == 3


def test_rolling_update_refused_without_room() -> None:
    """No room for the surge and max_unavailable=0: an explained refusal, no change."""
    cluster = _cluster(1, cpu=1000)
    _commit(cluster, cluster.deploy(Service("web", 2, {"cpu": 500})))
    before = cluster.snapshot()
    with pytest.raises(solver.InvalidProblem, match=r"refused.*cpu"):
        cluster.rolling_update("web", {"cpu": 500}, max_surge=1, max_unavailable=0)
    after = cluster.snapshot()
    assert (after["ids"], after["where"]) == (before["ids"], before["where"])
    assert after["version"] == before["version"]
    plan = cluster.rolling_update("web", {"cpu": 500}, max_surge=1, max_unavailable=1)
    _commit(cluster, plan)
    assert (cluster.containers_frame()["revision"] == 1).all()


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, "25%", "25%", (3, 2)),
        (4, "10%", "10%", (1, 0)),
        (3, "0%", "10%", (0, 1)),  # both round to 0: one may be unavailable
        (5, 2, 0, (2, 0)),
    ],
)
def test_rolling_update_percentages(
    replicas: int, surge: object, unavailable: object, expected: tuple[int, int]
) -> None:
    """Percentages resolve as Kubernetes does: surge up, unavailable down."""
    cluster = _cluster(4)
    _commit(cluster, cluster.deploy(Service("web", replicas, {"cpu": 100})))
    plan = cluster.rolling_update(
        "web", max_surge=surge, max_unavailable=unavailable
    )
    r = plan.rollout
    assert (r.max_surge, r.max_unavailable) == expected
    _commit(cluster, plan)


def test_rolling_update_keeps_spread_and_anti_affinity() -> None:
    """Old and new revisions count together: the zone spread and the one-per-machine
    rule hold after every step (verify validates each step)."""
    cluster = _cluster(6)
    svc = Service(
        "web", 5, {"cpu": 1000}, spread=Spread("zone", 1),
        anti_affinity=AntiAffinity("machine", 1),
    )
    _commit(cluster, cluster.deploy(svc))
    plan = cluster.rolling_update("web", {"cpu": 1500}, max_surge=1)
    _commit(cluster, plan)
    frame = cluster.containers_frame()
    assert frame["machine"].is_unique
    zones = frame["machine"].map(lambda j: "abc"[j % 3]).value_counts()
    assert zones.max() - zones.min() <= 1


def test_scale_in_keeps_spread() -> None:
    """Scaling in stops replicas from the fullest zones."""
    cluster = _cluster(3)
    svc = Service("w", 6, {"cpu": 100}, spread=Spread("zone"))
    _commit(cluster, cluster.deploy(svc))
    plan = cluster.scale("w", 3)
    assert len(plan.removed) == 3
    _commit(cluster, plan)
    assert sorted(cluster.containers_frame()["machine"]) == [0, 1, 2]


@pytest.mark.parametrize("operation", ["remove_machines", "drain"])
def test_emptying_a_zone_moves_its_replicas_within_the_spread(operation: str) -> None:
    """A zone whose only machine is cordoned is no spread domain: its replica moves
    to the other zone instead of being stopped, and every step validates."""
    machines = Machines(
        np.array([[1000, 1024], [1000, 2560]]), RES, labels={"zone": ["a", "b"]}
    )
    cluster = Cluster(machines, debug=True)
    svc = Service("s1", 3, {"cpu": 250, "memory": 256}, spread=Spread("zone", 1))
    _commit(cluster, cluster.deploy(svc))
    assert sorted(cluster.containers_frame()["machine"]) == [0, 0, 1]
    plan = getattr(cluster, operation)([1])
    assert not plan.pending
    _commit(cluster, plan)
    assert cluster.containers_frame()["machine"].tolist() == [0, 0, 0]
    if operation == "drain":
        # back up, zone b is a domain again: the spread is repaired by a move
        _commit(cluster, cluster.repair([1]))
        assert sorted(cluster.containers_frame()["machine"]) == [0, 0, 1]


def test_removing_a_machine_stops_what_the_spread_no_longer_allows() -> None:
    """Zone c keeps an up machine too small for anything: once the removed machine's
    two replicas stop, zone a's two would be a skew of 2, so one of them stops in the
    same step and waits (the plan's replay validates every step)."""
    machines = Machines(
        np.array([[1000, 1024], [1000, 1024], [100, 100]]),
        RES,
        labels={"zone": ["a", "c", "c"]},
    )
    cluster = Cluster(machines, debug=True)
    svc = Service("s1", 4, {"cpu": 250, "memory": 256}, spread=Spread("zone", 1))
    _commit(cluster, cluster.deploy(svc))
    assert sorted(cluster.containers_frame()["machine"]) == [0, 0, 1, 1]
    plan = cluster.remove_machines([1])
    reasons = sorted(a.reason for a in plan.actions)
    assert reasons == ["machine removed", "machine removed", "spread kept"]
    assert len(plan.pending) == 3
    _commit(cluster, plan)
    assert sorted(cluster.containers_frame()["machine"]) == [-1, -1, -1, 0]


def test_add_machines_accepts_arrays_and_takes_pending_first() -> None:
    """A 2-D capacity array grows the fleet; pending replicas start there."""
    cluster = _cluster(1, cpu=1000)
    _commit(cluster, cluster.deploy(Service("w", 3, {"cpu": 500})))
    plan = cluster.add_machines(np.array([[1000, 8192]]))
    assert [a.target for a in plan.actions] == [1]
    _commit(cluster, plan)
    assert len(cluster.machines_frame()) == 2


def test_remove_machines_retires_them() -> None:
    """Removed machines are emptied first and leave machines_frame."""
    cluster = _cluster(3)
    _commit(cluster, cluster.deploy(Service("w", 3, {"cpu": 1000})))
    _commit(cluster, cluster.remove_machines([0]))
    assert 0 not in cluster.machines_frame()["machine"].tolist()
    assert (cluster.containers_frame()["machine"] != 0).all()
    with pytest.raises(solver.InvalidProblem, match="not a machine"):
        cluster.fail([0])


def test_rebalance_min_machines_frees_machines_within_budget() -> None:
    """Four half-empty machines compact onto two; max_moves caps the moves."""
    cluster = Cluster.from_arrays(np.array([[4, 4]] * 4), RES, engine="wfd", debug=True)
    _commit(cluster, cluster.deploy(Service("w", 4, {"cpu": 2, "memory": 2})))
    assert cluster.containers_frame()["machine"].nunique() == 4
    none = cluster.rebalance(max_moves=0)
    assert none.moves == 0
    assert not none.steps
    plan = cluster.rebalance(max_moves=2, objective="min-machines")
    assert plan.machines_freed == 2
    assert plan.moves == 2
    assert plan.objective == (4.0, 2.0)
    _commit(cluster, plan)


def test_rebalance_balance_lowers_spread_of_load() -> None:
    """objective='balance' lowers the spread of load fractions."""
    cluster = Cluster.from_arrays(np.array([[8, 8]] * 4), RES, engine="ffd", debug=True)
    _commit(cluster, cluster.deploy(Service("w", 8, {"cpu": 2, "memory": 2})))
    plan = cluster.rebalance(max_moves=8, objective="balance")
    before, after = plan.objective
    assert after < before
    _commit(cluster, plan)


def test_rebalance_cost_runs_the_reassignment_optimiser() -> None:
    """objective='cost' returns a verified plan with the optimiser's costs."""
    cluster = Cluster.from_arrays(np.array([[8, 8]] * 3), RES, debug=True)
    _commit(cluster, cluster.deploy(Service("w", 4, {"cpu": 2, "memory": 2})))
    plan = cluster.rebalance(max_moves=2, objective="cost", time_limit=0.5)
    before, after = plan.objective
    assert after <= before
    _commit(cluster, plan)


def test_from_problem_keeps_the_placement() -> None:
    """from_problem takes a placement; unplaced containers are pending."""
    problem = Problem.from_arrays([[10, 10]], [[6, 1], [6, 1]], RES)
    placement = solver.place(problem, "ffd")
    cluster = Cluster.from_problem(problem, placement)
    frame = cluster.containers_frame()
    assert frame["machine"].tolist() == placement.assignment.tolist()
    assert list(cluster.pending()) == ["1"]


def test_endpoints_and_metrics() -> None:
    """endpoints lists running replicas; metrics reports per machine and service."""
    cluster = _cluster(2, cpu=1000)
    _commit(cluster, cluster.deploy(Service("w", 5, {"cpu": 500, "memory": 100})))
    ends = cluster.endpoints("w")
    assert len(ends) == 4
    assert set(ends.columns) >= {"container", "machine", "zone"}
    per_machine = cluster.metrics()
    assert per_machine["cpu_requested"].sum() == 2000
    assert (per_machine["memory_stranded"] > 0).all()  # cpu full, memory left over
    per_service = cluster.metrics("service")
    row = per_service.iloc[0]
    assert (row["replicas"], row["running"], row["pending"]) == (5, 4, 1)


def test_rebalance_frees_machines_on_a_spread_cluster() -> None:
    """A k8s-least (spread) placement is compacted: machines freed, max_moves kept."""
    cluster = Cluster.from_arrays(
        np.array([[8, 8]] * 12), RES, engine="k8s-least", debug=True
    )
    _commit(cluster, cluster.deploy(Service("a", 12, {"cpu": 2, "memory": 1})))
    _commit(cluster, cluster.deploy(Service("b", 12, {"cpu": 1, "memory": 2})))
    assert cluster.containers_frame()["machine"].nunique() == 12
    plan = cluster.rebalance(max_moves=8, objective="min-machines", time_limit=5)
    assert 0 < plan.moves <= 8
    assert plan.machines_freed >= 3
    plan.verify(cluster)
    _commit(cluster, plan)
    assert cluster.containers_frame()["machine"].nunique() == 12 - plan.machines_freed
