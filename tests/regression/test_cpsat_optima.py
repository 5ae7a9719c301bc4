"""Known optima of public instances met by the cpsat engine (and lns at scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import solver
from solver.datasets import read
from solver.engines import arcflow
from solver.model import Containers, Machines, Problem

pytestmark = pytest.mark.needs_shared_data

FAST = [
    ("bpplib/scholl_1/N1C1W1_A.txt", "auto"),
    ("bpplib/scholl_2/N1W1B1R0.txt", "auto"),
    ("bpplib/falkenauer_t/Falkenauer_t60_00.txt", "auto"),
    ("vbp_vectorpack/new/class1/class1_20_3_0.vbp", "auto"),
    ("vbp_vectorpack/new/class4/class4_20_5_0.vbp", "auto"),
    ("vbp_vectorpack/new/class4/class4_40_3_1.vbp", "auto"),
]
SLOW = [
    ("bpplib/falkenauer_u/Falkenauer_u120_00.txt", "auto"),
    ("bpplib/scholl_2/N1W2B1R0.txt", "auto"),
    ("vbp_vectorpack/panigrahy/class1/class1_20_10_0.vbp", "auto"),
]


@pytest.fixture(scope="module", autouse=True)
def compiled_kernels() -> None:
    """Compile the engines' Numba kernels before the timed solves: on a fresh cache
    compilation alone can take most of a time limit, which is not what these tests
    measure."""
    arcflow._warm_kernels()
    rng = np.random.default_rng(0)
    for d in (1, 2):
        problem = Problem(
            Machines(np.full((40, d), 100), tuple(f"r{k}" for k in range(d))),
            Containers(
                rng.integers(10, 60, size=(40, d)), tuple(f"r{k}" for k in range(d))
            ),
        )
        solver.place(problem, engine="cpsat", workers=1)


def solve_and_check(folder: Path, relative: str, formulation: str) -> None:
    """Solve one instance; it must meet its proven optimum and say it is optimal."""
    path = folder / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not in this copy of the public data")
    problem = read(path)
    assert problem.best_known is not None
    pl = solver.place(
        problem, engine="cpsat", time_limit=20, workers=1, formulation=formulation
    )
    assert pl.placed == problem.n
    assert pl.machines_used >= problem.best_known  # nobody beats a proven optimum
    assert pl.machines_used == problem.best_known
    assert pl.status is solver.Status.OPTIMAL


@pytest.mark.parametrize(("relative", "formulation"), FAST, ids=[f[0] for f in FAST])
def test_known_optimum_fast(shared_datasets, relative, formulation):
    """Small BPPLIB and vector packing instances: optimum met and proven."""
    solve_and_check(shared_datasets, relative, formulation)


@pytest.mark.slow
@pytest.mark.parametrize(("relative", "formulation"), SLOW, ids=[f[0] for f in SLOW])
def test_known_optimum_slow(shared_datasets, relative, formulation):
    """Larger instances: optimum met and proven within the time limit."""
    solve_and_check(shared_datasets, relative, formulation)
