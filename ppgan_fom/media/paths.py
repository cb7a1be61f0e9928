"""Input and output path checks, temp files next to a target, atomic publishing.

Every writer in the project writes a hidden temporary file in the target's directory
(same filesystem, so ``os.replace`` is atomic) and renames it into place only when it is
complete: a failed or interrupted run never leaves a partial file at the target.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from ..errors import InputError, OutputError
from ..fsutil import publish
from ..types import PathLike

logger = logging.getLogger(__name__)

__all__ = ["VIDEO_SUFFIXES", "MP4_FAMILY", "check_input_file", "check_video_suffix",
           "ensure_writable_output", "make_temp_path", "unlink_quietly", "no_space", "publish"]

#: Output containers the video writer accepts (chosen by the target's suffix).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".gif"})
#: Suffixes of the MP4/QuickTime family (``+faststart``; aac/mp3 audio copied as is).
MP4_FAMILY = frozenset({".mp4", ".m4v", ".mov"})


def check_input_file(path: Path, error: type[InputError], what: str) -> None:
    """Raise ``error`` naming ``path`` if it is missing, a directory or unreadable."""
    if not path.exists():
        raise error(f"{what} not found: {path}")
    if path.is_dir():
        raise error(f"{what} is a directory, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise error(f"{what} is not readable (permission denied): {path}")


def check_video_suffix(path: PathLike) -> Path:
    """Raise :class:`OutputError` unless ``path`` ends in a suffix the writer accepts
    (:data:`VIDEO_SUFFIXES`); lets callers reject a bad output name before any work."""
    p = Path(path)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"unsupported video suffix {p.suffix!r} for {p} "
                          f"(use one of {', '.join(sorted(VIDEO_SUFFIXES))})")
    return p


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (resolving symlinks and hard links)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def ensure_writable_output(path: PathLike, inputs: Iterable[PathLike] = (), *,
                           suffixes: Optional[Iterable[str]] = None) -> Path:
    """Check, before any work, that ``path`` can be written.

    Creates the output directory (with parents) if needed and creates/removes a probe
    file in it.

    Args:
        path: the output file that will be written.
        inputs: input files of the run; the output must not be any of them.
        suffixes: if given, the suffixes ``path`` may have (e.g. :data:`VIDEO_SUFFIXES`);
            checked after the same-file check and before anything is created.

    Returns:
        The output path made absolute.

    Raises:
        OutputError: one line naming the path if it resolves to one of ``inputs``, has a
            suffix not in ``suffixes``, is an existing directory, or its directory cannot
            be created or written.
    """
    out = Path(path).expanduser().absolute()
    for inp in inputs:
        if _same_file(out, Path(inp).expanduser().absolute()):
            raise OutputError(f"output {out} is the same file as input {inp}; "
                              f"refusing to overwrite it")
    allowed = None if suffixes is None else sorted({s.lower() for s in suffixes})
    if allowed is not None and out.suffix.lower() not in allowed:
        raise OutputError(f"unsupported suffix {out.suffix!r} for output {out} "
                          f"(use one of {', '.join(allowed)})")
    if out.is_dir():
        raise OutputError(f"output path is a directory: {out}")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a path component is a file, not a directory"
        raise OutputError(f"cannot create output directory {parent}: {reason}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"output directory {parent} is not writable: "
                          f"{exc.strerror or exc}") from None
    return out


def make_temp_path(target: Path, tag: str = "") -> Path:
    """Create an empty hidden temp file next to ``target`` (same directory, hence same
    filesystem, so ``os.replace`` is atomic) and return its path. The suffix is kept,
    so format-by-suffix libraries write the right container."""
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.tmp-", suffix=f"{tag}{target.suffix}",
                                dir=target.parent)
    os.close(fd)
    return Path(name)


def unlink_quietly(path: Optional[Path]) -> None:
    """Remove ``path`` if it exists; a failure is logged, never raised."""
    if path is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not remove temporary file %s: %s", path, exc)


def no_space(exc: Optional[BaseException] = None, log: str = "") -> bool:
    """Whether an exception (errno ENOSPC / EDQUOT, also FFmpeg's) or a log says the disk
    is full."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = f"{exc or ''} {log}".lower()
    return "no space left on device" in text or "disk quota exceeded" in text
