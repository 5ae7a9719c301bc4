"""Generators on random models: deterministic for a seed and within declared ranges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from solver.datasets.generators import generate_problem, generate_trace

RESOURCES = ("cpu", "memory")
ZONES = ["a", "b", "c", "d"]


@st.composite
def dists(draw: st.DrawFn, low: int = 0) -> int | dict:
    """A fixed amount or a distribution table with a valid range."""
    lo = draw(st.integers(low, 500))
    hi = draw(st.integers(lo, lo + 2000))
    kind = draw(
        st.sampled_from(
            ["fixed", "plain", "uniform", "lognormal", "exponential", "choice"]
        )
    )
    if kind == "plain":
        return lo
    if kind == "fixed":
        return {"dist": "fixed", "value": lo}
    if kind == "uniform":
        return {"dist": "uniform", "min": lo, "max": hi}
    if kind == "lognormal":
        out = {
            "dist": "lognormal",
            "median": draw(st.floats(1, 3000)),
            "sigma": draw(st.floats(0, 2)),
            "min": lo,
        }
        return out | ({"max": hi} if draw(st.booleans()) else {})
    if kind == "exponential":
        return {"dist": "exponential", "mean": draw(st.floats(1, 3000)), "max": hi}
    values = draw(st.lists(st.integers(low, 5000), min_size=1, max_size=4))
    return {"dist": "choice", "values": values}


def bounds(spec: int | dict, low: int = 0) -> tuple[float, float, set | None]:
    """The declared range of a distribution spec, and its value set for a choice."""
    if isinstance(spec, int):
        return spec, spec, None
    kind = spec["dist"]
    if kind == "fixed":
        return spec["value"], spec["value"], None
    if kind == "choice":
        return min(spec["values"]), max(spec["values"]), set(spec["values"])
    return spec.get("min", low), spec.get("max", math.inf), None


@st.composite
def models(draw: st.DrawFn) -> dict:
    """A random model dict: 1-3 machine types with patterns, 1-3 services, churn."""
    machines = []
    for k in range(draw(st.integers(1, 3))):
        patterns = {}
        if draw(st.booleans()):
            patterns["zone"] = {
                "cycle": draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=4))
            }
        if draw(st.booleans()):
            patterns["rack"] = {"every": draw(st.integers(1, 5)), "prefix": "r"}
        if draw(st.booleans()):
            patterns["tier"] = {"choice": ["gold", "silver"], "over": "type"}
        machines.append(
            {
                "name": f"t{k}",
                "count": draw(st.integers(1, 6)),
                "capacity": {"cpu": 8000, "memory": 16384},
                "patterns": patterns,
            }
        )
    services = []
    for k in range(draw(st.integers(1, 3))):
        svc = {
            "name": f"s{k}",
            "replicas": draw(
                st.one_of(
                    st.integers(0, 15),
                    st.builds(
                        lambda a, b: {"dist": "uniform", "min": a, "max": a + b},
                        st.integers(0, 10),
                        st.integers(0, 10),
                    ),
                )
            ),
            "requests": {r: draw(dists()) for r in RESOURCES},
            "priority": draw(
                st.one_of(
                    st.integers(-5, 5),
                    st.builds(
                        lambda v: {"dist": "choice", "values": v},
                        st.lists(st.integers(0, 100), min_size=1, max_size=3),
                    ),
                )
            ),
        }
        if draw(st.booleans()):
            start = draw(st.integers(0, 100))
            svc["churn"] = {
                "rate": draw(st.floats(0.01, 0.3)),
                "start": start,
                "stop": start + draw(st.integers(0, 200)),
                "lifetime": draw(dists(low=1)),
            }
        services.append(svc)
    return {
        "kind": "model",
        "name": draw(st.sampled_from(["m", "other"])),
        "resources": list(RESOURCES),
        "machines": machines,
        "services": services,
    }


@given(models(), st.integers(0, 2**32))
def test_same_seed_same_arrays(model, seed):
    """Two runs with one seed give identical problems and identical event tables."""
    a, b = generate_problem(model, seed), generate_problem(model, seed)
    np.testing.assert_array_equal(a.requests, b.requests)
    np.testing.assert_array_equal(a.containers.priority, b.containers.priority)
    np.testing.assert_array_equal(a.capacity, b.capacity)
    assert a.machines.labels.keys() == b.machines.labels.keys()
    for key, col in a.machines.labels.items():
        assert list(col) == list(b.machines.labels[key])
    pd.testing.assert_frame_equal(
        generate_trace(model, seed).events, generate_trace(model, seed).events
    )


@given(models(), st.integers(0, 2**32))
def test_output_within_declared_ranges(model, seed):
    """Amounts, replicas, priorities, labels, arrivals and lifetimes obey the model."""
    problem = generate_problem(model, seed)
    service = problem.containers.service
    for svc in model["services"]:
        rows = np.flatnonzero(service == svc["name"])
        lo, hi, _ = bounds(svc["replicas"])
        assert lo <= len(rows) <= hi
        for k, r in enumerate(RESOURCES):
            lo, hi, values = bounds(svc["requests"][r])
            got = problem.requests[rows, k]
            assert ((got >= lo) & (got <= hi)).all()
            if values is not None:
                assert set(got.tolist()) <= values
        lo, hi, values = bounds(svc["priority"], low=-5)
        prio = problem.containers.priority[rows]
        assert ((prio >= lo) & (prio <= hi)).all()
    start = 0
    for t in model["machines"]:
        labels = {
            k: list(v[start : start + t["count"]])
            for k, v in problem.machines.labels.items()
        }
        for key, pattern in t["patterns"].items():
            allowed = pattern.get("cycle") or pattern.get("choice")
            if allowed:
                assert set(labels[key]) <= set(allowed)
            else:
                rows = range(start, start + t["count"])
                assert labels[key] == [f"r{i // pattern['every']}" for i in rows]
        start += t["count"]

    ev = generate_trace(model, seed).events
    assert (np.diff(ev["time"].to_numpy()) >= 0).all()
    arrive = ev[ev["kind"] == "arrive"].set_index("container")
    depart = ev[ev["kind"] == "depart"].set_index("container")["time"]
    for svc in model["services"]:
        mine = arrive[arrive["service"] == svc["name"]]
        churn = svc.get("churn")
        if churn is None:
            assert (mine["time"] == 0).all()
            assert not set(mine.index) & set(depart.index)
            continue
        late = mine[mine.index >= problem.n]["time"]
        assert late.between(
            churn["start"], max(churn["stop"], churn["start"] + 1) - 1
        ).all()
        assert set(mine.index) == set(depart.index) & set(mine.index)
        life = depart.loc[mine.index] - mine["time"]
        lo, hi, values = bounds(churn["lifetime"], low=1)
        assert (life >= max(lo, 1)).all()
        assert (life <= hi).all()
        if values is not None:
            assert set(life.tolist()) <= values


@given(st.integers(0, 2**32), st.integers(0, 2**32), st.sampled_from(["m", "other"]))
def test_different_seeds_different_workloads(a, b, name):
    """Two seeds give different requests for a model with a wide random range."""
    if a == b:
        b = a + 1
    model = {
        "kind": "model",
        "name": name,
        "resources": ["cpu"],
        "machines": [{"capacity": {"cpu": 10**6}}],
        "services": [
            {
                "name": "s",
                "replicas": 40,
                "requests": {"cpu": {"dist": "uniform", "min": 0, "max": 10**5}},
            }
        ],
    }
    first, second = generate_problem(model, a), generate_problem(model, b)
    assert (first.requests != second.requests).any()
