"""Boxes in pure numpy: overlap (IoU), de-duplication, square crop boxes around faces.

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

from typing import Sequence

import numpy as np

from ..types import Box

__all__ = ["DEFAULT_MARGIN", "MODES", "iou_matrix", "box_iou", "dedupe_boxes",
           "dedupe_by_score", "order_by_area", "square_box", "face_crop_boxes",
           "box_to_params", "params_to_box"]

#: Space around a face in its square crop, per side, as a fraction of the face size.
DEFAULT_MARGIN = 0.5
MODES = ("shift", "pad", "clip")


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


def iou_matrix(a, b) -> np.ndarray:
    """Pairwise intersection over union of boxes (areas ``w * h``).

    Args:
        a: ``(N, >=4)`` rows ``[x1, y1, x2, y2, ...]``.
        b: ``(M, >=4)`` rows.

    Returns:
        ``(N, M)`` float64 in ``[0, 1]`` (0 for empty boxes).
    """
    a = np.asarray(a, np.float64).reshape(-1, np.shape(a)[-1] if np.size(a) else 4)[:, :4]
    b = np.asarray(b, np.float64).reshape(-1, np.shape(b)[-1] if np.size(b) else 4)[:, :4]
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2) top-left of the overlap
    hi = np.minimum(a[:, None, 2:4], b[None, :, 2:4])  # bottom-right
    iw, ih = np.clip(hi - lo, 0, None).transpose(2, 0, 1)
    inter = iw * ih
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def box_iou(a: Sequence[float], b) -> np.ndarray:
    """IoU of one box ``a`` ``[x1, y1, x2, y2]`` with each row of ``b`` ``(N, >=4)``:
    ``(N,)`` float64."""
    return iou_matrix(np.asarray(a, np.float64)[None, :4], b)[0]


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
    overlap = iou_matrix(arr, arr)
    kept = []
    for i in range(len(arr)):
        if np.all(overlap[i, kept] <= iou):
            kept.append(i)
    return arr[kept]


def dedupe_by_score(dets: np.ndarray, iou: float) -> np.ndarray:
    """Detections ``(N, 5)`` ``[x1, y1, x2, y2, score]`` best score first, without those
    overlapping a higher-scoring one by IoU > ``iou``."""
    dets = np.asarray(dets)
    if len(dets) < 2:
        return dets
    return dedupe_boxes(dets[np.argsort(-dets[:, 4], kind="stable")], iou)


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


def box_to_params(box: Sequence[float]) -> np.ndarray:
    """``[x1, y1, x2, y2]`` -> ``[cx, cy, size]`` float64 with ``size = max(w, h)``."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, max(x2 - x1, y2 - y1)], np.float64)


def params_to_box(p: Sequence[float]) -> np.ndarray:
    """``[cx, cy, size]`` -> square ``[x1, y1, x2, y2]`` float64."""
    cx, cy, s = (float(v) for v in p[:3])
    return np.array([cx - s / 2.0, cy - s / 2.0, cx + s / 2.0, cy + s / 2.0], np.float64)
