"""Square crops of an image: cut a box out (padding outside the image by edge
replication) and resize it to the model's input size. Pure numpy/cv2.

A **box** is a square ``(x1, y1, x2, y2)`` of ints in image pixels, half-open
(``x1 <= x < x2``), with side ``s = x2 - x1 = y2 - y1 > 0``; it may extend beyond the
image borders. All images are ``uint8`` RGB ``(H, W, 3)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..types import Box

__all__ = ["box_side", "check_image", "resize_square", "extract_box", "crop_square"]


def box_side(box: Sequence[int]) -> int:
    """Side length of a square box ``(x1, y1, x2, y2)``.

    Raises:
        ValueError: the box is not 4 ints, not square, or empty.
    """
    if len(box) != 4:
        raise ValueError(f"box must be (x1, y1, x2, y2), got {box!r}")
    x1, y1, x2, y2 = (int(v) for v in box)
    if (x1, y1, x2, y2) != tuple(box):
        raise ValueError(f"box coordinates must be integers, got {box!r}")
    side = x2 - x1
    if side <= 0 or y2 - y1 != side:
        raise ValueError(f"box must be a non-empty square (x2-x1 == y2-y1 > 0), got {box!r}")
    return side


def check_image(image: np.ndarray, name: str = "image") -> None:
    """Raise ValueError unless ``image`` is an (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = (image.shape, image.dtype) if isinstance(image, np.ndarray) else type(image)
        raise ValueError(f"{name} must be an (H, W, 3) uint8 array, got {desc}")


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """Resize an ``(h, w, C)`` uint8 image (normally square) to ``(size, size, C)``.

    Uses ``INTER_AREA`` when shrinking (``size`` below both ``h`` and ``w``) and
    ``INTER_CUBIC`` otherwise (result saturated to 0..255); returns a copy without
    resampling when ``h == w == size``. Non-square input is stretched, not cropped.
    """
    h, w = img.shape[:2]
    if h == w == size:
        return img.copy()
    import cv2  # here, not at the top: `import faceutils` works without OpenCV

    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_CUBIC
    out = cv2.resize(img, (size, size), interpolation=interp)
    return out.reshape(size, size, *img.shape[2:])


def extract_box(image: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels ``(s, s, C)``; outside-image parts replicate the nearest
    edge pixel (works even for a box entirely outside the image)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
        return image[y1:y2, x1:x2]
    ys = np.clip(np.arange(y1, y2), 0, h - 1)
    xs = np.clip(np.arange(x1, x2), 0, w - 1)
    return image.take(ys, axis=0).take(xs, axis=1)


def crop_square(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Cut a square box out of an image and resize it.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        box: square ``(x1, y1, x2, y2)``; may extend past the borders, where the
            missing pixels are filled by **edge replication** (each outside pixel
            takes the value of the nearest image pixel).
        size: output side in pixels (> 0).

    Returns:
        ``(size, size, 3)`` uint8 RGB, a new array (never a view of ``image``).
        ``INTER_AREA`` when shrinking, ``INTER_CUBIC`` when enlarging, exact copy
        when ``size`` equals the box side.
    """
    check_image(image)
    if int(size) <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    box_side(box)
    return resize_square(extract_box(image, tuple(int(v) for v in box)), int(size))
