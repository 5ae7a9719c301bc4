"""Vector packing bounds: the cardinality bound and its search, below the optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import vector_instances
from hypothesis import assume, given
from hypothesis import strategies as st
from naive import fewest_bins

from solver import Problem
from solver.bounds import (
    cardinality_bound,
    conflict_bound,
    fekete_schepers,
    vector_bound,
)
from solver.datasets import read
from solver.engines._vbp_bound import _Sparse
from solver.engines._vbp_bound_kernels import most_items
from solver.engines._vbp_kernels import greedy_columns, knapsack, swap_columns


def most_together(req: list[list[int]], cap: list[int]) -> int:
    """Largest number of rows of ``req`` whose sum stays within ``cap``, by trying
    every subset."""
    for size in range(len(req), 0, -1):
        for rows in itertools.combinations(req, size):
            load = np.sum(rows, axis=0)
            if (load <= np.asarray(cap)).all():
                return size
    return 0


instances = vector_instances()


@given(instances)
def test_most_items_matches_every_subset(data):
    """A complete search finds the largest fitting subset; a cut one never more."""
    cap, req = data
    fitting = [r for r in req if all(np.less_equal(r, cap))]
    want = most_together(fitting, cap)
    rows = np.array(fitting, np.int64).reshape(-1, len(cap))
    got, complete = most_items(rows, np.array(cap, np.int64), len(fitting), 10**6)
    assert complete
    assert got == want
    cut, _ = most_items(rows, np.array(cap, np.int64), len(fitting), 3)
    assert cut <= want


def test_cardinality_bound_settles_pairs_only_instances():
    """Sizes (x, 70 - x): any two fit together, no three (their total is 210), so
    n / 2 machines, which the per-dimension and conflict bounds do not see."""
    n = 12
    x = np.random.default_rng(0).integers(20, 51, n)
    req = np.stack([x, 70 - x], axis=1)
    problem = Problem.from_arrays([[100, 100]] * n, req)
    assert most_together(req.tolist(), [100, 100]) == 2
    assert conflict_bound(problem) < n // 2
    assert max(fekete_schepers(req[:, k], 100) for k in range(2)) < n // 2
    assert cardinality_bound(problem) == n // 2 == vector_bound(problem)
    assert fewest_bins(req.tolist(), [100, 100]) == n // 2


def test_cardinality_bound_ignores_mixed_fleets():
    """Machines of different sizes: no count bound (0)."""
    problem = Problem.from_arrays([[10, 10], [20, 20]], [[6, 6]] * 3)
    assert cardinality_bound(problem) == 0


@pytest.mark.needs_shared_data
def test_cardinality_bound_on_known_optima(shared_datasets):
    """Panigrahy class 8 (no three items share a bin): the proven optimum, n / 2."""
    for name, opt in (("panigrahy/class8/class8_250_10_0", 125),):
        path = shared_datasets / f"vbp_vectorpack/{name}.vbp"
        if not path.is_file():
            pytest.skip("instance not in this copy of the public data")
        problem = read(path)
        assert problem.best_known == opt
        assert vector_bound(problem) == opt


@given(
    st.lists(st.floats(-0.5, 1.0), min_size=1, max_size=6),
    st.lists(st.integers(0, 6), min_size=6, max_size=6),
    st.floats(0.0, 2.0),
)
def test_knapsack_collects_feasible_sets_above_the_threshold(value, sizes, collect):
    """Every set handed back in ``more`` fits and is worth more than ``collect``."""
    t = len(value)
    value = np.array(value)
    w = np.array(sizes[:t], np.int64).reshape(t, 1).repeat(2, axis=1)
    w[:, 1] = w[::-1, 0]
    ub = np.full(t, 2, np.int64)
    cap = np.array([7, 7], np.int64)
    out = np.zeros(t, np.int64)
    more = np.zeros((4, t), np.int64)
    best, upper, found, _ = knapsack(value, w, ub, cap, 10**5, 10.0, out, more, collect)
    assert best <= upper
    for row in more[:found]:
        assert (row <= ub).all()
        assert (row @ w <= cap).all()
        assert row @ value > collect - 1e-9  # running sums carry rounding


@given(
    st.integers(1, 3),
    st.lists(
        st.tuples(
            st.floats(0.0, 1.0), st.lists(st.integers(0, 8), min_size=3, max_size=3)
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([1, 3, 20, 10**5]),
    st.sampled_from([0.0, 0.5, 1.0]),
)
def test_knapsack_bound_holds_when_the_budget_cuts_the_search(d, items, budget, floor):
    """Whatever the node budget and floor: the set handed back fits and is worth
    ``best``, and ``best`` <= the maximum (every multiset tried) <= ``upper``, which
    also covers the surrogate row that tightens the bound of a cut search; a
    finished search finds the maximum whenever it is above the floor."""
    value = np.array([v for v, _ in items])
    w = np.array([s[:d] for _, s in items], np.int64)
    ub = np.full(len(items), 2, np.int64)
    cap = np.full(d, 9, np.int64)
    out = np.zeros(len(items), np.int64)
    more = np.zeros((2, len(items)), np.int64)
    best, upper, _, nodes = knapsack(
        value, w, ub, cap, budget, 10.0, out, more, -1.0, floor
    )
    assert 0 <= nodes <= budget
    most = max(
        float(np.array(x) @ value)
        for x in itertools.product(range(3), repeat=len(items))
        if (np.array(x) @ w <= cap).all()
    )
    assert (out <= ub).all()
    assert (out @ w <= cap).all()
    assert abs(float(out @ value) - best) < 1e-9
    assert best <= most + 1e-9 <= upper + 2e-9
    if budget == 10**5:
        assert upper - max(most, floor) < 1e-6  # a finished search proves its bound
        if most > floor + 1e-9:
            assert best == pytest.approx(most, abs=1e-9)


def priced_items(most: int) -> st.SearchStrategy:
    """Up to ``most`` item types as (value, copies, 2-d size) in machines of 9 x 9."""
    return st.lists(
        st.tuples(
            st.floats(-0.5, 1.0),
            st.integers(0, 3),
            st.lists(st.integers(0, 9), min_size=2, max_size=2),
        ),
        min_size=1,
        max_size=most,
    )


def item_arrays(items: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, copies and sizes of ``priced_items`` as arrays."""
    value = np.array([v for v, _, _ in items])
    ub = np.array([c for _, c, _ in items], np.int64)
    w = np.array([s for _, _, s in items], np.int64)
    return value, ub, w


def most_by_capacities(value: np.ndarray, w: np.ndarray, cap: np.ndarray) -> float:
    """Most value of a set of items (one copy each) within ``cap`` (two
    dimensions), by dynamic programming over the capacities left."""
    best = np.zeros((cap[0] + 1, cap[1] + 1))
    for v, (a, b) in zip(value, w, strict=True):
        if v > 0.0 and a <= cap[0] and b <= cap[1]:
            taken = best[: cap[0] + 1 - a, : cap[1] + 1 - b] + v
            best[a:, b:] = np.maximum(best[a:, b:], taken)
    return float(best[-1, -1])


@given(
    st.lists(
        st.tuples(st.floats(-0.2, 1.0), st.integers(0, 9), st.integers(0, 9)),
        min_size=64,
        max_size=150,
    )
)
def test_knapsack_finds_the_maximum_among_many_items(items):
    """With enough item types that each bucket of the bound's order skips more than
    one position, a finished search still finds the maximum that dynamic
    programming over the capacities finds."""
    value = np.array([v for v, _, _ in items])
    w = np.array([(a, b) for _, a, b in items], np.int64)
    cap = np.array([12, 12], np.int64)
    out = np.zeros(len(items), np.int64)
    more = np.zeros((2, len(items)), np.int64)
    ub = np.ones(len(items), np.int64)
    best, upper, _, _ = knapsack(value, w, ub, cap, 10**7, 100.0, out, more)
    most = most_by_capacities(value, w, cap)
    assert (out <= ub).all()
    assert (out @ w <= cap).all()
    assert best == pytest.approx(most, abs=1e-9)
    assert upper == pytest.approx(most, abs=1e-6)


@given(
    priced_items(8),
    st.integers(1, 5),
    st.booleans(),
)
def test_greedy_columns_pack_the_copies_in_turn(items, rows, peak):
    """Each row fits a machine and is not empty, together they take at most the
    copies there are, rows after the last filled one are empty, and no copy of
    value left over fits what a row leaves free (each row is a maximal greedy fill)."""
    value, ub, w = item_arrays(items)
    cap = np.array([9, 9], np.int64)
    out = np.zeros((rows, len(items)), np.int64)
    filled = greedy_columns(value, w, ub, cap, peak, out)
    assert (out[filled:] == 0).all()
    assert (out.sum(axis=0) <= ub).all()
    left = ub - out.sum(axis=0)
    for row in out[:filled]:
        assert row.any()
        assert (row @ w <= cap).all()
        free = cap - row @ w
        for t in np.flatnonzero((left > 0) & (value > 0)):
            assert (w[t] > free).any()
    if filled < rows:
        # a row was left empty: nothing of value that is left fits an empty machine
        assert not ((left > 0) & (value > 0) & (w <= cap).all(axis=1)).any()


#: Difference from a threshold below which a sum's rounding decides the comparison.
_ROUNDING = 1e-9


def naive_swaps(value, w, ub, cap, cols, above):
    """Plain-Python twin of ``swap_columns``: for each column, the best of its
    neighbours (one copy of a type out, the room refilled by value over size with
    the other types), kept when worth more than ``above``; and whether a neighbour's
    worth is within rounding of ``above`` (the kernel sums values as it goes, so
    rounding decides such a neighbour)."""
    t_all, d = w.shape
    key = [-value[t] / max(sum(w[t, k] / cap[k] for k in range(d)), 1e-12)
           for t in range(t_all)]
    order = sorted(range(t_all), key=lambda t: key[t])
    found = []
    close = False
    for col in cols:
        best, best_row = above, None
        for t in np.flatnonzero(col):
            row = col.copy()
            row[t] -= 1
            for s in order:
                if value[s] <= 0.0:
                    break
                if s == t:
                    continue
                while row[s] < ub[s] and ((row + np.eye(t_all, dtype=np.int64)[s]) @ w
                                          <= cap).all():
                    row[s] += 1
            worth = float(row @ value)
            close = close or abs(worth - above) <= _ROUNDING
            if worth > best:
                best, best_row = worth, row
        if best_row is not None:
            found.append(best_row)
    return found, close


@given(
    priced_items(6),
    st.lists(st.lists(st.integers(0, 2), min_size=6, max_size=6), max_size=5),
    st.floats(0.0, 2.0),
)
def test_swap_columns_match_the_plain_neighbourhood(items, raw_cols, above):
    """Every row ``swap_columns`` gives is the best one-out, greedy-refill
    neighbour of a column, worth more than ``above``, as the plain twin finds."""
    t_all = len(items)
    value, ub, w = item_arrays(items)
    cap = np.array([9, 9], np.int64)
    cols = []
    for raw in raw_cols:
        col = np.minimum(np.array(raw[:t_all], np.int64), ub)
        if (col @ w <= cap).all():
            cols.append(col)
    cols = np.array(cols, np.int64).reshape(-1, t_all)
    out = np.zeros((max(len(cols), 1), t_all), np.int64)
    filled = swap_columns(value, w, ub, cap, cols, above, out)
    want, close = naive_swaps(value, w, ub, cap, cols, above)
    assume(not close)
    assert filled == len(want)
    for row, twin in zip(out[:filled], want, strict=True):
        assert float(row @ value) == pytest.approx(float(twin @ value))
        assert (row @ w <= cap).all()
        assert (row <= ub).all()
        assert float(row @ value) > above


@given(
    st.lists(st.lists(st.integers(0, 3), min_size=5, max_size=5), min_size=1,
             max_size=12),
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=5, max_size=5),
)
def test_sparse_columns_find_those_worth_one(cols, duals):
    """The sparse column list gives back exactly the columns worth 1 under the
    duals, whole."""
    cols = np.array([c for c in cols if any(c)], np.int64).reshape(-1, 5)
    pi = np.array(duals)
    sparse = _Sparse(5)
    for col in cols:
        sparse.append(col)
    want = cols[np.abs(cols @ pi - 1.0) <= 1e-9]
    assert np.array_equal(sparse.tight(pi), want)
