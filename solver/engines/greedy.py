"""Greedy engines: an order x a rule x a score, run as one Numba pass over containers.

Presets are data: each registered name (``ff``, ``ffd``, ``bfd``, ``k8s-least``, ...) is
a :class:`GreedyEngine` with its order, rule and score filled in, and any of them can be
overridden through ``solver.engines.get(name, **options)``, e.g.
``get("bfd", candidates=64)`` scores 64 feasible machines per container instead of all.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from functools import partial

import numpy as np

from ..constraints import CompiledConstraints, compile_constraints
from ..errors import InvalidProblem
from ..model import UP, Problem
from ..placement import Placement, Status
from . import register

ORDERS = ("none", "sum", "max", "l2", "share", "priority")
RULES = ("first", "best", "worst")
SCORES = (
    "sum", "l2", "dot", "k8s-least", "k8s-most", "k8s-balanced", "epvm", "nomad",
)
OPTIONS = ("order", "rule", "score", "candidates", "open_first")

#: name -> (order, rule, score, open_first). The vector bin-packing heuristics (bfd,
#: wfd, dot, l2; Panigrahy et al. 2011) are bin-centric: they score only machines in
#: use and open a new one when none fits. k8s-*, nomad and epvm score every feasible
#: machine, as the schedulers they name do, in the queue's priority order.
PRESETS: dict[str, tuple[str, str, str | None, bool]] = {
    "ff": ("none", "first", None, False),
    "ffd": ("sum", "first", None, False),
    "bfd": ("sum", "best", "sum", True),
    "wfd": ("sum", "worst", "sum", True),
    "dot": ("sum", "best", "dot", True),
    "l2": ("sum", "best", "l2", True),
    "k8s-least": ("priority", "best", "k8s-least", False),
    "k8s-most": ("priority", "best", "k8s-most", False),
    "k8s-balanced": ("priority", "best", "k8s-balanced", False),
    "nomad": ("priority", "best", "nomad", False),
    "epvm": ("priority", "best", "epvm", False),
}


@dataclass(frozen=True)
class GreedyEngine:
    """One greedy policy: containers in ``order``, each to a machine chosen by ``rule``.

    ``rule`` is ``first`` (lowest machine index that fits), ``best`` (highest ``score``)
    or ``worst`` (lowest ``score``). ``candidates`` = K stops after K feasible machines
    visited from a rotating start, as kube-scheduler's percentageOfNodesToScore; None
    scores every feasible machine. With ``open_first`` only machines already in use
    are scored, and a new machine (the best-scored empty one, ties lowest index) is
    opened only when none of them fits. The pass is deterministic: ``seed`` and
    ``time_limit`` are accepted for the Engine protocol and do not change the result.
    """

    name: str
    order: str = "sum"
    rule: str = "first"
    score: str | None = None
    candidates: int | None = None
    open_first: bool = False

    def __post_init__(self) -> None:
        _choice("order", self.order, ORDERS)
        _choice("rule", self.rule, RULES)
        if self.rule == "first":
            object.__setattr__(self, "score", None)
        else:
            _choice("score", self.score or "sum", SCORES)
            object.__setattr__(self, "score", self.score or "sum")
        k = self.candidates
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise InvalidProblem(
                f"engine {self.name!r}: option 'candidates' must be a positive integer "
                f"or None, got {k!r}"
            )
        if not isinstance(self.open_first, bool | np.bool_):
            raise InvalidProblem(
                f"engine {self.name!r}: option 'open_first' must be True or False, "
                f"got {self.open_first!r}"
            )
        object.__setattr__(self, "open_first", bool(self.open_first))

    def solve(
        self,
        problem: Problem,
        *,
        time_limit: float | None = None,
        seed: int = 0,
    ) -> Placement:
        """Place ``problem``'s containers greedily; unplaced ones carry reasons."""
        from ..explain import why_not

        start = time.perf_counter()
        compiled = compile_constraints(problem)
        order = container_order(problem, self.order, compiled)
        assignment, devices = run(
            problem, compiled, order, self.rule, self.score, self.candidates,
            self.open_first,
        )
        reasons = {}
        if (assignment < 0).any():
            reasons = why_not(problem, assignment, compiled, devices)
        placed = assignment >= 0
        used = int(np.unique(assignment[placed]).shape[0])
        return Placement(
            assignment=assignment,
            engine=self.name,
            status=Status.FEASIBLE if placed.all() else Status.PARTIAL,
            seconds=time.perf_counter() - start,
            objective=float(used),
            reasons=reasons,
            options={k: v for k, v in asdict(self).items() if k != "name"},
            devices=devices,
        )


def _choice(option: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidProblem(
            f"greedy option {option!r}: unknown value {value!r}; use one of "
            f"{', '.join(allowed)}"
        )


def preset(name: str, **options: object) -> GreedyEngine:
    """Registered preset ``name`` with ``options`` (order, rule, score, candidates,
    open_first)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InvalidProblem(
            f"engine {name!r}: unknown option {unknown[0]!r}; accepted options: "
            f"{', '.join(OPTIONS)}"
        )
    order, rule, score, open_first = PRESETS[name]
    engine = GreedyEngine(name, order, rule, score, open_first=open_first)
    return replace(engine, **options) if options else engine


def normalised(problem: Problem) -> np.ndarray:
    """float64[d]: 1 / the fleet's largest capacity per dimension (0 if all are 0)."""
    top = problem.capacity.max(axis=0, initial=0).astype(np.float64)
    return np.divide(1.0, top, out=np.zeros_like(top), where=top > 0)


def order_keys(problem: Problem, order: str) -> np.ndarray:
    """Sort keys (larger first) of ``order``: a size, or the priority."""
    req = problem.requests
    if order == "priority":
        return problem.containers.priority
    if problem.d == 1 and order != "share":
        return req[:, 0]
    if order == "share":
        total = problem.capacity[problem.machines.state != 2].sum(axis=0)
        inv = np.divide(
            1.0, total.astype(np.float64), out=np.zeros(problem.d), where=total > 0
        )
        return (req * inv).max(axis=1)
    x = req * normalised(problem)
    if order == "sum":
        return x.sum(axis=1)
    if order == "max":
        return x.max(axis=1)
    return np.sqrt((x * x).sum(axis=1))


def container_order(
    problem: Problem, order: str, compiled: CompiledConstraints | None = None
) -> np.ndarray:
    """int64[n] visiting order: pinned first, then ``order`` (decreasing, stable).

    Containers with a required affinity to another service wait until the first
    container of that service has had its turn.
    """
    n = problem.n
    if order == "none":
        out = np.arange(n, dtype=np.int64)
    else:
        out = np.argsort(-order_keys(problem, order), kind="stable").astype(np.int64)
    if compiled is None or compiled.trivial:
        return out
    out = _targets_first(out, compiled)
    pinned = compiled.pin[out] >= 0
    return np.ascontiguousarray(np.concatenate([out[pinned], out[~pinned]]))


def _targets_first(order: np.ndarray, cc: CompiledConstraints) -> np.ndarray:
    """Move required-affinity dependants just after their target's first container."""
    target = np.full(len(cc.at_service), -1, np.int64)
    names = {s: k for k, s in enumerate(cc.services)}
    for g, svc in enumerate(cc.at_service):
        target[g] = names.get(svc, -1)
    dep = np.flatnonzero((cc.af_group >= 0) & cc.af_required & ~cc.af_self)
    if not len(dep):
        return order
    n = order.shape[0]
    pos = np.empty(n, np.float64)
    pos[order] = np.arange(n)
    rank = pos.copy()
    dep_target = target[cc.af_group[dep]]
    for _ in range(8):  # chains of dependants settle in a few rounds; cycles stop here
        first = np.full(len(cc.services) + 1, np.inf)
        np.minimum.at(first, cc.service_id, rank)
        want = np.where(dep_target >= 0, first[dep_target] + 0.5, np.inf)
        new = np.maximum(pos[dep], want)
        if np.array_equal(new, rank[dep]):
            break
        rank[dep] = new
    return np.lexsort((pos, rank)).astype(np.int64)


def kernel_rules(cc: CompiledConstraints) -> tuple[np.ndarray, ...]:
    """The compiled rule arrays in the order the kernels index them."""
    return (
        cc.service_id, cc.domain, cc.n_domains, cc.aa_ptr, cc.aa_groups, cc.aa_key,
        cc.aa_limit, cc.aa_off, cc.aa_own_key, cc.sp_group, cc.sp_key, cc.sp_skew,
        cc.sp_off, cc.sp_valid, cc.af_group, cc.af_required, cc.af_self, cc.at_ptr,
        cc.at_groups, cc.at_key, cc.at_off,
    )


@dataclass
class _Gpu:
    """Device-level GPU state: free milli-GPU per device, machine j's at goff[j]:."""

    requests: np.ndarray  # int64[n, 2] (num_gpu, gpu_milli)
    features: np.ndarray  # int64[m, 2] (fully free devices, largest free share)
    gfree: np.ndarray  # int64[total devices]
    goff: np.ndarray  # int64[m + 1]
    devices: np.ndarray  # int32[n, k] device indices per container, -1 padded


def _gpu(problem: Problem) -> _Gpu | None:
    """The GPU sharing state of an empty fleet, or None when nobody asks for GPUs."""
    from ._kernels import GPU_MILLI

    cont = problem.containers
    if cont.num_gpu is None:
        return None
    gpus = problem.machines.gpus.astype(np.int64)
    goff = np.zeros(problem.m + 1, np.int64)
    np.cumsum(gpus, out=goff[1:])
    whole = cont.num_gpu.astype(np.int64)
    return _Gpu(
        requests=np.column_stack([whole, cont.gpu_milli]).astype(np.int64),
        features=np.column_stack([gpus, np.where(gpus > 0, GPU_MILLI, 0)]),
        gfree=np.full(int(goff[-1]), GPU_MILLI, np.int64),
        goff=goff,
        devices=np.full((problem.n, max(1, int(whole.max(initial=0)))), -1, np.int32),
    )


def _types(problem: Problem, ok: np.ndarray) -> tuple[np.ndarray, int]:
    """Capacity type of each usable machine (int64[m]) and the number of types."""
    rows = np.column_stack([problem.capacity, problem.machines.gpus])[ok]
    mtype = np.zeros(problem.m, np.int64)
    if not len(rows):
        return mtype, 0
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    mtype[ok] = inverse.reshape(-1)
    return mtype, int(uniq.shape[0])


def _pass(
    problem: Problem,
    cc: CompiledConstraints,
    order: np.ndarray,
    rule: str,
    score: str | None,
    candidates: int | None,
    open_first: bool,
    residual: np.ndarray,
    ok: np.ndarray,
    used: np.ndarray,
    stay: np.ndarray,
    counters: tuple[np.ndarray, ...],
    assignment: np.ndarray,
    gpu: _Gpu | None,
) -> None:
    """Build the trees and run the kernel; ``assignment`` and the state fill in place.

    ``residual`` (int64[m, d]) is the capacity left, ``ok`` (bool[m]) the machines new
    placements may use, ``used`` (bool[m]) the machines already running something,
    ``counters`` = (counts, sp_min, sp_nmin, at_total, quota_used).
    """
    from . import _kernels as kr
    from ._tree_kernels import tree_build

    req = np.ascontiguousarray(problem.requests, dtype=np.int64)
    if gpu is not None:
        req = np.ascontiguousarray(np.hstack([req, gpu.requests]))
        residual = np.ascontiguousarray(np.hstack([residual, gpu.features]))
    open_first = open_first and rule != "first"
    if open_first:
        state = tree_build(residual, np.ascontiguousarray(ok & used))
        estate = tree_build(residual, np.ascontiguousarray(ok & ~used))
        mtype, ntypes = _types(problem, ok)
    else:
        state = estate = tree_build(residual, np.ascontiguousarray(ok))
        mtype, ntypes = np.zeros(problem.m, np.int64), 0
    counts, sp_min, sp_nmin, at_total, quota_used = counters
    devices = gpu.devices if gpu is not None else np.zeros((0, 1), np.int32)
    kr.greedy_pass(
        req, np.ascontiguousarray(order, dtype=np.int64), state, estate, residual,
        np.ascontiguousarray(problem.capacity, dtype=np.int64), normalised(problem),
        problem.d, RULES.index(rule),
        SCORES.index(score) if score and rule != "first" else 0,
        candidates or 0, float(max(problem.m, 2)), open_first, mtype, ntypes,
        not cc.trivial, cc.eclass, cc.eligible, stay, cc.pin, kernel_rules(cc),
        sp_min, sp_nmin, at_total, cc.ns_id, cc.quota, quota_used, counts,
        gpu is not None,
        gpu.gfree if gpu is not None else np.zeros(0, np.int64),
        gpu.goff if gpu is not None else np.zeros(1, np.int64),
        devices, assignment,
    )


def run(
    problem: Problem,
    cc: CompiledConstraints,
    order: np.ndarray,
    rule: str,
    score: str | None,
    candidates: int | None,
    open_first: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the greedy kernel on an empty fleet.

    Returns the int32[n] machine per container (-1 unplaced) and, when containers ask
    for GPUs, the int32 (n, k) device indices each got on its machine (-1 padded).
    """
    from ._tree_kernels import first_fit

    residual = np.ascontiguousarray(problem.capacity, dtype=np.int64).copy()
    usable = np.ascontiguousarray(problem.machines.state == UP)
    gpu = _gpu(problem)
    if cc.trivial and rule == "first" and gpu is None:
        order = np.ascontiguousarray(order, dtype=np.int64)
        req = np.ascontiguousarray(problem.requests, dtype=np.int64)
        return np.asarray(first_fit(req, order, residual, usable), dtype=np.int32), None
    assignment = np.full(problem.n, -1, np.int32)
    sp_nmin = np.array(
        [
            int(cc.sp_valid[o : o + cc.n_domains[k]].sum())
            for o, k in zip(cc.sp_off, cc.sp_key, strict=True)
        ],
        np.int64,
    )
    counters = (
        np.zeros(cc.n_counts, np.int64), np.zeros(len(cc.sp_key), np.int64), sp_nmin,
        np.zeros(len(cc.at_key), np.int64), np.zeros_like(cc.quota),
    )
    _pass(
        problem, cc, order, rule, score, candidates, open_first, residual, usable,
        np.zeros(problem.m, bool), cc.stay, counters, assignment, gpu,
    )
    return assignment, None if gpu is None else gpu.devices


for _name in PRESETS:
    register(_name, partial(preset, _name))


def preload(
    problem: Problem, cc: CompiledConstraints, assignment: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Kernel state of the containers ``assignment`` already places (int, -1 = none).

    Returns ``(residual, counts, sp_min, sp_nmin, at_total, quota_used)`` as
    :func:`run` would hold them after placing exactly those containers, so a later
    pass over other containers sees the same capacity and per-domain counters.
    """
    a = np.asarray(assignment, dtype=np.int64)
    placed = np.flatnonzero(a >= 0)
    on = a[placed]
    residual = np.ascontiguousarray(problem.capacity, dtype=np.int64).copy()
    req = problem.requests[placed]
    for k in range(problem.d):
        residual[:, k] -= np.bincount(on, req[:, k], problem.m).astype(np.int64)
    counts = np.zeros(cc.n_counts, np.int64)
    svc = cc.service_id[placed].astype(np.int64)
    for ptr, groups, key, off in (
        (cc.aa_ptr, cc.aa_groups, cc.aa_key, cc.aa_off),
        (cc.at_ptr, cc.at_groups, cc.at_key, cc.at_off),
    ):
        width = (ptr[svc + 1] - ptr[svc]) if len(ptr) > 1 else np.zeros(len(svc), int)
        rows = np.repeat(np.arange(len(svc)), width)
        if not len(rows):
            continue
        first = np.repeat(ptr[svc], width)
        step = np.arange(len(rows)) - np.repeat(np.cumsum(width) - width, width)
        g = groups[first + step]
        x = cc.domain[key[g], on[rows]]
        np.add.at(counts, off[g][x >= 0] + x[x >= 0], 1)
    at_total = np.zeros(len(cc.at_key), np.int64)
    if len(cc.at_key) and len(svc):
        width = cc.at_ptr[svc + 1] - cc.at_ptr[svc]
        first = np.repeat(cc.at_ptr[svc], width)
        step = np.arange(int(width.sum())) - np.repeat(np.cumsum(width) - width, width)
        np.add.at(at_total, cc.at_groups[first + step], 1)
    h = cc.sp_group[placed]
    spread = h >= 0
    if spread.any():
        x = cc.domain[cc.sp_key[h[spread]], on[spread]]
        np.add.at(counts, cc.sp_off[h[spread]] + x, 1)
    sp_min = np.zeros(len(cc.sp_key), np.int64)
    sp_nmin = np.zeros(len(cc.sp_key), np.int64)
    for g, (o, k) in enumerate(zip(cc.sp_off, cc.sp_key, strict=True)):
        span = slice(int(o), int(o + cc.n_domains[k]))
        valid = counts[span][cc.sp_valid[span]]
        if len(valid):
            sp_min[g] = valid.min()
            sp_nmin[g] = int((valid == sp_min[g]).sum())
    quota_used = np.zeros_like(cc.quota)
    ns = cc.ns_id[placed]
    for q in range(len(cc.namespaces)):
        quota_used[q] = req[ns == q].sum(axis=0)
    return residual, counts, sp_min, sp_nmin, at_total, quota_used


def place_into(
    problem: Problem,
    cc: CompiledConstraints,
    assignment: np.ndarray,
    todo: np.ndarray,
    rule: str = "best",
    score: str | None = "sum",
    candidates: int | None = None,
    *,
    held: np.ndarray | None = None,
    usable: np.ndarray | None = None,
    held_rules: bool = False,
    open_first: bool = False,
) -> np.ndarray:
    """Place the containers ``todo`` (in that order) around those already placed.

    ``assignment`` (int, shape (n,), -1 = none) gives the containers already running;
    their capacity and constraint counters are loaded first. ``held`` (int, shape
    (n,)) optionally names machines whose capacity a container still occupies without
    counting for the rules (the old copy of a make-before-break move). ``usable``
    (bool, shape (m,)) narrows the machines new placements may use (default: machines
    up). A container never keeps a cordoned machine here: every placement is new.
    With ``held_rules`` the held copies also count for anti-affinity and affinity
    (both copies exist while the new one starts); spread always counts the state
    after the old copies stop. ``open_first`` makes a scoring rule bin-centric (see
    :class:`GreedyEngine`); GPU device requests are not placed here. Returns int32[n]:
    ``assignment`` with each ``todo`` container's machine (-1 when it did not fit).
    """
    out = np.asarray(assignment, dtype=np.int32).copy()
    todo = np.ascontiguousarray(todo, dtype=np.int64)
    out[todo] = -1
    residual, counts, sp_min, sp_nmin, at_total, quota_used = preload(problem, cc, out)
    if held is not None:
        h = np.asarray(held, dtype=np.int64)
        rows = np.flatnonzero(h >= 0)
        for k in range(problem.d):
            residual[:, k] -= np.bincount(
                h[rows], problem.requests[rows, k], problem.m
            ).astype(np.int64)
        if held_rules and len(rows):
            both = out.copy()
            both[rows] = h[rows]
            _, counted, _, _, at_total, _ = preload(problem, cc, both)
            for off, key in ((cc.aa_off, cc.aa_key), (cc.at_off, cc.at_key)):
                for o, k in zip(off, key, strict=True):
                    span = slice(int(o), int(o + cc.n_domains[k]))
                    counts[span] = counted[span]
    ok = problem.machines.state == UP
    if usable is not None:
        ok = ok & np.asarray(usable, dtype=bool)
    used = (residual != problem.capacity).any(axis=1)
    used[out[out >= 0]] = True
    _pass(
        problem, cc, todo, rule, score, candidates, open_first, residual,
        np.ascontiguousarray(ok), used, np.full(problem.n, -1, np.int32),
        (counts, sp_min, sp_nmin, at_total, quota_used), out, None,
    )
    return out
