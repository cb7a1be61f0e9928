"""The web app's files on disk: one temporary root per server process.

::

    <root>/cache/            Gradio's upload folder: uploads, and the results served
    <root>/cache/results/    finished results, one unguessable folder per job
    <root>/jobs/             a job's working folder, removed when the job ends

A job works in its own folder under ``jobs/`` (the library writes its temp files next
to the output), and only its finished files are moved to ``cache/results/``; the job
folder is removed whether the job succeeded or failed, so nothing of a job is left in a
temp dir but the files the page serves. Results older than ``keep_seconds`` are
removed when the next job starts; the whole root when the server stops.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from ..types import PathLike

logger = logging.getLogger(__name__)

__all__ = ["Workspace"]


class Workspace:
    """A temporary root for uploads, job folders and results (see the module docstring).

    Args:
        parent: where to create the root (default: the system temp dir).
        keep_seconds: age after which finished results are removed.
    """

    def __init__(self, parent: Optional[PathLike] = None, keep_seconds: float = 3600.0):
        self.root = Path(tempfile.mkdtemp(prefix="ppgan_fom_app-",
                                          dir=None if parent is None else str(parent)))
        self.cache = self.root / "cache"
        self.results = self.cache / "results"
        self.jobs = self.root / "jobs"
        for d in (self.cache, self.results, self.jobs):
            d.mkdir()
        self.keep_seconds = float(keep_seconds)

    @contextmanager
    def job(self) -> Iterator[Path]:
        """A fresh working folder for one job, removed (with everything in it) on exit."""
        path = Path(tempfile.mkdtemp(prefix="job-", dir=self.jobs))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def publish(self, *paths: PathLike) -> List[Path]:
        """Move finished files (keeping their names) into one new folder under
        ``results/``; return their new paths."""
        folder = self.results / uuid.uuid4().hex
        folder.mkdir()
        return [Path(shutil.move(str(p), str(folder / Path(p).name))) for p in paths]

    def sweep(self, now: Optional[float] = None) -> int:
        """Remove result folders older than ``keep_seconds``; return how many."""
        now = time.time() if now is None else now
        removed = 0
        for folder in self.results.iterdir():
            try:
                old = now - folder.stat().st_mtime > self.keep_seconds
            except FileNotFoundError:
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Remove the whole root (uploads, results, any job folder)."""
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
            logger.info("removed %s", self.root)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
