"""Progress bars for long work: ``tqdm.auto`` (a widget in Jupyter, text in a terminal).

Bars are shown by default, also when stderr is not a terminal (a notebook's is not:
``tqdm``'s ``disable=None`` would hide them there). ``PPGAN_FOM_PROGRESS=0`` (or the
command lines' ``--quiet``) turns them off.

A program that shows progress its own way (the web app's per-frame bar) wraps a run in
:func:`progress_listener`: every bar started inside it, in the same thread or task, also
calls the listener with ``(desc, done, total)`` once when it starts and after every item,
whether the text bar is shown or not.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, Optional

__all__ = ["progress", "progress_enabled", "progress_listener", "ProgressListener",
           "ENV_PROGRESS"]

ENV_PROGRESS = "PPGAN_FOM_PROGRESS"

#: ``listener(desc, done, total)``: ``done`` items of ``total`` (None when unknown).
ProgressListener = Callable[[str, int, Optional[int]], None]

# a context variable, not a global: concurrent runs in other threads keep their own
_LISTENER: ContextVar[Optional[ProgressListener]] = ContextVar("ppgan_fom_progress_listener",
                                                               default=None)


def progress_enabled() -> bool:
    """Whether bars are shown (``PPGAN_FOM_PROGRESS`` not set to 0/false/no/off)."""
    return os.environ.get(ENV_PROGRESS, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def progress_listener(listener: ProgressListener) -> Iterator[None]:
    """Report every bar started inside the ``with`` block to ``listener`` as well."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def progress(iterable: Iterable, total: Optional[int] = None, desc: str = "",
             unit: str = "frame", **kwargs: Any) -> Iterable:
    """Wrap ``iterable`` in a ``tqdm.auto`` bar (see the module docstring); the items are
    passed through unchanged."""
    from tqdm.auto import tqdm

    bar = tqdm(iterable, total=total or None, desc=desc, unit=unit,
               disable=not progress_enabled(), **kwargs)
    listener = _LISTENER.get()
    return bar if listener is None else _reporting(bar, listener, desc, total or None)


def _reporting(bar: Iterable, listener: ProgressListener, desc: str,
               total: Optional[int]) -> Iterator:
    listener(desc, 0, total)
    for done, item in enumerate(bar, 1):
        yield item
        listener(desc, done, total)  # the consumer has finished with the item
