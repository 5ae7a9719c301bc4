"""Reading speed of the trace readers (rows/s) and peak memory on a 10M-row trace.

Each case reads a file of about 1,000,000 trace rows three times and records, besides
the wall-clock statistics, ``rows_per_s`` (wall) and ``rows_per_cpu_s`` (rows per second
of process CPU time, all threads): on a shared machine the second one says what the
reader costs, the first one what it got.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from solver.datasets.alibaba2018 import read_alibaba2018_trace
from solver.datasets.google import read_google2011_trace, read_google2019_trace
from solver.datasets.openb import read_openb_trace

ROWS = 1_000_000
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
OPENB = SHARED / "traces" / "alibaba_gpu_v2023"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n"
)


def _measure(benchmark, reader, path, rows: int):
    """Run ``reader(path)`` three times; record wall and CPU rows per second."""
    cpu: list[float] = []

    def run():
        start = time.process_time()
        out = reader(path)
        cpu.append(time.process_time() - start)
        return out

    trace = benchmark.pedantic(run, rounds=3)
    benchmark.extra_info["rows"] = rows
    if benchmark.stats is not None:  # None under --benchmark-disable (smoke runs)
        benchmark.extra_info["rows_per_s"] = rows / benchmark.stats.stats.mean
    benchmark.extra_info["rows_per_cpu_s"] = rows / float(np.mean(cpu))
    return trace


def _tiled_openb(folder: Path) -> int:
    """The real default pod list tiled (times shifted per copy) to >= ROWS rows."""
    with (OPENB / "openb_pod_list_default.csv").open(newline="") as fh:
        pods = list(csv.DictReader(fh))
    (folder / "openb_node_list_gpu_node.csv").write_bytes(
        (OPENB / "openb_node_list_gpu_node.csv").read_bytes()
    )
    span = 1 + max(int(p["deletion_time"] or p["creation_time"]) for p in pods)
    copies = -(-ROWS // len(pods))
    with (folder / "pods.csv").open("w") as fh:
        fh.write(POD_HEADER)
        for k in range(copies):
            shift = k * span
            fh.writelines(
                f"{p['name']}-{k},{p['cpu_milli']},{p['memory_mib']},{p['num_gpu']},"
                f"{p['gpu_milli']},{p['gpu_spec']},{p['qos']},{p['pod_phase']},"
                f"{int(p['creation_time']) + shift},"
                f"{int(p['deletion_time']) + shift if p['deletion_time'] else ''},"
                f"{int(p['scheduled_time']) + shift if p['scheduled_time'] else ''}\n"
                for p in pods
            )
    return copies * len(pods)


def _generated_openb(folder: Path) -> int:
    """ROWS random pods (random creation order) and a one-node fleet."""
    (folder / "openb_node_list_gpu_node.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\nn0,96000,786432,8,G2\n"
    )
    rng = np.random.default_rng(0)
    t0 = rng.integers(0, 10**7, ROWS)
    cpu = rng.integers(0, 64000, ROWS)
    with (folder / "pods.csv").open("w") as fh:
        fh.write(POD_HEADER)
        fh.writelines(
            f"p{i},{cpu[i]},16384,1,500,,LS,Running,{t0[i]},{t0[i] + 99},{t0[i]}\n"
            for i in range(ROWS)
        )
    return ROWS


@pytest.fixture(scope="module")
def openb_file(tmp_path_factory):
    """A >= 1M-pod list: the real one tiled when the public data is present."""
    folder = tmp_path_factory.mktemp("openb")
    tiled = (OPENB / "openb_pod_list_default.csv").is_file()
    rows = _tiled_openb(folder) if tiled else _generated_openb(folder)
    return folder / "pods.csv", rows


def _google2011(folder: Path, rows: int) -> Path:
    (folder / "machine_events").mkdir()
    (folder / "task_events").mkdir()
    (folder / "machine_events" / "part-00000-of-00001.csv").write_text(
        "".join(f"0,{m},0,p,0.5,0.5\n" for m in range(1, 101))
    )
    with (folder / "task_events" / "part-00000-of-00001.csv").open("w") as fh:
        fh.writelines(
            f"{10 * i},,{7 + i // 1000},{i % 1000},{1 + i % 100},"
            f"{1 if i % 2 == 0 else 4},u,2,9,0.0125,0.0311,0.0001,0\n"
            for i in range(rows)
        )
    return folder


def _google2019(path: Path, rows: int) -> None:
    """Instance events as BigQuery exports them (quoted 64-bit integers)."""
    with path.open("w") as fh:
        for first in range(0, rows, 100_000):
            fh.writelines(
                f'{{"time": "{10 * i}", "type": "{3 if i % 2 == 0 else 6}", '
                f'"collection_id": "{10**11 + i // 1000}", "instance_index": '
                f'{i % 1000}, "machine_id": "{1 + i % 100}", "priority": 200, '
                '"alloc_collection_id": "0", "scheduling_class": 1, '
                '"resource_request": {"cpus": 0.0125, "memory": 0.0311}}\n'
                for i in range(first, min(rows, first + 100_000))
            )


def _alibaba_machines(folder: Path) -> None:
    (folder / "machine_meta.csv").write_text(
        "".join(f"m_{m},0,{m % 50},{m % 7},96,100,USING\n" for m in range(1, 4001))
    )


@pytest.fixture(scope="module")
def google2011_dir(tmp_path_factory):
    """A 1M-row 2011 task_events part and a 100-machine machine_events part."""
    return _google2011(tmp_path_factory.mktemp("g11"), ROWS)


@pytest.fixture(scope="module")
def google2019_dir(tmp_path_factory):
    """A 1M-line 2019 instance_events export."""
    folder = tmp_path_factory.mktemp("g19")
    _google2019(folder / "instance_events-0.json", ROWS)
    return folder


@pytest.fixture(scope="module")
def container_meta_dir(tmp_path_factory):
    """4000 machines and 1M container_meta rows (10,000 containers, 100 snapshots)."""
    folder = tmp_path_factory.mktemp("ali_c")
    _alibaba_machines(folder)
    with (folder / "container_meta.csv").open("w") as fh:
        fh.writelines(
            f"c_{i % 10000},m_{1 + i % 4000},{10 * (i // 10000)},app_{i % 900},"
            f"started,{400 + 100 * (i // 10000 % 2)},800,1.56\n"
            for i in range(ROWS)
        )
    return folder


@pytest.fixture(scope="module")
def batch_instance_dir(tmp_path_factory):
    """4000 machines and 1M batch_instance rows (1000 jobs of 50-instance tasks)."""
    folder = tmp_path_factory.mktemp("ali_b")
    _alibaba_machines(folder)
    with (folder / "batch_instance.csv").open("w") as fh:
        fh.writelines(
            f"ins_{i},task_{i // 50 % 3000},j_{i // 1000},10,Terminated,{i // 2},"
            f"{i // 2 + 30 + i % 7},m_{1 + i % 4000},1,1,13,16,0.02,0.03\n"
            for i in range(ROWS)
        )
    return folder


def test_openb_speed(benchmark, openb_file):
    """openb pod list (CSV with header, strings): >= 1M rows."""
    path, rows = openb_file
    trace = _measure(benchmark, read_openb_trace, path, rows)
    assert (trace.events["kind"] == "arrive").sum() == rows


def test_google2011_speed(benchmark, google2011_dir):
    """Google 2011 task_events CSV: 1M rows."""
    trace = _measure(benchmark, read_google2011_trace, google2011_dir, ROWS)
    assert (trace.events["kind"] == "arrive").sum() == ROWS // 2


def test_google2019_speed(benchmark, google2019_dir):
    """Google 2019 instance_events JSON lines: 1M rows."""
    trace = _measure(benchmark, read_google2019_trace, google2019_dir, ROWS)
    assert len(trace.events) == ROWS


def test_alibaba2018_container_meta_speed(benchmark, container_meta_dir):
    """Alibaba 2018 container_meta CSV: 1M rows (plus a 4000-row machine_meta)."""
    trace = _measure(benchmark, read_alibaba2018_trace, container_meta_dir, ROWS)
    assert (trace.events["kind"] == "arrive").sum() == 10000


def test_alibaba2018_batch_instance_speed(benchmark, batch_instance_dir):
    """Alibaba 2018 batch_instance CSV: 1M rows (plus a 4000-row machine_meta)."""
    trace = _measure(benchmark, read_alibaba2018_trace, batch_instance_dir, ROWS)
    assert (trace.events["kind"] == "depart").sum() == ROWS


PEAK = """
import resource, sys, time
from solver.datasets.google import read_google2019_trace
t = time.perf_counter()
trace = read_google2019_trace(sys.argv[1])
print(len(trace.events), time.perf_counter() - t,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


@pytest.mark.slow
def test_google2019_peak_memory_10m(tmp_path):
    """Reading a 10M-line 2019 export keeps the process under 1 GiB at its peak."""
    rows = 10_000_000
    _google2019(tmp_path / "instance_events-0.json", rows)
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    events, seconds, peak = int(out[0]), float(out[1]), int(out[2])
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "rows_per_s": rows / seconds,
                "peak_bytes": peak,
            }
        )
    )
    assert events == rows
    assert peak < 1 << 30
