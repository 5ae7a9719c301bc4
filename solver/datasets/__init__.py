"""Instance readers: one module per file format, one registry, one ``read``.

``read(path)`` sniffs the format from the file name and its first lines, calls that
format's reader and fills ``best_known`` from an ``optima.csv`` next to the file (or
in a parent folder up to two levels up) with columns
``instance,best_known,is_optimal``.
A new format is one module that calls :func:`register_format` and one import line at the
end of this file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InvalidProblem
from ..model import Problem

#: How many characters of a file a sniffer sees.
SNIFF_CHARS = 4096
_OPTIMA_LEVELS = 3


@dataclass(frozen=True)
class _Format:
    reader: Callable[[Path], Problem]
    sniff: Callable[[Path, str], bool]


_FORMATS: dict[str, _Format] = {}


def register_format(
    name: str,
    reader: Callable[[Path], Problem],
    sniff: Callable[[Path, str], bool],
) -> None:
    """Make ``read(path, format=name)`` call ``reader(path)``.

    ``sniff(path, head)`` gets the path and the first :data:`SNIFF_CHARS` characters of
    the file and says whether the file looks like this format; ``format="auto"`` tries
    the most recently registered format first, so a specific format registered after a
    generic one wins.
    """
    _FORMATS[name] = _Format(reader, sniff)


def formats() -> list[str]:
    """Every format name ``read`` accepts (besides ``auto``), in registration order."""
    return list(_FORMATS)


def detect(path: str | Path) -> str:
    """The format ``path`` looks like; raises InvalidProblem when none fits."""
    path = Path(path)
    head = _head(path)
    for name in reversed(_FORMATS):
        if _FORMATS[name].sniff(path, head):
            return name
    raise InvalidProblem(
        f"{path}: line 1: cannot tell the file format; pass one of "
        f"{', '.join(formats())} explicitly"
    )


def read(path: str | Path, format: str = "auto") -> Problem:
    """Read one instance file into a Problem.

    Parameters
    ----------
    path : str or Path
        The instance file.
    format : str
        ``auto`` (sniff it) or one of :func:`formats`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InvalidProblem
        When the file is malformed; the message names the file, the line and the field.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise InvalidProblem(f"{path}: not a regular file")
        raise FileNotFoundError(f"{path}: no such file")
    name = detect(path) if format == "auto" else format
    if name not in _FORMATS:
        raise InvalidProblem(
            f"{path}: unknown format {name!r}; known formats: auto, "
            f"{', '.join(formats())}"
        )
    problem = _FORMATS[name].reader(path)
    problem.metadata.setdefault("format", name)
    if problem.best_known is None:
        known = optimum(path)
        if known is not None:
            problem.best_known, problem.metadata["is_optimal"] = known
    return problem


def optimum(path: str | Path) -> tuple[int, bool] | None:
    """``(best_known, is_optimal)`` of ``path`` from the nearest ``optima.csv``.

    The instance name is the file name without its extension; the file's own folder is
    searched first, then up to two parent folders (benchmarks that keep one table for
    several sub-folders).
    """
    path = Path(path).absolute()
    folder = path.parent
    for _ in range(_OPTIMA_LEVELS):
        table = folder / "optima.csv"
        if table.is_file():
            rows = _optima(table, table.stat().st_mtime_ns)
            if path.stem in rows:
                return rows[path.stem]
        folder = folder.parent
    return None


@lru_cache(maxsize=64)
def _optima(table: Path, _mtime: int) -> dict[str, tuple[int, bool]]:
    """Parse one optima table; the modification time is part of the cache key."""
    out: dict[str, tuple[int, bool]] = {}
    with table.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"instance", "best_known"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidProblem(
                f"{table}: line 1: missing column {sorted(missing)[0]!r}"
            )
        for row in reader:
            value = (row.get("best_known") or "").strip()
            try:
                best = int(value)
            except ValueError:
                raise InvalidProblem(
                    f"{table}: line {reader.line_num}, field 'best_known': "
                    f"{value!r} is not a whole number"
                ) from None
            flag = (row.get("is_optimal") or "").strip().lower() in {"true", "1", "yes"}
            out[row["instance"].strip()] = (best, flag)
    return out


def _head(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as fh:
        return fh.read(SNIFF_CHARS)


def read_text(path: Path) -> str:
    """The file as UTF-8 text; other bytes are InvalidProblem naming the line."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InvalidProblem(f"{path}: line {line}: not UTF-8 text") from None


def text_lines(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank lines as ``(line number, tokens)``, 1-based."""
    return [
        (i, line.split()) for i, line in enumerate(text.splitlines(), 1) if line.strip()
    ]


def quick_integers(text: str) -> tuple[np.ndarray, int] | None:
    """All tokens as int64 and the count of non-blank lines, or None if any is not.

    The fast path of the integer text readers: one vectorised conversion for the whole
    file. Readers fall back to their line-by-line parser (which names the bad line)
    whenever this returns None or the counts do not match the header.
    """
    try:
        values = np.array(text.split(), dtype=np.int64)
    except (ValueError, OverflowError):
        return None
    return values, sum(1 for line in text.splitlines() if line.strip())


def integer(token: str, path: Path, line: int, field: str) -> int:
    """One whole number of a text instance; a bad token names file, line and field."""
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise InvalidProblem(
            f"{path}: line {line}, field {field!r}: {token!r} is not a number"
        ) from None
    if value.is_integer():
        return int(value)
    raise InvalidProblem(
        f"{path}: line {line}, field {field!r}: {token!r} is not a whole number"
    )


def integer_table(
    rows: list[tuple[int, list[str]]], path: Path, fields: list[str]
) -> np.ndarray:
    """Rows of equally many integer tokens as an int64 table (n, len(fields)).

    The common case is one vectorised conversion; when it fails, the tokens are parsed
    one by one so the error names the first bad token's line and field (whole floats
    such as ``12.0`` are accepted).
    """
    width = len(fields)
    flat = [t for _, tokens in rows for t in tokens]
    try:
        return np.array(flat, dtype=np.int64).reshape(len(rows), width)
    except (ValueError, OverflowError):
        return np.array(
            [
                [integer(t, path, line, fields[k]) for k, t in enumerate(tokens)]
                for line, tokens in rows
            ],
            dtype=np.int64,
        ).reshape(len(rows), width)


def first_negative(
    table: np.ndarray, rows: list[tuple[int, list[str]]], path: Path, fields: list[str]
) -> None:
    """Raise InvalidProblem naming the line and field of the first negative entry."""
    bad = np.argwhere(table < 0)
    if len(bad):
        r, k = (int(x) for x in bad[0])
        what = "demand" if fields[k] == "demand" else "size"
        raise InvalidProblem(
            f"{path}: line {rows[r][0]}, field {fields[k]!r}: "
            f"negative {what} {table[r, k]}"
        )


def one_integer(tokens: list[str], path: Path, line: int, field: str) -> int:
    """The single whole number a header line must hold."""
    if len(tokens) != 1:
        raise InvalidProblem(
            f"{path}: line {line}, field {field!r}: expected one number, "
            f"found {len(tokens)}"
        )
    return integer(tokens[0], path, line, field)


from . import alibaba2018, azure, google, openb  # noqa: E402
from . import bpplib as bpplib  # noqa: E402  (each module registers its formats)
from . import generators as generators  # noqa: E402
from . import problem_file as problem_file  # noqa: E402
from . import roadef as roadef  # noqa: E402
from . import vbp as vbp  # noqa: E402

for _name, _reader, _sniff in (
    ("openb", openb.read_openb, openb.sniff),
    ("alibaba2018", alibaba2018.read_alibaba2018, alibaba2018.sniff),
    ("google2011", google.read_google2011, google.sniff_2011),
    ("google2019", google.read_google2019, google.sniff_2019),
    ("azure2020", azure.read_azure, azure.sniff),
):  # trace readers sniff from the path alone
    register_format(_name, _reader, lambda path, head, _s=_sniff: _s(path))

__all__ = ["SNIFF_CHARS", "detect", "formats", "optimum", "read", "register_format"]
