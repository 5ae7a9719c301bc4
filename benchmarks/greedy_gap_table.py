"""Print a Markdown table of ffd and bfd against the known optima, one row per family.

Usage: ``python benchmarks/greedy_gap_table.py [DATASETS_DIR]`` (default: the shared
public instances beside the repository). Gap = (machines used - best known) / best
known, averaged over the instances that read; best known is the proven optimum or, where
none is proven, the best solution the source reports. "Hits" counts instances solved at
the best known value; "refused" counts files the reader rejects (the upstream Caprara
triplet files with negative sizes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import solver.datasets as ds
from solver import engines
from solver.datasets.catalog import BENCHMARK_FAMILIES as FAMILIES
from solver.errors import InvalidProblem

ENGINES = ("ffd", "bfd")
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def family_row(folder: Path) -> list[str]:
    """The table row of one family: counts, mean gaps and optimum hits per engine."""
    suffix = "*.txt" if folder.parent.name == "bpplib" else "*.vbp"
    gaps: dict[str, list[float]] = {e: [] for e in ENGINES}
    hits = dict.fromkeys(ENGINES, 0)
    proven = refused = 0
    for path in sorted(folder.rglob(suffix)):
        try:
            problem = ds.read(path)
        except InvalidProblem:
            refused += 1
            continue
        best = problem.best_known
        proven += bool(problem.metadata.get("is_optimal"))
        for name in ENGINES:
            used = engines.get(name).solve(problem).machines_used
            gaps[name].append((used - best) / best)
            hits[name] += used == best
    n = len(gaps[ENGINES[0]])
    cells = [f"{folder.parent.name}/{folder.name}", str(n), str(proven)]
    cells += [f"{100 * sum(gaps[e]) / max(n, 1):.2f}%" for e in ENGINES]
    cells += [str(hits[e]) for e in ENGINES]
    return [*cells, str(refused)]


def main() -> None:
    """Print the table for every family present under the datasets folder."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    head = ["family", "instances", "proven optimal", "mean gap ffd", "mean gap bfd",
            "ffd hits", "bfd hits", "refused"]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if k == 0 else "---:" for k in range(len(head))) + "|")
    for family in FAMILIES:
        if (root / family).is_dir():
            print("| " + " | ".join(family_row(root / family)) + " |", flush=True)


if __name__ == "__main__":
    main()
