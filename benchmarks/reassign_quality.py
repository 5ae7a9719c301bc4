"""Solution quality of the reassignment optimiser on the ROADEF/EURO 2012 instances.

For every instance, the plain hill climbing baseline and :func:`optimise` run at the
same time limit, each in its own single-threaded process, ``--jobs`` runs at a time
(default 2: the baseline and ours of one instance side by side, so both see the same
machine load). A Markdown table is printed: instance, reference (the challenge
winner's 300 s result), the fleet-wide lower bound, initial cost, baseline, ours,
ours/reference, feasible, seconds and the highest 1-minute load average seen during
the instance's runs; then the median of ours/reference per set. Example::

    python benchmarks/reassign_quality.py --time-limit 60
    python benchmarks/reassign_quality.py --time-limit 300 --workers 1 --jobs 2
    python benchmarks/reassign_quality.py --time-limit 300 --instances a1_1,a2_2
"""

from __future__ import annotations

import argparse
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

DATA = Path(
    os.environ.get("TETRIMINO_SHARED", Path(__file__).resolve().parents[2] / "shared")
) / "datasets" / "roadef2012_machine_reassignment"
METHODS = ("baseline", "ours")


def _one_core() -> None:
    """Keep every run on one thread (Numba, BLAS), whatever the pool does."""
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MKL_NUM_THREADS"):
        os.environ[name] = "1"


def run_one(
    model: str, method: str, time_limit: float, seed: int, workers: int
) -> dict:
    """Run ``method`` ("baseline" or "ours") on one instance; the numbers as a dict."""
    from solver.datasets import roadef
    from solver.engines import reassign

    load = os.getloadavg()[0]
    problem = roadef.read(model)
    if method == "baseline":
        result = reassign.hill_climb(problem, time_limit, seed)
    else:
        result = reassign.optimise(
            problem, time_limit=time_limit, seed=seed, workers=workers
        )
    return {
        "initial": result.cost_before.total,
        "cost": result.cost_after.total,
        "feasible": not roadef.check(problem, result.assignment),
        "seconds": result.seconds,
        "reference": problem.best_known,
        "bound": roadef.lower_bound(problem),
        "load": max(load, os.getloadavg()[0]),
    }


def warm_up() -> None:
    """Compile the kernels once so no run pays for it."""
    from solver.datasets import roadef
    from solver.engines import reassign

    model = sorted((DATA / "A").glob("model_*.txt"))[0]
    reassign.optimise(roadef.read(model), time_limit=1.0)
    reassign.hill_climb(roadef.read(model), 0.1)


def _table(rows: list[tuple[str, dict, dict]], args: argparse.Namespace) -> str:
    lines = [
        f"Time limit {args.time_limit:g} s per run, seed {args.seed}, "
        f"{args.jobs} run(s) at a time, {args.workers} CP-SAT worker(s).",
        "",
        "| instance | reference | lower bound | initial | baseline | ours | "
        "ours/reference | baseline/reference | feasible | seconds | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    ratios: dict[str, list[float]] = {"A": [], "B": []}
    base_ratios: dict[str, list[float]] = {"A": [], "B": []}
    for name, base, ours in rows:
        ref = ours.get("reference") or base["reference"]
        part = "A" if name.startswith("a") else "B"
        cells = []
        for run, store in ((base, base_ratios), (ours, ratios)):
            if "cost" in run:
                store[part].append(run["cost"] / ref)
                cells.append(f"{run['cost']:,}")
            else:
                cells.append("-")
        ratio = f"{ours['cost'] / ref:.4f}" if "cost" in ours else "-"
        base_ratio = f"{base['cost'] / ref:.4f}" if "cost" in base else "-"
        feasible = all(run.get("feasible", True) for run in (base, ours))
        initial = (ours.get("initial") or base["initial"])
        bound = ours.get("bound") or base["bound"]
        seconds = ours.get("seconds", base.get("seconds", 0.0))
        load = max(run.get("load", 0.0) for run in (base, ours))
        lines.append(
            f"| {name} | {ref:,} | {bound:,} | {initial:,} | {cells[0]} | {cells[1]} | "
            f"{ratio} | "
            f"{base_ratio} | {'yes' if feasible else '**no**'} | {seconds:.1f} | "
            f"{load:.1f} |"
        )
    lines.append("")
    for part in ("A", "B"):
        text = []
        if ratios[part]:
            text.append(f"median ours/reference {statistics.median(ratios[part]):.4f}")
        if base_ratios[part]:
            text.append(f"baseline {statistics.median(base_ratios[part]):.4f}")
        if text:
            lines.append(f"Set {part}: {', '.join(text)}.")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, run every instance, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", default="", help="comma-separated names")
    parser.add_argument(
        "--workers", type=int, default=1, help="CP-SAT workers of the repair steps"
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="runs at a time, one process each"
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="baseline,ours or one of them"
    )
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown method(s) {sorted(unknown)}; known: {METHODS}")
    models = sorted(DATA.glob("*/model_*.txt"))
    if args.instances:
        wanted = set(args.instances.split(","))
        models = [m for m in models if m.stem[len("model_"):] in wanted]
    _one_core()
    warm_up()
    rows = []
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        jobs = {
            (model.stem[len("model_"):], method): pool.submit(
                run_one, str(model), method, args.time_limit, args.seed,
                args.workers,
            )
            for model in models
            for method in methods
        }
        for model in models:
            name = model.stem[len("model_"):]
            runs = {m: jobs[name, m].result() for m in methods}
            base, ours = runs.get("baseline", {}), runs.get("ours", {})
            rows.append((name, base, ours))
            print(
                f"{name}: "
                + " ".join(f"{m} {runs[m]['cost']:,}" for m in methods)
                + f" (load {max(r['load'] for r in runs.values()):.1f})",
                flush=True,
            )
    print(_table(rows, args))


if __name__ == "__main__":
    main()
