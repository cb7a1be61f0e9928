"""See what the library reports: ``ppgan_fom.log_to_stderr()``.

The library logs with :mod:`logging` and never prints (``INFO``: faces found, weights and
device used, the reference frame, the file written; ``WARNING``: fallbacks). Python shows
nothing below ``WARNING`` until logging is configured, and in a notebook the usual
``logging.basicConfig(level=logging.INFO)`` often does nothing (another library or the
kernel configured the root logger first) or turns on every library's messages.
:func:`log_to_stderr` shows this project's messages only, in a notebook cell as in a
terminal, once each, and is safe to call more than once. (``import paddle`` itself puts an
INFO handler on the root logger; the project's loggers stop propagating to the root so
that no message is shown twice.)
"""

from __future__ import annotations

import logging
import sys
from typing import Union

__all__ = ["log_to_stderr", "LOGGERS"]

#: The loggers of this project's two packages.
LOGGERS = ("ppgan_fom", "faceutils")
_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at each message (a notebook kernel's cell
    output, a ``contextlib.redirect_stderr`` target), not the stream of its creation."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(_FORMAT))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it
        pass


def log_to_stderr(level: Union[int, str] = logging.INFO) -> logging.Handler:
    """Show this project's log messages of ``level`` and above on stderr.

    Args:
        level: ``logging.INFO`` (default: what was found and done), ``logging.DEBUG``
            (more detail) or ``logging.WARNING`` (problems only); names work too.

    Returns:
        The handler (one per process; calling again only changes the level). The
        project's loggers no longer pass messages on to the root logger's handlers.
    """
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown logging level {level!r}")
    handler = next((h for h in logging.getLogger(LOGGERS[0]).handlers
                    if isinstance(h, _StderrHandler)), None) or _StderrHandler()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False  # the root may have a handler too (paddle adds one)
        if handler not in logger.handlers:
            logger.addHandler(handler)
    return handler
