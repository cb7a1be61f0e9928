"""The face preview: the photo with a numbered square on each face found, drawn before
the long run so that the user sees which faces will move (pure numpy / OpenCV)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..types import Box

__all__ = ["draw_faces", "ANIMATED_COLOR", "SKIPPED_COLOR", "PREVIEW_SIDE"]

#: RGB colours of the squares of faces that will / will not be animated.
ANIMATED_COLOR = (40, 200, 80)
SKIPPED_COLOR = (150, 150, 150)
#: Longest side of the preview picture (the page shows it small anyway).
PREVIEW_SIDE = 960


def draw_faces(image: np.ndarray, boxes: Sequence[Box], animated: Sequence[bool],
               max_side: int = PREVIEW_SIDE) -> np.ndarray:
    """The photo, scaled down to at most ``max_side``, with face ``i`` (1-based label)
    outlined and numbered; green when it will be animated, grey when not.

    Args:
        image: ``(H, W, 3)`` uint8 RGB photo (not modified).
        boxes: square crop boxes ``(x1, y1, x2, y2)`` in photo pixels.
        animated: one flag per box.

    Returns:
        ``(h, w, 3)`` uint8 RGB, ``max(h, w) <= max_side``.
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    out = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    out = np.ascontiguousarray(out).copy()
    oh, ow = out.shape[:2]
    thick = max(2, round(max(oh, ow) / 300))
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, (box, on) in enumerate(zip(boxes, animated), 1):
        color = ANIMATED_COLOR if on else SKIPPED_COLOR
        x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
        x1, y1 = max(0, min(x1, ow - 1)), max(0, min(y1, oh - 1))
        x2, y2 = max(0, min(x2, ow - 1)), max(0, min(y2, oh - 1))
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick)
        label = str(i)
        size = max(0.6, min(2.0, (x2 - x1) / 120))
        (tw, th), base = cv2.getTextSize(label, font, size, thick)
        # the number sits in a filled tab inside the square's top-left corner
        tx2, ty2 = min(ow - 1, x1 + tw + 2 * thick), min(oh - 1, y1 + th + base + 2 * thick)
        cv2.rectangle(out, (x1, y1), (tx2, ty2), color, -1)
        cv2.putText(out, label, (x1 + thick, y1 + th + thick), font, size, (255, 255, 255),
                    thick, cv2.LINE_AA)
    return out
