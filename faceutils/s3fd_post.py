"""S3FD post-processing in pure numpy: anchor decode, greedy NMS, score filter.

No Paddle import here, so these functions are unit-tested on stored network
outputs alone. Conventions follow PaddleGAN's S3FD (see ``docs/detection.md``):

* six output levels, level ``i`` (0-based) has stride ``2 ** (i + 2)``
  (4, 8, ..., 128) and one square anchor of side ``4 * stride`` centred at
  ``(stride / 2 + w * stride, stride / 2 + h * stride)``;
* regression variances 0.1 (centre) and 0.2 (log size);
* a candidate is an anchor whose softmax face probability is ``> 0.05``;
* greedy NMS with the "+1" pixel-area convention, a box survives while its
  overlap with every kept box is ``<= 0.3``;
* after NMS only boxes with score ``> 0.5`` are reported.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

__all__ = [
    "CANDIDATE_THRESHOLD",
    "NMS_IOU",
    "SCORE_THRESHOLD",
    "VARIANCES",
    "level_stride",
    "face_probability",
    "decode_candidates",
    "nms_plus1",
    "postprocess",
]

CANDIDATE_THRESHOLD = 0.05
NMS_IOU = 0.3
SCORE_THRESHOLD = 0.5
VARIANCES = (0.1, 0.2)


def level_stride(level: int) -> int:
    """Stride in input pixels of output level ``level`` (0..5) -> 4, 8, ..., 128."""
    return 2 ** (level + 2)


def face_probability(cls_logits: np.ndarray) -> np.ndarray:
    """Softmax probability of the face class.

    Args:
        cls_logits: ``(B, 2, H, W)`` logits (channel 0 background, 1 face).

    Returns:
        ``(B, H, W)`` float32 probabilities in [0, 1].
    """
    logits = np.asarray(cls_logits, dtype=np.float32)
    if logits.ndim != 4 or logits.shape[1] != 2:
        raise ValueError(f"expected (B, 2, H, W) logits, got shape {logits.shape}")
    top = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - top)
    return (e[:, 1] / e.sum(axis=1)).astype(np.float32)


def decode_candidates(outputs: Sequence[np.ndarray], batch_index: int = 0,
                      threshold: float = CANDIDATE_THRESHOLD
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Turn raw S3FD outputs into candidate boxes.

    Args:
        outputs: the 12 network outputs ``[cls1, reg1, ..., cls6, reg6]``;
            ``cls`` is ``(B, 2, H, W)`` logits, ``reg`` is ``(B, 4, H, W)``.
        batch_index: which image of the batch to decode.
        threshold: keep anchors whose face probability is strictly above it.

    Returns:
        ``(candidates, where)``: ``candidates`` is ``(K, 5)`` float32
        ``[x1, y1, x2, y2, score]`` in input pixels (not clipped); ``where`` is
        ``(K, 3)`` int64 ``[level, h, w]``. Order: level 1..6, then row-major
        ``(h, w)`` within a level.
    """
    if len(outputs) != 12:
        raise ValueError(f"expected 12 S3FD outputs, got {len(outputs)}")
    boxes: List[np.ndarray] = []
    where: List[np.ndarray] = []
    var_c, var_s = VARIANCES
    for level in range(6):
        cls = np.asarray(outputs[2 * level])[batch_index:batch_index + 1]
        reg = np.asarray(outputs[2 * level + 1], dtype=np.float64)[batch_index]
        prob = face_probability(cls)[0]
        hs, ws = np.nonzero(prob > threshold)
        if hs.size == 0:
            continue
        stride = level_stride(level)
        anchor = 4.0 * stride
        acx = stride / 2.0 + ws * stride
        acy = stride / 2.0 + hs * stride
        loc = reg[:, hs, ws]  # (4, K)
        cx = acx + loc[0] * var_c * anchor
        cy = acy + loc[1] * var_c * anchor
        bw = anchor * np.exp(loc[2] * var_s)
        bh = anchor * np.exp(loc[3] * var_s)
        x1 = cx - bw / 2.0
        y1 = cy - bh / 2.0
        boxes.append(np.stack([x1, y1, x1 + bw, y1 + bh, prob[hs, ws]], axis=1))
        where.append(np.stack([np.full_like(hs, level), hs, ws], axis=1))
    if not boxes:
        return np.zeros((0, 5), np.float32), np.zeros((0, 3), np.int64)
    return (np.concatenate(boxes).astype(np.float32),
            np.concatenate(where).astype(np.int64))


def nms_plus1(dets: np.ndarray, iou_threshold: float = NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression with the "+1" pixel-area convention.

    Boxes are visited by descending score (``argsort`` of the scores, reversed,
    as in the reference implementation, so ties resolve the same way). A box is
    dropped when its overlap ``inter / (area_i + area_j - inter)`` with an
    already kept box exceeds ``iou_threshold``; widths and heights are
    ``x2 - x1 + 1`` and ``y2 - y1 + 1``.

    Args:
        dets: ``(N, 5)`` ``[x1, y1, x2, y2, score]``.
        iou_threshold: overlap above which a box is suppressed.

    Returns:
        ``(M,)`` int64 indices into ``dets`` of the kept boxes, best first.
    """
    dets = np.asarray(dets)
    if dets.size == 0:
        return np.zeros((0,), np.int64)
    x1, y1, x2, y2, score = (dets[:, i] for i in range(5))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = score.argsort()[::-1]
    kept: List[int] = []
    while order.size:
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        inter = iw * ih
        overlap = inter / (area[best] + area[rest] - inter)
        order = rest[overlap <= iou_threshold]
    return np.asarray(kept, dtype=np.int64)


def postprocess(outputs: Sequence[np.ndarray], batch_index: int = 0,
                candidate_threshold: float = CANDIDATE_THRESHOLD,
                nms_iou: float = NMS_IOU,
                score_threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """Full S3FD post-processing for one image of a batch.

    Returns:
        ``(N, 5)`` float32 ``[x1, y1, x2, y2, score]`` in network-input pixels,
        sorted by descending score; ``(0, 5)`` when nothing passes (PaddleGAN
        returns a dummy zero row instead).
    """
    cands, _ = decode_candidates(outputs, batch_index, candidate_threshold)
    kept = cands[nms_plus1(cands, nms_iou)]
    return kept[kept[:, 4] > score_threshold].astype(np.float32)
