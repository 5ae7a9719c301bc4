"""fetch: checksum, resume and atomic rename against a local HTTP server."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from solver.datasets.catalog import Dataset, DatasetFile
from solver.datasets.fetch import cache_dir, download, fetch
from solver.errors import InvalidProblem

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD at /good, a corrupted copy at /bad; /drop dies half-way once."""

    drops = 0
    ranges: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        body = PAYLOAD if self.path != "/bad" else PAYLOAD[:-1] + b"x"
        start = 0
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"
            )
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if self.path == "/drop" and type(self).drops == 0:
            type(self).drops += 1
            self.wfile.write(chunk[: len(chunk) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(chunk)

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server():
    """A Range-capable HTTP server on 127.0.0.1 (random port) in a thread."""
    _Handler.drops = 0
    _Handler.ranges = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_renames(server, tmp_path):
    """A good file lands under its final name with no .part left over."""
    out = download(f"{server}/good", tmp_path / "f.bin", sha256=DIGEST, progress=False)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()


def test_corrupted_download_leaves_no_file(server, tmp_path):
    """A checksum mismatch raises and leaves neither the final nor the .part file."""
    with pytest.raises(InvalidProblem, match="sha256 mismatch"):
        download(f"{server}/bad", tmp_path / "f.bin", sha256=DIGEST, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes(server, tmp_path):
    """A dropped connection keeps the .part; the next call resumes with Range."""
    target = tmp_path / "f.bin"
    with pytest.raises(ConnectionError, match="resume"):
        download(f"{server}/drop", target, sha256=DIGEST, progress=False)
    part = tmp_path / "f.bin.part"
    assert not target.exists()
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD)
    download(f"{server}/drop", target, sha256=DIGEST, progress=False)
    assert target.read_bytes() == PAYLOAD
    assert _Handler.ranges[-1] == f"bytes={kept}-"
    assert not part.exists()


def test_fetch_dataset_into_cache(server, tmp_path, monkeypatch):
    """fetch() puts a dataset's files under $TETRIMINO_DATA/NAME and reuses them."""
    monkeypatch.setenv("TETRIMINO_DATA", str(tmp_path))
    assert cache_dir() == tmp_path
    ds = Dataset(
        "tiny",
        "t",
        "local",
        "MIT",
        "100 kB",
        "none",
        files=(DatasetFile("a.bin", f"{server}/good", DIGEST),),
    )
    (path,) = fetch(ds, progress=False)
    assert path == tmp_path / "tiny" / "a.bin"
    assert path.read_bytes() == PAYLOAD
    calls = len(_Handler.ranges)
    fetch(ds, progress=False)
    assert len(_Handler.ranges) == calls  # verified copy reused, nothing requested


def test_unfetchable_dataset_says_why(tmp_path):
    """A dataset served only through BigQuery cannot be fetched; the error says so."""
    with pytest.raises(InvalidProblem, match="BigQuery"):
        fetch("google2019", dest=tmp_path, progress=False)
