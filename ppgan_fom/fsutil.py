"""Small filesystem helpers for atomic writes."""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: os.PathLike | str, target: os.PathLike | str) -> Path:
    """Give a finished temp file normal permissions (0666 minus the umask; ``mkstemp``
    makes it 0600) and move it over ``target`` atomically (same directory)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, target)
    return Path(target)
