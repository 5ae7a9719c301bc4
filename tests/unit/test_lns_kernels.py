"""The machine-emptying kernel: every move keeps a valid placement, rollbacks exact."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import Machines, Problem
from solver.engines.lns import _Flat
from solver.model import Containers


def loads_by_hand(req: np.ndarray, assign: np.ndarray, m: int) -> np.ndarray:
    """Requests summed per machine with a plain loop."""
    out = np.zeros((m, req.shape[1]), np.int64)
    for i, j in enumerate(assign.tolist()):
        if j >= 0:
            out[j] += req[i]
    return out


def members_by_links(flat: _Flat) -> list[list[int]]:
    """Member lists read back from the linked lists, each sorted."""
    out = []
    for j in range(flat.cap.shape[0]):
        seen, k = [], int(flat.head[j])
        while k >= 0:
            seen.append(k)
            k = int(flat.nxt[k])
        out.append(sorted(seen))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(2, 40),
    st.integers(0, 2**32),
    st.integers(1, 8),
    st.integers(0, 6),
    st.sampled_from([0, 1, 4]),
)
def test_moves_keep_a_valid_placement(d, n, seed, span, max_eject, pick):
    """After any run: all placed, within capacity, loads and lists consistent."""
    rng = np.random.default_rng(seed)
    req = rng.integers(0, 60, size=(n, d))
    start = solver.place(
        Problem.from_arrays(np.full((n, d), 100), req), engine="ffd", check=False
    ).assignment
    # some machines become cordoned after the start: they may only lose containers
    state = np.where(rng.random(n) < 0.3, "cordoned", "up")
    p = Problem(Machines(np.full((n, d), 100), state=state.tolist()), Containers(req))
    pinned = rng.random(n) < 0.2
    flat = _Flat(p, start, ~pinned, seed)
    used = flat.used
    emptied = flat.run(30, max_eject, span, pick)
    a = flat.assign
    assert (a >= 0).all()
    assert (a[pinned] == start[pinned]).all()
    assert ((a == start) | (state[a] == "up")).all()
    assert (flat.load == loads_by_hand(req, a, n)).all()
    assert (flat.load <= p.capacity).all()
    assert members_by_links(flat) == [
        sorted(np.flatnonzero(a == j).tolist()) for j in range(n)
    ]
    assert (flat.count == np.bincount(a, minlength=n)).all()
    assert flat.used == used - emptied  # an emptied machine never reopens


def test_never_fills_a_machine_not_up():
    """Cordoned and down machines receive nothing; containers may leave them."""
    machines = Machines(
        np.full((4, 1), 10), state=["up", "cordoned", "up", "down"]
    )
    p = Problem(machines, Containers([[3], [3], [3], [4]]))
    flat = _Flat(p, np.array([0, 1, 1, 2]), np.ones(4, bool), 1)
    flat.run(10, 4, 4)
    assert set(flat.assign.tolist()) <= {0, 1, 2}
    assert (flat.assign[[0, 3]] != 1).all()  # nothing new lands on the cordoned one
    assert flat.used == 2  # 3+3 and 3+4 on the two machines that are up


def test_ejection_chain_frees_a_machine():
    """{6,3 | 5,3,1 | 2}: the 2 fits nowhere, so it takes the place of the 1."""
    req = np.array([[6], [3], [5], [3], [1], [2]])
    p = Problem.from_arrays(np.full((3, 1), 10), req)
    flat = _Flat(p, np.array([0, 0, 1, 1, 1, 2]), np.ones(6, bool), 3)
    flat.run(5, 4, 3)
    assert flat.used == 2
    assert flat.assign.tolist() == [0, 0, 1, 1, 0, 1]
