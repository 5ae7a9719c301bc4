"""The ``tetrimino`` command: engines, datasets read, place (table, JSON, Parquet)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import solver
import solver.engines as engines
from solver.bounds import lower_bound
from solver.cli import main
from solver.placement import Placement, Status

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"
BINS = str(DEMO / "bins-500.txt")
KEYS = [
    "instance", "engine", "status", "containers", "machines", "machines_used",
    "lower_bound", "placed", "unplaced", "objective", "bound", "seconds", "valid",
    "reasons",
]  # fmt: skip


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command in-process; returns (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    """Every stdout line parsed as one JSON object."""
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def toy(tmp_path) -> Path:
    """A 1-D instance whose FFD packing is obvious: 6+4, 6+4, 5+5 in 3 bins of 10."""
    path = tmp_path / "toy.txt"
    path.write_text("6\n10\n6\n4\n6\n4\n5\n5\n")
    return path


def test_engines_lists_every_engine(capsys):
    """One line per registered engine, name first, with a description."""
    code, out, _ = run(capsys, "engines")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == engines.names()
    assert all(len(line.split()) > 1 for line in lines)


def test_datasets_read_json(capsys):
    """--json prints format, containers, machines, dims and best_known."""
    code, out, _ = run(
        capsys, "datasets", "read", str(DEMO / "vector-200.vbp"), "--json"
    )
    assert code == 0
    info = json.loads(out)
    assert info["format"] == "vbp"
    assert (info["containers"], info["machines"], info["dims"]) == (200, 200, 3)
    assert info["best_known"] is None


def test_datasets_read_best_known_and_readable_line(capsys, tmp_path):
    """best_known comes from optima.csv; without --json one readable line."""
    (tmp_path / "optima.csv").write_text("instance,best_known,is_optimal\nt,2,true\n")
    (tmp_path / "t.txt").write_text("2\n10\n6\n6\n")
    _, out, _ = run(capsys, "datasets", "read", str(tmp_path / "t.txt"), "--json")
    assert json.loads(out)["best_known"] == 2
    _, out, _ = run(capsys, "datasets", "read", str(tmp_path / "t.txt"))
    assert out == (
        "t: bpplib, 2 containers, 2 machines, 1 dim (size), best known 2 (optimal)\n"
    )


def test_place_json_one_object_per_engine(capsys, toy):
    """--json prints one line per engine with the contract's keys and true numbers."""
    code, out, err = run(capsys, "place", str(toy), "--engine", "ffd,bfd", "--json")
    assert (code, err) == (0, "")
    rows = json_lines(out)
    assert [r["engine"] for r in rows] == ["ffd", "bfd"]
    for r in rows:
        assert set(KEYS) <= set(r)
        assert r["instance"] == "toy"
        assert (r["containers"], r["machines"]) == (6, 6)
        assert (r["machines_used"], r["lower_bound"]) == (3, 3)
        assert (r["placed"], r["unplaced"], r["reasons"]) == (6, 0, {})
        assert r["valid"] is True
        assert r["status"] == "feasible"


def test_place_passes_objective_and_workers_to_cpsat(capsys, toy):
    """--objective/--workers reach cpsat: max-placed reports 0 left unplaced, proven."""
    code, out, err = run(
        capsys, "place", str(toy), "--engine", "cpsat", "--objective", "max-placed",
        "--workers", "1", "--time-limit", "5", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    (row,) = json_lines(out)
    assert (row["placed"], row["objective"], row["valid"]) == (6, 0, True)
    assert row["status"] == "optimal"


def test_place_refuses_an_objective_the_engine_lacks(capsys, toy):
    """lns only minimises machines: asking it for max-placed is a one-line exit 2."""
    code, out, err = run(
        capsys, "place", str(toy), "--engine", "lns", "--objective", "max-placed"
    )
    assert (code, out) == (2, "")
    assert "max-placed" in err
    assert len(err.strip().splitlines()) == 1


def test_place_matches_the_library(capsys):
    """The command's numbers are those of solver.place and bounds.lower_bound."""
    problem = solver.datasets.read(DEMO / "vector-200.vbp")
    expected = solver.place(problem, "ffd")
    _, out, _ = run(capsys, "place", str(DEMO / "vector-200.vbp"), "--engine", "ffd",
                    "--json")  # fmt: skip
    (row,) = json_lines(out)
    assert row["machines_used"] == expected.machines_used
    assert row["lower_bound"] == lower_bound(problem)
    assert row["machines_used"] >= row["lower_bound"]


def test_place_table_side_by_side(capsys):
    """Several engines print one readable table: a header and one row per engine."""
    code, out, _ = run(capsys, "place", BINS, "--engine", "ffd,bfd,k8s-balanced")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("bins-500: 500 containers, 500 machines, 1 dim")
    assert lines[1].split()[:3] == ["engine", "status", "machines"]
    assert [line.split()[0] for line in lines[2:5]] == ["ffd", "bfd", "k8s-balanced"]
    assert all(line.split()[-1] == "yes" for line in lines[2:5])


def test_place_out_writes_parquet(capsys, toy, tmp_path):
    """--out writes container, machine in container order."""
    out_path = tmp_path / "p.parquet"
    code, _, _ = run(
        capsys, "place", str(toy), "--engine", "ffd", "--out", str(out_path)
    )
    assert code == 0
    df = pd.read_parquet(out_path)
    assert list(df.columns) == ["container", "machine"]
    assert df["container"].tolist() == list(range(6))
    placement = solver.place(solver.datasets.read(toy), "ffd")
    assert df["machine"].tolist() == placement.assignment.tolist()


def test_place_out_refuses_several_engines(capsys, toy, tmp_path):
    """--out with a list of engines is a usage error: exit 2, one line."""
    code, out, err = run(
        capsys, "place", str(toy), "--engine", "ffd,bfd", "--out", str(tmp_path / "x")
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "single --engine" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["place", str(DATA / "wrong_item_count.txt")],
            "wrong_item_count.txt: line 11",
        ),
        (["place", str(DATA / "negative_request.toml")], "line 18, field 'services[1]"),
        (["datasets", "read", str(DATA / "wrong_type.json")], "line 8, field"),
        (["place", "no/such/file.txt"], "no/such/file.txt: no such file"),
        (["place", BINS, "--engine", "nope"], "unknown engine 'nope'"),
        (["place", BINS, "--format", "nope"], "unknown format 'nope'"),
        (["place", BINS, "--seed", "x"], "invalid int value"),
        (["bogus"], "invalid choice"),
    ],
)
def test_errors_exit_2_with_one_line(capsys, argv, words):
    """Bad input and usage errors: exit code 2, one stderr line naming the problem."""
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert words in err
    assert "Traceback" not in err


class _Broken:
    """An engine that stacks every container on machine 0 (overloads it)."""

    name = "broken"

    def solve(self, problem, *, time_limit=None, seed=0):
        return Placement(np.zeros(problem.n, np.int32), "broken", Status.FEASIBLE)


def test_invalid_placement_exits_1(capsys, toy, monkeypatch):
    """A placement that fails validation is reported (valid false) and exits 1."""
    monkeypatch.setitem(engines._FACTORIES, "broken", _Broken)
    code, out, err = run(capsys, "place", str(toy), "--engine", "ffd,broken", "--json")
    assert code == 1
    rows = json_lines(out)
    assert [r["valid"] for r in rows] == [True, False]
    assert "engine broken: invalid placement" in err
    assert err.count("\n") == 1


def test_unplaced_containers_carry_reasons(capsys, tmp_path):
    """A container too big for every machine is listed in reasons by its id."""
    path = tmp_path / "big.toml"
    path.write_text(
        "resources = ['cpu']\n"
        "[[machines]]\ncount = 2\ncapacity = { cpu = 10 }\n"
        "[[containers]]\nid = 'huge'\nrequests = { cpu = 11 }\n"
        "[[containers]]\nid = 'ok'\nrequests = { cpu = 5 }\n"
    )
    code, out, _ = run(capsys, "place", str(path), "--engine", "ffd", "--json")
    (row,) = json_lines(out)
    assert code == 0
    assert (row["placed"], row["unplaced"], row["status"]) == (1, 1, "partial")
    assert list(row["reasons"]) == ["huge"]
    assert row["reasons"]["huge"].get("cpu") == 2


def test_console_entry_point(tmp_path):
    """``python -m solver.cli`` runs in a fresh process and exits 2 on bad input."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver.cli",
            "datasets",
            "read",
            str(DATA / "bad_state.toml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "bad_state.toml: line 11, field 'machines[1].state'" in done.stderr


def test_warnings_are_one_line(capsys, tmp_path):
    """A node selector no machine matches warns on one stderr line, then places."""
    path = tmp_path / "sel.toml"
    path.write_text(
        "resources = ['cpu']\n"
        "[[machines]]\ncount = 2\ncapacity = { cpu = 10 }\nlabels = { zone = 'a' }\n"
        "[[services]]\nname = 's'\nreplicas = 1\nrequests = { cpu = 1 }\n"
        "node_selector = { zone = 'z' }\n"
    )
    code, out, err = run(capsys, "place", str(path), "--engine", "ffd", "--json")
    assert code == 0
    assert err.startswith("tetrimino: warning: ")
    assert err.count("\n") == 1
    assert "zone=z" in err
    assert json_lines(out)[0]["unplaced"] == 1


def test_rebalance_json_and_out(capsys, shared_datasets, tmp_path):
    """rebalance --json has the contract's keys; --out holds a checked assignment."""
    from solver.datasets import roadef

    model = shared_datasets / "roadef2012_machine_reassignment/A/model_a1_1.txt"
    out = tmp_path / "a1_1.parquet"
    code, stdout, err = run(
        capsys, "rebalance", str(model), "--time-limit", "3", "--max-moves", "5",
        "--json", "--out", str(out),
    )  # fmt: skip
    assert (code, err) == (0, "")
    row = json.loads(stdout)
    assert list(row) == [
        "instance", "objective", "cost_before", "cost_after", "moves",
        "machines_freed", "feasible", "seconds",
    ]  # fmt: skip
    problem = roadef.read(model)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["container", "machine"]
    assignment = frame["machine"].to_numpy()
    assert roadef.check(problem, assignment) == []
    assert row["cost_after"] == roadef.cost(problem, assignment).total
    assert row["cost_after"] <= row["cost_before"]
    assert row["moves"] == int((assignment != problem.current).sum()) <= 5


def test_rebalance_needs_a_current_assignment(capsys):
    """A file without a current assignment is refused on one line with exit 2."""
    code, out, err = run(capsys, "rebalance", BINS, "--time-limit", "1")
    assert (code, out) == (2, "")
    assert "current" in err
    assert len(err.strip().splitlines()) == 1
