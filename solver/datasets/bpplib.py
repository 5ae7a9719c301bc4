"""BPPLIB one-dimensional bin packing instances (Delorme, Iori & Martello).

Two layouts exist, both plain integers one per line:

* BPP: the number of items ``n``, the bin capacity ``c``, then ``n`` lines with one
  weight each (the benchmark files: Falkenauer, Scholl, Schwerin, Waescher, Hard28).
* CSP (cutting stock): the number of item types ``n``, the capacity ``c``, then ``n``
  lines ``weight demand``; an item type with demand ``k`` becomes ``k`` containers.

The Problem has one resource, ``size``, and ``sum(demand)`` identical machines (enough
for any packing). Windows line ends are accepted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidProblem
from ..model import Containers, Machines, Problem, Resources
from . import (
    first_negative,
    integer_table,
    one_integer,
    quick_integers,
    read_text,
    register_format,
    text_lines,
)

EXTENSIONS = {".txt", ".bpp", ".csp", ".dat"}


def read(path: str | Path) -> Problem:
    """Read a BPPLIB ``.txt`` file (BPP or CSP layout) into a 1-D Problem."""
    path = Path(path)
    text = read_text(path)
    capacity, weights, demand = _quick(text) or _strict(text, path)
    sizes = np.repeat(weights, demand).reshape(-1, 1)
    resources = Resources(("size",))
    bins = max(len(sizes), 1)
    machines = Machines(
        np.full((bins, 1), capacity, np.int64), resources, source=str(path)
    )
    containers = Containers(sizes, resources, source=str(path))
    return Problem(machines, containers, name=path.stem, metadata={"format": "bpplib"})


def _quick(text: str) -> tuple[int, np.ndarray, np.ndarray] | None:
    """A well-formed BPP layout in one conversion; None means look closer."""
    found = quick_integers(text)
    if found is None:
        return None
    values, lines = found
    if len(values) < 2 or lines != len(values) or values[0] != len(values) - 2:
        return None
    weights = values[2:]
    if values[1] <= 0 or (weights < 0).any():
        return None
    return int(values[1]), weights, np.ones(len(weights), np.int64)


def _strict(text: str, path: Path) -> tuple[int, np.ndarray, np.ndarray]:
    """Line-by-line parse (BPP or CSP layout) naming the line and field of a problem."""
    lines = text_lines(text)
    if len(lines) < 2:
        line = lines[-1][0] + 1 if lines else 1
        field = "capacity" if lines else "n"
        raise InvalidProblem(f"{path}: line {line}, field {field!r}: missing value")
    (n_line, n_tokens), (c_line, c_tokens) = lines[0], lines[1]
    n = one_integer(n_tokens, path, n_line, "n")
    capacity = one_integer(c_tokens, path, c_line, "capacity")
    if n < 0:
        raise InvalidProblem(f"{path}: line {n_line}, field 'n': negative count {n}")
    if capacity <= 0:
        raise InvalidProblem(
            f"{path}: line {c_line}, field 'capacity': must be positive, got {capacity}"
        )
    items = lines[2:]
    if len(items) != n:
        where = items[n][0] if len(items) > n else (items[-1][0] if items else c_line)
        raise InvalidProblem(
            f"{path}: line {where}, field 'n': the file says n={n} (line {n_line}) "
            f"but has {len(items)} item lines"
        )
    width = len(items[0][1]) if items else 1
    for line, tokens in items:
        if len(tokens) > 2:
            raise InvalidProblem(
                f"{path}: line {line}, field 'weight': expected a weight and an "
                f"optional demand, found {len(tokens)} values"
            )
        if len(tokens) != width:
            raise InvalidProblem(
                f"{path}: line {line}, field 'weight': expected {width} values as on "
                f"line {items[0][0]}, found {len(tokens)}"
            )
    fields = ["weight", "demand"][:width]
    table = integer_table(items, path, fields)
    first_negative(table, items, path, fields)
    weights = table[:, 0]
    demand = table[:, 1] if table.shape[1] == 2 else np.ones(n, np.int64)
    return capacity, weights, demand


def sniff(path: Path, head: str) -> bool:
    """A ``.txt``-like name; lines of one integer, then one or two integers per line."""
    if path.suffix.lower() not in EXTENSIONS and path.suffix:
        return False
    lines = [line.split() for line in head.splitlines() if line.strip()][:3]
    widths = [len(tokens) for tokens in lines]
    numeric = all(t.lstrip("-").isdigit() for tokens in lines for t in tokens)
    return (
        bool(lines)
        and numeric
        and widths[:2] == [1] * min(2, len(lines))
        and (len(widths) < 3 or widths[2] in (1, 2))
    )


register_format("bpplib", read, sniff)
