"""Cost-driven reassignment: move containers away from their current machines cheaply.

:func:`optimise` minimises the ROADEF/EURO 2012 objective (load above safety capacity,
balance, process / service / machine move costs) from ``problem.current`` while keeping
every hard constraint. The method has three phases:

* descent (:mod:`._reassign_kernels`: shifts that try every machine for a process,
  ejection chains, random shifts and swaps, and homing moves that start from a
  process away from its initial machine) while it pays, up to 30 % of the budget.
  Three move mixes (swap-heavy or shift-heavy scanning, random) race one window
  from the start; then each gets the share of the time its gain per second earns.
  Whether a window still paid is judged against the cost above the fleet-wide
  lower bound (:func:`~solver.datasets.roadef.lower_bound`) too: where a large fixed
  cost dominates, only the move costs are left to win;
* simulated annealing from the best state (starting temperature from the cost rises
  of allowed moves there, cooling 1000-fold; runs of 10 % of the budget from the
  best state) up to 80 % of the budget, for as long as each run improves the best;
* descent and large neighbourhood search for the rest, each given the share of the
  time its gain per second earns: from the best state LNS frees a neighbourhood
  (the processes of a few machines: random ones, or a costly machine with partners
  that have room, or of one service), solves that sub-problem exactly with CP-SAT,
  the rest fixed, and keeps improvements.

Problems without ROADEF metadata get the same model from :func:`generic_cost_model`.
:func:`hill_climb` is the plain first-improvement local search kept as the baseline
the benchmark compares against. :func:`rebalance_file` is the ``tetrimino rebalance``
command's work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constraints import AntiAffinity, compile_constraints
from ..errors import InvalidProblem
from ..model import Problem
from ..placement import Placement, Status
from . import _reassign_kernels as _k
from . import register

#: Objectives of :func:`rebalance_file` and :func:`optimise`.
OBJECTIVES = ("cost", "min-machines", "balance")
_OBJECTIVE_CODE = {"cost": 0, "min-machines": 1, "balance": 2}
#: Local search iterations per call of the kernel with an iteration budget.
_CHUNK = 200_000
#: Seconds per call of the kernel between clock checks, with a time limit.
_SLICE = 0.2
#: Share of swap moves among the moves with an iteration budget (a run that depends
#: on the seed only) or an objective other than the cost, in percent.
_SWAP_PCT = 90
#: Move mixes the time-limited search chooses between, as (percent of iterations
#: that are swaps, percent of the shifts that scan every machine); the seconds in
#: which their gain and time sums halve, and the least share of the time each
#: keeps. Scanning wins while many processes have a much better machine; once
#: few do (only move costs left), random moves find them at many times the rate.
_MIX_ARMS = ((10, 100), (95, 100), (70, 0))
_MIX_HALF_LIFE = 2.7
_MIX_FLOOR = 0.02
#: Share of swap moves of the baseline :func:`hill_climb`, in percent.
_BASELINE_SWAP_PCT = 40
#: Share of the shifts that try every machine for their process, in percent.
_SCAN_PCT = 100
#: Share of the scanning shifts that are ejection chains, in percent.
_EJECT_PCT = 20
#: Share of the scanning shifts and swaps of the descents that start from a process
#: away from its initial machine, in percent.
_HOME_PCT = 20
#: Starting temperature of each annealing run, over the 10th percentile of the cost
#: rises of allowed moves at its starting state.
_HEAT = 4.0
#: Share of the budget (seconds, or iterations with a budget) per annealing run.
_RESTART_SHARE = 0.1
#: Final temperature over the starting one.
_COOLING = 1e-3
#: Share of the budget spent annealing before the exact repair phase.
_ANNEAL_SHARE = 0.8
#: Largest share of the budget for the first descent.
_DESCENT_SHARE = 0.3
#: The first descent stops once a window of this share of the budget has stalled
#: (see _STILL_DESCENDING).
_WINDOW = 0.02
#: Relative gain of a descent window below which the descent has stalled:
#: of the cost, or (where the fleet-wide lower bound is close) of the cost above it.
_STILL_DESCENDING = 1e-5
_STILL_MOVABLE = 1e-4
#: The last phase shares its time between descent and exact repair by their gains
#: per second over the last _LATE_HALF_LIFE of the budget, each at least _LATE_FLOOR.
_LATE_HALF_LIFE = 0.05
_LATE_FLOOR = 0.05
#: Instances with at most this many process-machine pairs are repaired whole.
_WHOLE = 1_000
#: Largest sub-problem handed to CP-SAT, in free processes.
_LNS_PROCESSES = 120


@dataclass(frozen=True)
class ReassignResult:
    """Outcome of :func:`optimise`.

    ``assignment`` is int64, shape (n,); ``cost_before`` / ``cost_after`` are
    :class:`~solver.datasets.roadef.RoadefCost` (objective ``cost``) with the parts;
    ``moves`` counts containers away from their initial machine; ``history`` lists
    ``(seconds, best cost)`` each time the best cost fell; ``bound`` is the
    fleet-wide lower bound on the ``cost`` objective (None for other objectives).
    """

    assignment: np.ndarray
    cost_before: Any
    cost_after: Any
    objective_before: int
    objective_after: int
    moves: int
    seconds: float
    feasible: bool
    iterations: int
    history: list[tuple[float, int]] = field(default_factory=list)
    bound: int | None = None

    def summary(self) -> dict[str, object]:
        """The headline numbers as a plain dict."""
        return {
            "objective_before": self.objective_before,
            "objective_after": self.objective_after,
            "moves": self.moves,
            "seconds": self.seconds,
            "feasible": self.feasible,
            "iterations": self.iterations,
        }


# ----------------------------------------------------------------- cost model


def _conflict_services(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Kernel service id of each container and which containers must stay put.

    Containers of one service that carry ``AntiAffinity("machine", 1)`` share a kernel
    service (the conflict rule: one per machine); every other container is a service of
    its own. Containers whose rules the move kernels do not model (spread, affinity,
    other anti-affinity, affinity targets, pinned) are frozen on their machine.
    """
    c = problem.containers
    n = problem.n
    names = np.asarray(c.service, dtype=object)
    anti = getattr(c, "anti_affinity", None)
    spread = getattr(c, "spread", None)
    affinity = getattr(c, "affinity", None)
    frozen = np.zeros(n, bool)
    if problem.pinned is not None:
        frozen |= problem.pinned
    conflict = np.zeros(n, bool)
    touchy: set[object] = set()
    for i in range(n):
        rule = None if anti is None else anti[i]
        if isinstance(rule, AntiAffinity):
            if rule.topology_key == "machine" and rule.max_per_domain == 1:
                conflict[i] = True
            else:
                touchy.add(names[i])
        if spread is not None and spread[i] is not None:
            touchy.add(names[i])
        if affinity is not None and affinity[i] is not None:
            touchy.add(names[i])
            touchy.add(affinity[i].service)
    if touchy:
        frozen |= np.isin(names, list(touchy))
    # machine anti-affinity counts every container of the service, constrained or not
    conflict_names = set(names[conflict].tolist())
    in_conflict = np.isin(names, list(conflict_names)) if conflict_names else conflict
    service = np.empty(n, np.int64)
    ids: dict[object, int] = {}
    next_id = 0
    for i in range(n):
        if in_conflict[i]:
            key = names[i]
            if key not in ids:
                ids[key] = next_id
                next_id += 1
            service[i] = ids[key]
        else:
            service[i] = next_id
            next_id += 1
    return service, frozen


def generic_cost_model(problem: Problem) -> Any:
    """The ROADEF cost model of a Problem without ROADEF metadata, with defaults.

    Defaults: safety capacity = capacity (so no load cost), load weight 1, no transient
    resources, no balance terms, process move cost 1 per container (weight 1), service
    and machine move weights 0 (machine move costs all 0), one location and one
    neighbourhood (no spread or dependency rules), the conflict rule from
    ``AntiAffinity("machine", 1)``, and the initial assignment ``problem.current``.
    Returns a :class:`~solver.datasets.roadef.RoadefData`.
    """
    from ..datasets.roadef import RoadefData

    if problem.current is None or (problem.current < 0).any():
        raise InvalidProblem(
            f"{problem.name or 'problem'}: field 'current': reassignment needs every "
            "container on a current machine"
        )
    service, _ = _conflict_services(problem)
    m, d = problem.m, problem.d
    s_count = int(service.max(initial=-1)) + 1
    return RoadefData(
        transient=np.zeros(d, np.int64),
        load_weight=np.ones(d, np.int64),
        safety=problem.capacity,
        neighborhood=np.zeros(m, np.int64),
        location=np.zeros(m, np.int64),
        machine_move_cost=np.zeros((m, m), np.int64),
        service=service,
        spread_min=np.zeros(s_count, np.int64),
        dep_ptr=np.zeros(s_count + 1, np.int64),
        dep=np.zeros(0, np.int64),
        process_move_cost=np.ones(problem.n, np.int64),
        balance=np.zeros((0, 3), np.int64),
        balance_weight=np.zeros(0, np.int64),
        move_weights=np.array([1, 0, 0], np.int64),
        initial=problem.current,
    )


def _roadef_view(problem: Problem) -> tuple[Problem, bool]:
    """``problem`` itself if it has ROADEF metadata, else a copy carrying the model."""
    if "roadef" in problem.metadata:
        return problem, True
    data = generic_cost_model(problem)
    view = Problem(
        problem.machines,
        problem.containers,
        current=problem.current,
        name=problem.name,
        metadata={**problem.metadata, "roadef": data},
    )
    return view, False


def _eligibility(problem: Problem, native: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eligibility class of each process and the eligible machines of each class."""
    n, m = problem.n, problem.m
    if native:
        return np.zeros(n, np.int64), np.ones((1, m), np.int64)
    compiled = compile_constraints(problem)
    eligible = np.ascontiguousarray(compiled.eligible, dtype=np.int64)
    eclass = compiled.eclass.astype(np.int64)
    _, frozen = _conflict_services(problem)
    current = problem.current
    stay = compiled.stay
    extra_rows = []
    out = eclass.copy()
    rows = eligible.shape[0]
    for i in range(n):
        if frozen[i] or (stay[i] >= 0 and not eligible[eclass[i], current[i]]):
            row = np.zeros(m, np.int64)
            row[current[i]] = 1
            if not frozen[i]:
                row |= eligible[eclass[i]]
            extra_rows.append(row)
            out[i] = rows
            rows += 1
    if extra_rows:
        eligible = np.ascontiguousarray(np.vstack([eligible, *extra_rows]))
    return out, eligible


# ----------------------------------------------------------------- search state


class _Search:
    """The incremental state, kernel buffers and best-so-far of one run."""

    def __init__(
        self,
        problem: Problem,
        native: bool,
        objective: int,
        seed: int,
        max_moves: int | None,
    ) -> None:
        from ..datasets import roadef

        self.problem = problem
        self.roadef = roadef
        self.state = roadef.RoadefState(problem, problem.current)
        assignment = self.state.assignment
        eclass, eligible = _eligibility(problem, native)
        count = np.bincount(assignment, minlength=problem.m).astype(np.int64)
        params = np.array([problem.n + 1, 1_000_000, 0, 0], np.int64)
        self.objective = objective
        self.extra = (
            eclass, eligible, count, np.array([objective], np.int64), params
        )
        mixed = (int(seed) * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) % 2**64
        self.rng = np.array([mixed or 1], np.uint64)  # xorshift needs a nonzero state
        start = self.value(assignment)
        moved = int((assignment != self.state.static[10]).sum())
        budget = problem.n if max_moves is None else int(max_moves)
        self.ctl = np.array(
            [start, start, 0, moved, budget] + [0] * 11, np.int64
        )
        self.journal = np.zeros((max(4 * problem.n, 64), 2), np.int64)
        self.best = assignment.copy()

    def value(self, assignment: np.ndarray) -> int:
        """Exact objective of ``assignment`` under the chosen objective."""
        if self.objective == 0:
            return self.roadef.cost(self.problem, assignment).total
        if self.objective == 1:
            initial = self.state.static[10]
            used = np.unique(assignment).shape[0]
            return int(used * (self.problem.n + 1) + (assignment != initial).sum())
        used = self.roadef.usage(self.problem, assignment).astype(np.float64)
        cap = self.problem.capacity.astype(np.float64)
        frac = np.divide(used * 1e6, cap, out=np.zeros_like(used), where=cap > 0)
        return int(np.round((frac * frac / 1e6).sum()))

    def run(self, iters: int, swap_pct: int = _SWAP_PCT) -> None:
        """``iters`` local search iterations, ``swap_pct`` percent of them swaps."""
        _k.search(
            self.state.static, self.state.dynamic, self.extra, self.rng,
            self.ctl, self.journal, self.best, iters, swap_pct,
        )

    @property
    def best_cost(self) -> int:
        """Cost of the best state seen."""
        return int(self.ctl[1])

    def best_assignment(self) -> np.ndarray:
        """A copy of the best assignment seen."""
        _k.store_best(self.ctl, self.journal, self.best, self.state.assignment)
        return self.best.copy()

    def reset_to(self, target: np.ndarray, cost: int) -> None:
        """Continue the search from the feasible ``target`` of cost ``cost``."""
        _k.store_best(self.ctl, self.journal, self.best, self.state.assignment)
        _k.restore(self.state.static, self.state.dynamic, self.extra, target)
        self.ctl[0] = cost
        self.ctl[3] = int((target != self.state.static[10]).sum())
        if cost < self.ctl[1]:
            self.ctl[1] = cost
            self.ctl[5] = 0
            self.ctl[6] = 0
        elif cost == self.ctl[1]:
            self.ctl[5] = 0
            self.ctl[6] = 0


# ----------------------------------------------------------------- CP-SAT repair


def _neighbourhood(search: _Search, rng: np.random.Generator, kind: int) -> tuple[
    np.ndarray, np.ndarray
]:
    """Free processes and the machines they may use, for one LNS step."""
    static, dynamic = search.state.static, search.state.dynamic
    assignment, usage = dynamic[0], dynamic[1]
    m = search.problem.m
    safety, weight = static[2], static[4]
    if kind == 2:
        service = static[9]
        s = int(service[rng.integers(service.shape[0])])
        free = np.flatnonzero(service == s)
        own = np.unique(assignment[free])
        others = rng.choice(m, size=min(m, 4), replace=False)
        machines = np.unique(np.concatenate([own, others]))
        return free[:_LNS_PROCESSES], machines
    per_machine = np.bincount(assignment, minlength=m)
    order = rng.permutation(m)
    first = int(rng.integers(m))
    if kind == 1:  # a costly machine (drawn by cost) with partners that have room
        over = (np.maximum(usage - safety, 0) * weight).sum(axis=1).astype(float)
        if over.sum() > 0:
            first = int(rng.choice(m, p=over / over.sum()))
        room = (np.maximum(safety - usage, 0) * weight).sum(axis=1) + 1.0
        order = rng.choice(m, size=m, replace=False, p=room / room.sum())
    chosen = [first]
    total = per_machine[first]
    for j in order:
        if len(chosen) >= 6:
            break
        if j != first and total + per_machine[j] <= _LNS_PROCESSES:
            chosen.append(int(j))
            total += per_machine[j]
    machines = np.array(sorted(chosen), np.int64)
    free = np.flatnonzero(np.isin(assignment, machines))
    if free.shape[0] > _LNS_PROCESSES:
        free = rng.choice(free, size=_LNS_PROCESSES, replace=False)
    return np.sort(free), machines


def _repair(
    search: _Search,
    free: np.ndarray,
    machines: np.ndarray,
    *,
    seconds: float,
    deterministic: float | None,
    workers: int,
    seed: int,
) -> dict[int, int] | None:
    """Solve the sub-problem of ``free`` over ``machines`` with CP-SAT; new machines."""
    from ortools.sat.python import cp_model

    (requests, capacity, safety, transient, load_weight, balance, balance_weight,
     pmc, mmc, service, initial, nbh, loc, spread_min, dep_ptr, dep, rdep_ptr,
     rdep, _svc_ptr, _svc_procs, move_weights) = search.state.static
    (assignment, usage, tusage, moved, _hist, _top, svc_loc, _svc_nloc,
     svc_nbh) = search.state.dynamic
    eclass, eligible = search.extra[0], search.extra[1]
    r_count = requests.shape[1]
    jset = {int(j): k for k, j in enumerate(machines)}
    model = cp_model.CpModel()
    x: dict[tuple[int, int], Any] = {}
    free_set = set(free.tolist())
    # fixed parts on the sub-problem's machines
    used = usage[machines].copy()
    held = tusage[machines].copy()
    s_loc = {}
    s_nbh = {}
    fixed_moved = moved.copy()
    svc_free: dict[int, list[int]] = {}
    for p in free.tolist():
        a = int(assignment[p])
        used[jset[a]] -= requests[p]
        h = int(initial[p])
        held[jset[a]] -= requests[p]
        if h != a and h in jset:
            held[jset[h]] -= requests[p]
        s = int(service[p])
        svc_free.setdefault(s, []).append(p)
        if a != h:
            fixed_moved[s] -= 1
        s_loc.setdefault(s, svc_loc[s].copy())[loc[a]] -= 1
        s_nbh.setdefault(s, svc_nbh[s].copy())[nbh[a]] -= 1
    on_machine: dict[tuple[int, int], int] = {}
    for s in svc_free:
        for q in np.flatnonzero(service == s).tolist():
            if q not in free_set:
                on_machine[(s, int(assignment[q]))] = 1
    for p in free.tolist():
        s = int(service[p])
        choices = []
        for j in machines.tolist():
            if not eligible[eclass[p], j] or (s, j) in on_machine:
                continue
            x[p, j] = model.new_bool_var(f"x[{p},{j}]")
            choices.append(x[p, j])
        if int(assignment[p]) not in [j for (q, j) in x if q == p]:
            return None
        model.add_exactly_one(choices)
    for j in machines.tolist():
        k = jset[j]
        on_j = [p for p in free.tolist() if (p, j) in x]
        for r in range(r_count):
            terms = [int(requests[p, r]) * x[p, j] for p in on_j]
            model.add(sum(terms) + int(used[k, r]) <= int(capacity[j, r]))
            if transient[r]:
                fixed = int(held[k, r]) + sum(
                    int(requests[p, r]) for p in free.tolist() if initial[p] == j
                )
                tterms = [
                    int(requests[p, r]) * x[p, j] for p in on_j if initial[p] != j
                ]
                model.add(sum(tterms) + fixed <= int(capacity[j, r]))
    for procs in svc_free.values():
        for j in machines.tolist():
            here = [x[p, j] for p in procs if (p, j) in x]
            if len(here) > 1:
                model.add_at_most_one(here)
    # spread: enough distinct locations
    for s, procs in svc_free.items():
        base = s_loc[s]
        have = int((base > 0).sum())
        need = int(spread_min[s]) - have
        if need <= 0:
            continue
        lits = []
        for lo in np.unique(loc[machines]).tolist():
            if base[lo] > 0:
                continue
            xs = [x[p, j] for p in procs for j in machines.tolist()
                  if (p, j) in x and loc[j] == lo]
            if xs:
                y = model.new_bool_var(f"loc[{s},{lo}]")
                model.add_bool_or(xs).only_enforce_if(y)
                lits.append(y)
        model.add(sum(lits) >= need)
    # dependencies in the sub-problem's neighbourhoods
    nbhs = np.unique(nbh[machines]).tolist()
    present: dict[tuple[int, int], Any] = {}

    def presence(s: int, n: int) -> Any:
        if (s, n) in present:
            return present[s, n]
        count = s_nbh[s][n] if s in s_nbh else svc_nbh[s, n]
        if count > 0:
            value: Any = True
        else:
            xs = [x[p, j] for p in svc_free.get(s, []) for j in machines.tolist()
                  if (p, j) in x and nbh[j] == n]
            if not xs:
                value = False
            else:
                value = model.new_bool_var(f"nbh[{s},{n}]")
                model.add_max_equality(value, xs)
        present[s, n] = value
        return value

    if len(nbhs) > 1 or any(int(nbh[assignment[p]]) not in nbhs for p in free):
        pairs = set()
        for s in svc_free:
            for k in range(dep_ptr[s], dep_ptr[s + 1]):
                pairs.add((s, int(dep[k])))
            for k in range(rdep_ptr[s], rdep_ptr[s + 1]):
                pairs.add((int(rdep[k]), s))
        for s, d in pairs:
            for n in nbhs:
                a_lit, b_lit = presence(s, n), presence(d, n)
                if a_lit is False or b_lit is True:
                    continue
                if b_lit is False:
                    if a_lit is True:
                        return None
                    model.add(a_lit == 0)
                elif a_lit is True:
                    model.add(b_lit == 1)
                else:
                    model.add_implication(a_lit, b_lit)
    # objective: the parts that depend on the free processes
    terms = []
    for j in machines.tolist():
        k = jset[j]
        on_j = [p for p in free.tolist() if (p, j) in x]
        loads = [
            sum(int(requests[p, r]) * x[p, j] for p in on_j) + int(used[k, r])
            for r in range(r_count)
        ]
        for r in range(r_count):
            if load_weight[r] == 0:
                continue
            top = int(capacity[j, r])
            over = model.new_int_var(0, max(top, 0), f"over[{j},{r}]")
            model.add(over >= loads[r] - int(safety[j, r]))
            terms.append(int(load_weight[r]) * over)
        for b in range(balance.shape[0]):
            r1, r2, t = (int(v) for v in balance[b])
            bound = int(t * capacity[j, r1] + capacity[j, r2]) + 1
            bal = model.new_int_var(0, bound, f"bal[{j},{b}]")
            model.add(bal >= t * (int(capacity[j, r1]) - loads[r1])
                      - (int(capacity[j, r2]) - loads[r2]))
            terms.append(int(balance_weight[b]) * bal)
    w_p, w_s, w_m = (int(w) for w in move_weights)
    moved_terms: dict[int, list[Any]] = {}
    for (p, j), var in x.items():
        h = int(initial[p])
        coef = w_m * int(mmc[h, j])
        if j != h:
            coef += w_p * int(pmc[p])
            moved_terms.setdefault(int(service[p]), []).append(var)
        if coef:
            terms.append(coef * var)
    # a free process whose home is outside the sub-problem is moved wherever it goes
    if w_s:
        top = model.new_int_var(0, len(service), "service_move")
        model.add(top >= int(fixed_moved.max(initial=0)))
        for s in svc_free:
            model.add(top >= int(fixed_moved[s]) + sum(moved_terms.get(s, [])))
        terms.append(w_s * top)
    model.minimize(sum(terms))
    for (p, j), var in x.items():
        model.add_hint(var, int(assignment[p]) == j)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(seconds, 0.01)
    if deterministic is not None:
        solver.parameters.max_deterministic_time = deterministic
    solver.parameters.num_workers = max(int(workers), 1)
    solver.parameters.random_seed = int(seed) % (2**31)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = {}
    for (p, j), var in x.items():
        if solver.value(var) and int(assignment[p]) != j:
            out[p] = j
    return out


def _lns_step(search: _Search, rng: np.random.Generator, **options: Any) -> int:
    """One LNS step from the current state; returns the cost change kept (<= 0)."""
    n, m = search.problem.n, search.problem.m
    if n * m <= _WHOLE:  # small enough to solve whole
        free, machines = np.arange(n), np.arange(m)
    else:
        free, machines = _neighbourhood(search, rng, int(rng.integers(3)))
    if free.shape[0] == 0:
        return 0
    moves = _repair(search, free, machines, seed=int(rng.integers(2**31)), **options)
    if not moves:
        return 0
    static, dynamic = search.state.static, search.state.dynamic
    before = dynamic[0].copy()
    # the best state is kept as a journal of the search's moves since it, and these
    # moves are not journaled: write the best state out first
    _k.store_best(search.ctl, search.journal, search.best, before)
    delta = 0
    for p, j in moves.items():
        delta += int(_k.delta_of(static, dynamic, search.extra, p, j))
        _k.do_move(static, dynamic, search.extra, p, j)
    moved = int((dynamic[0] != static[10]).sum())
    if delta > 0 or moved > search.ctl[4] or search.roadef.check(
        search.problem, dynamic[0]
    ):
        _k.restore(static, dynamic, search.extra, before)
        return 0
    search.ctl[0] += delta
    search.ctl[3] = moved
    if search.ctl[0] < search.ctl[1]:
        search.ctl[1] = search.ctl[0]
        search.ctl[5] = 0
        search.ctl[6] = 0
    return delta


# ----------------------------------------------------------------- public entry points


def _result(
    view: Problem,
    search: _Search,
    started: float,
    history: list[tuple[float, int]],
    before: int,
    bound: int | None,
) -> ReassignResult:
    from ..datasets import roadef

    best = search.best_assignment()
    feasible = not roadef.check(view, best)
    initial = view.metadata["roadef"].initial
    return ReassignResult(
        assignment=best,
        cost_before=roadef.cost(view, initial),
        cost_after=roadef.cost(view, best),
        objective_before=before,
        objective_after=search.value(best),
        moves=int((best != initial).sum()),
        seconds=time.perf_counter() - started,
        feasible=feasible,
        iterations=int(search.ctl[2]),
        history=history,
        bound=bound,
    )


def _start(problem: Problem, objective: str) -> tuple[Problem, bool, int]:
    if objective not in _OBJECTIVE_CODE:
        raise InvalidProblem(
            f"objective {objective!r} is unknown; known: {', '.join(OBJECTIVES)}"
        )
    view, native = _roadef_view(problem)
    from ..datasets import roadef

    broken = roadef.check(view, view.metadata["roadef"].initial)
    if broken:
        raise InvalidProblem(
            f"{problem.name or 'problem'}: field 'current': the current assignment is "
            f"not feasible ({broken[0]})"
        )
    code = _OBJECTIVE_CODE[objective]
    if native and code != 0:
        raise InvalidProblem(
            f"{problem.name or 'problem'}: objective {objective!r} is for problems "
            "without ROADEF costs; use 'cost'"
        )
    return view, native, code


def optimise(
    problem: Problem,
    *,
    time_limit: float,
    seed: int = 0,
    max_moves: int | None = None,
    workers: int = 1,
    progress: Callable[[float, int], None] | None = None,
    iterations: int | None = None,
    objective: str = "cost",
) -> ReassignResult:
    """Minimise the reassignment cost from ``problem.current``, keeping every rule.

    Parameters
    ----------
    problem : a Problem with ``current`` (ROADEF metadata optional, see
        :func:`generic_cost_model`).
    time_limit : seconds of search.
    seed : the run is a function of the seed when ``iterations`` is given and
        ``workers == 1`` (CP-SAT then stops on deterministic time, not the clock).
    max_moves : at most this many containers end away from their initial machine.
    workers : CP-SAT workers of the repair steps.
    progress : called as ``progress(seconds, best_cost)`` when the best cost falls.
    iterations : local search iteration budget (stops before the time limit if spent).
    objective : ``"cost"`` (ROADEF), or for problems without ROADEF costs
        ``"min-machines"`` (machines used, then moves) or ``"balance"`` (sum over
        machines and resources of squared load fractions).
    """
    from ..datasets import roadef

    started = time.perf_counter()
    view, native, code = _start(problem, objective)
    search = _Search(view, native, code, seed, max_moves)
    search.ctl[10] = _EJECT_PCT
    before = int(search.ctl[0])
    rng = np.random.default_rng(seed)
    history = [(0.0, before)]
    counted = iterations is not None
    budget = iterations if counted else np.iinfo(np.int64).max
    step = max(min(_CHUNK, budget // 50), 4)  # iterations per call with a budget
    done = 0
    rates: dict[tuple[int, int], float] = {}  # iterations per second of each mix
    mix = _MoveMix(code != 0 or counted)
    floor = roadef.lower_bound(view) if code == 0 else 0

    def stalled(gain: int, cost: int) -> bool:
        """Descent gained too little to go on; relative to the part of the cost
        above the bound too, else a large fixed cost (b_04's balance) hides it."""
        return gain <= min(cost * _STILL_DESCENDING, (cost - floor) * _STILL_MOVABLE)

    def elapsed() -> float:
        return time.perf_counter() - started

    def share() -> float:
        """Fraction of the budget (iterations or seconds) spent."""
        return done / budget if counted else elapsed() / time_limit

    def over() -> bool:
        return done >= budget or elapsed() >= time_limit

    def note() -> None:
        history.append((elapsed(), search.best_cost))
        if progress is not None:
            progress(*history[-1])

    def local() -> None:
        """One kernel call of about ``_SLICE`` seconds (or ``step`` iterations)."""
        nonlocal done
        moves = mix.moves()
        swap_pct, search.ctl[9] = moves if code == 0 else (moves[0], 0)
        rate = rates.get(moves, 2_000.0)
        if counted:
            iters = int(min(step, budget - done))
        else:
            iters = int(max(rate * min(_SLICE, time_limit - elapsed()), 64))
        old = search.best_cost
        tic = time.perf_counter()
        search.run(iters, swap_pct)
        spent = time.perf_counter() - tic
        mix.update(search.ctl, spent)
        if spent > 1e-3:
            rates[moves] = 0.5 * rate + 0.5 * iters / spent
        done += iters
        if search.best_cost < old:
            note()

    # 1. descent while it pays (each window of _WINDOW of the budget must gain) from
    # the end of a one-window race of the move mixes from the start, the mix then
    # learnt from the gain per second of each
    search.ctl[7] = 0
    search.ctl[15] = _HOME_PCT
    start, start_cost = search.state.assignment.copy(), int(search.ctl[0])
    ends = []  # a race: each arm descends one window from the start
    for arm in range(len(_MIX_ARMS)):
        if arm:
            search.reset_to(start, start_cost)
        mix.forced = arm
        mark = share()
        local()  # at least one call, even when compiling used up the budget
        while not over() and share() < mark + _WINDOW:
            local()
        ends.append((int(search.ctl[0]), arm, search.state.assignment.copy()))
    cost_mark, _, state = min(ends, key=lambda end: end[:2])
    mix.forced = None  # the race's gains per second seed the mix of the descent
    search.reset_to(state, cost_mark)
    mark = share()
    while not over() and share() < _DESCENT_SHARE:
        local()
        if share() - mark >= _WINDOW:
            if stalled(cost_mark - search.best_cost, cost_mark):
                break
            mark, cost_mark = share(), search.best_cost
    # 2. annealing runs from the best state, each cooling _COOLING-fold over
    # _RESTART_SHARE of the budget, up to _ANNEAL_SHARE, while each run improves the
    # best (b_02's first run wins 20 times what descent would; b_09's nothing, where
    # only move costs are left)
    first = share()
    left = _ANNEAL_SHARE - first
    runs = max(round(left / _RESTART_SHARE), 1)
    span = max(left, 0.0) / runs
    for k in range(runs):
        end = first + (k + 1) * span
        if over() or share() >= end:
            continue
        search.reset_to(search.best_assignment(), search.best_cost)
        heat = _HEAT * _temperature(search, rng)
        search.ctl[7] = 2
        search.ctl[15] = 0
        begin, best = share(), search.best_cost
        while share() < end and not over():
            cooled = (share() - begin) / max(end - begin, 1e-9)
            search.ctl[8] = int(heat * _COOLING ** cooled)
            local()
        if search.best_cost >= best:
            break
    # 3. plain descent and exact repair of neighbourhoods around the best state, each
    # given the share of the time its gain per second earns
    search.reset_to(search.best_assignment(), search.best_cost)
    search.ctl[7] = 0
    search.ctl[15] = _HOME_PCT
    memory = _LATE_HALF_LIFE * (budget if counted else time_limit)
    late = _Shares(2, _LATE_FLOOR, memory)
    fails = 0  # sub-problems get longer limits while nothing improves
    while not over():
        old = search.best_cost
        if code != 0 or late.pick() == 0:
            tic, ran = time.perf_counter(), done
            local()
            spent = done - ran if counted else time.perf_counter() - tic
            late.credit(0, old - search.best_cost, spent)
            continue
        left_s = time_limit - elapsed()
        if left_s <= 0.05:
            break
        limit = 0.5 * 2 ** min(fails // 10, 4)
        if view.n * view.m <= _WHOLE and not counted:
            limit = left_s  # one exact solve of the whole instance
        tic = time.perf_counter()
        gain = _lns_step(  # with a budget, CP-SAT stops on deterministic time
            search, rng, seconds=left_s if counted else min(limit, left_s),
            workers=workers, deterministic=limit if counted else None,
        )
        # with a budget, a repair counts as the iterations of a descent call of
        # its deterministic limit
        spent = limit * step / _SLICE if counted else time.perf_counter() - tic
        late.credit(1, -gain, spent)
        fails = 0 if gain < 0 else fails + 1
        if gain < 0:
            note()
    return _result(view, search, started, history, before, floor if code == 0 else None)


class _Shares:
    """Time shares of competing activities, by what each gains per second.

    Each activity's cost decrease and seconds are summed with a decay (halving every
    ``half_life`` credited seconds); its target share of the time is ``floor`` plus
    its rate's share of the rest; :meth:`pick` returns the activity furthest below
    its target share of the (decayed) time spent.
    """

    def __init__(self, arms: int, floor: float, half_life: float) -> None:
        self.floor = floor
        self.half_life = half_life
        self.gain = np.ones(arms)  # decayed gain and seconds of learning credits
        self.time = np.full(arms, 1e-3)
        self.spent = np.full(arms, 1e-3)  # decayed seconds of every credit

    def pick(self) -> int:
        """The activity to run next."""
        rate = self.gain / self.time
        free = 1 - self.floor * rate.shape[0]
        target = self.floor + free * rate / max(rate.sum(), 1e-300)
        return int(np.argmax(target - self.spent / self.spent.sum()))

    def credit(self, arm: int, gain: float, seconds: float, learn: bool = True) -> None:
        """Count ``seconds`` spent on ``arm``; with ``learn``, its ``gain`` too."""
        keep = 0.5 ** (seconds / self.half_life)
        if learn:
            self.gain *= keep
            self.time *= keep
            self.gain[arm] += gain
            self.time[arm] += seconds
        self.spent *= keep
        self.spent[arm] += seconds


class _MoveMix:
    """Swap-heavy, shift-heavy or random kernel calls, by which wins more per second.

    Each kernel call uses one of the arms ``_MIX_ARMS`` (swaps and scans); the cost
    decrease its moves won (the kernel's counters) and its seconds are credited to
    the arm's :class:`_Shares`. ``fixed`` (an iteration budget or another objective)
    keeps ``_SWAP_PCT`` and ``_SCAN_PCT`` for a run that depends on the seed only.
    """

    def __init__(self, fixed: bool) -> None:
        self.fixed = fixed
        self.arm = 0
        self.shares = _Shares(len(_MIX_ARMS), _MIX_FLOOR, _MIX_HALF_LIFE)
        self.seen = 0
        self.forced: int | None = None

    def moves(self) -> tuple[int, int]:
        """Percent of swaps and of scanning shifts for the next kernel call."""
        if self.fixed:
            return _SWAP_PCT, _SCAN_PCT
        self.arm = self.shares.pick() if self.forced is None else self.forced
        return _MIX_ARMS[self.arm]

    def update(self, ctl: np.ndarray, seconds: float) -> None:
        """Credit the last kernel call's cost decrease and seconds to its arm.

        Only descent calls teach (annealing's decreases undo its own rises); while
        annealing, the shares learnt in the descents before stay.
        """
        won = int(ctl[11] + ctl[12])
        self.shares.credit(self.arm, won - self.seen, seconds, learn=ctl[7] == 0)
        self.seen = won


def _temperature(search: _Search, rng: np.random.Generator) -> float:
    """Temperature scale: the 10th percentile of the cost rises of allowed moves.

    Samples the cost change of moving up to 200 random processes to every machine
    at the current state; 1 when no move raises the cost.
    """
    from ..datasets import roadef

    changes = []
    n, m = search.problem.n, search.problem.m
    for p in rng.choice(n, size=min(n, 200), replace=False).tolist():
        if search.objective == 0:
            delta, allowed = roadef.process_moves(search.state, p)
        else:
            delta = np.array([
                _k.delta_of(search.state.static, search.state.dynamic, search.extra,
                            p, j)
                for j in range(m)
            ])
            allowed = np.ones(m, bool)
        allowed[search.state.assignment[p]] = False
        changes.append(delta[allowed])
    values = np.concatenate(changes) if changes else np.zeros(0)
    rises = values[values > 0]
    if rises.shape[0] == 0:
        return 1.0
    return max(float(np.percentile(rises, 10)), 1.0)


def hill_climb(problem: Problem, time_limit: float, seed: int = 0) -> ReassignResult:
    """The comparison baseline: random shift and swap moves, first improvement only.

    Every hard constraint is kept; the search stops at the time limit. It has no way
    out of a local optimum, which is what :func:`optimise` adds.
    """
    started = time.perf_counter()
    view, native, code = _start(problem, "cost")
    search = _Search(view, native, code, seed, None)
    before = int(search.ctl[0])
    history = [(0.0, before)]
    bound = search.roadef.lower_bound(view)
    while time.perf_counter() - started < time_limit:
        old = search.best_cost
        search.run(_CHUNK, _BASELINE_SWAP_PCT)
        if search.best_cost < old:
            history.append((time.perf_counter() - started, search.best_cost))
    return _result(view, search, started, history, before, bound)


def rebalance_file(
    path: str | Path,
    *,
    objective: str = "cost",
    max_moves: int | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
) -> dict[str, object]:
    """Read ``path``, optimise from its current assignment, return the JSON fields.

    Keys: ``instance, objective, cost_before, cost_after, moves, machines_freed,
    feasible, seconds`` (as ``tetrimino rebalance --json`` prints) and ``assignment``
    (list of machine ids). ``cost_*`` are the chosen objective's values.
    """
    from .. import datasets

    problem = datasets.read(path)
    result = optimise(
        problem, time_limit=time_limit, seed=seed, max_moves=max_moves,
        objective=objective,
    )
    initial = problem.current
    freed = np.unique(initial).shape[0] - np.unique(result.assignment).shape[0]
    return {
        "instance": problem.name or Path(path).stem,
        "objective": objective,
        "cost_before": result.objective_before,
        "cost_after": result.objective_after,
        "moves": result.moves,
        "machines_freed": int(freed),
        "feasible": result.feasible,
        "seconds": round(result.seconds, 3),
        "assignment": result.assignment.tolist(),
    }


@dataclass
class ReassignEngine:
    """Engine ``reassign``: :func:`optimise` behind the Engine protocol."""

    max_moves: int | None = None
    workers: int = 1
    objective: str = "cost"
    name: str = "reassign"

    def solve(
        self, problem: Problem, *, time_limit: float | None = None, seed: int = 0
    ) -> Placement:
        """Optimise from ``problem.current``; objective = cost after (10 s default)."""
        result = optimise(
            problem,
            time_limit=10.0 if time_limit is None else time_limit,
            seed=seed,
            max_moves=self.max_moves,
            workers=self.workers,
            objective=self.objective,
        )
        return Placement(
            assignment=result.assignment,
            engine=self.name,
            status=Status.FEASIBLE,
            seconds=result.seconds,
            objective=float(result.objective_after),
            options={"max_moves": self.max_moves, "objective": self.objective},
        )


register("reassign", ReassignEngine)
