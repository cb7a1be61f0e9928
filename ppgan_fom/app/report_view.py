"""The anonymization report (ppgan_fom.anonymize.report) as the page shows it: one table
row per face track, one summary line, and a copy of the JSON that names the files by
their uploaded names instead of the server's paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

__all__ = ["TRACK_COLUMNS", "track_rows", "summary", "public_report", "ranges_text"]

#: (column title, report key) of the track table.
TRACK_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("track", "id"), ("replaced by", "target"), ("shot", "shot"),
    ("first frame", "first_frame"), ("last frame", "last_frame"),
    ("frames replaced", "frames_covered"), ("face found in", "frames_detected"),
    ("interpolated", "frames_interpolated"), ("missed", "frames_missed"),
    ("mean score", "mean_score"))


def _name(path: Any) -> Any:
    return Path(path).name if isinstance(path, str) and path else path


def track_rows(report: Mapping[str, Any]) -> Tuple[List[str], List[List[Any]]]:
    """Column titles and one row per track (the target face by its file name)."""
    rows = []
    for t in report.get("tracks", []):
        row = dict(t, target=_name(t.get("target")))
        rows.append([row.get(key) for _, key in TRACK_COLUMNS])
    return [title for title, _ in TRACK_COLUMNS], rows


def ranges_text(ranges: Sequence[Sequence[int]], limit: int = 6) -> str:
    """``[[0, 4], [9, 9]]`` -> ``"0-4, 9"`` (at most ``limit`` ranges, then "...")."""
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({len(ranges) - limit} more)")
    return ", ".join(parts)


def summary(report: Mapping[str, Any]) -> str:
    """One line: tracks, frames with replaced faces, and the frames left as they were."""
    totals = report.get("totals", {})
    frames = totals.get("frames", report.get("frames", 0))
    text = (f"{totals.get('tracks', 0)} face track(s); faces replaced in "
            f"{totals.get('frames_with_replaced_faces', 0)} of {frames} frames")
    untouched = report.get("frames_untouched") or []
    if untouched:
        text += f"; frames left unchanged (no face found): {ranges_text(untouched)}"
    return text


def public_report(report: Mapping[str, Any]) -> Dict[str, Any]:
    """A copy of ``report`` naming the video, output and target files by their file
    names (the server's temp paths mean nothing to the user and stay private)."""
    out = dict(report)
    for key in ("video", "output"):
        out[key] = _name(out.get(key))
    out["targets"] = [_name(t) for t in out.get("targets", [])]
    out["tracks"] = [dict(t, target=_name(t.get("target"))) for t in out.get("tracks", [])]
    return out
