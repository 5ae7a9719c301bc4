"""Fixtures for the first-fit speed tests: generated and openb-shaped clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from first_fit_table import openb

from solver.datasets.synthetic import cluster_workload
from solver.engines import _tree_kernels as tk

OPENB = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "datasets"
    / "traces"
    / "alibaba_gpu_v2023"
)


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


@pytest.fixture(scope="session")
def ff_openb():
    """Build (requests, capacity) from the openb pod and GPU node lists for n, cached.

    Skips when the public trace is not beside the repository.
    """
    if not OPENB.is_dir():
        pytest.skip("the public openb trace (../shared/datasets) is not present")
    cache: dict[int, tuple] = {}

    def build(n: int):
        if n not in cache:
            cache[n] = openb(OPENB, n)
        return cache[n]

    return build
