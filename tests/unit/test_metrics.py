"""Placement metrics against values worked out by hand on tiny examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solver import Placement, Problem
from solver.metrics import (
    imbalance,
    machines_used,
    stranded,
    summary,
    utilization,
)


@pytest.fixture
def example() -> tuple[Problem, Placement]:
    """Three machines of (cpu 10, memory 20); two used, one idle.

    machine 0: containers (8, 4) + (2, 2) -> load (10, 6): cpu full, 14 memory free
    machine 1: container (4, 16)           -> load (4, 16): 6 cpu free, 4 memory free
    container 3 (5, 5) is unplaced.
    """
    problem = Problem.from_arrays(
        [[10, 20]] * 3, [[8, 4], [2, 2], [4, 16], [5, 5]], ("cpu", "memory")
    )
    result = Placement(
        np.array([0, 0, 1, -1]), "test", "partial", reasons={3: {"cpu": 3}}
    )
    return problem, result


def test_machines_used(example):
    """Machines running at least one container, idle ones excluded."""
    assert machines_used(*example) == 2


def test_utilization_over_used_machines(example):
    """cpu: 14 of 20; memory: 22 of 40 (the idle machine does not count)."""
    assert utilization(*example) == pytest.approx({"cpu": 0.7, "memory": 0.55})


def test_stranded_with_smallest_request_reference(example):
    """Reference (2, 2): machine 0 is out of cpu, so its 14 free memory is stranded."""
    assert stranded(*example) == {"cpu": 0, "memory": 14}


def test_stranded_with_explicit_reference(example):
    """Reference (5, 5): machine 1 is also memory-exhausted, stranding its 6 cpu."""
    assert stranded(*example, reference=np.array([5, 5])) == {"cpu": 6, "memory": 14}


def test_imbalance_is_coefficient_of_variation(example):
    """cpu fractions 1.0 and 0.4; memory fractions 0.3 and 0.8."""
    cpu = np.std([1.0, 0.4]) / 0.7
    memory = np.std([0.3, 0.8]) / 0.55
    assert imbalance(*example) == pytest.approx({"cpu": cpu, "memory": memory})


def test_balanced_placement_has_zero_imbalance():
    """Equally full machines give 0 in every dimension."""
    problem = Problem.from_arrays([[10, 10]] * 2, [[5, 3]] * 2)
    result = Placement(np.array([0, 1]), "test", "feasible")
    assert imbalance(problem, result) == {"r0": 0.0, "r1": 0.0}


def test_summary(example):
    """The summary gathers counts and every per-dimension metric."""
    s = summary(*example)
    assert s["containers"] == 4
    assert s["placed"] == 3
    assert s["unplaced"] == 1
    assert s["machines"] == 3
    assert s["machines_used"] == 2
    assert s["stranded"] == {"cpu": 0, "memory": 14}
    # free on used machines: cpu 6, memory 18
    assert s["stranded_fraction"] == pytest.approx({"cpu": 0.0, "memory": 14 / 18})
    assert math.isclose(s["utilization"]["cpu"], 0.7)


def test_empty_placement():
    """Nothing placed: zeros everywhere, no division by zero."""
    problem = Problem.from_arrays([[10]], [[20]])
    result = Placement(np.array([-1]), "test", "partial", reasons={0: {"size": 1}})
    assert machines_used(problem, result) == 0
    assert utilization(problem, result) == {"size": 0.0}
    assert imbalance(problem, result) == {"size": 0.0}
    assert stranded(problem, result) == {"size": 0}
    assert summary(problem, result)["stranded_fraction"] == {"size": 0.0}
