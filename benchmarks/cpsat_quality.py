"""Solution quality of the ``cpsat`` and ``lns`` engines on public and random data.

Prints Markdown tables. Examples::

    python benchmarks/cpsat_quality.py bpplib --per-family 5 --time-limit 10
    python benchmarks/cpsat_quality.py vbp --stride 10 --time-limit 10
    python benchmarks/cpsat_quality.py lns --containers 100000 --time-limit 60
    python benchmarks/cpsat_quality.py vbp-lp new/class6/class6_120_5_0 --time-limit 30
    python benchmarks/cpsat_quality.py vbp-dives new/class5/class5_120_5_9 --seeds 12
    python benchmarks/cpsat_quality.py vbp-knapsack panigrahy/class9/class9_500_5_0

``bpplib`` takes ``--per-family`` instances spread evenly over the sizes of
Falkenauer U, Falkenauer T, Scholl 1 and Scholl 2; ``vbp`` takes every
``--stride``-th instance (in name order) of the vector packing sets Panigrahy, New
and Triplet and adds a per-class table; ``lns`` builds workloads with 2 and 4
dimensions from the reference generator ``gen.py`` in the shared folder (next to the
datasets; skipped with a note when absent) or, with ``--workload cluster``, from
``solver.datasets.synthetic.cluster_workload``, and compares ``lns`` with ``ffd``, the
best greedy engine and the bounds; ``vbp-lp`` runs the column generation LP bound
alone on the named vector packing instances (from a bin-centric start, until it is
solved or the time limit), as the ``cpsat`` engine does before its search;
``vbp-dives`` solves that LP (from the best bin-centric packing, as ``cpsat`` does)
and then runs, for each seed, one dive of each kind at its bound (``lp_dives`` with
two attempts on a fresh ``Diver``) within the time limit, and counts the seeds whose
dives pack into the bound; ``vbp-knapsack`` records the exact pricing calls of that
LP (with the proven best known value as its target, as ``cpsat`` does) and replays
them, each with its node budget, timing the knapsack kernel alone.
A best known value marked ``*`` is not proven optimal.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np

import solver
from solver.datasets import read
from solver.engines.cpsat import lower_bound
from solver.errors import InvalidProblem

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
        "proven": bool(problem.metadata.get("is_optimal", False)),
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
        best = f"{r['best']}{'' if r['proven'] else '*'}"
        cells = [r["instance"], r["n"], best, r["lb"]]
        for name in engines:
            cells += [r[name], r[f"{name}_status"], f"{r[f'{name}_s']:.1f}"]
        lines.append(
            "| " + " | ".join("-" if c is None else str(c) for c in cells) + " |"
        )
    return "\n".join(lines)


def summary(rows: list[dict], name: str) -> str:
    """Proven optimal, best known met, no-solution counts and time for ``name``."""
    proved = sum(r[f"{name}_status"] == "optimal" for r in rows)
    met = sum(r[name] is not None and r[name] <= r["best"] for r in rows)
    none = sum(r[name] is None for r in rows)
    known = [r for r in rows if r["proven"]]
    proved_known = sum(r[f"{name}_status"] == "optimal" for r in known)
    slowest = max((r[f"{name}_s"] for r in rows), default=0.0)
    median = float(np.median([r[f"{name}_s"] for r in rows])) if rows else 0.0
    return (
        f"**{name}**: {proved}/{len(rows)} proven optimal ({proved_known}/"
        f"{len(known)} of those with a proven best known), {met}/{len(rows)} meet "
        f"the best known value, {none} without a complete placement; seconds: "
        f"median {median:.1f}, max {slowest:.1f}"
    )


def per_class(rows: list[dict], name: str) -> str:
    """Per benchmark class: instances, best known met, proven, mean gap to best."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["instance"].rsplit("/", 1)[0], []).append(r)
    lines = [
        f"| class ({name}) | instances | best known met | proven optimal | "
        "proven of proven best known | mean gap to best |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(groups):
        rs = groups[key]
        gaps = [
            (r[name] - r["best"]) / r["best"] if r[name] is not None else 1.0
            for r in rs
        ]
        met = sum(r[name] is not None and r[name] <= r["best"] for r in rs)
        proved = sum(r[f"{name}_status"] == "optimal" for r in rs)
        known = [r for r in rs if r["proven"]]
        proved_known = sum(r[f"{name}_status"] == "optimal" for r in known)
        lines.append(
            f"| {key} | {len(rs)} | {met} | {proved} | {proved_known}/{len(known)} | "
            f"{np.mean(gaps):.2%} |"
        )
    return "\n".join(lines)


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
    """Vector packing sets, every ``--stride``-th instance in name order."""
    engines = args.engines.split(",")
    rows = []
    skipped = []
    for bench in args.sets.split(","):
        files = sorted((DATA / "vbp_vectorpack" / bench).rglob("*.vbp"), key=_natural)
        for path in files[args.offset :: args.stride]:
            name = f"{bench}/{path.relative_to(DATA / 'vbp_vectorpack' / bench)}"
            try:
                row = run_one(path, engines, args.time_limit, args.workers)
            except InvalidProblem as exc:
                skipped.append(f"{name}: {exc}")
                continue
            row["instance"] = name.removesuffix(".vbp")
            rows.append(row)
            timing = ", ".join(
                f"{e} {row[e]} {row[f'{e}_status']} {row[f'{e}_s']:.1f}s"
                for e in engines
            )
            print(f"<!-- {row['instance']}: {timing} -->", flush=True)
    print(table(rows, engines))
    for name in engines:
        print("\n" + summary(rows, name))
    print("\n" + per_class(rows, engines[-1]))
    for line in skipped:
        print(f"\nnot readable: {line}")


def vbp_lp(args: argparse.Namespace) -> None:
    """The vector LP bound alone on each named instance."""
    from solver.engines import _vbp_bound

    # compile the kernels before the clock runs
    _vbp_bound.column_generation(
        np.array([[3, 4], [5, 2], [4, 4], [2, 6]] * 5), np.array([10, 10])
    )
    lines = [
        "| instance | best known | LP bound | optimal | s | columns |",
        "|---|---:|---:|---|---:|---:|",
    ]
    total = 0.0
    for name in args.instances:
        problem = read(DATA / "vbp_vectorpack" / f"{name}.vbp")
        start = time.perf_counter()
        lp = _vbp_bound.column_generation(
            problem.requests,
            problem.machines.capacity[0],
            deadline=start + args.time_limit,
        )
        seconds = time.perf_counter() - start
        total += seconds
        proven = "" if problem.metadata.get("is_optimal", False) else "*"
        lines.append(
            f"| {name} | {problem.best_known}{proven} | {lp.bound:.3f} | "
            f"{'yes' if lp.optimal else 'no'} | {seconds:.2f} | {len(lp.columns)} |"
        )
        print(f"<!-- {name} done -->", flush=True)
    print("\n".join(lines))
    print(f"\nseconds in all: {total:.1f}")


def vbp_dives(args: argparse.Namespace) -> None:
    """Success of the LP dives at the LP bound (or ``--machines``), seed by seed,
    on named instances, from the LP as it stands after ``--lp-limit`` seconds."""
    from solver.engines import _vbp, _vbp_bound

    lines = [
        "| instance | LP bound | master | machines | seeds packing into them "
        "| seconds each |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name in args.instances:
        problem = read(DATA / "vbp_vectorpack" / f"{name}.vbp")
        cap = problem.machines.capacity[0]
        start = _vbp.constructive(problem)
        lp = _vbp_bound.column_generation(
            problem.requests, cap, start, deadline=time.perf_counter() + args.lp_limit
        )
        target = args.machines or _vbp_bound.machines(lp.bound)
        found = []
        for seed in range(args.seeds):
            began = time.perf_counter()
            diver = _vbp_bound.Diver(lp, cap)
            packing = _vbp.lp_dives(
                problem, lp, diver, target, began + args.time_limit, seed, 2
            )
            if packing is not None:
                assert np.unique(packing).shape[0] <= target
                found.append(time.perf_counter() - began)
        solved = "" if lp.optimal else " (not solved)"
        lines.append(
            f"| {name} | {lp.bound:.3f}{solved} | {lp.values.sum():.3f} | {target} | "
            f"{len(found)}/{args.seeds} | {', '.join(f'{s:.1f}' for s in found)} |"
        )
        print(f"<!-- {name} done -->", flush=True)
    print("\n".join(lines))


def _pricing_calls(problem: solver.Problem, time_limit: float) -> list[tuple]:
    """The arguments of every exact pricing call of the vector LP on ``problem``
    (its duals copied), with the proven best known value as its target; the first
    is the LP's one-node call that loads the knapsack kernel."""
    from unittest import mock

    from solver.engines import _vbp_bound

    calls = []
    price = _vbp_bound._price

    def recorded(duals, *rest):
        calls.append((duals.copy(), *rest))
        return price(duals, *rest)

    proven = problem.metadata.get("is_optimal", False)
    with mock.patch.object(_vbp_bound, "_price", recorded):
        _vbp_bound.column_generation(
            problem.requests,
            problem.machines.capacity[0],
            deadline=time.perf_counter() + time_limit,
            target=problem.best_known if proven else None,
        )
    return calls


def vbp_knapsack(args: argparse.Namespace) -> None:
    """The LP's exact pricing calls replayed: knapsack time and nodes per instance."""
    from solver.engines import _vbp_bound

    lines = [
        "| instance | calls | knapsack s | nodes |",
        "|---|---:|---:|---:|",
    ]
    for name in args.instances:
        problem = read(DATA / "vbp_vectorpack" / f"{name}.vbp")
        calls = _pricing_calls(problem, args.time_limit)  # (the kernel now loaded)
        nodes = 0
        start = time.perf_counter()
        for call in calls:
            nodes += _vbp_bound._price(*call)[3]
        seconds = time.perf_counter() - start
        lines.append(f"| {name} | {len(calls)} | {seconds:.2f} | {nodes:,} |")
        print(f"<!-- {name} done -->", flush=True)
    print("\n".join(lines))


GREEDY = ("ffd", "bfd", "dot", "l2", "wfd")


def reference_workload(n: int, d: int, seed: int) -> solver.Problem | None:
    """The shared reference generator's ``instance(n, d, seed)``; None when absent."""
    folder = DATA.parent / "reference"
    if not (folder / "gen.py").is_file():
        return None
    spec = importlib.util.spec_from_file_location("reference_gen", folder / "gen.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    req, cap = gen.instance(n, d, seed)
    return solver.Problem.from_arrays(cap, req, name=f"reference-{n}-{d}d-s{seed}")


def workload(n: int, d: int, seed: int) -> solver.Problem:
    """``solver.datasets.synthetic.cluster_workload`` (easier than the reference)."""
    from solver.datasets.synthetic import cluster_workload

    req, cap = cluster_workload(n, d, seed)
    return solver.Problem.from_arrays(cap, req, name=f"cluster-{n}-{d}d-s{seed}")


def lns(args: argparse.Namespace) -> None:
    """LNS against ffd, the best greedy engine and the bounds on large workloads."""
    from solver.bounds import continuous_bound, vector_bound

    lines = [
        "| instance | n | continuous bound | lower bound | vector bound (s) | ffd | "
        "best greedy (s) | lns | lns gap | ffd gap | fewer than ffd | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    problems = []
    for d in (int(x) for x in args.dims.split(",")):
        if args.workload in ("reference", "both"):
            ref = reference_workload(args.containers, d, args.seed)
            if ref is None:
                print(f"<!-- no reference generator under {DATA.parent} -->")
            else:
                problems.append(ref)
        if args.workload in ("cluster", "both"):
            problems.append(workload(args.containers, d, args.seed))
    # compile the Numba kernels once, outside the timed runs
    tiny = solver.Problem.from_arrays(np.full((8, 2), 10), np.full((12, 2), 4))
    solver.place(tiny, engine="lns", iterations=2, workers=1)
    for problem in problems:
        cont = continuous_bound(problem)
        lb = lower_bound(problem)
        start = time.perf_counter()
        strong = vector_bound(problem)
        strong_s = time.perf_counter() - start
        best = max(lb, strong)
        ffd = solver.place(problem, engine="ffd", check=False).machines_used
        greedy = {}
        start = time.perf_counter()
        for name in GREEDY:
            greedy[name] = solver.place(problem, engine=name, check=False).machines_used
        greedy_s = time.perf_counter() - start
        top = min(greedy, key=greedy.get)
        start = time.perf_counter()
        pl = solver.place(
            problem,
            engine="lns",
            time_limit=args.time_limit,
            workers=args.workers,
            seed=args.seed,
        )
        seconds = time.perf_counter() - start
        used = pl.machines_used
        lines.append(
            f"| {problem.name} | {problem.n} | {cont} | {lb} | {strong} "
            f"({strong_s:.1f}) | {ffd} | {greedy[top]} {top} ({greedy_s:.0f}) | "
            f"{used} | {(used - best) / best:.2%} | {(ffd - best) / best:.2%} | "
            f"{(ffd - used) / ffd:.2%} | {seconds:.0f} |"
        )
        print(f"<!-- {problem.name}: lns {used}, {pl.options} -->", flush=True)
    print("\n".join(lines))
    print("\ngaps are to max(lower bound, vector bound); greedy: " + ", ".join(GREEDY))


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
    v.add_argument("--offset", type=int, default=0)
    v.add_argument("--sets", default=",".join(VBP_SETS))
    g = sub.add_parser("lns")
    g.add_argument("--containers", type=int, default=100_000)
    g.add_argument("--dims", default="2,4")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--workload", choices=("reference", "cluster", "both"), default="reference"
    )
    c = sub.add_parser("vbp-lp")
    c.add_argument("instances", nargs="+", help="e.g. new/class6/class6_120_5_0")
    dv = sub.add_parser("vbp-dives")
    dv.add_argument("instances", nargs="+", help="e.g. new/class5/class5_120_5_9")
    dv.add_argument("--seeds", type=int, default=8)
    dv.add_argument("--time-limit", type=float, default=4.0, help="per seed")
    dv.add_argument("--lp-limit", type=float, default=40.0)
    dv.add_argument(
        "--machines",
        type=int,
        help="aim the dives at this many machines (default: the LP bound's); with a "
        "short --lp-limit, dives on an LP not yet solved",
    )
    kn = sub.add_parser("vbp-knapsack")
    kn.add_argument("instances", nargs="+", help="e.g. panigrahy/class9/class9_500_5_0")
    kn.add_argument("--time-limit", type=float, default=40.0, help="for each LP")
    for p in (b, v):
        p.add_argument("--engines", default="ffd,cpsat")
    for p in (b, v, g):
        p.add_argument("--time-limit", type=float, default=10.0)
        p.add_argument("--workers", type=int, default=1)
    c.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args()
    commands = {
        "bpplib": bpplib,
        "vbp": vbp,
        "lns": lns,
        "vbp-lp": vbp_lp,
        "vbp-dives": vbp_dives,
        "vbp-knapsack": vbp_knapsack,
    }
    commands[args.what](args)


if __name__ == "__main__":
    main()
