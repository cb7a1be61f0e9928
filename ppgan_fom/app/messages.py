"""Errors as the page shows them: the library's one-line message, with the server's
temp paths reduced to the file names the user uploaded; never a traceback."""

from __future__ import annotations

import errno
import re
from typing import Optional

from ..errors import FomError
from ..types import PathLike

__all__ = ["one_line", "error_message"]


def one_line(text: str) -> str:
    """Collapse ``text`` to one line (the library's messages are one line already)."""
    return " | ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def error_message(exc: BaseException, private_root: Optional[PathLike] = None) -> str:
    """The one line the page shows for a failed job.

    Args:
        exc: the exception the job raised.
        private_root: the server's temp root; a path below it is shown as its file name.

    Returns:
        The library's message for a :class:`~ppgan_fom.errors.FomError`; a plain
        sentence for running out of memory or disk; for anything else (a bug) the
        exception's type and first line, pointing to the server log for the traceback.
    """
    if isinstance(exc, FomError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory; try a shorter video or a smaller photo"
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text = "the server's disk is full; try again later or with a shorter video"
    else:
        detail = one_line(str(exc))[:300] or "no message"
        text = (f"unexpected {type(exc).__name__}: {detail} (this is a bug; the server log "
                f"has the details)")
    if private_root is not None:
        root = re.escape(str(private_root).rstrip("/"))
        text = re.sub(root + r"/(?:[^/\s]+/)*", "", text)
    return one_line(text)
