"""Speed of exact first fit decreasing with the feature tree of ``_tree_kernels``.

Run: ``NUMBA_NUM_THREADS=1 python -m pytest benchmarks/test_first_fit_speed.py`` (add
``-m slow`` for 1e6 containers). The timed call is the whole FFD: the order (stable by
decreasing sum of requests) and the kernel, on generated clusters and on openb request
shapes (pod lists tiled, GPU nodes replicated: a few shapes repeated many times). Every
result is checked: all containers placed, no machine over capacity, none on an unusable
machine, and on the small sizes the exact assignment of a plain first-fit scan.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from solver.engines import _tree_kernels as tk


@njit(cache=True)
def plain_first_fit(requests, order, residual, usable):
    """Scan every machine left to right: the answer the tree must reproduce."""
    assign = np.full(requests.shape[0], -1, np.int32)
    for i in order:
        for j in range(residual.shape[0]):
            if usable[j] and np.all(residual[j] >= requests[i]):
                residual[j] -= requests[i]
                assign[i] = j
                break
    return assign


def ffd(requests, capacity, usable):
    """FFD as timed: order, then first fit into a fresh residual."""
    residual = capacity.copy()
    return tk.first_fit(requests, tk.ffd_order(requests), residual, usable)


def check(assign, requests, capacity, usable):
    """Everything placed on usable machines, no machine over capacity."""
    assert (assign >= 0).all(), "a container was left unplaced"
    assert usable[assign].all(), "a container sits on an unusable machine"
    load = np.zeros_like(capacity)
    np.add.at(load, assign, requests)
    assert (load <= capacity).all(), "capacity exceeded"


CASES = [
    pytest.param(
        n,
        d,
        types,
        down,
        marks=[pytest.mark.slow] if n >= 10**6 else [],
        id=f"n{n:.0e}-d{d}-{'types' if types else 'same'}" + ("-down" if down else ""),
    )
    for n in (10**4, 10**5, 10**6)
    for d in (1, 2, 4)
    for types, down in ((False, 0.0), (True, 0.0), (True, 0.05))
]


@pytest.mark.parametrize(("n", "d", "types", "down"), CASES)
def test_ffd_tree(benchmark, ff_warm, ff_cluster, n, d, types, down):
    """Time FFD at (n, d); small sizes must equal the plain scan exactly."""
    requests, capacity, usable = ff_cluster(n, d, types, down)
    assign = benchmark.pedantic(
        ffd, args=(requests, capacity, usable), rounds=3, iterations=1
    )
    check(assign, requests, capacity, usable)
    if n <= 10**4:
        want = plain_first_fit(
            requests, tk.ffd_order(requests), capacity.copy(), usable
        )
        assert np.array_equal(assign, want)
    if benchmark.stats is not None:
        benchmark.extra_info["placements_per_s"] = n / benchmark.stats.stats.median


@pytest.mark.needs_shared_data
@pytest.mark.parametrize(
    "n",
    [
        pytest.param(10**4, id="n1e+04-openb"),
        pytest.param(10**5, id="n1e+05-openb"),
        pytest.param(10**6, id="n1e+06-openb", marks=pytest.mark.slow),
    ],
)
def test_ffd_openb(benchmark, ff_warm, ff_openb, n):
    """Time FFD on openb request shapes (few shapes, repeated); exact up to 1e5."""
    requests, capacity = ff_openb(n)
    usable = np.ones(len(capacity), dtype=np.bool_)
    assign = benchmark.pedantic(
        ffd, args=(requests, capacity, usable), rounds=3, iterations=1
    )
    check(assign, requests, capacity, usable)
    if n <= 10**5:
        want = plain_first_fit(
            requests, tk.ffd_order(requests), capacity.copy(), usable
        )
        assert np.array_equal(assign, want)
    if benchmark.stats is not None:
        benchmark.extra_info["placements_per_s"] = n / benchmark.stats.stats.median
