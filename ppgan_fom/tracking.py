"""Face tracks for video anonymization: link, split at cuts, fill gaps, smooth (no paddle).

Everything here works on *boxes*, never on frames, except the tiny scene-cut
signatures, so the memory it needs is proportional to the number of detections,
not to the size or length of the video.

Vocabulary
----------
* A **detection** is a row ``[x1, y1, x2, y2, score]`` in frame pixels (what a
  ``faceutils`` detector returns), on a frame where the detector ran (a *sampled*
  frame: every frame, or every ``detect_every``-th one plus the first frame of each
  shot).
* A **shot** is a run of frames between two scene cuts. :class:`SceneCutDetector`
  decides, frame by frame, whether a frame starts a new shot.
* A **track** is one face followed through consecutive sampled frames of one shot.
  :class:`TrackBuilder` links each frame's detections to the open tracks by box
  overlap (IoU with the track's last box or with its constant-velocity prediction),
  closes a track when it has gone more than ``max_gap`` frames without a detection,
  and closes every track at a scene cut. So a track never spans a cut.
* :func:`finalize_tracks` turns the raw tracks into :class:`Track` objects with one
  box per frame: gaps between detections are filled by linear interpolation, the
  box parameters (centre x, centre y, size) are smoothed over time by a Gaussian-
  weighted local-linear fit (no lag on steady motion, no jitter), and the track is
  extended by ``pad`` frames before its first and after its last detection (held
  box), never past its shot or the video. A face that leaves the frame through a
  border is lost by the detector while part of it still shows: a track whose box
  touches a border it is moving towards is extended instead until the box, moving
  on at its last velocity, has left the frame (at most ``max_exit`` frames); a face
  entering through a border likewise, backwards in time.

Box parameters are floats; :meth:`Track.crop_box` makes the integer square crop
box (centred on the face, allowed to hang over the borders) used to cut the
driving crop and to paste the generated face.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "iou_matrix",
    "frame_signature",
    "scene_change_score",
    "SceneCutDetector",
    "RawTrack",
    "TrackBuilder",
    "Track",
    "interpolate_params",
    "smooth_params",
    "finalize_tracks",
    "shot_bounds",
    "to_ranges",
    "active_tracks",
    "coverage_by_frame",
    "track_summary",
    "box_to_params",
    "params_to_box",
    "FrameSignature",
    "DEFAULT_IOU",
    "DEFAULT_MAX_GAP",
    "DEFAULT_SMOOTH_SIGMA",
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_PAD",
]

#: Minimum overlap (IoU) for a detection to continue a track.
DEFAULT_IOU = 0.3
#: A track survives at most this many frames without a detection (filled by
#: interpolation); a longer gap ends it.
DEFAULT_MAX_GAP = 15
#: Standard deviation, in frames, of the temporal smoothing of a track's box.
DEFAULT_SMOOTH_SIGMA = 3.0
#: Scene-change score (0..1) above which a frame starts a new shot.
DEFAULT_CUT_THRESHOLD = 0.35
#: Frames added before the first and after the last detection of a track.
DEFAULT_PAD = 2
#: A box within this fraction of its size from a border "touches" it (exit / entry).
_BORDER_TOUCH = 0.1
#: Frames over which a track's end velocity is measured (on the smoothed boxes).
_VELOCITY_FRAMES = 5
#: Slower than this (pixels per frame) a face is not taken to be leaving the frame.
_MIN_EXIT_SPEED = 0.25

#: Relative cut rule: a score this many times the recent mean ...
CUT_JUMP = 5.0
#: ... over this many previous frames (see :class:`SceneCutDetector`).
CUT_HISTORY = 10
#: Thumbnail size (w, h) of the scene-cut signature and its histogram bins.
_THUMB = (64, 36)
_HIST_BINS = 16


# --------------------------------------------------------------------------- #
# geometry
# --------------------------------------------------------------------------- #
def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes.

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


def box_to_params(box: Sequence[float]) -> np.ndarray:
    """``[x1, y1, x2, y2]`` -> ``[cx, cy, size]`` with ``size = max(w, h)``."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, max(x2 - x1, y2 - y1)], np.float64)


def params_to_box(p: Sequence[float]) -> np.ndarray:
    """``[cx, cy, size]`` -> square ``[x1, y1, x2, y2]`` floats."""
    cx, cy, s = (float(v) for v in p[:3])
    return np.array([cx - s / 2.0, cy - s / 2.0, cx + s / 2.0, cy + s / 2.0], np.float64)


# --------------------------------------------------------------------------- #
# scene cuts
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class FrameSignature:
    """A frame's tiny summary for cut detection: a blurred grey thumbnail
    ``(36, 64)`` float32 in [0, 1] and per-channel colour histograms ``(3, 16)``
    (each row sums to 1)."""

    thumb: np.ndarray
    hist: np.ndarray


def frame_signature(frame: np.ndarray) -> FrameSignature:
    """Signature of an ``(H, W, 3)`` uint8 RGB frame (a few KB, independent of H, W)."""
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


# --------------------------------------------------------------------------- #
# linking
# --------------------------------------------------------------------------- #
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
        dets = _dedupe(np.asarray(detections, np.float64).reshape(-1, 5), self.dedupe_iou)
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


def _dedupe(dets: np.ndarray, iou: float) -> np.ndarray:
    """Drop detections overlapping a higher-scoring one by IoU > ``iou``."""
    if len(dets) < 2:
        return dets
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    ov = iou_matrix(dets, dets)
    keep: List[int] = []
    for i in range(len(dets)):
        if all(ov[i, k] <= iou for k in keep):
            keep.append(i)
    return dets[keep]


# --------------------------------------------------------------------------- #
# gap filling and smoothing
# --------------------------------------------------------------------------- #
def interpolate_params(frames: Sequence[int], params: np.ndarray) -> np.ndarray:
    """Dense per-frame parameters from samples, by linear interpolation.

    Args:
        frames: ``(K,)`` increasing frame indices of the samples.
        params: ``(K, P)`` values at those frames.

    Returns:
        ``(frames[-1] - frames[0] + 1, P)`` float64, one row per frame from the
        first to the last sample; sampled frames keep their values exactly.
    """
    frames = np.asarray(frames, np.int64)
    params = np.asarray(params, np.float64).reshape(len(frames), -1)
    t = np.arange(frames[0], frames[-1] + 1)
    return np.stack([np.interp(t, frames, params[:, k]) for k in range(params.shape[1])], axis=1)


def smooth_params(values: np.ndarray, sigma: float = DEFAULT_SMOOTH_SIGMA) -> np.ndarray:
    """Temporal smoothing of a dense parameter series by a Gaussian-weighted
    local-linear fit (a LOESS of degree 1 with a Gaussian kernel).

    For each frame ``t``, a straight line is fitted by weighted least squares to the
    values at frames ``t - R .. t + R`` (``R = ceil(3 sigma)``, clipped to the
    series) with weights ``exp(-d^2 / (2 sigma^2))``; the fitted value at ``t`` is
    the output. Constant and linear motion pass unchanged (no lag, also at the
    ends, where a plain moving average would lag); frame-to-frame jitter is averaged
    out over roughly ``2.5 sigma`` frames.

    Args:
        values: ``(T, P)`` (or ``(T,)``) series.
        sigma: kernel width in frames; ``<= 0`` returns a copy.

    Returns:
        Array of the same shape, float64.
    """
    y = np.asarray(values, np.float64)
    squeeze = y.ndim == 1
    y = y.reshape(len(y), -1)
    n = len(y)
    if sigma <= 0 or n < 3:
        out = y.copy()
        return out[:, 0] if squeeze else out
    radius = int(np.ceil(3.0 * sigma))
    s0 = np.zeros(n)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    t0 = np.zeros_like(y)
    t1 = np.zeros_like(y)
    idx = np.arange(n)
    for d in range(-radius, radius + 1):
        j = idx + d
        ok = (j >= 0) & (j < n)
        w = np.where(ok, np.exp(-d * d / (2.0 * sigma * sigma)), 0.0)
        yj = y[np.clip(j, 0, n - 1)]
        s0 += w
        s1 += w * d
        s2 += w * d * d
        t0 += w[:, None] * yj
        t1 += (w * d)[:, None] * yj
    det = s0 * s2 - s1 * s1
    safe = det > 1e-9 * np.maximum(s0 * s2, 1e-300)
    fit = np.where(safe[:, None],
                   (s2[:, None] * t0 - s1[:, None] * t1) / np.where(safe, det, 1.0)[:, None],
                   t0 / s0[:, None])
    return fit[:, 0] if squeeze else fit


# --------------------------------------------------------------------------- #
# final tracks
# --------------------------------------------------------------------------- #
@dataclass
class Track:
    """A finished face track: one smoothed face box per frame of ``start..end``.

    Attributes:
        id: 0-based, in order of first appearance (then left to right).
        shot: index of the shot (tracks never span a scene cut).
        start, end: first and last frame covered (inclusive), padding included.
        first_detection, last_detection: first/last frame with a detection.
        detected_frames: ``(K,)`` int frames where the detector found this face.
        params: ``(end - start + 1, 3)`` smoothed ``[cx, cy, size]`` of the face box
            per frame (size = the face box's longer side, pixels).
        mean_score: mean detector score.
        target: index of the target face assigned to it (set by the anonymizer).
    """

    id: int
    shot: int
    start: int
    end: int
    first_detection: int
    last_detection: int
    detected_frames: np.ndarray
    params: np.ndarray
    mean_score: float
    target: int = 0

    @property
    def n_frames(self) -> int:
        return self.end - self.start + 1

    @property
    def n_detected(self) -> int:
        return int(len(self.detected_frames))

    def covers(self, frame: int) -> bool:
        return self.start <= frame <= self.end

    def face_box(self, frame: int) -> np.ndarray:
        """Smoothed square face box ``[x1, y1, x2, y2]`` (floats) at ``frame``."""
        if not self.covers(frame):
            raise IndexError(f"track {self.id} covers frames {self.start}..{self.end}, "
                             f"not {frame}")
        return params_to_box(self.params[frame - self.start])

    def crop_box(self, frame: int, margin: float) -> Tuple[int, int, int, int]:
        """Integer square crop box at ``frame``: the face box grown by ``margin`` of
        the face size on each side (side ``(1 + 2 margin) * size``), centred on the
        face, allowed to hang over the frame borders (the crop pads them)."""
        cx, cy, size = self.params[frame - self.start]
        side = max(2, int(round((1.0 + 2.0 * margin) * size)))
        x1 = int(np.floor(cx - side / 2.0 + 0.5))
        y1 = int(np.floor(cy - side / 2.0 + 0.5))
        return (x1, y1, x1 + side, y1 + side)

    def interpolated_frames(self) -> np.ndarray:
        """Frames between the first and last detection without a detection of this
        face (missed by the detector or not sampled), whose box is interpolated."""
        full = np.arange(self.first_detection, self.last_detection + 1)
        return np.setdiff1d(full, self.detected_frames, assume_unique=True)

    @property
    def n_padded(self) -> int:
        """Frames added before the first and after the last detection."""
        return (self.first_detection - self.start) + (self.end - self.last_detection)


def _border_exit(dense: np.ndarray, frame_size: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """For the last row of ``dense`` ``(T, 3)`` ``[cx, cy, size]``: ``(centre velocity
    (2,) in pixels per frame, frames until the box has wholly left the frame)`` if the
    box touches a border and moves out through it, else ``(velocity, 0.0)``."""
    k = min(len(dense) - 1, _VELOCITY_FRAMES)
    if k < 1:
        return np.zeros(2), 0.0
    v = (dense[-1, :2] - dense[-1 - k, :2]) / k
    w, h = frame_size
    x1, y1, x2, y2 = params_to_box(dense[-1])
    touch = _BORDER_TOUCH * dense[-1, 2]
    times = []
    for lo, hi, limit, speed in ((x1, x2, w, v[0]), (y1, y2, h, v[1])):
        if speed > _MIN_EXIT_SPEED and hi >= limit - touch:
            times.append((limit - lo) / speed)
        elif speed < -_MIN_EXIT_SPEED and lo <= touch:
            times.append(hi / -speed)
    return v, (float(np.ceil(min(times))) if times else 0.0)


def _extension(dense: np.ndarray, frames: int, velocity: np.ndarray, moving: float) -> np.ndarray:
    """``frames`` rows after the last of ``dense``: the centre moves on at ``velocity``
    for ``moving`` frames and then stays; the size is held. A moving box keeps the
    largest size of the track's last frames: the detector sees a face that is partly
    out of the frame as smaller than it is."""
    k = np.minimum(np.arange(1, frames + 1), moving)[:, None]
    rows = np.repeat(dense[-1:], frames, axis=0)
    rows[:, :2] += k * velocity[None]
    if moving > 0:
        rows[:, 2] = dense[-3 * _VELOCITY_FRAMES:, 2].max()
    return rows


def finalize_tracks(raw: Sequence[RawTrack], shots: Sequence[Tuple[int, int]],
                    sigma: float = DEFAULT_SMOOTH_SIGMA, pad: int = DEFAULT_PAD,
                    min_detections: int = 1, frame_size: Optional[Tuple[int, int]] = None,
                    max_exit: int = DEFAULT_MAX_GAP) -> List[Track]:
    """Interpolate, smooth and pad raw tracks.

    Args:
        raw: tracks from :meth:`TrackBuilder.finish`.
        shots: inclusive ``(first, last)`` frames of each shot (:func:`shot_bounds`);
            ``raw[i].shot`` indexes it.
        sigma: smoothing width in frames (:func:`smooth_params`).
        pad: frames added before the first and after the last detection (box held
            constant), clipped to the track's shot.
        min_detections: tracks with fewer detections are dropped.
        frame_size: ``(W, H)`` of the frames; given, a track whose first / last box
            touches a border it moves through (a face entering / leaving the frame)
            is extended, the box moving at the track's velocity, until the box is
            wholly outside (if longer than ``pad``; at most ``max_exit`` frames, never
            past the shot), so a partly visible face the detector no longer finds is
            still covered.
        max_exit: longest such extension, in frames.

    Returns:
        Tracks ordered by first covered frame then left edge, ids 0, 1, ...
    """
    out: List[Track] = []
    for rt in raw:
        if len(rt.frames) < max(1, min_detections):
            continue
        frames = np.asarray(rt.frames, np.int64)
        params = np.stack([box_to_params(b) for b in rt.boxes])
        dense = smooth_params(interpolate_params(frames, params), sigma)
        dense[:, 2] = np.maximum(dense[:, 2], 1.0)
        shot_first, shot_last = shots[rt.shot] if rt.shot < len(shots) else (frames[0], frames[-1])
        start = max(int(shot_first), int(frames[0]) - max(0, pad))
        end = min(int(shot_last), int(frames[-1]) + max(0, pad))
        before = int(frames[0]) - start
        after = end - int(frames[-1])
        v_in, n_in = np.zeros(2), 0.0
        v_out, n_out = np.zeros(2), 0.0
        if frame_size is not None:
            v_in, n_in = _border_exit(dense[::-1], frame_size)  # entering = leaving backwards
            v_out, n_out = _border_exit(dense, frame_size)
            before = max(before, min(int(n_in), max_exit, int(frames[0]) - int(shot_first)))
            after = max(after, min(int(n_out), max_exit, int(shot_last) - int(frames[-1])))
            start, end = int(frames[0]) - before, int(frames[-1]) + after
        dense = np.concatenate([_extension(dense[::-1], before, v_in, n_in)[::-1], dense,
                                _extension(dense, after, v_out, n_out)])
        out.append(Track(id=-1, shot=int(rt.shot), start=start, end=end,
                         first_detection=int(frames[0]), last_detection=int(frames[-1]),
                         detected_frames=frames, params=dense,
                         mean_score=float(np.mean(rt.scores))))
    out.sort(key=lambda t: (t.start, float(t.params[0, 0] - t.params[0, 2] / 2)))
    for i, t in enumerate(out):
        t.id = i
    return out


def to_ranges(frames: Iterable[int]) -> List[List[int]]:
    """Sorted frame indices -> inclusive ``[first, last]`` runs of consecutive frames."""
    runs: List[List[int]] = []
    for f in sorted(set(int(v) for v in frames)):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def active_tracks(tracks: Sequence[Track], frame: int) -> List[Track]:
    """Tracks covering ``frame``."""
    return [t for t in tracks if t.covers(frame)]


def coverage_by_frame(tracks: Sequence[Track], n_frames: int) -> np.ndarray:
    """``(n_frames,)`` int: how many tracks cover each frame."""
    count = np.zeros(max(0, n_frames), np.int64)
    for t in tracks:
        count[t.start:t.end + 1] += 1
    return count


def track_summary(track: Track, margin: float,
                  sampled: Optional[Callable[[np.ndarray], np.ndarray]] = None
                  ) -> Dict[str, object]:
    """JSON-ready description of a track (used by the anonymizer's report).

    Args:
        track: a finished track.
        margin: crop margin (for ``mean_crop_box``).
        sampled: maps an int array of frames to a bool array, True where the detector
            ran; default: it ran on every frame. Interpolated frames where it ran are
            *missed* detections (listed as ranges); the others were just not sampled.
    """
    interp = track.interpolated_frames()
    missed = interp[sampled(interp)] if sampled is not None and len(interp) else interp
    boxes = np.array([track.crop_box(f, margin) for f in range(track.start, track.end + 1)],
                     np.float64)
    face = np.array([params_to_box(p) for p in track.params])
    return {
        "id": track.id,
        "shot": track.shot,
        "first_frame": track.start,
        "last_frame": track.end,
        "frames_covered": track.n_frames,
        "first_detection": track.first_detection,
        "last_detection": track.last_detection,
        "frames_detected": track.n_detected,
        "frames_interpolated": int(len(interp)),
        "frames_missed": int(len(missed)),
        "missed_ranges": to_ranges(missed),
        "frames_padded": track.n_padded,
        "mean_score": round(track.mean_score, 4),
        "mean_face_box": [round(float(v), 1) for v in face.mean(axis=0)],
        "mean_crop_box": [round(float(v), 1) for v in boxes.mean(axis=0)],
    }
