"""Scene cuts: which frames of a video start a new shot (tiny thumbnails, no model).

A hard cut changes either the colours or the layout of the frame; a person moving inside
a shot changes few of either. Only the previous frame's signature and a few scores are
kept, so memory does not depend on the video.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["FrameSignature", "frame_signature", "scene_change_score", "SceneCutDetector",
           "shot_bounds", "DEFAULT_CUT_THRESHOLD", "CUT_JUMP", "CUT_HISTORY"]

#: Scene-change score (0..1) above which a frame starts a new shot.
DEFAULT_CUT_THRESHOLD = 0.35
#: Relative cut rule: a score this many times the recent mean ...
CUT_JUMP = 5.0
#: ... over this many previous frames (see :class:`SceneCutDetector`).
CUT_HISTORY = 10
#: Thumbnail size (w, h) of the scene-cut signature and its histogram bins.
_THUMB = (64, 36)
_HIST_BINS = 16


@dataclass(frozen=True)
class FrameSignature:
    """A frame's tiny summary for cut detection: a blurred grey thumbnail
    ``(36, 64)`` float32 in [0, 1] and per-channel colour histograms ``(3, 16)``
    (each row sums to 1)."""

    thumb: np.ndarray
    hist: np.ndarray


def frame_signature(frame: np.ndarray) -> FrameSignature:
    """Signature of an ``(H, W, 3)`` uint8 RGB frame (a few KB, independent of H, W)."""
    import cv2  # lazily: importing the options must not need OpenCV

    small = cv2.resize(np.ascontiguousarray(frame), _THUMB, interpolation=cv2.INTER_AREA)
    small = small.reshape(_THUMB[1], _THUMB[0], -1)
    grey = small.astype(np.float32).mean(axis=2) / 255.0
    grey = cv2.GaussianBlur(grey, (5, 5), 1.0)
    hist = np.stack([np.bincount(((small[:, :, c].astype(np.int32) * _HIST_BINS) >> 8).ravel(),
                                 minlength=_HIST_BINS)[:_HIST_BINS] for c in range(3)])
    hist = hist.astype(np.float64) / max(1, small.shape[0] * small.shape[1])
    return FrameSignature(grey, hist)


def scene_change_score(prev: FrameSignature, cur: FrameSignature) -> float:
    """How different two consecutive frames are, in ``[0, 1]``.

    ``max(histogram distance, 2 * thumbnail difference)``, where the histogram
    distance is the total-variation distance of the colour histograms averaged over
    R, G, B (0 = same colours, 1 = disjoint) and the thumbnail difference is the mean
    absolute difference of the blurred grey thumbnails (fraction of full scale). A
    face or a person moving inside the same shot changes few thumbnail pixels and
    few colours; a hard cut changes either the colours or the layout of the frame.
    """
    hist_d = float(0.5 * np.abs(prev.hist - cur.hist).sum(axis=1).mean())
    thumb_d = float(np.abs(prev.thumb - cur.thumb).mean())
    return min(1.0, max(hist_d, 2.0 * thumb_d))


class SceneCutDetector:
    """Streaming hard-cut detector.

    Feed every frame in order to :meth:`update`; it returns True when that frame
    starts a new shot (the first frame never does). Only the previous frame's
    signature and the last few scores are kept.

    A frame is a cut when its :func:`scene_change_score` against the previous frame
    is above ``threshold`` (absolute rule), or above ``threshold / 3`` while also
    :data:`CUT_JUMP` times the mean of the previous :data:`CUT_HISTORY` scores
    (relative rule: a cut between two camera angles of the same room changes the
    colours little, but still far more than the motion inside a shot does).

    Args:
        threshold: absolute score for a cut (a value >= 1 disables cut detection).
    """

    def __init__(self, threshold: float = DEFAULT_CUT_THRESHOLD) -> None:
        self.threshold = float(threshold)
        self._prev: Optional[FrameSignature] = None
        self._history: Deque[float] = deque(maxlen=CUT_HISTORY)
        self.last_score = 0.0

    def update(self, frame: np.ndarray) -> bool:
        sig = frame_signature(frame)
        prev, self._prev = self._prev, sig
        if prev is None:
            self.last_score = 0.0
            return False
        score = self.last_score = scene_change_score(prev, sig)
        if self.threshold >= 1.0:
            return False
        cut = score > self.threshold
        if not cut and len(self._history) >= 3 and score > self.threshold / 3.0:
            cut = score > CUT_JUMP * (float(np.mean(self._history)) + 0.005)
        if cut:
            self._history.clear()
        else:
            self._history.append(score)
        return cut


def shot_bounds(cuts: Sequence[int], n_frames: int) -> List[Tuple[int, int]]:
    """Inclusive ``(first, last)`` frame of each shot, given the frames that start a
    new shot (``cuts``, each in ``1..n_frames-1``) and the frame count."""
    starts = [0] + sorted(c for c in set(int(c) for c in cuts) if 0 < c < n_frames)
    ends = [s - 1 for s in starts[1:]] + [n_frames - 1]
    return list(zip(starts, ends)) if n_frames > 0 else []
