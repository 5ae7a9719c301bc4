"""Properties of the cpsat engine on small random problems with every kind of rule."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import AntiAffinity, Machines, Problem, Spread, Status
from solver.bounds import conflict_bound
from solver.bounds import lower_bound as project_bound
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


def device_errors(problem: Problem, placement: solver.Placement) -> list[str]:
    """Device-level GPU rules broken by ``placement`` (plain re-check)."""
    cont, gpus = problem.containers, problem.machines.gpus
    dev = placement.devices
    load: dict[tuple[int, int], int] = {}
    errors = []
    for i, m in enumerate(placement.assignment.tolist()):
        whole, share = int(cont.num_gpu[i]), int(cont.gpu_milli[i])
        got = [] if m < 0 else [int(t) for t in dev[i] if t >= 0]
        if m >= 0 and any(t >= gpus[m] for t in got):
            errors.append(f"container {i}: device beyond machine {m}")
        want = whole if whole else int(share > 0)
        if m >= 0 and (len(got) != want or len(set(got)) != len(got)):
            errors.append(f"container {i}: devices {got}, asks {whole} / {share}")
        for t in got:
            load[m, t] = load.get((m, t), 0) + (1000 if whole else share)
    errors += [f"device {k}: {v} milli" for k, v in load.items() if v > 1000]
    return errors


def _fits_devices(asks: list[tuple[int, int]], devices: int) -> bool:
    """Brute force: can these (whole, share) asks share ``devices`` GPUs?"""
    free = devices - sum(w for w, _ in asks)
    shares = [s for w, s in asks if not w and s]
    if free < 0:
        return False
    return any(
        all(
            sum(s for s, d in zip(shares, pick, strict=True) if d == t) <= 1000
            for t in range(free)
        )
        for pick in itertools.product(range(free), repeat=len(shares))
    ) if shares else True


def _gpu_optimum(problem: Problem) -> int | None:
    """Fewest machines over every assignment (tiny problems only); None if none."""
    best = None
    cont = problem.containers
    for a in itertools.product(range(problem.m), repeat=problem.n):
        arr = np.asarray(a)
        used = np.unique(arr)
        if best is not None and used.size >= best:
            continue
        ok = True
        for m in used.tolist():
            on = np.flatnonzero(arr == m)
            if (problem.requests[on].sum(axis=0) > problem.capacity[m]).any():
                ok = False
                break
            asks = [(int(cont.num_gpu[i]), int(cont.gpu_milli[i])) for i in on]
            if not _fits_devices(asks, int(problem.machines.gpus[m])):
                ok = False
                break
        if ok:
            best = used.size
    return best


@st.composite
def gpu_problems(draw) -> Problem:
    """1-3 machines with 0-3 GPU devices, 1-5 containers asking whole or shared GPUs."""
    m = draw(st.integers(1, 3))
    n = draw(st.integers(1, 5))
    gpus = [draw(st.integers(0, 3)) for _ in range(m)]
    cap = np.full((m, 1), 100)
    req = np.array([[draw(st.integers(1, 60))] for _ in range(n)])
    whole, share = [], []
    for _ in range(n):
        kind = draw(st.sampled_from(["none", "whole", "share"]))
        whole.append(draw(st.integers(1, 2)) if kind == "whole" else 0)
        share.append(draw(st.integers(1, 9)) * 100 if kind == "share" else 0)
    if not any(whole) and not any(share):
        share[0] = 500
    mach = Machines(cap, gpus=gpus)
    cont = Containers(req, mach.resources, num_gpu=whole, gpu_milli=share)
    return Problem(mach, cont)


@settings(max_examples=15)
@given(gpu_problems())
def test_gpu_sharing_matches_brute_force(problem):
    """GPU devices: every result keeps device capacity, whole GPUs on distinct devices;
    min-machines equals the brute-force optimum when proven, and places everything
    whenever an assignment exists."""
    pl = solver.place(problem, engine="cpsat", **CPSAT)
    assert pl.devices is not None
    assert device_errors(problem, pl) == []
    best = _gpu_optimum(problem)
    if best is None:
        assert pl.placed < problem.n
    else:
        assert pl.placed == problem.n
        assert pl.machines_used >= best
        if pl.status is Status.OPTIMAL:
            assert pl.machines_used == best
    most = solver.place(problem, engine="cpsat", objective="max-placed", **CPSAT)
    assert device_errors(problem, most) == []


def _vector_optimum(capacity: np.ndarray, requests: np.ndarray) -> int:
    """Fewest machines over every assignment (tiny problems; all must fit)."""
    n, m = len(requests), len(capacity)
    best = m
    for a in itertools.product(range(m), repeat=n):
        arr = np.asarray(a)
        used = np.unique(arr)
        if used.size >= best:
            continue
        load = np.zeros_like(capacity)
        np.add.at(load, arr, requests)
        if (load <= capacity).all():
            best = used.size
    return best


@settings(max_examples=60)
@given(
    st.integers(1, 3).flatmap(
        lambda d: st.tuples(
            st.lists(
                st.lists(st.integers(0, 10), min_size=d, max_size=d),
                min_size=1,
                max_size=3,
            ).map(lambda rows: np.array(rows)),
            st.lists(
                st.lists(st.integers(0, 10), min_size=d, max_size=d),
                min_size=1,
                max_size=6,
            ).map(lambda rows: np.array(rows)),
            st.booleans(),
        )
    )
)
def test_conflict_bound_never_exceeds_the_optimum(data):
    """conflict_bound is a valid lower bound: brute force on tiny instances, with
    identical machines or machines lacking a resource."""
    kinds, requests, identical = data
    d = kinds.shape[1]
    capacity = np.tile(np.maximum(kinds[0], 1), (4, 1)) if identical else kinds
    if not identical:
        capacity = np.vstack([capacity, np.full((1, d), 10)])
    requests = requests[(requests[:, None, :] <= capacity[None]).all(-1).any(-1)]
    if not len(requests):
        return
    problem = Problem.from_arrays(capacity, requests)
    best = _vector_optimum(capacity, requests)
    assert project_bound(problem) <= conflict_bound(problem) <= best
