"""Reassignment optimiser on the public ROADEF/EURO 2012 instance a1_1.

a1_1 is proven optimal at 44,306,501 (optima.csv); the optimiser must stay feasible,
beat the initial cost within seconds and reach the optimum within a minute.
"""

from __future__ import annotations

import pytest

from solver.datasets import roadef
from solver.engines import reassign

pytestmark = pytest.mark.needs_shared_data

FOLDER = "roadef2012_machine_reassignment"
A1_1_OPTIMUM = 44_306_501


@pytest.fixture(scope="module")
def a1_1(shared_datasets):
    """The instance a1_1 with its initial assignment."""
    return roadef.read(shared_datasets / FOLDER / "A" / "model_a1_1.txt")


def test_a1_1_improves_quickly(a1_1):
    """A few seconds: feasible, cheaper than the start, not below the optimum."""
    result = reassign.optimise(a1_1, time_limit=3, seed=0)
    assert roadef.check(a1_1, result.assignment) == []
    initial = roadef.cost(a1_1, a1_1.current).total
    assert A1_1_OPTIMUM <= result.cost_after.total < initial
    assert a1_1.best_known == A1_1_OPTIMUM


@pytest.mark.slow
def test_a1_1_reaches_optimum(a1_1):
    """Within 60 s the optimiser finds the proven optimum 44,306,501."""
    result = reassign.optimise(a1_1, time_limit=60, seed=0)
    assert roadef.check(a1_1, result.assignment) == []
    assert result.cost_after.total == A1_1_OPTIMUM
