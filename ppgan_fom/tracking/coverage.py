"""Which frames the tracks cover, and each track's summary for the report."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..geometry import params_to_box
from .track import Track

__all__ = ["to_ranges", "active_tracks", "coverage_by_frame", "track_summary"]


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
