"""Video datasets in the FOMM layout: ``root/train/`` and ``root/test/``.

Each split directory holds videos, each either

* a video file (``.mp4 .mov .avi .mkv .webm .m4v .gif``), decoded with ffmpeg, or
* a folder of frames (``.png .jpg .jpeg .bmp .webp .tif .tiff``), sorted by the number in
  the file name when every name is a number (``0.png, 1.png, ..., 10.png``), else by name.

Frames are resized to the config's frame shape (S, S) and served as RGB. With
``id_sampling``, names ``<identity>#<clip>...`` are grouped by identity and each training
item is one identity (a random clip of it), as in FOMM's VoxCeleb setup.

A video that cannot be read (not a video, truncated, empty folder, corrupt frame) is
skipped with a warning naming it; training goes on with the others.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import cv2
import numpy as np

from ..errors import InputError
from ..media import iter_frames, probe_video, read_image
from .augmentation import PairAugmentation
from .train_config import DatasetConfig

logger = logging.getLogger(__name__)

__all__ = ["VIDEO_SUFFIXES", "IMAGE_SUFFIXES", "VideoEntry", "VideoSet", "PairDataset",
           "resize_frame", "to_chw_float"]

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_CACHE_BYTES = 2 << 30


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8 (area filter when shrinking)."""
    h, w = frame.shape[:2]
    if (h, w) == (size, size):
        return np.ascontiguousarray(frame)
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(frame), (size, size), interpolation=interp)


def to_chw_float(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or float in [0, 1] -> (3, H, W) float32 in [0, 1]."""
    arr = frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _frame_files(folder: Path) -> List[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if files and all(p.stem.isdigit() for p in files):
        return sorted(files, key=lambda p: int(p.stem))
    return sorted(files, key=lambda p: p.name)


@dataclass
class VideoEntry:
    """One video of a split: a file or a folder of frames."""

    path: Path
    frames: Optional[List[Path]] = None  # frame files of a folder video

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def identity(self) -> str:
        """Text before the first ``#`` (the whole stem if there is none)."""
        return self.name.split("#")[0] if "#" in self.name else self.path.stem

    @property
    def is_folder(self) -> bool:
        return self.frames is not None


class _ByteLRU:
    """Thread-safe LRU of decoded videos bounded by their total size in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: "OrderedDict[Path, np.ndarray]" = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Path) -> Optional[np.ndarray]:
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: Path, arr: np.ndarray) -> None:
        if arr.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = arr
            self._size += arr.nbytes
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= old.nbytes


class VideoSet:
    """The videos of one split directory, read at ``size`` x ``size``.

    Args:
        split_dir: ``root/train`` or ``root/test``.
        size: frame size S in pixels.
        cache_bytes: memory budget for decoded video files (folders of frames are read
            frame by frame and need no cache).
        probe: check every video file with ffprobe up front (unreadable ones are dropped
            with a warning); decode errors found later are handled the same way.

    Raises:
        InputError: the directory is missing or holds no readable video.
    """

    def __init__(self, split_dir: Path | str, size: int, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 probe: bool = True):
        self.dir = Path(split_dir)
        self.size = int(size)
        if not self.dir.is_dir():
            raise InputError(f"{self.dir}: dataset split directory not found (expected the "
                             f"FOMM layout root/train/, root/test/)")
        self._cache = _ByteLRU(cache_bytes)
        self._lock = threading.Lock()
        self.bad: Dict[str, str] = {}
        self.entries: List[VideoEntry] = []
        for p in sorted(self.dir.iterdir(), key=lambda q: q.name):
            if p.name.startswith("."):
                continue
            if p.is_dir():
                files = _frame_files(p)
                if not files:
                    self._skip(p, "folder holds no image frames")
                    continue
                self.entries.append(VideoEntry(p, files))
            elif p.suffix.lower() in VIDEO_SUFFIXES:
                if probe:
                    try:
                        info = probe_video(p)
                    except InputError as exc:
                        self._skip(p, str(exc))
                        continue
                    if info.width <= 0 or info.height <= 0:
                        self._skip(p, "no video stream")
                        continue
                self.entries.append(VideoEntry(p))
            else:
                logger.debug("ignoring %s (not a video or a folder of frames)", p)
        if not self.entries:
            raise InputError(f"{self.dir}: no readable videos (video files "
                             f"{', '.join(sorted(VIDEO_SUFFIXES))} or folders of frames)")
        logger.info("%s: %d videos%s", self.dir, len(self.entries),
                    f" ({len(self.bad)} skipped)" if self.bad else "")

    # ------------------------------------------------------------------ health
    def _skip(self, path: Path, reason: str) -> None:
        with self._lock:
            first = str(path) not in self.bad
            self.bad[str(path)] = reason
        if first:
            logger.warning("skipping unreadable video %s: %s", path, reason)

    def is_bad(self, entry: VideoEntry) -> bool:
        return str(entry.path) in self.bad

    def good_entries(self) -> List[VideoEntry]:
        return [e for e in self.entries if not self.is_bad(e)]

    # ------------------------------------------------------------------ reading
    def _decode(self, entry: VideoEntry) -> np.ndarray:
        """All frames of a video file, resized: (N, S, S, 3) uint8 (LRU-cached)."""
        arr = self._cache.get(entry.path)
        if arr is None:
            frames = [resize_frame(f, self.size) for f in iter_frames(entry.path)]
            arr = np.stack(frames)
            self._cache.put(entry.path, arr)
        return arr

    def num_frames(self, entry: VideoEntry) -> int:
        """Frame count (decodes a video file; raises InputError/VideoError if unreadable)."""
        if entry.is_folder:
            return len(entry.frames)
        return int(self._decode(entry).shape[0])

    def read(self, entry: VideoEntry, indices: Sequence[int]) -> List[np.ndarray]:
        """Frames ``indices`` of a video as (S, S, 3) uint8 RGB.

        Raises:
            InputError (incl. VideoError): the video or a frame cannot be read.
        """
        if entry.is_folder:
            return [resize_frame(read_image(entry.frames[i]), self.size) for i in indices]
        arr = self._decode(entry)
        return [arr[i] for i in indices]

    def iter_video(self, entry: VideoEntry) -> Iterator[np.ndarray]:
        """Stream every frame, (S, S, 3) uint8, without holding the video in memory."""
        if entry.is_folder:
            for f in entry.frames:
                yield resize_frame(read_image(f), self.size)
            return
        cached = self._cache.get(entry.path)
        if cached is not None:
            yield from cached
            return
        for frame in iter_frames(entry.path):
            yield resize_frame(frame, self.size)

    def fps(self, entry: VideoEntry, default: float = 25.0) -> float:
        """Frame rate of a video file (``default`` for folders or when unknown)."""
        if entry.is_folder:
            return default
        try:
            return probe_video(entry.path).fps or default
        except InputError:
            return default

    def mark_bad(self, entry: VideoEntry, reason: str) -> None:
        """Exclude a video from now on, with a warning naming it."""
        self._skip(entry.path, reason)


class PairDataset:
    """Training pairs: two random frames of one video (FOMM's ``FramesDataset``).

    ``len(ds) = items * num_repeats`` where items are videos, or identities with
    ``id_sampling``. ``ds.sample(i, rng)`` returns ``{'source': (3, S, S), 'driving':
    (3, S, S)}`` float32 in [0, 1] and ``'name'``; all randomness comes from ``rng``.
    """

    def __init__(self, videos: VideoSet, cfg: DatasetConfig, augment: bool = True):
        self.videos = videos
        self.cfg = cfg
        self.augment = PairAugmentation(cfg) if augment else None
        groups: Dict[str, List[VideoEntry]] = OrderedDict()
        for e in videos.entries:
            groups.setdefault(e.identity if cfg.id_sampling else e.name, []).append(e)
        self.items: List[List[VideoEntry]] = list(groups.values())
        self.num_repeats = max(1, int(cfg.num_repeats))

    def __len__(self) -> int:
        return len(self.items) * self.num_repeats

    @property
    def num_items(self) -> int:
        return len(self.items)

    def _pick(self, index: int, rng: np.random.Generator) -> VideoEntry:
        n = len(self.items)
        for k in range(n):
            group = [e for e in self.items[(index + k) % n] if not self.videos.is_bad(e)]
            if group:
                return group[int(rng.integers(len(group)))] if len(group) > 1 else group[0]
        raise InputError(f"{self.videos.dir}: every video is unreadable "
                         f"({len(self.videos.bad)} skipped)")

    def sample(self, index: int, rng: np.random.Generator) -> dict:
        """The pair for item ``index % num_items``; unreadable videos are replaced by the
        next readable one (and reported once)."""
        index = index % len(self.items)
        while True:
            entry = self._pick(index, rng)
            try:
                n = self.videos.num_frames(entry)
                idx = np.sort(rng.choice(n, size=2, replace=True))
                frames = self.videos.read(entry, [int(i) for i in idx])
                break
            except InputError as exc:  # VideoError is an InputError
                self.videos.mark_bad(entry, str(exc))
        pair = [f.astype(np.float32) / 255.0 for f in frames]
        if self.augment is not None:
            pair = self.augment(pair, rng)
        return {"source": to_chw_float(pair[0]), "driving": to_chw_float(pair[1]),
                "name": entry.name}


def split_dir(root: str, split: str) -> Path:
    """``ROOT/split`` of a dataset in the FOMM layout; InputError naming what is missing."""
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: data root not found")
    d = r / split
    if not d.is_dir():
        raise InputError(f"{r}: no '{split}' directory (expected the FOMM layout "
                         f"ROOT/train/, ROOT/test/ holding videos or folders of frames)")
    return d
