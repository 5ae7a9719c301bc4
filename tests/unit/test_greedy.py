"""Greedy engines on tiny hand-made problems whose right answer is obvious."""

from __future__ import annotations

import numpy as np
import pytest

import solver
from solver import Affinity, AntiAffinity, Containers, Machines, Problem, Spread
from solver.engines import get, names
from solver.engines.greedy import PRESETS, container_order


def _problem(capacity, requests, *, machines=None, containers=None, **kw) -> Problem:
    mach = Machines(np.array(capacity), **(machines or {}))
    cont = Containers(np.array(requests), mach.resources, **(containers or {}))
    return Problem(mach, cont, **kw)


def test_presets_registered() -> None:
    """Every preset the design names is a registered engine."""
    for name in ("ff", "ffd", "bfd", "wfd", "dot", "l2", "k8s-least", "k8s-most",
                 "k8s-balanced", "nomad", "epvm"):
        assert name in names()


def test_unknown_option_names_accepted_ones() -> None:
    """A misspelt option is refused with the list of accepted options."""
    with pytest.raises(solver.InvalidProblem, match="candidates"):
        get("bfd", candidate=3)
    with pytest.raises(solver.InvalidProblem, match="positive integer"):
        get("bfd", candidates=0)
    with pytest.raises(solver.InvalidProblem, match="unknown value"):
        get("bfd", score="magic")


def test_options_pass_through() -> None:
    """Options override the preset and are recorded on the placement."""
    p = _problem([[10]], [[3]])
    pl = get("bfd", candidates=64).solve(p)
    assert pl.options == {
        "order": "sum", "rule": "best", "score": "sum", "candidates": 64,
        "open_first": True,
    }
    assert pl.status == solver.Status.FEASIBLE
    assert pl.objective == 1


def test_ffd_textbook_1d() -> None:
    """ffd: 7, 5, 4, 3, 1 into bins of 10 -> {7,3}, {5,4,1}."""
    pl = get("ffd").solve(_problem([[10]] * 3, [[5], [7], [3], [4], [1]]))
    assert pl.assignment.tolist() == [1, 0, 0, 1, 1]


def test_best_and_worst_fit() -> None:
    """Best fit picks the tightest machine, worst fit the emptiest."""
    p = _problem([[10], [4], [7]], [[3]])
    assert get("bfd").solve(p).assignment.tolist() == [1]
    assert get("wfd").solve(p).assignment.tolist() == [0]


def test_k8s_least_spreads_most_packs() -> None:
    """LeastAllocated spreads the second container, MostAllocated stacks it."""
    p = _problem([[10], [10]], [[2], [2]])
    assert get("k8s-least").solve(p).assignment.tolist() == [0, 1]
    assert get("k8s-most").solve(p).assignment.tolist() == [0, 0]


def test_k8s_order_is_priority_then_arrival() -> None:
    """k8s presets visit higher priority first, ties by arrival."""
    p = _problem([[10]], [[1], [2], [3]], containers={"priority": [0, 5, 5]})
    assert container_order(p, PRESETS["k8s-least"][0]).tolist() == [1, 2, 0]


def test_machine_states() -> None:
    """Nothing goes to down or cordoned machines."""
    p = _problem([[10]] * 3, [[1]], machines={"state": ["down", "cordoned", "up"]})
    for name in PRESETS:
        pl = get(name).solve(p)
        assert pl.assignment.tolist() == [2]


def test_cordoned_current_machine_may_be_kept() -> None:
    """A container may stay on its cordoned current machine."""
    p = _problem([[10], [10]], [[1]], machines={"state": ["up", "cordoned"]},
                 current=[1])
    assert get("ff").solve(p).assignment.tolist() == [0]
    p2 = _problem([[10], [10]], [[1]], machines={"state": ["down", "cordoned"]},
                  current=[1])
    assert get("ff").solve(p2).assignment.tolist() == [1]


def test_node_selector_and_taints() -> None:
    """Selector picks zone b; a tainted machine needs the toleration."""
    p = _problem(
        [[10]] * 3, [[1], [1]],
        machines={"labels": {"zone": ["a", "b", "b"]},
                  "taints": [set(), {"gpu"}, set()]},
        containers={"node_selector": [{"zone": "b"}, {"zone": "b"}],
                    "tolerations": [{"gpu"}, set()]},
    )
    for name in PRESETS:
        pl = get(name).solve(p)
        solver.validate(p, pl)
        assert pl.assignment[1] == 2
        assert pl.assignment[0] in (1, 2)


def test_anti_affinity_per_machine() -> None:
    """Three replicas, at most one per machine, two machines: one is left out."""
    svc = solver.Service("web", 3, [1], anti_affinity=AntiAffinity("machine", 1))
    cont = Containers.from_services([svc], ("size",))
    p = Problem(Machines(np.array([[10], [10]]), ("size",)), cont)
    pl = get("ffd").solve(p)
    assert sorted(pl.assignment.tolist()) == [-1, 0, 1]
    (i,) = pl.unplaced
    assert pl.reasons[int(i)] == {"anti_affinity machine": 2}


def test_spread_over_zones() -> None:
    """Max skew 1 over two zones alternates zones even when first fit prefers one."""
    svc = solver.Service("web", 4, [1], spread=Spread("zone", 1))
    cont = Containers.from_services([svc], ("size",))
    mach = Machines(np.array([[10]] * 3), ("size",), labels={"zone": ["a", "a", "b"]})
    p = Problem(mach, cont)
    pl = get("ff").solve(p)
    zones = [mach.labels["zone"][j] for j in pl.assignment]
    assert sorted(zones) == ["a", "a", "b", "b"]
    solver.validate(p, pl)


def test_required_affinity_places_target_first() -> None:
    """The dependant listed first still lands next to its target."""
    p = _problem(
        [[10], [10]], [[9], [5]],
        containers={"service": ["app", "db"],
                    "affinity": [Affinity("db", "machine"), None]},
    )
    pl = get("ff").solve(p)
    assert pl.assignment.tolist() == [-1, 0]
    assert pl.reasons[0] == {"size": 1, "affinity db@machine": 1}
    p2 = _problem(
        [[10], [10]], [[4], [5]],
        containers={"service": ["app", "db"],
                    "affinity": [Affinity("db", "machine"), None]},
    )
    assert get("ff").solve(p2).assignment.tolist() == [0, 0]


def test_preferred_affinity_moves_scoring_choice() -> None:
    """k8s-least would spread; the preference keeps the pair together."""
    p = _problem(
        [[10], [10]], [[2], [2]],
        containers={"service": ["db", "app"],
                    "affinity": [None, Affinity("db", "machine", required=False)]},
    )
    assert get("k8s-least").solve(p).assignment.tolist() == [0, 0]


def test_quota() -> None:
    """Namespace quota 5: the second container of 3 does not fit it."""
    p = _problem([[10]], [[3], [3]], containers={"namespace": ["t", "t"]},
                 quotas={"t": {"size": 5}})
    pl = get("ff").solve(p)
    assert pl.assignment.tolist() == [0, -1]
    assert pl.reasons[1] == {"quota t": 1}


def test_pinned_first_on_current_machine() -> None:
    """A pinned container keeps its machine even though ffd would start elsewhere."""
    p = _problem([[10], [10]], [[2], [9]], current=[1, -1], pinned=[True, False])
    pl = get("ffd").solve(p)
    assert pl.assignment.tolist() == [1, 0]
    solver.validate(p, pl)


def test_reasons_first_failing_check() -> None:
    """Each machine is counted under the first check it fails, in the fixed order."""
    p = _problem(
        [[10, 10], [10, 1], [1, 10], [10, 10], [10, 10]], [[5, 5]],
        machines={"state": ["down", "up", "up", "cordoned", "up"],
                  "labels": {"zone": ["a", "a", "a", "a", "b"]}},
        containers={"node_selector": [{"zone": "a"}]},
    )
    pl = get("bfd").solve(p)
    assert pl.reasons[0] == {
        "down": 1, "cordoned": 1, "node_selector zone=a": 1, "r0": 1, "r1": 1,
    }
    assert "r1: 1 machine" in pl.explain(0)


def test_candidates_rotate_start() -> None:
    """With one candidate, each container takes the next feasible machine in turn."""
    p = _problem([[10]] * 3, [[1]] * 4)
    pl = get("k8s-least", candidates=1).solve(p)
    assert pl.assignment.tolist() == [0, 1, 2, 0]
