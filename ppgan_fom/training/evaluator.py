"""Reconstruction benchmark (FOMM paper Sec. 4.2): each test video is re-generated from its
first frame, driven by its own frames, and compared with the real frames.

* **L1**: mean absolute difference of pixel values in [0, 1], per frame, averaged over
  the frames of a video (per-video score) and over all frames of all videos (overall
  score, what first-order-model's ``reconstruction.py`` prints). As in that script the
  first frame itself is included unless ``include_source_frame=False``.
* **AKD / MKR** (average keypoint distance, missing keypoint rate) and **AED** (average
  euclidean distance of identity embeddings) need external pretrained models (a facial
  landmark detector, a re-identification network); pass them as callables - see
  :class:`Evaluator` and ``docs/training.md``.

Models are :class:`Reconstructor` objects: the trained FOMM (:class:`FommReconstructor`,
absolute keypoints, as in the paper's reconstruction protocol) or the "copy the source
frame" baseline (:class:`CopySourceReconstructor`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional

import numpy as np

from ..animator import batches, tensor_to_frames
from .dataset import VideoEntry, VideoSet, to_chw_float

logger = logging.getLogger(__name__)

__all__ = ["Reconstructor", "FommReconstructor", "CopySourceReconstructor", "VideoScore",
           "EvalReport", "Evaluator"]

KeypointFn = Callable[[np.ndarray], np.ndarray]  # (N, S, S, 3) uint8 -> (N, K, 2)
EmbeddingFn = Callable[[np.ndarray], np.ndarray]  # (N, S, S, 3) uint8 -> (N, D)


class Reconstructor:
    """A model under evaluation: ``start(source)`` once per video, then ``predict``."""

    name = "model"

    def start(self, source: np.ndarray) -> None:
        """source: (1, 3, S, S) float32 in [0, 1] (the video's first frame)."""
        raise NotImplementedError

    def predict(self, driving: np.ndarray) -> np.ndarray:
        """driving: (B, 3, S, S) float32 in [0, 1] -> (B, 3, S, S) float32 in [0, 1]."""
        raise NotImplementedError

    def close(self) -> None:
        """Called after the last video."""


class CopySourceReconstructor(Reconstructor):
    """Baseline: every reconstructed frame is the source frame (no motion at all)."""

    name = "copy-source"

    def start(self, source: np.ndarray) -> None:
        self._source = np.asarray(source, np.float32)

    def predict(self, driving: np.ndarray) -> np.ndarray:
        return np.repeat(self._source, driving.shape[0], axis=0)


class FommReconstructor(Reconstructor):
    """A FOMM generator + keypoint detector driven by the absolute driving keypoints.

    The networks are switched to eval mode for the evaluation and back afterwards.

    Args:
        generator, kp_detector: the networks (e.g. ``Trainer.generator``).
        border_blend: use PaddleGAN's inference-time border blend (``inference=True``);
            default off, the original FOMM generator the paper evaluated.
    """

    name = "fomm"

    def __init__(self, generator, kp_detector, border_blend: bool = False):
        self.generator, self.kp_detector = generator, kp_detector
        self.border_blend = border_blend
        self._modes = None

    def start(self, source: np.ndarray) -> None:
        import paddle

        if self._modes is None:
            self._modes = (self.generator.training, self.kp_detector.training,
                           self.generator.inference)
            self.generator.eval()
            self.kp_detector.eval()
            self.generator.inference = self.border_blend
        with paddle.no_grad():
            self._source = paddle.to_tensor(np.ascontiguousarray(source, np.float32))
            self._kp = self.kp_detector(self._source)
            self._feats = self.generator.encode(self._source)

    def predict(self, driving: np.ndarray) -> np.ndarray:
        import paddle

        b = int(driving.shape[0])
        with paddle.no_grad():
            kp_d = self.kp_detector(paddle.to_tensor(np.ascontiguousarray(driving, np.float32)))
            kp_s = {k: v.expand([b, *v.shape[1:]]) for k, v in self._kp.items()}
            out = self.generator(self._source.expand([b, *self._source.shape[1:]]),
                                 kp_driving=kp_d, kp_source=kp_s,
                                 source_features=self._feats.expand([b, *self._feats.shape[1:]]))
        return out["prediction"].numpy()

    def close(self) -> None:
        if self._modes is not None:
            gen_train, kp_train, inference = self._modes
            self.generator.train() if gen_train else self.generator.eval()
            self.kp_detector.train() if kp_train else self.kp_detector.eval()
            self.generator.inference = inference
            self._modes = None


@dataclass
class VideoScore:
    """Scores of one test video (None: metric not computed)."""

    name: str
    frames: int
    l1: float
    akd: Optional[float] = None
    mkr: Optional[float] = None
    aed: Optional[float] = None


@dataclass
class EvalReport:
    """All videos' scores and the overall ones (frame-weighted means)."""

    model: str
    videos: List[VideoScore] = field(default_factory=list)
    l1: float = float("nan")
    l1_video_mean: float = float("nan")
    akd: Optional[float] = None
    mkr: Optional[float] = None
    aed: Optional[float] = None
    frames: int = 0
    skipped: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["protocol"] = ("FOMM reconstruction: first frame = source, every frame of the "
                         "video drives; L1 of [0,1] pixel values")
        return d

    def save_json(self, path: Path | str) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return p

    def table(self) -> str:
        """A plain-text table: one row per video and an overall row."""
        cols = [("video", lambda v: v.name), ("frames", lambda v: str(v.frames)),
                ("L1", lambda v: f"{v.l1:.5f}")]
        for key in ("akd", "mkr", "aed"):
            if getattr(self, key) is not None:
                cols.append((key.upper(), lambda v, k=key: "-" if getattr(v, k) is None
                             else f"{getattr(v, k):.4f}"))
        overall = VideoScore("overall", self.frames, self.l1, self.akd, self.mkr, self.aed)
        rows = [[f(v) for _, f in cols] for v in [*self.videos, overall]]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, (h, _) in enumerate(cols)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
        out = [line([h for h, _ in cols]), line(["-" * w for w in widths])]
        out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
        return "\n".join(out)


class Evaluator:
    """Runs the reconstruction protocol over a split's videos.

    Args:
        videos: the test split.
        batch_size: driving frames per forward pass.
        max_videos: evaluate only the first N videos (sorted by name).
        max_frames: use only the first N frames of each video.
        frame_stride: use every k-th frame (frame 0 is always the source); 1 = all.
        include_source_frame: count frame 0 (reconstructed from itself), as FOMM's script.
        save_dir: write each reconstruction there as ``<video stem>.mp4``.
        keypoint_fn: optional landmark detector for AKD / MKR: (N, S, S, 3) uint8 RGB ->
            (N, K, 2) float pixel coordinates, NaN where a keypoint is not found.
        embedding_fn: optional identity embedder for AED: (N, S, S, 3) uint8 -> (N, D).
        preload: keep decoded videos in memory between runs (repeated evaluations).
    """

    def __init__(self, videos: VideoSet, batch_size: int = 16, max_videos: Optional[int] = None,
                 max_frames: Optional[int] = None, include_source_frame: bool = True,
                 save_dir: Optional[Path] = None, keypoint_fn: Optional[KeypointFn] = None,
                 embedding_fn: Optional[EmbeddingFn] = None, preload: bool = False,
                 frame_stride: int = 1):
        self.videos = videos
        self.batch_size = max(1, int(batch_size))
        self.max_videos = max_videos
        self.max_frames = max_frames
        self.include_source_frame = include_source_frame
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.keypoint_fn = keypoint_fn
        self.embedding_fn = embedding_fn
        self.preload = preload
        self._memo: dict = {}
        self.frame_stride = max(1, int(frame_stride))

    def _frames(self, entry: VideoEntry) -> Iterator[np.ndarray]:
        stream: Iterable[np.ndarray]
        if self.preload:
            arr = self._memo.get(str(entry.path))
            if arr is None:
                arr = np.stack(list(self.videos.iter_video(entry)))
                self._memo[str(entry.path)] = arr
            stream = arr
        else:
            stream = self.videos.iter_video(entry)
        for i, f in enumerate(stream):
            if self.max_frames is not None and i >= self.max_frames:
                break
            if i % self.frame_stride == 0:
                yield f

    def evaluate_video(self, model: Reconstructor, entry: VideoEntry) -> VideoScore:
        """Scores of one video (raises InputError / VideoError if it cannot be read)."""
        frames = self._frames(entry)
        first = next(frames, None)
        if first is None:
            raise ValueError(f"{entry.path}: no frames")
        model.start(to_chw_float(first)[None])
        stream = frames if not self.include_source_frame else _chain(first, frames)
        l1s: List[float] = []
        kd: List[float] = []
        missing, found = 0, 0
        ed: List[float] = []
        with contextlib.ExitStack() as stack:
            writer = None
            if self.save_dir is not None:
                from ..media import VideoWriter

                size = first.shape[1], first.shape[0]
                self.save_dir.mkdir(parents=True, exist_ok=True)
                writer = stack.enter_context(VideoWriter(
                    self.save_dir / f"{Path(entry.name).stem}.mp4", fps=self.videos.fps(entry),
                    size=size, crf=12))
                if not self.include_source_frame:
                    writer.write(tensor_to_frames(model.predict(to_chw_float(first)[None]))[0])
            for batch in batches(stream, self.batch_size):
                real = np.stack([to_chw_float(f) for f in batch])
                pred = np.clip(model.predict(real), 0.0, 1.0)
                l1s.extend(np.abs(pred - real).mean(axis=(1, 2, 3)).tolist())
                if writer is None and self.keypoint_fn is None and self.embedding_fn is None:
                    continue
                fake_u8, real_u8 = tensor_to_frames(pred), np.stack(batch)
                if writer is not None:
                    for f in fake_u8:
                        writer.write(f)
                if self.keypoint_fn is not None:
                    kr = np.asarray(self.keypoint_fn(real_u8), np.float64)
                    kf = np.asarray(self.keypoint_fn(fake_u8), np.float64)
                    ok_r, ok_f = np.isfinite(kr).all(-1), np.isfinite(kf).all(-1)
                    found += int(ok_r.sum())
                    missing += int((ok_r & ~ok_f).sum())
                    both = ok_r & ok_f
                    dist = np.linalg.norm(np.nan_to_num(kr - kf), axis=-1)
                    kd += [float(dist[i][both[i]].mean()) for i in range(len(batch))
                           if both[i].any()]
                if self.embedding_fn is not None:
                    er = np.asarray(self.embedding_fn(real_u8), np.float64)
                    ef = np.asarray(self.embedding_fn(fake_u8), np.float64)
                    ed.extend(np.linalg.norm(er - ef, axis=-1).tolist())
        return VideoScore(entry.name, len(l1s), float(np.mean(l1s)) if l1s else float("nan"),
                          akd=float(np.mean(kd)) if kd else (None if self.keypoint_fn is None
                                                              else float("nan")),
                          mkr=(missing / found if found else None) if self.keypoint_fn else None,
                          aed=float(np.mean(ed)) if ed else None)

    def run(self, model: Reconstructor) -> EvalReport:
        """Evaluate ``model`` on every (readable) video; unreadable ones are skipped with a
        warning and listed in ``report.skipped``."""
        from ..errors import InputError

        report = EvalReport(model=getattr(model, "name", type(model).__name__))
        entries = self.videos.good_entries()
        if self.max_videos is not None:
            entries = entries[:self.max_videos]
        try:
            for entry in entries:
                try:
                    report.videos.append(self.evaluate_video(model, entry))
                except (InputError, ValueError) as exc:
                    self.videos.mark_bad(entry, str(exc))
                    report.skipped.append(entry.name)
        finally:
            model.close()
        v = report.videos
        if v:
            n = np.array([s.frames for s in v], np.float64)
            report.frames = int(n.sum())
            report.l1 = float((np.array([s.l1 for s in v]) * n).sum() / n.sum())
            report.l1_video_mean = float(np.mean([s.l1 for s in v]))
            for key in ("akd", "aed", "mkr"):
                vals = [(getattr(s, key), f) for s, f in zip(v, n) if getattr(s, key) is not None]
                if vals:
                    total = sum(f for _, f in vals)
                    setattr(report, key, float(sum(a * f for a, f in vals) / total))
        report.skipped += [Path(p).name for p in self.videos.bad if Path(p).name not in
                           report.skipped]
        return report


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
