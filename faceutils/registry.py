"""Detector selection by name.

``create_detector(None)`` gives the default, the embedded BlazeFace detector,
because it needs no download and is fast on a CPU; ``'s3fd'`` is PaddleGAN's
detector and needs its 90 MB weights (downloaded through the weights registry).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional

from ppgan_fom.errors import InputError

from .base import FaceDetector

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_DETECTOR", "available_detectors", "create_detector", "DETECTORS"]

DEFAULT_DETECTOR = "blazeface"


def _blazeface(**options: Any) -> FaceDetector:
    from .blazeface import BlazeFaceDetector

    return BlazeFaceDetector(**options)


def _s3fd(**options: Any) -> FaceDetector:
    from .s3fd import S3FDDetector

    return S3FDDetector(**options)


#: name -> (factory, one-line description)
DETECTORS: Dict[str, tuple] = {
    "blazeface": (_blazeface, "BlazeFace back-camera model, embedded weights, no download"),
    "s3fd": (_s3fd, "PaddleGAN's S3FD (VGG16), 90 MB weights downloaded on first use"),
}


def available_detectors() -> List[str]:
    """Names accepted by :func:`create_detector`, the default first."""
    return [DEFAULT_DETECTOR] + sorted(n for n in DETECTORS if n != DEFAULT_DETECTOR)


def create_detector(name: Optional[str] = None, **options: Any) -> FaceDetector:
    """Create a face detector by name.

    Args:
        name: one of :func:`available_detectors`; ``None`` = ``'blazeface'``.
        **options: keyword arguments of the backend class (e.g. ``weights=``,
            ``score_threshold=``, ``max_side=``; BlazeFace also ``tiles=``).

    Returns:
        An object with ``detect(image) -> (N, 5)`` and ``detect_batch(images)``.

    Raises:
        InputError: unknown name.
        WeightsError: the backend's weights cannot be obtained or do not match.
    """
    key = DEFAULT_DETECTOR if name is None else str(name).strip().lower()
    entry = DETECTORS.get(key)
    if entry is None:
        raise InputError(f"unknown face detector {name!r} "
                         f"(choose from: {', '.join(available_detectors())})")
    factory: Callable[..., FaceDetector] = entry[0]
    detector = factory(**options)
    logger.info("face detector: %s%s", key, " (default)" if name is None else "")
    return detector
