"""Lower bounds: textbook values, and never above a brute-force optimum."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import vector_instances
from hypothesis import given
from hypothesis import strategies as st
from naive import fewest_bins

from solver import Machines, Problem
from solver.bounds import (
    cardinality_bound,
    conflict_bound,
    continuous_bound,
    fekete_schepers,
    heterogeneous_bound,
    lower_bound,
    martello_toth_l2,
    vector_bound,
)
from solver.model import Containers


def fewest_machines(requests: np.ndarray, capacity: np.ndarray) -> int | None:
    """Exhaustive optimum over all assignments to machines; None if none places all."""
    n, m = len(requests), len(capacity)
    best = None
    for assignment in itertools.product(range(m), repeat=n):
        load = np.zeros_like(capacity)
        for i, j in enumerate(assignment):
            load[j] += requests[i]
        if (load <= capacity).all():
            used = len(set(assignment))
            best = used if best is None else min(best, used)
    return best


def l2_by_definition(sizes: list[int], c: int) -> int:
    """Martello-Toth L2 straight from its definition, every integer alpha."""
    sizes = [s for s in sizes if s <= c]
    best = 0
    for alpha in range(c // 2 + 1):
        j1 = [s for s in sizes if s > c - alpha]
        j2 = [s for s in sizes if c - alpha >= s > c / 2]
        j3 = [s for s in sizes if c / 2 >= s >= alpha]
        spill = sum(j3) - (len(j2) * c - sum(j2))
        best = max(best, len(j1) + len(j2) + max(0, math.ceil(spill / c)))
    return best


@pytest.mark.parametrize(
    ("sizes", "capacity", "expected"),
    [
        ([70, 70, 70, 40, 40], 100, 4),  # L1 = 3; alpha = 40 shows the fourth bin
        ([51, 51, 51, 51, 10, 10], 100, 4),  # four items above C/2
        ([60, 60, 60, 40, 40, 40], 100, 3),  # perfectly paired
        ([99, 99, 99, 2, 2, 2], 100, 4),  # the small items spill
        ([50, 50, 50], 100, 2),  # C/2 itself is small
        ([], 10, 0),
        ([11, 3], 10, 1),  # too large for any bin: ignored
    ],
)
def test_l2_textbook_values(sizes, capacity, expected):
    """L2 on small instances worked out by hand."""
    assert martello_toth_l2(np.array(sizes, dtype=np.int64), capacity) == expected


@given(st.lists(st.integers(0, 30), max_size=12), st.integers(1, 30))
def test_l2_matches_its_definition(sizes, capacity):
    """The sorted O(n log n) L2 equals a loop over every integer alpha."""
    assert martello_toth_l2(np.array(sizes, dtype=np.int64), capacity) == (
        l2_by_definition(sizes, capacity)
    )


def test_l2_without_int64_overflow():
    """Huge sizes and capacities give the same bound as the instance scaled down."""
    small = [10, 10, 10, 4, 4, 4, 4, 9, 7]
    scale = 2**57
    sizes = np.array(small, dtype=np.int64) * scale
    assert martello_toth_l2(sizes, 16 * scale) == l2_by_definition(small, 16)


@given(
    st.integers(1, 2).flatmap(
        lambda d: st.tuples(
            st.lists(st.integers(1, 12), min_size=d, max_size=d),
            st.lists(st.lists(st.integers(0, 12), min_size=d, max_size=d),
                     min_size=1, max_size=8),
        )
    )
)
def test_identical_machine_bounds_never_exceed_the_optimum(data):
    """Every bound <= brute-force optimum; L2 >= continuous in one dimension."""
    capacity, requests = data
    fitting = [r for r in requests if all(np.less_equal(r, capacity))]
    problem = Problem.from_arrays([capacity] * len(requests), requests)
    optimum = fewest_bins([tuple(r) for r in fitting], tuple(capacity))
    for bound in (continuous_bound, heterogeneous_bound, lower_bound):
        assert bound(problem) <= optimum
    assert lower_bound(problem) >= continuous_bound(problem)
    assert heterogeneous_bound(problem) == continuous_bound(problem)
    if len(capacity) == 1:
        sizes = np.array(fitting, dtype=np.int64).reshape(-1)
        l2 = martello_toth_l2(sizes, capacity[0])
        assert continuous_bound(problem) <= l2 <= optimum


@given(
    st.integers(1, 2).flatmap(
        lambda d: st.tuples(
            st.lists(st.lists(st.integers(1, 12), min_size=d, max_size=d),
                     min_size=1, max_size=4),
            st.lists(st.lists(st.integers(0, 8), min_size=d, max_size=d),
                     min_size=1, max_size=6),
        )
    )
)
def test_mixed_fleet_bounds_never_exceed_the_optimum(data):
    """On machines of different sizes every bound <= the brute-force optimum."""
    capacity, requests = (np.array(x, dtype=np.int64) for x in data)
    fits = np.array([(capacity >= r).all(axis=1).any() for r in requests])
    problem = Problem.from_arrays(capacity, requests)
    optimum = fewest_machines(requests[fits], capacity)
    for bound in (continuous_bound, heterogeneous_bound, lower_bound):
        assert bound(problem) <= (len(capacity) if optimum is None else optimum)


def test_cover_bound_on_a_mixed_fleet():
    """Demand 25 against capacities 16, 8, 4, 4 needs the 16 and the 8 and one more."""
    problem = Problem.from_arrays([[4], [16], [4], [8]], [[5]] * 5)
    assert heterogeneous_bound(problem) == 3
    assert continuous_bound(problem) == 2  # ceil(25 / 16): weaker
    assert lower_bound(problem) == 3


def test_down_machines_and_oversized_containers_are_left_out():
    """Down machines add no capacity; containers that fit nowhere are not counted."""
    machines = Machines([[10], [10], [100]], state=["up", "up", "down"])
    containers = Containers([[6], [6], [6], [50]])
    problem = Problem(machines, containers)
    assert lower_bound(problem) == 2  # the 50 fits only the down machine
    assert continuous_bound(problem) == 2  # ceil(18 / 10)


def test_bound_capped_at_usable_machines():
    """A fleet too small for its demand yields every usable machine, no more."""
    problem = Problem.from_arrays([[10]] * 2, [[9]] * 5)
    assert lower_bound(problem) == 2


def test_zero_requests_still_need_one_machine():
    """Containers asking for nothing still occupy a machine."""
    assert lower_bound(Problem.from_arrays([[10]] * 3, [[0]] * 4)) == 1
    assert lower_bound(Problem.from_arrays([[10]] * 3, np.zeros((0, 1)))) == 0


def test_cordoned_current_machine_counts_as_a_fit():
    """A container that fits only its cordoned current machine still counts."""
    machines = Machines([[10], [100]], state=["up", "cordoned"])
    problem = Problem(machines, Containers([[50], [5]]), current=[1, -1])
    assert lower_bound(problem) == 1
    assert heterogeneous_bound(problem) == 1


def fekete_schepers_by_definition(sizes: list[int], c: int, kmax: int = 20) -> int:
    """The Fekete-Schepers bound with exact fractions, straight from u_k."""
    from fractions import Fraction

    best = 0
    for k in range(1, kmax + 1):
        total = Fraction(0)
        for s in sizes:
            if 0 < s <= c:
                x = Fraction(s, c)
                y = (k + 1) * x
                total += x if y.denominator == 1 else Fraction(math.floor(y), k)
        best = max(best, math.ceil(total))
    return best


def test_fekete_schepers_beats_l2_on_a_textbook_case():
    """{10,7,5,4,2,2} in bins of 10: volume 3, L2 3, optimum 4; u_4 proves 4."""
    sizes = [2, 2, 4, 5, 7, 10]
    assert martello_toth_l2(np.array(sizes), 10) == 3
    assert fekete_schepers(np.array(sizes), 10) == 4
    assert fewest_bins([(s,) for s in sizes], (10,)) == 4
    problem = Problem.from_arrays([[10, 10]] * 6, [[s, 1] for s in sizes])
    assert lower_bound(problem) == 3
    assert vector_bound(problem) == 4


@given(st.lists(st.integers(0, 30), max_size=12), st.integers(1, 30))
def test_fekete_schepers_matches_its_definition(sizes, capacity):
    """The integer computation equals the exact-fraction definition."""
    assert fekete_schepers(np.array(sizes, dtype=np.int64), capacity) == (
        fekete_schepers_by_definition(sizes, capacity)
    )


@given(vector_instances())
def test_vector_bound_never_exceeds_the_optimum(data):
    """lower, conflict and cardinality bound (cut or not) <= vector_bound <=
    brute-force optimum."""
    capacity, requests = data
    fitting = [r for r in requests if all(np.less_equal(r, capacity))]
    problem = Problem.from_arrays([capacity] * len(requests), requests)
    optimum = fewest_bins([tuple(r) for r in fitting], tuple(capacity))
    assert lower_bound(problem) <= vector_bound(problem) <= optimum
    assert conflict_bound(problem) <= vector_bound(problem)
    assert cardinality_bound(problem) <= vector_bound(problem)
    assert cardinality_bound(problem, work=2) <= optimum


@given(
    st.lists(st.lists(st.integers(1, 12), min_size=2, max_size=2),
             min_size=1, max_size=3),
    st.lists(st.lists(st.integers(0, 8), min_size=2, max_size=2),
             min_size=1, max_size=5),
)
def test_vector_bound_on_mixed_fleets(capacity, requests):
    """On machines of different sizes it stays below the brute-force optimum."""
    capacity, requests = np.array(capacity), np.array(requests)
    fits = np.array([(capacity >= r).all(axis=1).any() for r in requests])
    problem = Problem.from_arrays(capacity, requests)
    optimum = fewest_machines(requests[fits], capacity)
    assert vector_bound(problem) <= (len(capacity) if optimum is None else optimum)
