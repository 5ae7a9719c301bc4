"""Obvious plain-Python references: twins of the greedy kernels, read straight from
the Problem, and an exhaustive bin-packing optimum.

Nothing here uses the compiled constraint arrays: every rule is re-read from the
containers' and machines' own fields, so a compilation bug cannot hide.
"""

from __future__ import annotations

import math

from solver.model import CORDONED, DOWN, UP, Problem

SCORES = (
    "sum", "l2", "dot", "k8s-least", "k8s-most", "k8s-balanced", "epvm", "nomad",
)


def fewest_bins(requests, capacity) -> int:
    """Fewest identical bins of ``capacity`` (length d) holding every request (rows of
    length d), by exhaustive search; every request must fit an empty bin."""
    items = sorted(
        ([int(x) for x in row] for row in requests), key=lambda row: -sum(row)
    )
    cap = [int(c) for c in capacity]
    best = len(items)
    loads: list[list[int]] = []

    def place(i: int) -> None:
        nonlocal best
        if len(loads) >= best:
            return
        if i == len(items):
            best = len(loads)
            return
        for load in loads:
            if all(x + r <= c for x, r, c in zip(load, items[i], cap, strict=True)):
                load[:] = [x + r for x, r in zip(load, items[i], strict=True)]
                place(i + 1)
                load[:] = [x - r for x, r in zip(load, items[i], strict=True)]
        loads.append(list(items[i]))
        place(i + 1)
        loads.pop()

    place(0)
    return best


def ffd_1d(sizes: list[int], capacities: list[int]) -> list[int]:
    """Textbook first-fit decreasing in one dimension: machine per item, -1 if none."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    free = list(capacities)
    out = [-1] * len(sizes)
    for i in order:
        for j, room in enumerate(free):
            if room >= sizes[i]:
                free[j] -= sizes[i]
                out[i] = j
                break
    return out


def score(kind: str, res: list[int], cap: list[int], req: list[int],
          scale: list[float], base: float) -> float:
    """One machine's score for one request, higher is better (same formulas)."""
    d = len(req)
    s = 0.0
    if kind == "sum":
        for k in range(d):
            s -= float(res[k] - req[k]) * scale[k]
    elif kind == "l2":
        for k in range(d):
            x = float(res[k] - req[k]) * scale[k]
            s -= x * x
    elif kind == "dot":
        for k in range(d):
            s += (float(req[k]) * scale[k]) * (float(res[k]) * scale[k])
    elif kind in ("k8s-least", "k8s-most"):
        used = 0
        for k in range(d):
            if cap[k] > 0:
                frac = float(cap[k] - res[k] + req[k]) / float(cap[k])
                s += (1.0 - frac) * 100.0 if kind == "k8s-least" else frac * 100.0
                used += 1
        if used:
            s /= used
    elif kind == "k8s-balanced":
        fr = [
            min(float(cap[k] - res[k] + req[k]) / float(cap[k]), 1.0)
            for k in range(d) if cap[k] > 0
        ]
        var = 0.0
        if fr:
            total = 0.0
            for f in fr:
                total += f
            mean = total / len(fr)
            for f in fr:
                var += (f - mean) * (f - mean)
            var /= len(fr)
        s = (1.0 - math.sqrt(var)) * 100.0
    elif kind == "epvm":
        for k in range(d):
            if cap[k] > 0:
                before = float(cap[k] - res[k]) / float(cap[k])
                after = float(cap[k] - res[k] + req[k]) / float(cap[k])
                s -= base**after - base**before
    else:
        for k in range(d):
            if cap[k] > 0:
                s += 10.0 - 10.0 ** (float(res[k] - req[k]) / float(cap[k]))
    return s


def _label(problem: Problem, key: str, j: int) -> object:
    if key == "machine":
        return j
    return problem.machines.labels.get(key, [None] * problem.m)[j]


def _passes_filters(problem: Problem, i: int, j: int) -> bool:
    """node_selector and taints only."""
    c, mach = problem.containers, problem.machines
    sel = c.node_selector[i] if c.node_selector is not None else None
    for key, value in (sel or {}).items():
        if _label(problem, key, j) != value:
            return False
    return mach.taint_set(j) <= c.tolerations_of(i)


class Replay:
    """Placement state of a greedy pass, with a plain feasibility check per machine."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        self.a = [-1] * problem.n
        self.res = [list(map(int, row)) for row in problem.capacity]
        self.used: dict[str, list[int]] = {ns: [0] * problem.d for ns in problem.quotas}
        self.gfree = [[1000] * int(g) for g in problem.machines.gpus]
        self.devices: list[list[int]] = [[] for _ in range(problem.n)]

    def gpu_ask(self, i: int) -> tuple[int, int]:
        """(whole GPUs, milli-GPU share) container i asks for."""
        c = self.p.containers
        if c.num_gpu is None:
            return 0, 0
        return int(c.num_gpu[i]), int(c.gpu_milli[i])

    def gpu_fits(self, i: int, j: int) -> bool:
        """Machine j has the whole devices or the one-device share container i asks."""
        whole, milli = self.gpu_ask(i)
        free = self.gfree[j]
        if sum(1 for f in free if f == 1000) < whole:
            return False
        return milli == 0 or any(f >= milli for f in free)

    def _svc(self, i: int) -> str:
        return str(self.p.containers.service[i])

    def _aa_limits(self, service: str) -> dict[str, int]:
        """Per key, the smallest max_per_domain among the service's containers."""
        c = self.p.containers
        out: dict[str, int] = {}
        if c.anti_affinity is None:
            return out
        for i in range(self.p.n):
            rule = c.anti_affinity[i]
            if rule is not None and self._svc(i) == service:
                key = rule.topology_key
                out[key] = min(out.get(key, rule.max_per_domain), rule.max_per_domain)
        return out

    def feasible(self, i: int, j: int) -> bool:
        """Can container i go on machine j now?"""
        p, c = self.p, self.p.containers
        state = p.machines.state[j]
        current = -1 if p.current is None else int(p.current[i])
        if p.pinned is not None and p.pinned[i] and j != current:
            return False
        if state == DOWN or (state == CORDONED and j != current):
            return False
        if not _passes_filters(p, i, j):
            return False
        req = [int(x) for x in p.requests[i]]
        if any(self.res[j][k] < req[k] for k in range(p.d)):
            return False
        if not self.gpu_fits(i, j):
            return False
        ns = str(c.namespace[i])
        if ns in self.used:
            limit = p.quotas[ns]
            if any(self.used[ns][k] + req[k] > limit[k] for k in range(p.d)):
                return False
        svc = self._svc(i)
        placed = [t for t in range(p.n) if self.a[t] >= 0]
        own = c.anti_affinity[i] if c.anti_affinity is not None else None
        for key, limit in self._aa_limits(svc).items():
            dom = _label(p, key, j)
            if dom is None:
                if own is not None and own.topology_key == key:
                    return False
                continue
            same = [t for t in placed if self._svc(t) == svc
                    and _label(p, key, self.a[t]) == dom]
            if len(same) >= limit:
                return False
        spread = c.spread[i] if c.spread is not None else None
        if spread is not None and not self._spread_ok(i, j, spread, placed):
            return False
        aff = c.affinity[i] if c.affinity is not None else None
        if aff is not None and aff.required:
            dom = _label(p, aff.topology_key, j)
            if dom is None:
                return False
            targets = [t for t in placed if self._svc(t) == aff.service]
            free = aff.service == svc and not targets
            if not free and not any(
                _label(p, aff.topology_key, self.a[t]) == dom for t in targets
            ):
                return False
        return True

    def _spread_ok(self, i: int, j: int, spread, placed: list[int]) -> bool:
        p, c = self.p, self.p.containers
        key = spread.topology_key
        dom = _label(p, key, j)
        if dom is None:
            return False

        def same_group(t: int) -> bool:
            return (
                self._svc(t) == self._svc(i)
                and c.spread[t] == spread
                and _selector(c, t) == _selector(c, i)
                and c.tolerations_of(t) == c.tolerations_of(i)
            )

        domains = {
            _label(p, key, x) for x in range(p.m)
            if p.machines.state[x] == UP and _passes_filters(p, i, x)
            and _label(p, key, x) is not None
        }
        counts = dict.fromkeys(domains, 0)
        for t in placed:
            if same_group(t):
                where = _label(p, key, self.a[t])
                counts[where] = counts.get(where, 0) + 1
        low = min((counts[d] for d in domains), default=0)
        return counts.get(dom, 0) + 1 - low <= spread.max_skew

    def prefers(self, i: int, j: int) -> bool:
        """Preferred affinity holds for container i on machine j."""
        c, p = self.p.containers, self.p
        aff = c.affinity[i] if c.affinity is not None else None
        if aff is None or aff.required:
            return False
        dom = _label(p, aff.topology_key, j)
        return dom is not None and any(
            self.a[t] >= 0 and self._svc(t) == aff.service
            and _label(p, aff.topology_key, self.a[t]) == dom
            for t in range(p.n)
        )

    def put(self, i: int, j: int) -> None:
        """Place container i on machine j."""
        req = [int(x) for x in self.p.requests[i]]
        for k in range(self.p.d):
            self.res[j][k] -= req[k]
        ns = str(self.p.containers.namespace[i])
        if ns in self.used:
            for k in range(self.p.d):
                self.used[ns][k] += req[k]
        whole, milli = self.gpu_ask(i)
        free = self.gfree[j]
        if whole:
            self.devices[i] = [u for u, f in enumerate(free) if f == 1000][:whole]
            for u in self.devices[i]:
                free[u] = 0
        elif milli:
            u = min((f, u) for u, f in enumerate(free) if f >= milli)[1]
            free[u] -= milli
            self.devices[i] = [u]
        self.a[i] = j


def _selector(c, i: int) -> dict:
    return dict(c.node_selector[i] or {}) if c.node_selector is not None else {}


def greedy(
    problem: Problem,
    order: list[int],
    rule: str,
    kind: str | None = None,
    candidates: int | None = None,
    open_first: bool = False,
    replay: Replay | None = None,
) -> list[int]:
    """The greedy pass in plain Python: machine per container, -1 if none fits.

    With ``open_first`` a scoring rule looks only at machines already in use and
    opens the best-scored empty machine (ties lowest index) when none of them fits.
    Pass ``replay`` to read the final state (devices) afterwards.
    """
    rp = replay if replay is not None else Replay(problem)
    m = problem.m
    top = problem.capacity.max(axis=0, initial=0)
    scale = [1.0 / float(x) if x > 0 else 0.0 for x in top]
    base = float(max(m, 2))
    cap = [list(map(int, row)) for row in problem.capacity]
    start = 0
    for i in order:
        current = -1 if problem.current is None else int(problem.current[i])
        if problem.pinned is not None and problem.pinned[i]:
            if rp.feasible(i, current):
                rp.put(i, current)
            continue
        if rule == "first":
            j = next((j for j in range(m) if rp.feasible(i, j)), -1)
            if j >= 0:
                rp.put(i, j)
            continue
        begin = start if candidates else 0
        in_use = {x for x in rp.a if x >= 0}
        scan = [j for j in [*range(begin, m), *range(begin)]
                if problem.machines.state[j] == UP
                and (not open_first or j in in_use)]
        best, best_key, found, last = -1, (-1, -math.inf), 0, -1
        req = [int(x) for x in problem.requests[i]]
        for j in scan:
            if not rp.feasible(i, j):
                continue
            found += 1
            last = j
            key = _key(rp, i, j, rule, kind, cap, req, scale, base)
            if key > best_key:
                best, best_key = j, key
            if candidates and found >= candidates:
                break
        if (
            current >= 0
            and problem.machines.state[current] == CORDONED
            and rp.feasible(i, current)
        ):
            key = _key(rp, i, current, rule, kind, cap, req, scale, base)
            if key > best_key:
                best, best_key = current, key
        if candidates and found >= candidates:
            start = (last + 1) % m
        if best < 0 and open_first:
            for j in range(m):
                if (
                    problem.machines.state[j] == UP
                    and j not in in_use
                    and rp.feasible(i, j)
                ):
                    key = _key(rp, i, j, rule, kind, cap, req, scale, base)
                    if key > best_key:
                        best, best_key = j, key
        if best >= 0:
            rp.put(i, best)
    return rp.a


def _key(rp: Replay, i: int, j: int, rule: str, kind: str | None, cap, req, scale,
         base) -> tuple[int, float]:
    s = score(kind or "sum", rp.res[j], cap[j], req, scale, base)
    return (int(rp.prefers(i, j)), -s if rule == "worst" else s)

