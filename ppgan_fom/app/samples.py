"""The sample media bundled with a checkout (``docs/samples``), offered as examples on
the page when present (an installed wheel does not carry them)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

__all__ = ["SAMPLES", "sample_photo", "sample_clip", "sample_faces"]

#: docs/samples of the checkout this package runs from.
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def _existing(*names: str) -> List[Path]:
    return [p for p in (SAMPLES / n for n in names) if p.is_file()]


def sample_photo() -> Optional[Path]:
    """Rembrandt's *Syndics* (several faces), or None."""
    found = _existing("syndics_1200x900.jpg")
    return found[0] if found else None


def sample_clip() -> Optional[Path]:
    """The 3 s talking-head driving clip, or None."""
    found = _existing("driving_3s.mp4")
    return found[0] if found else None


def sample_faces() -> List[Path]:
    """Replacement faces for the Anonymize tab: the single-face portrait of PaddleGAN's
    demo and the painted faces of the *Syndics* (the largest is used)."""
    return _existing("source_256x256.png", "syndics_1200x900.jpg")
