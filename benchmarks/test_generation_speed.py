"""Generation speed of the model generators: scale-1m (1,000,000 containers, 4 dims)."""

from __future__ import annotations

from pathlib import Path

import pytest

from solver.datasets.generators import generate_problem, generate_trace, load_model

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def scale_1m():
    """The scale-1m model, parsed and checked once."""
    return load_model(MODELS / "scale-1m.toml")


def test_generate_scale_1m(benchmark, scale_1m):
    """Seconds to turn the checked scale-1m model into a Problem."""
    problem = benchmark.pedantic(
        generate_problem, args=(scale_1m,), kwargs={"seed": 0}, rounds=3, iterations=1
    )
    assert problem.n == 1_000_000
    assert problem.d == 4


def test_load_and_generate_scale_1m_file(benchmark):
    """Seconds from the TOML file to the Problem (parsing and checks included)."""
    problem = benchmark.pedantic(
        generate_problem,
        args=(MODELS / "scale-1m.toml",),
        kwargs={"seed": 1},
        rounds=3,
        iterations=1,
    )
    assert problem.n == 1_000_000


def test_generate_batch_mix_trace(benchmark):
    """Seconds to generate the batch-mix churn trace (Poisson arrivals, lifetimes)."""
    trace = benchmark.pedantic(
        generate_trace, args=(MODELS / "batch-mix.toml",), rounds=5, iterations=1
    )
    assert len(trace.events) > 1000
