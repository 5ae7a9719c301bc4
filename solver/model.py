"""The data model: Resources, Machines, Containers, Service and Problem.

Amounts are int64 in a declared unit, stored struct-of-arrays so kernels read them
without copying. Every constructor validates its input once and raises
:class:`InvalidProblem` naming the source, the row and the field; nothing downstream
re-checks.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .constraints import Affinity, AntiAffinity, Spread
from .errors import InvalidProblem
from .units import to_int64, unit_of

UP, CORDONED, DOWN = 0, 1, 2
STATES = ("up", "cordoned", "down")
_RESERVED_MACHINE_COLUMNS = {"machine", "state", "taints", "gpus"}
#: Fields a Service hands to each of its replicas, in Service order.
REPLICA_FIELDS = (
    "requests",
    "namespace",
    "priority",
    "labels",
    "node_selector",
    "tolerations",
    "anti_affinity",
    "spread",
    "affinity",
)
#: Scheduling fields of a container; every replica of a service shares them.
SCHEDULING_FIELDS = tuple(f for f in REPLICA_FIELDS if f not in ("requests", "labels"))
_RESERVED_CONTAINER_COLUMNS = {
    "container",
    "num_gpu",
    "gpu_milli",
    "service",
    *SCHEDULING_FIELDS,
    "current",
    "pinned",
}
LABEL_PREFIX = "label."


@dataclass(frozen=True)
class Resources:
    """Named resource dimensions and their units, e.g. ``cpu`` in millicores."""

    names: tuple[str, ...]
    units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        if not names:
            raise InvalidProblem("resources: at least one dimension is needed")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise InvalidProblem(f"resources: duplicate resource name {dup!r}")
        units = tuple(self.units) or tuple(unit_of(n) for n in names)
        if len(units) != len(names):
            raise InvalidProblem(
                f"resources: {len(names)} names but {len(units)} units were given"
            )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "units", units)

    @classmethod
    def default(cls, d: int) -> Resources:
        """Anonymous dimensions: ``size`` for one, ``r0 .. r{d-1}`` otherwise."""
        return cls(("size",) if d == 1 else tuple(f"r{k}" for k in range(d)))

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str, source: str = "resources") -> int:
        """Position of resource ``name``; unknown names list the known ones."""
        try:
            return self.names.index(name)
        except ValueError:
            raise InvalidProblem(
                f"{source}: unknown resource {name!r}; known resources: "
                f"{', '.join(self.names)}"
            ) from None


def _resources(
    resources: Resources | Sequence[str] | None, d: int, source: str
) -> Resources:
    if resources is None:
        return Resources.default(d)
    res = resources if isinstance(resources, Resources) else Resources(tuple(resources))
    if len(res) != d:
        raise InvalidProblem(
            f"{source}: {d} columns of amounts but {len(res)} resources "
            f"({', '.join(res.names)})"
        )
    return res


def _amounts(values: Any, resources: Resources | Sequence[str] | None, source: str):
    """Validate a 2-D amount table; returns (int64 array, Resources)."""
    arr = np.asarray(values)
    if arr.ndim == 1 and resources is not None and len(resources) == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidProblem(
            f"{source}: amounts must be a 2-D table (rows x resources), got shape "
            f"{arr.shape}"
        )
    res = _resources(resources, arr.shape[1], source)
    cols = [
        to_int64(arr[:, k], source=source, field=res.names[k])
        for k in range(arr.shape[1])
    ]
    out = np.ascontiguousarray(
        np.stack(cols, axis=1) if cols else np.zeros((arr.shape[0], 0), np.int64)
    )
    negative = np.argwhere(out < 0)
    if len(negative):
        row, k = negative[0]
        raise InvalidProblem(
            f"{source}: row {row}, field {res.names[k]!r}: negative amount "
            f"{out[row, k]}"
        )
    return out, res


def _ids(ids: Any, n: int, source: str, what: str) -> np.ndarray:
    if ids is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        arr = arr.astype(object)
    if arr.shape != (n,):
        raise InvalidProblem(f"{source}: {len(arr)} {what} ids for {n} rows")
    uniq, counts = np.unique(arr.astype(str), return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0]
        row = int(np.flatnonzero(arr.astype(str) == dup)[1])
        raise InvalidProblem(
            f"{source}: row {row}, field {what!r}: duplicate id {str(dup)!r}"
        )
    return arr


def _column(
    values: Any, n: int, source: str, field_name: str, default: Any
) -> np.ndarray:
    """A per-row object column; a scalar is broadcast, None means ``default``."""
    if values is None:
        values = default
    if isinstance(values, str | int | float) or values is None:
        out = np.empty(n, dtype=object)
        out[:] = [values] * n
        return out
    out = np.empty(n, dtype=object)
    seq = list(values)
    if len(seq) != n:
        raise InvalidProblem(
            f"{source}: field {field_name!r} has {len(seq)} rows, expected {n}"
        )
    out[:] = seq
    return out


def _optional(
    values: Any, n: int, source: str, field_name: str, kind: type | tuple
) -> np.ndarray | None:
    """An optional per-row constraint column (None = absent for every row)."""
    if values is None:
        return None
    if isinstance(values, kind):
        values = [values] * n
    seq = list(values)
    if len(seq) != n:
        raise InvalidProblem(
            f"{source}: field {field_name!r} has {len(seq)} rows, expected {n}"
        )
    for i, v in enumerate(seq):
        if v is not None and not isinstance(v, kind):
            raise InvalidProblem(
                f"{source}: row {i}, field {field_name!r}: {v!r} is not {kind}"
            )
    if all(v is None for v in seq):
        return None
    out = np.empty(n, dtype=object)
    out[:] = seq
    return out


def _labels(labels: Any, n: int, source: str) -> dict[str, np.ndarray]:
    """Labels as columns: key -> object array (None where a row lacks the key)."""
    if labels is None:
        return {}
    if isinstance(labels, Mapping):
        out = {}
        for key, col in labels.items():
            arr = _column(col, n, source, f"{LABEL_PREFIX}{key}", None)
            out[str(key)] = arr
        return out
    rows = list(labels)
    if len(rows) != n:
        raise InvalidProblem(f"{source}: {len(rows)} label rows, expected {n}")
    keys = sorted({k for r in rows if r for k in r})
    out = {}
    for key in keys:
        arr = np.empty(n, dtype=object)
        arr[:] = [None if not r else r.get(key) for r in rows]
        out[key] = arr
    return out


def _frozensets(values: Any, n: int, source: str, field_name: str) -> tuple | None:
    if values is None:
        return None
    rows = list(values)
    if len(rows) != n:
        raise InvalidProblem(
            f"{source}: field {field_name!r} has {len(rows)} rows, expected {n}"
        )
    out = []
    for v in rows:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
            out.append(frozenset())
        elif isinstance(v, str):
            out.append(frozenset(t.strip() for t in v.split(",") if t.strip()))
        else:
            out.append(frozenset(str(t) for t in v))
    if not any(out):
        return None
    return tuple(out)


class Machines:
    """A fleet: ``capacity[m, d]`` int64 plus labels, taints, state and GPU devices.

    Parameters
    ----------
    capacity : array-like, shape (m, d)
        Whole amounts per resource; negative, NaN or fractional values are refused.
    labels : mapping key -> sequence, or sequence of mappings, optional
        Topology and selector labels such as ``zone`` or ``rack``.
    taints : sequence of sets of strings, optional
        A container must tolerate every taint of a machine to use it.
    state : sequence of "up" / "cordoned" / "down" (or 0 / 1 / 2), optional
    gpus : sequence of int, optional
        GPU devices per machine, 1000 milli-GPU each, for GPU sharing.
    """

    def __init__(
        self,
        capacity: Any,
        resources: Resources | Sequence[str] | None = None,
        *,
        ids: Any = None,
        labels: Any = None,
        taints: Any = None,
        state: Any = None,
        gpus: Any = None,
        source: str = "machines",
    ) -> None:
        self.capacity, self.resources = _amounts(capacity, resources, source)
        m = self.capacity.shape[0]
        self.source = source
        self.ids = _ids(ids, m, source, "machine")
        self.labels = _labels(labels, m, source)
        self.taints = _frozensets(taints, m, source, "taints")
        self.state = _states(state, m, source)
        self.gpus = (
            np.zeros(m, np.int64)
            if gpus is None
            else to_int64(np.asarray(gpus).reshape(-1), source=source, field="gpus")
        )
        if self.gpus.shape != (m,) or (self.gpus < 0).any():
            raise InvalidProblem(
                f"{source}: field 'gpus' must be {m} non-negative counts"
            )

    def __len__(self) -> int:
        return self.capacity.shape[0]

    def __repr__(self) -> str:
        return f"Machines(m={len(self)}, resources={self.resources.names})"

    def taint_set(self, i: int) -> frozenset[str]:
        """Taints of machine ``i``."""
        return frozenset() if self.taints is None else self.taints[i]

    def label(self, key: str) -> np.ndarray:
        """Label ``key`` per machine (None where absent); ``machine`` gives indices."""
        if key == "machine":
            return np.arange(len(self), dtype=np.int64).astype(object)
        return self.labels.get(key, np.full(len(self), None, dtype=object))


def _states(state: Any, m: int, source: str) -> np.ndarray:
    if state is None:
        return np.zeros(m, np.int8)
    seq = list(state) if not isinstance(state, str) else [state] * m
    if len(seq) != m:
        raise InvalidProblem(
            f"{source}: field 'state' has {len(seq)} rows, expected {m}"
        )
    out = np.empty(m, np.int8)
    for i, s in enumerate(seq):
        if isinstance(s, str) and s in STATES:
            out[i] = STATES.index(s)
        elif isinstance(s, int | np.integer) and 0 <= int(s) < len(STATES):
            out[i] = int(s)
        else:
            raise InvalidProblem(
                f"{source}: row {i}, field 'state': {s!r} is not one of "
                f"{', '.join(STATES)}"
            )
    return out


def _gpu_requests(
    num_gpu: Any, gpu_milli: Any, n: int, source: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """GPU asks: whole devices (``num_gpu``) or a share of one device (``gpu_milli``).

    Both are None when no container asks for a device. A share is below 1000 milli-GPU
    and must fit on a single device; a container asks one kind or the other, not both.
    """
    if num_gpu is None and gpu_milli is None:
        return None, None
    cols = []
    for name, values in (("num_gpu", num_gpu), ("gpu_milli", gpu_milli)):
        arr = np.zeros(n, np.int64) if values is None else np.asarray(values)
        arr = to_int64(np.broadcast_to(arr, (n,)), source=source, field=name)
        negative = np.flatnonzero(arr < 0)
        if len(negative):
            i = negative[0]
            raise InvalidProblem(
                f"{source}: row {i}, field {name!r}: negative amount {arr[i]}"
            )
        cols.append(np.ascontiguousarray(arr))
    whole, share = cols
    big = np.flatnonzero(share >= 1000)
    if len(big):
        i = big[0]
        raise InvalidProblem(
            f"{source}: row {i}, field 'gpu_milli': {share[i]} is not a share of one "
            "GPU (below 1000); ask whole GPUs with 'num_gpu'"
        )
    both = np.flatnonzero((whole > 0) & (share > 0))
    if len(both):
        raise InvalidProblem(
            f"{source}: row {both[0]}, field 'gpu_milli': a container asks either "
            "whole "
            "GPUs (num_gpu) or a share of one GPU (gpu_milli), not both"
        )
    if not (whole.any() or share.any()):
        return None, None
    return whole, share


class Containers:
    """Containers: ``requests[n, d]`` int64 plus service, namespace and constraints.

    Constraint columns (``node_selector``, ``tolerations``, ``anti_affinity``,
    ``spread``, ``affinity``) are ``None`` when no container has one, so a million plain
    containers cost nothing beyond their request table.
    """

    def __init__(
        self,
        requests: Any,
        resources: Resources | Sequence[str] | None = None,
        *,
        ids: Any = None,
        service: Any = None,
        namespace: Any = None,
        priority: Any = None,
        labels: Any = None,
        node_selector: Any = None,
        tolerations: Any = None,
        anti_affinity: Any = None,
        spread: Any = None,
        affinity: Any = None,
        num_gpu: Any = None,
        gpu_milli: Any = None,
        source: str = "containers",
    ) -> None:
        self.requests, self.resources = _amounts(requests, resources, source)
        n = self.requests.shape[0]
        self.source = source
        self.ids = _ids(ids, n, source, "container")
        self.service = _column(service, n, source, "service", "")
        self.namespace = _column(namespace, n, source, "namespace", "default")
        self.priority = (
            np.zeros(n, np.int64)
            if priority is None
            else to_int64(
                np.broadcast_to(np.asarray(priority), (n,)),
                source=source,
                field="priority",
            )
        )
        self.labels = _labels(labels, n, source)
        self.node_selector = _optional(
            node_selector, n, source, "node_selector", Mapping
        )
        self.tolerations = _frozensets(tolerations, n, source, "tolerations")
        self.anti_affinity = _optional(
            anti_affinity, n, source, "anti_affinity", AntiAffinity
        )
        self.spread = _optional(spread, n, source, "spread", Spread)
        self.affinity = _optional(affinity, n, source, "affinity", Affinity)
        self.num_gpu, self.gpu_milli = _gpu_requests(num_gpu, gpu_milli, n, source)
        self._check_constraints()

    def _check_constraints(self) -> None:
        for name in ("anti_affinity", "spread"):
            col = getattr(self, name)
            if col is None:
                continue
            for i, c in enumerate(col):
                if c is None:
                    continue
                limit = c.max_per_domain if name == "anti_affinity" else c.max_skew
                if limit < 1:
                    raise InvalidProblem(
                        f"{self.source}: row {i}, field {name!r}: limit must be at "
                        "least 1"
                    )

    def __len__(self) -> int:
        return self.requests.shape[0]

    @property
    def asks_gpus(self) -> bool:
        """True when some container asks for whole GPU devices or a share of one."""
        return self.num_gpu is not None

    def __repr__(self) -> str:
        return f"Containers(n={len(self)}, resources={self.resources.names})"

    def tolerations_of(self, i: int) -> frozenset[str]:
        """Tolerations of container ``i``."""
        return frozenset() if self.tolerations is None else self.tolerations[i]

    @classmethod
    def from_services(
        cls, services: Iterable[Service], resources: Resources | Sequence[str]
    ) -> Containers:
        """One container per replica of each service, services in the given order."""
        res = (
            resources
            if isinstance(resources, Resources)
            else Resources(tuple(resources))
        )
        rows: dict[str, list] = {k: [] for k in ("ids", "service", *REPLICA_FIELDS)}
        for svc in services:
            vec = svc.request_vector(res)
            for r in range(svc.replicas):
                rows["requests"].append(vec)
                rows["ids"].append(f"{svc.name}-{r}")
                rows["service"].append(svc.name)
                rows["namespace"].append(svc.namespace)
                rows["priority"].append(svc.priority)
                rows["labels"].append(dict(svc.labels))
                rows["node_selector"].append(dict(svc.node_selector) or None)
                rows["tolerations"].append(frozenset(svc.tolerations))
                rows["anti_affinity"].append(svc.anti_affinity)
                rows["spread"].append(svc.spread)
                rows["affinity"].append(svc.affinity)
        requests = np.array(rows.pop("requests"), dtype=np.int64).reshape(-1, len(res))
        return cls(requests, res, source="services", **rows)


@dataclass(frozen=True)
class Service:
    """A named group of identical replicas: containers ``name-0 .. name-{r-1}``."""

    name: str
    replicas: int
    requests: Mapping[str, int] | Sequence[int]
    namespace: str = "default"
    priority: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: frozenset[str] = frozenset()
    anti_affinity: AntiAffinity | None = None
    spread: Spread | None = None
    affinity: Affinity | None = None
    #: Disruption budget: replicas that must stay available while a drain evicts.
    min_available: int | None = None

    def __post_init__(self) -> None:
        if self.replicas < 0:
            raise InvalidProblem(f"service {self.name!r}: replicas must be >= 0")
        if self.min_available is not None and self.min_available < 0:
            raise InvalidProblem(f"service {self.name!r}: min_available must be >= 0")

    def request_vector(self, resources: Resources) -> np.ndarray:
        """Requests as int64 in ``resources`` order; unnamed resources are 0."""
        source = f"service {self.name!r}"
        if isinstance(self.requests, Mapping):
            vec = np.zeros(len(resources), np.int64)
            for key, amount in self.requests.items():
                vec[resources.index(key, source)] = to_int64(
                    np.array([amount]), source=source, field=key
                )[0]
        else:
            vec, _ = _amounts(np.array([self.requests]), resources, source)
            vec = vec[0]
        if (vec < 0).any():
            k = int(np.flatnonzero(vec < 0)[0])
            raise InvalidProblem(
                f"{source}: field {resources.names[k]!r}: negative amount {vec[k]}"
            )
        return vec


class Problem:
    """Machines + containers (+ quotas, a current assignment, pinned containers).

    Build one from arrays (:meth:`from_arrays`), data frames (:meth:`from_frames`), a
    file (``solver.datasets.read``) or a model; every engine takes a Problem.
    """

    def __init__(
        self,
        machines: Machines,
        containers: Containers,
        *,
        quotas: Mapping[str, Mapping[str, int]] | None = None,
        current: Any = None,
        pinned: Any = None,
        name: str = "",
        best_known: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if machines.resources.names != containers.resources.names:
            raise InvalidProblem(
                f"{containers.source}: resources {containers.resources.names} differ "
                "from "
                f"the machines' {machines.resources.names}"
            )
        self.machines = machines
        self.containers = containers
        self.resources = machines.resources
        self.name = name
        self.best_known = best_known
        #: Format-specific extras a reader keeps (e.g. ROADEF costs); engines ignore it.
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.quotas = self._quotas(quotas)
        self.current = self._current(current)
        self.pinned = (
            None if pinned is None else np.asarray(pinned, dtype=bool).reshape(-1)
        )
        if self.pinned is not None:
            if self.pinned.shape != (self.n,):
                raise InvalidProblem(
                    f"{name or 'problem'}: 'pinned' needs {self.n} rows"
                )
            if self.current is None or (self.current[self.pinned] < 0).any():
                raise InvalidProblem(
                    f"{name or 'problem'}: a pinned container needs a current machine"
                )
        self._warn_unknown_selectors()

    def _quotas(
        self, quotas: Mapping[str, Mapping[str, int]] | None
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for ns, limits in (quotas or {}).items():
            source = f"quota of namespace {ns!r}"
            vec = np.full(self.d, np.iinfo(np.int64).max, np.int64)
            for key, amount in limits.items():
                value = to_int64(np.array([amount]), source=source, field=key)[0]
                if value < 0:
                    raise InvalidProblem(
                        f"{source}: field {key!r}: negative amount {value}"
                    )
                vec[self.resources.index(key, source)] = value
            out[str(ns)] = vec
        return out

    def _current(self, current: Any) -> np.ndarray | None:
        if current is None:
            return None
        cur = to_int64(
            np.asarray(current).reshape(-1),
            source="current assignment",
            field="machine",
        )
        if cur.shape != (self.n,):
            raise InvalidProblem(
                f"current assignment: {cur.shape[0]} rows for {self.n} containers"
            )
        bad = np.flatnonzero((cur < -1) | (cur >= self.m))
        if len(bad):
            raise InvalidProblem(
                f"current assignment: row {bad[0]}, field 'machine': {cur[bad[0]]} is "
                "not a "
                f"machine index (0..{self.m - 1}) or -1"
            )
        return cur

    def _warn_unknown_selectors(self) -> None:
        sel = self.containers.node_selector
        if sel is None:
            return
        for i, s in enumerate(sel):
            for key, value in (s or {}).items():
                col = self.machines.labels.get(key)
                if col is None or not (col == value).any():
                    warnings.warn(
                        f"{self.containers.source}: row {i}: node_selector "
                        f"{key}={value} "
                        "matches no machine; the container cannot be placed",
                        UserWarning,
                        stacklevel=3,
                    )
                    return

    @property
    def n(self) -> int:
        """Number of containers."""
        return len(self.containers)

    @property
    def m(self) -> int:
        """Number of machines."""
        return len(self.machines)

    @property
    def d(self) -> int:
        """Number of resource dimensions."""
        return len(self.resources)

    @property
    def capacity(self) -> np.ndarray:
        """int64, shape (m, d)."""
        return self.machines.capacity

    @property
    def requests(self) -> np.ndarray:
        """int64, shape (n, d)."""
        return self.containers.requests

    @property
    def has_constraints(self) -> bool:
        """True when any container carries a hard rule beyond capacity."""
        c = self.containers
        return (
            any(
                x is not None
                for x in (
                    c.node_selector,
                    c.anti_affinity,
                    c.spread,
                    c.affinity,
                )
            )
            or (self.machines.taints is not None)
            or c.asks_gpus
            or bool(self.quotas)
            or self.pinned is not None
        )

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Problem({label}n={self.n}, m={self.m}, resources={self.resources.names})"
        )

    @classmethod
    def from_arrays(
        cls,
        capacity: Any,
        requests: Any,
        resources: Resources | Sequence[str] | None = None,
        *,
        name: str = "",
    ) -> Problem:
        """Plain 2-D tables: ``capacity`` (m, d), ``requests`` (n, d), whole amounts."""
        cap = np.asarray(capacity)
        req = np.asarray(requests)
        if cap.ndim == 2 and req.ndim == 2 and cap.shape[1] != req.shape[1]:
            raise InvalidProblem(
                f"requests have {req.shape[1]} columns but capacity has {cap.shape[1]}"
            )
        machines = Machines(cap, resources, source="capacity")
        containers = Containers(req, machines.resources, source="requests")
        return cls(machines, containers, name=name)

    @classmethod
    def from_frames(
        cls,
        machines: pd.DataFrame,
        containers: pd.DataFrame,
        resources: Sequence[str] | None = None,
        *,
        name: str = "",
    ) -> Problem:
        """Build from two DataFrames as :meth:`to_frames` writes them.

        Resource columns are ``resources`` if given, else the machine columns that are
        neither reserved (``machine``, ``state``, ``taints``, ``gpus``) nor labels
        (``label.<key>``). Units come from ``machines.attrs["units"]`` when present.
        """
        if resources is None:
            resources = [
                c
                for c in machines.columns
                if c not in _RESERVED_MACHINE_COLUMNS
                and not str(c).startswith(LABEL_PREFIX)
            ]
        missing = [r for r in resources if r not in containers.columns]
        if missing:
            raise InvalidProblem(
                f"containers frame: missing resource column {missing[0]!r}"
            )
        units = tuple(machines.attrs.get("units", ())) or ()
        res = Resources(tuple(resources), units)

        def labels_of(df: pd.DataFrame) -> dict[str, np.ndarray]:
            return {
                c[len(LABEL_PREFIX) :]: _none_for_nan(df[c].to_numpy(dtype=object))
                for c in df.columns
                if str(c).startswith(LABEL_PREFIX)
            }

        def opt_array(df: pd.DataFrame, col: str) -> np.ndarray | None:
            return df[col].to_numpy() if col in df.columns else None

        def opt(df: pd.DataFrame, col: str) -> Any:
            return (
                None
                if col not in df.columns
                else list(_none_for_nan(df[col].to_numpy(object)))
            )

        mach = Machines(
            machines[list(resources)].to_numpy(),
            res,
            ids=machines["machine"].to_numpy() if "machine" in machines else None,
            labels=labels_of(machines),
            taints=opt(machines, "taints"),
            state=opt(machines, "state"),
            gpus=machines["gpus"].to_numpy() if "gpus" in machines else None,
            source="machines frame",
        )
        cont = Containers(
            containers[list(resources)].to_numpy(),
            res,
            ids=containers["container"].to_numpy()
            if "container" in containers
            else None,
            service=opt(containers, "service"),
            namespace=opt(containers, "namespace"),
            priority=containers["priority"].to_numpy()
            if "priority" in containers
            else None,
            labels=labels_of(containers),
            node_selector=opt(containers, "node_selector"),
            tolerations=opt(containers, "tolerations"),
            anti_affinity=opt(containers, "anti_affinity"),
            spread=opt(containers, "spread"),
            affinity=opt(containers, "affinity"),
            num_gpu=opt_array(containers, "num_gpu"),
            gpu_milli=opt_array(containers, "gpu_milli"),
            source="containers frame",
        )
        current = containers["current"].to_numpy() if "current" in containers else None
        pinned = containers["pinned"].to_numpy() if "pinned" in containers else None
        return cls(mach, cont, current=current, pinned=pinned, name=name)

    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Two DataFrames (machines, containers) that :meth:`from_frames` reads back."""
        mach = self.machines
        mdf = pd.DataFrame({"machine": mach.ids})
        for k, r in enumerate(self.resources.names):
            mdf[r] = mach.capacity[:, k]
        mdf["state"] = np.array(STATES, dtype=object)[mach.state]
        if mach.taints is not None:
            mdf["taints"] = pd.Series(list(mach.taints), dtype=object)
        if mach.gpus.any():
            mdf["gpus"] = mach.gpus
        for key, col in mach.labels.items():
            mdf[LABEL_PREFIX + key] = col
        mdf.attrs["units"] = list(self.resources.units)

        cont = self.containers
        cdf = pd.DataFrame(
            {
                "container": cont.ids,
                "service": cont.service,
                "namespace": cont.namespace,
                "priority": cont.priority,
            }
        )
        for k, r in enumerate(self.resources.names):
            cdf[r] = cont.requests[:, k]
        for col in ("node_selector", "anti_affinity", "spread", "affinity"):
            values = getattr(cont, col)
            if values is not None:
                cdf[col] = pd.Series(list(values), dtype=object)
        if cont.num_gpu is not None:
            cdf["num_gpu"] = cont.num_gpu
            cdf["gpu_milli"] = cont.gpu_milli
        if cont.tolerations is not None:
            cdf["tolerations"] = pd.Series(list(cont.tolerations), dtype=object)
        for key, col in cont.labels.items():
            cdf[LABEL_PREFIX + key] = col
        if self.current is not None:
            cdf["current"] = self.current
        if self.pinned is not None:
            cdf["pinned"] = self.pinned
        cdf.attrs["units"] = list(self.resources.units)
        return mdf, cdf


def _none_for_nan(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i, v in enumerate(out):
        if isinstance(v, float) and np.isnan(v):
            out[i] = None
    return out
