"""Greedy engines on every public BPPLIB and VBP instance, against known optima.

Each family is read once per session. Every file must read (or, for the upstream
Caprara files with negative sizes, be refused naming the line); every greedy engine's
placement must validate, place everything and use at least the proven optimum (or the
lower bound where no optimum is proven); ``ffd`` in one dimension must use exactly the
bins of a plain Python first-fit decreasing. The default run checks every 20th instance
of each family; ``-m slow`` checks them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from naive import ffd_1d

import solver.datasets as ds
from solver import engines
from solver.bounds import lower_bound
from solver.datasets.catalog import BENCHMARK_FAMILIES as FAMILIES
from solver.errors import InvalidProblem
from solver.model import Problem
from solver.placement import validate

pytestmark = pytest.mark.needs_shared_data

GREEDY = (
    "ff",
    "ffd",
    "bfd",
    "wfd",
    "dot",
    "l2",
    "k8s-least",
    "k8s-most",
    "k8s-balanced",
)
SAMPLE = 20  # the default run takes every SAMPLE-th instance of a family


@dataclass(frozen=True)
class Instance:
    """One file of a family: its Problem, or the reader's error message."""

    path: Path
    problem: Problem | None
    error: str | None


def _has_negative(path: Path) -> bool:
    """Plain check, independent of the reader: does any token start with a minus?"""
    return any(tok.startswith("-") for tok in path.read_text().split())


@pytest.fixture(scope="session")
def family(shared_datasets) -> Callable[[str], list[Instance]]:
    """Loader reading each family's files once per session, in name order."""
    cache: dict[str, list[Instance]] = {}

    def load(name: str) -> list[Instance]:
        if name not in cache:
            folder = shared_datasets / name
            if not folder.is_dir():
                pytest.skip(f"{name} is not in the shared datasets")
            suffix = "*.txt" if name.startswith("bpplib") else "*.vbp"
            out = []
            for path in sorted(folder.rglob(suffix)):
                try:
                    out.append(Instance(path, ds.read(path), None))
                except InvalidProblem as exc:
                    out.append(Instance(path, None, str(exc)))
            cache[name] = out
        return cache[name]

    return load


@pytest.mark.parametrize("name", FAMILIES)
def test_every_file_reads(family, name):
    """Each file reads with its optimum; only files with negative sizes are refused."""
    instances = family(name)
    assert instances
    for inst in instances:
        if _has_negative(inst.path):
            assert inst.error is not None, inst.path
            assert inst.error.startswith(f"{inst.path}: line ")
            assert "negative size" in inst.error
            continue
        assert inst.error is None, inst.error
        p = inst.problem
        assert p.best_known is not None, inst.path
        assert p.n == p.m
        assert (p.capacity == p.capacity[0]).all()


def _check(inst: Instance) -> list[str]:
    """Every greedy engine on one instance; returns what went wrong (empty = fine)."""
    p = inst.problem
    bound = lower_bound(p)
    optimal = p.metadata.get("is_optimal", False)
    floor = p.best_known if optimal else bound
    errors = []
    if optimal and bound > p.best_known:
        errors.append(f"{inst.path}: lower bound {bound} > optimum {p.best_known}")
    for name in GREEDY:
        placement = engines.get(name).solve(p)
        validate(p, placement)
        if placement.placed != p.n:
            errors.append(f"{inst.path}: {name} left {p.n - placement.placed} unplaced")
        if placement.machines_used < floor:
            errors.append(
                f"{inst.path}: {name} used {placement.machines_used} < {floor} machines"
            )
        if name == "ffd" and p.d == 1:
            ref = ffd_1d(p.requests[:, 0].tolist(), p.capacity[:, 0].tolist())
            if placement.machines_used != len(set(ref)):
                errors.append(
                    f"{inst.path}: ffd used {placement.machines_used} machines, "
                    f"plain FFD {len(set(ref))}"
                )
    return errors


def _run_family(family, name: str, every: int) -> None:
    instances = [i for i in family(name) if i.problem is not None][::every]
    errors = [e for inst in instances for e in _check(inst)]
    assert not errors, f"{len(errors)} problems, first: " + "; ".join(errors[:5])


@pytest.mark.parametrize("name", FAMILIES)
def test_greedy_sample(family, name):
    """Every SAMPLE-th instance: valid, complete, never better than the optimum."""
    _run_family(family, name, SAMPLE)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_greedy_all(family, name):
    """Every instance of the family (slow)."""
    _run_family(family, name, 1)
