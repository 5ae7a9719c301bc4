"""tetrimino `ffd` against the PyPI `binpacking` package on one-dimensional workloads.

Prints a Markdown row per size: seconds of each (after JIT warm-up for ffd), bins used
by each, and the speed ratio. Both get the same generated cluster workload (one
dimension) and the same bin capacity.

    python benchmarks/binpacking_compare.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import time

import binpacking
import numpy as np

import solver
from solver.datasets.synthetic import cluster_workload


def compare(n: int, seed: int = 0) -> dict[str, float]:
    """Time both on ``n`` containers; returns seconds and bins of each."""
    requests, capacity = cluster_workload(n, 1, seed=seed)
    volume = int(capacity[0, 0])
    problem = solver.Problem.from_arrays(np.full((n, 1), volume), requests)
    solver.place(problem, "ffd")  # compile and warm the kernels
    start = time.perf_counter()
    placement = solver.place(problem, "ffd", check=False)
    ours = time.perf_counter() - start
    solver.validate(problem, placement)
    start = time.perf_counter()
    bins = binpacking.to_constant_volume(requests[:, 0].tolist(), volume)
    theirs = time.perf_counter() - start
    return {
        "ffd_s": ours,
        "ffd_bins": placement.machines_used,
        "binpacking_s": theirs,
        "binpacking_bins": len(bins),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print("| n | ffd s | ffd bins | binpacking s | binpacking bins | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = compare(n)
        print(
            f"| {n:,} | {r['ffd_s']:.4f} | {r['ffd_bins']} | {r['binpacking_s']:.2f} "
            f"| {r['binpacking_bins']} | {r['binpacking_s'] / r['ffd_s']:,.0f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
