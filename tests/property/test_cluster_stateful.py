"""Random sequences of cluster operations keep every rescheduling invariant."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import solver
from solver.cluster import Cluster
from solver.constraints import AntiAffinity, Spread
from solver.model import Machines, Service

ZONES = ("a", "b", "c")


def _fleet(rows: list[tuple[int, int, int]], start: int = 0) -> Machines:
    cap = np.array([[c, m] for c, m, _ in rows], np.int64).reshape(-1, 2)
    zones = [ZONES[(start + z) % len(ZONES)] for _, _, z in rows]
    return Machines(cap, ("cpu", "memory"), labels={"zone": zones})


machine_rows = st.lists(
    st.tuples(
        st.integers(2, 8).map(lambda x: x * 500),
        st.integers(2, 8).map(lambda x: x * 512),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=4,
)
rules = st.sampled_from([
    None,
    AntiAffinity("machine", 1),
    AntiAffinity("zone", 2),
    Spread("zone", 1),
])


class ClusterMachine(RuleBasedStateMachine):
    """Interleaves every operation; each plan must verify and leave a valid state."""

    @initialize(rows=machine_rows, preempt=st.booleans())
    def start(self, rows: list[tuple[int, int, int]], preempt: bool) -> None:
        """An empty cluster of a few machines."""
        self.cluster = Cluster(_fleet(rows), preempt=preempt, debug=True)
        self.serial = 0

    def _commit(self, plan: solver.plan.Plan) -> None:
        plan.verify(self.cluster)
        before = {
            c for c, j in zip(*self._ids_where(), strict=True)
        } - set(plan.removed)
        self.cluster.apply(plan)
        after_ids, where = self._ids_where()
        assert set(after_ids) == before | set(plan.new), "replicas lost or invented"
        assert len(after_ids) == len(set(after_ids)), "duplicated replica"
        pending = {c for c, j in zip(after_ids, where, strict=True) if j < 0}
        assert pending == set(plan.pending)
        if plan.rollout is not None:
            r = plan.rollout
            frame = self.cluster.containers_frame()
            assert (frame["service"] == r.service).sum() == r.replicas

    def _ids_where(self) -> tuple[list[str], list[int]]:
        frame = self.cluster.containers_frame()
        return frame["container"].tolist(), frame["machine"].tolist()

    def _services(self) -> list[str]:
        return sorted(self.cluster.metrics("service").get("service", []))

    def _machines(self) -> list[int]:
        return self.cluster.machines_frame()["machine"].tolist()

    @rule(
        replicas=st.integers(0, 5),
        cpu=st.integers(1, 6).map(lambda x: x * 250),
        mem=st.integers(1, 6).map(lambda x: x * 256),
        priority=st.integers(0, 2),
        constraint=rules,
    )
    def deploy(
        self, replicas: int, cpu: int, mem: int, priority: int, constraint: object
    ) -> None:
        """Deploy a new service."""
        self.serial += 1
        kwargs = {}
        if isinstance(constraint, AntiAffinity):
            kwargs["anti_affinity"] = constraint
        elif isinstance(constraint, Spread):
            kwargs["spread"] = constraint
        svc = Service(
            f"s{self.serial}", replicas, {"cpu": cpu, "memory": mem},
            priority=priority, **kwargs,
        )
        self._commit(self.cluster.deploy(svc))

    @rule(data=st.data(), replicas=st.integers(0, 6))
    def scale(self, data: st.DataObject, replicas: int) -> None:
        """Scale a random service in or out."""
        names = self._services()
        if names:
            name = data.draw(st.sampled_from(names))
            self._commit(self.cluster.scale(name, replicas))

    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        """A random machine fails."""
        j = data.draw(st.sampled_from(self._machines()))
        self._commit(self.cluster.fail([j]))

    @rule(data=st.data())
    def repair(self, data: st.DataObject) -> None:
        """A random machine comes back up."""
        j = data.draw(st.sampled_from(self._machines()))
        self._commit(self.cluster.repair([j]))

    @rule(data=st.data())
    def cordon(self, data: st.DataObject) -> None:
        """A random machine is cordoned."""
        j = data.draw(st.sampled_from(self._machines()))
        self._commit(self.cluster.cordon([j]))

    @rule(data=st.data(), budget=st.one_of(st.none(), st.integers(0, 3)))
    def drain(self, data: st.DataObject, budget: int | None) -> None:
        """A random machine is drained under a disruption budget."""
        j = data.draw(st.sampled_from(self._machines()))
        self._commit(self.cluster.drain([j], min_available=budget))

    @rule(rows=machine_rows)
    def add(self, rows: list[tuple[int, int, int]]) -> None:
        """Machines join; pending replicas may start there."""
        self._commit(self.cluster.add_machines(_fleet(rows)))

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """A machine leaves the fleet (if another one stays)."""
        ids = self._machines()
        if len(ids) > 1:
            self._commit(self.cluster.remove_machines([data.draw(st.sampled_from(ids))]))

    @rule(
        data=st.data(),
        cpu=st.integers(1, 6).map(lambda x: x * 250),
        surge=st.sampled_from([0, 1, 2, "25%", "50%"]),
        unavailable=st.sampled_from([0, 1, "25%"]),
    )
    def rolling_update(
        self, data: st.DataObject, cpu: int, surge: object, unavailable: object
    ) -> None:
        """Roll a service to new requests; a refusal must change nothing."""
        names = self._services()
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        before = self.cluster.snapshot()
        try:
            plan = self.cluster.rolling_update(
                name, {"cpu": cpu, "memory": 256},
                max_surge=surge, max_unavailable=unavailable,
            )
        except solver.InvalidProblem:
            after = self.cluster.snapshot()
            assert after["where"] == before["where"]
            assert after["ids"] == before["ids"]
            return
        self._commit(plan)

    @rule(
        objective=st.sampled_from(["min-machines", "balance"]),
        moves=st.integers(0, 4),
    )
    def rebalance(self, objective: str, moves: int) -> None:
        """Rebalance with a small move budget."""
        plan = self.cluster.rebalance(max_moves=moves, objective=objective)
        assert plan.moves <= moves
        self._commit(plan)

    @invariant()
    def valid(self) -> None:
        """The state passes validate; nothing runs on a down machine."""
        if not hasattr(self, "cluster"):
            return
        solver.validate(self.cluster.problem(), self.cluster.placement())
        machines = self.cluster.metrics("machine")
        for r in ("cpu", "memory"):
            assert (machines[f"{r}_requested"] <= machines[f"{r}_capacity"]).all()
        down = machines.loc[machines["state"] == "down", "containers"]
        assert (down == 0).all()


ClusterMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=12, deadline=None
)
test_cluster_operations = pytest.mark.filterwarnings("error")(
    ClusterMachine.TestCase
)
