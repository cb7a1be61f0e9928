"""The faces of a still image (a photo to animate, a target face): detected, turned into
square crop boxes, refused with a one-line error when there is none."""

from __future__ import annotations

import logging
from typing import List

import numpy as np

from ..errors import NoFaceError
from ..geometry import face_crop_boxes
from ..types import Box

logger = logging.getLogger(__name__)

__all__ = ["find_faces"]


def find_faces(detector, image: np.ndarray, what: str, margin: float,
               largest_only: bool, hint: str = "") -> List[Box]:
    """Square crop boxes ``(x1, y1, x2, y2)`` of the faces in an ``(H, W, 3)`` uint8 image,
    in detection order (or only the largest).

    Args:
        detector: a ``faceutils`` detector.
        what: how the image is named in messages (e.g. ``"target face image x.png"``).
        margin: space around each face, per side, in face sizes.
        hint: added to the log line when only the largest of several faces is kept.

    Raises:
        NoFaceError: ``no face found in <what>``.
    """
    dets = detector.detect(image)
    if len(dets) == 0:
        raise NoFaceError(f"no face found in {what}")
    boxes = face_crop_boxes(dets, image.shape, margin=margin, largest_only=largest_only)
    logger.info("%d face(s) found in %s; using %s", len(dets), what,
                f"the largest{hint}" if largest_only and len(dets) > 1 else len(boxes))
    return [tuple(int(v) for v in b) for b in boxes]
