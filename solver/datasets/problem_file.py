"""tetrimino's own problem file: one structure, written as TOML or JSON.

Top-level keys: ``name``, ``description``, ``best_known``, ``resources`` (names and
units), ``machines`` (entries with ``count`` copies, ``capacity`` by resource name,
``labels``, ``taints``, ``state``), ``services`` (expanded into one container per
replica), ``containers`` (explicit, optionally with a current ``machine`` and
``pinned``) and ``namespaces`` (each with an optional ``quota``). The schema, with an
example, is in ``datasets/README.md``. Unknown keys are refused, so a typo never
silently drops a constraint; every error names the file, the line and the field.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..constraints import Affinity, AntiAffinity, Spread
from ..errors import InvalidProblem
from ..model import REPLICA_FIELDS, STATES, Containers, Machines, Problem, Resources
from ..units import unit_of
from . import read_text, register_format

Where = tuple[str | int, ...]

_TOP = (
    "name",
    "description",
    "best_known",
    "resources",
    "machines",
    "services",
    "containers",
    "namespaces",
)
_MACHINE = ("name", "count", "capacity", "labels", "taints", "state")
SERVICE_KEYS = ("name", "replicas", *REPLICA_FIELDS)
_CONTAINER = ("id", "service", *REPLICA_FIELDS, "machine", "pinned")
_ANTI_AFFINITY = ("topology_key", "max_per_domain")
_SPREAD = ("topology_key", "max_skew")
_AFFINITY = ("service", "topology_key", "required")


def read(path: str | Path) -> Problem:
    """Read a problem file: JSON if named ``.json`` or opening with ``{``, else TOML."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return read_json(path)
    return read_toml(path)


def read_toml(path: str | Path) -> Problem:
    """Read a problem file written in TOML."""
    path = Path(path)
    data, text = parse_toml(path)
    return Builder(path, text, "toml").problem(data)


def parse_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed TOML file and its text; a syntax error names the line and column."""
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"line {found[1]}, column {found[2]}" if found else "line 1"
        reason = re.sub(r"\s*\(at line.*\)$", "", str(exc)) or "syntax error"
        raise InvalidProblem(f"{path}: {where}: invalid TOML: {reason}") from None
    return data, text


def read_json(path: str | Path) -> Problem:
    """Read a problem file written in JSON."""
    path = Path(path)
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidProblem(
            f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    return Builder(path, text, "json").problem(data)


class Builder:
    """Checks the parsed tree field by field and turns it into a Problem."""

    def __init__(self, path: Path, text: str, fmt: str) -> None:
        self.path = path
        self.text = _mask_comments(text) if fmt == "toml" else text
        self.fmt = fmt

    def fail(self, where: Where, message: str) -> NoReturn:
        """Raise InvalidProblem naming the file, the line of ``where`` and the field."""
        field = _dotted(where)
        line = next(
            (
                ln
                for k in range(len(where), 0, -1)
                if (ln := _locate(self.text, where[:k]))
            ),
            None,
        )
        at = f"line {line}, " if line else ""
        label = f"field {field!r}" if field else "top level"
        raise InvalidProblem(f"{self.path}: {at}{label}: {message}")

    def table(self, value: Any, where: Where, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a table, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                self.fail(
                    (*where, key), f"unknown field; known fields: {', '.join(allowed)}"
                )
        return dict(value)

    def require(self, entry: Mapping, key: str, where: Where) -> Any:
        if key not in entry:
            self.fail(where, f"missing key {key!r}")
        return entry[key]

    def integer(self, value: Any, where: Where, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"expected a whole number, got {_kind(value)} {value!r}")
        if isinstance(value, float) and not value.is_integer():
            self.fail(where, f"{value!r} is not a whole number")
        number = int(value)
        if minimum is not None and number < minimum:
            what = (
                "negative amount"
                if minimum == 0
                else f"must be at least {minimum}, got"
            )
            self.fail(where, f"{what} {number}")
        return number

    def string(self, value: Any, where: Where) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {_kind(value)} {value!r}")
        return value

    def boolean(self, value: Any, where: Where) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)} {value!r}")
        return value

    def strings(self, value: Any, where: Where) -> frozenset[str]:
        if not isinstance(value, list):
            self.fail(where, f"expected a list of strings, got {_kind(value)}")
        return frozenset(self.string(v, (*where, k)) for k, v in enumerate(value))

    def labels(self, value: Any, where: Where) -> dict[str, str]:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a table of labels, got {_kind(value)}")
        out = {}
        for key, v in value.items():
            if isinstance(v, Mapping | list) or v is None:
                self.fail(
                    (*where, key), f"a label value must be a scalar, got {_kind(v)}"
                )
            out[str(key)] = str(v).lower() if isinstance(v, bool) else str(v)
        return out

    def amounts(self, value: Any, where: Where, resources: Resources) -> np.ndarray:
        if not isinstance(value, Mapping):
            self.fail(
                where, f"expected a table of amounts by resource, got {_kind(value)}"
            )
        vec = np.zeros(len(resources), np.int64)
        for key, amount in value.items():
            if key not in resources.names:
                self.fail(
                    (*where, key),
                    f"unknown resource {key!r}; known resources: "
                    f"{', '.join(resources.names)}",
                )
            vec[resources.names.index(key)] = self.integer(
                amount, (*where, key), minimum=0
            )
        return vec

    def entries(self, data: Mapping, key: str) -> list:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.fail((key,), f"expected a list of tables, got {_kind(value)}")
        return value

    def problem(self, data: Any) -> Problem:
        data = self.table(data, (), _TOP)
        resources = self.resources(self.require(data, "resources", ()))
        machines, machine_index = self.machines(data, resources)
        rows = self.services(data, resources) + self.containers(data, resources)
        self.check_rows(rows, machine_index)
        quotas = self.namespaces(data, resources)
        name = self.string(data.get("name", self.path.stem), ("name",))
        best = data.get("best_known")
        best = None if best is None else self.integer(best, ("best_known",), minimum=0)
        metadata = {"format": self.fmt}
        if "description" in data:
            metadata["description"] = self.string(data["description"], ("description",))
        current = [r.get("current", -1) for r in rows]
        pinned = [r.get("pinned", False) for r in rows]
        return Problem(
            machines,
            _containers(rows, resources, str(self.path)),
            quotas=quotas,
            current=current if any(c >= 0 for c in current) else None,
            pinned=pinned if any(pinned) else None,
            name=name,
            best_known=best,
            metadata=metadata,
        )

    def resources(self, value: Any) -> Resources:
        where: Where = ("resources",)
        if isinstance(value, list):
            names = [self.string(v, (*where, k)) for k, v in enumerate(value)]
            units = [unit_of(n) for n in names]
        elif isinstance(value, Mapping):
            names = [str(k) for k in value]
            units = [self.string(u, (*where, k)) for k, u in value.items()]
        else:
            self.fail(
                where, f"expected a table of name = unit or a list, got {_kind(value)}"
            )
        if not names:
            self.fail(where, "at least one resource is needed")
        if len(set(names)) != len(names):
            self.fail(
                where,
                f"duplicate resource {next(n for n in names if names.count(n) > 1)!r}",
            )
        return Resources(tuple(names), tuple(units))

    def machines(self, data: Mapping, resources: Resources) -> tuple[Machines, dict]:
        capacity, ids, labels, taints, states = [], [], [], [], []
        for i, raw in enumerate(self.entries(data, "machines")):
            where: Where = ("machines", i)
            entry = self.table(raw, where, _MACHINE)
            count = self.integer(entry.get("count", 1), (*where, "count"), minimum=0)
            name = entry.get("name")
            name = None if name is None else self.string(name, (*where, "name"))
            cap = self.amounts(
                self.require(entry, "capacity", where), (*where, "capacity"), resources
            )
            lab = self.labels(entry.get("labels", {}), (*where, "labels"))
            tnt = self.strings(entry.get("taints", []), (*where, "taints"))
            state = self.string(entry.get("state", "up"), (*where, "state"))
            if state not in STATES:
                self.fail(
                    (*where, "state"), f"{state!r} is not one of {', '.join(STATES)}"
                )
            for k in range(count):
                if name is None:
                    ids.append(f"m{len(ids)}")
                else:
                    ids.append(name if count == 1 else f"{name}-{k}")
                capacity.append(cap)
                labels.append(lab)
                taints.append(tnt)
                states.append(state)
        if not ids:
            self.fail(("machines",), "at least one machine is needed")
        index = _unique(self, ids, "machines", "machine id")
        machines = Machines(
            np.array(capacity, np.int64).reshape(-1, len(resources)),
            resources,
            ids=np.array(ids, dtype=object),
            labels=labels,
            taints=taints,
            state=states,
            source=str(self.path),
        )
        return machines, index

    def services(self, data: Mapping, resources: Resources) -> list[dict]:
        rows: list[dict] = []
        seen: set[str] = set()
        for i, raw in enumerate(self.entries(data, "services")):
            where: Where = ("services", i)
            entry = self.table(raw, where, SERVICE_KEYS)
            name = self.string(self.require(entry, "name", where), (*where, "name"))
            if name in seen:
                self.fail((*where, "name"), f"duplicate service name {name!r}")
            seen.add(name)
            replicas = self.integer(
                self.require(entry, "replicas", where), (*where, "replicas"), minimum=0
            )
            row = self.common(entry, where, resources)
            row["service"] = name
            rows.extend({**row, "id": f"{name}-{r}"} for r in range(replicas))
        return rows

    def containers(self, data: Mapping, resources: Resources) -> list[dict]:
        rows: list[dict] = []
        for i, raw in enumerate(self.entries(data, "containers")):
            where: Where = ("containers", i)
            entry = self.table(raw, where, _CONTAINER)
            row = self.common(entry, where, resources)
            row["id"] = self.string(entry.get("id", f"c{i}"), (*where, "id"))
            row["service"] = self.string(entry.get("service", ""), (*where, "service"))
            if "machine" in entry:
                row["machine"] = self.string(entry["machine"], (*where, "machine"))
            if self.boolean(entry.get("pinned", False), (*where, "pinned")):
                if "machine" not in entry:
                    self.fail(
                        (*where, "pinned"), "a pinned container needs a 'machine'"
                    )
                row["pinned"] = True
            rows.append(row)
        return rows

    def common(self, entry: Mapping, where: Where, resources: Resources) -> dict:
        """The fields services and explicit containers share."""
        row: dict[str, Any] = {"where": where}
        row["requests"] = self.amounts(
            self.require(entry, "requests", where), (*where, "requests"), resources
        )
        row["namespace"] = self.string(
            entry.get("namespace", "default"), (*where, "namespace")
        )
        row["priority"] = self.integer(entry.get("priority", 0), (*where, "priority"))
        row["labels"] = self.labels(entry.get("labels", {}), (*where, "labels"))
        selector = self.labels(
            entry.get("node_selector", {}), (*where, "node_selector")
        )
        row["node_selector"] = selector or None
        row["tolerations"] = self.strings(
            entry.get("tolerations", []), (*where, "tolerations")
        )
        row["anti_affinity"] = row["spread"] = row["affinity"] = None
        if "anti_affinity" in entry:
            at: Where = (*where, "anti_affinity")
            c = self.table(entry["anti_affinity"], at, _ANTI_AFFINITY)
            row["anti_affinity"] = AntiAffinity(
                self.string(c.get("topology_key", "machine"), (*at, "topology_key")),
                self.integer(c.get("max_per_domain", 1), (*at, "max_per_domain"), 1),
            )
        if "spread" in entry:
            at = (*where, "spread")
            c = self.table(entry["spread"], at, _SPREAD)
            row["spread"] = Spread(
                self.string(c.get("topology_key", "zone"), (*at, "topology_key")),
                self.integer(c.get("max_skew", 1), (*at, "max_skew"), 1),
            )
        if "affinity" in entry:
            at = (*where, "affinity")
            c = self.table(entry["affinity"], at, _AFFINITY)
            row["affinity"] = Affinity(
                self.string(self.require(c, "service", at), (*at, "service")),
                self.string(c.get("topology_key", "machine"), (*at, "topology_key")),
                self.boolean(c.get("required", True), (*at, "required")),
            )
        return row

    def check_rows(self, rows: list[dict], machine_index: dict[str, int]) -> None:
        """Cross-references: unique ids, known machines and affinity targets."""
        _unique(
            self,
            [r["id"] for r in rows],
            "containers",
            "container id",
            [(*r["where"], "id") for r in rows],
        )
        services = {r["service"] for r in rows}
        for r in rows:
            aff = r["affinity"]
            if aff is not None and aff.service not in services:
                self.fail(
                    (*r["where"], "affinity", "service"),
                    f"no service named {aff.service!r}",
                )
            if "machine" in r:
                if r["machine"] not in machine_index:
                    self.fail(
                        (*r["where"], "machine"), f"no machine with id {r['machine']!r}"
                    )
                r["current"] = machine_index[r["machine"]]

    def namespaces(
        self, data: Mapping, resources: Resources
    ) -> dict[str, dict[str, int]]:
        value = data.get("namespaces", {})
        if not isinstance(value, Mapping):
            self.fail(
                ("namespaces",), f"expected a table of namespaces, got {_kind(value)}"
            )
        quotas = {}
        for ns, raw in value.items():
            where: Where = ("namespaces", ns)
            entry = self.table(raw, where, ("quota",))
            if "quota" in entry:
                vec = self.amounts(entry["quota"], (*where, "quota"), resources)
                quotas[str(ns)] = {
                    r: int(vec[k])
                    for k, r in enumerate(resources.names)
                    if r in entry["quota"]
                }
        return quotas


def _containers(rows: list[dict], resources: Resources, source: str) -> Containers:
    def col(key: str) -> list:
        return [r[key] for r in rows]

    return Containers(
        np.array(col("requests"), np.int64).reshape(-1, len(resources)),
        resources,
        ids=np.array(col("id"), dtype=object),
        service=col("service"),
        namespace=col("namespace"),
        priority=np.array(col("priority"), np.int64),
        labels=col("labels"),
        node_selector=col("node_selector"),
        tolerations=col("tolerations"),
        anti_affinity=col("anti_affinity"),
        spread=col("spread"),
        affinity=col("affinity"),
        source=source,
    )


def _unique(
    builder: Builder,
    ids: list[str],
    section: str,
    what: str,
    wheres: list[Where] | None = None,
) -> dict[str, int]:
    index: dict[str, int] = {}
    for k, i in enumerate(ids):
        if i in index:
            builder.fail(wheres[k] if wheres else (section,), f"duplicate {what} {i!r}")
        index[i] = k
    return index


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _dotted(where: Where) -> str:
    out = ""
    for part in where:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out


def _mask_comments(text: str) -> str:
    """Blank out TOML comments so the line finder never matches words inside them."""
    lines = []
    for line in text.split("\n"):
        quote = None
        for k, ch in enumerate(line):
            if quote:
                quote = None if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                line = line[:k] + " " * (len(line) - k)
                break
        lines.append(line)
    return "\n".join(lines)


def _locate(text: str, where: Where) -> int | None:
    """Best-effort 1-based line of a field path in TOML or JSON text, or None."""
    pos = 0
    header: str | None = None
    for part in where:
        if isinstance(part, int):
            if header is not None:
                pattern = rf"^[ \t]*\[\[[ \t]*\"?{re.escape(header)}\"?[ \t]*\]\]"
                found = list(re.finditer(pattern, text, re.MULTILINE))
                if part >= len(found):
                    return None
                pos = found[part].end()
            else:
                element = _element(text, pos, part)
                if element is None:
                    return None
                pos = element
            header = None
            continue
        key = re.compile(rf"(?<![\w-])\"?{re.escape(str(part))}\"?[ \t]*[=:.\]]")
        found_key = key.search(text, pos)
        if found_key is None:
            return None
        pos = found_key.start()
        line_start = text.rfind("\n", 0, pos) + 1
        header = str(part) if text[line_start:pos].strip().startswith("[[") else None
    return text.count("\n", 0, pos) + 1


def _element(text: str, pos: int, index: int) -> int | None:
    """Offset of element ``index`` of the first array opening at or after ``pos``."""
    start = text.find("[", pos)
    if start < 0:
        return None
    depth, count, expecting, quote = 0, 0, False, None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch == "," and depth == 1:
            count, expecting = count + 1, True
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return None
        elif not ch.isspace():
            if depth == 1 and expecting:
                if count == index:
                    return i
                expecting = False
            if ch in "[{":
                depth += 1
                expecting = expecting or depth == 1
            elif ch in "\"'":
                quote = ch
        i += 1
    return None


def sniff(path: Path, head: str) -> bool:
    """A ``.toml`` or ``.json`` name, or a JSON object holding ``machines``."""
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        return True
    return head.lstrip().startswith("{") and '"machines"' in head


register_format("problem", read, sniff)
register_format("json", read_json, lambda path, head: False)
register_format("toml", read_toml, lambda path, head: False)
