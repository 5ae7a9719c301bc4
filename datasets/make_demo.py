"""Write the demo instances in ``datasets/demo/`` deterministically (fixed seeds).

Run ``python datasets/make_demo.py`` from the repository root; the files it writes are
committed, so running it again must leave ``git status`` clean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parent / "demo"
ZONES = ("a", "b", "c")


def bins_500(seed: int = 500) -> str:
    """A 1-D BPPLIB file: 500 items with weights 100..600 for bins of capacity 1000."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(100, 601, size=500)
    return "\n".join(["500", "1000", *map(str, weights)]) + "\n"


def vector_200(seed: int = 200) -> str:
    """A 3-D ``.vbp`` file: 200 items with correlated sizes, bins of 100 x 100 x 100."""
    rng = np.random.default_rng(seed)
    base = rng.integers(10, 41, size=(200, 1))
    sizes = np.clip(base + rng.integers(-12, 13, size=(200, 3)), 1, 60)
    lines = ["3", "100 100 100", "200"]
    lines += [" ".join(map(str, row)) + " 1" for row in sizes]
    return "\n".join(lines) + "\n"


def web_cluster() -> str:
    """A 36-machine fleet in three zones; its services use every constraint kind."""
    out = [
        "# A small web platform: 36 machines in 3 zones (written by make_demo.py).",
        'name = "web-cluster"',
        'description = "3 zones x (8 general + 3 highmem + 1 batch-only) machines; '
        'one machine down"',
        "",
        "[resources]",
        'cpu = "millicore"',
        'memory = "MiB"',
        "",
    ]
    # Racks of four general machines, listed rack by rack across the zones, then the
    # high-memory and batch pools; c-r2-3 is down.
    entries = [
        (f"{zone}-r{rack}", 4, 8000, 32768, "general", rack)
        for rack in (1, 2)
        for zone in ZONES
    ]
    entries += [(f"{zone}-highmem", 3, 8000, 65536, "highmem", 3) for zone in ZONES]
    entries += [(f"{zone}-batch", 1, 16000, 32768, "batch", 4) for zone in ZONES]
    for name, count, cpu, memory, pool, rack in entries:
        zone = name[0]
        down = name == "c-r2"
        names = [(name, count - 1, "up"), (f"{name}-{count - 1}", 1, "down")]
        for entry_name, entry_count, state in names if down else [(name, count, "up")]:
            out += [
                "[[machines]]",
                f'name = "{entry_name}"',
                *([f"count = {entry_count}"] if entry_count > 1 else []),
                f"capacity = {{ cpu = {cpu}, memory = {memory} }}",
                f'labels = {{ zone = "{zone}", rack = "{zone}{rack}", '
                f'pool = "{pool}" }}',
                *(['taints = ["dedicated=batch"]'] if pool == "batch" else []),
                *([f'state = "{state}"'] if state != "up" else []),
                "",
            ]
    services = (
        (
            "frontend",
            18,
            1000,
            2048,
            "shop",
            10,
            'spread = { topology_key = "zone", max_skew = 1 }',
            'anti_affinity = { topology_key = "machine", max_per_domain = 2 }',
        ),
        (
            "api",
            15,
            1500,
            3072,
            "shop",
            10,
            'spread = { topology_key = "zone", max_skew = 1 }',
            'affinity = { service = "cache", topology_key = "zone" }',
        ),
        (
            "cache",
            6,
            2000,
            16384,
            "shop",
            20,
            'node_selector = { pool = "highmem" }',
            'anti_affinity = { topology_key = "machine", max_per_domain = 1 }',
        ),
        (
            "db",
            3,
            4000,
            24576,
            "shop",
            30,
            'node_selector = { pool = "highmem" }',
            'anti_affinity = { topology_key = "zone", max_per_domain = 1 }',
        ),
        (
            "search",
            9,
            2500,
            8192,
            "shop",
            5,
            'spread = { topology_key = "zone", max_skew = 1 }',
        ),
        ("metrics", 12, 750, 4096, "ops", 5),
        ("batch", 24, 2000, 4096, "batch", 0, 'tolerations = ["dedicated=batch"]'),
    )
    for name, replicas, cpu, memory, namespace, priority, *extra in services:
        out += [
            "[[services]]",
            f'name = "{name}"',
            f"replicas = {replicas}",
            f"requests = {{ cpu = {cpu}, memory = {memory} }}",
            f'namespace = "{namespace}"',
            f"priority = {priority}",
            *extra,
            "",
        ]
    out += [
        "[namespaces.shop]",
        "",
        "[namespaces.ops]",
        "quota = { cpu = 12000, memory = 65536 }",
        "",
        "[namespaces.batch]",
        "quota = { cpu = 48000 }",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Write the three demo files."""
    DEMO.mkdir(exist_ok=True)
    (DEMO / "bins-500.txt").write_text(bins_500())
    (DEMO / "vector-200.vbp").write_text(vector_200())
    (DEMO / "web-cluster.toml").write_text(web_cluster())


if __name__ == "__main__":
    main()
