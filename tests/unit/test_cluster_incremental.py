"""Incremental cluster paths against the from-scratch ones: grown compiles and kernel
counters carried over from the last placement must give the same results."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import solver
from solver.cluster import Cluster, _Builder, _problem, _restate
from solver.constraints import Affinity, AntiAffinity, Spread, compile_constraints
from solver.engines.greedy import place_into
from solver.model import DOWN, UP, Machines, Service

RES = ("cpu", "memory")
ROW_FIELDS = (
    "eclass",
    "stay",
    "pin",
    "service_id",
    "aa_own_key",
    "sp_group",
    "af_group",
    "af_required",
    "af_self",
    "ns_id",
)


def _fleet(seed: int) -> Cluster:
    """A small constrained cluster: zones, a selector, spread, anti-affinity,
    affinity and a quota, deployed and applied."""
    rng = np.random.default_rng(seed)
    m = 24
    cap = np.column_stack([rng.integers(4, 9, m) * 1000, rng.integers(4, 9, m) * 1024])
    machines = Machines(
        cap,
        RES,
        labels={
            "zone": [f"z{j % 3}" for j in range(m)],
            "disk": ["ssd" if j % 4 else "hdd" for j in range(m)],
        },
    )
    cluster = Cluster(machines, candidates=5)
    services = [
        Service("web", 20, {"cpu": 500, "memory": 512}, spread=Spread("zone", 1)),
        Service(
            "db",
            6,
            {"cpu": 900, "memory": 2048},
            anti_affinity=AntiAffinity("machine", 1),
            node_selector={"disk": "ssd"},
        ),
        Service(
            "cache",
            10,
            {"cpu": 300, "memory": 1024},
            affinity=Affinity("web", "zone"),
            namespace="team",
        ),
        Service("batch", 30, {"cpu": int(rng.integers(100, 800)), "memory": 256}),
    ]
    cluster.apply(cluster.deploy(services))
    return cluster


def _reference(cluster: Cluster, w, todo, base, held=None, usable=None):
    """place_into over a freshly built and compiled problem of the state."""
    view = w.copy()
    view.state = np.where(w.retired, DOWN, UP).astype(np.int8)
    problem = _problem(view, named=False, current=False)
    cc = compile_constraints(problem)
    problem, cc = _restate(problem, cc, np.where(w.retired, DOWN, w.state))
    g = cluster._greedy
    ok = ~w.retired if usable is None else usable & ~w.retired
    return place_into(
        problem,
        cc,
        base,
        cluster._order(w, problem, todo),
        g.rule,
        g.score,
        cluster.candidates,
        held=held,
        usable=ok,
        held_rules=held is not None,
    ).astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_place_matches_place_into_over_a_sequence(seed: int) -> None:
    """A run of placements, each from the counters the last one left, equals
    place_into on the full state every time (with and without held copies)."""
    rng = np.random.default_rng(seed)
    cluster = _fleet(seed)
    w = cluster._st.copy()
    for round_ in range(8):
        problem, cc = cluster._compiled(w)
        placed = np.flatnonzero(w.where >= 0)
        # a few movers: counters carried over; a third of them: counted again
        k = int(rng.integers(1, 4)) if round_ < 6 else len(placed) // 3
        movers = rng.choice(placed, size=min(k, len(placed)), replace=False)
        base = w.where.copy()
        base[movers] = -1
        held = None
        if round_ % 2:
            held = np.full(len(w.ids), -1, np.int64)
            held[movers] = w.where[movers]
        usable = rng.random(w.m) < 0.8 if round_ % 3 == 2 else None
        got = cluster._place(
            w, problem, cc, movers, base=base, held=held, usable=usable
        )
        want = _reference(cluster, w, movers, base, held, usable)
        np.testing.assert_array_equal(got, want)
        if held is None:
            w.where = got
        if round_ == 4:
            j = int(rng.integers(w.m))
            w.state[j] = DOWN
            w.where[w.where == j] = -1


@pytest.mark.parametrize("requests", [None, {"cpu": 700, "memory": 512}])
def test_grown_compile_equals_a_fresh_compile(requests) -> None:
    """Replicas appended to an existing service extend the cached compile; every
    per-container array equals a compile from scratch."""
    cluster = _fleet(1)
    _, base = cluster._compiled(cluster._st)
    w = cluster._st.copy()
    spec = w.specs["web"]
    if requests is not None:
        spec = replace(spec, requests=requests)
    w.specs["web"] = spec
    cluster._grow(w, _Builder("t"), "web", 7, spec.request_vector(w.resources), 1)
    problem, cc = cluster._compiled(w)
    assert cc.domain is base.domain  # grown from the committed compile, not rebuilt
    view = w.copy()
    view.state = np.where(w.retired, DOWN, UP).astype(np.int8)
    built = _problem(view, named=False, current=False)
    fresh = compile_constraints(built)
    assert problem.n == len(w.ids)
    for attr, value in vars(built.containers).items():
        if isinstance(value, np.ndarray | tuple):
            np.testing.assert_array_equal(
                np.asarray(getattr(problem.containers, attr), dtype=object),
                np.asarray(value, dtype=object),
                err_msg=attr,
            )
    np.testing.assert_array_equal(problem.requests, w.requests)
    for f in ROW_FIELDS:
        np.testing.assert_array_equal(getattr(cc, f), getattr(fresh, f), err_msg=f)
    assert cc.services == fresh.services
    assert cc.n_counts == fresh.n_counts


def test_rolling_update_and_scale_plans_verify_on_grown_compiles() -> None:
    """Plans made on grown compiles verify and apply; the result is valid."""
    cluster = _fleet(2)
    cluster.debug = True
    for make in (
        lambda: cluster.rolling_update(
            "web", {"cpu": 400, "memory": 512}, max_surge="25%", max_unavailable=2
        ),
        lambda: cluster.scale("batch", 36),
        lambda: cluster.rolling_update("db", None, max_surge=0, max_unavailable=1),
    ):
        plan = make()
        plan.verify(cluster)
        cluster.apply(plan)
        solver.validate(cluster.problem(), cluster.placement())


def test_repeated_operations_give_the_same_plan() -> None:
    """The same operation asked twice (counters carried over the second time) gives
    the same plan as on a fresh copy of the cluster."""
    cluster = _fleet(3)
    first = cluster.fail([0, 5, 9])
    again = cluster.fail([0, 5, 9])
    fresh = Cluster.from_problem(cluster.problem(), candidates=5).fail([0, 5, 9])
    assert first.steps == again.steps
    assert [(a.kind, a.target) for a in first.actions] == [
        (a.kind, a.target) for a in fresh.actions
    ]


def test_settle_past_its_deadline_moves_nothing() -> None:
    """Past ``until`` every mover stays where it is (the rebalance hard stop)."""
    cluster = _fleet(4)
    w = cluster._st.copy()
    problem, cc = cluster._compiled(w)
    movers = np.flatnonzero(w.where >= 0)[:5]
    out = cluster._settle(w, problem, cc, movers, True, until=0.0)
    np.testing.assert_array_equal(out, np.full(5, -1))
    plan = cluster.rebalance(max_moves=50, time_limit=0.0)
    assert plan.moves == 0
    plan.verify(cluster)
