"""Progress bars for long work: ``tqdm.auto`` (a widget in Jupyter, text in a terminal).

Bars are shown by default, also when stderr is not a terminal (a notebook's is not:
``tqdm``'s ``disable=None`` would hide them there). ``PPGAN_FOM_PROGRESS=0`` (or the
command lines' ``--quiet``) turns them off.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional

__all__ = ["progress", "progress_enabled", "ENV_PROGRESS"]

ENV_PROGRESS = "PPGAN_FOM_PROGRESS"


def progress_enabled() -> bool:
    """Whether bars are shown (``PPGAN_FOM_PROGRESS`` not set to 0/false/no/off)."""
    return os.environ.get(ENV_PROGRESS, "1").strip().lower() not in ("0", "false", "no", "off")


def progress(iterable: Iterable, total: Optional[int] = None, desc: str = "",
             unit: str = "frame", **kwargs: Any):
    """Wrap ``iterable`` in a ``tqdm.auto`` bar (see the module docstring)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total or None, desc=desc, unit=unit,
                disable=not progress_enabled(), **kwargs)
