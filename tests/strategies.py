"""Reusable hypothesis builders: small problems with and without hard constraints."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from solver import Affinity, AntiAffinity, Containers, Machines, Problem, Spread

ZONES = ("a", "b", "c")
RACKS = ("r1", "r2", "r3", "r4")
TAINTS = ("gpu", "spot")


@st.composite
def plain_problems(
    draw: st.DrawFn,
    *,
    min_d: int = 1,
    max_d: int = 4,
    max_n: int = 30,
    max_m: int = 8,
    states: bool = True,
) -> Problem:
    """Capacity and requests only (plus, if ``states``, some machines down/cordoned)."""
    d = draw(st.integers(min_d, max_d))
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(0, max_n))
    top = draw(st.sampled_from([10, 100, 1000]))
    same = draw(st.booleans())
    if same:
        row = draw(arrays(np.int64, d, elements=st.integers(1, top)))
        capacity = np.tile(row, (m, 1))
    else:
        capacity = draw(arrays(np.int64, (m, d), elements=st.integers(0, top)))
    requests = draw(arrays(np.int64, (n, d), elements=st.integers(0, top)))
    state = None
    if states:
        state = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=m, max_size=m))
    machines = Machines(capacity, state=state)
    return Problem(machines, Containers(requests, machines.resources))


@st.composite
def constrained_problems(
    draw: st.DrawFn, *, max_d: int = 3, max_services: int = 5, max_m: int = 10
) -> Problem:
    """Services with selectors, taints, anti-affinity, spread, affinity and quotas.

    Machines carry ``zone`` and ``rack`` labels (some missing), taints and states; some
    containers have a current machine and some of those are pinned. Selectors only use
    label values that exist, so construction never warns.
    """
    d = draw(st.integers(1, max_d))
    m = draw(st.integers(1, max_m))
    capacity = draw(arrays(np.int64, (m, d), elements=st.integers(5, 40)))
    zone = draw(st.lists(st.sampled_from([*ZONES, None]), min_size=m, max_size=m))
    rack = draw(st.lists(st.sampled_from(RACKS), min_size=m, max_size=m))
    taints = draw(
        st.lists(st.sets(st.sampled_from(TAINTS), max_size=1), min_size=m, max_size=m)
    )
    state = draw(st.lists(st.sampled_from([0, 0, 0, 0, 1, 2]), min_size=m, max_size=m))
    machines = Machines(
        capacity,
        labels={"zone": zone, "rack": rack},
        taints=taints,
        state=state,
    )
    names = [f"s{k}" for k in range(draw(st.integers(1, max_services)))]
    rows: dict[str, list] = {
        k: []
        for k in (
            "requests", "service", "namespace", "priority", "node_selector",
            "tolerations", "anti_affinity", "spread", "affinity",
        )
    }
    zones_present = sorted({z for z in zone if z is not None})
    for name in names:
        replicas = draw(st.integers(1, 6))
        req = draw(arrays(np.int64, d, elements=st.integers(0, 15)))
        selector = None
        if zones_present and draw(st.integers(0, 4)) == 0:
            selector = {"zone": draw(st.sampled_from(zones_present))}
        tolerations = draw(st.sets(st.sampled_from(TAINTS), max_size=2))
        anti = draw(
            st.one_of(
                st.none(),
                st.builds(
                    AntiAffinity,
                    st.sampled_from(["machine", "zone", "rack"]),
                    st.integers(1, 2),
                ),
            )
        )
        spread = draw(
            st.one_of(
                st.none(),
                st.builds(Spread, st.sampled_from(["zone", "rack"]), st.integers(1, 2)),
            )
        )
        affinity = draw(
            st.one_of(
                st.none(),
                st.builds(
                    Affinity,
                    st.sampled_from(names),
                    st.sampled_from(["machine", "zone"]),
                    st.booleans(),
                ),
            )
        )
        for _ in range(replicas):
            rows["requests"].append(req)
            rows["service"].append(name)
            rows["namespace"].append(draw(st.sampled_from(["default", "team"])))
            rows["priority"].append(draw(st.integers(0, 2)))
            rows["node_selector"].append(selector)
            rows["tolerations"].append(tolerations)
            rows["anti_affinity"].append(anti)
            rows["spread"].append(spread)
            rows["affinity"].append(affinity)
    requests = np.array(rows.pop("requests"), dtype=np.int64).reshape(-1, d)
    containers = Containers(requests, machines.resources, **rows)
    n = len(containers)
    quotas = None
    if draw(st.booleans()):
        quotas = {"team": {machines.resources.names[0]: draw(st.integers(0, 60))}}
    current = pinned = None
    if draw(st.booleans()):
        current = np.array(
            draw(st.lists(st.integers(-1, m - 1), min_size=n, max_size=n)), np.int64
        )
        if draw(st.booleans()):
            wanted = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            pinned = _feasible_pins(machines, containers, current, wanted, quotas)
    return Problem(machines, containers, quotas=quotas, current=current, pinned=pinned)


def _feasible_pins(
    machines: Machines,
    containers: Containers,
    current: np.ndarray,
    wanted: list[bool],
    quotas: dict | None,
) -> np.ndarray | None:
    """Pin only containers that can all stay where they are together.

    A pinned container must be on a machine that is not down, that its selector and
    tolerations accept, with room for every pinned container there; its service has no
    anti-affinity, spread or affinity and its namespace no quota.
    """
    ruled = {
        str(containers.service[i])
        for col in (containers.anti_affinity, containers.spread, containers.affinity)
        if col is not None
        for i, rule in enumerate(col)
        if rule is not None
    }
    room = machines.capacity.copy()
    pinned = np.zeros(len(containers), bool)
    for i, want in enumerate(wanted):
        j = int(current[i])
        if not want or j < 0 or machines.state[j] == 2:
            continue
        if str(containers.service[i]) in ruled:
            continue
        if quotas and str(containers.namespace[i]) in quotas:
            continue
        col = containers.node_selector
        sel = col[i] if col is not None else None
        if any(machines.label(k)[j] != v for k, v in (sel or {}).items()):
            continue
        if not machines.taint_set(j) <= containers.tolerations_of(i):
            continue
        if (room[j] < containers.requests[i]).any():
            continue
        room[j] -= containers.requests[i]
        pinned[i] = True
    return pinned if pinned.any() else None


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """Either a plain or a constrained problem."""
    if draw(st.booleans()):
        return draw(plain_problems())
    return draw(constrained_problems())


@st.composite
def gpu_problems(draw: st.DrawFn, *, max_n: int = 25, max_m: int = 6) -> Problem:
    """GPU sharing: machines with 0-4 devices; containers ask whole GPUs or a share.

    Each container asks nothing, 1-3 whole GPUs, or a share of 100-900 milli-GPU of
    one device, beside one or two ordinary dimensions.
    """
    d = draw(st.integers(1, 2))
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(0, max_n))
    capacity = draw(arrays(np.int64, (m, d), elements=st.integers(5, 40)))
    gpus = draw(st.lists(st.integers(0, 4), min_size=m, max_size=m))
    state = draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=m, max_size=m))
    machines = Machines(capacity, state=state, gpus=gpus)
    requests = draw(arrays(np.int64, (n, d), elements=st.integers(0, 10)))
    kinds = draw(st.lists(st.sampled_from([0, 1, 2, 2]), min_size=n, max_size=n))
    whole = [draw(st.integers(1, 3)) if k == 1 else 0 for k in kinds]
    share = [draw(st.sampled_from([100, 250, 500, 700, 900])) if k == 2 else 0
             for k in kinds]
    containers = Containers(
        requests, machines.resources, num_gpu=whole, gpu_milli=share
    )
    return Problem(machines, containers)
