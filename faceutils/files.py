"""Face detection on image files."""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np

from ppgan_fom.errors import InputError

from .base import FaceDetector

__all__ = ["read_rgb", "detect_file"]

PathLike = Union[str, "os.PathLike[str]"]


def read_rgb(path: PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Uses the project's reader ``ppgan_fom.video_io.read_image`` (EXIF rotation,
    greyscale/alpha/16-bit handling); a minimal Pillow reader stands in if that
    module is missing.

    Raises:
        InputError: one line naming the file (missing, not an image, truncated).
    """
    try:
        from ppgan_fom.media import read_image
    except ImportError:  # pragma: no cover - only before video_io existed
        read_image = _read_with_pillow
    return read_image(path)


def _read_with_pillow(path: PathLike) -> np.ndarray:  # pragma: no cover - fallback
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read image {path}: {reason}") from None


def detect_file(path: PathLike, detector: Optional[FaceDetector] = None) -> np.ndarray:
    """Detect faces in an image file.

    Args:
        path: image file.
        detector: a detector from :func:`faceutils.create_detector` (default one if None).

    Returns:
        ``(N, 5)`` float32 ``[x1, y1, x2, y2, score]`` in the file's pixels.

    Raises:
        InputError: the file is missing, not an image or truncated (names the file).
    """
    image = read_rgb(path)
    if detector is None:
        from .registry import create_detector

        detector = create_detector()
    return detector.detect(image)
