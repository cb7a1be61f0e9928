"""Keypoint normalisation for animation (FOMM's relative / adaptive motion transfer)."""

from __future__ import annotations

import logging
from typing import Dict

import numpy as np
import paddle

logger = logging.getLogger(__name__)

KP = Dict[str, paddle.Tensor]


def hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of (K, 2) points; 0 for degenerate (collinear) sets."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(np.asarray(points, np.float64)).volume)
    except (QhullError, ValueError):
        return 0.0


def movement_scale(kp_source: KP, kp_driving_initial: KP) -> float:
    """sqrt(hull area of source keypoints) / sqrt(hull area of the initial driving ones).

    Uses the first batch element of each (as FOMM does). Falls back to 1.0 when a hull
    is degenerate.
    """
    src = hull_area(kp_source["value"][0].numpy())
    drv = hull_area(kp_driving_initial["value"][0].numpy())
    if src <= 0 or drv <= 0:
        logger.warning("degenerate keypoint hull; using movement scale 1.0")
        return 1.0
    return float(np.sqrt(src) / np.sqrt(drv))


def normalize_kp(kp_source: KP, kp_driving: KP, kp_driving_initial: KP,
                 adapt_movement_scale: bool | float = False, use_relative_movement: bool = False,
                 use_relative_jacobian: bool = False) -> KP:
    """Driving keypoints expressed for the source face.

    Args:
        kp_source: ``value`` (1 or B, K, 2), ``jacobian`` (1 or B, K, 2, 2).
        kp_driving: (B, K, 2) / (B, K, 2, 2) keypoints of the driving frames.
        kp_driving_initial: (1, K, 2) / (1, K, 2, 2): the driving frame aligned with the source.
        adapt_movement_scale: scale displacements by the ratio of keypoint hull sizes
            (True), or by this number when a float is given (precomputed once per video).
        use_relative_movement: ``value = (v_d - v_d0) * scale + v_s``; otherwise the
            driving keypoints are returned unchanged (absolute mode).
        use_relative_jacobian: ``jacobian = J_d inv(J_d0) J_s`` (relative mode only).

    Returns:
        A new dict; shapes as ``kp_driving``.
    """
    if isinstance(adapt_movement_scale, bool):
        scale = movement_scale(kp_source, kp_driving_initial) if adapt_movement_scale else 1.0
    else:
        scale = float(adapt_movement_scale)
    out = dict(kp_driving)
    if use_relative_movement:
        diff = (kp_driving["value"] - kp_driving_initial["value"]) * scale
        out["value"] = diff + kp_source["value"]
        if use_relative_jacobian and "jacobian" in kp_driving:
            rel = paddle.matmul(kp_driving["jacobian"], paddle.inverse(kp_driving_initial["jacobian"]))
            out["jacobian"] = paddle.matmul(rel, kp_source["jacobian"])
    return out
