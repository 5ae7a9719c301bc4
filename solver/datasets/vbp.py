"""VPSolver ``.vbp`` vector bin packing instances.

Layout (whitespace-separated integers): the number of dimensions ``d``; ``d`` bin
capacities; the number of item types ``m``; then ``m`` lines of ``d`` sizes followed by
a demand ``k``. An item type with demand ``k`` becomes ``k`` containers, in file order.
Resources are ``r0 .. r{d-1}`` (``size`` when ``d = 1``); the fleet is ``sum(k)``
identical bins, enough for any packing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidProblem
from ..model import Containers, Machines, Problem, Resources
from . import (
    first_negative,
    integer,
    integer_table,
    one_integer,
    quick_integers,
    read_text,
    register_format,
    text_lines,
)


def read(path: str | Path) -> Problem:
    """Read a ``.vbp`` file into a d-dimensional Problem with identical machines."""
    path = Path(path)
    text = read_text(path)
    capacity, sizes, demand = _quick(text) or _strict(text, path)
    d = capacity.shape[0]
    resources = Resources.default(d)
    requests = np.repeat(sizes, demand, axis=0)
    bins = max(requests.shape[0], 1)
    machines = Machines(np.tile(capacity, (bins, 1)), resources, source=str(path))
    containers = Containers(requests, resources, source=str(path))
    return Problem(machines, containers, name=path.stem, metadata={"format": "vbp"})


def _quick(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A well-formed file in one conversion; None means look closer."""
    found = quick_integers(text)
    if found is None:
        return None
    values, lines = found
    d = int(values[0]) if len(values) else 0
    m = int(values[d + 1]) if d >= 1 and len(values) > d + 1 else -1
    if m < 0 or lines != 3 + m or len(values) != 2 + d + m * (d + 1):
        return None
    capacity = values[1 : d + 1]
    table = values[d + 2 :].reshape(m, d + 1)
    if (capacity <= 0).any() or (table < 0).any():
        return None
    return capacity, table[:, :d], table[:, d]


def _strict(text: str, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line-by-line parse that names the line and field of the first problem."""
    lines = text_lines(text)
    header = ("d", "capacity", "m")
    if len(lines) < 3:
        line = lines[-1][0] + 1 if lines else 1
        raise InvalidProblem(
            f"{path}: line {line}, field {header[len(lines)]!r}: missing value"
        )
    (d_line, d_tokens), (c_line, c_tokens), (m_line, m_tokens) = lines[:3]
    d = one_integer(d_tokens, path, d_line, "d")
    if d < 1:
        raise InvalidProblem(f"{path}: line {d_line}, field 'd': must be at least 1")
    if len(c_tokens) != d:
        raise InvalidProblem(
            f"{path}: line {c_line}, field 'capacity': the file says d={d} but lists "
            f"{len(c_tokens)} capacities"
        )
    capacity = np.array(
        [integer(t, path, c_line, f"capacity r{k}") for k, t in enumerate(c_tokens)],
        dtype=np.int64,
    )
    if (capacity <= 0).any():
        k = int(np.flatnonzero(capacity <= 0)[0])
        raise InvalidProblem(
            f"{path}: line {c_line}, field 'capacity r{k}': must be positive, "
            f"got {capacity[k]}"
        )
    m = one_integer(m_tokens, path, m_line, "m")
    if m < 0:
        raise InvalidProblem(f"{path}: line {m_line}, field 'm': negative count {m}")
    items = lines[3:]
    if len(items) != m:
        where = items[m][0] if len(items) > m else (items[-1][0] if items else m_line)
        raise InvalidProblem(
            f"{path}: line {where}, field 'm': the file says m={m} item types "
            f"(line {m_line}) but has {len(items)} item lines"
        )
    for line, tokens in items:
        if len(tokens) != d + 1:
            raise InvalidProblem(
                f"{path}: line {line}, field 'item': expected {d} sizes and a demand, "
                f"found {len(tokens)} values"
            )
    fields = [*(f"size r{k}" for k in range(d)), "demand"]
    table = integer_table(items, path, fields)
    first_negative(table, items, path, fields)
    return capacity, table[:, :d], table[:, d]


def sniff(path: Path, head: str) -> bool:
    """A ``.vbp`` name, or the header shape: d, d numbers, m, then d + 1 numbers."""
    if path.suffix.lower() == ".vbp":
        return True
    lines = [line.split() for line in head.splitlines() if line.strip()][:4]
    if len(lines) < 4 or not all(t.isdigit() for tokens in lines for t in tokens):
        return False
    d = int(lines[0][0]) if len(lines[0]) == 1 else 0
    widths = [len(tokens) for tokens in lines]
    return d >= 1 and widths == [1, d, 1, d + 1]


register_format("vbp", read, sniff)
