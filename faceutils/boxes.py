"""Face boxes for animation, in pure numpy.

From a detection ``[x1, y1, x2, y2, score]`` this makes the *square* crop box
that is fed to the First Order Motion Model:

* centred on the face box, side ``(1 + 2 * margin) * max(w, h)``; the default
  margin 0.5 makes the side twice the face size, so the face fills about half
  the crop, like the VoxCeleb crops the released models were trained on
  (PaddleGAN's demo source image ``fom_source_image.png`` has its face box at
  0.52 of the side);
* never stretched: PaddleGAN cuts a 1.6:2 box and resizes it to a square,
  which distorts the face;
* at image borders (``mode='shift'``, default) the square is moved inward so it
  stays inside the image while it fits; along an axis where it is larger than
  the image it stays centred on the face and hangs over both sides, and the
  crop function pads the outside. ``mode='pad'`` always centres on the face
  (overhang allowed); ``mode='clip'`` shrinks the square to fit the image.

Boxes are ``(x1, y1, x2, y2)`` integer pixel edges (``x2``/``y2`` exclusive),
``x2 - x1 == y2 - y1``, and may extend beyond the image except in ``clip`` mode.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

__all__ = ["DEFAULT_MARGIN", "MODES", "square_box", "box_iou", "dedupe_boxes",
           "order_by_area", "face_crop_boxes"]

DEFAULT_MARGIN = 0.5
MODES = ("shift", "pad", "clip")

Box = Tuple[int, int, int, int]


def _place(centre: float, side: int, limit: int, mode: str) -> int:
    """Start coordinate of a ``side`` window centred at ``centre`` on an axis of length ``limit``."""
    start = int(np.floor(centre - side / 2.0 + 0.5))
    if mode == "pad" or side > limit:
        return start
    return min(max(start, 0), limit - side)


def square_box(det_row: Sequence[float], image_shape: Sequence[int],
               margin: float = DEFAULT_MARGIN, mode: str = "shift") -> Box:
    """Square crop box around one detected face.

    Args:
        det_row: ``[x1, y1, x2, y2, ...]`` face box in source pixels (score ignored).
        image_shape: ``(H, W, ...)`` of the source image.
        margin: extra space on each side, as a fraction of the face size
            (``side = (1 + 2 * margin) * max(w, h)``); must be > -0.5.
        mode: ``'shift'`` (default), ``'pad'`` or ``'clip'``; see the module docstring.

    Returns:
        ``(x1, y1, x2, y2)`` ints with ``x2 - x1 == y2 - y1 >= 1``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if margin <= -0.5:
        raise ValueError(f"margin must be > -0.5, got {margin}")
    fx1, fy1, fx2, fy2 = (float(v) for v in det_row[:4])
    if not np.all(np.isfinite([fx1, fy1, fx2, fy2])):
        raise ValueError(f"face box has non-finite coordinates: {det_row[:4]}")
    height, width = int(image_shape[0]), int(image_shape[1])
    size = max(fx2 - fx1, fy2 - fy1, 1.0)
    side = max(1, int(round((1.0 + 2.0 * margin) * size)))
    if mode == "clip":
        side = max(1, min(side, height, width))
    cx, cy = (fx1 + fx2) / 2.0, (fy1 + fy2) / 2.0
    x1 = _place(cx, side, width, mode)
    y1 = _place(cy, side, height, mode)
    return (x1, y1, x1 + side, y1 + side)


def box_iou(a: Sequence[float], b: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` ``[x1, y1, x2, y2]`` with each row of ``b`` ``(N, >=4)`` (areas w*h)."""
    b = np.asarray(b, dtype=np.float64).reshape(-1, np.shape(b)[-1] if np.ndim(b) else 4)
    iw = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = max(float(a[2]) - float(a[0]), 0.0) * max(float(a[3]) - float(a[1]), 0.0)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def dedupe_boxes(boxes, iou: float = 0.5) -> np.ndarray:
    """Drop boxes that overlap an earlier kept box by IoU > ``iou``.

    Earlier rows win, so pass boxes best first (detections come sorted by score).

    Args:
        boxes: ``(N, >=4)`` array-like ``[x1, y1, x2, y2, ...]``; extra columns are kept.
        iou: overlap above which a later box is a duplicate.

    Returns:
        The kept rows, in input order, same dtype (``(0, K)`` if none).
    """
    arr = np.asarray(boxes)
    if arr.size == 0:
        return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 4)
    arr = arr.reshape(len(arr), -1)
    kept = []
    for i in range(len(arr)):
        if not kept or np.all(box_iou(arr[i], arr[kept]) <= iou):
            kept.append(i)
    return arr[kept]


def order_by_area(boxes) -> np.ndarray:
    """Rows of ``boxes`` ``(N, >=4)`` sorted by box area, largest first (stable for ties)."""
    arr = np.asarray(boxes)
    if arr.size == 0:
        return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 4)
    arr = arr.reshape(len(arr), -1)
    area = (np.clip(arr[:, 2].astype(np.float64) - arr[:, 0], 0, None)
            * np.clip(arr[:, 3].astype(np.float64) - arr[:, 1], 0, None))
    return arr[np.argsort(-area, kind="stable")]


def face_crop_boxes(detections: np.ndarray, image_shape: Sequence[int],
                    margin: float = DEFAULT_MARGIN, mode: str = "shift",
                    dedupe_iou: float = 0.5, largest_only: bool = False) -> np.ndarray:
    """Square crop boxes for every detected face (the animation pipeline's input).

    Args:
        detections: ``(N, 5)`` detector output, best score first.
        image_shape: ``(H, W, ...)`` of the source image.
        margin, mode: see :func:`square_box`.
        dedupe_iou: crop boxes overlapping an earlier one by more are dropped.
        largest_only: keep only the crop box with the largest area.

    Returns:
        ``(M, 4)`` int64 ``[x1, y1, x2, y2]``, in detection order (or the single
        largest box), ``(0, 4)`` if no face.
    """
    dets = np.asarray(detections, dtype=np.float64).reshape(-1, np.shape(detections)[-1]
                                                              if np.size(detections) else 5)
    squares = np.array([square_box(d, image_shape, margin, mode) for d in dets],
                       dtype=np.int64).reshape(-1, 4)
    squares = dedupe_boxes(squares, dedupe_iou)
    if largest_only and len(squares):
        squares = order_by_area(squares)[:1]
    return squares
