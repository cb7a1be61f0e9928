"""Planning a folder run: which files are videos, where each output goes, how a long video
is cut into chunks, and what each chunk needs from the frames before it. Pure Python (no
Ray, no Paddle, no decoding)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..types import PathLike

__all__ = ["INPUT_SUFFIXES", "OUTPUT_SUFFIXES", "VideoJob", "find_videos", "plan_outputs",
           "chunk_ranges", "crossing_tracks", "reference_window", "plan_digest",
           "DEFAULT_CHUNK_FRAMES", "MANIFEST_NAME", "PARTS_DIR"]

#: Files taken as videos in the input folder (by suffix, case-insensitive).
INPUT_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg",
                            ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp"})
#: Inputs with these suffixes keep them; every other video becomes ``.mp4``.
OUTPUT_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv"})
#: Frames per chunk of a long video (about a minute at 30 fps). A video with more frames
#: is rendered in chunks on several workers; 0 turns chunking off.
DEFAULT_CHUNK_FRAMES = 1800
MANIFEST_NAME = "manifest.json"
#: Hidden folder of the output folder where chunks wait to be joined.
PARTS_DIR = ".parts"


@dataclass(frozen=True)
class VideoJob:
    """One input of a folder run.

    Attributes:
        key: the input's path relative to the input folder (POSIX), its manifest key.
        video: the input file.
        output: the anonymized video.
        report: its JSON report, or None.
    """

    key: str
    video: str
    output: str
    report: "str | None"


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def find_videos(input_dir: PathLike, output_dir: PathLike) -> List[Path]:
    """Every video file under ``input_dir`` (sub-folders included, sorted), by suffix
    (:data:`INPUT_SUFFIXES`); hidden files and folders and anything inside
    ``output_dir`` are left out.

    Raises:
        InputError: ``input_dir`` is not a folder.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(f"input folder not found (or not a folder): {root}")
    out = Path(output_dir).resolve()
    found = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in INPUT_SUFFIXES and not _is_within(p.resolve(), out):
            found.append(p)
    return found


def plan_outputs(videos: Sequence[Path], input_dir: PathLike, output_dir: PathLike,
                 reports: bool = True) -> List[VideoJob]:
    """Where each video's output goes: the same relative path under ``output_dir``, the
    suffix kept for .mp4/.m4v/.mov/.mkv and ``.mp4`` otherwise, the report beside it
    (``<stem>.json``). Two inputs that would share an output or report (``a.avi`` and
    ``a.webm``; a top-level ``manifest.*``) both get their suffix in the name
    (``a_avi.mp4``)."""
    root, dest = Path(input_dir), Path(output_dir)
    rels = [v.relative_to(root) for v in videos]

    def names(rel: Path, long: bool) -> Tuple[Path, Path]:
        suffix = rel.suffix.lower() if rel.suffix.lower() in OUTPUT_SUFFIXES else ".mp4"
        stem = f"{rel.stem}_{rel.suffix.lower().lstrip('.')}" if long else rel.stem
        return rel.with_name(stem + suffix), rel.with_name(stem + ".json")

    def clashes(pairs: List[Tuple[Path, Path]]) -> set:
        seen: Dict[str, List[int]] = {}
        for i, (o, r) in enumerate(pairs):
            for name in {o.as_posix().lower(), r.as_posix().lower()}:
                seen.setdefault(name, []).append(i)
        bad = {i for ids in seen.values() if len(ids) > 1 for i in ids}
        return bad | {i for i, (_, r) in enumerate(pairs) if r.as_posix() == MANIFEST_NAME}

    pairs = [names(r, False) for r in rels]
    for i in clashes(pairs):
        pairs[i] = names(rels[i], True)
    if clashes(pairs):
        raise InputError(f"inputs in {root} map to the same output names even with their "
                         f"suffixes: rename them")
    return [VideoJob(rel.as_posix(), str(v), str(dest / o), str(dest / r) if reports else None)
            for v, rel, (o, r) in zip(videos, rels, pairs)]


def chunk_ranges(n_frames: int, chunk_frames: int, batch_size: int) -> List[Tuple[int, int]]:
    """Cut frames ``0..n_frames-1`` into ``ceil(n / chunk_frames)`` pieces ``[start,
    stop)`` of nearly equal length, each starting at a multiple of ``batch_size`` (so a
    chunk renders in the same batches as the whole video). One piece when
    ``chunk_frames`` is 0 or not smaller than ``n_frames``."""
    if n_frames <= 0:
        return []
    if chunk_frames <= 0 or n_frames <= chunk_frames:
        return [(0, n_frames)]
    pieces = math.ceil(n_frames / chunk_frames)
    step = math.ceil(n_frames / pieces / batch_size) * batch_size
    starts = list(range(0, n_frames, step))
    return [(s, min(s + step, n_frames)) for s in starts]


def crossing_tracks(tracks: Iterable, start: int) -> list:
    """Tracks that began before frame ``start`` and still cover it: a chunk starting at
    ``start`` needs their reference keypoints."""
    return [t for t in tracks if t.start < start <= t.end]


def reference_window(track, batch_size: int) -> Tuple[int, int]:
    """Inclusive ``(first, last)`` frames that share the batch of ``track``'s first frame
    when the whole video is rendered: its reference keypoints are computed on them."""
    window_end = (track.start // batch_size + 1) * batch_size - 1
    return track.start, min(track.end, window_end)


def plan_digest(*parts: object, arrays: Sequence[np.ndarray] = ()) -> str:
    """A short hex digest of a chunk plan (inputs, options, ranges, track boxes): chunks
    of an interrupted run are reused only under the same digest."""
    h = hashlib.sha1()
    for p in parts:
        h.update(repr(p).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:12]
