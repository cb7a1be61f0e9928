"""Finished face tracks: one smoothed face box per frame, gaps filled, padded, and
followed out of (and into) the frame through a border.

:func:`finalize_tracks` fills gaps between detections by linear interpolation, smooths
the box parameters (centre x, centre y, size) over time, and extends each track by
``pad`` frames before its first and after its last detection (held box), never past its
shot or the video. A face that leaves the frame through a border is lost by the detector
while part of it still shows: a track whose box touches a border it is moving towards is
extended until the box, moving on at its last velocity, has left the frame (at most
``max_exit`` frames); a face entering through a border likewise, backwards in time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..geometry import box_to_params, params_to_box, square_box
from ..geometry.smooth import DEFAULT_SMOOTH_SIGMA, interpolate_params, smooth_params
from .link import DEFAULT_MAX_GAP, RawTrack

logger = logging.getLogger(__name__)

__all__ = ["Track", "finalize_tracks", "DEFAULT_PAD"]

#: Frames added before the first and after the last detection of a track.
DEFAULT_PAD = 2
#: A box within this fraction of its size from a border "touches" it (exit / entry).
_BORDER_TOUCH = 0.1
#: Frames over which a track's end velocity is measured (on the smoothed boxes).
_VELOCITY_FRAMES = 5
#: Slower than this (pixels per frame) a face is not taken to be leaving the frame.
_MIN_EXIT_SPEED = 0.25


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
        face = params_to_box(self.params[frame - self.start])
        return square_box(face, (0, 0), margin=margin, mode="pad")  # pad: no image bounds

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
