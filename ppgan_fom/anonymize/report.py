"""The JSON report of an anonymization run: settings, shots, tracks, uncovered frames."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..errors import OutputError
from ..media import VideoInfo
from ..tracking import coverage_by_frame, to_ranges, track_summary
from ..types import PathLike
from .options import AnonymizeOptions
from .plan import TrackPlan
from .targets import TargetFace

__all__ = ["default_report_path", "build_report", "write_report"]


def default_report_path(output: PathLike) -> Path:
    """``<output dir>/<output stem>.json``."""
    out = Path(output)
    return out.with_name(out.stem + ".json")


def build_report(plan: TrackPlan, targets: Sequence[TargetFace], *, video: PathLike,
                 output: PathLike, info: VideoInfo, options: AnonymizeOptions,
                 image_size: Optional[int] = None) -> Dict[str, Any]:
    """The JSON-ready report of a run (see ``docs/anonymize.md``)."""
    margin = options.animate.face_margin
    cover = coverage_by_frame(plan.tracks, plan.n_frames)
    tracks = []
    starts = np.array([first for first, _ in plan.shots] or [0], np.int64)
    step = options.detect_every

    def sampled(frames: np.ndarray) -> np.ndarray:
        # the detector ran on each shot's first frame and every `step` frames after it
        shot_start = starts[np.searchsorted(starts, frames, side="right") - 1]
        return (frames - shot_start) % step == 0

    for t in plan.tracks:
        entry = track_summary(t, margin, sampled)
        entry["target"] = targets[t.target].path if targets else None
        tracks.append(entry)
    uncovered = np.flatnonzero(cover == 0)
    return {
        "video": str(video),
        "output": str(output),
        "frames": plan.n_frames,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "settings": {
            "detector": options.animate.detector_name or "blazeface",
            "detect_every": options.detect_every,
            "max_gap": options.max_gap,
            "pad_frames": options.track_pad,
            "smooth_sigma": options.smooth_sigma,
            "cut_threshold": options.cut_threshold,
            "ratio": options.animate.ratio,
            "face_margin": margin,
            "image_size": image_size,
            "face_enhancement": options.animate.face_enhancement,
        },
        "targets": [t.path for t in targets],
        "scene_cuts": list(plan.cuts),
        "shots": [list(s) for s in plan.shots],
        "tracks": tracks,
        "frames_without_face": to_ranges(plan.no_face_frames),
        "frames_untouched": to_ranges(uncovered),
        "totals": {
            "tracks": len(plan.tracks),
            "frames": plan.n_frames,
            "frames_with_replaced_faces": int((cover > 0).sum()),
            "frames_untouched": int(len(uncovered)),
            "frames_sampled": plan.sampled,
            "frames_without_face": len(plan.no_face_frames),
            "detections": plan.detections,
            "face_frames_replaced": int(cover.sum()),
            "face_frames_interpolated": int(sum(e["frames_interpolated"] for e in tracks)),
            "face_frames_missed": int(sum(e["frames_missed"] for e in tracks)),
            "face_frames_padded": int(sum(e["frames_padded"] for e in tracks)),
        },
    }


def write_report(path: PathLike, report: Dict[str, Any]) -> None:
    """Write ``report`` as indented JSON, atomically (temp file + rename)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write the report {target}: {exc.strerror or exc}") from None
