"""ffd against the PyPI `binpacking` package: never more bins, timed side by side."""

from __future__ import annotations

import binpacking
import numpy as np
import pytest

import solver
from solver.datasets.synthetic import cluster_workload


@pytest.fixture(scope="module")
def one_dimension():
    """A generated 1-D cluster workload and its problem on identical machines."""
    requests, capacity = cluster_workload(10_000, 1, seed=0)
    volume = int(capacity[0, 0])
    problem = solver.Problem.from_arrays(np.full((len(requests), 1), volume), requests)
    solver.place(problem, "ffd")  # warm the kernels
    return problem, requests[:, 0].tolist(), volume


def test_ffd(benchmark, one_dimension):
    """tetrimino ffd on 10,000 containers (1-D)."""
    problem, weights, volume = one_dimension
    placement = benchmark(solver.place, problem, "ffd", check=False)
    solver.validate(problem, placement)
    theirs = binpacking.to_constant_volume(weights, volume)
    assert placement.machines_used <= len(theirs)


def test_binpacking_package(benchmark, one_dimension):
    """The PyPI binpacking package on the same 10,000 containers."""
    _, weights, volume = one_dimension
    bins = benchmark.pedantic(
        binpacking.to_constant_volume, args=(weights, volume), rounds=1
    )
    assert sum(len(b) for b in bins) == len(weights)
