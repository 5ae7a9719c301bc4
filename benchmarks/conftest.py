"""Fixtures for the first-fit speed tests: generated clusters, JIT warmed once."""

from __future__ import annotations

import numpy as np
import pytest

from solver.datasets.synthetic import cluster_workload
from solver.engines import _tree_kernels as tk


@pytest.fixture(scope="session")
def ff_warm() -> None:
    """Compile the first-fit kernels before any timed call."""
    requests, capacity = cluster_workload(200, 2)
    tk.first_fit(
        requests,
        tk.ffd_order(requests),
        capacity.copy(),
        np.ones(len(capacity), dtype=np.bool_),
    )


@pytest.fixture(scope="session")
def ff_cluster():
    """Build (requests, capacity, usable) for (n, d, types, down share), cached."""
    cache: dict[tuple, tuple] = {}

    def build(n: int, d: int, machine_types: bool, down: float):
        key = (n, d, machine_types, down)
        if key not in cache:
            requests, capacity = cluster_workload(
                n, d, seed=0, machine_types=machine_types
            )
            usable = np.ones(len(capacity), dtype=np.bool_)
            if down:
                extra = int(len(capacity) * down / (1 - down)) + 1
                capacity = np.concatenate([capacity, capacity[:extra]])
                usable = np.ones(len(capacity), dtype=np.bool_)
                rng = np.random.default_rng(1)
                usable[rng.choice(len(capacity), extra, replace=False)] = False
            cache[key] = (requests, capacity, usable)
        return cache[key]

    return build
