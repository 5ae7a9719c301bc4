"""Speed of the greedy engines: scoring at scale, and a kube-scheduler_perf-shaped case.

Run: ``NUMBA_NUM_THREADS=1 python -m pytest benchmarks/test_greedy_speed.py`` (add
``-m slow`` for the 1e6 sizes). Inputs are built and the JIT warmed in fixtures; each
benchmarked result is checked (everything placed, and valid): a fast wrong answer
fails.
"""

from __future__ import annotations

import numpy as np
import pytest

import solver
from solver import AntiAffinity, Containers, Machines, Problem, Service, Spread
from solver.engines import get
from solver.engines.greedy import PRESETS

SCORING = ["bfd", "dot", "k8s-least", "k8s-most", "k8s-balanced"]


def workload(n: int, d: int, seed: int = 0) -> Problem:
    """Cluster-shaped requests (many small, few large, correlated cpu and memory)."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    base = np.array([150, 700, 2500])[kind] * rng.uniform(0.5, 1.5, n)
    req = np.empty((n, d), np.int64)
    req[:, 0] = base
    for k in range(1, d):
        req[:, k] = base * rng.uniform(0.6, 1.4, n)
    if d >= 4:
        req[:, 3] = np.where(rng.random(n) < 0.05, 2500, 0)
    m = int(req.sum(axis=0).max() / 10_000 * 1.25) + 1
    return Problem.from_arrays(np.full((m, d), 10_000), req)


def _warm(problem: Problem, name: str, **options: object) -> None:
    small = Problem.from_arrays(problem.capacity[:4], problem.requests[:16])
    get(name, **options).solve(small)


@pytest.fixture(scope="module", params=[10_000, 100_000], ids=lambda n: f"n={n}")
def scoring_problem(request: pytest.FixtureRequest) -> Problem:
    """d = 4 workload of n containers."""
    return workload(request.param, 4)


@pytest.mark.parametrize("name", SCORING)
def test_scoring_candidates_64(benchmark, scoring_problem: Problem, name: str) -> None:
    """Scoring engines scoring 64 feasible machines per container."""
    _warm(scoring_problem, name, candidates=64)
    pl = benchmark(get(name, candidates=64).solve, scoring_problem)
    assert pl.placed == scoring_problem.n
    solver.validate(scoring_problem, pl)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCORING)
def test_scoring_candidates_64_1e6(benchmark, name: str) -> None:
    """The 1e6 x 4 target size (target under 2 s single thread)."""
    problem = workload(1_000_000, 4)
    _warm(problem, name, candidates=64)
    pl = benchmark.pedantic(
        get(name, candidates=64).solve, args=(problem,), rounds=3, iterations=1
    )
    assert pl.placed == problem.n


def scheduler_perf(machines: int = 5000, containers: int = 10_000, seed: int = 0):
    """Services of 10-50 replicas, one per machine, spread over 5 zones (max skew 1)."""
    rng = np.random.default_rng(seed)
    services = []
    total = 0
    while total < containers:
        r = min(int(rng.integers(10, 51)), containers - total)
        services.append(
            Service(
                f"svc-{len(services)}", r,
                {"cpu": int(rng.integers(100, 1000)),
                 "memory": int(rng.integers(128, 2048))},
                anti_affinity=AntiAffinity("machine", 1),
                spread=Spread("zone", 1),
            )
        )
        total += r
    mach = Machines(
        np.tile([[16_000, 65_536]], (machines, 1)),
        ("cpu", "memory"),
        labels={"zone": [f"z{j % 5}" for j in range(machines)]},
    )
    return Problem(mach, Containers.from_services(services, ("cpu", "memory")))


@pytest.fixture(scope="module")
def perf_problem() -> Problem:
    """5,000 machines, 10,000 constrained containers."""
    return scheduler_perf()


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("candidates", [None, 64], ids=["all", "k64"])
def test_scheduler_perf_shape(
    benchmark, perf_problem: Problem, name: str, candidates: int | None
) -> None:
    """Anti-affinity per machine and zone spread on every container."""
    first = PRESETS[name][1] == "first"
    options = {} if candidates is None or first else {"candidates": candidates}
    get(name, **options).solve(scheduler_perf(50, 100))
    pl = benchmark.pedantic(
        get(name, **options).solve, args=(perf_problem,), rounds=3, iterations=1
    )
    assert pl.placed == perf_problem.n
    solver.validate(perf_problem, pl)
    benchmark.extra_info["containers_per_s"] = perf_problem.n / pl.seconds
