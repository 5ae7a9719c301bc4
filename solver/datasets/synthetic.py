"""Synthetic cluster workloads for speed tests: many small containers, a few large ones.

Amounts are int64 in units of 1/10,000 of a standard machine. Memory follows CPU
(correlated), disk follows CPU loosely, and an accelerator dimension is zero for most
containers. Deterministic for a seed (numpy default_rng).
"""

from __future__ import annotations

import numpy as np

UNIT = 10_000  # capacity of a standard machine in every dimension
# Machine types as multiples of the standard machine: (cpu, memory, disk, accelerator).
TYPES = np.array([[1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 0.5, 0.0], [2.0, 2.0, 1.0, 1.0]])
TYPE_SHARE = (0.6, 0.3, 0.1)


def cluster_workload(
    n: int, d: int, seed: int = 0, machine_types: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Requests int64[n, d] and machine capacities int64[m, d] shaped like a cluster.

    Sizes are log-normal in three classes (72 % small, 24 % medium, 4 % large);
    memory is CPU times a log-normal ratio; for d >= 3 a disk dimension, for d >= 4
    an accelerator asked by 8 % of containers (1/8, 1/4 or 1/2 of a device). About
    18 containers per machine and 1.5 times the machines the demand needs, so first
    fit decreasing places everything. ``machine_types`` mixes the rows of ``TYPES``.
    """
    if n < 1 or not 1 <= d <= 4:
        raise ValueError(f"cluster_workload: need n >= 1 and 1 <= d <= 4, got {n}, {d}")
    rng = np.random.default_rng([seed, n, d])
    size = rng.choice(np.log([0.018, 0.07, 0.28]), size=n, p=[0.72, 0.24, 0.04])
    cpu = np.exp(rng.normal(size, 0.5))
    cols = [cpu, cpu * np.exp(rng.normal(0.1, 0.45, n))]
    cols.append(0.6 * cpu + 0.4 * np.exp(rng.normal(np.log(0.03), 0.7, n)))
    gpu = np.where(rng.random(n) < 0.08, rng.choice([0.125, 0.25, 0.5], size=n), 0.0)
    cols.append(gpu)
    req = np.stack(cols[:d], axis=1)
    req = np.clip(np.rint(req * UNIT), 0, UNIT).astype(np.int64)
    req[:, 0] = np.maximum(req[:, 0], 1)
    need = int(np.ceil(req.sum(axis=0).max() / UNIT))
    m = int(1.5 * need) + 8
    if not machine_types:
        return req, np.full((m, d), UNIT, dtype=np.int64)
    kinds = np.random.default_rng([seed, m, d, 1]).choice(
        len(TYPES), size=m, p=TYPE_SHARE
    )
    cap = np.rint(TYPES[kinds][:, :d] * UNIT).astype(np.int64)
    return req, cap
