"""Model files and their generators: shipped models, scenarios, events and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import solver
import solver.datasets as ds
from solver import AntiAffinity, Spread
from solver.datasets.events import MACHINE_ADD, MACHINE_FAIL, MACHINE_REPAIR
from solver.datasets.generators import generate_problem, generate_trace, load_model
from solver.errors import InvalidProblem
from solver.model import DOWN, UP

MODELS = Path(__file__).resolve().parents[2] / "models"
SMALL = ["seed-story", "web-tier", "batch-mix", "gpu-fleet"]

HEAD = """\
kind = "scenario"
name = "toy"
resources = { cpu = "millicore", memory = "MiB" }

[[machines]]
name = "n"
count = 3
capacity = { cpu = 4000, memory = 8192 }

[machines.patterns]
zone = { cycle = ["a", "b"] }

[[services]]
name = "web"
replicas = 4
requests = { cpu = 500, memory = { dist = "uniform", min = 100, max = 200 } }
"""


def write(tmp_path: Path, text: str, name: str = "toy.toml") -> Path:
    """Write ``text`` to a file in ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_text(text)
    return path


def kinds(trace: solver.datasets.events.Trace) -> pd.Series:
    """Event kinds of a trace as plain strings."""
    return trace.events["kind"].astype(str)


# -- shipped models --


@pytest.mark.parametrize("name", SMALL)
def test_shipped_model_loads_generates_and_places(name):
    """Each small shipped model gives a Problem that bfd places without violations."""
    problem = generate_problem(MODELS / f"{name}.toml", seed=0)
    assert problem.name == name
    assert problem.n > 0
    placement = solver.place(problem, "bfd")
    solver.validate(problem, placement)
    assert placement.placed == problem.n


@pytest.mark.parametrize("name", SMALL)
def test_trace_starts_with_the_problem(name):
    """At time 0 the trace holds exactly the containers generate_problem gives."""
    problem = generate_problem(MODELS / f"{name}.toml", seed=3)
    trace = generate_trace(MODELS / f"{name}.toml", seed=3)
    first = trace.snapshot(0)
    assert first.n == problem.n
    np.testing.assert_array_equal(first.requests, problem.requests)
    np.testing.assert_array_equal(
        first.containers.priority, problem.containers.priority
    )
    assert list(first.containers.service) == list(problem.containers.service)
    np.testing.assert_array_equal(first.capacity[: problem.m], problem.capacity)
    assert (np.diff(trace.events["time"].to_numpy()) >= 0).all()


def test_seed_story_has_three_machines_two_services_one_failure():
    """seed-story: 3 machines, 2 services, the image service scales out, one failure."""
    problem = generate_problem(MODELS / "seed-story.toml")
    assert problem.m == 3
    assert sorted(set(problem.containers.service)) == ["cat-photos", "image-resize"]
    trace = generate_trace(MODELS / "seed-story.toml")
    assert (kinds(trace) == "machine_fail").sum() == 1
    failed = trace.events.loc[kinds(trace) == "machine_fail", "machine"].item()
    assert trace.fleet.ids[failed] == "node-1"
    before = list(trace.snapshot(100).containers.service).count("image-resize")
    after = list(trace.snapshot(200).containers.service).count("image-resize")
    assert (before, after) == (2, 5)
    assert trace.snapshot(299).machines.state[failed] == UP
    assert trace.snapshot(300).machines.state[failed] == DOWN


def test_web_tier_labels_and_constraints():
    """web-tier: zones round-robin, racks of four, spread and anti-affinity."""
    problem = generate_problem(MODELS / "web-tier.toml")
    zones = list(problem.machines.labels["zone"])
    assert zones[:4] == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"]
    racks = list(problem.machines.labels["rack"])
    assert racks == [f"rack-{i // 4}" for i in range(problem.m)]
    front = np.flatnonzero(problem.containers.service == "frontend")
    assert problem.containers.spread[front[0]] == Spread("zone", 1)
    assert problem.containers.anti_affinity[front[0]] == AntiAffinity("machine", 2)
    cpu = problem.requests[front, 0]
    assert cpu.min() >= 250
    assert cpu.max() <= 750


def test_batch_mix_priorities_lifetimes_and_quota():
    """batch-mix: priorities from the declared list, jobs leave after their lifetime."""
    problem = generate_problem(MODELS / "batch-mix.toml")
    etl = problem.containers.service == "etl"
    assert set(problem.containers.priority[etl]) <= {0, 10, 50}
    assert 10 <= etl.sum() <= 30
    assert problem.quotas["batch"][0] == 200000
    ev = generate_trace(MODELS / "batch-mix.toml").events
    arrive = ev[ev["kind"] == "arrive"].set_index("container")["time"]
    depart = ev[ev["kind"] == "depart"].set_index("container")["time"]
    life = depart - arrive.loc[depart.index]
    assert (life >= 10).all()
    assert (ev.loc[ev["kind"] == "arrive", "time"] < 3600).all()
    web = set(ev.loc[(ev["service"] == "web") & (ev["kind"] == "arrive"), "container"])
    assert not web & set(depart.index)


def test_gpu_fleet_requests_match_the_openb_convention():
    """gpu-fleet: 2-8 GPUs per GPU machine; gpu = num_gpu * 1000 or the GPU share."""
    problem = generate_problem(MODELS / "gpu-fleet.toml")
    k = problem.resources.names.index("gpu")
    gpus = problem.machines.gpus
    assert set(gpus[gpus > 0]) <= set(range(2, 9))
    np.testing.assert_array_equal(problem.capacity[:, k], gpus * 1000)
    asks = problem.metadata["gpu_requests"]
    num, milli = asks["num_gpu"], asks["gpu_milli"]
    assert num.dtype == milli.dtype == np.int64
    expected = np.where(num == 1, milli, num * 1000)
    np.testing.assert_array_equal(problem.requests[:, k], expected)
    shared = (num == 1) & (milli < 1000)
    assert shared.any()
    assert (num > 1).any()
    big = problem.containers.service == "train-8"
    assert (num[big] == 8).all()
    assert (problem.requests[problem.containers.service == "cpu-jobs", k] == 0).all()


def test_scale_1m_has_a_million_containers_in_four_dimensions():
    """scale-1m: 1,000,000 containers in 4 dimensions, amounts in declared ranges."""
    problem = generate_problem(MODELS / "scale-1m.toml")
    assert problem.n == 1_000_000
    assert problem.resources.names == ("cpu", "memory", "disk", "gpu")
    web = problem.containers.service == "web"
    assert web.sum() == 400_000
    assert problem.requests[web, 0].min() >= 50
    assert problem.requests[web, 0].max() <= 4000
    assert (problem.requests.sum(axis=0) < problem.capacity.sum(axis=0)).all()


def test_model_format_is_sniffed_beside_problem_files(tmp_path):
    """datasets.read picks the model reader; a problem file stays a problem."""
    problem = ds.read(MODELS / "web-tier.toml")
    assert problem.metadata["format"] == "model"
    plain = write(
        tmp_path,
        '[resources]\ncpu = "millicore"\n[[machines]]\ncapacity = { cpu = 10 }\n',
        "plain.toml",
    )
    assert ds.read(plain).metadata["format"] == "toml"


def test_dict_model_equals_file_model(tmp_path):
    """A parsed dict generates the same arrays as the file it came from."""
    import tomllib

    path = write(tmp_path, HEAD)
    a = generate_problem(path, seed=5)
    b = generate_problem(tomllib.loads(HEAD), seed=5)
    np.testing.assert_array_equal(a.requests, b.requests)
    assert list(a.machines.labels["zone"]) == ["a", "b", "a"]


# -- scenario events --


def test_scale_in_departs_newest_and_rolling_update_spaces_replicas(tmp_path):
    """Scale-in removes the newest replicas; an update redraws each replica in turn."""
    text = HEAD + (
        '[[events]]\nat = 10\nkind = "scale"\nservice = "web"\nreplicas = 2\n'
        '[[events]]\nat = 20\nkind = "update"\nservice = "web"\ninterval = 5\n'
        'requests = { memory = { dist = "uniform", min = 1000, max = 1100 } }\n'
    )
    trace = generate_trace(write(tmp_path, text))
    ev = trace.events
    gone = ev.loc[ev["kind"] == "depart", ["time", "container"]]
    assert gone.to_numpy().tolist() == [[10, 3], [10, 2]]
    upd = ev[ev["kind"] == "update"]
    assert upd["time"].tolist() == [20, 25]
    assert upd["container"].tolist() == [0, 1]
    assert upd["memory"].between(1000, 1100).all()
    assert (upd["cpu"] == 500).all()
    later = trace.snapshot(30)
    assert later.n == 2
    assert later.requests[:, 1].min() >= 1000


def test_update_dropped_for_replica_that_left_first(tmp_path):
    """A replica removed before its turn in a rolling update gets no update event."""
    text = HEAD + (
        '[[events]]\nat = 20\nkind = "update"\nservice = "web"\ninterval = 10\n'
        "requests = { cpu = 900 }\n"
        '[[events]]\nat = 25\nkind = "scale"\nservice = "web"\nreplicas = 1\n'
    )
    trace = generate_trace(write(tmp_path, text))
    upd = trace.events[trace.events["kind"] == "update"]
    assert upd["container"].tolist() == [0]
    assert trace.snapshot(100).n == 1


def test_machine_add_fail_count_and_repair(tmp_path):
    """Added machines are down until added; random failures are repaired on time."""
    text = HEAD + (
        '[[events]]\nat = 50\nkind = "machine_add"\nname = "extra"\ncount = 2\n'
        "capacity = { cpu = 8000, memory = 8192 }\n"
        '[[events]]\nat = 60\nkind = "machine_fail"\ncount = 2\nrepair_after = 30\n'
    )
    trace = generate_trace(write(tmp_path, text), seed=1)
    assert list(trace.fleet.ids) == ["n-0", "n-1", "n-2", "extra-0", "extra-1"]
    assert list(trace.fleet.labels["zone"]) == ["a", "b", "a", None, None]
    assert (trace.snapshot(10).machines.state[3:] == DOWN).all()
    assert (trace.snapshot(50).machines.state == UP).all()
    ev = trace.events
    code = ev["kind"].cat.codes
    failed = ev.loc[code == MACHINE_FAIL, "machine"].tolist()
    repaired = ev.loc[code == MACHINE_REPAIR, ["time", "machine"]].to_numpy().tolist()
    assert len(set(failed)) == 2
    assert repaired == [[90, m] for m in failed]
    assert (trace.snapshot(70).machines.state[failed] == DOWN).all()
    assert (trace.snapshot(90).machines.state == UP).all()
    initial_adds = ev.loc[(code == MACHINE_ADD) & (ev["time"] == 0), "machine"]
    assert set(initial_adds) == {m for m in failed if m < 3}


def test_churning_service_arrivals_within_window(tmp_path):
    """Churn arrivals fall in [start, stop); each leaves after a positive lifetime."""
    text = HEAD.replace('kind = "scenario"', 'kind = "model"') + (
        "churn = { rate = 0.5, start = 100, stop = 200, "
        'lifetime = { dist = "uniform", min = 5, max = 9 } }\n'
    )
    ev = generate_trace(write(tmp_path, text), seed=2).events
    arrive = ev[ev["kind"] == "arrive"].set_index("container")["time"]
    depart = ev[ev["kind"] == "depart"].set_index("container")["time"]
    late = arrive[arrive.index >= 4]
    assert len(late) > 10
    assert late.between(100, 199).all()
    assert (depart - arrive.loc[depart.index]).between(5, 9).all()
    assert len(depart) == len(arrive)


def test_seed_changes_random_draws_only():
    """Another seed changes random amounts; fixed amounts and the fleet stay."""
    a = generate_problem(MODELS / "web-tier.toml", seed=0)
    b = generate_problem(MODELS / "web-tier.toml", seed=1)
    np.testing.assert_array_equal(a.capacity, b.capacity)
    assert (a.requests != b.requests).any()
    cache = a.containers.service == "cache"
    np.testing.assert_array_equal(a.requests[cache, 0], b.requests[cache, 0])


# -- bad input --

BAD = {
    "unknown_key": (
        HEAD + "colour = 'red'\n",
        17,
        "services[0].colour",
        "unknown field",
    ),
    "wrong_type": (
        HEAD.replace("replicas = 4", 'replicas = "four"'),
        15,
        "services[0].replicas",
        "expected a whole number",
    ),
    "negative_amount": (
        HEAD.replace("cpu = 500", "cpu = -500"),
        16,
        "services[0].requests.cpu",
        "negative amount -500",
    ),
    "negative_capacity": (
        HEAD.replace("cpu = 4000", "cpu = -1"),
        8,
        "machines[0].capacity.cpu",
        "negative amount -1",
    ),
    "unknown_distribution": (
        HEAD.replace('dist = "uniform"', 'dist = "gaussian"'),
        16,
        "services[0].requests.memory.dist",
        "unknown distribution 'gaussian'",
    ),
    "min_above_max": (
        HEAD.replace("min = 100, max = 200", "min = 300, max = 200"),
        16,
        "services[0].requests.memory.min",
        "min 300 is greater than max 200",
    ),
    "weights_length": (
        HEAD.replace(
            "replicas = 4",
            'replicas = { dist = "choice", values = [1, 2], weights = [1.0] }',
        ),
        15,
        "services[0].replicas.weights",
        "1 weights for 2 values",
    ),
    "unknown_event_machine": (
        HEAD + '[[events]]\nat = 5\nkind = "machine_fail"\nmachines = ["n-9"]\n',
        20,
        "events[0].machines",
        "no machine 'n-9'",
    ),
    "unknown_event_kind": (
        HEAD + '[[events]]\nat = 5\nkind = "explode"\n',
        19,
        "events[0].kind",
        "'explode' is not one of",
    ),
    "gpu_share_over_one_gpu": (
        HEAD.replace('memory = "MiB" }', 'memory = "MiB", gpu = "milli-GPU" }')
        + "gpu = { gpu_milli = 1500 }\n",
        17,
        "services[0].gpu.gpu_milli",
        "at most 1000",
    ),
    "bad_pattern": (
        HEAD.replace('{ cycle = ["a", "b"] }', '{ cycle = ["a"], every = 2 }'),
        11,
        "machines[0].patterns.zone",
        "exactly one of",
    ),
    "invalid_toml": (HEAD + "x = {\n", 17, None, "invalid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_model_names_file_line_and_field(tmp_path, case):
    """Each bad model raises InvalidProblem naming the file, the line and the field."""
    text, line, field, reason = BAD[case]
    path = write(tmp_path, text, f"{case}.toml")
    with pytest.raises(InvalidProblem) as err:
        load_model(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line {line},")
    if field is not None:
        assert f"field {field!r}" in message
    assert reason in message


def test_scale_of_churning_service_is_refused(tmp_path):
    """scale and update need a service without churn."""
    text = HEAD + (
        "churn = { rate = 1.0, lifetime = 5 }\n"
        '[[events]]\nat = 5\nkind = "scale"\nservice = "web"\nreplicas = 2\n'
    )
    with pytest.raises(InvalidProblem, match=r"line 21, field 'events\[0\]\.service'"):
        load_model(write(tmp_path, text))


def test_bad_dict_model_and_seed_name_the_field():
    """A dict model names the field; a negative seed is refused."""
    model = {
        "kind": "model",
        "resources": ["cpu"],
        "machines": [{"capacity": {"cpu": 4}}],
        "services": [{"name": "a", "replicas": 1, "requests": {"cpu": {"dist": "x"}}}],
    }
    with pytest.raises(
        InvalidProblem, match=re.escape("'services[0].requests.cpu.dist'")
    ):
        load_model(model)
    model["services"][0]["requests"]["cpu"] = 1
    with pytest.raises(InvalidProblem, match="seed"):
        generate_problem(model, seed=-1)


def test_too_many_random_failures_is_refused(tmp_path):
    """Failing more machines than are up names the event's count field."""
    text = HEAD + '[[events]]\nat = 5\nkind = "machine_fail"\ncount = 4\n'
    with pytest.raises(InvalidProblem, match=r"line 20, field 'events\[0\]\.count'"):
        generate_trace(write(tmp_path, text))
