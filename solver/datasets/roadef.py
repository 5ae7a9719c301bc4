"""ROADEF/EURO 2012 machine reassignment (Google): reader, official cost and checker.

An instance is a pair of whitespace-separated integer files, ``model_<name>.txt`` and
``assignment_<name>.txt`` (the initial machine of each process). :func:`read` maps it
onto a :class:`~solver.model.Problem`: one container per process, hard capacities as
machine capacity, ``location`` and ``neighborhood`` machine labels, service ``s<id>``
with ``AntiAffinity("machine", 1)`` (the conflict constraint) and the initial
assignment as ``problem.current``. Everything else the challenge defines (safety
capacities, transient resources, weights, spread, dependencies, balance objectives,
move costs) is kept in ``problem.metadata["roadef"]`` as a :class:`RoadefData` of
int64 arrays.

:func:`cost` is the challenge's objective (vectorised, exact int64), :func:`check`
lists every broken hard constraint, and :class:`RoadefState` with :func:`move_delta`,
:func:`move_allowed` and :func:`apply_move` evaluates single-process moves in
O(R + B) for local search.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..constraints import AntiAffinity
from ..errors import InvalidProblem, PlacementError
from ..model import Containers, Machines, Problem, Resources
from . import _roadef_kernels as _k
from . import optimum, register_format

_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT64_LIMIT = 2**62


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=np.int64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class RoadefData:
    """The ROADEF-specific part of an instance, as read-only int64 arrays.

    Shapes: R resources, M machines, S services, P processes, B balance objectives,
    K dependency pairs. Capacities and requests are the Problem's own arrays.

    Attributes
    ----------
    transient : int64, shape (R,)
        1 where the resource is transient (a moved process uses it on both machines).
    load_weight : int64, shape (R,)
        Weight of the load cost of each resource.
    safety : int64, shape (M, R)
        Safety capacity; usage above it is the load cost.
    neighborhood, location : int64, shape (M,)
    machine_move_cost : int64, shape (M, M)
        Cost of moving one process from its initial machine (row) to another (column).
    service : int64, shape (P,)
        Service of each process.
    spread_min : int64, shape (S,)
        Minimum number of distinct locations a service must run in.
    dep_ptr : int64, shape (S + 1,)
        Service ``s`` depends on ``dep[dep_ptr[s]:dep_ptr[s + 1]]`` (CSR).
    dep : int64, shape (K,)
    process_move_cost : int64, shape (P,)
    balance : int64, shape (B, 3)
        Rows ``(resource1, resource2, target)``.
    balance_weight : int64, shape (B,)
    move_weights : int64, shape (3,)
        Weights of the process, service and machine move costs.
    initial : int64, shape (P,)
        The initial assignment that move costs are measured from.
    """

    transient: np.ndarray
    load_weight: np.ndarray
    safety: np.ndarray
    neighborhood: np.ndarray
    location: np.ndarray
    machine_move_cost: np.ndarray
    service: np.ndarray
    spread_min: np.ndarray
    dep_ptr: np.ndarray
    dep: np.ndarray
    process_move_cost: np.ndarray
    balance: np.ndarray
    balance_weight: np.ndarray
    move_weights: np.ndarray
    initial: np.ndarray

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        m = self.neighborhood.shape[0]
        s = self.spread_min.shape[0]
        p = self.service.shape[0]
        expected = {
            "transient": self.load_weight.shape,
            "safety": (m, self.load_weight.shape[0]),
            "location": (m,),
            "machine_move_cost": (m, m),
            "dep_ptr": (s + 1,),
            "dep": (int(self.dep_ptr[-1]),),
            "process_move_cost": (p,),
            "balance": (self.balance_weight.shape[0], 3),
            "move_weights": (3,),
            "initial": (p,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise InvalidProblem(
                    f"roadef data: field {name!r} has shape "
                    f"{getattr(self, name).shape}, expected {shape}"
                )

    @property
    def num_services(self) -> int:
        """Number of services S."""
        return self.spread_min.shape[0]

    def dependencies(self, s: int) -> np.ndarray:
        """Services that service ``s`` depends on."""
        return self.dep[self.dep_ptr[s]:self.dep_ptr[s + 1]]


@dataclass(frozen=True)
class RoadefCost:
    """The challenge's objective and its five weighted parts (all exact integers)."""

    total: int
    load: int
    balance: int
    process_move: int
    service_move: int
    machine_move: int

    def __post_init__(self) -> None:
        parts = (
            self.load + self.balance + self.process_move + self.service_move
            + self.machine_move
        )
        if parts != self.total:
            raise ValueError(
                f"cost parts add up to {parts}, not to the total {self.total}"
            )

    def summary(self) -> dict[str, int]:
        """The total and the parts as a plain dict."""
        return {
            "total": self.total,
            "load": self.load,
            "balance": self.balance,
            "process_move": self.process_move,
            "service_move": self.service_move,
            "machine_move": self.machine_move,
        }


# --------------------------------------------------------------------------- reading


class _Tokens:
    """Integer tokens of one file with the field names and line numbers errors need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidProblem(f"{path}: cannot read the file ({exc})") from None
        #: Index and text of the first token that is not an integer, if any.
        self.bad: int | None = None
        self.bad_word = ""
        self.values = self._parse()
        self.pos = 0
        self._line_ends: np.ndarray | None = None

    def _parse(self) -> np.ndarray:
        if not self.text.strip():
            return np.zeros(0, np.int64)
        # numpy's text parser reads a lone sign as 0, so signed text takes the slow path
        if "-" not in self.text and "+" not in self.text:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    values = np.fromstring(self.text, dtype=np.int64, sep=" ")
                except (ValueError, DeprecationWarning):
                    values = None
            if values is not None and not (values >= _INT64_LIMIT).any():
                return values
        words = self.text.split()
        for k, word in enumerate(words):
            if not _INT.match(word) or abs(int(word)) >= _INT64_LIMIT:
                if self.bad is None:
                    self.bad, self.bad_word = k, word
                words[k] = "0"
        return np.array(words, dtype=np.int64)

    def line_of(self, index: int) -> int:
        """1-based line number of token ``index`` (the last line past the end)."""
        if self._line_ends is None:
            counts = [len(line.split()) for line in self.text.splitlines()]
            self._line_ends = np.cumsum(counts) if counts else np.zeros(1, np.int64)
        line = int(np.searchsorted(self._line_ends, index, side="right")) + 1
        return min(line, max(len(self._line_ends), 1))

    def error(self, index: int, field: str, message: str) -> InvalidProblem:
        """An InvalidProblem naming the file, the line of token ``index``, the field."""
        return InvalidProblem(
            f"{self.path}: line {self.line_of(index)}, field {field!r}: {message}"
        )

    def take(self, count: int, field: str) -> np.ndarray:
        """The next ``count`` values; a short file names the field it lacks."""
        end = self.pos + count
        if end > self.values.shape[0]:
            have = self.values.shape[0] - self.pos
            raise InvalidProblem(
                f"{self.path}: line {self.line_of(self.values.shape[0])}, field "
                f"{field!r}: unexpected end of file ({have} of {count} values present)"
            )
        self.refuse_bad(self.pos, end, field)
        out = self.values[self.pos:end]
        self.pos = end
        return out

    def refuse_bad(self, start: int, end: int, field: str) -> None:
        """Raise if the first non-integer token lies in ``[start, end)``."""
        if self.bad is not None and start <= self.bad < end:
            word = self.bad_word
            what = "too large" if _INT.match(word) else "not an integer"
            raise self.error(self.bad, field, f"{word!r} is {what}")

    def one(self, field: str, low: int = 0, high: int | None = None) -> int:
        """The next value, checked to lie in ``[low, high)``."""
        value = int(self.take(1, field)[0])
        self.check(self.pos - 1, np.array([value]), field, low, high)
        return value

    def check(
        self,
        start: int,
        values: np.ndarray,
        field: str,
        low: int = 0,
        high: int | None = None,
    ) -> None:
        """Raise naming the first of ``values`` (tokens from ``start``) out of range."""
        bad = values < low if high is None else (values < low) | (values >= high)
        if bad.any():
            k = int(np.flatnonzero(bad.ravel())[0])
            allowed = f">= {low}" if high is None else f"in {low}..{high - 1}"
            raise self.error(
                start + k,
                field,
                f"{int(values.ravel()[k])} is not {allowed}",
            )

    def block(self, rows: int, cols: int, field: str) -> np.ndarray:
        """``rows`` records of ``cols`` values each, shape (rows, cols)."""
        if self.pos + rows * cols > self.values.shape[0]:
            have = (self.values.shape[0] - self.pos) // max(cols, 1)
            raise InvalidProblem(
                f"{self.path}: line {self.line_of(self.values.shape[0])}, field "
                f"{field!r}: unexpected end of file ({have} of {rows} records present)"
            )
        if self.bad is not None and self.pos <= self.bad < self.pos + rows * cols:
            record = (self.bad - self.pos) // cols
            self.refuse_bad(self.bad, self.bad + 1, f"{field} (record {record})")
        return self.take(rows * cols, field).reshape(rows, cols)

    def check_column(
        self,
        start: int,
        table: np.ndarray,
        col: int | slice,
        field: str,
        low: int = 0,
        high: int | None = None,
    ) -> None:
        """Range-check ``table[:, col]`` of a block read from token ``start``."""
        cols = table.shape[1]
        part = table[:, col]
        bad = part < low if high is None else (part < low) | (part >= high)
        if bad.any():
            row, k = np.argwhere(bad.reshape(table.shape[0], -1))[0]
            first = (col.start or 0) if isinstance(col, slice) else col
            index = start + int(row) * cols + first + int(k)
            allowed = f">= {low}" if high is None else f"in {low}..{high - 1}"
            raise self.error(
                index,
                f"{field} (record {int(row)})",
                f"{int(table[row, first + k])} is not {allowed}",
            )

    def finish(self, what: str) -> None:
        """Refuse values left after the last expected field."""
        if self.pos != self.values.shape[0]:
            extra = self.values.shape[0] - self.pos
            raise self.error(
                self.pos, what, f"{extra} unexpected value(s) after the end of the data"
            )


def _name_of(model_path: Path) -> str:
    stem = model_path.stem
    return stem[len("model_"):] if stem.startswith("model_") else stem


def _default_assignment(model_path: Path) -> Path:
    return model_path.with_name(f"assignment_{_name_of(model_path)}.txt")


def _read_model(tokens: _Tokens) -> dict[str, Any]:
    """Parse the model tokens in the challenge's order into plain arrays."""
    r = tokens.one("resource count", low=1)
    start = tokens.pos
    res = tokens.block(r, 2, "resources")
    tokens.check_column(start, res, 0, "resource transient flag", 0, 2)
    tokens.check_column(start, res, 1, "resource load_cost_weight")

    m = tokens.one("machine count", low=1)
    width = 2 + 2 * r + m
    start = tokens.pos
    mach = tokens.block(m, width, "machines")
    tokens.check_column(start, mach, 0, "machine neighborhood", 0, m)
    tokens.check_column(start, mach, 1, "machine location", 0, m)
    tokens.check_column(start, mach, slice(2, 2 + r), "machine capacity")
    tokens.check_column(start, mach, slice(2 + r, 2 + 2 * r), "machine safety capacity")
    tokens.check_column(start, mach, slice(2 + 2 * r, width), "machine move cost")

    s = tokens.one("service count", low=0)
    spread_min, dep_ptr, dep = _read_services(tokens, s)

    p = tokens.one("process count", low=0)
    start = tokens.pos
    proc = tokens.block(p, 2 + r, "processes")
    tokens.check_column(start, proc, 0, "process service", 0, max(s, 0))
    tokens.check_column(start, proc, slice(1, 1 + r), "process requirement")
    tokens.check_column(start, proc, 1 + r, "process move cost")

    b = tokens.one("balance objective count", low=0)
    start = tokens.pos
    bal = tokens.block(b, 4, "balance objectives")
    tokens.check_column(start, bal, slice(0, 2), "balance resource", 0, r)
    tokens.check_column(start, bal, 2, "balance target")
    tokens.check_column(start, bal, 3, "balance weight")

    start = tokens.pos
    weights = tokens.take(3, "process/service/machine move weights")
    tokens.check(start, weights, "move weight")
    tokens.finish("move weights")
    return {
        "resources": res,
        "machines": mach,
        "spread_min": spread_min,
        "dep_ptr": dep_ptr,
        "dep": dep,
        "processes": proc,
        "balance": bal,
        "weights": weights,
        "r": r,
        "m": m,
    }


def _read_services(
    tokens: _Tokens, s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Services: ``spread_min k`` then ``k`` service ids each (variable length)."""
    values = tokens.values
    end = values.shape[0]
    pos = tokens.pos
    if pos + 2 * s > end:
        tokens.take(2 * s, "services")
    heads = np.empty(s, np.int64)
    for i in range(s):
        if pos + 2 > end:
            tokens.pos = pos
            tokens.take(2, f"service {i}: spread_min and dependency count")
        tokens.refuse_bad(pos, pos + 2, f"service {i}: spread_min/dependency count")
        k = int(values[pos + 1])
        if k < 0:
            raise tokens.error(pos + 1, f"service {i} dependency count", f"{k} is < 0")
        heads[i] = pos
        pos += 2 + k
        if pos > end:
            tokens.pos = heads[i] + 2
            tokens.take(k, f"service {i} dependencies")
        tokens.refuse_bad(pos - k, pos, f"service {i} dependencies")
    tokens.pos = pos
    spread_min = values[heads]
    negative = np.flatnonzero(spread_min < 0)
    if len(negative):
        i = int(negative[0])
        raise tokens.error(
            int(heads[i]), f"service {i} spread_min", f"{int(spread_min[i])} is < 0"
        )
    counts = values[heads + 1]
    dep_ptr = np.zeros(s + 1, np.int64)
    np.cumsum(counts, out=dep_ptr[1:])
    where = np.repeat(heads + 2 - dep_ptr[:-1], counts) + np.arange(dep_ptr[-1])
    dep = values[where]
    bad = np.flatnonzero((dep < 0) | (dep >= s))
    if len(bad):
        k = int(bad[0])
        owner = int(np.searchsorted(dep_ptr, k, side="right")) - 1
        raise tokens.error(
            int(where[k]),
            f"service {owner} dependency",
            f"{int(dep[k])} is not in 0..{s - 1}",
        )
    return spread_min, dep_ptr, dep


def _read_assignment(path: Path, p: int, m: int) -> np.ndarray:
    tokens = _Tokens(path)
    if tokens.values.shape[0] != p:
        raise tokens.error(
            min(tokens.values.shape[0], p),
            "machine",
            f"{tokens.values.shape[0]} machine ids for {p} processes in the model",
        )
    values = tokens.take(p, "machine")
    bad = np.flatnonzero((values < 0) | (values >= m))
    if len(bad):
        k = int(bad[0])
        raise tokens.error(
            k,
            f"machine of process {k}",
            f"{int(values[k])} is not a machine id (0..{m - 1})",
        )
    return values


def read(model_path: str | Path, assignment_path: str | Path | None = None) -> Problem:
    """Read a ROADEF/EURO 2012 instance into a Problem with ``metadata["roadef"]``.

    Parameters
    ----------
    model_path : path of ``model_<name>.txt``
    assignment_path : path of the initial assignment; default ``assignment_<name>.txt``
        beside the model.

    Returns
    -------
    Problem
        Resources ``r0 .. r{R-1}``; one container per process (id = process index) with
        service ``s<id>`` and ``AntiAffinity("machine", 1)``; machine labels
        ``location`` and ``neighborhood``; ``current`` = the initial assignment;
        ``metadata["roadef"]`` a :class:`RoadefData`.

    Raises
    ------
    InvalidProblem
        naming the file, the line and the field of the first bad value.
    """
    model_path = Path(model_path)
    assignment_path = (
        _default_assignment(model_path)
        if assignment_path is None
        else Path(assignment_path)
    )
    if not assignment_path.is_file():
        raise InvalidProblem(
            f"{model_path}: the initial assignment file {assignment_path} is missing"
        )
    raw = _read_model(_Tokens(model_path))
    r, m = raw["r"], raw["m"]
    mach, proc, bal = raw["machines"], raw["processes"], raw["balance"]
    initial = _read_assignment(assignment_path, proc.shape[0], m)
    name = _name_of(model_path)
    data = RoadefData(
        transient=raw["resources"][:, 0],
        load_weight=raw["resources"][:, 1],
        safety=mach[:, 2 + r:2 + 2 * r],
        neighborhood=mach[:, 0],
        location=mach[:, 1],
        machine_move_cost=mach[:, 2 + 2 * r:],
        service=proc[:, 0],
        spread_min=raw["spread_min"],
        dep_ptr=raw["dep_ptr"],
        dep=raw["dep"],
        process_move_cost=proc[:, 1 + r],
        balance=bal[:, :3],
        balance_weight=bal[:, 3],
        move_weights=raw["weights"],
        initial=initial,
    )
    resources = Resources(tuple(f"r{k}" for k in range(r)))
    machines = Machines(
        np.ascontiguousarray(mach[:, 2:2 + r]),
        resources,
        labels={
            "location": data.location.astype(str).astype(object),
            "neighborhood": data.neighborhood.astype(str).astype(object),
        },
        source=str(model_path),
    )
    conflict = AntiAffinity("machine", 1)
    containers = Containers(
        np.ascontiguousarray(proc[:, 1:1 + r]),
        resources,
        service=np.char.add("s", data.service.astype(str)).astype(object),
        anti_affinity=[conflict] * proc.shape[0],
        source=str(model_path),
    )
    # optima.csv lists instances by name ("a1_1"), not by file stem ("model_a1_1").
    known = optimum(model_path.with_name(f"{name}.txt"))
    metadata: dict[str, Any] = {"format": "roadef", "roadef": data}
    if known is not None:
        metadata["is_optimal"] = known[1]
    return Problem(
        machines,
        containers,
        current=initial,
        name=name,
        best_known=None if known is None else known[0],
        metadata=metadata,
    )


def sniff(path: Path, head: str) -> bool:
    """A ROADEF model: R, R lines ``transient weight``, M, then a full machine line."""
    lines = [line.split() for line in head.splitlines() if line.strip()]
    if not lines or len(lines[0]) != 1 or not lines[0][0].isdigit():
        return False
    r = int(lines[0][0])
    if not 1 <= r < len(lines) - 2:
        return Path(path).name.startswith("model_") and r >= 1
    resources, count, machine = lines[1:r + 1], lines[r + 1], lines[r + 2]
    if any(len(t) != 2 or t[0] not in ("0", "1") for t in resources):
        return False
    if len(count) != 1 or not count[0].isdigit():
        return False
    return len(machine) == 2 + 2 * r + int(count[0])


def write_assignment(path: str | Path, assignment: Any) -> None:
    """Write a solution in the challenge's assignment format (machine ids, one line)."""
    values = np.asarray(getattr(assignment, "assignment", assignment), dtype=np.int64)
    Path(path).write_text(" ".join(map(str, values.tolist())) + "\n")


# --------------------------------------------------------------------------- cost


def data_of(problem: Problem) -> RoadefData:
    """The :class:`RoadefData` of a problem read by :func:`read`."""
    data = problem.metadata.get("roadef")
    if not isinstance(data, RoadefData):
        raise InvalidProblem(
            f"{problem.name or 'problem'}: not a ROADEF instance "
            "(metadata['roadef'] is missing)"
        )
    return data


def _assignment(problem: Problem, assignment: Any) -> np.ndarray:
    a = np.asarray(getattr(assignment, "assignment", assignment))
    if a.dtype.kind not in "iu" or a.shape != (problem.n,):
        raise InvalidProblem(
            f"assignment: expected {problem.n} integer machine ids, got shape "
            f"{a.shape} of {a.dtype}"
        )
    a = a.astype(np.int64, copy=False)
    bad = np.flatnonzero((a < 0) | (a >= problem.m))
    if len(bad):
        raise InvalidProblem(
            f"assignment: row {bad[0]}, field 'machine': {a[bad[0]]} is not a machine "
            f"index (0..{problem.m - 1})"
        )
    return a


def usage(problem: Problem, assignment: Any) -> np.ndarray:
    """Resource usage per machine, int64 shape (M, R)."""
    a = _assignment(problem, assignment)
    return _k.machine_usage(a, problem.requests, problem.m)


def cost(problem: Problem, assignment: Any) -> RoadefCost:
    """The official ROADEF/EURO 2012 objective of ``assignment`` (feasible or not).

    load = Σ_r w_r Σ_m max(0, U(m,r) − SC(m,r)); balance = Σ_b w_b Σ_m
    max(0, target·A(m,r1) − A(m,r2)) with A = C − U; process move = W_pmc Σ PMC(p) over
    moved processes; service move = W_smc · max over services of moved processes;
    machine move = W_mmc Σ_p MMC(initial(p), new(p)).
    """
    data = data_of(problem)
    a = _assignment(problem, assignment)
    used = _k.machine_usage(a, problem.requests, problem.m)
    load = int(np.maximum(used - data.safety, 0).sum(axis=0) @ data.load_weight)
    free = problem.capacity - used
    balance = 0
    for (r1, r2, target), weight in zip(data.balance, data.balance_weight, strict=True):
        excess = np.maximum(target * free[:, r1] - free[:, r2], 0)
        balance += int(weight) * int(excess.sum())
    moved = a != data.initial
    w_process, w_service, w_machine = (int(w) for w in data.move_weights)
    process_move = w_process * int(data.process_move_cost[moved].sum())
    per_service = np.bincount(data.service[moved], minlength=data.num_services)
    service_move = w_service * int(per_service.max(initial=0))
    flat = data.initial * problem.m + a
    machine_move = w_machine * int(data.machine_move_cost.ravel()[flat].sum())
    return RoadefCost(
        total=load + balance + process_move + service_move + machine_move,
        load=load,
        balance=balance,
        process_move=process_move,
        service_move=service_move,
        machine_move=machine_move,
    )


def lower_bound(problem: Problem) -> int:
    """A lower bound on :func:`cost` over every assignment (feasible or not).

    Load and balance summed over the whole fleet: Σ_m max(0, x_m) ≥ max(0, Σ_m x_m),
    and the fleet's total usage and free capacity do not depend on the assignment;
    move costs are at least 0. Tight where the fleet as a whole is the bottleneck
    (within 0.05% of the best known cost on a1_1, a1_2, a1_5, b_02, b_04, b_08, b_09).
    """
    data = data_of(problem)
    used = problem.requests.sum(axis=0)
    load = int(np.maximum(used - data.safety.sum(axis=0), 0) @ data.load_weight)
    free = problem.capacity.sum(axis=0) - used
    balance = sum(
        int(weight) * max(int(target * free[r1] - free[r2]), 0)
        for (r1, r2, target), weight in zip(data.balance, data.balance_weight,
                                             strict=True)
    )
    return load + balance


# --------------------------------------------------------------------------- checking


def check(problem: Problem, assignment: Any) -> list[str]:
    """Every hard constraint of the challenge that ``assignment`` breaks; [] = feasible.

    Capacity (U ≤ C), conflict (a service's processes on distinct machines), spread (a
    service runs in at least spread_min locations), dependency (a service runs only in
    neighbourhoods where each service it depends on runs) and transient usage (a moved
    process still counts on its initial machine for transient resources).
    """
    data = data_of(problem)
    a = _assignment(problem, assignment)
    cap = problem.capacity
    out: list[str] = []
    used = _k.machine_usage(a, problem.requests, problem.m)
    for mm, r in np.argwhere(used > cap):
        out.append(
            f"capacity: machine {mm}, resource r{r}: usage {used[mm, r]} > capacity "
            f"{cap[mm, r]}"
        )
    moved = np.flatnonzero(a != data.initial)
    held = used + _k.machine_usage(
        data.initial[moved], problem.requests[moved], problem.m
    )
    over = (held > cap) & (data.transient[None, :] != 0)
    for mm, r in np.argwhere(over):
        out.append(
            f"transient: machine {mm}, resource r{r}: usage {held[mm, r]} with "
            f"moved-away processes > capacity {cap[mm, r]}"
        )
    order = np.lexsort((a, data.service))
    svc, mach = data.service[order], a[order]
    same = np.flatnonzero((svc[1:] == svc[:-1]) & (mach[1:] == mach[:-1]))
    out.extend(
        f"conflict: service s{svc[k]}: processes {order[k]} and {order[k + 1]} "
        f"share machine {mach[k]}"
        for k in same
    )
    s_count = data.num_services
    n_loc = int(data.location.max(initial=-1)) + 1
    pairs = np.unique(data.service * n_loc + data.location[a])
    spread = np.bincount(pairs // max(n_loc, 1), minlength=s_count)
    out.extend(
        f"spread: service s{s} runs in {spread[s]} location(s) < spread_min "
        f"{data.spread_min[s]}"
        for s in np.flatnonzero(spread < data.spread_min)
    )
    n_nbh = int(data.neighborhood.max(initial=-1)) + 1
    present = np.zeros((s_count, n_nbh), bool)
    present[data.service, data.neighborhood[a]] = True
    src = np.repeat(np.arange(s_count), np.diff(data.dep_ptr))
    missing = present[src] & ~present[data.dep]
    for k, n in np.argwhere(missing):
        out.append(
            f"dependency: service s{src[k]} runs in neighborhood {n} without service "
            f"s{data.dep[k]} it depends on"
        )
    return out


def ensure_feasible(problem: Problem, assignment: Any) -> None:
    """Raise :class:`PlacementError` listing the broken constraints, if any."""
    problems = check(problem, assignment)
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise PlacementError("; ".join(problems[:10]) + more)


# --------------------------------------------------------------------------- moves


class RoadefState:
    """Incremental arrays of one assignment for O(R + B) move evaluation.

    ``static`` and ``dynamic`` are the tuples the Numba kernels in
    ``_roadef_kernels`` take, so a compiled local search can call them directly.
    ``total`` is the objective of the current ``assignment``, kept up to date by
    :func:`apply_move`.
    """

    def __init__(self, problem: Problem, assignment: Any = None) -> None:
        data = data_of(problem)
        a = _assignment(problem, data.initial if assignment is None else assignment)
        a = a.copy()
        s_count = data.num_services
        n_loc = int(data.location.max(initial=-1)) + 1
        n_nbh = int(data.neighborhood.max(initial=-1)) + 1
        rdep_src = np.repeat(np.arange(s_count, dtype=np.int64), np.diff(data.dep_ptr))
        rorder = np.argsort(data.dep, kind="stable")
        rdep_ptr = np.zeros(s_count + 1, np.int64)
        np.cumsum(np.bincount(data.dep, minlength=s_count), out=rdep_ptr[1:])
        svc_procs = np.argsort(data.service, kind="stable").astype(np.int64)
        svc_ptr = np.zeros(s_count + 1, np.int64)
        np.cumsum(np.bincount(data.service, minlength=s_count), out=svc_ptr[1:])
        self.problem = problem
        self.static = tuple(
            np.ascontiguousarray(x, dtype=np.int64)
            for x in (
                problem.requests, problem.capacity, data.safety, data.transient,
                data.load_weight, data.balance, data.balance_weight,
                data.process_move_cost, data.machine_move_cost, data.service,
                data.initial, data.neighborhood, data.location, data.spread_min,
                data.dep_ptr, data.dep, rdep_ptr, rdep_src[rorder], svc_ptr, svc_procs,
                data.move_weights,
            )
        )
        used = np.zeros_like(problem.capacity)
        np.add.at(used, a, problem.requests)
        moved = np.flatnonzero(a != data.initial)
        held = used.copy()
        np.add.at(held, data.initial[moved], problem.requests[moved])
        per_service = np.bincount(data.service[moved], minlength=s_count)
        hist = np.bincount(per_service, minlength=problem.n + 1).astype(np.int64)
        svc_loc = np.zeros((s_count, max(n_loc, 1)), np.int64)
        np.add.at(svc_loc, (data.service, data.location[a]), 1)
        svc_nbh = np.zeros((s_count, max(n_nbh, 1)), np.int64)
        np.add.at(svc_nbh, (data.service, data.neighborhood[a]), 1)
        self.dynamic = (
            a,
            used,
            held,
            per_service.astype(np.int64),
            hist,
            np.array([per_service.max(initial=0)], np.int64),
            svc_loc,
            (svc_loc > 0).sum(axis=1).astype(np.int64),
            svc_nbh,
        )
        self.total = cost(problem, a).total

    @property
    def assignment(self) -> np.ndarray:
        """The current assignment, int64 shape (P,) (a live view: copy to keep it)."""
        return self.dynamic[0]

    def _check(self, process: int, machine: int) -> tuple[int, int]:
        p, mm = int(process), int(machine)
        if not (0 <= p < self.problem.n and 0 <= mm < self.problem.m):
            raise InvalidProblem(
                f"move: process {p} or machine {mm} out of range "
                f"({self.problem.n} processes, {self.problem.m} machines)"
            )
        return p, mm


def move_delta(state: RoadefState, process: int, new_machine: int) -> int:
    """Change of the objective if ``process`` moves to ``new_machine``."""
    p, mm = state._check(process, new_machine)
    return int(_k.move_delta(state.static, state.dynamic, p, mm))


def move_allowed(state: RoadefState, process: int, new_machine: int) -> bool:
    """Whether the move keeps every hard constraint, given a feasible current state."""
    p, mm = state._check(process, new_machine)
    return bool(_k.move_allowed(state.static, state.dynamic, p, mm))


def process_moves(state: RoadefState, process: int) -> tuple[np.ndarray, np.ndarray]:
    """Cost delta (int64) and feasibility (bool) of moving ``process`` to each machine.

    One call evaluates every target machine (no per-move Python overhead).
    """
    p, _ = state._check(process, 0)
    return _k.process_moves(state.static, state.dynamic, p)


def apply_move(state: RoadefState, process: int, new_machine: int) -> int:
    """Move ``process`` to ``new_machine``; returns the objective change applied."""
    p, mm = state._check(process, new_machine)
    delta = int(_k.move_delta(state.static, state.dynamic, p, mm))
    _k.apply_move(state.static, state.dynamic, p, mm)
    state.total += delta
    return delta


register_format("roadef", read, sniff)
