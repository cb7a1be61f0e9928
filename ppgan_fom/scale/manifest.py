"""``OUT/manifest.json``: every input of a folder run with its status, timing, tracks and
error, rewritten atomically whenever a video changes state (so it is always a complete
JSON file, also after a crash, and a rerun can read it)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from ..errors import OutputError
from ..fsutil import publish
from ..types import PathLike

logger = logging.getLogger(__name__)

__all__ = ["Manifest", "STATUSES", "MANIFEST_VERSION"]

MANIFEST_VERSION = 1
#: pending: not started; running: on a worker; done: output written in this run;
#: skipped: the output existed already (an earlier run made it); failed: see ``error``.
STATUSES = ("pending", "running", "done", "skipped", "failed")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Manifest:
    """The manifest of a folder run.

    Args:
        path: the JSON file (``OUT/manifest.json``).
        header: run-level fields (input and output folders, targets, workers, ...).
        keys: the inputs of this run (manifest keys, see
            :class:`~ppgan_fom.scale.planning.VideoJob`); entries of an earlier run for
            the same keys are loaded, so a skipped video keeps its earlier details.
    """

    def __init__(self, path: PathLike, header: Dict[str, Any], keys: Iterable[str]) -> None:
        self.path = Path(path)
        self.header = dict(header)
        previous = self._load_previous()
        self.entries: Dict[str, Dict[str, Any]] = {
            k: dict(previous.get(k, {}), input=k) for k in keys}
        self.started = _now()

    def _load_previous(self) -> Dict[str, Dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {e["input"]: e for e in data.get("videos", []) if "input" in e}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            logger.warning("ignoring unreadable manifest %s (%s)", self.path, exc)
            return {}

    def set(self, key: str, status: str, **fields: Any) -> None:
        """Set ``key``'s status and fields (``error`` and ``bad_input`` are cleared
        unless given)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        entry = self.entries[key]
        for stale in ("error", "bad_input"):
            if stale not in fields:
                entry.pop(stale, None)
        entry.update(fields)
        entry["status"] = status

    def get(self, key: str) -> Dict[str, Any]:
        return self.entries[key]

    def counts(self) -> Dict[str, int]:
        """Number of videos per status."""
        out = {s: 0 for s in STATUSES}
        for e in self.entries.values():
            out[e.get("status", "pending")] += 1
        return out

    def as_dict(self, finished: Optional[str] = None) -> Dict[str, Any]:
        return {"version": MANIFEST_VERSION, **self.header, "started": self.started,
                "updated": _now(), "finished": finished, "counts": self.counts(),
                "videos": [self.entries[k] for k in sorted(self.entries)]}

    def save(self, finished: bool = False) -> Dict[str, Any]:
        """Write the manifest atomically (temp file in the same folder, then rename);
        return what was written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.as_dict(_now() if finished else None)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2)
                fh.write("\n")
            publish(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise OutputError(f"cannot write the manifest {self.path}: "
                              f"{exc.strerror or exc}") from None
        return data
