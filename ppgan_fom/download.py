"""Resumable HTTP download of one file: retries with backoff, HTTP Range resume, a lock.

:func:`http_download` fills a *partial* file (``<final>.part``) with the complete body of
a URL. It never writes the final path: the caller checks the finished ``.part`` and
renames it into place (see :mod:`ppgan_fom.weights`). On a dropped connection, a timeout
or a 5xx/429 answer it waits (exponential backoff) and asks for the rest with
``Range: bytes=<have>-`` (guarded by ``If-Range`` with the server's ``ETag`` /
``Last-Modified``, so a file that changed on the server is sent whole). A server that
ignores Range (answers 200) or disagrees about the file (other size, other start) makes
the download restart cleanly from byte 0. The body must reach the size the server
announced (``Content-Length`` / ``Content-Range``); a short body counts as a drop.

When every retry has failed the ``.part`` file is *kept* (with a small ``.part.json``
recording the URL, the server's validator and the size), so running again resumes where
the last run stopped; a ``.part`` without a matching ``.part.json`` is never trusted and is
started over. :func:`directory_lock` serialises downloads into one directory across
processes, so two runs never write the same ``.part``.

Written on the standard library (``urllib``) because the retry/resume/validator logic is
what matters here and no light library does it: ``requests`` has no resume either.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional

logger = logging.getLogger(__name__)

__all__ = ["DownloadError", "http_download", "partial_path", "directory_lock"]

#: HTTP statuses worth another try: timeouts, rate limits, server-side failures.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(Exception):
    """A download failed for good. ``str(e)`` is one line; ``partial`` is the kept
    ``.part`` file (``None`` when nothing was kept), ``received`` / ``total`` its size and
    the announced size (``None`` when unknown), ``attempts`` the requests made."""

    def __init__(self, message: str, *, partial: Optional[Path] = None, received: int = 0,
                 total: Optional[int] = None, attempts: int = 0):
        super().__init__(message)
        self.partial, self.received, self.total, self.attempts = partial, received, total, attempts


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix."""


def partial_path(final: os.PathLike | str) -> Path:
    """Where the partial data of ``final`` lives: ``<final>.part`` in the same directory."""
    final = Path(final)
    return final.with_name(final.name + ".part")


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


@contextlib.contextmanager
def directory_lock(directory: os.PathLike | str) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``directory`` while the block runs.

    Other processes downloading into the same directory wait (an INFO line says so).
    Where ``flock`` is unavailable (Windows, some network file systems) this does nothing.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - unreadable directory: writing will fail clearly
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another process downloading into %s", directory)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # pragma: no cover - e.g. ENOLCK on NFS
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            logger.debug("no lock on %s (%s)", directory, exc)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read_meta(part: Path, url: str) -> Optional[dict]:
    try:
        meta = json.loads(_meta_path(part).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("url") == url else None


def _write_meta(part: Path, meta: dict) -> None:
    _meta_path(part).write_text(json.dumps(meta))


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _meta_path(part).unlink(missing_ok=True)


def _size(part: Path) -> int:
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)


def _validator(headers) -> Optional[str]:
    """A value for ``If-Range``: a strong ETag, else Last-Modified (weak ETags are not
    allowed there)."""
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified")


class _Progress:
    """A tqdm.auto byte bar created on the first response and moved on restarts/resumes."""

    def __init__(self, desc: Optional[str]):
        self.desc, self.bar = desc, None

    def at(self, n: int, total: Optional[int]) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=n, unit="B", unit_scale=True,
                            unit_divisor=1024, desc=self.desc)
        elif self.bar.n != n or self.bar.total != total:
            self.bar.reset(total=total)
            self.bar.update(n)

    def update(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _attempt(url: str, part: Path, meta: dict, progress: _Progress, *, timeout: float,
             chunk_size: int, user_agent: str) -> None:
    """One request; returns when ``part`` holds the complete body, else raises."""
    have = _size(part)
    headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if meta.get("validator"):
            headers["If-Range"] = meta["validator"]
    request = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (registry URLs)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and have and meta.get("total") == have:
            return  # the previous run had already received every byte
        if exc.code == 416:
            _discard(part)
            raise _Retry(f"the server refused the range {have}- (HTTP 416); starting over")
        if exc.code in RETRY_STATUSES:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"HTTP {exc.code} {exc.reason}") from None
    with resp:
        encoding = resp.headers.get("Content-Encoding", "identity").lower()
        if encoding not in ("identity", ""):
            raise DownloadError(f"the server sent a {encoding}-encoded body")
        if resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            total = int(m.group(3)) if m and m.group(3) != "*" else None
            known = meta.get("total")
            if not m or int(m.group(1)) != have or (known and total and total != known):
                _discard(part)  # answered a different range or another file: start over
                raise _Retry(f"unusable partial response "
                             f"(Content-Range {resp.headers.get('Content-Range')!r}); "
                             f"starting over")
            start = have
            total = total or known
        elif resp.status == 200:
            if have:
                logger.info("%s: the server sent the whole file instead of the range %d- "
                            "(Range not supported, or the file changed); starting over",
                            url, have)
            start = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise _Retry(f"unexpected HTTP {resp.status}")
        validator = _validator(resp.headers) if resp.status == 200 else meta.get("validator")
        meta.update(url=url, validator=validator, total=total)
        _write_meta(part, meta)
        progress.at(start, total)
        received = start
        with open(part, "r+b" if start else "wb") as out:
            out.seek(start)
            out.truncate()
            while True:
                block = resp.read(chunk_size)
                if not block:
                    break
                out.write(block)
                received += len(block)
                progress.update(len(block))
    if total is not None and received < total:
        raise _Retry(f"connection closed after {received} of {total} bytes")
    if total is not None and received > total:
        _discard(part)
        raise _Retry(f"received {received} bytes, more than the announced {total}; "
                     f"starting over")


def http_download(url: str, part: os.PathLike | str, *, retries: int = 4,
                  backoff: float = 1.0, max_backoff: float = 30.0, timeout: float = 60.0,
                  chunk_size: int = 1 << 16, desc: Optional[str] = None,
                  sleep: Callable[[float], None] = time.sleep) -> int:
    """Download ``url`` into the partial file ``part``, resuming what it already holds.

    Args:
        url: http(s) URL of the file.
        part: the partial file (see :func:`partial_path`); resumed only if the
            ``<part>.json`` beside it names the same URL, otherwise started over.
        retries: further attempts allowed after a failed one. An attempt that received
            data resets the count, so a flaky connection that keeps making progress is
            followed to the end.
        backoff: seconds before the first retry; doubled for each consecutive failure,
            at most ``max_backoff``. Tests pass a tiny value.
        timeout: socket timeout in seconds for connecting and for each read.
        chunk_size: bytes per read (and per progress-bar step).
        desc: label of the tqdm.auto progress bar (which starts at the resumed offset).
        sleep: the wait function (tests may record the delays).

    Returns:
        The size in bytes of the complete file now in ``part``.

    Raises:
        DownloadError: a permanent HTTP error (404, 403, ...), or every retry failed.
            The message is one line; ``part`` is kept for a later resume when it holds
            data (``e.partial``), else removed.
    """
    from .version import __version__

    part = Path(part)
    meta = _read_meta(part, url)
    if meta is None:
        if _size(part):
            logger.info("%s: no record of where it came from; starting over", part)
        _discard(part)
        meta = {"url": url}
    elif _size(part):
        logger.info("resuming %s at byte %d", part.name, _size(part))
    progress = _Progress(desc)
    attempts = failures = 0
    try:
        while True:
            attempts += 1
            before = _size(part)
            try:
                _attempt(url, part, meta, progress, timeout=timeout, chunk_size=chunk_size,
                         user_agent=f"ppgan-fom/{__version__}")
                _meta_path(part).unlink(missing_ok=True)
                return _size(part)
            except DownloadError as exc:
                _give_up(part, meta, str(exc), attempts)
            except (_Retry, OSError, http.client.HTTPException) as exc:
                # OSError covers URLError, timeouts, resets; HTTPException bad responses
                reason = _describe(exc)
            failures = 1 if _size(part) > before else failures + 1
            if failures > retries:
                _give_up(part, meta, f"{reason}; gave up after {attempts} attempts", attempts)
            delay = min(max_backoff, backoff * 2 ** (failures - 1))
            logger.warning("download of %s interrupted (%s) at %d bytes; retrying in %.3g s",
                           url, reason, _size(part), delay)
            sleep(delay)
    finally:
        progress.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Retry):
        return str(exc)
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _give_up(part: Path, meta: dict, reason: str, attempts: int) -> None:
    received = _size(part)
    if not received:
        _discard(part)
    raise DownloadError(reason, partial=part if received else None, received=received,
                        total=meta.get("total"), attempts=attempts)
