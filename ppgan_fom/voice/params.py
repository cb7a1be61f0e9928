"""Voice-anonymization parameters: ranges, parsing of option strings, per-run draws."""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import numpy as np

from ..errors import InputError

__all__ = ["LIMITS", "Value", "check_value", "parse_value", "draw", "new_seed", "optional_seed"]

#: a fixed value or an inclusive (low, high) range to draw one value from per run
Value = Union[float, Tuple[float, float]]

#: name -> (low, high, what): the allowed range of each parameter
LIMITS = {
    # VPC 2024 B2 draws alpha in [0.5, 0.9]; 1.0 is the identity; below 0.5 speech breaks up
    "mcadams": (0.5, 1.0, "McAdams coefficient"),
    "pitch_semitones": (-12.0, 12.0, "pitch shift (semitones)"),
    "formant_scale": (0.7, 1.4, "formant scale"),
}


def check_value(name: str, value: Value) -> Value:
    """Validate a fixed value or a (low, high) range for parameter ``name``.

    Returns the value as float or a (float, float) tuple; raises InputError with a
    one-line message when it is not a finite number inside ``LIMITS[name]``.
    """
    lo_lim, hi_lim, what = LIMITS[name]
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputError(f"{what} ({name}): a range needs two numbers, got {value!r}")
        lo, hi = (_number(name, what, v) for v in value)
        if lo > hi:
            raise InputError(f"{what} ({name}): range {lo:g}..{hi:g} is empty (low > high)")
        for v in (lo, hi):
            _in_range(name, what, v, lo_lim, hi_lim)
        return (lo, hi)
    v = _number(name, what, value)
    _in_range(name, what, v, lo_lim, hi_lim)
    return v


def parse_value(name: str, text: str) -> Value:
    """Parse an option string: ``"0.8"`` (fixed) or ``"0.5:0.9"`` / ``"0.5,0.9"``
    (drawn per run), then range-check it (InputError on bad input)."""
    what = LIMITS[name][2]
    for sep in (":", ","):
        if sep in text:
            parts = [p.strip() for p in text.split(sep)]
            if len(parts) != 2:
                raise InputError(f"{what} ({name}): cannot parse {text!r} "
                                 f"(expected a number or LOW:HIGH)")
            return check_value(name, (_parse_float(name, what, parts[0]),
                                      _parse_float(name, what, parts[1])))
    return check_value(name, _parse_float(name, what, text))


def draw(value: Value, rng: np.random.Generator) -> float:
    """The run's value: ``value`` itself, or uniform in the (low, high) range."""
    if isinstance(value, tuple):
        return float(rng.uniform(value[0], value[1]))
    return float(value)


def new_seed() -> int:
    """A fresh 63-bit seed from the OS entropy pool (recorded so a run can be redone)."""
    return int(np.random.SeedSequence().entropy % (1 << 63))


def _number(name: str, what: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{what} ({name}): {v!r} is not a number") from None
    if not math.isfinite(f):
        raise InputError(f"{what} ({name}): {v!r} is not a finite number")
    return f


def _parse_float(name: str, what: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{what} ({name}): cannot parse {text!r} "
                         f"(expected a number or LOW:HIGH)") from None


def _in_range(name: str, what: str, v: float, lo: float, hi: float) -> None:
    if not lo <= v <= hi:
        raise InputError(f"{what} ({name}) {v:g} is outside the allowed range {lo:g}..{hi:g}")


def optional_seed(seed: Optional[int]) -> Optional[int]:
    """Validate a seed: None or a non-negative int."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"voice seed {seed!r} must be a non-negative integer")
    return int(seed)
