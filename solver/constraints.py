"""Hard placement constraints: what users declare, and their compiled flat-array form.

Users attach :class:`AntiAffinity`, :class:`Spread` and :class:`Affinity` to containers
(or to a :class:`~solver.model.Service`). :func:`compile_constraints` turns them, once
per problem, into int32/int64 arrays that the Numba kernels and the validator read: an
eligibility class per container, machine-to-domain maps per topology key, and counter
groups for anti-affinity, spread and affinity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .model import Problem

UP, CORDONED, DOWN = 0, 1, 2  # machine states, as in solver.model


@dataclass(frozen=True)
class AntiAffinity:
    """At most ``max_per_domain`` containers of one service per ``topology_key`` domain.

    ``topology_key="machine"`` means one domain per machine (Kubernetes' hostname key).
    """

    topology_key: str = "machine"
    max_per_domain: int = 1


@dataclass(frozen=True)
class Spread:
    """Kubernetes PodTopologySpread with ``whenUnsatisfiable: DoNotSchedule``.

    Placing a container into a domain must keep ``count(domain) - min(counts) <=
    max_skew`` over the domains of the machines the container may use.
    """

    topology_key: str = "zone"
    max_skew: int = 1


@dataclass(frozen=True)
class Affinity:
    """Co-location with containers of ``service`` in the same ``topology_key`` domain.

    ``required=True`` is a hard rule (the domain must already run one of them, unless
    the target service is the container's own and none is placed yet);
    ``required=False`` only raises the score of such domains.
    """

    service: str
    topology_key: str = "machine"
    required: bool = True


@dataclass(frozen=True)
class CompiledConstraints:
    """A problem's hard rules as flat arrays, built once by :func:`compile_constraints`.

    Shapes use n containers, m machines, d dimensions, C eligibility classes, K topology
    keys, S services, G anti-affinity groups, H spread groups, A affinity target groups
    and Q namespaces with a quota. Every per-domain counter lives in one flat int64
    array of ``n_counts`` slots; a group's counters start at its ``*_off`` offset.
    """

    trivial: bool  # no rule beyond capacity and machine state: the fast path applies
    eclass: np.ndarray  # int32[n] eligibility class of each container
    eligible: np.ndarray  # bool[C, m] machine up, node_selector and taints pass
    class_selector: tuple[tuple[tuple[str, object], ...], ...]  # per class, sorted
    class_tolerations: tuple[frozenset[str], ...]  # per class
    stay: np.ndarray  # int32[n] cordoned current machine the container may keep, or -1
    pin: np.ndarray  # int32[n] machine a pinned container must use, or -1
    service_id: np.ndarray  # int32[n]
    services: tuple[str, ...]  # name of each service id
    keys: tuple[str, ...]  # topology keys in use
    domain: np.ndarray  # int32[K, m] domain of each machine per key, -1 = no label
    n_domains: np.ndarray  # int64[K]
    aa_ptr: np.ndarray  # int64[S + 1] anti-affinity groups of service s
    aa_groups: np.ndarray  # int32[aa_ptr[-1]]   at aa_groups[aa_ptr[s]:aa_ptr[s + 1]]
    aa_key: np.ndarray  # int32[G]
    aa_limit: np.ndarray  # int64[G] smallest max_per_domain of the service on that key
    aa_off: np.ndarray  # int64[G]
    aa_own_key: np.ndarray  # int32[n] key of the container's own anti-affinity, or -1
    sp_group: np.ndarray  # int32[n] spread group, or -1
    sp_key: np.ndarray  # int32[H]
    sp_skew: np.ndarray  # int64[H]
    sp_off: np.ndarray  # int64[H]
    sp_valid: np.ndarray  # bool[n_counts] slot is a domain the spread group counts
    af_group: np.ndarray  # int32[n] affinity target group, or -1
    af_required: np.ndarray  # bool[n]
    af_self: np.ndarray  # bool[n] the target service is the container's own
    at_ptr: np.ndarray  # int64[S + 1] target groups counting service s
    at_groups: np.ndarray  # int32[at_ptr[-1]]
    at_key: np.ndarray  # int32[A]
    at_off: np.ndarray  # int64[A]
    at_service: tuple[str, ...]  # target service name of each group
    n_counts: int
    ns_id: np.ndarray  # int32[n] quota row of the container's namespace, or -1
    namespaces: tuple[str, ...]  # namespace of each quota row
    quota: np.ndarray  # int64[Q, d]


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list]:
    """Integer codes (int32, -1 for None) and the distinct values, first seen first."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int32), list(uniques)


def _rule_rows(column: np.ndarray | None) -> list[tuple[int, object]]:
    if column is None:
        return []
    return [(i, c) for i, c in enumerate(column) if c is not None]


def spread_domains(
    sp_group: np.ndarray,
    sp_key: np.ndarray,
    sp_off: np.ndarray,
    slots: int,
    eclass: np.ndarray,
    eligible: np.ndarray,
    domain: np.ndarray,
) -> np.ndarray:
    """Domain slots each spread group counts (bool, ``slots``): the domains of the
    machines its containers may use (``eligible`` rows: up, selector and taints
    passed), as Kubernetes' ``nodeTaintsPolicy: Honor``; nothing new may start on a
    cordoned machine, so its domain does not count."""
    valid = np.zeros(slots, bool)
    groups, first = np.unique(sp_group, return_index=True)
    for h, i in zip(groups.tolist(), first.tolist(), strict=True):
        if h >= 0:
            dom = domain[sp_key[h]]
            usable = eligible[eclass[i]] & (dom >= 0)
            valid[sp_off[h] + np.unique(dom[usable])] = True
    return valid


def compile_constraints(problem: Problem) -> CompiledConstraints:
    """Compile ``problem``'s hard rules once into flat arrays for kernels and reasons.

    A problem without rules beyond capacity and machine state compiles to one class and
    no groups without visiting its containers one by one: large plain problems pay
    nothing.
    """
    mach, cont = problem.machines, problem.containers
    n, m, d = problem.n, problem.m, problem.d
    up = mach.state == UP
    current = problem.current
    stay = np.full(n, -1, np.int32)
    pin = np.full(n, -1, np.int32)
    if problem.pinned is not None:
        pin[problem.pinned] = current[problem.pinned]

    # eligibility classes: (node_selector pairs, tolerations)
    sel_col, tol_col = cont.node_selector, cont.tolerations
    if sel_col is None and tol_col is None:
        eclass = np.zeros(n, np.int32)
        class_keys: list[tuple] = [((), frozenset())]
    else:
        seen: dict[tuple, int] = {}
        eclass = np.empty(n, np.int32)
        for i in range(n):
            sel = (
                ()
                if sel_col is None or not sel_col[i]
                else tuple(sorted(sel_col[i].items(), key=lambda kv: str(kv[0])))
            )
            tol = frozenset() if tol_col is None else tol_col[i]
            eclass[i] = seen.setdefault((sel, tol), len(seen))
        class_keys = list(seen)
    taint_codes, taint_sets = (
        (np.zeros(m, np.int32), [frozenset()])
        if mach.taints is None
        else _factorize(_objects(mach.taints))
    )
    match = np.ones((len(class_keys), m), dtype=bool)
    for c, (sel, tol) in enumerate(class_keys):
        for key, value in sel:
            match[c] &= mach.label(str(key)) == value
        tolerated = np.array([t <= tol for t in taint_sets], dtype=bool)
        match[c] &= tolerated[taint_codes]
    eligible = np.ascontiguousarray(match & up[None, :])
    if current is not None:
        cur = np.flatnonzero(current >= 0)
        cur_m = current[cur]
        ok = (mach.state[cur_m] == CORDONED) & match[eclass[cur], cur_m]
        stay[cur[ok]] = cur_m[ok]

    aa_rows = _rule_rows(cont.anti_affinity)
    sp_rows = _rule_rows(cont.spread)
    af_rows = _rule_rows(cont.affinity)
    has_groups = bool(aa_rows or sp_rows or af_rows)
    if has_groups:
        service_id, services = _factorize(cont.service)
    else:
        service_id, services = np.zeros(n, np.int32), [""]
    n_services = len(services)

    keys: list[str] = []

    def key_index(key: str) -> int:
        if key not in keys:
            keys.append(key)
        return keys.index(key)

    for _, rule in aa_rows + sp_rows + af_rows:
        key_index(rule.topology_key)
    domain = np.full((len(keys), m), -1, np.int32)
    n_domains = np.zeros(len(keys), np.int64)
    for k, key in enumerate(keys):
        if key == "machine":
            domain[k] = np.arange(m, dtype=np.int32)
            n_domains[k] = m
        else:
            domain[k], uniq = _factorize(mach.label(key))
            n_domains[k] = len(uniq)
    offset = 0

    def slots(k: int) -> int:
        nonlocal offset
        start = offset
        offset += int(n_domains[k])
        return start

    # anti-affinity: one counter group per (service, key), limited by the smallest limit
    aa_own_key = np.full(n, -1, np.int32)
    aa_index: dict[tuple[int, int], int] = {}
    aa_limits: list[int] = []
    for i, rule in aa_rows:
        k = key_index(rule.topology_key)
        aa_own_key[i] = k
        g = aa_index.setdefault((int(service_id[i]), k), len(aa_index))
        if g == len(aa_limits):
            aa_limits.append(rule.max_per_domain)
        aa_limits[g] = min(aa_limits[g], rule.max_per_domain)
    aa_pairs = list(aa_index)
    aa_key = np.array([k for _, k in aa_pairs], np.int32)
    aa_off = np.array([slots(k) for _, k in aa_pairs], np.int64)
    aa_ptr, aa_groups = _csr([s for s, _ in aa_pairs], n_services)

    # spread: one group per (service, key, max_skew, eligibility class)
    sp_group = np.full(n, -1, np.int32)
    sp_index: dict[tuple, int] = {}
    for i, rule in sp_rows:
        sp_group[i] = sp_index.setdefault(
            (int(service_id[i]), rule.topology_key, rule.max_skew, int(eclass[i])),
            len(sp_index),
        )
    sp_list = list(sp_index)
    sp_key = np.array([key_index(key) for _, key, _, _ in sp_list], np.int32)
    sp_skew = np.array([skew for _, _, skew, _ in sp_list], np.int64)
    sp_off = np.array([slots(int(k)) for k in sp_key], np.int64)

    # affinity: one target group per (target service, key)
    af_group = np.full(n, -1, np.int32)
    af_required = np.zeros(n, bool)
    af_self = np.zeros(n, bool)
    at_index: dict[tuple[str, int], int] = {}
    for i, rule in af_rows:
        k = key_index(rule.topology_key)
        af_group[i] = at_index.setdefault((str(rule.service), k), len(at_index))
        af_required[i] = rule.required
        af_self[i] = str(rule.service) == str(cont.service[i])
    at_list = list(at_index)
    at_key = np.array([k for _, k in at_list], np.int32)
    at_off = np.array([slots(k) for _, k in at_list], np.int64)
    sid = {str(s): j for j, s in enumerate(services)}
    at_owner = [(sid.get(name, -1), g) for g, (name, _) in enumerate(at_list)]
    at_ptr, at_groups = _csr(
        [s for s, _ in at_owner if s >= 0],
        n_services,
        [g for s, g in at_owner if s >= 0],
    )

    sp_valid = spread_domains(
        sp_group, sp_key, sp_off, offset, eclass, eligible, domain
    )

    namespaces = tuple(problem.quotas)
    ns_id = np.full(n, -1, np.int32)
    quota = np.zeros((len(namespaces), d), np.int64)
    for q, ns in enumerate(namespaces):
        quota[q] = problem.quotas[ns]
        ns_id[cont.namespace == ns] = q

    trivial = (
        len(class_keys) == 1
        and not class_keys[0][0]
        and bool(match[0].all())
        and not has_groups
        and not namespaces
        and not (stay >= 0).any()
        and not (pin >= 0).any()
    )
    return CompiledConstraints(
        trivial=trivial,
        eclass=eclass,
        eligible=eligible,
        class_selector=tuple(s for s, _ in class_keys),
        class_tolerations=tuple(t for _, t in class_keys),
        stay=stay,
        pin=pin,
        service_id=service_id,
        services=tuple(str(s) for s in services),
        keys=tuple(keys),
        domain=np.ascontiguousarray(domain),
        n_domains=n_domains,
        aa_ptr=aa_ptr,
        aa_groups=aa_groups,
        aa_key=aa_key,
        aa_limit=np.array(aa_limits, np.int64),
        aa_off=aa_off,
        aa_own_key=aa_own_key,
        sp_group=sp_group,
        sp_key=sp_key,
        sp_skew=sp_skew,
        sp_off=sp_off,
        sp_valid=sp_valid,
        af_group=af_group,
        af_required=af_required,
        af_self=af_self,
        at_ptr=at_ptr,
        at_groups=at_groups,
        at_key=at_key,
        at_off=at_off,
        at_service=tuple(name for name, _ in at_list),
        n_counts=offset,
        ns_id=ns_id,
        namespaces=namespaces,
        quota=quota,
    )


def _csr(
    owners: list[int], size: int, values: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compressed rows: ``values`` (default: positions) grouped by owner 0..size-1."""
    vals = (
        np.arange(len(owners), dtype=np.int32)
        if values is None
        else np.array(values, np.int32)
    )
    own = np.array(owners, np.int64)
    order = np.argsort(own, kind="stable")
    ptr = np.zeros(size + 1, np.int64)
    np.add.at(ptr, own + 1, 1)
    return np.cumsum(ptr), np.ascontiguousarray(vals[order])


def _objects(values: tuple) -> np.ndarray:
    """A 1-D object array holding ``values`` as they are (sets stay sets)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out
