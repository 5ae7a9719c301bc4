"""The feature tree answers exactly like a plain left-to-right scan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from solver.datasets.synthetic import cluster_workload
from solver.engines import _tree_kernels as tk


def scan_find(residual, usable, req, lo):
    """Plain scan: smallest j >= lo that is usable and covers req."""
    for j in range(max(lo, 0), len(residual)):
        if usable[j] and all(residual[j, k] >= req[k] for k in range(len(req))):
            return j
    return -1


def plain_first_fit(requests, order, capacity, usable):
    """Plain first fit over lists: the reference for the kernel."""
    res = capacity.tolist()
    out = [-1] * len(requests)
    for i in order:
        req = requests[i].tolist()
        for j, row in enumerate(res):
            if usable[j] and all(a >= b for a, b in zip(row, req, strict=True)):
                out[i] = j
                res[j] = [a - b for a, b in zip(row, req, strict=True)]
                break
    return np.array(out), np.array(res, dtype=np.int64).reshape(capacity.shape)


@st.composite
def fleets(draw, max_m=40):
    """Residuals with a few distinct magnitudes, a usable mask, and the dimension."""
    d = draw(st.integers(1, 5))
    m = draw(st.integers(1, max_m))
    residual = draw(arrays(np.int64, (m, d), elements=st.integers(0, 12)))
    usable = draw(arrays(np.bool_, m, elements=st.booleans()))
    return residual, usable, d


@given(
    fleet=fleets(),
    reqs=st.lists(st.lists(st.integers(0, 14), min_size=5, max_size=5), max_size=12),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.lists(st.integers(-2, 15), min_size=5, max_size=5),
            st.booleans(),
        ),
        max_size=12,
    ),
    lo=st.integers(-2, 45),
)
def test_find_equals_scan_after_updates(fleet, reqs, edits, lo):
    """tree_find equals the scan for any lo, as residuals go up and down."""
    residual, usable, d = fleet
    state = tk.tree_build(residual, usable)
    plain_res, plain_use = residual.copy(), usable.copy()
    for step in range(len(edits) + 1):
        for r in reqs:
            req = np.array(r[:d], dtype=np.int64)
            want = scan_find(plain_res, plain_use, req, lo)
            assert tk.tree_find(state, req, lo) == want
            assert tk.tree_find(state, req, 0) == scan_find(
                plain_res, plain_use, req, 0
            )
        if step < len(edits):
            j, row, use = edits[step]
            j %= len(residual)
            row = np.array(row[:d], dtype=np.int64)
            tk.tree_set(state, j, row, use)
            plain_res[j], plain_use[j] = row, use
            assert np.array_equal(state[0], plain_res)


@given(
    fleet=fleets(max_m=25),
    requests=arrays(
        np.int64, st.tuples(st.integers(0, 60), st.just(5)), elements=st.integers(0, 9)
    ),
    tuned=st.booleans(),
)
def test_tuned_tree_equals_scan(fleet, requests, tuned):
    """Lanes tuned to a request sample still answer exactly for those requests."""
    residual, usable, d = fleet
    reqs = np.ascontiguousarray(requests[:, :d])
    state = (
        tk.tree_build_for(residual, usable, reqs)
        if tuned
        else tk.tree_build(residual, usable)
    )
    for req in reqs:
        assert tk.tree_find(state, req, 0) == scan_find(residual, usable, req, 0)


@given(
    d=st.integers(1, 5),
    caps=st.lists(st.integers(1, 30), min_size=1, max_size=30),
    data=st.data(),
)
def test_first_fit_equals_plain(d, caps, data):
    """first_fit equals plain first fit; mixed capacities, unusable machines."""
    m = len(caps)
    capacity = np.array([[c + k for k in range(d)] for c in caps], dtype=np.int64)
    usable = data.draw(arrays(np.bool_, m, elements=st.booleans()))
    n = data.draw(st.integers(0, 80))
    requests = data.draw(arrays(np.int64, (n, d), elements=st.integers(0, 20)))
    order = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    want, want_res = plain_first_fit(requests, order, capacity, usable)
    residual = capacity.copy()
    got = tk.first_fit(requests, order, residual, usable)
    assert got.dtype == np.int32
    assert np.array_equal(got, want)
    assert np.array_equal(residual, want_res)


@given(
    d=st.integers(1, 5),
    caps=st.lists(st.integers(0, 30), min_size=1, max_size=30),
    data=st.data(),
    ffd=st.booleans(),
)
def test_repeated_requests_equal_plain(d, caps, data, ffd):
    """Few distinct request rows repeated many times (answers reused as lower bounds):
    first_fit still equals plain first fit, in FFD order and in any order."""
    m = len(caps)
    capacity = np.array([[c + 3 * k for k in range(d)] for c in caps], dtype=np.int64)
    usable = data.draw(arrays(np.bool_, m, elements=st.booleans()))
    pool = data.draw(
        arrays(np.int64, (data.draw(st.integers(1, 4)), d), elements=st.integers(0, 12))
    )
    pick = data.draw(st.lists(st.integers(0, len(pool) - 1), max_size=120))
    requests = pool[np.array(pick, dtype=np.int64)].reshape(len(pick), d)
    if ffd:
        order = tk.ffd_order(requests)
    else:
        order = np.array(data.draw(st.permutations(range(len(pick)))), dtype=np.int64)
    want, want_res = plain_first_fit(requests, order, capacity, usable)
    residual = capacity.copy()
    assert np.array_equal(tk.first_fit(requests, order, residual, usable), want)
    assert np.array_equal(residual, want_res)


@given(
    requests=arrays(
        np.int64,
        st.tuples(st.integers(0, 300), st.integers(1, 4)),
        elements=st.integers(0, 70_000),
    )
)
def test_ffd_order_is_stable_argsort(requests):
    """ffd_order is the permutation of a stable argsort by decreasing sum."""
    want = np.argsort(-requests.sum(axis=1), kind="stable")
    assert np.array_equal(tk.ffd_order(requests), want)


def test_single_machine_zero_and_oversized_requests():
    """m = 1; zero requests fit anywhere usable; too-large requests fit nowhere."""
    residual = np.array([[5, 5]], dtype=np.int64)
    requests = np.array([[0, 0], [6, 1], [5, 5], [0, 0], [1, 0]], dtype=np.int64)
    got = tk.first_fit(requests, np.arange(5), residual, np.array([True]))
    assert got.tolist() == [0, -1, 0, 0, -1]
    assert residual.tolist() == [[0, 0]]
    down = tk.first_fit(requests, np.arange(5), np.array([[9, 9]]), np.array([False]))
    assert down.tolist() == [-1] * 5


def test_no_machines():
    """An empty fleet places nothing."""
    residual = np.zeros((0, 3), dtype=np.int64)
    got = tk.first_fit(
        np.ones((4, 3), dtype=np.int64),
        np.arange(4),
        residual,
        np.zeros(0, dtype=np.bool_),
    )
    assert got.tolist() == [-1] * 4


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("machine_types", [False, True], ids=["same", "types"])
def test_first_fit_on_cluster_workload(d, machine_types):
    """On a generated cluster FFD equals the plain scan and places everything."""
    requests, capacity = cluster_workload(2_000, d, seed=3, machine_types=machine_types)
    usable = np.ones(len(capacity), dtype=np.bool_)
    usable[::7] = False
    order = tk.ffd_order(requests)
    want, _ = plain_first_fit(requests, order, capacity, usable)
    got = tk.first_fit(requests, order, capacity.copy(), usable)
    assert np.array_equal(got, want)
    assert (got >= 0).all()
