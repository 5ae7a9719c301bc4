"""Solution quality of the reassignment optimiser on the ROADEF/EURO 2012 instances.

For every instance, the plain hill climbing baseline and :func:`optimise` run at the
same time limit, side by side in two processes (so both see the same machine load),
and a Markdown table is printed: instance, reference (the challenge winner's 300 s
result), initial cost, baseline, ours, ours/reference, feasible, seconds; then the
median of ours/reference per set. Example::

    python benchmarks/reassign_quality.py --time-limit 60
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


def run_one(model: str, method: str, time_limit: float, seed: int) -> dict:
    """Run ``method`` ("baseline" or "ours") on one instance; the numbers as a dict."""
    from solver.datasets import roadef
    from solver.engines import reassign

    problem = roadef.read(model)
    if method == "baseline":
        result = reassign.hill_climb(problem, time_limit, seed)
    else:
        result = reassign.optimise(problem, time_limit=time_limit, seed=seed)
    return {
        "initial": result.cost_before.total,
        "cost": result.cost_after.total,
        "feasible": not roadef.check(problem, result.assignment),
        "seconds": result.seconds,
        "reference": problem.best_known,
    }


def warm_up() -> None:
    """Compile the kernels once so no run pays for it."""
    from solver.datasets import roadef
    from solver.engines import reassign

    model = sorted((DATA / "A").glob("model_*.txt"))[0]
    reassign.optimise(roadef.read(model), time_limit=1.0)


def main() -> None:
    """Parse the arguments, run every instance, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", default="", help="comma-separated names")
    args = parser.parse_args()
    models = sorted(DATA.glob("*/model_*.txt"))
    if args.instances:
        wanted = set(args.instances.split(","))
        models = [m for m in models if m.stem[len("model_"):] in wanted]
    warm_up()
    rows = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for model in models:
            name = model.stem[len("model_"):]
            jobs = {
                method: pool.submit(
                    run_one, str(model), method, args.time_limit, args.seed
                )
                for method in ("baseline", "ours")
            }
            base, ours = jobs["baseline"].result(), jobs["ours"].result()
            rows.append((name, base, ours))
            print(
                f"{name}: baseline {base['cost']:,} ours {ours['cost']:,}",
                flush=True,
            )
    lines = [
        f"Time limit {args.time_limit:g} s per run, seed {args.seed}.",
        "",
        "| instance | reference | initial | baseline | ours | ours/reference | "
        "baseline/reference | feasible | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    ratios: dict[str, list[float]] = {"A": [], "B": []}
    base_ratios: dict[str, list[float]] = {"A": [], "B": []}
    for name, base, ours in rows:
        ref = ours["reference"]
        ratio = ours["cost"] / ref
        base_ratio = base["cost"] / ref
        part = "A" if name.startswith("a") else "B"
        ratios[part].append(ratio)
        base_ratios[part].append(base_ratio)
        feasible = "yes" if ours["feasible"] and base["feasible"] else "**no**"
        lines.append(
            f"| {name} | {ref:,} | {ours['initial']:,} | {base['cost']:,} | "
            f"{ours['cost']:,} | {ratio:.4f} | {base_ratio:.4f} | {feasible} | "
            f"{ours['seconds']:.1f} |"
        )
    lines.append("")
    lines.extend(
        f"Set {part}: median ours/reference {statistics.median(ratios[part]):.4f}, "
        f"baseline {statistics.median(base_ratios[part]):.4f}."
        for part in ("A", "B")
        if ratios[part]
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
