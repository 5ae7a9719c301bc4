"""Download public datasets into a local cache, verified and resumable.

The cache is ``$TETRIMINO_DATA`` (default ``~/.cache/tetrimino``), one folder per
dataset. A file is written to ``NAME.part`` first; an interrupted download resumes from
it with an HTTP ``Range`` request; the finished file is checked against the catalog's
sha256 (when one is published), flushed to disk and only then renamed to its final name,
so a final name never holds a partial or corrupted file. The tests never need this.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..errors import InvalidProblem
from .catalog import Dataset, info

CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where datasets are kept: ``$TETRIMINO_DATA`` or ``~/.cache/tetrimino``."""
    env = os.environ.get("TETRIMINO_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tetrimino"


def fetch(
    dataset: str | Dataset,
    *,
    dest: str | Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> list[Path]:
    """Download every file of ``dataset`` into ``dest/NAME`` (default: the cache).

    Files already present and matching their checksum are not downloaded again.
    Returns the local paths. Raises :class:`InvalidProblem` for an unknown dataset, one
    that cannot be fetched over HTTP, or a checksum mismatch, and
    :class:`ConnectionError` when the transfer breaks (run again to resume).
    """
    d = info(dataset) if isinstance(dataset, str) else dataset
    if not d.files:
        raise InvalidProblem(
            f"dataset {d.name!r} cannot be fetched over HTTP: "
            f"{d.checksum_note or d.source}"
        )
    folder = (Path(dest) if dest is not None else cache_dir()) / d.name
    return [
        download(
            f.url, folder / f.name, sha256=f.sha256, progress=progress, timeout=timeout
        )
        for f in d.files
    ]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(
    url: str,
    target: str | Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``target`` via ``target.part``, resuming and verifying.

    A checksum mismatch deletes the ``.part`` file and raises InvalidProblem; a broken
    connection keeps it (flushed) and raises ConnectionError, so the next call resumes.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if sha256 is None or sha256_of(target) == sha256:
            return target
        target.unlink()
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "tetrimino"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not offset:
            raise ConnectionError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        response = None  # the .part already holds the whole file
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"{url}: {exc}") from None
    if response is not None:
        with response:
            if response.status != 206:
                offset = 0  # the server ignored the range: start again
            _receive(url, response, part, offset, progress)
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            part.unlink()
            raise InvalidProblem(
                f"{url}: sha256 mismatch (expected {sha256}, got {got}); the download "
                "was discarded"
            )
    os.replace(part, target)
    _fsync_dir(target.parent)
    return target


def _receive(url: str, response, part: Path, offset: int, progress: bool) -> None:
    length = response.headers.get("Content-Length")
    expected = int(length) if length is not None else None
    received = 0
    total = None if expected is None else offset + expected
    with (
        part.open("r+b" if offset else "wb") as fh,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            disable=not progress,
            desc=part.name[: -len(".part")],
            leave=False,
        ) as bar,
    ):
        fh.seek(offset)
        fh.truncate()
        try:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                fh.write(block)
                received += len(block)
                bar.update(len(block))
        except (http.client.HTTPException, OSError) as exc:
            _flush(fh)
            raise ConnectionError(
                f"{url}: download interrupted after {offset + received} bytes ({exc}); "
                f"fetch again to resume from {part.name}"
            ) from None
        _flush(fh)
    if expected is not None and received < expected:
        raise ConnectionError(
            f"{url}: download interrupted after {offset + received} of "
            f"{offset + expected} bytes; fetch again to resume from {part.name}"
        )


def _flush(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
