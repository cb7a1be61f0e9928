"""Resumable downloads against a local HTTP server (127.0.0.1, started in the test).

The server misbehaves on purpose: it drops the connection mid-file, ignores Range,
changes the file between requests, always fails, or serves a file that is not a
checkpoint. Files are small and the backoff tiny, so the whole module runs in seconds.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import pytest

from ppgan_fom import download as D
from ppgan_fom import checkpoint as CK
from ppgan_fom import weights as W
from ppgan_fom.errors import WeightsError

FAST = dict(backoff=0.001, timeout=5, chunk_size=4096)


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes
    ranges: bool = True            # honour Range (206) or always send the whole file (200)
    drop_after: List[int] = field(default_factory=list)  # per request: close after n bytes
    status: int = 200              # e.g. 503 to fail every time
    etag: Optional[str] = '"v1"'
    later_body: Optional[bytes] = None  # served from the 2nd request on (file changed)


@dataclass
class Seen:
    path: str
    range: Optional[str]
    if_range: Optional[str]


class Server:
    def __init__(self):
        self.routes: Dict[str, Route] = {}
        self.seen: List[Seen] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                owner.seen.append(Seen(self.path, self.headers.get("Range"),
                                       self.headers.get("If-Range")))
                route = owner.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                n_req = sum(s.path == self.path for s in owner.seen)
                body = route.later_body if route.later_body is not None and n_req > 1 \
                    else route.body
                start, status = 0, 200
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                valid = self.headers.get("If-Range") in (None, route.etag)
                if m and route.ranges and valid:
                    start, status = int(m.group(1)), 206
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                chunk = body[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(chunk)))
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.ranges:
                    self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                drops = route.drop_after
                if drops:
                    cut = drops.pop(0)
                    self.wfile.write(chunk[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _payload(n: int = 50_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _requests(server, path):
    return [s for s in server.seen if s.path == path]


def test_dropped_connection_resumes_with_range(server, tmp_path):
    body = _payload()
    server.routes["/w.bin"] = Route(body, drop_after=[12_345, 20_000])
    part = tmp_path / "w.bin.part"
    assert D.http_download(server.url("/w.bin"), part, **FAST) == len(body)
    assert part.read_bytes() == body
    seen = _requests(server, "/w.bin")
    assert [s.range for s in seen] == [None, "bytes=12345-", "bytes=32345-"]
    assert all(s.if_range == '"v1"' for s in seen[1:])  # resume guarded by the ETag
    assert not (tmp_path / "w.bin.part.json").exists()


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    body = _payload(seed=1)
    server.routes["/w.bin"] = Route(body, ranges=False, drop_after=[30_000])
    part = tmp_path / "w.bin.part"
    D.http_download(server.url("/w.bin"), part, **FAST)
    assert part.read_bytes() == body  # not 30 000 bytes + the whole file again
    assert [s.range for s in _requests(server, "/w.bin")] == [None, "bytes=30000-"]


def test_file_of_other_size_on_resume_restarts(server, tmp_path):
    old, new = _payload(seed=2), _payload(60_000, seed=3)
    # no ETag to guard the resume: the 206 announces another total size, so the kept
    # bytes belong to another file and the download starts over
    server.routes["/w.bin"] = Route(old, drop_after=[10_000], later_body=new, etag=None)
    part = tmp_path / "w.bin.part"
    D.http_download(server.url("/w.bin"), part, **FAST)
    assert part.read_bytes() == new
    assert [s.range for s in _requests(server, "/w.bin")] == [None, "bytes=10000-", None]


def test_file_changed_between_runs_is_downloaded_whole(server, tmp_path):
    old, new = _payload(seed=2), _payload(seed=3)  # same size: only If-Range can tell
    server.routes["/w.bin"] = Route(old, drop_after=[10_000], etag='"old"')
    part = tmp_path / "w.bin.part"
    with pytest.raises(D.DownloadError):
        D.http_download(server.url("/w.bin"), part, retries=0, **FAST)
    server.routes["/w.bin"] = Route(new, etag='"new"')
    D.http_download(server.url("/w.bin"), part, **FAST)
    assert part.read_bytes() == new
    last = _requests(server, "/w.bin")[-1]
    assert last.range == "bytes=10000-" and last.if_range == '"old"'  # server sent it all


def test_resume_across_runs_and_progress_starts_at_offset(server, tmp_path, monkeypatch):
    body = _payload(seed=4)
    server.routes["/w.bin"] = Route(body, drop_after=[25_000])
    part = tmp_path / "w.bin.part"
    with pytest.raises(D.DownloadError) as e:
        D.http_download(server.url("/w.bin"), part, retries=0, **FAST)
    assert e.value.partial == part and e.value.received == 25_000 and e.value.total == len(body)
    assert part.stat().st_size == 25_000 and (tmp_path / "w.bin.part.json").is_file()

    import tqdm.auto

    bars = []

    class Bar(tqdm.auto.tqdm):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    D.http_download(server.url("/w.bin"), part, **FAST)
    assert part.read_bytes() == body
    assert _requests(server, "/w.bin")[-1].range == "bytes=25000-"
    assert len(bars) == 1 and bars[0].total == len(body) and bars[0].n == len(body)
    assert bars[0].initial == 25_000  # the bar continued from the kept bytes


def test_part_file_without_record_is_not_trusted(server, tmp_path):
    body = _payload(seed=5)
    server.routes["/w.bin"] = Route(body)
    part = tmp_path / "w.bin.part"
    part.write_bytes(b"junk from somewhere else")
    D.http_download(server.url("/w.bin"), part, **FAST)
    assert part.read_bytes() == body
    assert _requests(server, "/w.bin")[0].range is None


@pytest.mark.parametrize("failure", ["http-503", "drop-at-0"])
def test_always_failing_server_exhausts_retries(server, tmp_path, failure):
    if failure == "http-503":
        server.routes["/w.bin"] = Route(b"", status=503)
        expected = "HTTP 503"
    else:  # headers arrive, then the connection closes before any byte
        server.routes["/w.bin"] = Route(_payload(), drop_after=[0] * 4)
        expected = "connection closed after 0 of 50000 bytes"
    delays = []
    part = tmp_path / "w.bin.part"
    with pytest.raises(D.DownloadError, match=f"{expected}.*gave up after 4 attempts"):
        D.http_download(server.url("/w.bin"), part, retries=3, backoff=0.01, sleep=delays.append)
    assert len(_requests(server, "/w.bin")) == 4
    assert delays == [0.01, 0.02, 0.04]  # exponential backoff
    assert not part.exists() and not (tmp_path / "w.bin.part.json").exists()


def test_not_found_is_not_retried(server, tmp_path):
    with pytest.raises(D.DownloadError, match="HTTP 404"):
        D.http_download(server.url("/missing.bin"), tmp_path / "m.part", **FAST)
    assert len(server.seen) == 1


# ----------------------------------------------------------------- through resolve_weights

@pytest.fixture
def registry(tmp_path, monkeypatch, server):
    """A registry entry served by the local server; caches in tmp; network allowed."""
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(W.ENV_OFFLINE, raising=False)

    def add(body: bytes, sha256: Optional[str] = None, **route):
        server.routes["/models/tiny.pdparams"] = Route(body, **route)
        spec = W.WeightSpec("tiny", server.url("/models/tiny.pdparams"), "tiny.pdparams",
                            "test", sha256=sha256)
        monkeypatch.setitem(W.REGISTRY, "tiny", spec)
        return spec

    return add


def _checkpoint_bytes(tmp_path) -> bytes:
    state = {"generator": {"w": np.arange(3000, dtype=np.float32)}, "kp_detector": {}}
    return CK.save_checkpoint(tmp_path / "src.pdparams", state).read_bytes()


FAST_DL = functools.partial(D.http_download, **FAST)


def test_resolve_resumes_and_publishes_only_complete_file(registry, server, tmp_path):
    body = _checkpoint_bytes(tmp_path)
    registry(body, drop_after=[5_000])
    p = W.resolve_weights("tiny", downloader=FAST_DL)
    assert p == tmp_path / "cache" / "tiny.pdparams" and p.read_bytes() == body
    assert (p.parent / "tiny.pdparams.sha256").read_text().strip() == \
        hashlib.sha256(body).hexdigest()
    assert sorted(x.name for x in p.parent.iterdir()) == ["tiny.pdparams",
                                                          "tiny.pdparams.sha256"]
    assert [s.range for s in server.seen] == [None, "bytes=5000-"]


@pytest.mark.parametrize("case", ["html", "checksum"])
def test_wrong_file_is_refused_and_nothing_is_left(registry, tmp_path, case):
    good = _checkpoint_bytes(tmp_path)
    if case == "html":
        registry(b"<html><body>Service temporarily unavailable</body></html>")
    else:
        registry(good, sha256=hashlib.sha256(good + b"x").hexdigest())
    with pytest.raises(WeightsError) as e:
        W.resolve_weights("tiny", downloader=FAST_DL)
    msg = str(e.value)
    assert "\n" not in msg and "tiny.pdparams" in msg and "/models/tiny.pdparams" in msg
    assert ("not a usable checkpoint" if case == "html" else "expected") in msg
    assert list((tmp_path / "cache").iterdir()) == []  # no final file, no .part, no sidecar


def test_retries_exhausted_is_one_line_with_url_and_hint(registry, tmp_path):
    spec = registry(b"", status=503)
    with pytest.raises(WeightsError) as e:
        W.resolve_weights("tiny", downloader=functools.partial(D.http_download, retries=2,
                                                               **FAST))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"could not download weights 'tiny' from {spec.url} (HTTP 503")
    assert "gave up after 3 attempts" in msg and "by hand" in msg
    assert str(tmp_path / "cache" / "tiny.pdparams") in msg
    assert list((tmp_path / "cache").iterdir()) == []


def test_interrupted_download_is_resumed_by_the_next_run(registry, server, tmp_path):
    body = _checkpoint_bytes(tmp_path)
    registry(body, drop_after=[4_000])
    with pytest.raises(WeightsError, match=r"4000 bytes kept in .*tiny.pdparams.part, run "
                                           r"again to resume"):
        W.resolve_weights("tiny", downloader=functools.partial(D.http_download, retries=0,
                                                               **FAST))
    assert not (tmp_path / "cache" / "tiny.pdparams").exists()
    p = W.resolve_weights("tiny", downloader=FAST_DL)
    assert p.read_bytes() == body and server.seen[-1].range == "bytes=4000-"
