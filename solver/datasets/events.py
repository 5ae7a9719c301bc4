"""Event streams: a fleet plus a time-ordered table of what happens to it.

Every trace reader returns a :class:`Trace`. Its ``events`` table has one row per event
and typed columns:

``time`` int64
    In the trace's own unit (``metadata["time_unit"]``: ``"s"`` or ``"us"``); rows are
    sorted by time, and events at the same time keep the order the trace gave them (a
    container's arrival always comes before its departure).
``kind`` categorical
    One of :data:`EVENT_KINDS`.
``container`` int64
    Container key (-1 for machine and scale events). ``metadata["container_names"]``,
    when present, maps a key to the trace's own name.
``machine`` int64
    Row of ``Trace.fleet`` (-1 when none): where the trace ran the container, or the
    machine an event is about.
one int64 column per resource
    The container's request (``arrive``, ``update``, ``scale``) or the machine's
    capacity (``machine_add`` and machine ``update``); 0 otherwise.
optional columns
    ``service``, ``priority``, ``replicas`` (``scale`` events: the service's new replica
    count), ``num_gpu``, ``gpu_milli``, ``gpu_model`` (one allowed GPU model: becomes a
    ``node_selector`` on label ``gpu_model``), ``gpu_spec`` (every allowed model, ``|``
    separated, as the trace wrote it), ``qos``. String columns are categorical.

An ``update`` row with ``container == -1`` changes a machine's capacity; with a
container it changes that container's request. A machine with no machine events is up
for the whole trace; one with events is down until its first ``machine_add``.

The module also holds the streaming CSV helpers the readers share: they read a file in
blocks with :mod:`pyarrow.csv` so memory stays flat, and turn any bad value into an
:class:`~solver.errors.InvalidProblem` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InvalidProblem
from ..model import Containers, Machines, Problem, Resources
from ..units import to_int64

EVENT_KINDS: tuple[str, ...] = (
    "arrive",
    "depart",
    "machine_add",
    "machine_fail",
    "machine_repair",
    "scale",
    "update",
)
ARRIVE, DEPART, MACHINE_ADD, MACHINE_FAIL, MACHINE_REPAIR, SCALE, UPDATE = range(7)
BASE_COLUMNS = ("time", "kind", "container", "machine")
#: Optional event columns and their dtypes (``object`` = a string column, held as a
#: pandas Categorical in the event table, missing = NaN).
OPTIONAL_COLUMNS: dict[str, Any] = {
    "service": object,
    "priority": np.int64,
    "replicas": np.int64,
    "num_gpu": np.int64,
    "gpu_milli": np.int64,
    "gpu_model": object,
    "gpu_spec": object,
    "qos": object,
}
_CONTAINER_KINDS = (ARRIVE, DEPART, UPDATE)
_MACHINE_KINDS = (MACHINE_ADD, MACHINE_FAIL, MACHINE_REPAIR)


@dataclass(frozen=True)
class Trace:
    """A fleet and the time-ordered events that happen on it.

    Parameters
    ----------
    fleet : Machines
        Every machine the trace mentions; ``events.machine`` indexes its rows.
    events : DataFrame
        The event table described in this module's docstring.
    resources : Resources
        The resource columns of ``events`` and of every Problem the trace yields.
    source : str
        The file (or folder) read, used in messages and as the Problem name.
    metadata : dict
        Format extras: ``time_unit``, ``scaling`` and reader-specific keys.
    """

    fleet: Machines
    events: pd.DataFrame
    resources: Resources
    source: str = "trace"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [
            c for c in (*BASE_COLUMNS, *self.resources.names) if c not in self.events
        ]
        if missing:
            raise InvalidProblem(
                f"{self.source}: event table lacks column {missing[0]!r}"
            )
        if self.fleet.resources.names != self.resources.names:
            raise InvalidProblem(
                f"{self.source}: fleet resources {self.fleet.resources.names} "
                f"differ from the trace's {self.resources.names}"
            )
        time = self.events["time"].to_numpy()
        if len(time) > 1 and (np.diff(time) < 0).any():
            raise InvalidProblem(f"{self.source}: events are not sorted by time")

    def __repr__(self) -> str:
        return (
            f"Trace({self.source!r}, machines={len(self.fleet)}, "
            f"events={len(self.events)}, resources={self.resources.names})"
        )

    def snapshot(self, t: int, *, current: bool = True) -> Problem:
        """The containers alive at time ``t`` on the fleet as it stands at ``t``.

        A container is alive when its last event at or before ``t`` is an arrival or an
        update; ``scale`` events contribute ``replicas`` containers of their service.
        Machines not yet added, or failed and not repaired, are down. With ``current``,
        the Problem keeps where the trace ran each container (-1 when unknown or down).
        """
        upto = int(np.searchsorted(self.events["time"].to_numpy(), t, side="right"))
        head = self.events.iloc[:upto]
        capacity, state = self._fleet_at(head)
        rows = _last_rows(head, _CONTAINER_KINDS, "container")
        kind = head["kind"].cat.codes.to_numpy()
        rows = rows[kind[rows] != DEPART]
        scale = _last_rows(head, (SCALE,), "service")
        return self._problem(head, rows, scale, capacity, state, current, f"time {t}")

    def to_problem(self) -> Problem:
        """Every container the trace ever starts, with its last request, on the fleet.

        Time is ignored: this is the whole workload as one placement instance (how the
        GPU-sharing papers replay a pod list). Scaled services count at their peak.
        """
        ev = self.events
        kind = ev["kind"].cat.codes.to_numpy()
        rows = _last_rows(ev, (ARRIVE, UPDATE), "container")
        arrived = np.unique(ev["container"].to_numpy()[kind == ARRIVE])
        rows = rows[np.isin(ev["container"].to_numpy()[rows], arrived)]
        scale = _peak_rows(ev)
        machines = self.fleet
        return self._problem(
            ev, rows, scale, machines.capacity, machines.state, False, "all containers"
        )

    def _fleet_at(self, head: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        fleet = self.fleet
        capacity = fleet.capacity.copy()
        state = fleet.state.copy()
        kind_all = self.events["kind"].cat.codes.to_numpy()
        cont_all = self.events["container"].to_numpy()
        mach_all = self.events["machine"].to_numpy()
        machine_event = np.isin(kind_all, _MACHINE_KINDS) | (
            (kind_all == UPDATE) & (cont_all < 0) & (mach_all >= 0)
        )
        seen = np.unique(mach_all[machine_event & (mach_all >= 0)])
        state[seen] = 2
        kind = head["kind"].cat.codes.to_numpy()
        cont = head["container"].to_numpy()
        mach = head["machine"].to_numpy()
        is_m = (np.isin(kind, _MACHINE_KINDS) | ((kind == UPDATE) & (cont < 0))) & (
            mach >= 0
        )
        rows = _last_of(np.flatnonzero(is_m), mach)
        state[mach[rows]] = np.where(kind[rows] == MACHINE_FAIL, 2, 0)
        sized = np.flatnonzero(np.isin(kind, (MACHINE_ADD, UPDATE)) & is_m)
        sized = _last_of(sized, mach)
        amounts = head[list(self.resources.names)].to_numpy(np.int64)
        capacity[mach[sized]] = amounts[sized]
        return capacity, state

    def _problem(
        self,
        ev: pd.DataFrame,
        rows: np.ndarray,
        scale: np.ndarray,
        capacity: np.ndarray,
        state: np.ndarray,
        current: bool,
        what: str,
    ) -> Problem:
        names = list(self.resources.names)
        cont = ev["container"].to_numpy()
        rows = rows[np.argsort(cont[rows], kind="stable")]
        keys = cont[rows]
        reps = ev["replicas"].to_numpy()[scale] if len(scale) else np.zeros(0, np.int64)
        take = np.concatenate([rows, np.repeat(scale, reps)]).astype(np.int64)
        requests = ev[names].to_numpy(np.int64)[take]
        cols = {c: _take(ev[c], take) for c in OPTIONAL_COLUMNS if c in ev}
        shift = self.metadata.get("service_shift")
        if shift is not None and "service" not in cols:
            cols["service"] = cont[take] >> int(shift)
        machine = ev["machine"].to_numpy()[take]
        machine[len(rows) :] = -1
        label = self.metadata.get("container_names")
        ids: np.ndarray = keys
        if label is not None or len(scale):
            named = keys if label is None else np.asarray(label[keys], dtype=object)
            services = _take(ev["service"], scale) if len(scale) else []
            extra = [
                f"{s}#{k}"
                for s, r in zip(services, reps, strict=True)
                for k in range(r)
            ]
            ids = np.array([*named, *extra], dtype=object)
        machines = Machines(
            capacity,
            self.resources,
            ids=self.fleet.ids,
            labels=self.fleet.labels,
            taints=None if self.fleet.taints is None else list(self.fleet.taints),
            state=state,
            gpus=self.fleet.gpus,
            source=self.source,
        )
        model = cols.get("gpu_model")
        selector = None
        if model is not None and any(isinstance(v, str) and v for v in model):
            selector = [
                {"gpu_model": v} if isinstance(v, str) and v else None for v in model
            ]
        whole = share = None
        if "num_gpu" in cols and self.fleet.gpus.any():
            whole, share = gpu_asks(cols["num_gpu"], cols["gpu_milli"])
        containers = Containers(
            requests,
            self.resources,
            ids=ids,
            service=_strings(cols.get("service")),
            priority=cols.get("priority"),
            node_selector=selector,
            num_gpu=whole,
            gpu_milli=share,
            source=self.source,
        )
        meta: dict[str, Any] = {**self.metadata, "trace": self.source, "at": what}
        meta.pop("container_names", None)
        meta.pop("service_shift", None)
        if "num_gpu" in cols:
            meta["gpu_requests"] = {
                "num_gpu": cols["num_gpu"].astype(np.int64),
                "gpu_milli": cols["gpu_milli"].astype(np.int64),
            }
        if "gpu_spec" in cols:
            meta["gpu_spec"] = cols["gpu_spec"]
        if "qos" in cols:
            meta["qos"] = cols["qos"]
        cur = None
        if current and (machine >= 0).any():
            cur = np.where(
                (machine >= 0) & (state[np.maximum(machine, 0)] != 2), machine, -1
            )
        return Problem(
            machines,
            containers,
            current=cur,
            name=Path(self.source).name,
            metadata=meta,
        )


def gpu_asks(
    num_gpu: np.ndarray, gpu_milli: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trace GPU columns as the model's device asks: (whole devices, share of one).

    Traces (openb) write a share as ``num_gpu == 1`` with ``gpu_milli < 1000`` and whole
    GPUs as ``num_gpu`` devices of 1000 milli each; the model keeps the two apart.
    """
    num_gpu = np.asarray(num_gpu, dtype=np.int64)
    gpu_milli = np.asarray(gpu_milli, dtype=np.int64)
    is_share = (num_gpu == 1) & (gpu_milli < 1000)
    return np.where(is_share, 0, num_gpu), np.where(is_share, gpu_milli, 0)


def _take(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``column[rows]`` as numpy; a categorical gives objects, None where missing."""
    values = column.array
    if isinstance(values, pd.Categorical):
        cats = np.append(values.categories.to_numpy(dtype=object), None)
        return cats[values.codes[rows]]
    return column.to_numpy()[rows]


def _strings(values: np.ndarray | None) -> list[str] | None:
    if values is None:
        return None
    return [
        "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        for v in values
    ]


def _last_of(rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Of ``rows`` (ascending), the last one for each distinct ``key[row]``."""
    if not len(rows):
        return rows
    k = key[rows][::-1]
    _, first = np.unique(k, return_index=True)
    return np.sort(rows[len(rows) - 1 - first])


def _last_rows(ev: pd.DataFrame, kinds: Sequence[int], key: str) -> np.ndarray:
    """Row numbers of the last event of each ``key`` among events of ``kinds``."""
    if key not in ev:
        return np.zeros(0, np.int64)
    kind = ev["kind"].cat.codes.to_numpy()
    mask = np.isin(kind, kinds)
    if key == "container":
        mask &= ev["container"].to_numpy() >= 0
    rows = np.flatnonzero(mask)
    if key == "container":
        return _last_of(rows, ev["container"].to_numpy())
    codes = pd.factorize(_take(ev[key], rows))[0] if len(rows) else rows
    full = np.zeros(len(ev), np.int64)
    full[rows] = codes
    return _last_of(rows, full)


def _peak_rows(ev: pd.DataFrame) -> np.ndarray:
    """For each scaled service, the scale event with its most replicas."""
    if "service" not in ev or "replicas" not in ev:
        return np.zeros(0, np.int64)
    rows = np.flatnonzero(ev["kind"].cat.codes.to_numpy() == SCALE)
    if not len(rows):
        return rows
    sub = pd.DataFrame(
        {
            "s": _take(ev["service"], rows),
            "r": ev["replicas"].to_numpy()[rows],
            "row": rows,
        }
    )
    best = sub.sort_values("r", kind="stable").drop_duplicates("s", keep="last")
    return np.sort(best["row"].to_numpy())


#: Rows per merged chunk block of an :class:`EventBuffer` (8 MiB per int64 column).
BLOCK_ROWS = 1 << 20


class EventBuffer:
    """Collects event chunks column by column, then builds one sorted, typed table.

    Chunks are kept as numpy arrays (string columns as int32 codes into one vocabulary
    per column) and joined one column at a time at the end, so the peak memory is the
    finished table plus one column. Small chunks are merged into blocks of
    :data:`BLOCK_ROWS` rows as they arrive: a few large arrays go back to the operating
    system when freed, thousands of small ones would stay in the allocator's heap.
    """

    def __init__(self, resources: Resources, optional: Sequence[str] = ()) -> None:
        self.resources = resources
        unknown = [c for c in optional if c not in OPTIONAL_COLUMNS]
        if unknown:
            raise InvalidProblem(f"events: unknown optional column {unknown[0]!r}")
        self.columns = [*BASE_COLUMNS, *resources.names, *optional]
        self.chunks: dict[str, list[np.ndarray]] = {c: [] for c in self.columns}
        self.vocab: dict[str, dict[Any, int]] = {
            c: {} for c in optional if OPTIONAL_COLUMNS[c] is object
        }
        self.rows = 0
        self.pending = 0  # rows in chunks not yet merged into a block
        self.blocks = 0  # leading chunks (per column) that are merged blocks

    def add(
        self,
        time: np.ndarray,
        kind: int | np.ndarray,
        *,
        container: int | np.ndarray = -1,
        machine: int | np.ndarray = -1,
        amounts: np.ndarray | None = None,
        **optional: Any,
    ) -> None:
        """Append ``len(time)`` events; scalars are broadcast, missing amounts are 0."""
        n = len(time)
        if n == 0:
            return
        d = len(self.resources)
        values = {
            "time": np.asarray(time, np.int64),
            "kind": np.broadcast_to(np.asarray(kind, np.int8), (n,)),
            "container": np.broadcast_to(np.asarray(container, np.int64), (n,)),
            "machine": np.broadcast_to(np.asarray(machine, np.int64), (n,)),
        }
        for k, name in enumerate(self.resources.names):
            values[name] = (
                np.zeros(n, np.int64)
                if amounts is None
                else np.asarray(amounts[:, k], np.int64)
            )
        for c in self.columns[len(BASE_COLUMNS) + d :]:
            v = optional.get(c)
            if c in self.vocab:
                values[c] = self._codes(c, v, n)
            elif v is None:
                values[c] = np.zeros(n, np.int64)
            else:
                values[c] = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
        for c in self.columns:
            self.chunks[c].append(np.ascontiguousarray(values[c]))
        self.rows += n
        if n >= BLOCK_ROWS // 16 and not self.pending:
            self.blocks += 1  # a large chunk is a block of its own
        else:
            self.pending += n
            if self.pending >= BLOCK_ROWS:
                self._merge()

    def _merge(self) -> None:
        """Join the chunks added since the last block into one block per column."""
        for c in self.columns:
            parts = self.chunks[c]
            if len(parts) - self.blocks > 1:
                block = np.concatenate(parts[self.blocks :])
                del parts[self.blocks :]
                parts.append(block)
        self.blocks = len(self.chunks[self.columns[0]])
        self.pending = 0

    def _codes(self, column: str, values: Any, n: int) -> np.ndarray:
        """Strings (array, Categorical, scalar or None) -> codes into the vocabulary."""
        if values is None:
            return np.full(n, -1, np.int32)
        if isinstance(values, str):
            values = [values]
        if isinstance(values, pd.Categorical):
            codes, uniques = values.codes, values.categories
        else:
            codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        return np.broadcast_to(self._lut(column, uniques)[codes], (n,))

    def _lut(self, column: str, uniques: Any) -> np.ndarray:
        return vocabulary_lut(self.vocab[column], uniques)

    def extend(self, other: EventBuffer) -> None:
        """Append every event of ``other`` (same columns) after this buffer's events."""
        for c in self.columns:
            if c in self.vocab:
                lut = self._lut(c, list(other.vocab[c]))
                other.chunks[c] = [lut[x] for x in other.chunks[c]]
            self.chunks[c] += other.chunks[c]
            other.chunks[c] = []
        if not self.pending and not other.pending:
            self.blocks += other.blocks
        self.rows += other.rows
        self.pending += other.pending
        other.rows = other.pending = other.blocks = 0

    def frame(self) -> pd.DataFrame:
        """The events, stably sorted by time, as a DataFrame with typed columns."""
        time = _join(self.chunks.pop("time"), np.int64)
        order = time_order(time)
        if order is not None:
            time = time[order]
        cols: dict[str, Any] = {"time": time}
        for c in self.columns[1:]:
            dtype = np.int8 if c == "kind" else np.int64
            if c in self.vocab:
                dtype = np.int32
            arr = _join(self.chunks.pop(c), dtype)
            cols[c] = arr if order is None else np.take(arr, order)
            del arr
            if c in self.vocab:
                cats = pd.Index(list(self.vocab[c]), dtype=object)
                cols[c] = pd.Categorical.from_codes(cols[c], categories=cats)
        cols["kind"] = pd.Categorical.from_codes(cols["kind"], categories=EVENT_KINDS)
        return pd.DataFrame(cols, copy=False)


def vocabulary_lut(vocab: dict[Any, int], uniques: Any) -> np.ndarray:
    """Codes of ``uniques`` in ``vocab`` (new ones appended), then -1 for "missing"."""
    codes = [vocab.setdefault(u, len(vocab)) for u in uniques]
    return np.array([*codes, -1], dtype=np.int32)


def global_codes(vocab: dict[Any, int], values: pd.Categorical) -> np.ndarray:
    """A block's Categorical as codes into a vocabulary shared by every block."""
    return vocabulary_lut(vocab, values.categories)[values.codes]


def time_order(time: np.ndarray) -> np.ndarray | None:
    """The stable order sorting ``time``, or None when it is already sorted.

    When the time span and the row count fit in 63 bits together, the sort runs on
    packed ``(time, row)`` keys, which numpy sorts several times faster than a stable
    argsort.
    """
    n = len(time)
    if n < 2 or bool((time[1:] >= time[:-1]).all()):
        return None
    lo, hi = int(time.min()), int(time.max())
    bits = (n - 1).bit_length()
    if hi - lo >= 1 << (62 - bits):
        return np.argsort(time, kind="stable")
    key = (time - lo) << bits
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    key &= (1 << bits) - 1
    return key


def _join(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype)
    out = np.concatenate(parts) if len(parts) > 1 else parts[0]
    parts.clear()
    return out.astype(dtype, copy=False)


def empty_events(resources: Resources) -> pd.DataFrame:
    """An event table with no rows (a fleet-only trace)."""
    return EventBuffer(resources).frame()


# --- streaming CSV helpers shared by the readers ------------------------------------


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, gunzipping ``.gz`` transparently."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _has_data(path: Path) -> bool:
    """False for an empty (or blank) headerless table: it has no rows, not a bad one."""
    with open_text(path) as fh:
        return any(line.strip() for line in fh)


def read_header(path: Path) -> list[str]:
    """The column names on the first line of a CSV file."""
    with open_text(path) as fh:
        first = fh.readline()
    if not first.strip():
        raise InvalidProblem(f"{path}: line 1: empty file, expected a header")
    return [c.strip() for c in next(csv.reader([first]))]


#: Arrow type for a low-cardinality string column: read dictionary-encoded and handed
#: out as a pandas Categorical.
DICT = pa.dictionary(pa.int32(), pa.string())
#: Arrow types of whole-number, real and plain string trace columns.
I64, F64, STR = pa.int64(), pa.float64(), pa.string()


def csv_batches(
    path: Path,
    types: Mapping[str, pa.DataType],
    *,
    names: Sequence[str] | None = None,
    required: Sequence[str] = (),
    block_size: int = 1 << 24,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Stream a CSV file as ``(first_line_number, {column: array})`` blocks.

    ``names`` gives the columns of a file without a header; otherwise the header is read
    and unknown columns are ignored. Only columns in ``types`` are parsed and returned
    (absent optional ones are simply missing). Numeric columns come back as numpy arrays
    with NaN (floats) where the file has an empty value; :data:`DICT` columns as pandas
    Categoricals and string columns as arrow-backed pandas arrays (zero copy), empty
    values missing. A non-numeric value or a line with the wrong number of fields
    raises InvalidProblem naming its line.
    """
    header = names is None
    if not header and not _has_data(path):
        return
    cols = read_header(path) if header else list(names or ())
    missing = [c for c in required if c not in cols]
    if missing:
        raise InvalidProblem(
            f"{path}: line 1, field {missing[0]!r}: missing column "
            f"(found {', '.join(cols)})"
        )
    wanted = [c for c in cols if c in types]
    read_opts = pacsv.ReadOptions(
        column_names=None if header else cols,
        block_size=block_size,
        use_threads=True,
    )
    conv = pacsv.ConvertOptions(
        column_types={c: types[c] for c in wanted},
        include_columns=wanted,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    line = 2 if header else 1
    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=read_opts,
            convert_options=conv,
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
        for batch in reader:
            out = {}
            for c in wanted:
                arr = batch.column(c)
                if pa.types.is_integer(arr.type) and arr.null_count:
                    bad = int(np.flatnonzero(arr.is_null().to_numpy(False))[0])
                    raise InvalidProblem(
                        f"{path}: line {line + bad}, field {c!r}: missing value"
                    )
                out[c] = column_values(arr)
            yield line, out
            line += batch.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _locate(path, cols, types, header, exc) from None


def column_values(arr: pa.Array) -> Any:
    """An arrow column as numpy (numbers), Categorical (dictionary) or arrow strings."""
    if pa.types.is_dictionary(arr.type):
        codes = pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False)
        cats = pd.Index(arr.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        return pd.Categorical.from_codes(codes, categories=cats)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.to_pandas(types_mapper=pd.ArrowDtype).array
    return arr.to_numpy(zero_copy_only=False)


def _locate(
    path: Path,
    cols: Sequence[str],
    types: Mapping[str, pa.DataType],
    header: bool,
    exc: Exception,
) -> InvalidProblem:
    """Re-read the file slowly to name the line and field arrow refused."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        for number, row in enumerate(reader, start=1):
            if header and number == 1:
                continue
            if not row:
                continue
            if len(row) != len(cols):
                return InvalidProblem(
                    f"{path}: line {number}: malformed line, {len(row)} fields where "
                    f"{len(cols)} are expected ({', '.join(cols)})"
                )
            for c, value in zip(cols, row, strict=False):
                kind = types.get(c)
                if kind is None or value.strip() == "":
                    continue
                try:
                    if pa.types.is_integer(kind):
                        int(value)
                    elif pa.types.is_floating(kind):
                        float(value)
                except ValueError:
                    return InvalidProblem(
                        f"{path}: line {number}, field {c!r}: {value!r} is not a number"
                    )
    return InvalidProblem(f"{path}: unreadable CSV ({exc})")


def check_amounts(
    path: Path | str,
    line: int,
    values: np.ndarray,
    field_name: str,
    *,
    missing_ok: bool = False,
) -> None:
    """Refuse negative (unless ``missing_ok``, missing) amounts, naming the line."""
    vals = np.asarray(values)
    if vals.dtype.kind == "f":
        nan = np.isnan(vals)
        if not missing_ok and nan.any():
            bad = int(np.flatnonzero(nan)[0])
            raise InvalidProblem(
                f"{path}: line {line + bad}, field {field_name!r}: missing value"
            )
        neg = ~nan & (vals < 0)
    else:
        neg = vals < 0
    if neg.any():
        bad = int(np.flatnonzero(neg)[0])
        raise InvalidProblem(
            f"{path}: line {line + bad}, field {field_name!r}: "
            f"negative amount {vals[bad]}"
        )


def scaled(
    path: Path | str, line: int, values: np.ndarray, field_name: str, resolution: int
) -> np.ndarray:
    """Normalised floats -> int64 at ``resolution`` (empty -> 0), refusing negatives."""
    vals = np.asarray(values, dtype=np.float64)
    check_amounts(path, line, vals, field_name, missing_ok=True)
    inf = np.isinf(vals)
    if inf.any():
        bad = int(np.flatnonzero(inf)[0])
        raise InvalidProblem(
            f"{path}: line {line + bad}, field {field_name!r}: not finite"
        )
    return to_int64(
        np.nan_to_num(vals, nan=0.0),
        source=str(path),
        field=field_name,
        scaling="resolution",
        resolution=resolution,
    )
