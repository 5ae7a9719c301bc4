"""Alibaba GPU cluster trace v2023 ("openb"): node list and pod lists (CSV, header).

Node list ``sn,cpu_milli,memory_mib,gpu,model`` -> the fleet: cpu in millicores, memory
in MiB, ``gpu`` whole GPUs (``Machines.gpus``, and ``gpu`` capacity = 1000 milli-GPU
each), label ``gpu_model`` = ``model`` (None for CPU-only nodes).

Pod list ``name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,qos,pod_phase,
creation_time,deletion_time,scheduled_time]`` -> one container per pod, arriving at
``creation_time`` and departing at ``deletion_time``. The ``gpu`` request is
``num_gpu * 1000`` milli-GPU, or ``gpu_milli`` for a pod sharing one GPU
(``num_gpu == 1``). ``gpu_spec`` naming one model becomes ``node_selector
{"gpu_model": model}``; a list of several allowed models (``V100M16|V100M32``) is kept
as written in the ``gpu_spec`` column (and ``Problem.metadata["gpu_spec"]``) but not
enforced, as the model has no "one of" selector. Defaults for absent optional columns:
``gpu_spec`` empty (any GPU), ``qos`` empty, ``creation_time`` 0, ``deletion_time``
never (the pod stays to the end). ``pod_phase`` and ``scheduled_time`` are not used.
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
    EventBuffer,
    Trace,
    check_amounts,
    csv_batches,
    read_header,
)

RESOURCES = Resources(("cpu", "memory", "gpu"))
DEFAULT_NODES = "openb_node_list_gpu_node.csv"
NODE_COLUMNS = {
    "sn": pa.string(),
    "cpu_milli": pa.int64(),
    "memory_mib": pa.int64(),
    "gpu": pa.int64(),
    "model": DICT,
}
POD_COLUMNS = {
    "name": pa.string(),
    "cpu_milli": pa.int64(),
    "memory_mib": pa.int64(),
    "num_gpu": pa.int64(),
    "gpu_milli": pa.int64(),
    "gpu_spec": DICT,
    "qos": DICT,
    "creation_time": pa.float64(),
    "deletion_time": pa.float64(),
}
_POD_REQUIRED = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
_NODE_REQUIRED = ("sn", "cpu_milli", "memory_mib", "gpu")


def sniff(path: str | Path) -> bool:
    """True for an openb node list or pod list (judged by its header)."""
    p = Path(path)
    if p.suffix not in (".csv", ".gz") or not p.is_file():
        return False
    try:
        cols = read_header(p)
    except (InvalidProblem, UnicodeDecodeError, OSError):
        return False
    return set(_POD_REQUIRED) <= set(cols) or set(_NODE_REQUIRED) <= set(cols)


def read_nodes(path: str | Path) -> Machines:
    """The fleet of a node list: cpu (millicore), memory (MiB), gpu (milli-GPU)."""
    p = Path(path)
    parts = list(csv_batches(p, NODE_COLUMNS, required=_NODE_REQUIRED))
    cols = {
        c: np.concatenate([b[c] for _, b in parts]) if parts else np.zeros(0)
        for c in NODE_COLUMNS
        if not parts or c in parts[0][1]
    }
    for line, batch in parts:
        for c in ("cpu_milli", "memory_mib", "gpu"):
            check_amounts(p, line, batch[c], c)
    n = len(cols["sn"])
    model = cols.get("model", np.full(n, None, dtype=object))
    capacity = np.column_stack(
        [cols["cpu_milli"], cols["memory_mib"], cols["gpu"] * 1000]
    ).astype(np.int64)
    models = np.array(
        [m if isinstance(m, str) and m else None for m in model], dtype=object
    )
    _no_missing(p, parts, "sn")
    return Machines(
        capacity.reshape(n, 3),
        RESOURCES,
        ids=np.array([str(s) for s in cols["sn"]], dtype=object),
        labels={"gpu_model": models},
        gpus=cols["gpu"],
        source=str(p),
    )


def read_openb_trace(path: str | Path, *, nodes: str | Path | None = None) -> Trace:
    """Read a pod list (with its fleet) or a node list alone into a :class:`Trace`.

    A pod list takes the node list ``openb_node_list_gpu_node.csv`` beside it (the fleet
    the trace's paper used) unless ``nodes`` names another one.
    """
    p = Path(path)
    cols = read_header(p)
    if set(_NODE_REQUIRED) <= set(cols) and "name" not in cols:
        fleet = read_nodes(p)
        return Trace(
            fleet,
            EventBuffer(RESOURCES).frame(),
            RESOURCES,
            str(p),
            {"time_unit": "s", "format": "openb"},
        )
    node_path = Path(nodes) if nodes is not None else p.parent / DEFAULT_NODES
    if not node_path.is_file():
        raise InvalidProblem(
            f"{p}: no node list {node_path.name} beside the pod list; pass nodes=PATH"
        )
    fleet = read_nodes(node_path)
    max_gpus = int(fleet.gpus.max(initial=0))
    optional = ("num_gpu", "gpu_milli", "gpu_model", "gpu_spec", "qos")
    buf = EventBuffer(RESOURCES, optional)
    departures = EventBuffer(RESOURCES, optional)
    names: list[pd.Series] = []
    first = 0
    for line, b in csv_batches(p, POD_COLUMNS, required=_POD_REQUIRED):
        n = len(b["name"])
        _no_missing(p, [(line, b)], "name")
        for c in ("cpu_milli", "memory_mib", "num_gpu", "gpu_milli"):
            check_amounts(p, line, b[c], c)
        num_gpu, gpu_milli = b["num_gpu"], b["gpu_milli"]
        share = (num_gpu == 1) & (gpu_milli > 1000)
        if share.any():
            bad = int(np.flatnonzero(share)[0])
            raise InvalidProblem(
                f"{p}: line {line + bad}, field 'gpu_milli': {gpu_milli[bad]} is "
                "more than one GPU (1000) for a pod asking a single GPU"
            )
        too_many = num_gpu > max_gpus
        if too_many.any():
            bad = int(np.flatnonzero(too_many)[0])
            raise InvalidProblem(
                f"{p}: line {line + bad}, field 'num_gpu': {num_gpu[bad]} GPUs, "
                f"more than any node of {node_path.name} has ({max_gpus})"
            )
        gpu = np.where(num_gpu == 1, gpu_milli, num_gpu * 1000)
        amounts = np.column_stack([b["cpu_milli"], b["memory_mib"], gpu]).astype(
            np.int64
        )
        spec = b.get("gpu_spec")
        model = None if spec is None else _single_model(spec)
        qos = b.get("qos")
        created = _times(p, line, b.get("creation_time"), n, "creation_time", 0.0)
        deleted = _times(p, line, b.get("deletion_time"), n, "deletion_time", np.nan)
        early = deleted < created
        if early.any():
            bad = int(np.flatnonzero(early)[0])
            raise InvalidProblem(
                f"{p}: line {line + bad}, field 'deletion_time': {deleted[bad]:.0f} is "
                f"before creation_time {created[bad]:.0f}"
            )
        ids = np.arange(first, first + n, dtype=np.int64)
        extra = {
            "num_gpu": num_gpu,
            "gpu_milli": np.where(num_gpu == 1, gpu_milli, 0),
            "gpu_model": model,
            "gpu_spec": spec,
            "qos": qos,
        }
        buf.add(
            created.astype(np.int64), ARRIVE, container=ids, amounts=amounts, **extra
        )
        gone = ~np.isnan(deleted)
        departures.add(
            deleted[gone].astype(np.int64),
            DEPART,
            container=ids[gone],
            **{k: None if v is None else v[gone] for k, v in extra.items()},
        )
        names.append(pd.Series(b["name"], copy=False))
        first += n
    buf.extend(departures)
    return Trace(
        fleet,
        buf.frame(),
        RESOURCES,
        str(p),
        {
            "time_unit": "s",
            "format": "openb",
            "nodes": str(node_path),
            "container_names": (
                pd.concat(names, ignore_index=True).array
                if names
                else np.zeros(0, object)
            ),
        },
    )


def _single_model(spec: pd.Categorical) -> pd.Categorical:
    """``gpu_spec`` naming exactly one GPU model -> that model; a list -> missing."""
    several = np.append(spec.categories.str.contains("|", regex=False), True)
    codes = np.where(several[spec.codes], -1, spec.codes)
    return pd.Categorical.from_codes(codes, categories=spec.categories)


def _no_missing(path: Path, parts: list[tuple[int, dict]], field: str) -> None:
    """Refuse an empty value in a string column that names things (pods, nodes)."""
    for line, batch in parts:
        missing = np.asarray(pd.isna(batch[field]))
        if missing.any():
            bad = int(np.flatnonzero(missing)[0])
            raise InvalidProblem(
                f"{path}: line {line + bad}, field {field!r}: missing value"
            )


def _times(
    path: Path, line: int, values: np.ndarray | None, n: int, field: str, default: float
) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    vals = np.asarray(values, np.float64)
    if default == 0.0:
        vals = np.where(np.isnan(vals), 0.0, vals)
    check_amounts(path, line, vals, field, missing_ok=True)
    frac = ~np.isnan(vals) & (vals != np.rint(vals))
    if frac.any():
        bad = int(np.flatnonzero(frac)[0])
        raise InvalidProblem(
            f"{path}: line {line + bad}, field {field!r}: not whole seconds"
        )
    return vals


def read_openb(path: str | Path, *, nodes: str | Path | None = None) -> Problem:
    """A pod list as one placement instance: every pod on the fleet, time ignored.

    This is how the FGD paper replays the trace (pods submitted until the cluster is
    full). ``Problem.metadata["gpu_requests"]`` holds ``num_gpu`` and ``gpu_milli`` per
    container (int64) for GPU sharing. A node list alone gives a fleet with no
    containers.
    """
    return read_openb_trace(path, nodes=nodes).to_problem()
