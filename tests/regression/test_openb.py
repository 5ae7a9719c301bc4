"""Every real trace file in the shared data: counts match, frames round-trip."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from solver.datasets.alibaba2018 import read_alibaba2018_trace
from solver.datasets.openb import read_openb, read_openb_trace
from solver.model import Problem

pytestmark = pytest.mark.needs_shared_data


def _rows(path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _roundtrip(problem: Problem) -> None:
    machines, containers = problem.to_frames()
    again = Problem.from_frames(machines, containers)
    m2, c2 = again.to_frames()
    pd.testing.assert_frame_equal(machines, m2)
    pd.testing.assert_frame_equal(containers, c2)


def test_every_openb_file(shared_datasets):
    """Each pod list: one container per row, 3 dimensions, fleet = the GPU node list."""
    folder = shared_datasets / "traces" / "alibaba_gpu_v2023"
    nodes = _rows(folder / "openb_node_list_gpu_node.csv")
    pod_files = sorted(folder.glob("openb_pod_list_*.csv"))
    assert pod_files
    for path in pod_files:
        pods = _rows(path)
        problem = read_openb(path)
        assert (problem.n, problem.m, problem.d) == (len(pods), len(nodes), 3)
        assert problem.requests[:, 0].sum() == sum(int(p["cpu_milli"]) for p in pods)
        assert problem.metadata["gpu_requests"]["num_gpu"].sum() == sum(
            int(p["num_gpu"]) for p in pods
        )
        trace = read_openb_trace(path)
        kinds = trace.events["kind"].value_counts()
        assert kinds["arrive"] == len(pods)
        assert kinds["depart"] == sum(bool(p.get("deletion_time")) for p in pods)
        _roundtrip(problem)


@pytest.mark.parametrize(
    "name", ["openb_node_list_all_node.csv", "openb_node_list_gpu_node.csv"]
)
def test_openb_node_lists(shared_datasets, name):
    """A node list alone is a fleet: machines, GPUs and models as in the file."""
    path = shared_datasets / "traces" / "alibaba_gpu_v2023" / name
    nodes = _rows(path)
    problem = read_openb(path)
    assert (problem.n, problem.m) == (0, len(nodes))
    assert problem.machines.gpus.sum() == sum(int(n["gpu"]) for n in nodes)
    models = problem.machines.labels["gpu_model"]
    assert sum(m is None for m in models) == sum(not n["model"] for n in nodes)
    _roundtrip(problem)


def test_alibaba2018_machine_meta(shared_datasets):
    """The full 2018 machine table: 4034 machines, one add event each, round trip."""
    path = shared_datasets / "traces" / "alibaba_v2018" / "machine_meta.csv"
    with path.open() as fh:
        ids = {line.split(",")[0] for line in fh}
    trace = read_alibaba2018_trace(path)
    assert len(trace.fleet) == len(ids)
    assert (trace.events["kind"] == "machine_add").sum() == len(ids)
    problem = trace.snapshot(10**7)
    assert (problem.n, problem.m, problem.d) == (0, len(ids), 2)
    _roundtrip(problem)


def test_openb_gpu_asks_become_device_requests(shared_datasets):
    """Shares (num_gpu 1, gpu_milli < 1000) and whole GPUs map onto the model's asks."""
    import solver
    from solver.datasets.events import gpu_asks

    whole, share = gpu_asks(np.array([0, 1, 1, 4]), np.array([0, 460, 1000, 1000]))
    assert whole.tolist() == [0, 0, 1, 4]
    assert share.tolist() == [0, 460, 0, 0]
    path = shared_datasets / "traces/alibaba_gpu_v2023/openb_pod_list_gpushare40.csv"
    problem = solver.datasets.read(path)
    raw = problem.metadata["gpu_requests"]
    expected_whole, expected_share = gpu_asks(raw["num_gpu"], raw["gpu_milli"])
    assert (problem.containers.num_gpu == expected_whole).all()
    assert (problem.containers.gpu_milli == expected_share).all()
    assert (problem.containers.gpu_milli > 0).any()
    placement = solver.place(problem, "ffd")  # validated, devices included
    placed = placement.assignment >= 0
    used = (placement.devices[placed] >= 0).sum(axis=1)
    asks = np.maximum(problem.containers.num_gpu, problem.containers.gpu_milli > 0)
    assert (used == asks[placed]).all()
