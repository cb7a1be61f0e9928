"""BlazeFace pre- and post-processing in pure numpy (plus cv2 for resizing).

* :func:`letterbox` fits an image into the square network input, keeping the
  aspect ratio and padding with black;
* :func:`ssd_anchors` reproduces the anchor centres of MediaPipe's SSD anchor
  calculator for the back-camera model (input 256, strides 16, 32, 32, 32,
  fixed anchor size, two anchors per cell, layers of equal stride share one
  grid): 16x16x2 + 8x8x6 = 896 anchors;
* :func:`decode` turns raw regressors/logits into boxes in input pixels;
* :func:`weighted_nms` is MediaPipe's "weighted" suppression: each group of
  boxes overlapping the best remaining one by IoU > threshold is replaced by
  the score-weighted mean box, scored with the best score.
"""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from ppgan_fom.geometry.boxes import box_iou

__all__ = [
    "INPUT_SIZE",
    "STRIDES",
    "SCORE_THRESHOLD",
    "NMS_IOU",
    "Placement",
    "letterbox",
    "to_network_input",
    "ssd_anchors",
    "decode",
    "weighted_nms",
]

INPUT_SIZE = 256
STRIDES = (16, 32, 32, 32)
ANCHORS_PER_LAYER = 2
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.3
_LOGIT_CLIP = 80.0  # keeps exp() finite in float32, scores are unaffected


class Placement(NamedTuple):
    """Where a source image sits in the square input: ``input = source * scale + pad``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Map ``(N, >=4)`` ``[x1, y1, x2, y2, ...]`` from input to source pixels (copy)."""
        out = np.array(boxes, dtype=np.float64, copy=True)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale_y
        return out


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> Tuple[np.ndarray, Placement]:
    """Resize ``image`` to fit a ``size`` x ``size`` square, centred, black borders.

    Downscaling uses area averaging (no aliasing), upscaling bilinear.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        size: side of the square output.

    Returns:
        ``(square, placement)``: ``square`` is ``(size, size, 3)`` uint8.
    """
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w = min(size, max(1, int(round(w * scale))))
    new_h = min(size, max(1, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square = np.zeros((size, size, 3), np.uint8)
    square[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return square, Placement(new_w / w, new_h / h, float(pad_x), float(pad_y))


def to_network_input(squares: Sequence[np.ndarray]) -> np.ndarray:
    """Stack ``(S, S, 3)`` uint8 RGB squares into ``(B, 3, S, S)`` float32 in [-1, 1]."""
    batch = np.stack(squares).astype(np.float32)
    batch = batch / 127.5 - 1.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def ssd_anchors(input_size: int = INPUT_SIZE, strides: Sequence[int] = STRIDES,
                anchors_per_layer: int = ANCHORS_PER_LAYER) -> np.ndarray:
    """Anchor centres in input pixels, in the network's output order.

    Consecutive layers with the same stride are merged into one grid whose
    cells carry ``anchors_per_layer`` anchors per merged layer; cells are
    visited row by row.

    Returns:
        ``(A, 2)`` float32 ``[x, y]`` (896 rows for the defaults).
    """
    centres: List[np.ndarray] = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = anchors_per_layer * (j - i)
        cells = input_size // strides[i]
        grid = (np.arange(cells, dtype=np.float64) + 0.5) / cells * input_size
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(xy, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
           score_threshold: float = SCORE_THRESHOLD) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes and scores of the anchors whose face score passes the threshold.

    Args:
        regressors: ``(A, 16)`` raw outputs; columns 0-3 are the box centre
            offset and size in input pixels, the rest 6 keypoints (unused here).
        logits: ``(A,)`` raw face logits.
        anchors: ``(A, 2)`` anchor centres from :func:`ssd_anchors`.
        score_threshold: minimum sigmoid score (inclusive).

    Returns:
        ``(boxes (K, 4) [x1, y1, x2, y2] float64 in input pixels, scores (K,))``;
        boxes with non-positive width or height are dropped.
    """
    z = np.clip(np.asarray(logits, np.float64), -_LOGIT_CLIP, _LOGIT_CLIP)
    scores = 1.0 / (1.0 + np.exp(-z))
    keep = scores >= score_threshold
    reg = np.asarray(regressors, np.float64)[keep]
    centre = reg[:, 0:2] + anchors[keep]
    half = reg[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    valid = (half[:, 0] > 0) & (half[:, 1] > 0)
    return boxes[valid], scores[keep][valid]


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
                 ) -> np.ndarray:
    """Score-weighted non-maximum suppression.

    Args:
        boxes: ``(N, 4)`` ``[x1, y1, x2, y2]``.
        scores: ``(N,)``.
        iou_threshold: boxes overlapping the current best by more than this are
            merged into it.

    Returns:
        ``(M, 5)`` float64 ``[x1, y1, x2, y2, score]``, best first.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes, scores = np.asarray(boxes, np.float64)[order], np.asarray(scores, np.float64)[order]
    out: List[np.ndarray] = []
    while scores.size:
        overlap = box_iou(boxes[0], boxes)
        group = overlap > iou_threshold
        group[0] = True
        weights = scores[group]
        merged = (boxes[group] * weights[:, None]).sum(axis=0) / weights.sum()
        out.append(np.append(merged, scores[0]))
        boxes, scores = boxes[~group], scores[~group]
    return np.asarray(out, np.float64).reshape(-1, 5)
