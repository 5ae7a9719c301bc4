"""compile_constraints: the flat arrays of hand-made problems."""

from __future__ import annotations

import numpy as np

from solver import AntiAffinity, Containers, Machines, Problem, Spread
from solver.constraints import compile_constraints


def test_plain_problem_is_trivial() -> None:
    """No rules: one class, no groups, the fast path."""
    p = Problem.from_arrays(np.full((3, 2), 5), np.ones((4, 2), np.int64))
    cc = compile_constraints(p)
    assert cc.trivial
    assert cc.eligible.shape == (1, 3)
    assert cc.eligible.all()
    assert cc.n_counts == 0
    assert not cc.keys


def test_down_machine_still_trivial() -> None:
    """Machine state alone keeps one class; the down machine is not eligible."""
    mach = Machines(np.full((3, 1), 5), state=["up", "down", "up"])
    p = Problem(mach, Containers(np.ones((2, 1), np.int64), mach.resources))
    cc = compile_constraints(p)
    assert cc.trivial
    assert cc.eligible.tolist() == [[True, False, True]]


def test_classes_domains_and_groups() -> None:
    """Selectors make classes; zone keys map to domains; groups get their slots."""
    mach = Machines(
        np.full((4, 1), 9),
        labels={"zone": ["a", "b", None, "a"]},
        taints=[set(), {"gpu"}, set(), set()],
    )
    cont = Containers(
        np.ones((3, 1), np.int64),
        mach.resources,
        service=["x", "x", "y"],
        node_selector=[{"zone": "a"}, {"zone": "a"}, None],
        tolerations=[set(), set(), {"gpu"}],
        anti_affinity=[AntiAffinity("zone", 2), AntiAffinity("zone", 1), None],
        spread=[None, None, Spread("zone", 1)],
    )
    cc = compile_constraints(Problem(mach, cont))
    assert not cc.trivial
    assert cc.eclass.tolist() == [0, 0, 1]
    assert cc.eligible.tolist() == [
        [True, False, False, True],
        [True, True, True, True],
    ]
    assert cc.keys == ("zone",)
    assert cc.domain.tolist() == [[0, 1, -1, 0]]
    assert cc.aa_limit.tolist() == [1]  # the smallest limit of the service wins
    assert cc.sp_group.tolist() == [-1, -1, 0]
    valid = cc.sp_valid[cc.sp_off[0] : cc.sp_off[0] + 2]
    assert valid.tolist() == [True, True]
