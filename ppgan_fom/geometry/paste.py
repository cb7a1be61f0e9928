"""Paste generated faces back into a frame: feathered disc masks, colour matching,
overlap order. Pure numpy/cv2 (no Paddle).

Terminology
-----------
* A **box** is a square ``(x1, y1, x2, y2)`` of ints in source pixels, half-open
  (``x1 <= x < x2``), with side ``s = x2 - x1 = y2 - y1 > 0``. It may extend
  beyond the image borders.
* A **crop** is the box's content resized to the generator's input size;
  outside-the-image parts are filled by edge replication (:func:`crop_square`).
* The **paste mask** of a box (:func:`paste_mask`) is a feathered disc centred in
  the box. With ``c = s / 2`` the centre and ``d`` the distance of a pixel centre
  ``(i + 0.5, j + 0.5)`` from it (in pixels)::

      r_out = min(ratio * s, s / 2 - 1)       # outer radius: mask == 0 for d >= r_out
      band  = min(feather * s, r_out)         # feather width
      r_in  = r_out - band                    # mask == 1 for d <= r_in
      mask  = smoothstep((r_out - d) / band)  # in between (hard edge if band == 0)

  So ``ratio`` is the pasted disc's radius as a fraction of the box side: the
  default ``ratio = 0.4`` with ``feather = 0.1`` pastes a disc of diameter
  ``0.8 s`` (about half of the box area), fully opaque up to radius ``0.3 s``.
  The cap ``s / 2 - 1`` keeps the whole outermost pixel ring of the box at exactly
  0 for every ratio, so nothing is ever pasted outside (or on the rim of) the box.

All images are ``uint8`` RGB ``(H, W, 3)``; masks are ``float32`` in ``[0, 1]``.
"""

from __future__ import annotations

import functools
import logging
from typing import Optional, Sequence

import numpy as np

from ..options import PHOTO_RATIO
from ..types import Box
from .crop import box_side, check_image, resize_square

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FEATHER",
    "paste_mask",
    "match_color",
    "paste_order",
    "paste_faces",
    "opaque_core_radius",
    "FACE_BOX_HALF_DIAGONAL",
]

#: Default feather (soft edge) width as a fraction of the box side.
DEFAULT_FEATHER = 0.1
#: Colour matching never scales a channel's contrast by more than this factor
#: (or less than its inverse), to stay stable on flat or odd regions.
MAX_COLOR_GAIN = 1.5
#: Standard deviations below this (grey levels) are treated as flat: gain 1.
_FLAT_STD = 2.0


def _mask_radii(side: int, ratio: float, feather: float) -> tuple[float, float]:
    """(r_in, r_out) in pixels for a box of ``side`` (see module docstring)."""
    r_out = max(0.0, min(ratio * side, side / 2.0 - 1.0))
    band = min(max(feather, 0.0) * side, r_out)
    return r_out - band, r_out


@functools.lru_cache(maxsize=64)
def _cached_mask(side: int, ratio: float, feather: float) -> np.ndarray:
    """Read-only paste mask, cached per (side, ratio, feather)."""
    r_in, r_out = _mask_radii(side, ratio, feather)
    coords = np.arange(side, dtype=np.float64) + 0.5 - side / 2.0
    d = np.sqrt(coords[:, None] ** 2 + coords[None, :] ** 2)
    if r_out <= r_in:  # hard edge (feather 0) or empty mask
        mask = (d < r_out).astype(np.float32)
    else:
        t = np.clip((r_out - d) / (r_out - r_in), 0.0, 1.0)
        mask = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    mask.setflags(write=False)
    return mask


def _validate_ratio(ratio: float, feather: float) -> tuple[float, float]:
    """Check ratio > 0 and feather >= 0 (finite); return them as floats."""
    ratio, feather = float(ratio), float(feather)
    if not (np.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a positive number, got {ratio!r}")
    if not (np.isfinite(feather) and feather >= 0):
        raise ValueError(f"feather must be >= 0, got {feather!r}")
    return ratio, feather


def paste_mask(box_side: int, ratio: float = PHOTO_RATIO, feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """Soft round paste mask for a box.

    Args:
        box_side: box side ``s`` in pixels (> 0).
        ratio: outer radius of the pasted disc as a fraction of ``s`` (> 0). Values
            above ``0.5 - 1/s`` are clamped so that the disc never reaches the
            box's outermost pixel ring.
        feather: width of the soft edge as a fraction of ``s`` (>= 0; 0 gives a hard
            edge; clamped to the outer radius).

    Returns:
        ``(s, s)`` float32 in ``[0, 1]``: 1 inside ``r_in``, smoothstep fall-off to
        exactly 0 at ``r_out``, 0 beyond — in particular 0 on the whole border of
        the crop. Radially symmetric and non-increasing from the centre. A fresh,
        writable array.
    """
    if int(box_side) <= 0:
        raise ValueError(f"box_side must be positive, got {box_side!r}")
    ratio, feather = _validate_ratio(ratio, feather)
    return _cached_mask(int(box_side), ratio, feather).copy()


def match_color(pred_rgb: np.ndarray, reference_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the colour statistics of a generated face to the source region.

    Per RGB channel, the mean and standard deviation of ``pred_rgb`` over the
    pixels where ``mask > 0`` are mapped onto those of ``reference_rgb``:
    ``out = (pred - mean_p) * gain + mean_r`` with
    ``gain = clip(std_r / std_p, 1/MAX_COLOR_GAIN, MAX_COLOR_GAIN)`` (``gain = 1``
    when either region is flat, std < 2 grey levels). Applied to every pixel of
    ``pred_rgb``; identical inputs give an identical output.

    Args:
        pred_rgb: ``(h, w, 3)`` uint8, the generated face at paste resolution.
        reference_rgb: ``(h, w, 3)`` uint8, the source pixels it will cover.
        mask: ``(h, w)`` float in ``[0, 1]`` (e.g. the paste mask) or bool; its
            support (``> 0``) selects the pixels whose statistics are matched.

    Returns:
        ``(h, w, 3)`` uint8, the corrected prediction (a copy of ``pred_rgb`` if
        the mask is empty).
    """
    if pred_rgb.shape != reference_rgb.shape or pred_rgb.shape[:2] != np.shape(mask):
        raise ValueError(
            f"shape mismatch: pred {pred_rgb.shape}, reference {reference_rgb.shape}, mask {np.shape(mask)}"
        )
    check_image(pred_rgb, "pred_rgb")
    check_image(reference_rgb, "reference_rgb")
    support = (np.asarray(mask) > 0).astype(np.uint8)
    if not support.any():
        return pred_rgb.copy()
    pred = np.ascontiguousarray(pred_rgb)
    import cv2  # lazily: the geometry imports without OpenCV

    mu_p, sd_p = (v.ravel() for v in cv2.meanStdDev(pred, mask=support))
    mu_r, sd_r = (v.ravel() for v in cv2.meanStdDev(np.ascontiguousarray(reference_rgb), mask=support))
    flat = (sd_p < _FLAT_STD) | (sd_r < _FLAT_STD)
    gain = np.where(flat, 1.0, sd_r / np.maximum(sd_p, 1e-12))
    gain = np.clip(gain, 1.0 / MAX_COLOR_GAIN, MAX_COLOR_GAIN)
    matrix = np.zeros((3, 4), dtype=np.float64)
    matrix[np.arange(3), np.arange(3)] = gain
    matrix[:, 3] = mu_r - gain * mu_p
    # cv2.transform rounds and saturates to uint8
    return cv2.transform(pred, matrix).reshape(pred.shape)


def paste_order(boxes: Sequence[Box]) -> list[int]:
    """Indices of ``boxes`` in paste order: larger boxes first, smaller ones later
    (on top), so a small face overlapping a big one is never covered by the big
    face's disc. Boxes of equal side keep their input order (stable sort)."""
    return sorted(range(len(boxes)), key=lambda i: -box_side(boxes[i]))


def _clip_box(box: Box, shape: tuple[int, int]) -> Optional[tuple[slice, slice, slice, slice]]:
    """(frame rows, frame cols, box rows, box cols) of the box's part inside the
    frame, or None if the box misses the frame entirely."""
    h, w = shape
    x1, y1, x2, y2 = box
    fx1, fy1, fx2, fy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if fx1 >= fx2 or fy1 >= fy2:
        return None
    return (
        slice(fy1, fy2), slice(fx1, fx2),
        slice(fy1 - y1, fy2 - y1), slice(fx1 - x1, fx2 - x1),
    )


def paste_faces(
    frame_rgb: np.ndarray,
    faces: Sequence[tuple[Box, np.ndarray]],
    ratio: float = PHOTO_RATIO,
    color_match: bool = True,
    feather: float = DEFAULT_FEATHER,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste generated faces back into a frame.

    For each ``(box, face)``: the face ``(S, S, 3)`` is resized to the box side,
    optionally colour-matched (:func:`match_color`, statistics under the paste
    mask, against the *original* frame pixels), and alpha-blended with
    :func:`paste_mask` over the part of the box that lies inside the frame.
    Faces are pasted in :func:`paste_order` (larger boxes first, smaller on top).

    Only pixels where some mask is > 0 are written; every other pixel of the
    result is byte-identical to ``frame_rgb``. The input is not modified.

    Args:
        frame_rgb: ``(H, W, 3)`` uint8 RGB frame.
        faces: sequence of ``(box, face)`` with ``box`` a square ``(x1, y1, x2, y2)``
            (may hang over the borders) and ``face`` an ``(S, S, 3)`` uint8 RGB image.
        ratio, feather: see :func:`paste_mask`.
        color_match: apply :func:`match_color` before blending.

    Returns:
        ``(composite, union_mask)``: ``(H, W, 3)`` uint8 and ``(H, W)`` bool, the
        union of the mask supports (mask > 0) clipped to the frame.
    """
    check_image(frame_rgb, "frame")
    ratio, feather = _validate_ratio(ratio, feather)
    boxes = [tuple(int(v) for v in box) for box, _ in faces]
    out = frame_rgb.copy()
    union = np.zeros(frame_rgb.shape[:2], dtype=bool)
    for i in paste_order(boxes):
        box, face = boxes[i], faces[i][1]
        check_image(face, f"face {i}")
        if face.shape[0] != face.shape[1]:
            raise ValueError(f"face {i} must be square, got {face.shape}")
        _paste_one(out, frame_rgb, union, box, face, ratio, feather, color_match)
    return out, union


def _paste_one(
    out: np.ndarray,
    original: np.ndarray,
    union: np.ndarray,
    box: Box,
    face: np.ndarray,
    ratio: float,
    feather: float,
    color_match: bool,
) -> None:
    """Blend one face into ``out`` (in place) and mark its support in ``union``."""
    side = box_side(box)
    clip = _clip_box(box, original.shape[:2])
    if clip is None:
        return
    fr, fc, br, bc = clip
    mask = _cached_mask(side, ratio, feather)[br, bc]
    support = mask > 0
    if not support.any():
        return
    pred = resize_square(face, side)[br, bc]
    if color_match:
        pred = match_color(pred, original[fr, fc], mask)
    roi = out[fr, fc]
    import cv2

    # cv2.blendLinear: round((m * pred + (1 - m) * roi) / 1), saturated to uint8
    blended = cv2.blendLinear(np.ascontiguousarray(pred), np.ascontiguousarray(roi),
                              np.ascontiguousarray(mask), np.ascontiguousarray(1.0 - mask))
    np.copyto(roi, blended.reshape(roi.shape), where=support[:, :, None])
    union[fr, fc] |= support


#: Half-diagonal of a square face box, in face sizes.
FACE_BOX_HALF_DIAGONAL = 0.5 ** 0.5


def opaque_core_radius(ratio: float, face_margin: float,
                       feather: float = DEFAULT_FEATHER) -> float:
    """Radius, in face sizes, of the fully opaque part of the paste disc for a crop of
    side ``(1 + 2 face_margin)`` face sizes (see :func:`paste_mask`; the disc never
    reaches the crop's rim, so ``ratio`` above 0.5 changes nothing). 0.8 for
    :data:`COVER_RATIO` with margin 0.5; below :data:`FACE_BOX_HALF_DIAGONAL` the corners
    of the face box are only partly covered."""
    side = 1.0 + 2.0 * face_margin
    return max(0.0, (min(ratio, 0.5) - feather) * side)
