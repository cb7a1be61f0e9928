"""Linking detections into face tracks, frame by frame (boxes only, no pixels).

:class:`TrackBuilder` links each frame's detections to the open tracks by box overlap
(IoU with the track's last box or with its constant-velocity prediction), closes a track
when it has gone more than ``max_gap`` frames without a detection, and closes every
track at a scene cut, so a track never spans a cut.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np

from ..geometry import dedupe_by_score, iou_matrix

logger = logging.getLogger(__name__)

__all__ = ["RawTrack", "TrackBuilder", "DEFAULT_IOU", "DEFAULT_MAX_GAP"]

#: Minimum overlap (IoU) for a detection to continue a track.
DEFAULT_IOU = 0.3
#: A track survives at most this many frames without a detection (filled by
#: interpolation); a longer gap ends it.
DEFAULT_MAX_GAP = 15


@dataclass
class RawTrack:
    """Detections linked into one track (before gap filling and smoothing).

    Attributes:
        frames: frame indices of the detections, strictly increasing.
        boxes: ``[x1, y1, x2, y2]`` of each detection (floats).
        scores: detector score of each detection.
        shot: index of the shot the track lies in.
    """

    frames: List[int] = field(default_factory=list)
    boxes: List[np.ndarray] = field(default_factory=list)
    scores: List[float] = field(default_factory=list)
    shot: int = 0

    def add(self, frame: int, det: Sequence[float]) -> None:
        self.frames.append(int(frame))
        self.boxes.append(np.asarray(det[:4], np.float64))
        self.scores.append(float(det[4]) if len(det) > 4 else 1.0)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def predict(self, frame: int) -> np.ndarray:
        """Box expected at ``frame``: centred where the last box's centre gets at its
        velocity over the last (up to 5) detections, as large as the largest of those
        boxes; the last box if there is only one. The size is not extrapolated: a face
        being hidden (or leaving the frame) is detected shrinking, and a shrunken
        prediction would miss it when it shows again."""
        last = self.boxes[-1]
        if len(self.frames) < 2:
            return last
        k = max(0, len(self.frames) - 5)
        span = self.frames[-1] - self.frames[k]
        if span <= 0:
            return last
        recent = np.stack(self.boxes[k:])
        centres = (recent[:, :2] + recent[:, 2:4]) / 2.0
        centre = centres[-1] + (centres[-1] - centres[0]) / span * (frame - self.frames[-1])
        half = (recent[:, 2:4] - recent[:, :2]).max(axis=0) / 2.0
        return np.concatenate([centre - half, centre + half])


class TrackBuilder:
    """Link per-frame detections into tracks, streaming.

    Call :meth:`cut` when a frame starts a new shot (before :meth:`update` of that
    frame) and :meth:`update` for each frame where the detector ran, in increasing
    frame order; :meth:`finish` returns the tracks.

    Linking: each open track is compared with the frame's detections by
    ``max(IoU with the track's last box, IoU with its predicted box)``; pairs are
    taken greedily, best overlap first, if it is at least ``iou_threshold``.
    Unmatched detections start new tracks. A track whose last detection is more
    than ``max_gap + 1`` frames back is closed.

    Args:
        iou_threshold: minimum overlap to continue a track.
        max_gap: frames a track may go without a detection (filled later by
            interpolation); must be >= the detection step minus one.
        dedupe_iou: detections of one frame overlapping a better one by more than
            this are dropped as duplicates.
    """

    def __init__(self, iou_threshold: float = DEFAULT_IOU, max_gap: int = DEFAULT_MAX_GAP,
                 dedupe_iou: float = 0.5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        self.iou_threshold = float(iou_threshold)
        self.max_gap = int(max_gap)
        self.dedupe_iou = float(dedupe_iou)
        self.shot = 0
        self._open: List[RawTrack] = []
        self._closed: List[RawTrack] = []
        self._last_frame = -1

    def cut(self, frame: int) -> None:
        """Frame ``frame`` starts a new shot: close every open track."""
        self._closed.extend(self._open)
        self._open = []
        self.shot += 1
        logger.debug("scene cut at frame %d: shot %d", frame, self.shot)

    def update(self, frame: int, detections: np.ndarray) -> None:
        """Link the detections ``(N, 5)`` of sampled frame ``frame``."""
        frame = int(frame)
        if frame <= self._last_frame:
            raise ValueError(f"frames must be increasing: {frame} after {self._last_frame}")
        self._last_frame = frame
        dets = dedupe_by_score(np.asarray(detections, np.float64).reshape(-1, 5), self.dedupe_iou)
        # close tracks that have been lost for too long
        still = []
        for t in self._open:
            (still if frame - t.last_frame - 1 <= self.max_gap else self._closed).append(t)
        self._open = still
        matched_dets = set()
        if self._open and len(dets):
            last = np.stack([t.boxes[-1] for t in self._open])
            pred = np.stack([t.predict(frame) for t in self._open])
            score = np.maximum(iou_matrix(last, dets), iou_matrix(pred, dets))
            pairs = sorted(((score[i, j], i, j) for i in range(score.shape[0])
                            for j in range(score.shape[1]) if score[i, j] >= self.iou_threshold),
                           reverse=True)
            used_tracks = set()
            for _, i, j in pairs:
                if i in used_tracks or j in matched_dets:
                    continue
                used_tracks.add(i)
                matched_dets.add(j)
                self._open[i].add(frame, dets[j])
        for j in range(len(dets)):
            if j not in matched_dets:
                t = RawTrack(shot=self.shot)
                t.add(frame, dets[j])
                self._open.append(t)

    def finish(self) -> List[RawTrack]:
        """All tracks (open ones closed), ordered by first frame then left edge."""
        tracks = self._closed + self._open
        self._closed, self._open = [], []
        return sorted(tracks, key=lambda t: (t.frames[0], float(t.boxes[0][0])))
