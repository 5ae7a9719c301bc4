"""Trace readers on small files written in each format, bad input, and snapshots."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.datasets.alibaba2018 import read_alibaba2018_trace
from solver.datasets.azure import read_azure_trace
from solver.datasets.google import read_google2011_trace, read_google2019_trace
from solver.datasets.openb import read_openb, read_openb_trace
from solver.errors import InvalidProblem

NODES = (
    "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,65536,2,T4\nn1,64000,131072,8,V100\n"
)
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def _openb(folder: Path, pods: str, header: str = POD_HEADER) -> Path:
    (folder / "openb_node_list_gpu_node.csv").write_text(NODES)
    path = folder / "pods.csv"
    path.write_text(header + pods)
    return path


def test_openb_reads_requests_and_gpu_model(tmp_path):
    """GPU share vs whole GPUs, the single-model selector, and the kept model list."""
    path = _openb(
        tmp_path,
        "p0,1000,2048,1,300,T4,LS,Running,5,50,5\n"
        "p1,2000,4096,2,1000,T4|V100,BE,Running,10,,10\n"
        "p2,500,512,0,0,,LS,Pending,0,20,\n",
    )
    p = read_openb(path)
    assert p.requests.tolist() == [[1000, 2048, 300], [2000, 4096, 2000], [500, 512, 0]]
    assert list(p.containers.ids) == ["p0", "p1", "p2"]
    assert p.containers.node_selector[0] == {"gpu_model": "T4"}
    assert p.containers.node_selector[1] is None
    assert p.metadata["gpu_spec"][1] == "T4|V100"
    assert p.metadata["gpu_requests"]["num_gpu"].tolist() == [1, 2, 0]
    assert p.metadata["gpu_requests"]["gpu_milli"].tolist() == [300, 0, 0]
    assert p.machines.gpus.tolist() == [2, 8]
    assert p.capacity[:, 2].tolist() == [2000, 8000]
    trace = read_openb_trace(path)
    assert trace.snapshot(15).containers.ids.tolist() == ["p0", "p1", "p2"]
    assert trace.snapshot(20).containers.ids.tolist() == ["p0", "p1"]
    assert trace.snapshot(60).containers.ids.tolist() == ["p1"]


def test_openb_optional_columns_default_and_unknown_ignored(tmp_path):
    """A pod list with only the required columns (plus an unknown one) still reads."""
    path = _openb(
        tmp_path,
        "p0,1000,2048,1,500,zz\n",
        header="name,cpu_milli,memory_mib,num_gpu,gpu_milli,extra\n",
    )
    trace = read_openb_trace(path)
    assert trace.events["kind"].tolist() == ["arrive"]
    assert trace.snapshot(10**9).n == 1


@pytest.mark.parametrize(
    ("pods", "header", "message"),
    [
        ("p0,1000,2048,1\n", POD_HEADER, "line 2: malformed line"),
        (
            "p0,1000,2048,1,300\n",
            "name,cpu_milli,memory_mib,num_gpu,other\n",
            "line 1, field 'gpu_milli': missing column",
        ),
        (
            "p0,1000,-5,0,0,,LS,Running,0,1,0\n",
            POD_HEADER,
            "line 2, field 'memory_mib': negative",
        ),
        (
            "p0,1000,2048,0,0,,LS,Running,0,1,0\np1,lots,1,0,0,,LS,Running,0,1,0\n",
            POD_HEADER,
            "line 3, field 'cpu_milli': 'lots' is not a number",
        ),
        (
            "p0,1000,2048,16,1000,,LS,Running,0,1,0\n",
            POD_HEADER,
            "line 2, field 'num_gpu': 16 GPUs, more than any node",
        ),
        (
            "p0,1000,2048,1,1000,,LS,Running,9,3,0\n",
            POD_HEADER,
            "line 2, field 'deletion_time'",
        ),
    ],
    ids=[
        "malformed-line",
        "missing-column",
        "negative",
        "non-numeric",
        "too-many-gpus",
        "deleted-before-created",
    ],
)
def test_openb_bad_input(tmp_path, pods, header, message):
    """Each bad pod list raises InvalidProblem naming the file, line and field."""
    path = _openb(tmp_path, pods, header=header)
    with pytest.raises(InvalidProblem, match=message) as err:
        read_openb(path)
    assert str(path) in str(err.value)


def test_openb_needs_node_list(tmp_path):
    """A pod list without a node list beside it says which file is missing."""
    path = tmp_path / "pods.csv"
    path.write_text(POD_HEADER + "p0,1,1,0,0,,LS,Running,0,1,0\n")
    with pytest.raises(InvalidProblem, match=r"openb_node_list_gpu_node\.csv"):
        read_openb(path)


pods_strategy = st.lists(
    st.tuples(
        st.integers(0, 64000),
        st.integers(0, 131072),
        st.sampled_from([0, 1, 2, 8]),
        st.integers(1, 1000),
        st.integers(0, 10**6),
        st.one_of(st.none(), st.integers(0, 10**6)),
    ),
    max_size=30,
)


@settings(max_examples=15)
@given(pods=pods_strategy)
def test_openb_roundtrip(tmp_path_factory, pods):
    """Random pod lists read back with the same requests and lifetimes."""
    folder = tmp_path_factory.mktemp("openb")
    rows = []
    for i, (cpu, mem, ngpu, milli, t0, dt) in enumerate(pods):
        end = "" if dt is None else str(t0 + dt)
        rows.append(
            f"p{i},{cpu},{mem},{ngpu},{milli if ngpu == 1 else 1000},,LS,"
            f"Running,{t0},{end},{t0}\n"
        )
    trace = read_openb_trace(_openb(folder, "".join(rows)))
    p = trace.to_problem()
    want = [[c, m, (milli if g == 1 else g * 1000)] for c, m, g, milli, _, _ in pods]
    assert p.requests.reshape(-1, 3).tolist() == want
    ev = trace.events
    arrive = ev[ev["kind"] == "arrive"].sort_values("container")
    assert arrive["time"].tolist() == [t0 for *_, t0, _ in pods]
    depart = ev[ev["kind"] == "depart"].sort_values("container")
    assert depart["time"].tolist() == [t0 + dt for *_, t0, dt in pods if dt is not None]
    t = 500_000
    alive = [
        f"p{i}"
        for i, (*_, t0, dt) in enumerate(pods)
        if t0 <= t and (dt is None or t0 + dt > t)
    ]
    assert list(trace.snapshot(t).containers.ids) == alive


META = (
    "m_1,0,1,a,96,100,USING\nm_2,0,2,,64,50,USING\nm_2,100,2,,64,50,OFFLINE\n"
    "m_2,200,2,,64,50,USING\n"
)


def test_alibaba2018_tables(tmp_path):
    """machine_meta, container_meta and batch_task: fleet, arrivals and scaling."""
    (tmp_path / "machine_meta.csv").write_text(META)
    (tmp_path / "container_meta.csv").write_text(
        "c_1,m_1,10,app_1,started,400,400,1.5\nc_1,m_1,20,app_1,started,800,800,1.5\n"
        "c_2,m_2,30,app_2,started,100,100,0.25\nc_2,m_2,40,app_2,stopped,100,100,0.25\n"
    )
    (tmp_path / "batch_task.csv").write_text("M1,3,j_1,1,Terminated,50,150,50,0.5\n")
    trace = read_alibaba2018_trace(tmp_path)
    assert trace.fleet.capacity.tolist() == [[96000, 10000], [64000, 5000]]
    assert trace.fleet.labels["failure_domain_2"].tolist() == ["a", None]
    s = trace.snapshot(120)
    assert s.machines.state.tolist() == [0, 2]
    assert list(s.containers.ids) == [0, "j_1/M1#0", "j_1/M1#1", "j_1/M1#2"]
    assert s.requests.tolist() == [[8000, 150]] + [[500, 50]] * 3
    assert s.current.tolist() == [0, -1, -1, -1]
    assert trace.snapshot(35).n == 2
    assert trace.snapshot(250).machines.state.tolist() == [0, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m_1,0,1,a,96,100\n", "line 1: malformed line"),
        ("m_1,0,1,a,96,100,USING\nm_2,0,1,a,x,100,USING\n", "line 2, field 'cpu_num'"),
        ("m_1,0,1,a,96,-3,USING\n", "line 1, field 'mem_size': negative"),
    ],
    ids=["malformed", "non-numeric", "negative"],
)
def test_alibaba2018_bad_input(tmp_path, text, message):
    """Bad machine_meta rows name the file, line and field."""
    (tmp_path / "machine_meta.csv").write_text(text)
    with pytest.raises(InvalidProblem, match=message):
        read_alibaba2018_trace(tmp_path / "machine_meta.csv")


def test_alibaba2018_instances_take_task_plan(tmp_path):
    """batch_instance rows arrive on their machine with their task's planned request."""
    (tmp_path / "machine_meta.csv").write_text(META)
    (tmp_path / "batch_task.csv").write_text("M1,2,j_1,1,Terminated,50,150,50,0.5\n")
    (tmp_path / "batch_instance.csv").write_text(
        "i1,M1,j_1,1,Terminated,60,90,m_1,1,1,10,20,0.1,0.2\n"
        "i2,M1,j_1,1,Terminated,70,0,m_2,1,1,10,20,0.1,0.2\n"
    )
    s = read_alibaba2018_trace(tmp_path).snapshot(80)
    assert s.requests.tolist() == [[500, 50], [500, 50]]
    assert s.current.tolist() == [0, 1]
    assert read_alibaba2018_trace(tmp_path).snapshot(95).n == 1


def _google2011(root: Path, tasks: str) -> Path:
    (root / "machine_events").mkdir(parents=True)
    (root / "task_events").mkdir()
    (root / "machine_events" / "part-00000-of-00001.csv").write_text(
        "0,5,0,p,0.5,0.25\n0,6,0,p,1,1\n100,6,1,,,\n200,6,0,p,1,0.5\n"
    )
    (root / "task_events" / "part-00000-of-00001.csv").write_text(tasks)
    return root


def test_google2011_events(tmp_path):
    """Schedule/finish become arrive/depart on the trace's machine; removal fails."""
    root = _google2011(
        tmp_path,
        "10,,7,0,,0,u,2,9,0.1,0.05,0,0\n"
        "20,,7,0,5,1,u,2,9,0.1,0.05,0,0\n"
        "30,,7,1,6,1,u,2,9,0.2,0.05,0,0\n"
        "150,,7,1,6,2,u,2,9,0.2,0.05,0,0\n"
        "300,,7,0,5,4,u,2,9,0.1,0.05,0,0\n",
    )
    trace = read_google2011_trace(root)
    s = trace.snapshot(120)
    assert s.capacity.tolist() == [[5000, 2500], [10000, 10000]]
    assert s.machines.state.tolist() == [0, 2]
    assert s.requests.tolist() == [[1000, 500], [2000, 500]]
    assert s.current.tolist() == [0, -1]
    assert list(s.containers.service) == ["7", "7"]
    assert trace.snapshot(250).capacity.tolist() == [[5000, 2500], [10000, 5000]]
    submit = read_google2011_trace(root, arrive_on="submit").snapshot(15)
    assert submit.n == 1
    assert submit.current is None


def test_google2011_bad_input(tmp_path):
    """A non-numeric request in a task_events part names the part, line and field."""
    root = _google2011(
        tmp_path, "20,,7,0,5,1,u,2,9,0.1,0.05,0,0\n30,,7,1,6,1,u,2,9,abc,0.05,0,0\n"
    )
    with pytest.raises(InvalidProblem, match="line 2, field 'cpu_request'"):
        read_google2011_trace(root)


def _json_lines(path: Path, rows: list[dict], quoted: bool) -> None:
    def fix(v):
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return str(v) if quoted and isinstance(v, int) else v

    path.write_text("".join(json.dumps(fix(r)) + "\n" for r in rows))


instances_strategy = st.lists(
    st.tuples(
        st.integers(0, 10**9),
        st.integers(1, 10**6),
        st.integers(0, 1000),
        st.floats(0, 1),
        st.floats(0, 1),
        st.integers(0, 2),
        st.one_of(st.none(), st.integers(1, 10**6)),
    ),
    max_size=25,
)


@settings(max_examples=15)
@given(rows=instances_strategy, quoted=st.booleans())
def test_google2019_roundtrip(tmp_path_factory, rows, quoted):
    """Random instance events (quoted or plain integers) read back exactly."""
    folder = tmp_path_factory.mktemp("g19")
    machines = [
        {
            "time": 0,
            "machine_id": 11 + k,
            "type": 1,
            "capacity": {"cpus": 1.0, "memory": 0.5},
        }
        for k in range(3)
    ]
    _json_lines(folder / "machine_events-0.json", machines, quoted)
    events, seen = [], set()
    for t, coll, idx, cpu, mem, m, dt in rows:
        if (coll, idx) in seen:
            continue
        seen.add((coll, idx))
        base = {
            "collection_id": coll,
            "instance_index": idx,
            "machine_id": 11 + m,
            "priority": 100,
            "resource_request": {"cpus": cpu, "memory": mem},
            "alloc_collection_id": 0,
        }
        events.append({"time": t, "type": 3, **base})
        if dt is not None:
            events.append({"time": t + dt, "type": 6, **base})
    events.sort(key=lambda e: e["time"])
    _json_lines(folder / "instance_events-0.json", events, quoted)
    p = read_google2019_trace(folder).to_problem()
    want = sorted(
        (
            (e["collection_id"] << 20) | e["instance_index"],
            round(e["resource_request"]["cpus"] * 10000),
            round(e["resource_request"]["memory"] * 10000),
        )
        for e in events
        if e["type"] == 3
    )
    got = sorted(zip(p.containers.ids.tolist(), *p.requests.T.tolist(), strict=False))
    assert [g[0] for g in got] == [w[0] for w in want]
    assert np.allclose(
        np.array(got, float).reshape(-1, 3)[:, 1:],
        np.array(want, float).reshape(-1, 3)[:, 1:],
        atol=1,
    )
    assert p.capacity.tolist() == [[10000, 5000]] * 3


def test_google2019_bad_value_names_line(tmp_path):
    """A non-integer time on line 2 is reported with file, line and field."""
    _json_lines(
        tmp_path / "instance_events-0.json",
        [
            {"time": "5", "type": "3", "collection_id": "1", "instance_index": 0},
            {"time": "soon", "type": "3", "collection_id": "1", "instance_index": 1},
        ],
        quoted=False,
    )
    with pytest.raises(InvalidProblem, match="line 2, field 'time'"):
        read_google2019_trace(tmp_path)


def test_google2019_skips_tasks_inside_allocs(tmp_path):
    """Tasks running inside an alloc set are skipped unless asked for."""
    base = {
        "type": 3,
        "collection_id": 1,
        "machine_id": 0,
        "resource_request": {"cpus": 0.1, "memory": 0.1},
    }
    _json_lines(
        tmp_path / "instance_events-0.json",
        [
            {"time": 1, "instance_index": 0, "alloc_collection_id": 0, **base},
            {"time": 2, "instance_index": 1, "alloc_collection_id": 9, **base},
        ],
        quoted=True,
    )
    assert read_google2019_trace(tmp_path).to_problem().n == 1
    assert read_google2019_trace(tmp_path, inside_allocs=True).to_problem().n == 2


def _azure(path: Path, vms: list[tuple]) -> Path:
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE vmType (id INTEGER, vmTypeId INTEGER, machineId INTEGER, "
        "core REAL, memory REAL, hdd REAL, ssd REAL, nic REAL)"
    )
    con.execute(
        "CREATE TABLE vm (vmId INTEGER, tenantId INTEGER, vmTypeId INTEGER, "
        "priority INTEGER, starttime REAL, endtime REAL)"
    )
    con.executemany(
        "INSERT INTO vmType VALUES (?,?,?,?,?,?,?,?)",
        [
            (0, 1, 10, 0.5, 0.25, 0, 0.125, 0.0625),
            (1, 2, 10, 0.25, 0.5, 0, 0, 0.01),
            (2, 3, 11, 1, 1, 1, 1, 1),
        ],
    )
    con.executemany("INSERT INTO vm VALUES (?,?,?,?,?,?)", vms)
    con.commit()
    con.close()
    return path


vms_strategy = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 3]),
        st.integers(0, 1),
        st.integers(-100, 1400),
        st.one_of(st.none(), st.integers(0, 1000)),
    ),
    max_size=30,
)


@settings(max_examples=15)
@given(vms=vms_strategy)
def test_azure_roundtrip(tmp_path_factory, vms):
    """Random VM tables read back: requests of the chosen hardware, times, priority."""
    rows = [
        (100 + i, 7, t, p, s / 100, None if d is None else (s + d) / 100)
        for i, (t, p, s, d) in enumerate(vms)
    ]
    path = _azure(tmp_path_factory.mktemp("az") / "packing.sqlite", rows)
    trace = read_azure_trace(path, machine_type=10, machines=3)
    demand = {1: [5000, 2500, 0, 1250, 625], 2: [2500, 5000, 0, 0, 100]}
    p = trace.to_problem()
    kept = [r for r in rows if r[2] in demand]
    assert p.containers.ids.tolist() == sorted(r[0] for r in kept)
    by_id = {r[0]: r for r in kept}
    for vm, req, prio in zip(
        p.containers.ids, p.requests, p.containers.priority, strict=False
    ):
        assert req.tolist() == demand[by_id[vm][2]]
        assert prio == (1 if by_id[vm][3] == 0 else 0)
    assert trace.metadata["skipped_vms"] == len(rows) - len(kept)
    arrive = trace.events[trace.events["kind"] == "arrive"]
    assert sorted(arrive["time"]) == sorted(round(r[4] * 86400) for r in kept)


def test_azure_bad_input(tmp_path):
    """A missing table, or a non-numeric start time, names the table, row and field."""
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    with pytest.raises(InvalidProblem, match="table 'vm' is missing"):
        read_azure_trace(path)
    bad = _azure(
        tmp_path / "bad.sqlite", [(1, 1, 1, 0, 0.5, 1.0), (2, 1, 1, 0, "x", 1)]
    )
    with pytest.raises(InvalidProblem, match="row 2, field 'starttime'"):
        read_azure_trace(bad)


machines_2018 = st.lists(
    st.tuples(
        st.integers(1, 128),
        st.integers(0, 10000),
        st.integers(0, 9),
        st.sampled_from(["", "a", "b"]),
    ),
    min_size=1,
    max_size=6,
)
containers_2018 = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(0, 1000),
        st.integers(0, 3),
        st.integers(0, 6400),
        st.integers(0, 10000),
        st.one_of(st.none(), st.integers(1, 1000)),
    ),
    max_size=20,
)
instances_2018 = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(1, 1000),
        st.one_of(st.none(), st.integers(0, 1000)),
        st.integers(0, 5),
        st.integers(0, 6400),
        st.integers(0, 10000),
    ),
    max_size=20,
)


@settings(max_examples=15)
@given(machines=machines_2018, containers=containers_2018, instances=instances_2018)
def test_alibaba2018_roundtrip(tmp_path_factory, machines, containers, instances):
    """Random machine_meta, container_meta and batch_instance tables read back."""
    folder = tmp_path_factory.mktemp("ali")
    m = len(machines)
    (folder / "machine_meta.csv").write_text(
        "".join(
            f"m_{i},0,{fd1},{fd2},{cpu},{mem / 100:.2f},USING\n"
            for i, (cpu, mem, fd1, fd2) in enumerate(machines)
        )
    )
    rows = []
    for c, (mach, t, app, cpu, mem, life) in enumerate(containers):
        base = f"m_{mach % m},{{}},app_{app},{{}},{cpu},{cpu},{mem / 100:.2f}\n"
        rows.append((t, f"c_{c}," + base.format(t, "started")))
        if life is not None:
            rows.append((t + life, f"c_{c}," + base.format(t + life, "stopped")))
    rows.sort(key=lambda r: r[0])
    (folder / "container_meta.csv").write_text("".join(r for _, r in rows))
    (folder / "batch_instance.csv").write_text(
        "".join(
            f"ins_{i},t_{task},j_{job},1,Terminated,{start},"
            f"{0 if life is None else start + life},m_{mach % m},1,1,1,{cpu},"
            f"0.01,{mem / 100:.2f}\n"
            for i, (task, job, start, life, mach, cpu, mem) in enumerate(instances)
        )
    )
    trace = read_alibaba2018_trace(folder)
    assert trace.fleet.ids.tolist() == [f"m_{i}" for i in range(m)]
    assert trace.fleet.capacity.tolist() == [[c * 1000, mem] for c, mem, *_ in machines]
    assert trace.fleet.labels["failure_domain_1"].tolist() == [
        str(fd1) for *_, fd1, _ in machines
    ]
    assert trace.fleet.labels["failure_domain_2"].tolist() == [
        fd2 or None for *_, fd2 in machines
    ]
    p = trace.to_problem()
    # containers are keyed in order of first appearance in container_meta
    seen = list(dict.fromkeys(int(r.split(",")[0][2:]) for _, r in rows))
    key = {c: k for k, c in enumerate(seen)}
    want = sorted(
        (key[c], cpu * 10, mem, f"app_{app}")
        for c, (_, _, app, cpu, mem, _) in enumerate(containers)
    ) + [
        (len(containers) + i, cpu * 10, mem, f"j_{job}/t_{task}")
        for i, (task, job, _, _, _, cpu, mem) in enumerate(instances)
    ]
    got = list(
        zip(
            p.containers.ids.tolist(),
            p.requests[:, 0].tolist(),
            p.requests[:, 1].tolist(),
            p.containers.service,
            strict=True,
        )
    )
    assert got == want
    ev = trace.events
    arrive = ev[ev["kind"] == "arrive"].sort_values("container", kind="stable")
    assert arrive["machine"].tolist() == [containers[c][0] % m for c in seen] + [
        i[4] % m for i in instances
    ]
    assert arrive["time"].tolist() == [containers[c][1] for c in seen] + [
        i[2] for i in instances
    ]
    depart = ev[ev["kind"] == "depart"].sort_values("container", kind="stable")
    life = [containers[c][1:6:4] for c in seen]
    assert depart["time"].tolist() == [t + dt for t, dt in life if dt is not None] + [
        start + dt for _, _, start, dt, *_ in instances if dt is not None
    ]


tasks_2011 = st.lists(
    st.tuples(
        st.integers(1, 5),
        st.integers(0, 50),
        st.integers(0, 2),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
        st.integers(0, 11),
        st.one_of(st.none(), st.tuples(st.integers(1, 10**6), st.integers(2, 6))),
    ),
    max_size=25,
    unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=15)
@given(
    capacity=st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)),
        min_size=3,
        max_size=3,
    ),
    tasks=tasks_2011,
    start=st.integers(0, 10**9),
)
def test_google2011_roundtrip(tmp_path_factory, capacity, tasks, start):
    """Random machine_events and task_events parts read back exactly."""
    root = tmp_path_factory.mktemp("g11")
    (root / "machine_events").mkdir()
    (root / "task_events").mkdir()
    (root / "machine_events" / "part-00000-of-00001.csv").write_text(
        "".join(
            f"0,{100 + k},0,plat{k},{cpu / 10**6:.6f},{mem / 10**6:.6f}\n"
            for k, (cpu, mem) in enumerate(capacity)
        )
    )
    rows = []
    for job, index, mach, cpu, mem, prio, end in tasks:
        body = (
            f",,{job},{index},{100 + mach},{{}},user,1,{prio},"
            f"{cpu / 10**6:.6f},{mem / 10**6:.6f},0.000100,0\n"
        )
        rows.append((start, f"{start}" + body.format(1)))
        if end is not None:
            rows.append((start + end[0], f"{start + end[0]}" + body.format(end[1])))
    rows.sort(key=lambda r: r[0])
    part = root / "task_events" / "part-00000-of-00001.csv"
    part.write_text("".join(r for _, r in rows))
    trace = read_google2011_trace(root)

    def res(v: int) -> int:
        return int(np.rint(float(f"{v / 10**6:.6f}") * 10000))

    assert trace.fleet.ids.tolist() == [100, 101, 102]
    assert trace.fleet.capacity.tolist() == [[res(c), res(m)] for c, m in capacity]
    assert trace.fleet.labels["platform"].tolist() == ["plat0", "plat1", "plat2"]
    s = trace.snapshot(start)
    want = sorted(
        ((job << 20) | index, res(cpu), res(mem), prio, mach, str(job))
        for job, index, mach, cpu, mem, prio, _ in tasks
    )
    got = list(
        zip(
            s.containers.ids.tolist(),
            s.requests[:, 0].tolist(),
            s.requests[:, 1].tolist(),
            s.containers.priority.tolist(),
            [] if s.current is None else s.current.tolist(),
            s.containers.service,
            strict=True,
        )
    )
    assert got == want
    gone = {(job << 20) | index for job, index, *_, end in tasks if end is not None}
    later = trace.snapshot(start + 10**6 + 1)
    assert set(later.containers.ids.tolist()) == {w[0] for w in want} - gone
