"""Solution quality of the arc-flow engine on BPPLIB and vector packing families.

Usage: ``python benchmarks/arcflow_quality.py hard28 falkenauer_u --time-limit 10
--stride 3`` runs every third instance of each family and prints a Markdown table:
instances, proven optimal, objective equal to the known optimum, median and maximum
seconds, median graph size (arcs) and how many instances the engine declined;
``--verbose`` adds a line per instance (time, status, objective, bound, last stage).
Families are folder names under ``bpplib/`` or ``vbp_vectorpack/`` of the data folder.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np

from solver.engines.arcflow import BACKENDS, solve_arcflow
from solver.model import Problem

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def read_instance(path: Path) -> Problem | None:
    """A BPPLIB ``.txt`` or VPSolver ``.vbp`` file as a Problem (None if invalid)."""
    values = [int(x) for x in path.read_text().split()]
    if path.suffix == ".txt":
        n, cap = values[0], values[1]
        requests = np.array(values[2 : 2 + n]).reshape(-1, 1)
        capacity = np.full((1, 1), cap)
    else:
        d = values[0]
        capacity = np.array(values[1 : 1 + d]).reshape(1, d)
        m = values[1 + d]
        rows = np.array(values[2 + d : 2 + d + m * (d + 1)]).reshape(m, d + 1)
        requests = np.repeat(rows[:, :d], rows[:, d], axis=0)
    if (requests < 0).any():
        return None
    count = requests.shape[0]
    return Problem.from_arrays(np.repeat(capacity, count, axis=0), requests)


def family_files(family: str) -> tuple[list[Path], dict[str, int]]:
    """Instance files of a family (sorted) and its proven optima by instance name."""
    for root in ("bpplib", "vbp_vectorpack"):
        folder = DATA / root / family
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix in (".txt", ".vbp"))
            files = [p for p in files if p.name != "README.md"]
            with (folder / "optima.csv").open() as fh:
                optima = {
                    r["instance"]: int(r["best_known"])
                    for r in csv.DictReader(fh)
                    if r["is_optimal"] == "true"
                }
            return files, optima
    raise SystemExit(f"unknown family {family!r}")


def check(problem: Problem, assignment: np.ndarray) -> bool:
    """Every container placed and no bin over capacity."""
    if (assignment < 0).any():
        return False
    loads = np.zeros((int(assignment.max()) + 1, problem.d), np.int64)
    np.add.at(loads, assignment, problem.requests)
    return bool((loads <= problem.capacity[0]).all())


def run_family(
    family: str, time_limit: float, stride: int, backend: str, verbose: bool = False
) -> dict:
    """Solve every ``stride``-th instance of ``family``; returns one table row."""
    files, optima = family_files(family)
    files = files[::stride]
    seconds, arcs = [], []
    proven = correct = declined = wrong = 0
    for path in files:
        problem = read_instance(path)
        if problem is None:
            continue
        began = time.perf_counter()
        result = solve_arcflow(problem, time_limit=time_limit, backend=backend)
        seconds.append(time.perf_counter() - began)
        if verbose:
            print(
                f"{path.stem}: {seconds[-1]:.2f} s",
                "declined" if result is None else
                f"{result.status} {result.objective} >= {result.bound} "
                f"({result.backend}), known {optima.get(path.stem)}",
                flush=True,
            )
        if result is None:
            declined += 1
            continue
        arcs.append(result.graph_arcs)
        if result.objective is not None and not check(problem, result.assignment):
            wrong += 1
        proven += result.status == "optimal"
        correct += result.objective == optima.get(path.stem)
        if result.status == "optimal" and path.stem in optima:
            wrong += result.objective != optima[path.stem]
    return {
        "family": family,
        "instances": len(seconds),
        "proven optimal": proven,
        "= known optimum": correct,
        "median s": round(statistics.median(seconds), 2) if seconds else None,
        "max s": round(max(seconds), 2) if seconds else None,
        "median arcs": int(statistics.median(arcs)) if arcs else None,
        "declined": declined,
        "wrong": wrong,
    }


def main() -> None:
    """Parse the command line, run the families, print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="+")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--backend", default="scip", choices=sorted(BACKENDS))
    parser.add_argument(
        "--verbose", action="store_true", help="print a line per instance"
    )
    args = parser.parse_args()
    rows = []
    for family in args.families:
        rows.append(
            run_family(
                family, args.time_limit, args.stride, args.backend, args.verbose
            )
        )
        print(f"done: {rows[-1]}", flush=True)
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")


if __name__ == "__main__":
    main()
