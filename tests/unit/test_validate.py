"""The independent validator: each rule broken alone is caught and named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from solver import (
    Affinity,
    AntiAffinity,
    Containers,
    Machines,
    Placement,
    PlacementError,
    Problem,
    Spread,
    validate,
)


def placement(assignment, reasons=None) -> Placement:
    """A Placement with a stock reason for every unplaced container."""
    a = np.asarray(assignment)
    if reasons is None:
        reasons = {int(i): {"cpu": 1} for i in np.flatnonzero(a < 0)}
    return Placement(a, engine="test", status="feasible", reasons=reasons)


def fleet(m: int = 4, **kwargs) -> Machines:
    """``m`` machines of 1000 cpu / 1000 memory in zones a, b, a, b, ..."""
    labels = kwargs.pop("labels", {"zone": ["ab"[j % 2] for j in range(m)]})
    return Machines(
        np.full((m, 2), 1000), ("cpu", "memory"), labels=labels, **kwargs
    )


def workload(n: int, size: int = 100, **kwargs) -> Containers:
    """``n`` containers of ``size`` cpu and memory, all of service ``web``."""
    kwargs.setdefault("service", "web")
    return Containers(np.full((n, 2), size), ("cpu", "memory"), **kwargs)


def broken(problem: Problem, assignment, match: str, reasons=None) -> None:
    """``assignment`` must be refused with a message matching ``match``."""
    with pytest.raises(PlacementError, match=match):
        validate(problem, placement(assignment, reasons))


# --- structure -------------------------------------------------------------------


def test_valid_placement_passes():
    """A placement honouring every kind of rule at once raises nothing."""
    machines = fleet(4, taints=[set(), set(), set(), {"gpu"}], state=[0, 0, 0, 1])
    containers = Containers(
        np.full((6, 2), 100),
        ("cpu", "memory"),
        service=["web", "web", "db", "db", "cache", "gpu"],
        namespace=["a", "a", "a", "b", "b", "b"],
        node_selector=[None, None, {"zone": "a"}, {"zone": "a"}, None, None],
        tolerations=[(), (), (), (), (), ("gpu",)],
        anti_affinity=[AntiAffinity("zone")] * 2 + [None] * 4,
        spread=[None, None, Spread("zone"), Spread("zone"), None, None],
        affinity=[None, None, None, None, Affinity("web"), None],
    )
    problem = Problem(
        machines,
        containers,
        quotas={"a": {"cpu": 300}},
        current=[-1, -1, -1, -1, -1, 3],
        pinned=[False] * 5 + [True],
    )
    # db spreads over zone a only (its selector), so skew is about zone a alone.
    validate(problem, placement([0, 1, 0, 2, 1, 3]))


def test_wrong_length():
    """An assignment with the wrong number of entries is refused."""
    problem = Problem(fleet(2), workload(3))
    broken(problem, [0, 1], "2 entries for 3 containers")


@pytest.mark.parametrize("machine", [2, 7, -2])
def test_machine_index_out_of_range(machine):
    """Indices outside 0..m-1 (other than -1) are refused, naming the container."""
    problem = Problem(fleet(2), workload(3))
    broken(problem, [0, machine, 1], rf"container 1: machine index {machine}")


def test_unplaced_without_reason():
    """An unplaced container missing from ``reasons`` is caught even past Placement."""
    problem = Problem(fleet(2), workload(3))
    result = placement([0, -1, 1])
    object.__setattr__(result, "reasons", {})
    with pytest.raises(PlacementError, match="unplaced container 1 has no reason"):
        validate(problem, result)


def test_unplaced_with_reason_passes():
    """Leaving a container unplaced is valid when it carries a reason."""
    validate(Problem(fleet(2), workload(3)), placement([0, -1, 1]))


# --- capacity and machine state ---------------------------------------------------


def test_capacity_message_names_machine_dimension_and_overflow():
    """The capacity message names index, id, resource, load, capacity and overflow."""
    machines = Machines(
        [[4000, 1024]] * 8, ("cpu", "memory"), ids=[f"n-{j}" for j in range(8)]
    )
    containers = Containers([[100, 512]] * 3, ("cpu", "memory"))
    problem = Problem(machines, containers)
    broken(
        problem,
        [7, 7, 7],
        r"machine 7 \(id 'n-7'\), memory: load 1536 > capacity 1024 \(overflow 512\)",
    )


def test_capacity_exactly_full_passes():
    """A machine loaded to exactly its capacity is valid."""
    validate(Problem(fleet(1), workload(10)), placement([0] * 10))


def test_capacity_sums_beyond_int64_are_caught():
    """Loads whose int64 sum would wrap around are still compared exactly."""
    big = 2**61
    problem = Problem.from_arrays([[2**62 - 1]], [[big]] * 4)
    broken(problem, [0, 0, 0, 0], "overflow")


def test_down_machine():
    """Nothing may run on a down machine."""
    problem = Problem(fleet(2, state=["up", "down"]), workload(2))
    broken(problem, [0, 1], "container 1 is on down machine 1")


def test_cordoned_machine_new_placement():
    """A container may not be newly placed on a cordoned machine."""
    problem = Problem(fleet(2, state=["up", "cordoned"]), workload(2))
    broken(problem, [0, 1], "container 1 is newly placed on cordoned machine 1")


def test_cordoned_machine_keeps_its_current_containers():
    """A container already on a cordoned machine may stay there, a newcomer may not."""
    problem = Problem(
        fleet(2, state=["up", "cordoned"]), workload(2), current=[1, -1]
    )
    validate(problem, placement([1, 0]))
    broken(problem, [1, 1], "container 1 is newly placed on cordoned")


def test_pinned_container_moved_or_unplaced():
    """A pinned container must sit on its current machine."""
    problem = Problem(fleet(3), workload(2), current=[2, 0], pinned=[True, False])
    validate(problem, placement([2, 1]))
    broken(problem, [1, 1], "pinned: container 0 must stay on machine 2 but is on")
    broken(problem, [-1, 1], "pinned: container 0 .* but is unplaced")


# --- selectors and taints --------------------------------------------------------


def test_node_selector():
    """A container must land on a machine whose labels match its selector."""
    problem = Problem(fleet(2), workload(2, node_selector={"zone": "a"}))
    validate(problem, placement([0, 0]))
    broken(problem, [0, 1], "node_selector: container 1 needs zone='a' but machine 1")


def test_node_selector_on_missing_label():
    """A selector on a label the machine lacks is not satisfied."""
    problem = Problem(
        fleet(2, labels={"disk": ["ssd", None]}),
        workload(1, node_selector={"disk": "ssd"}),
    )
    broken(problem, [1], "has disk=None")


def test_taints_need_tolerations():
    """A tainted machine hosts only containers tolerating every taint."""
    machines = fleet(2, taints=[{"gpu", "spot"}, set()])
    containers = workload(3, tolerations=[("gpu", "spot"), ("gpu",), ()])
    problem = Problem(machines, containers)
    validate(problem, placement([0, 1, 1]))
    broken(problem, [0, 0, 1], r"container 1 does not tolerate \['spot'\] of machine 0")
    broken(problem, [0, 1, 0], r"container 2 does not tolerate \['gpu', 'spot'\]")


# --- topology rules --------------------------------------------------------------


def test_anti_affinity_per_machine():
    """At most one container of a service per machine under AntiAffinity('machine')."""
    problem = Problem(fleet(3), workload(3, anti_affinity=AntiAffinity()))
    validate(problem, placement([0, 1, 2]))
    broken(
        problem,
        [0, 2, 2],
        r"anti_affinity \(machine, at most 1\): service 'web' has 2 containers in "
        r"machine=2 \(containers 1, 2\)",
    )


def test_anti_affinity_counts_unconstrained_containers_of_the_service():
    """Every container of the service counts, constrained or not."""
    problem = Problem(
        fleet(2), workload(2, anti_affinity=[AntiAffinity(), None])
    )
    broken(problem, [0, 0], "has 2 containers in machine=0")


def test_anti_affinity_other_services_do_not_count():
    """Containers of other services do not fill an anti-affinity domain."""
    containers = workload(
        2, service=["web", "db"], anti_affinity=[AntiAffinity(), AntiAffinity()]
    )
    validate(Problem(fleet(1), containers), placement([0, 0]))


def test_anti_affinity_per_zone_with_limit():
    """AntiAffinity('zone', 2) allows two per zone and refuses a third."""
    problem = Problem(fleet(4), workload(4, anti_affinity=AntiAffinity("zone", 2)))
    validate(problem, placement([0, 2, 1, 3]))
    broken(problem, [0, 2, 0, 3], "has 3 containers in zone='a'")


def test_anti_affinity_machine_without_label():
    """A machine lacking the topology label cannot host a constrained container."""
    problem = Problem(
        fleet(2, labels={"zone": ["a", None]}),
        workload(1, anti_affinity=AntiAffinity("zone")),
    )
    broken(problem, [1], "machine 1, which has no label 'zone'")


def test_spread_skew():
    """Spread refuses a skew above max_skew between zones."""
    problem = Problem(fleet(4), workload(3, spread=Spread("zone", 1)))
    validate(problem, placement([0, 1, 2]))
    broken(
        problem,
        [0, 2, 0],
        r"spread \(zone, max skew 1\): service 'web' has 3 in zone='a' but 0 in "
        r"zone='b' \(skew 3\)",
    )


def test_spread_empty_domain_counts_zero():
    """A usable zone holding none of the group counts as 0."""
    machines = fleet(3, labels={"zone": ["a", "b", "c"]})
    problem = Problem(machines, workload(2, spread=Spread("zone", 1)))
    validate(problem, placement([0, 1]))
    broken(problem, [0, 0], "2 in zone='a' but 0 in zone='[bc]'")


def test_spread_ignores_unusable_and_unselected_machines():
    """Domains come from machines the container may be placed on: up, passing
    selector and taints (cordoned machines are unschedulable, as with Kubernetes'
    nodeTaintsPolicy Honor)."""
    machines = Machines(
        np.full((5, 1), 1000),
        ("cpu",),
        labels={"zone": ["a", "b", "c", "d", "e"], "tier": ["x", "x", "x", "y", "x"]},
        taints=[set(), set(), {"spot"}, set(), set()],
        state=["up", "up", "up", "down", "cordoned"],
    )
    containers = Containers(
        np.full((2, 1), 10), ("cpu",), service="web", spread=Spread("zone", 1)
    )
    # zone c is tainted, zone d is down, zone e cordoned: domains are a and b.
    validate(Problem(machines, containers), placement([0, 1]))
    broken(Problem(machines, containers), [0, 0], "2 in zone='a' but 0 in zone='b'")
    three = Containers(
        np.full((3, 1), 10), ("cpu",), service="web", spread=Spread("zone", 1)
    )
    validate(Problem(machines, three), placement([0, 1, 0]))
    selected = Containers(
        np.full((2, 1), 10),
        ("cpu",),
        service="web",
        spread=Spread("zone", 1),
        node_selector={"tier": "x"},
        tolerations=[("spot",)] * 2,
    )
    broken(Problem(machines, selected), [0, 0], "0 in zone='[bc]'")


def test_spread_groups_are_per_service():
    """Containers of another service do not take part in a group's counts."""
    containers = workload(
        3, service=["web", "web", "db"], spread=Spread("zone", 1)
    )
    validate(Problem(fleet(2), containers), placement([0, 1, 0]))


def test_affinity_to_other_service():
    """A required affinity needs a container of the target in the same domain."""
    containers = workload(
        3, service=["db", "web", "web"], affinity=[None] + [Affinity("db", "zone")] * 2
    )
    problem = Problem(fleet(4), containers)
    validate(problem, placement([0, 2, 0]))
    broken(
        problem,
        [0, 1, 2],
        r"affinity \('db', zone\): container 1 shares zone='b' with no container of",
    )


def test_affinity_preferred_is_not_checked():
    """required=False only affects scores."""
    containers = workload(
        2, service=["db", "web"], affinity=[None, Affinity("db", required=False)]
    )
    validate(Problem(fleet(2), containers), placement([0, 1]))


def test_affinity_to_own_service_first_one_free():
    """Within its own service one container may be alone, a second may not."""
    problem = Problem(fleet(4), workload(3, affinity=Affinity("web", "zone")))
    validate(problem, placement([0, 2, 0]))
    validate(problem, placement([1, -1, -1]))
    broken(problem, [0, 1, -1], r"containers 0, 1 of 'web' are each alone")


def test_affinity_machine_without_label():
    """A machine lacking the topology label cannot host an affinity container."""
    containers = workload(
        2, service=["db", "web"], affinity=[None, Affinity("db", "rack")]
    )
    broken(Problem(fleet(2), containers), [0, 0], "which has no label 'rack'")


def test_quota():
    """The placed requests of a namespace stay within its quota in every dimension."""
    containers = workload(4, namespace=["a", "a", "a", "b"])
    problem = Problem(fleet(2), containers, quotas={"a": {"memory": 200}})
    validate(problem, placement([0, 1, -1, 1]))
    broken(
        problem,
        [0, 1, 1, 1],
        "quota: namespace 'a', memory: placed requests 300 > quota 200",
    )


def test_several_violations_are_all_reported():
    """One message lists every rule broken, not only the first."""
    problem = Problem(
        fleet(2, state=["up", "down"]), workload(12, anti_affinity=AntiAffinity())
    )
    with pytest.raises(PlacementError) as info:
        validate(problem, placement([0] * 11 + [1]))
    for words in ("capacity", "down machine", "anti_affinity"):
        assert words in str(info.value)


# --- properties -----------------------------------------------------------------


@st.composite
def fleets_and_work(draw, constrained: bool):
    """Small random problems; with ``constrained``, selectors, taints and states too."""
    d = draw(st.integers(1, 3))
    m = draw(st.integers(1, 6))
    n = draw(st.integers(0, 12))
    cap = draw(st.lists(st.lists(st.integers(0, 20), min_size=d, max_size=d),
                        min_size=m, max_size=m))
    req = draw(st.lists(st.lists(st.integers(0, 12), min_size=d, max_size=d),
                        min_size=n, max_size=n))
    req = np.array(req, dtype=np.int64).reshape(n, d)
    if not constrained:
        return Problem.from_arrays(cap, req)
    zones = draw(st.lists(st.sampled_from("ab"), min_size=m, max_size=m))
    taints = draw(st.lists(st.sampled_from([(), ("spot",)]), min_size=m, max_size=m))
    state = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    machines = Machines(cap, labels={"zone": zones}, taints=taints, state=state)
    containers = Containers(
        req,
        service=draw(st.lists(st.sampled_from("xy"), min_size=n, max_size=n)),
        node_selector=draw(st.lists(st.sampled_from([None, {"zone": "a"}]),
                                    min_size=n, max_size=n)),
        tolerations=draw(st.lists(st.sampled_from([(), ("spot",)]),
                                  min_size=n, max_size=n)),
        anti_affinity=draw(st.lists(st.sampled_from([None, AntiAffinity()]),
                                    min_size=n, max_size=n)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a selector may match no machine
        return Problem(machines, containers)


def selector_of(containers: Containers, i: int) -> dict:
    """The node selector of container ``i`` ({} when it has none)."""
    column = containers.node_selector
    return (column[i] if column is not None else None) or {}


def naive_first_fit(problem: Problem) -> np.ndarray:
    """Plain first fit honouring capacity, state, selector, taints, anti-affinity."""
    c, mach = problem.containers, problem.machines
    free = problem.capacity.tolist()
    per_machine: list[list[int]] = [[] for _ in range(problem.m)]
    out = []
    for i in range(problem.n):
        req = problem.requests[i].tolist()
        chosen = -1
        for j in range(problem.m):
            if mach.state[j] != 0 or not mach.taint_set(j) <= c.tolerations_of(i):
                continue
            if any(mach.label(k)[j] != v for k, v in selector_of(c, i).items()):
                continue
            same = [k for k in per_machine[j] if c.service[k] == c.service[i]]
            guarded = [k for k in [*same, i]
                       if c.anti_affinity is not None and c.anti_affinity[k]]
            if guarded and len(same) + 1 > 1:
                continue
            if all(r <= f for r, f in zip(req, free[j], strict=True)):
                chosen = j
                break
        if chosen >= 0:
            free[chosen] = [f - r for f, r in zip(free[chosen], req, strict=True)]
            per_machine[chosen].append(i)
        out.append(chosen)
    return np.array(out, dtype=np.int64)


def naive_ok(problem: Problem, assignment: np.ndarray) -> bool:
    """Plain check: capacity, state, selector, taints, per-machine anti-affinity."""
    c, mach = problem.containers, problem.machines
    load = [[0] * problem.d for _ in range(problem.m)]
    for i, j in enumerate(assignment.tolist()):
        if j < 0:
            continue
        if mach.state[j] != 0 or not mach.taint_set(j) <= c.tolerations_of(i):
            return False
        if any(mach.label(k)[j] != v for k, v in selector_of(c, i).items()):
            return False
        if c.anti_affinity is not None and c.anti_affinity[i] is not None:
            same = [k for k, jk in enumerate(assignment.tolist())
                    if jk == j and c.service[k] == c.service[i]]
            if len(same) > 1:
                return False
        for k in range(problem.d):
            load[j][k] += int(problem.requests[i, k])
    return all(
        load[j][k] <= problem.capacity[j, k]
        for j in range(problem.m) for k in range(problem.d)
    )


@given(fleets_and_work(constrained=True))
def test_naive_first_fit_placements_pass(problem):
    """Whatever a plain first fit honouring the rules produces is accepted."""
    validate(problem, placement(naive_first_fit(problem)))


@given(fleets_and_work(constrained=False), st.data())
def test_single_overloading_move_is_caught(problem, data):
    """Moving one container onto a machine it overflows is always refused."""
    a = naive_first_fit(problem)
    load = np.zeros_like(problem.capacity)
    np.add.at(load, a[a >= 0], problem.requests[a >= 0])
    i = data.draw(st.integers(0, max(problem.n - 1, 0)))
    j = data.draw(st.integers(0, problem.m - 1))
    assume(problem.n > 0 and a[i] != j)
    assume((load[j] + problem.requests[i] > problem.capacity[j]).any())
    a[i] = j
    with pytest.raises(PlacementError, match=f"capacity: machine {j}, "):
        validate(problem, placement(a))


@given(st.booleans().flatmap(fleets_and_work), st.data())
def test_random_assignment_agrees_with_naive_check(problem, data):
    """On arbitrary assignments validate raises exactly when a naive check fails."""
    a = np.array(
        data.draw(st.lists(st.integers(-1, problem.m - 1),
                           min_size=problem.n, max_size=problem.n)),
        dtype=np.int64,
    )
    if naive_ok(problem, a):
        validate(problem, placement(a))
    else:
        with pytest.raises(PlacementError):
            validate(problem, placement(a))
