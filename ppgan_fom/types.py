"""Type aliases shared across the project (no third-party imports)."""

from __future__ import annotations

import os
from typing import Tuple, Union

__all__ = ["PathLike", "Box"]

#: A filesystem path given as ``str`` or ``os.PathLike``.
PathLike = Union[str, "os.PathLike[str]"]

#: A square ``(x1, y1, x2, y2)`` box of ints in image pixels, half-open, side > 0; it may
#: hang over the image borders.
Box = Tuple[int, int, int, int]
