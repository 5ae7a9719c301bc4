"""Azure packing trace 2020: a SQLite file with tables ``vm`` and ``vmType``.

``vmType`` gives, per (``vmTypeId``, ``machineId``), the fraction of one machine of
that hardware type a VM needs in ``core``, ``memory``, ``hdd``, ``ssd`` and ``nic``;
``vm`` gives each request's ``vmTypeId``, ``priority`` (0 high, 1 low), ``starttime``
and ``endtime`` in fractional days (negative start = alive when collection began; NULL
end = never leaves). The trace has no fleet size, so the reader packs onto identical
machines of one hardware type: ``machine_type`` (default: the type able to host the
most VMs), each of capacity ``resolution`` (default 10000) per dimension, and
``machines`` of them (default: the peak concurrent demand rounded up in the tightest
dimension). VMs whose type that hardware cannot host are skipped and counted in
``metadata["skipped_vms"]``.

Times become whole seconds; ``priority`` becomes 1 for high and 0 for low priority
(higher wins in this library). Read with the standard library :mod:`sqlite3`, in chunks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidProblem
from ..model import Machines, Problem, Resources
from .events import ARRIVE, DEPART, EventBuffer, Trace, scaled

DIMENSIONS = ("core", "memory", "hdd", "ssd", "nic")
SECONDS_PER_DAY = 86400


def sniff(path: str | Path) -> bool:
    """True for a SQLite file holding the ``vm`` and ``vmType`` tables."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                return False
        return {"vm", "vmType"} <= _tables(p)
    except (OSError, sqlite3.Error):
        return False


def _tables(path: Path) -> set[str]:
    with _connect(path) as con:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        ).fetchall()
    return {r[0] for r in rows}


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def read_azure_trace(
    path: str | Path,
    *,
    machine_type: int | None = None,
    machines: int | None = None,
    resolution: int = 10000,
    chunk: int = 1 << 18,
) -> Trace:
    """Read the packing trace into a Trace on identical machines of one type."""
    p = Path(path)
    if not p.is_file():
        raise InvalidProblem(f"{p}: no such file")
    try:
        con = _connect(p)
        tables = {
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.Error as exc:
        raise InvalidProblem(f"{p}: not a SQLite database ({exc})") from None
    try:
        for table in ("vm", "vmType"):
            if table not in tables:
                raise InvalidProblem(f"{p}: table {table!r} is missing")
        _check_columns(p, con, "vmType", ("vmTypeId", "machineId", *DIMENSIONS))
        _check_columns(
            p, con, "vm", ("vmId", "vmTypeId", "priority", "starttime", "endtime")
        )
        if machine_type is None:
            row = con.execute(
                "SELECT t.machineId FROM vm JOIN vmType t ON vm.vmTypeId = t.vmTypeId "
                "GROUP BY t.machineId ORDER BY COUNT(*) DESC, t.machineId LIMIT 1"
            ).fetchone()
            if row is None:
                raise InvalidProblem(f"{p}: no VM has a type any machine can host")
            machine_type = row[0]
        demand = _demand(p, con, machine_type, resolution)
        res = Resources(
            DIMENSIONS, tuple(f"1/{resolution} machine" for _ in DIMENSIONS)
        )
        buf = EventBuffer(res, ("priority",))
        skipped = _vms(p, con, demand, buf, chunk)
    finally:
        con.close()
    events = buf.frame()
    count = (
        machines if machines is not None else _peak_machines(events, res, resolution)
    )
    if count < 0:
        raise InvalidProblem(f"{p}: machines must be >= 0, got {count}")
    fleet = Machines(
        np.full((count, len(DIMENSIONS)), resolution, np.int64),
        res,
        labels={"machine_type": [str(machine_type)] * count},
        source=str(p),
    )
    policy = {"policy": "resolution", "resolution": resolution}
    return Trace(
        fleet,
        events,
        res,
        str(p),
        {
            "time_unit": "s",
            "format": "azure2020",
            "machine_type": machine_type,
            "skipped_vms": skipped,
            "scaling": dict.fromkeys(DIMENSIONS, policy),
        },
    )


def _check_columns(
    path: Path, con: sqlite3.Connection, table: str, needed: tuple
) -> None:
    have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
    missing = [c for c in needed if c not in have]
    if missing:
        raise InvalidProblem(
            f"{path}: table {table!r}, field {missing[0]!r}: missing column"
        )


def _demand(
    path: Path, con: sqlite3.Connection, machine_type: Any, resolution: int
) -> dict[Any, np.ndarray]:
    rows = con.execute(
        f"SELECT rowid, vmTypeId, {', '.join(DIMENSIONS)} FROM vmType "
        "WHERE machineId = ?",
        (machine_type,),
    ).fetchall()
    if not rows:
        raise InvalidProblem(
            f"{path}: table 'vmType': no row for machineId {machine_type}"
        )
    source = f"{path}: table 'vmType'"
    out: dict[Any, np.ndarray] = {}
    for rowid, type_id, *values in rows:
        vec = []
        for name, v in zip(DIMENSIONS, values, strict=False):
            vec.append(_fraction(source, rowid, name, v, resolution))
        out[type_id] = np.array(vec, np.int64)
    return out


def _fraction(source: str, rowid: int, field: str, value: Any, resolution: int) -> int:
    if value is None:
        return 0
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidProblem(
            f"{source} row {rowid}, field {field!r}: {value!r} is not a number"
        ) from None
    return int(scaled(source, rowid, np.array([x]), field, resolution)[0])


def _vms(
    path: Path, con: sqlite3.Connection, demand: dict, buf: EventBuffer, chunk: int
) -> int:
    cur = con.execute(
        "SELECT rowid, vmId, vmTypeId, priority, starttime, endtime "
        "FROM vm ORDER BY rowid"
    )
    skipped = 0
    source = f"{path}: table 'vm'"
    while True:
        rows = cur.fetchmany(chunk)
        if not rows:
            return skipped
        cols = list(zip(*rows, strict=False))
        rowid = np.array(cols[0], np.int64)
        vm_id = _numbers(source, rowid, cols[1], "vmId", np.int64)
        prio = _numbers(source, rowid, cols[3], "priority", np.float64)
        start = _numbers(source, rowid, cols[4], "starttime", np.float64)
        end = _numbers(source, rowid, cols[5], "endtime", np.float64)
        for name, arr in (("priority", prio), ("starttime", start)):
            if np.isnan(arr).any():
                bad = int(np.flatnonzero(np.isnan(arr))[0])
                raise InvalidProblem(
                    f"{source} row {rowid[bad]}, field {name!r}: missing"
                )
        early = end < start
        if early.any():
            bad = int(np.flatnonzero(early)[0])
            raise InvalidProblem(
                f"{source} row {rowid[bad]}, field 'endtime': {end[bad]} is before "
                f"starttime {start[bad]}"
            )
        known = np.array([t in demand for t in cols[2]], bool)
        skipped += int((~known).sum())
        if not known.any():
            continue
        amounts = np.stack(
            [demand[t] for t, k in zip(cols[2], known, strict=False) if k]
        )
        vm_id, prio, start, end = vm_id[known], prio[known], start[known], end[known]
        priority = (prio == 0).astype(np.int64)
        t0 = np.rint(start * SECONDS_PER_DAY).astype(np.int64)
        buf.add(t0, ARRIVE, container=vm_id, amounts=amounts, priority=priority)
        gone = ~np.isnan(end)
        buf.add(
            np.rint(end[gone] * SECONDS_PER_DAY).astype(np.int64),
            DEPART,
            container=vm_id[gone],
            priority=priority[gone],
        )


def _numbers(source: str, rowid: np.ndarray, values: tuple, field: str, dtype: Any):
    try:
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        for r, v in zip(rowid, values, strict=False):
            try:
                float(v)
            except (TypeError, ValueError):
                raise InvalidProblem(
                    f"{source} row {r}, field {field!r}: {v!r} is not a number"
                ) from None
        raise
    if dtype is np.int64:
        if np.isnan(arr).any():
            bad = int(np.flatnonzero(np.isnan(arr))[0])
            raise InvalidProblem(f"{source} row {rowid[bad]}, field {field!r}: missing")
        return arr.astype(np.int64)
    return arr


def _peak_machines(events: Any, res: Resources, resolution: int) -> int:
    """Machines needed for the peak of concurrent demand in the tightest dimension."""
    if not len(events):
        return 0
    kind = events["kind"].cat.codes.to_numpy()
    amounts = events[list(res.names)].to_numpy(np.int64)
    rows = np.flatnonzero(kind == ARRIVE)
    request = dict(
        zip(events["container"].to_numpy()[rows], amounts[rows], strict=False)
    )
    sign = np.zeros((len(events), len(res)), np.int64)
    sign[rows] = amounts[rows]
    dep = np.flatnonzero(kind == DEPART)
    if len(dep):
        sign[dep] = -np.stack([request[c] for c in events["container"].to_numpy()[dep]])
    peak = np.cumsum(sign, axis=0).max(axis=0)
    return max(1, int(-(-peak.max() // resolution)))


def read_azure(path: str | Path, *, at: int | None = None, **options: Any) -> Problem:
    """The packing trace as a Problem: every VM, or those alive at ``at`` (s)."""
    trace = read_azure_trace(path, **options)
    return trace.to_problem() if at is None else trace.snapshot(at)
