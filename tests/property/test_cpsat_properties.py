"""Properties of the cpsat engine on small random problems with every kind of rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import AntiAffinity, Machines, Problem, Spread, Status
from solver.constraints import Affinity
from solver.engines.cpsat import lower_bound
from solver.model import Containers

GREEDY = ("ffd", "bfd", "dot")
CPSAT = {"time_limit": 2.0, "workers": 1, "formulation": "assignment"}


@st.composite
def problems(draw, constrained: bool = True, current: bool = False) -> Problem:
    """2-8 machines, 1-10 containers, 1-2 dimensions, optional rules and state."""
    d = draw(st.integers(1, 2))
    m = draw(st.integers(2, 8))
    n = draw(st.integers(1, 10))
    cap = np.array(
        draw(
            st.lists(
                st.lists(st.integers(5, 20), min_size=d, max_size=d),
                min_size=m,
                max_size=m,
            )
        )
    )
    req = np.array(
        draw(
            st.lists(
                st.lists(st.integers(0, 12), min_size=d, max_size=d),
                min_size=n,
                max_size=n,
            )
        )
    )
    zones = [draw(st.sampled_from("ab")) for _ in range(m)]
    labels = {"zone": zones}
    service = [draw(st.sampled_from(["x", "y", "z"])) for _ in range(n)]
    options: dict = {}
    if constrained and draw(st.booleans()):
        rule = draw(
            st.sampled_from([AntiAffinity("machine", 1), AntiAffinity("zone", 2)])
        )
        options["anti_affinity"] = [rule if s == "x" else None for s in service]
    if constrained and draw(st.booleans()):
        options["spread"] = [Spread("zone", 1) if s == "y" else None for s in service]
    if constrained and draw(st.booleans()):
        target = draw(st.sampled_from(["x", "z"]))
        options["affinity"] = [
            Affinity(target, "machine") if s == "z" else None for s in service
        ]
    state = None
    if constrained and draw(st.booleans()):
        state = [
            draw(st.sampled_from(["up", "up", "cordoned", "down"])) for _ in range(m)
        ]
    mach = Machines(cap, labels=labels, state=state)
    cont = Containers(req, mach.resources, service=service, **options)
    cur = None
    if current:
        cur = [draw(st.integers(-1, m - 1)) for _ in range(n)]
    return Problem(mach, cont, current=cur)


def greedy_best(problem: Problem) -> int | None:
    """Fewest machines among the greedy engines that place everything."""
    used = [
        pl.machines_used
        for pl in (solver.place(problem, engine=e) for e in GREEDY)
        if pl.placed == problem.n
    ]
    return min(used) if used else None


@settings(max_examples=25)
@given(problems())
def test_min_machines_between_bound_and_greedy(problem):
    """Never worse than any greedy engine, never below the lower bound; optimal
    status only when objective equals bound; every result is valid."""
    pl = solver.place(problem, engine="cpsat", **CPSAT)
    best = greedy_best(problem)
    if best is not None:
        assert pl.placed == problem.n
        assert pl.machines_used <= best
    if pl.placed == problem.n:
        assert pl.machines_used >= lower_bound(problem)
        assert pl.bound is None or pl.bound <= pl.machines_used
    if pl.status is Status.OPTIMAL:
        assert pl.objective == pl.bound


@settings(max_examples=25)
@given(problems())
def test_max_placed_places_all_when_possible(problem):
    """max-placed places everything whenever min-machines finds a complete placement."""
    full = solver.place(problem, engine="cpsat", **CPSAT)
    most = solver.place(problem, engine="cpsat", objective="max-placed", **CPSAT)
    if full.placed == problem.n and most.status is Status.OPTIMAL:
        assert most.placed == problem.n
        assert most.objective == 0
    if most.status is Status.OPTIMAL:
        assert most.objective == most.bound


@settings(max_examples=25)
@given(problems(current=True))
def test_min_moves_keeps_a_valid_current_assignment(problem):
    """Zero moves from a valid current assignment; otherwise moves never exceed the
    containers that had a machine, and optimal means objective equals bound."""
    pl = solver.place(problem, engine="cpsat", objective="min-moves", **CPSAT)
    cur = problem.current
    try:
        solver.validate(
            problem,
            solver.Placement(cur, "current", Status.FEASIBLE, reasons=_reasons(cur)),
        )
        valid = bool((cur >= 0).all())
    except solver.PlacementError:
        valid = False
    if valid:
        assert pl.objective == 0
        assert pl.assignment.tolist() == cur.tolist()
    if pl.status in (Status.OPTIMAL, Status.FEASIBLE):
        moved = (cur >= 0) & (pl.assignment != cur)
        assert pl.objective == int(moved.sum())
    if pl.status is Status.OPTIMAL:
        assert pl.objective == pl.bound


def _reasons(assignment: np.ndarray) -> dict:
    return {int(i): {"test": 1} for i in np.flatnonzero(assignment < 0)}
