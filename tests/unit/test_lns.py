"""The lns engine: improves the greedy start, keeps every rule, reproducible runs."""

from __future__ import annotations

import numpy as np
import pytest

import solver
from solver import AntiAffinity, InvalidProblem, Machines, Problem, Status
from solver.model import Containers


def traps(copies: int) -> Problem:
    """``copies`` of the sizes {5,4,3,3,3,2}; one copy is an FFD trap (3 vs 2)."""
    sizes = [5, 4, 3, 3, 3, 2] * copies
    return Problem.from_arrays(
        np.full((3 * copies, 1), 10), np.array(sizes).reshape(-1, 1)
    )


def test_improves_ffd_to_the_bound():
    """On the FFD trap the search reaches the lower bound and says so."""
    p = traps(1)
    assert solver.place(p, engine="ffd").machines_used == 3
    pl = solver.place(p, engine="lns", iterations=10, workers=1, neighbourhood=12)
    assert pl.machines_used == 2
    assert pl.bound == 2
    assert pl.status is Status.OPTIMAL


def test_never_worse_than_ffd_nor_below_the_bound():
    """On a random instance the result lies between the lower bound and FFD."""
    rng = np.random.default_rng(5)
    p = Problem.from_arrays(np.full((200, 2), 100), rng.integers(5, 60, size=(300, 2)))
    ffd = solver.place(p, engine="ffd").machines_used
    pl = solver.place(p, engine="lns", iterations=30, workers=1, neighbourhood=20)
    assert pl.bound <= pl.machines_used <= ffd
    assert (pl.status is Status.OPTIMAL) == (pl.machines_used == pl.bound)


def test_same_seed_same_result():
    """With one worker and a fixed iteration count the run is reproducible."""
    p = traps(5)
    runs = [
        solver.place(p, engine="lns", iterations=8, workers=1, neighbourhood=10, seed=7)
        for _ in range(2)
    ]
    assert runs[0].assignment.tolist() == runs[1].assignment.tolist()


def test_keeps_anti_affinity():
    """Neighbourhood moves never break a per-machine anti-affinity rule."""
    rng = np.random.default_rng(1)
    mach = Machines(np.full((30, 2), 100))
    services = [f"s{k % 5}" for k in range(60)]
    cont = Containers(
        rng.integers(5, 40, size=(60, 2)),
        mach.resources,
        service=services,
        anti_affinity=AntiAffinity("machine", 2),
    )
    p = Problem(mach, cont)
    pl = solver.place(p, engine="lns", iterations=20, workers=1, neighbourhood=15)
    assert pl.placed == p.n  # solver.place has validated it


def test_improves_many_traps_and_reaches_the_optimum():
    """20 FFD traps: ffd needs 42 machines; every seed does better, one finds 40."""
    p = traps(20)
    assert solver.place(p, engine="ffd").machines_used == 42
    used = [
        solver.place(p, engine="lns", iterations=30, workers=1, seed=s).machines_used
        for s in (1, 2, 3)
    ]
    assert max(used) < 42
    assert min(used) == 40


def test_pinned_containers_stay():
    """Pinned containers keep their current machine while the rest is compacted."""
    rng = np.random.default_rng(4)
    req = rng.integers(5, 50, size=(120, 2))
    current = np.arange(120) % 60  # two per machine: a spread-out start
    pinned = np.zeros(120, bool)
    pinned[:10] = True
    p = Problem.from_arrays(np.full((60, 2), 100), req)
    p = Problem(p.machines, p.containers, current=current, pinned=pinned)
    pl = solver.place(p, engine="lns", iterations=10, workers=1, hints=("ffd",))
    assert (pl.assignment[:10] == current[:10]).all()
    assert pl.machines_used <= solver.place(p, engine="ffd").machines_used


@pytest.mark.parametrize(
    "options",
    [
        {"objective": "max-placed"},
        {"neighbourhood": 1},
        {"iterations": -1},
        {"pick": -1},
        {"span": 0},
        {"kernel_attempts": -2},
    ],
)
def test_bad_options(options):
    """Unsupported options raise InvalidProblem."""
    with pytest.raises(InvalidProblem, match="lns engine"):
        solver.engines.get("lns", **options)
