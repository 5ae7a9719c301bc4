"""Alibaba cluster-trace-v2018: machine_meta, container_meta, batch task and instance.

Headerless CSV files in the column order of the trace's ``schema.txt``; each may be
gzipped (``.csv.gz``). Resources: ``cpu`` in millicores (``cpu_num`` cores x 1000; a
request of 100 = 1 core = 1000 millicores) and ``memory`` as the trace's normalised
[0, 100] size times ``memory_resolution`` (default 100, so 10000 = the largest machine),
recorded in ``metadata["scaling"]``.

- ``machine_meta`` (required): the fleet (labels ``failure_domain_1``,
  ``failure_domain_2``) and machine events: first row -> ``machine_add``; status
  leaving ``USING`` -> ``machine_fail``, returning to it -> ``machine_repair``; a
  capacity change -> machine ``update``. Any status other than ``USING`` counts as down.
- ``container_meta`` (optional): long-running containers, service = ``app_du``. First
  row -> ``arrive`` on its machine; a new request or machine -> ``update``; a status in
  :data:`STOPPED` -> ``depart``.
- ``batch_task`` (optional): each task is a service ``job_name/task_name`` scaled to
  ``instance_num`` replicas at ``start_time`` and to 0 at ``end_time``, with requests
  ``plan_cpu`` / ``plan_mem`` (empty = 0). Not used for events when ``batch_instance``
  is read too.
- ``batch_instance`` (optional): each row -> ``arrive`` at ``start_time`` on its machine
  and ``depart`` at ``end_time`` (none when 0 or earlier than the start). Requests are
  the task's plan when ``batch_task`` is read too, else the observed ``cpu_max`` /
  ``mem_max``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
    SCALE,
    STR,
    UPDATE,
    EventBuffer,
    Trace,
    check_amounts,
    csv_batches,
    global_codes,
    open_text,
    scaled,
)

SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "machine_meta": {
        "machine_id": DICT,
        "time_stamp": I64,
        "failure_domain_1": DICT,
        "failure_domain_2": DICT,
        "cpu_num": I64,
        "mem_size": F64,
        "status": DICT,
    },
    "container_meta": {
        "container_id": DICT,
        "machine_id": DICT,
        "time_stamp": I64,
        "app_du": DICT,
        "status": DICT,
        "cpu_request": F64,
        "cpu_limit": F64,
        "mem_size": F64,
    },
    "batch_task": {
        "task_name": DICT,
        "instance_num": F64,
        "job_name": DICT,
        "task_type": DICT,
        "status": DICT,
        "start_time": F64,
        "end_time": F64,
        "plan_cpu": F64,
        "plan_mem": F64,
    },
    "batch_instance": {
        "instance_name": STR,
        "task_name": DICT,
        "job_name": DICT,
        "task_type": DICT,
        "status": DICT,
        "start_time": F64,
        "end_time": F64,
        "machine_id": DICT,
        "seq_no": F64,
        "total_seq_no": F64,
        "cpu_avg": F64,
        "cpu_max": F64,
        "mem_avg": F64,
        "mem_max": F64,
    },
}
#: The columns each table's reader uses: only these are parsed (and checked).
USED: dict[str, tuple[str, ...]] = {
    "machine_meta": tuple(SCHEMAS["machine_meta"]),
    "container_meta": (
        "container_id",
        "machine_id",
        "time_stamp",
        "app_du",
        "status",
        "cpu_request",
        "mem_size",
    ),
    "batch_task": (
        "task_name",
        "instance_num",
        "job_name",
        "start_time",
        "end_time",
        "plan_cpu",
        "plan_mem",
    ),
    "batch_instance": (
        "task_name",
        "job_name",
        "start_time",
        "end_time",
        "machine_id",
        "cpu_max",
        "mem_max",
    ),
}
#: container_meta statuses that end a container (compared in lower case).
STOPPED = frozenset({"stopped", "dead", "deleted", "failed", "killed", "terminated"})
CPU_PER_REQUEST_UNIT = 10  # 100 = 1 core = 1000 millicores


def _resources(memory_resolution: int) -> Resources:
    return Resources(
        ("cpu", "memory"), ("millicore", f"normalised/{memory_resolution}")
    )


def table_of(path: str | Path) -> str | None:
    """Which 2018 table a file holds, judged by its name (``machine_meta.csv`` ...)."""
    name = Path(path).name
    for table in SCHEMAS:
        if name.startswith(table) and (
            name.endswith(".csv") or name.endswith(".csv.gz")
        ):
            return table
    return None


def sniff(path: str | Path) -> bool:
    """True for a 2018 table file or a folder holding ``machine_meta.csv``."""
    p = Path(path)
    if p.is_dir():
        return _find(p, "machine_meta") is not None
    return p.is_file() and table_of(p) is not None


def _find(folder: Path, table: str) -> Path | None:
    for suffix in (".csv", ".csv.gz"):
        if (folder / f"{table}{suffix}").is_file():
            return folder / f"{table}{suffix}"
    return None


def _column_count(path: Path, table: str) -> None:
    """Files have no header: a first line with another field count is not this table."""
    schema = SCHEMAS[table]
    with open_text(path) as fh:
        first = fh.readline()
    if first.strip() and first.count(",") + 1 != len(schema):
        raise InvalidProblem(
            f"{path}: line 1: malformed line, {first.count(',') + 1} fields where "
            f"{len(schema)} are expected ({', '.join(schema)})"
        )


def _table(path: Path, table: str):
    _column_count(path, table)
    schema = SCHEMAS[table]
    used = {c: schema[c] for c in USED[table]}
    yield from csv_batches(path, used, names=list(schema))


def read_alibaba2018_trace(
    path: str | Path,
    *,
    container_meta: str | Path | None = None,
    batch_task: str | Path | None = None,
    batch_instance: str | Path | None = None,
    memory_resolution: int = 100,
) -> Trace:
    """Read the 2018 trace from a folder or a ``machine_meta`` file into a Trace.

    Tables not passed explicitly are taken from the folder when present under their
    standard names (``container_meta.csv`` ...).
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    meta = _find(p, "machine_meta") if p.is_dir() else p
    if meta is None or table_of(meta) != "machine_meta":
        raise InvalidProblem(f"{p}: the 2018 trace needs its machine_meta.csv table")
    res = _resources(memory_resolution)
    others = {
        "container_meta": container_meta,
        "batch_task": batch_task,
        "batch_instance": batch_instance,
    }
    paths = {
        k: Path(v) if v is not None else _find(folder, k) for k, v in others.items()
    }
    optional = ("service", "replicas") if paths["batch_task"] else ("service",)
    events = EventBuffer(res, optional)
    fleet = _machines(meta, events, memory_resolution)
    index = pd.Index(fleet.ids)
    next_key = 0
    if paths["container_meta"] is not None:
        next_key = _containers(
            paths["container_meta"], index, events, memory_resolution
        )
    plans = None
    if paths["batch_task"] is not None:
        plans = _tasks(
            paths["batch_task"],
            events,
            memory_resolution,
            scale=paths["batch_instance"] is None,
        )
    if paths["batch_instance"] is not None:
        _instances(
            paths["batch_instance"], index, events, memory_resolution, plans, next_key
        )
    used = {k: str(v) for k, v in paths.items() if v is not None}
    return Trace(
        fleet,
        events.frame(),
        res,
        str(p),
        {
            "time_unit": "s",
            "format": "alibaba2018",
            "tables": {"machine_meta": str(meta), **used},
            "scaling": {
                "memory": {"policy": "resolution", "resolution": memory_resolution}
            },
        },
    )


def _machines(path: Path, buf: EventBuffer, resolution: int) -> Machines:
    parts = []
    for line, b in _table(path, "machine_meta"):
        check_amounts(path, line, b["cpu_num"], "cpu_num")
        mem = scaled(path, line, b["mem_size"], "mem_size", resolution)
        parts.append(
            pd.DataFrame(
                {
                    "line": np.arange(line, line + len(mem)),
                    "id": _objects(b["machine_id"]),
                    "time": b["time_stamp"],
                    "fd1": _objects(b["failure_domain_1"]),
                    "fd2": _objects(b["failure_domain_2"]),
                    "cpu": b["cpu_num"] * 1000,
                    "memory": mem,
                    "status": _objects(b["status"]),
                }
            )
        )
    df = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=["line", "id", "time", "fd1", "fd2", "cpu", "memory", "status"]
        )
    )
    missing = df["id"].isna().to_numpy()
    if missing.any():
        line = int(df["line"].to_numpy()[missing][0])
        raise InvalidProblem(f"{path}: line {line}, field 'machine_id': missing value")
    codes, ids = pd.factorize(df["id"])
    df["m"] = codes
    df = df.sort_values(["m", "time"], kind="stable")
    first = ~df["m"].duplicated()
    heads = df[first.to_numpy()]
    up = (df["status"].fillna("").str.upper() == "USING").to_numpy()
    prev_up = np.roll(up, 1)
    prev_cap = np.roll(df[["cpu", "memory"]].to_numpy(), 1, axis=0)
    cap = df[["cpu", "memory"]].to_numpy()
    isfirst = first.to_numpy()
    m = df["m"].to_numpy().astype(np.int64)
    t = df["time"].to_numpy()
    buf.add(t[isfirst], MACHINE_ADD, machine=m[isfirst], amounts=cap[isfirst])
    down_first = isfirst & ~up
    buf.add(t[down_first], MACHINE_FAIL, machine=m[down_first])
    later = ~isfirst
    changed = later & (cap != prev_cap).any(axis=1)
    buf.add(t[changed], UPDATE, machine=m[changed], amounts=cap[changed])
    fail = later & prev_up & ~up
    repair = later & ~prev_up & up
    buf.add(t[fail], MACHINE_FAIL, machine=m[fail])
    buf.add(t[repair], MACHINE_REPAIR, machine=m[repair])

    def label(col: pd.Series) -> list:
        return [None if not isinstance(v, str) or v == "" else v for v in col]

    return Machines(
        heads[["cpu", "memory"]].to_numpy(np.int64),
        buf.resources,
        ids=np.array([str(i) for i in ids], dtype=object),
        labels={
            "failure_domain_1": label(heads["fd1"]),
            "failure_domain_2": label(heads["fd2"]),
        },
        source=str(path),
    )


def _machine_rows(index: pd.Index, ids: pd.Categorical) -> np.ndarray:
    """Machine ids -> fleet rows (-1 when missing or unknown), looked up once per id."""
    rows = np.append(index.get_indexer(ids.categories).astype(np.int64), -1)
    return rows[ids.codes]


def _service(job: pd.Categorical, task: pd.Categorical) -> pd.Categorical:
    """``job_name/task_name`` per row, built once per distinct pair."""
    width = len(task.categories) + 1
    pair = job.codes.astype(np.int64) * width + task.codes + 1
    uniq, inverse = np.unique(pair, return_inverse=True)
    jobs = np.append(job.categories.to_numpy(dtype=object), "")
    tasks = np.append(task.categories.to_numpy(dtype=object), "")
    names = [f"{jobs[u // width]}/{tasks[u % width - 1]}" for u in uniq.tolist()]
    codes, cats = pd.factorize(np.array(names, dtype=object))
    return pd.Categorical.from_codes(
        codes[inverse], categories=pd.Index(cats, dtype=object)
    )


def _objects(values: pd.Categorical) -> np.ndarray:
    """A string column as an object array, None where the file had no value."""
    return np.append(values.categories.to_numpy(dtype=object), None)[values.codes]


def _containers(
    path: Path, index: pd.Index, events: EventBuffer, resolution: int
) -> int:
    ids: dict[str, int] = {}
    apps: dict[str, int] = {}
    cols: dict[str, list[np.ndarray]] = {
        c: [] for c in ("key", "machine", "time", "app", "stop", "cpu", "memory")
    }
    for line, b in _table(path, "container_meta"):
        check_amounts(path, line, b["cpu_request"], "cpu_request")
        key = global_codes(ids, b["container_id"])
        if (key < 0).any():
            bad = int(np.flatnonzero(key < 0)[0])
            raise InvalidProblem(
                f"{path}: line {line + bad}, field 'container_id': missing value"
            )
        status = b["status"]
        stopped = np.append(status.categories.str.lower().isin(STOPPED), False)
        cols["key"].append(key)
        cols["machine"].append(_machine_rows(index, b["machine_id"]))
        cols["time"].append(b["time_stamp"])
        cols["app"].append(global_codes(apps, b["app_du"]))
        cols["stop"].append(stopped[status.codes])
        cols["cpu"].append(_cpu(path, line, b["cpu_request"], "cpu_request"))
        cols["memory"].append(scaled(path, line, b["mem_size"], "mem_size", resolution))
    if not cols["key"]:
        return 0
    key = np.concatenate(cols.pop("key")).astype(np.int64)
    time = np.concatenate(cols.pop("time")).astype(np.int64)
    order = np.lexsort((time, key))
    key, t = key[order], time[order]
    mach = np.concatenate(cols.pop("machine"))[order]
    stop = np.concatenate(cols.pop("stop"))[order]
    app = np.concatenate(cols.pop("app"))[order]
    amounts = np.column_stack(
        [np.concatenate(cols.pop(c))[order] for c in ("cpu", "memory")]
    )
    first = np.r_[True, key[1:] != key[:-1]]
    alive_before = ~first & ~np.roll(stop, 1)
    arrive = ~stop & ~alive_before
    changed = (
        ~stop
        & alive_before
        & (
            (amounts != np.roll(amounts, 1, axis=0)).any(axis=1)
            | (mach != np.roll(mach, 1))
        )
    )
    depart = stop & alive_before
    names = pd.Index(list(apps), dtype=object)
    service = pd.Categorical.from_codes(app, categories=names)
    for mask, kind in ((arrive, ARRIVE), (changed, UPDATE), (depart, DEPART)):
        events.add(
            t[mask],
            kind,
            container=key[mask],
            machine=mach[mask],
            amounts=amounts[mask] if kind != DEPART else None,
            service=service[mask],
        )
    return int(key.max(initial=-1)) + 1


def _cpu(path: Path, line: int, values: np.ndarray, field: str) -> np.ndarray:
    return scaled(path, line, values, field, CPU_PER_REQUEST_UNIT)


def _tasks(
    path: Path, events: EventBuffer, resolution: int, *, scale: bool
) -> pd.DataFrame:
    plans = []
    for line, b in _table(path, "batch_task"):
        inst = b["instance_num"]
        check_amounts(path, line, inst, "instance_num", missing_ok=True)
        svc = _service(b["job_name"], b["task_name"])
        cpu = _cpu(path, line, b["plan_cpu"], "plan_cpu")
        mem = scaled(path, line, b["plan_mem"], "plan_mem", resolution)
        plans.append(
            pd.DataFrame({"service": _objects(svc), "cpu": cpu, "memory": mem})
        )
        if not scale:
            continue
        start, end = b["start_time"], b["end_time"]
        reps = np.nan_to_num(inst).astype(np.int64)
        ok = ~np.isnan(start) & (reps > 0)
        amounts = np.column_stack([cpu, mem])
        events.add(
            start[ok].astype(np.int64),
            SCALE,
            amounts=amounts[ok],
            service=svc[ok],
            replicas=reps[ok],
        )
        ends = ok & ~np.isnan(end) & (end > 0) & (end >= start)
        events.add(
            end[ends].astype(np.int64),
            SCALE,
            amounts=amounts[ends],
            service=svc[ends],
            replicas=0,
        )
    if not plans:
        return pd.DataFrame({"cpu": [], "memory": []})
    return (
        pd.concat(plans, ignore_index=True)
        .drop_duplicates("service", keep="last")
        .set_index("service")
    )


def _instances(
    path: Path,
    index: pd.Index,
    events: EventBuffer,
    resolution: int,
    plans: pd.DataFrame | None,
    first_key: int,
) -> None:
    key = first_key
    for line, b in _table(path, "batch_instance"):
        n = len(b["start_time"])
        service = _service(b["job_name"], b["task_name"])
        if plans is not None:
            rows = plans.index.get_indexer(service.categories)
            plan = plans[["cpu", "memory"]].to_numpy(np.int64)
            plan = np.vstack([plan, np.zeros((1, 2), np.int64)])
            amounts = plan[rows][service.codes]
        else:
            amounts = np.column_stack(
                [
                    _cpu(path, line, b["cpu_max"], "cpu_max"),
                    scaled(path, line, b["mem_max"], "mem_max", resolution),
                ]
            )
        start, end = b["start_time"], b["end_time"]
        check_amounts(path, line, start, "start_time", missing_ok=True)
        keys = np.arange(key, key + n, dtype=np.int64)
        key += n
        mach = _machine_rows(index, b["machine_id"])
        ok = ~np.isnan(start)
        events.add(
            start[ok].astype(np.int64),
            ARRIVE,
            container=keys[ok],
            machine=mach[ok],
            amounts=amounts[ok],
            service=service[ok],
        )
        ends = ok & ~np.isnan(end) & (end > 0) & (end >= start)
        events.add(
            end[ends].astype(np.int64),
            DEPART,
            container=keys[ends],
            machine=mach[ends],
            service=service[ends],
        )


def read_alibaba2018(path: str | Path, *, at: int | None = None, **options) -> Problem:
    """The 2018 trace as a Problem: every container, or those alive at ``at``."""
    trace = read_alibaba2018_trace(path, **options)
    return trace.to_problem() if at is None else trace.snapshot(at)
