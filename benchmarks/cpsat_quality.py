"""Solution quality of the ``cpsat`` and ``lns`` engines on public and random data.

Prints Markdown tables. Examples::

    python benchmarks/cpsat_quality.py bpplib --per-family 5 --time-limit 10
    python benchmarks/cpsat_quality.py vbp --stride 10 --time-limit 10
    python benchmarks/cpsat_quality.py lns --containers 100000 --time-limit 60

``bpplib`` takes ``--per-family`` instances spread evenly over the sizes of
Falkenauer U, Falkenauer T, Scholl 1 and Scholl 2; ``vbp`` takes every
``--stride``-th instance of the vector packing sets with d = 3, 5, 10; ``lns``
builds random problems with 2 and 4 dimensions and compares ``lns`` with ``ffd``
and the lower bound.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import solver
from solver.datasets import read
from solver.engines.cpsat import lower_bound

DATA = (
    Path(
        os.environ.get(
            "TETRIMINO_SHARED", Path(__file__).resolve().parents[2] / "shared"
        )
    )
    / "datasets"
)
BPP_FAMILIES = ("falkenauer_u", "falkenauer_t", "scholl_1", "scholl_2")
VBP_SETS = ("panigrahy", "new", "triplet")


def evenly(items: list, k: int) -> list:
    """``k`` items spread evenly over ``items`` (all of them if fewer)."""
    if len(items) <= k:
        return items
    idx = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in idx]


def run_one(path: Path, engines: list[str], time_limit: float, workers: int) -> dict:
    """Solve one instance with each engine; one result row."""
    problem = read(path)
    row = {
        "instance": path.stem,
        "n": problem.n,
        "best": problem.best_known,
        "lb": lower_bound(problem),
    }
    for name in engines:
        opts = {"workers": workers} if name in ("cpsat", "lns") else {}
        start = time.perf_counter()
        pl = solver.place(problem, engine=name, time_limit=time_limit, **opts)
        row[name] = pl.machines_used if pl.placed == problem.n else None
        row[f"{name}_status"] = pl.status.value
        row[f"{name}_s"] = time.perf_counter() - start
    return row


def table(rows: list[dict], engines: list[str]) -> str:
    """Markdown table of result rows."""
    head = ["instance", "n", "best", "lb"]
    for name in engines:
        head += [name, "status", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["instance"], r["n"], r["best"], r["lb"]]
        for name in engines:
            cells += [r[name], r[f"{name}_status"], f"{r[f'{name}_s']:.1f}"]
        lines.append(
            "| " + " | ".join("-" if c is None else str(c) for c in cells) + " |"
        )
    return "\n".join(lines)


def summary(rows: list[dict], name: str) -> str:
    """Proven optimal, best known met and no-solution counts for engine ``name``."""
    proved = sum(r[f"{name}_status"] == "optimal" for r in rows)
    met = sum(r[name] is not None and r[name] <= r["best"] for r in rows)
    none = sum(r[name] is None for r in rows)
    return (
        f"**{name}**: {proved}/{len(rows)} proven optimal, {met}/{len(rows)} meet the "
        f"best known value, {none} without a complete placement"
    )


def bpplib(args: argparse.Namespace) -> None:
    """BPPLIB families, ``--per-family`` instances each."""
    engines = args.engines.split(",")
    rows = []
    for fam in args.families.split(","):
        files = sorted((DATA / "bpplib" / fam).glob("*.txt"), key=_natural)
        for path in evenly(files, args.per_family):
            rows.append(run_one(path, engines, args.time_limit, args.workers))
            print(f"<!-- {path.stem} done -->", flush=True)
    print(table(rows, engines))
    for name in engines:
        print("\n" + summary(rows, name))


def vbp(args: argparse.Namespace) -> None:
    """Vector packing sets, every ``--stride``-th instance with d in ``--dims``."""
    engines = args.engines.split(",")
    dims = {int(x) for x in args.dims.split(",")}
    rows = []
    for bench in VBP_SETS:
        files = sorted((DATA / "vbp_vectorpack" / bench).rglob("*.vbp"), key=_natural)
        files = [f for f in files if int(f.stem.split("_")[-2]) in dims]
        for path in files[:: args.stride]:
            row = run_one(path, engines, args.time_limit, args.workers)
            row["instance"] = f"{bench}/{path.stem}"
            rows.append(row)
            print(f"<!-- {row['instance']} done -->", flush=True)
    print(table(rows, engines))
    for name in engines:
        print("\n" + summary(rows, name))


def synthetic(n: int, d: int, seed: int) -> solver.Problem:
    """``n`` containers with ``d`` correlated dimensions on identical machines."""
    rng = np.random.default_rng(seed)
    cap = np.full(d, 1000, np.int64)
    base = rng.integers(20, 400, size=(n, 1))
    noise = rng.integers(-150, 150, size=(n, d))
    req = np.clip(base + noise, 5, 600).astype(np.int64)
    m = n // 2
    return solver.Problem.from_arrays(
        np.tile(cap, (m, 1)), req, name=f"random-{n}-{d}d"
    )


def lns(args: argparse.Namespace) -> None:
    """LNS against ffd and the lower bound on large random problems."""
    lines = [
        "| instance | n | lower bound | ffd | ffd gap | lns | lns gap | status | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in (int(x) for x in args.dims.split(",")):
        problem = synthetic(args.containers, d, args.seed)
        lb = lower_bound(problem)
        ffd = solver.place(problem, engine="ffd").machines_used
        start = time.perf_counter()
        pl = solver.place(
            problem, engine="lns", time_limit=args.time_limit, workers=args.workers
        )
        seconds = time.perf_counter() - start
        lines.append(
            f"| {problem.name} | {problem.n} | {max(lb, int(pl.bound or 0))} | {ffd} | "
            f"{(ffd - lb) / lb:.2%} | {pl.machines_used} | "
            f"{(pl.machines_used - lb) / lb:.2%} | {pl.status.value} | {seconds:.0f} |"
        )
        print(f"<!-- {problem.name} done -->", flush=True)
    print("\n".join(lines))


def _natural(path: Path) -> tuple:
    parts = path.stem.replace("-", "_").split("_")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bpplib")
    b.add_argument("--families", default=",".join(BPP_FAMILIES))
    b.add_argument("--per-family", type=int, default=5)
    v = sub.add_parser("vbp")
    v.add_argument("--stride", type=int, default=10)
    v.add_argument("--dims", default="3,5,10")
    g = sub.add_parser("lns")
    g.add_argument("--containers", type=int, default=100_000)
    g.add_argument("--dims", default="2,4")
    g.add_argument("--seed", type=int, default=0)
    for p in (b, v):
        p.add_argument("--engines", default="ffd,cpsat")
    for p in (b, v, g):
        p.add_argument("--time-limit", type=float, default=10.0)
        p.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    {"bpplib": bpplib, "vbp": vbp, "lns": lns}[args.what](args)


if __name__ == "__main__":
    main()
