"""Cluster models (TOML): fleets, workloads and scenarios, and their seeded generators.

A model file holds machine types (``[[machines]]``, with labels such as zone and rack
generated per machine by ``patterns``), services (``[[services]]``, whose replicas,
requests and priorities may be drawn from distributions, optionally with ``churn``:
Poisson arrivals with lifetimes) and, in a scenario, timed ``[[events]]`` (machine
failures, repairs and additions, service scale and rolling updates).
:func:`generate_problem` turns a model into the Problem of its initial state and
:func:`generate_trace` into a :class:`~solver.datasets.events.Trace`; both are
deterministic for a seed, and every service or machine type draws from its own stream,
so adding one service leaves the others' draws unchanged. Container ids are row
numbers (the ``service`` column names the service), so a million containers cost no
Python strings. Field checks reuse the problem file's builder, so every error names
the file, the line and the field. The schema, with examples, is in ``models/README.md``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..errors import InvalidProblem
from ..model import STATES, Containers, Machines, Problem, Resources
from . import register_format
from .events import (
    ARRIVE,
    DEPART,
    MACHINE_ADD,
    MACHINE_FAIL,
    MACHINE_REPAIR,
    UPDATE,
    EventBuffer,
    Trace,
    gpu_asks,
)
from .problem_file import SERVICE_KEYS, Builder, Where, parse_toml

KINDS = ("model", "scenario")
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "uniform": ("min", "max"),
    "lognormal": ("median", "sigma", "min", "max"),
    "exponential": ("mean", "min", "max"),
    "choice": ("values", "weights"),
}
SCENARIO_EVENTS = ("machine_fail", "machine_repair", "machine_add", "scale", "update")
DEFAULT_HORIZON = 3600
_HUGE = 2**62
_TOP = (
    "kind",
    "name",
    "description",
    "resources",
    "horizon",
    "namespaces",
    "machines",
    "services",
    "events",
)
_MACHINE = (
    "name",
    "count",
    "capacity",
    "labels",
    "taints",
    "state",
    "gpus",
    "patterns",
)
_SERVICE_MODEL = (*SERVICE_KEYS, "gpu", "churn")
_DRAWN = ("replicas", "requests", "priority", "gpu", "churn")
_CHURN = ("rate", "lifetime", "start", "stop")
_PATTERN = ("cycle", "every", "prefix", "choice", "weights", "over")
_EVENT = {
    "machine_fail": ("machines", "count", "repair_after"),
    "machine_repair": ("machines",),
    "machine_add": tuple(k for k in _MACHINE if k != "state"),
    "scale": ("service", "replicas"),
    "update": ("service", "requests", "interval"),
}


@dataclass(frozen=True)
class Dist:
    """An integer distribution of a model, clipped to its declared ``[low, high]``."""

    kind: str
    low: int
    high: int
    scale: float = 0.0
    sigma: float = 0.0
    values: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws as int64 within ``[low, high]``."""
        if self.kind == "fixed":
            return np.full(size, self.low, np.int64)
        if self.kind == "uniform":
            return rng.integers(
                self.low, self.high, size, dtype=np.int64, endpoint=True
            )
        if self.kind == "choice":
            p = np.asarray(self.weights) / sum(self.weights) if self.weights else None
            return np.asarray(self.values, np.int64)[
                rng.choice(len(self.values), size, p=p)
            ]
        if self.kind == "lognormal":
            raw = self.scale * np.exp(self.sigma * rng.standard_normal(size))
        else:
            raw = rng.exponential(self.scale, size)
        return np.clip(np.rint(np.minimum(raw, _HUGE)), self.low, self.high).astype(
            np.int64
        )


@dataclass(frozen=True)
class _Pattern:
    """A label generated per machine from its index (or drawn from a list)."""

    cycle: tuple[str, ...] = ()
    every: int = 0
    prefix: str = ""
    choice: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    over: str = "fleet"

    def values(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Label values (object array) of the machines at ``index``."""
        if self.cycle:
            table = np.array(self.cycle, dtype=object)
            return table[index % len(table)]
        if self.every:
            blocks = np.unique(index // self.every, return_inverse=True)
            names = np.array([f"{self.prefix}{b}" for b in blocks[0]], dtype=object)
            return names[blocks[1]]
        p = np.asarray(self.weights) / sum(self.weights) if self.weights else None
        return np.array(self.choice, dtype=object)[
            rng.choice(len(self.choice), len(index), p=p)
        ]


@dataclass(frozen=True)
class _MachineType:
    name: str | None
    count: int
    capacity: np.ndarray
    labels: dict[str, str]
    taints: frozenset[str]
    state: str
    gpus: int
    patterns: dict[str, _Pattern]


@dataclass(frozen=True)
class _Churn:
    rate: float
    lifetime: Dist
    start: int
    stop: int


@dataclass(frozen=True)
class _Service:
    name: str
    replicas: Dist
    requests: dict[int, Dist]
    priority: Dist
    gpu: tuple[str, Dist] | None
    churn: _Churn | None
    common: dict[str, Any]


@dataclass(frozen=True)
class _Event:
    at: int
    kind: str
    where: Where
    spec: dict[str, Any]


@dataclass(frozen=True)
class Model:
    """A checked model: what :func:`load_model` returns and the generators take."""

    name: str
    kind: str
    description: str
    resources: Resources
    horizon: int
    quotas: dict[str, dict[str, int]]
    machines: tuple[_MachineType, ...]
    services: tuple[_Service, ...]
    events: tuple[_Event, ...]
    source: str
    fail: Callable[[Where, str], NoReturn] = field(repr=False, compare=False)


def load_model(model: str | Path | Mapping[str, Any]) -> Model:
    """Read and check a model file (TOML) or an already parsed dict.

    Raises
    ------
    InvalidProblem
        On unknown keys, wrong types, negative amounts, unknown distributions or a
        range with min > max; the message names the file, the line and the field.
    """
    if isinstance(model, Mapping):
        data: Any = model
        builder = Builder(Path(str(model.get("name", "model"))), "", "toml")
    else:
        path = Path(model)
        data, text = parse_toml(path)
        builder = Builder(path, text, "toml")
    return _Loader(builder).model(data)


def generate_problem(
    model: str | Path | Mapping[str, Any] | Model, seed: int = 0
) -> Problem:
    """The Problem of a model's initial state: its fleet and every service's replicas.

    Parameters
    ----------
    model : path, dict or Model
        A model file, its parsed contents, or what :func:`load_model` returned.
    seed : int
        Non-negative; the same seed always gives identical arrays.

    Returns
    -------
    Problem
        Container ids are row numbers, services in file order. With a ``gpu``
        resource, ``metadata["gpu_requests"]`` holds int64 ``num_gpu`` and
        ``gpu_milli`` per container (as the openb reader keeps them).
    """
    mod = model if isinstance(model, Model) else load_model(model)
    _check_seed(seed, mod)
    machines = _fleet(mod, mod.machines, seed)
    counts = [
        int(s.replicas.sample(_rng(seed, mod, s.name, "replicas"), 1)[0])
        for s in mod.services
    ]
    draws = [
        _draw(mod, s, c, _rng(seed, mod, s.name, "initial"))
        for s, c in zip(mod.services, counts, strict=True)
    ]
    d = len(mod.resources)
    requests = np.concatenate([r for r, *_ in draws]) if draws else np.zeros((0, d))
    priority = np.concatenate([p for _, p, *_ in draws]) if draws else np.zeros(0)
    gpu_requests = None
    whole = share = None
    if "gpu" in mod.resources.names:
        gpu_requests = {
            "num_gpu": _join([draw[2] for draw in draws]),
            "gpu_milli": _join([draw[3] for draw in draws]),
        }
        if machines.gpus.any():
            whole, share = gpu_asks(gpu_requests["num_gpu"], gpu_requests["gpu_milli"])
    containers = Containers(
        requests.astype(np.int64).reshape(-1, d),
        mod.resources,
        service=_repeat([s.name for s in mod.services], counts),
        priority=priority.astype(np.int64),
        num_gpu=whole,
        gpu_milli=share,
        source=mod.source,
        **_constraint_columns(mod.services, counts),
    )
    metadata: dict[str, Any] = {"format": "model", "model": mod.name, "seed": seed}
    if mod.description:
        metadata["description"] = mod.description
    if gpu_requests is not None:
        metadata["gpu_requests"] = gpu_requests
    return Problem(
        machines, containers, quotas=mod.quotas, name=mod.name, metadata=metadata
    )


def generate_trace(
    model: str | Path | Mapping[str, Any] | Model, seed: int = 0
) -> Trace:
    """The event stream of a model or scenario, in seconds from time 0.

    At time 0 every service's replicas arrive (the containers of
    :func:`generate_problem`, same keys and requests). Churning services add Poisson
    arrivals, each departing after its drawn lifetime (initial replicas of a churning
    service depart too). Scenario events follow: ``machine_fail`` / ``machine_repair``,
    ``machine_add`` (new fleet rows, down until added), ``scale`` (arrivals of new
    replicas, or departures of the newest ones) and ``update`` (one ``update`` event
    per replica, ``interval`` seconds apart, with redrawn requests). Initial machines
    that later fail get a ``machine_add`` at time 0, so they are up until then.
    ``metadata["services"]`` keeps each service's namespace, labels and constraints,
    which the event table has no columns for.
    """
    mod = model if isinstance(model, Model) else load_model(model)
    _check_seed(seed, mod)
    return _TraceBuilder(mod, seed).trace()


def read_model(path: Path) -> Problem:
    """The ``model`` reader format: a model file's initial state, with seed 0."""
    return generate_problem(path, seed=0)


def sniff_model(path: Path, head: str) -> bool:
    """A ``.toml`` file whose ``kind`` is ``model`` or ``scenario``."""
    return path.suffix.lower() == ".toml" and bool(
        re.search(r"^[ \t]*kind[ \t]*=[ \t]*[\"'](model|scenario)[\"']", head, re.M)
    )


# --- checking the parsed tree -------------------------------------------------------


class _Loader:
    """Turns a parsed model tree into a :class:`Model`, naming the line of any error."""

    def __init__(self, builder: Builder) -> None:
        self.b = builder

    def model(self, data: Any) -> Model:
        b = self.b
        data = b.table(data, (), _TOP)
        kind = b.string(b.require(data, "kind", ()), ("kind",))
        if kind not in KINDS:
            b.fail(("kind",), f"{kind!r} is not one of {', '.join(KINDS)}")
        resources = b.resources(b.require(data, "resources", ()))
        self.resources = resources
        horizon = b.integer(data.get("horizon", DEFAULT_HORIZON), ("horizon",), 1)
        machines = [
            self.machine_type(raw, ("machines", i), _MACHINE)
            for i, raw in enumerate(b.entries(data, "machines"))
        ]
        if not machines or not sum(t.count for t in machines):
            b.fail(("machines",), "at least one machine is needed")
        events = self.events(data, kind)
        added = [e.spec["type"] for e in events if e.kind == "machine_add"]
        max_gpus = max(t.gpus for t in (*machines, *added))
        services = [
            self.service(raw, ("services", i), horizon, max_gpus)
            for i, raw in enumerate(b.entries(data, "services"))
        ]
        self.cross_check(services, events)
        self.check_ids(machines, events)
        return Model(
            name=b.string(data.get("name", b.path.stem), ("name",)),
            kind=kind,
            description=b.string(data.get("description", ""), ("description",)),
            resources=resources,
            horizon=horizon,
            quotas=b.namespaces(data, resources),
            machines=tuple(machines),
            services=tuple(services),
            events=tuple(events),
            source=str(b.path),
            fail=b.fail,
        )

    def dist(self, value: Any, where: Where, minimum: int | None = 0) -> Dist:
        """A whole number (fixed) or a ``{dist = ..., ...}`` table."""
        b = self.b
        if not isinstance(value, Mapping):
            if isinstance(value, bool) or not isinstance(value, int | float):
                b.fail(
                    where,
                    "expected a whole number or a distribution table, got "
                    f"{type(value).__name__} {value!r}",
                )
            v = b.integer(value, where, minimum)
            return Dist("fixed", v, v)
        kind = b.string(b.require(value, "dist", where), (*where, "dist"))
        if kind not in DISTRIBUTIONS:
            b.fail(
                (*where, "dist"),
                f"unknown distribution {kind!r}; known distributions: "
                f"{', '.join(DISTRIBUTIONS)}",
            )
        spec = b.table(value, where, ("dist", *DISTRIBUTIONS[kind]))
        floor = 0 if minimum is None else minimum

        def whole(key: str, default: int | None = None) -> int:
            if key not in spec and default is not None:
                return default
            return b.integer(b.require(spec, key, where), (*where, key), minimum)

        if kind == "fixed":
            v = whole("value")
            return Dist(kind, v, v)
        if kind == "choice":
            values = self.items(b.require(spec, "values", where), (*where, "values"))
            ints = tuple(
                b.integer(v, (*where, "values", k), minimum)
                for k, v in enumerate(values)
            )
            weights = self.weights(spec, where, len(ints))
            return Dist(kind, min(ints), max(ints), values=ints, weights=weights)
        low = whole("min", None if kind == "uniform" else floor)
        high = whole("max", None if kind == "uniform" else _HUGE)
        if low > high:
            b.fail((*where, "min"), f"min {low} is greater than max {high}")
        if kind == "uniform":
            return Dist(kind, low, high)
        if kind == "exponential":
            return Dist(kind, low, high, scale=self.number(spec, "mean", where))
        return Dist(
            kind,
            low,
            high,
            scale=self.number(spec, "median", where),
            sigma=self.number(spec, "sigma", where, positive=False),
        )

    def number(
        self, spec: Mapping, key: str, where: Where, *, positive: bool = True
    ) -> float:
        value = self.b.require(spec, key, where)
        at = (*where, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.b.fail(at, f"expected a number, got {type(value).__name__} {value!r}")
        if not np.isfinite(value) or value < 0 or (positive and value == 0):
            self.b.fail(
                at, f"must be {'positive' if positive else '>= 0'}, got {value}"
            )
        return float(value)

    def items(self, value: Any, where: Where) -> list:
        if not isinstance(value, list) or not value:
            self.b.fail(where, "expected a non-empty list")
        return value

    def weights(self, spec: Mapping, where: Where, n: int) -> tuple[float, ...]:
        if "weights" not in spec:
            return ()
        at = (*where, "weights")
        raw = self.items(spec["weights"], at)
        weights = tuple(
            self.number(dict(enumerate(raw)), k, at, positive=False)
            for k in range(len(raw))
        )
        if len(weights) != n:
            self.b.fail(at, f"{len(weights)} weights for {n} values")
        if not sum(weights) > 0:
            self.b.fail(at, "the weights sum to 0")
        return weights

    def machine_type(
        self, raw: Any, where: Where, allowed: tuple[str, ...]
    ) -> _MachineType:
        b = self.b
        entry = b.table(raw, where, allowed)
        count = b.integer(entry.get("count", 1), (*where, "count"), minimum=0)
        name = entry.get("name")
        capacity = b.amounts(
            b.require(entry, "capacity", where), (*where, "capacity"), self.resources
        )
        gpus = b.integer(entry.get("gpus", 0), (*where, "gpus"), minimum=0)
        if gpus and "gpu" in self.resources.names:
            k = self.resources.names.index("gpu")
            if "gpu" not in entry["capacity"]:
                capacity[k] = gpus * 1000
            elif capacity[k] != gpus * 1000:
                b.fail(
                    (*where, "capacity", "gpu"),
                    f"{capacity[k]} milli-GPU differs from gpus = {gpus} (x 1000)",
                )
        state = b.string(entry.get("state", "up"), (*where, "state"))
        if state not in STATES:
            b.fail((*where, "state"), f"{state!r} is not one of {', '.join(STATES)}")
        labels = b.labels(entry.get("labels", {}), (*where, "labels"))
        patterns = self.patterns(entry.get("patterns", {}), (*where, "patterns"))
        clash = sorted(set(labels) & set(patterns))
        if clash:
            b.fail((*where, "patterns", clash[0]), "label also given in 'labels'")
        return _MachineType(
            name=None if name is None else b.string(name, (*where, "name")),
            count=count,
            capacity=capacity,
            labels=labels,
            taints=b.strings(entry.get("taints", []), (*where, "taints")),
            state=state,
            gpus=gpus,
            patterns=patterns,
        )

    def patterns(self, value: Any, where: Where) -> dict[str, _Pattern]:
        b = self.b
        if not isinstance(value, Mapping):
            b.fail(
                where, f"expected a table of label patterns, got {type(value).__name__}"
            )
        out = {}
        for key, raw in value.items():
            at = (*where, key)
            spec = b.table(raw, at, _PATTERN)
            ways = [k for k in ("cycle", "every", "choice") if k in spec]
            if len(ways) != 1:
                b.fail(at, "give exactly one of 'cycle', 'every' or 'choice'")
            over = b.string(spec.get("over", "fleet"), (*at, "over"))
            if over not in ("fleet", "type"):
                b.fail((*at, "over"), f"{over!r} is not one of fleet, type")
            for extra, way in (("prefix", "every"), ("weights", "choice")):
                if extra in spec and way not in spec:
                    b.fail((*at, extra), f"'{extra}' goes with '{way}'")
            if "every" in spec:
                out[str(key)] = _Pattern(
                    every=b.integer(spec["every"], (*at, "every"), 1),
                    prefix=b.string(spec.get("prefix", ""), (*at, "prefix")),
                    over=over,
                )
                continue
            way = ways[0]
            names = self.items(spec[way], (*at, way))
            strings = tuple(
                b.labels({str(k): v}, (*at, way))[str(k)] for k, v in enumerate(names)
            )
            if way == "cycle":
                out[str(key)] = _Pattern(cycle=strings, over=over)
            else:
                weights = self.weights(spec, at, len(strings))
                out[str(key)] = _Pattern(choice=strings, weights=weights, over=over)
        return out

    def requests(self, value: Any, where: Where) -> dict[int, Dist]:
        b = self.b
        if not isinstance(value, Mapping):
            b.fail(
                where,
                f"expected a table of amounts by resource, got {type(value).__name__}",
            )
        names = self.resources.names
        out = {}
        for key, raw in value.items():
            if key not in names:
                b.fail(
                    (*where, key),
                    f"unknown resource {key!r}; known resources: {', '.join(names)}",
                )
            if key == "gpu":
                b.fail(
                    (*where, key),
                    "ask GPUs with the service's 'gpu' table (num_gpu or gpu_milli)",
                )
            out[names.index(key)] = self.dist(raw, (*where, key))
        return out

    def service(self, raw: Any, where: Where, horizon: int, max_gpus: int) -> _Service:
        b = self.b
        entry = b.table(raw, where, _SERVICE_MODEL)
        name = b.string(b.require(entry, "name", where), (*where, "name"))
        rest = {k: v for k, v in entry.items() if k not in _DRAWN}
        common = b.common({**rest, "requests": {}}, where, self.resources)
        gpu = None
        if "gpu" in entry:
            at = (*where, "gpu")
            spec = b.table(entry["gpu"], at, ("num_gpu", "gpu_milli"))
            if len(spec) != 1:
                b.fail(at, "give exactly one of 'num_gpu' or 'gpu_milli'")
            if "gpu" not in self.resources.names:
                b.fail(at, "GPU requests need a 'gpu' resource")
            key = next(iter(spec))
            dist = self.dist(spec[key], (*at, key), 0 if key == "num_gpu" else 1)
            if key == "gpu_milli" and dist.high > 1000:
                b.fail(
                    (*at, key),
                    f"a GPU share is at most 1000 milli-GPU, got {dist.high}",
                )
            if key == "num_gpu" and dist.high != _HUGE and dist.high > max_gpus:
                b.fail(
                    (*at, key),
                    f"up to {dist.high} GPUs, more than any machine has ({max_gpus})",
                )
            gpu = (key, dist)
        churn = None
        if "churn" in entry:
            churn = self.churn(entry["churn"], (*where, "churn"), horizon)
        return _Service(
            name=name,
            replicas=self.dist(
                b.require(entry, "replicas", where), (*where, "replicas")
            ),
            requests=self.requests(
                b.require(entry, "requests", where), (*where, "requests")
            ),
            priority=self.dist(entry.get("priority", 0), (*where, "priority"), None),
            gpu=gpu,
            churn=churn,
            common=common,
        )

    def churn(self, raw: Any, where: Where, horizon: int) -> _Churn:
        b = self.b
        spec = b.table(raw, where, _CHURN)
        start = b.integer(spec.get("start", 0), (*where, "start"), 0)
        stop = b.integer(spec.get("stop", horizon), (*where, "stop"), 0)
        if start > stop:
            b.fail((*where, "start"), f"start {start} is after stop {stop}")
        return _Churn(
            rate=self.number(spec, "rate", where),
            lifetime=self.dist(
                b.require(spec, "lifetime", where), (*where, "lifetime"), 1
            ),
            start=start,
            stop=stop,
        )

    def events(self, data: Mapping, kind: str) -> list[_Event]:
        b = self.b
        out = []
        for i, raw in enumerate(b.entries(data, "events")):
            where: Where = ("events", i)
            if kind != "scenario":
                b.fail(where, 'events need kind = "scenario"')
            entry = b.table(
                raw, where, ("at", "kind", *sorted({*sum(_EVENT.values(), ())}))
            )
            what = b.string(b.require(entry, "kind", where), (*where, "kind"))
            if what not in SCENARIO_EVENTS:
                b.fail(
                    (*where, "kind"),
                    f"{what!r} is not one of {', '.join(SCENARIO_EVENTS)}",
                )
            b.table(entry, where, ("at", "kind", *_EVENT[what]))
            at = b.integer(b.require(entry, "at", where), (*where, "at"), 0)
            spec: dict[str, Any] = {}
            if what == "machine_add":
                body = {k: v for k, v in entry.items() if k not in ("at", "kind")}
                spec["type"] = self.machine_type(body, where, _EVENT[what])
            elif what in ("machine_fail", "machine_repair"):
                if what == "machine_fail" and ("machines" in entry) == (
                    "count" in entry
                ):
                    b.fail(where, "give either 'machines' (ids) or 'count'")
                if "count" in entry:
                    spec["count"] = b.integer(entry["count"], (*where, "count"), 1)
                else:
                    names = b.require(entry, "machines", where)
                    spec["machines"] = sorted(b.strings(names, (*where, "machines")))
                if "repair_after" in entry:
                    spec["repair_after"] = b.integer(
                        entry["repair_after"], (*where, "repair_after"), 1
                    )
            else:
                spec["service"] = b.string(
                    b.require(entry, "service", where), (*where, "service")
                )
                if what == "scale":
                    spec["replicas"] = b.integer(
                        b.require(entry, "replicas", where), (*where, "replicas"), 0
                    )
                else:
                    spec["requests"] = self.requests(
                        b.require(entry, "requests", where), (*where, "requests")
                    )
                    spec["interval"] = b.integer(
                        entry.get("interval", 0), (*where, "interval"), 0
                    )
            out.append(_Event(at, what, where, spec))
        return sorted(out, key=lambda e: e.at)

    def cross_check(self, services: list[_Service], events: list[_Event]) -> None:
        """Unique service names, known affinity targets and event services."""
        b = self.b
        names: set[str] = set()
        for i, s in enumerate(services):
            if s.name in names:
                b.fail(("services", i, "name"), f"duplicate service name {s.name!r}")
            names.add(s.name)
        for i, s in enumerate(services):
            aff = s.common["affinity"]
            if aff is not None and aff.service not in names:
                b.fail(
                    ("services", i, "affinity", "service"),
                    f"no service named {aff.service!r}",
                )
        by_name = {s.name: s for s in services}
        for e in events:
            target = e.spec.get("service")
            if target is None:
                continue
            if target not in by_name:
                b.fail((*e.where, "service"), f"no service named {target!r}")
            if by_name[target].churn is not None:
                b.fail(
                    (*e.where, "service"),
                    f"service {target!r} churns; scale and update need a fixed set",
                )

    def check_ids(self, machines: list[_MachineType], events: list[_Event]) -> None:
        """Machine ids are unique; events name machines present at their time."""
        adds = [e for e in events if e.kind == "machine_add"]
        types = [*machines, *(e.spec["type"] for e in adds)]
        wheres = [("machines", i) for i in range(len(machines))]
        wheres += [e.where for e in adds]
        since = [0] * len(machines) + [e.at for e in adds]
        owner = np.repeat(np.arange(len(types)), [t.count for t in types])
        rows: dict[str, int] = {}
        for row, name in enumerate(_machine_ids(types)):
            if name in rows:
                where = wheres[owner[row]]
                self.b.fail((*where, "name"), f"duplicate machine id {name!r}")
            rows[name] = row
        for e in events:
            for name in e.spec.get("machines", ()):
                if name not in rows or since[owner[rows[name]]] > e.at:
                    self.b.fail(
                        (*e.where, "machines"), f"no machine {name!r} at time {e.at}"
                    )


# --- generation -----------------------------------------------------------------------


def _check_seed(seed: int, mod: Model) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidProblem(
            f"{mod.source}: seed must be a non-negative integer, got {seed!r}"
        )


def _rng(seed: int, mod: Model, *parts: str | int) -> np.random.Generator:
    """The stream of one part of a model: seeded by ``seed`` and stable name hashes."""
    keys = [zlib.crc32(str(p).encode()) for p in (mod.name, *parts)]
    return np.random.default_rng([int(seed), *keys])


def _repeat(values: Sequence[Any], counts: Sequence[int]) -> np.ndarray:
    """``values[k]`` repeated ``counts[k]`` times, as an object array."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return np.repeat(arr, np.asarray(counts, np.int64))


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _draw(
    mod: Model, svc: _Service, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``count`` containers of ``svc``: requests (count, d), priority, GPU columns."""
    requests = np.zeros((count, len(mod.resources)), np.int64)
    for k, dist in svc.requests.items():
        requests[:, k] = dist.sample(rng, count)
    priority = svc.priority.sample(rng, count)
    num_gpu = np.zeros(count, np.int64)
    milli = np.zeros(count, np.int64)
    if svc.gpu is not None:
        key, dist = svc.gpu
        drawn = dist.sample(rng, count)
        if key == "num_gpu":
            num_gpu, milli = drawn, np.where(drawn == 1, 1000, 0)
            amount = drawn * 1000
        else:
            num_gpu, milli, amount = np.ones(count, np.int64), drawn, drawn
        requests[:, mod.resources.names.index("gpu")] = amount
    return requests, priority, num_gpu, milli


def _constraint_columns(
    services: Sequence[_Service], counts: Sequence[int]
) -> dict[str, Any]:
    """Per-container namespace, labels and constraint columns (None when unused)."""
    out: dict[str, Any] = {}
    for col in ("namespace", "node_selector", "anti_affinity", "spread", "affinity"):
        values = [s.common[col] for s in services]
        unused = "default" if col == "namespace" else None
        if any(v != unused for v in values):
            out[col] = _repeat(values, counts)
    tolerations = [s.common["tolerations"] for s in services]
    if any(tolerations):
        out["tolerations"] = _repeat(tolerations, counts)
    keys = sorted({k for s in services for k in s.common["labels"]})
    out["labels"] = {
        k: _repeat([s.common["labels"].get(k) for s in services], counts) for k in keys
    }
    return out


def _machine_ids(types: Sequence[_MachineType]) -> list[str]:
    """Ids as the problem file names them: ``name``, ``name-k``, or ``m<row>``."""
    ids: list[str] = []
    for t in types:
        if t.name is None:
            ids.extend(f"m{len(ids) + r}" for r in range(t.count))
        elif t.count == 1:
            ids.append(t.name)
        else:
            ids.extend(f"{t.name}-{r}" for r in range(t.count))
    return ids


def _fleet(mod: Model, types: Sequence[_MachineType], seed: int) -> Machines:
    """The machines of ``types`` in order; pattern labels use each machine's index."""
    counts = np.array([t.count for t in types], np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    m = int(counts.sum())
    labels: dict[str, np.ndarray] = {}
    for k, t in enumerate(types):
        rows = np.arange(starts[k], starts[k] + t.count)
        for key, value in t.labels.items():
            labels.setdefault(key, np.full(m, None, dtype=object))[rows] = value
        for key, pattern in t.patterns.items():
            index = rows if pattern.over == "fleet" else rows - starts[k]
            rng = _rng(seed, mod, "machines", k, key)
            labels.setdefault(key, np.full(m, None, dtype=object))[rows] = (
                pattern.values(index, rng)
            )
    taints = [t.taints for t in types]
    return Machines(
        np.repeat(np.array([t.capacity for t in types], np.int64), counts, axis=0),
        mod.resources,
        ids=np.array(_machine_ids(types), dtype=object),
        labels=labels,
        taints=list(_repeat(taints, counts)) if any(taints) else None,
        state=list(_repeat([t.state for t in types], counts)),
        gpus=np.repeat(np.array([t.gpus for t in types], np.int64), counts),
        source=mod.source,
    )


class _TraceBuilder:
    """Collects a model's events: machine events first, then container events."""

    def __init__(self, mod: Model, seed: int) -> None:
        self.mod = mod
        self.seed = seed
        self.fleet = _fleet(mod, _all_types(mod), seed)
        self.m0 = sum(t.count for t in mod.machines)
        self.gpu = "gpu" in mod.resources.names
        self.optional = (
            "service",
            "priority",
            *(("num_gpu", "gpu_milli") if self.gpu else ()),
        )
        self.buf = EventBuffer(mod.resources, self.optional)
        self.next_key = 0
        self.specs = {s.name: s for s in mod.services}
        self.replicas: dict[str, list[int]] = {}
        self.rows: dict[int, tuple[np.ndarray, int, int, int]] = {}
        self.departs: dict[int, int] = {}
        self.updates: list[tuple[int, int, np.ndarray, str]] = []
        self.machine_events: list[tuple[int, int, int]] = []

    def trace(self) -> Trace:
        mod = self.mod
        tracked = {e.spec["service"] for e in mod.events if "service" in e.spec}
        for s in mod.services:
            rng = _rng(self.seed, mod, s.name, "replicas")
            count = int(s.replicas.sample(rng, 1)[0])
            zero = np.zeros(count, np.int64)
            rng = _rng(self.seed, mod, s.name, "initial")
            keys = self.arrive(s, zero, rng, s.name in tracked)
            self.replicas[s.name] = keys.tolist()
            if s.churn is not None:
                self.depart(s, s.churn, keys, zero, "initial-lifetime")
        for s in mod.services:
            if s.churn is not None:
                self.churn(s, s.churn)
        for k, e in enumerate(mod.events):
            getattr(self, e.kind)(e, k)
        for at, key, amounts, name in self.updates:
            if at < self.departs.get(key, _HUGE):
                _, prio, num_gpu, milli = self.rows[key]
                self.buf.add(
                    np.array([at]),
                    UPDATE,
                    container=key,
                    amounts=amounts[None, :],
                    service=name,
                    priority=prio,
                    **self.gpu_columns(num_gpu, milli),
                )
        services = {
            s.name: {k: v for k, v in s.common.items() if k != "where"}
            for s in mod.services
        }
        return Trace(
            self.fleet,
            self.machine_buffer().frame(),
            mod.resources,
            source=mod.source,
            metadata={
                "format": "model",
                "model": mod.name,
                "seed": self.seed,
                "time_unit": "s",
                "horizon": mod.horizon,
                "services": services,
            },
        )

    def machine_buffer(self) -> EventBuffer:
        """Machine events (initial machines with events added at 0) before the rest."""
        out = EventBuffer(self.mod.resources, self.optional)
        cap = self.fleet.capacity
        touched = sorted({m for _, _, m in self.machine_events if m < self.m0})
        rows = np.array(touched, np.int64)
        out.add(
            np.zeros(len(rows), np.int64), MACHINE_ADD, machine=rows, amounts=cap[rows]
        )
        for at, kind, m in sorted(self.machine_events, key=lambda x: x[0]):
            amounts = cap[[m]] if kind == MACHINE_ADD else None
            out.add(np.array([at]), kind, machine=m, amounts=amounts)
        out.extend(self.buf)
        return out

    def gpu_columns(self, num_gpu: Any, milli: Any) -> dict[str, Any]:
        return {"num_gpu": num_gpu, "gpu_milli": milli} if self.gpu else {}

    def arrive(
        self, s: _Service, times: np.ndarray, rng: np.random.Generator, track: bool
    ) -> np.ndarray:
        """Arrivals of ``len(times)`` new containers of ``s``; returns their keys."""
        requests, priority, num_gpu, milli = _draw(self.mod, s, len(times), rng)
        keys = np.arange(self.next_key, self.next_key + len(times), dtype=np.int64)
        self.next_key += len(times)
        self.buf.add(
            times,
            ARRIVE,
            container=keys,
            amounts=requests,
            service=s.name,
            priority=priority,
            **self.gpu_columns(num_gpu, milli),
        )
        if track:
            for j, key in enumerate(keys.tolist()):
                self.rows[key] = (
                    requests[j],
                    int(priority[j]),
                    int(num_gpu[j]),
                    int(milli[j]),
                )
        return keys

    def depart(
        self, s: _Service, c: _Churn, keys: np.ndarray, start: np.ndarray, stream: str
    ) -> None:
        """Each container of ``keys`` leaves after a lifetime drawn from ``c``."""
        life = c.lifetime.sample(_rng(self.seed, self.mod, s.name, stream), len(keys))
        self.buf.add(start + life, DEPART, container=keys, service=s.name)

    def churn(self, s: _Service, c: _Churn) -> None:
        """Poisson arrivals over ``[start, stop)``, each leaving after its lifetime."""
        rng = _rng(self.seed, self.mod, s.name, "arrivals")
        n = int(rng.poisson(c.rate * (c.stop - c.start)))
        times = np.sort(rng.integers(c.start, max(c.stop, c.start + 1), n))
        keys = self.arrive(s, times, _rng(self.seed, self.mod, s.name, "churn"), False)
        self.depart(s, c, keys, times, "churn-lifetime")

    def targets(self, e: _Event, k: int) -> list[int]:
        """Rows named by ``machines``, or ``count`` up machines drawn at random."""
        if "machines" in e.spec:
            index = {str(v): i for i, v in enumerate(self.fleet.ids)}
            return [index[v] for v in e.spec["machines"]]
        up = [m for m in range(len(self.fleet)) if self.is_up(m, e.at)]
        if e.spec["count"] > len(up):
            self.mod.fail(
                (*e.where, "count"),
                f"{e.spec['count']} machines asked at time {e.at}, {len(up)} are up",
            )
        rng = _rng(self.seed, self.mod, "events", k)
        return sorted(int(m) for m in rng.choice(up, e.spec["count"], replace=False))

    def is_up(self, m: int, t: int) -> bool:
        up = m < self.m0 and self.fleet.state[m] == 0
        for at, kind, mm in sorted(self.machine_events, key=lambda x: x[0]):
            if mm == m and at <= t:
                up = kind != MACHINE_FAIL
        return up

    def machine_fail(self, e: _Event, k: int) -> None:
        for m in self.targets(e, k):
            self.machine_events.append((e.at, MACHINE_FAIL, m))
            if "repair_after" in e.spec:
                repair = e.at + e.spec["repair_after"]
                self.machine_events.append((repair, MACHINE_REPAIR, m))

    def machine_repair(self, e: _Event, k: int) -> None:
        self.machine_events.extend(
            (e.at, MACHINE_REPAIR, m) for m in self.targets(e, k)
        )

    def machine_add(self, e: _Event, k: int) -> None:
        start = self.m0 + sum(
            x.spec["type"].count for x in self.mod.events[:k] if x.kind == "machine_add"
        )
        count = e.spec["type"].count
        self.machine_events.extend(
            (e.at, MACHINE_ADD, m) for m in range(start, start + count)
        )

    def scale(self, e: _Event, k: int) -> None:
        s = self.specs[e.spec["service"]]
        keys = self.replicas[s.name]
        want = e.spec["replicas"]
        if want > len(keys):
            times = np.full(want - len(keys), e.at, np.int64)
            rng = _rng(self.seed, self.mod, s.name, "scale", k)
            keys.extend(self.arrive(s, times, rng, True).tolist())
        while len(keys) > want:
            key = keys.pop()
            self.departs[key] = e.at
            self.buf.add(np.array([e.at]), DEPART, container=key, service=s.name)

    def update(self, e: _Event, k: int) -> None:
        """Rolling update: replica j gets redrawn requests at ``at + j * interval``."""
        s = self.specs[e.spec["service"]]
        changed = e.spec["requests"]
        self.specs[s.name] = replace(s, requests={**s.requests, **changed})
        keys = self.replicas[s.name]
        rng = _rng(self.seed, self.mod, s.name, "update", k)
        drawn = {r: dist.sample(rng, len(keys)) for r, dist in changed.items()}
        for j, key in enumerate(keys):
            amounts = self.rows[key][0].copy()
            for r, values in drawn.items():
                amounts[r] = values[j]
            self.rows[key] = (amounts, *self.rows[key][1:])
            self.updates.append((e.at + j * e.spec["interval"], key, amounts, s.name))


def _all_types(mod: Model) -> list[_MachineType]:
    """Initial machine types, then those scenario events add, in time order."""
    return [
        *mod.machines,
        *(e.spec["type"] for e in mod.events if e.kind == "machine_add"),
    ]


register_format("model", read_model, sniff_model)
