"""Machines freed by ``Cluster.rebalance(objective="min-machines")`` on a spread fleet.

200 machines (64,000 millicores, 256,000 MiB), 20 services of 100 replicas with random
requests, placed by ``k8s-least`` (so every machine is busy); then rebalance with a move
budget and a time limit, greedy emptying alone and greedy followed by CP-SAT. Prints one
Markdown row per (budget, method).

    python benchmarks/rebalance_spread.py --max-moves 1000 3000 --time-limit 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import solver
from solver import rebalance


def spread_cluster(seed: int = 0) -> solver.Cluster:
    """The fleet above, with every service deployed by k8s-least."""
    rng = np.random.default_rng(seed)
    cluster = solver.Cluster.from_arrays(
        np.tile([64_000, 256_000], (200, 1)), ("cpu", "memory"), engine="k8s-least"
    )
    services = [
        solver.Service(
            f"svc-{k}",
            100,
            {
                "cpu": int(rng.integers(250, 4_000)),
                "memory": int(rng.integers(256, 8_192)),
            },
        )
        for k in range(20)
    ]
    cluster.deploy(services, apply=True)
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-moves", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--time-limit", type=float, default=5.0)
    args = parser.parse_args()
    print("| max_moves | method | machines freed | moves | seconds |")
    print("|---:|---|---:|---:|---:|")
    exact_limit = rebalance.CPSAT_MAX_CONTAINERS
    for budget in args.max_moves:
        for method, limit in (("greedy", 0), ("greedy + CP-SAT", exact_limit)):
            rebalance.CPSAT_MAX_CONTAINERS = limit
            cluster = spread_cluster()
            start = time.perf_counter()
            plan = cluster.rebalance(
                max_moves=budget, objective="min-machines", time_limit=args.time_limit
            )
            seconds = time.perf_counter() - start
            print(
                f"| {budget} | {method} | {plan.machines_freed} | {plan.moves} "
                f"| {seconds:.2f} |",
                flush=True,
            )
    rebalance.CPSAT_MAX_CONTAINERS = exact_limit


if __name__ == "__main__":
    main()
