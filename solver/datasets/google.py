"""Google cluster data: the 2011 trace (CSV) and the 2019 trace (exported JSON lines).

Both normalise CPU and memory to the largest machine (1.0). Amounts become int64 once,
at ``resolution`` (default 10000, so 10000 = the largest machine) through
:func:`solver.units.to_int64` with ``scaling="resolution"``; the policy is recorded in
``metadata["scaling"]``. Times stay in the traces' microseconds (``time_unit = "us"``).

Containers are tasks (2011) or instances (2019): key ``job_id << 20 | task_index``
(2019: ``collection_id``), so the job is ``key >> 20`` (``metadata["service_shift"]``,
used as the service of snapshots). ``arrive_on="schedule"`` (default) makes a task
arrive when the trace started it, on the machine it ran on; ``"submit"`` makes it
arrive when it was submitted (machine unknown), for replaying the queue. Evict, fail,
finish, kill and lost end a task; updates change its request.

2011 (folder with ``machine_events/`` and ``task_events/`` of ``part-*.csv[.gz]`` files,
no header): ``machine_events`` = timestamp, machine_id, event_type (0 add, 1 remove,
2 update), platform_id, cpu_capacity, memory_capacity; ``task_events`` = timestamp,
missing_info, job_id, task_index, machine_id, event_type, user, scheduling_class,
priority, cpu_request, memory_request, disk_request, different_machines_restriction.
Disk is not a resource here (machines publish no disk capacity).

2019 (BigQuery JSON-lines exports ``machine_events*.json[.gz]`` and
``instance_events*.json[.gz]``, fields as in ``clusterdata_trace_format_v3.proto``;
integers may be quoted, as BigQuery writes them): instance events use ``time``,
``type``, ``collection_id``, ``instance_index``, ``machine_id``, ``priority``,
``resource_request.cpus`` / ``.memory`` and ``alloc_collection_id``; tasks running
inside an alloc set are skipped unless ``inside_allocs=True`` (the alloc instance
already reserves their resources). Machine events: ``time``, ``machine_id``, ``type``
(1 add, 2 remove, 3 update), ``capacity.cpus`` / ``.memory``, ``switch_id`` (label
``switch``), ``platform_id`` (label ``platform``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ..errors import InvalidProblem
from ..model import Machines, Problem, Resources
from .events import (
    ARRIVE,
    DEPART,
    DICT,
    F64,
    I64,
    MACHINE_ADD,
    MACHINE_FAIL,
    MACHINE_REPAIR,
    STR,
    UPDATE,
    EventBuffer,
    Trace,
    check_amounts,
    column_values,
    csv_batches,
    scaled,
)

MACHINE_EVENTS_2011 = {
    "timestamp": I64,
    "machine_id": I64,
    "event_type": I64,
    "platform_id": DICT,
    "cpu_capacity": F64,
    "memory_capacity": F64,
}
TASK_EVENTS_2011 = {
    "timestamp": I64,
    "missing_info": F64,
    "job_id": I64,
    "task_index": I64,
    "machine_id": F64,
    "event_type": I64,
    "user": STR,
    "scheduling_class": F64,
    "priority": F64,
    "cpu_request": F64,
    "memory_request": F64,
    "disk_request": F64,
    "different_machines_restriction": F64,
}
#: The task_events columns the reader uses: only these are parsed (and checked).
TASK_USED_2011 = {
    c: TASK_EVENTS_2011[c]
    for c in (
        "timestamp",
        "job_id",
        "task_index",
        "machine_id",
        "event_type",
        "priority",
        "cpu_request",
        "memory_request",
    )
}
SHIFT = 20
#: Task event types per trace: (submit, schedule, ends, update pending, update running).
_TYPES = {
    2011: (0, 1, (2, 3, 4, 5, 6), 7, 8),
    2019: (0, 3, (4, 5, 6, 7, 8), 9, 10),
}


def _resources(resolution: int) -> Resources:
    unit = f"normalised/{resolution}"
    return Resources(("cpu", "memory"), (unit, unit))


def _meta(resolution: int, fmt: str, arrive_on: str) -> dict[str, Any]:
    policy = {"policy": "resolution", "resolution": resolution}
    return {
        "time_unit": "us",
        "format": fmt,
        "arrive_on": arrive_on,
        "service_shift": SHIFT,
        "scaling": {"cpu": policy, "memory": policy},
    }


def _keys(
    path: Path, line: int, job: np.ndarray, index: np.ndarray, what: str
) -> np.ndarray:
    bad = (index < 0) | (index >= 1 << SHIFT) | (job < 0) | (job >= 1 << (62 - SHIFT))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidProblem(
            f"{path}: line {line + i}, field {what!r}: job {job[i]} / index {index[i]} "
            f"outside the supported range (index < {1 << SHIFT})"
        )
    return (job << SHIFT) | index


def _task_events(
    buf: EventBuffer,
    year: int,
    arrive_on: str,
    *,
    time: np.ndarray,
    etype: np.ndarray,
    key: np.ndarray,
    machine: np.ndarray,
    amounts: np.ndarray,
    priority: np.ndarray,
) -> None:
    submit, schedule, ends, upd_pending, upd_running = _TYPES[year]
    lut = np.full(17, -1, np.int8)  # event type -> kind; unknown types (16) are dropped
    lut[list(ends)] = DEPART
    if arrive_on == "schedule":
        lut[schedule], lut[upd_running] = ARRIVE, UPDATE
    else:
        lut[submit], lut[upd_pending], lut[upd_running] = ARRIVE, UPDATE, UPDATE
        machine = np.full_like(machine, -1)
    kinds = lut[np.clip(etype, -1, 16)]
    amounts[kinds == DEPART] = 0
    keep = kinds >= 0
    if not keep.all():
        time, kinds, key = time[keep], kinds[keep], key[keep]
        machine, amounts, priority = machine[keep], amounts[keep], priority[keep]
    buf.add(
        time, kinds, container=key, machine=machine, amounts=amounts, priority=priority
    )


def _machine_events(
    buf: EventBuffer,
    df: pd.DataFrame,
    add: int,
    remove: int,
    update: int,
    labels: dict[str, str],
    source: str,
) -> tuple[Machines, pd.Index]:
    """Fleet and events from a machine-events frame (time, id, type, cpu, memory)."""
    codes, ids = pd.factorize(df["id"], sort=False)
    df = df.assign(m=codes.astype(np.int64))
    first_add = df[df["type"] == add].drop_duplicates("m")
    capacity = np.zeros((len(ids), 2), np.int64)
    capacity[first_add["m"].to_numpy()] = first_add[["cpu", "memory"]].to_numpy(
        np.int64
    )
    t, typ, m = df["time"].to_numpy(), df["type"].to_numpy(), df["m"].to_numpy()
    cap = df[["cpu", "memory"]].to_numpy(np.int64)
    seen = np.zeros(len(ids), bool)
    kinds = np.empty(len(df), np.int8)
    for i in range(len(df)):
        if typ[i] == add:
            kinds[i] = MACHINE_REPAIR if seen[m[i]] else MACHINE_ADD
            seen[m[i]] = True
        elif typ[i] == remove:
            kinds[i] = MACHINE_FAIL
        elif typ[i] == update:
            kinds[i] = UPDATE
        else:
            kinds[i] = -1
    for kind in (MACHINE_ADD, MACHINE_REPAIR, MACHINE_FAIL, UPDATE):
        sel = kinds == kind
        buf.add(
            t[sel],
            kind,
            machine=m[sel],
            amounts=None if kind == MACHINE_FAIL else cap[sel],
        )
        if kind == MACHINE_REPAIR:
            buf.add(t[sel], UPDATE, machine=m[sel], amounts=cap[sel])
    heads = df.drop_duplicates("m")
    fleet = Machines(
        capacity,
        buf.resources,
        ids=np.asarray(ids, dtype=np.int64) if len(ids) else None,
        labels={
            name: [None if pd.isna(v) else str(v) for v in heads[col]]
            for col, name in labels.items()
            if col in heads
        },
        source=source,
    )
    return fleet, pd.Index(np.asarray(ids))


# --- 2011 -------------------------------------------------------------------------


def _parts(root: Path, table: str) -> list[Path]:
    folder = root / table
    if folder.is_dir():
        return sorted(
            p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz"))
        )
    return sorted(root.glob(f"{table}*.csv")) + sorted(root.glob(f"{table}*.csv.gz"))


def _root_2011(path: Path) -> Path:
    if path.is_dir() and (path.name in ("machine_events", "task_events")):
        return path.parent
    if path.is_file():
        parent = path.parent
        return (
            parent.parent
            if parent.name in ("machine_events", "task_events")
            else parent
        )
    return path


def sniff_2011(path: str | Path) -> bool:
    """True for a 2011 trace folder (``task_events/``, ``machine_events/``) or part."""
    p = Path(path)
    root = _root_2011(p)
    if p.is_file() and not (
        p.parent.name in ("machine_events", "task_events")
        or p.name.startswith(("machine_events", "task_events"))
    ):
        return False
    return bool(_parts(root, "task_events") or _parts(root, "machine_events"))


def read_google2011_trace(
    path: str | Path, *, resolution: int = 10000, arrive_on: str = "schedule"
) -> Trace:
    """Read a 2011 trace folder (or one of its part files and the folder's machines)."""
    _check_mode(arrive_on)
    p = Path(path)
    root = _root_2011(p)
    res = _resources(resolution)
    buf = EventBuffer(res, ("priority",))
    frames = []
    for part in _parts(root, "machine_events"):
        for line, b in csv_batches(
            part, MACHINE_EVENTS_2011, names=list(MACHINE_EVENTS_2011)
        ):
            frames.append(
                pd.DataFrame(
                    {
                        "time": b["timestamp"],
                        "id": b["machine_id"],
                        "type": b["event_type"],
                        "platform": b["platform_id"],
                        "cpu": scaled(
                            part, line, b["cpu_capacity"], "cpu_capacity", resolution
                        ),
                        "memory": scaled(
                            part,
                            line,
                            b["memory_capacity"],
                            "memory_capacity",
                            resolution,
                        ),
                    }
                )
            )
    df = pd.concat(frames, ignore_index=True) if frames else _empty_machines()
    fleet, index = _machine_events(
        buf, df, 0, 1, 2, {"platform": "platform"}, str(root)
    )
    task_parts = (
        [p] if p.is_file() and _is_task_file(p) else _parts(root, "task_events")
    )
    for part in task_parts:
        for line, b in csv_batches(part, TASK_USED_2011, names=list(TASK_EVENTS_2011)):
            key = _keys(part, line, b["job_id"], b["task_index"], "task_index")
            mach = np.nan_to_num(b["machine_id"], nan=-1).astype(np.int64)
            amounts = np.column_stack(
                [
                    scaled(part, line, b["cpu_request"], "cpu_request", resolution),
                    scaled(
                        part, line, b["memory_request"], "memory_request", resolution
                    ),
                ]
            )
            _task_events(
                buf,
                2011,
                arrive_on,
                time=b["timestamp"],
                etype=b["event_type"],
                key=key,
                machine=_rows(index, mach),
                amounts=amounts,
                priority=np.nan_to_num(b["priority"]).astype(np.int64),
            )
    return Trace(
        fleet, buf.frame(), res, str(p), _meta(resolution, "google2011", arrive_on)
    )


def _is_task_file(path: Path) -> bool:
    return path.parent.name == "task_events" or path.name.startswith("task_events")


def _empty_machines() -> pd.DataFrame:
    return pd.DataFrame(
        {c: np.zeros(0, np.int64) for c in ("time", "id", "type", "cpu", "memory")}
    )


def _rows(index: pd.Index, machine: np.ndarray) -> np.ndarray:
    """Trace machine ids -> fleet rows; 0 / -1 (none, dedicated) and unknown -> -1."""
    rows = index.get_indexer(machine).astype(np.int64)
    rows[machine <= 0] = -1
    return rows


def _check_mode(arrive_on: str) -> None:
    if arrive_on not in ("schedule", "submit"):
        raise InvalidProblem(
            f"arrive_on must be 'schedule' or 'submit', not {arrive_on!r}"
        )


# --- 2019 -------------------------------------------------------------------------

_INSTANCE_FIELDS = {
    "time": I64,
    "type": I64,
    "collection_id": I64,
    "instance_index": I64,
    "machine_id": I64,
    "priority": I64,
    "alloc_collection_id": I64,
}
_MACHINE_FIELDS = {
    "time": I64,
    "machine_id": I64,
    "type": I64,
    "switch_id": DICT,
    "platform_id": DICT,
}
_RESOURCE = pa.struct([("cpus", F64), ("memory", F64)])


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _first_record(path: Path) -> dict[str, Any]:
    with _open(path) as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    raise InvalidProblem(
                        f"{path}: line {number}: malformed JSON"
                    ) from None
                if not isinstance(rec, dict):
                    raise InvalidProblem(f"{path}: line {number}: not a JSON object")
                return rec
    return {}


def _schema(
    first: dict[str, Any], fields: dict[str, pa.DataType], nested: str
) -> pa.Schema:
    """Arrow schema for the fields we use; quoted integers are read as strings."""
    out = [
        (name, STR if isinstance(first.get(name), str) or kind != I64 else kind)
        for name, kind in fields.items()
    ]
    out.append((nested, _RESOURCE))
    return pa.schema(out)


def _json_batches(
    path: Path,
    fields: dict[str, pa.DataType],
    nested: str,
    required: tuple[str, ...],
    block_size: int = 1 << 20,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    first = _first_record(path)
    if not first:
        return
    missing = [f for f in required if f not in first]
    if missing:
        raise InvalidProblem(f"{path}: line 1, field {missing[0]!r}: missing")
    schema = _schema(first, fields, nested)
    line = 1
    try:
        reader = pajson.open_json(
            pa.input_stream(str(path), compression="detect"),
            read_options=pajson.ReadOptions(block_size=block_size),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema,
                unexpected_field_behavior="ignore",
                newlines_in_values=False,
            ),
        )
        for batch in reader:
            out: dict[str, np.ndarray] = {}
            for name, kind in fields.items():
                col = batch.column(name)
                if kind == I64:
                    col = pc.cast(col, I64) if col.type == STR else col
                    out[name] = col.to_numpy(zero_copy_only=False)
                    if col.null_count:
                        out[name] = pc.fill_null(col, -1).to_numpy(zero_copy_only=False)
                        if name in required:
                            bad = int(
                                np.flatnonzero(
                                    col.is_null().to_numpy(zero_copy_only=False)
                                )[0]
                            )
                            raise InvalidProblem(
                                f"{path}: line {line + bad}, field {name!r}: "
                                "missing value"
                            )
                else:
                    out[name] = column_values(pc.dictionary_encode(col))
            res = batch.column(nested)
            for sub in ("cpus", "memory"):
                out[sub] = pc.struct_field(res, sub).to_numpy(zero_copy_only=False)
            yield line, out
            line += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise _locate_json(path, fields, exc) from None


def _locate_json(
    path: Path, fields: dict[str, pa.DataType], exc: Exception
) -> InvalidProblem:
    with _open(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                return InvalidProblem(f"{path}: line {number}: malformed JSON")
            for name, kind in fields.items():
                value = rec.get(name)
                if value is None or kind != I64:
                    continue
                try:
                    int(value)
                except (TypeError, ValueError):
                    return InvalidProblem(
                        f"{path}: line {number}, field {name!r}: {value!r} "
                        "is not an integer"
                    )
    return InvalidProblem(f"{path}: unreadable JSON lines ({exc})")


def _json_files(root: Path, table: str) -> list[Path]:
    return sorted(
        p for p in root.glob(f"{table}*") if p.name.endswith((".json", ".json.gz"))
    )


def sniff_2019(path: str | Path) -> bool:
    """True for a 2019 export folder or one of its ``*.json[.gz]`` files."""
    p = Path(path)
    if p.is_dir():
        return bool(
            _json_files(p, "instance_events") or _json_files(p, "machine_events")
        )
    if not p.name.endswith((".json", ".json.gz")) or not p.is_file():
        return False
    try:
        first = _first_record(p)
    except (InvalidProblem, OSError, UnicodeDecodeError):
        return False
    return {"collection_id", "instance_index"} <= set(first) or (
        {"machine_id", "capacity"} <= set(first)
    )


def read_google2019_trace(
    path: str | Path,
    *,
    resolution: int = 10000,
    arrive_on: str = "schedule",
    inside_allocs: bool = False,
    block_size: int = 1 << 20,
) -> Trace:
    """Read 2019 JSON-lines exports (a folder, or an instance-events file beside)."""
    _check_mode(arrive_on)
    p = Path(path)
    root = p if p.is_dir() else p.parent
    res = _resources(resolution)
    buf = EventBuffer(res, ("priority",))
    frames = []
    for part in _json_files(root, "machine_events"):
        for line, b in _json_batches(
            part,
            _MACHINE_FIELDS,
            "capacity",
            ("time", "machine_id", "type"),
            block_size,
        ):
            frames.append(
                pd.DataFrame(
                    {
                        "time": b["time"],
                        "id": b["machine_id"],
                        "type": b["type"],
                        "switch": b["switch_id"],
                        "platform": b["platform_id"],
                        "cpu": scaled(
                            part, line, b["cpus"], "capacity.cpus", resolution
                        ),
                        "memory": scaled(
                            part, line, b["memory"], "capacity.memory", resolution
                        ),
                    }
                )
            )
    df = pd.concat(frames, ignore_index=True) if frames else _empty_machines()
    fleet, index = _machine_events(
        buf, df, 1, 2, 3, {"switch": "switch", "platform": "platform"}, str(root)
    )
    parts = (
        [p]
        if p.is_file() and not p.name.startswith("machine_events")
        else _json_files(root, "instance_events")
    )
    for part in parts:
        for line, b in _json_batches(
            part,
            _INSTANCE_FIELDS,
            "resource_request",
            ("time", "type", "collection_id", "instance_index"),
            block_size,
        ):
            key = _keys(
                part, line, b["collection_id"], b["instance_index"], "instance_index"
            )
            check_amounts(part, line, b["time"], "time")
            amounts = np.column_stack(
                [
                    scaled(part, line, b["cpus"], "resource_request.cpus", resolution),
                    scaled(
                        part, line, b["memory"], "resource_request.memory", resolution
                    ),
                ]
            )
            keep = b["alloc_collection_id"] <= 0
            if not inside_allocs and not keep.all():
                b = {k: v[keep] for k, v in b.items()}
                key, amounts = key[keep], amounts[keep]
            _task_events(
                buf,
                2019,
                arrive_on,
                time=b["time"],
                etype=b["type"],
                key=key,
                machine=_rows(index, b["machine_id"]),
                amounts=amounts,
                priority=np.maximum(b["priority"], 0),
            )
    return Trace(
        fleet, buf.frame(), res, str(p), _meta(resolution, "google2019", arrive_on)
    )


def read_google2011(
    path: str | Path, *, at: int | None = None, **options: Any
) -> Problem:
    """The 2011 trace as a Problem: every task, or the tasks alive at ``at`` (us)."""
    trace = read_google2011_trace(path, **options)
    return trace.to_problem() if at is None else trace.snapshot(at)


def read_google2019(
    path: str | Path, *, at: int | None = None, **options: Any
) -> Problem:
    """The 2019 trace as a Problem: every instance, or those alive at ``at`` (us)."""
    trace = read_google2019_trace(path, **options)
    return trace.to_problem() if at is None else trace.snapshot(at)
