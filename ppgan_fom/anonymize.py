"""Video anonymization: replace every face of a recorded video by a generated face
that keeps the person's expressions, head motion and lip movement.

Two streaming passes over the video (memory flat in its length):

1. **Find faces.** Frames are streamed; a scene-cut detector looks at every frame
   (tiny thumbnails); the face detector runs, batched, on every ``detect_every``-th
   frame and on the first frame of every shot. Detections are linked into tracks by
   overlap; tracks end at scene cuts and after ``max_gap`` frames without a face.
   Only boxes are kept. Each track's boxes are then interpolated over missed
   frames, smoothed over time and padded by a few frames at both ends
   (:mod:`ppgan_fom.tracking`).
2. **Replace.** Frames are streamed again, ``batch_size`` at a time. For each track
   covering them, the square crop around the track's smoothed face box is cut out
   (the driving frame), and the track's target face is animated by it with FOMM
   (relative motion from the track's first frame, adapt_scale on); the generated
   face is pasted back with the feathered, colour-matched compositor. Frames and
   regions with no track are untouched. The result is encoded to a temporary file
   with the original audio and renamed into place; a JSON report is written beside.

Target assignment: with one target face every track gets it; with several, track
``i`` (tracks numbered by first appearance, then left to right) gets target
``i mod n_targets`` (round robin). A target image without a face raises
:class:`~ppgan_fom.errors.NoFaceError` naming the file.

Python API::

    from ppgan_fom.anonymize import FaceAnonymizer
    anon = FaceAnonymizer(weight_path="vox-256")
    anon.run("talk.mp4", ["generated_face.png"], "talk_anonymized.mp4")
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .geometry import (FACE_BOX_HALF_DIAGONAL, crop_square, opaque_core_radius,
                       paste_faces)
from .types import Box
from .errors import InputError, NoFaceError, OutputError, RuntimeFailure
from .options import COVER_RATIO, AnimateOptions
from .tracking import (DEFAULT_CUT_THRESHOLD, DEFAULT_IOU, DEFAULT_MAX_GAP, DEFAULT_PAD,
                       DEFAULT_SMOOTH_SIGMA, SceneCutDetector, Track, TrackBuilder,
                       coverage_by_frame, finalize_tracks, shot_bounds, to_ranges,
                       track_summary)
from .media import (VIDEO_SUFFIXES, Frame, VideoInfo, VideoWriter, ensure_writable_output,
                    iter_frames, probe_video, read_frames, read_image)

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["AnonymizeOptions", "FaceAnonymizer", "TargetFace", "TrackPlan", "FrameResult",
           "assign_targets", "build_report", "write_report", "default_report_path",
           "DEFAULT_RATIO", "opaque_core_radius"]

#: Pasted-disc radius for anonymization, as a fraction of the crop side. With the
#: crop margin 0.5 (crop side = 2 x face size) the disc is the crop's inscribed
#: circle and its fully opaque core (radius 0.4 x side = 0.8 x face size) contains
#: the whole detected face box (half-diagonal 0.71 x face size): no original face
#: pixel shows through, even with a few pixels of tracking error. (Photo animation
#: uses 0.4, which leaves the corners of the face box to the feathered edge.)
DEFAULT_RATIO = COVER_RATIO


def _default_animate() -> AnimateOptions:
    """The animation options the anonymizer starts from: relative motion with
    adapt_scale (the driving face is the person's own face, the target a different
    face) and the larger paste disc (:data:`DEFAULT_RATIO`)."""
    return AnimateOptions(ratio=DEFAULT_RATIO, relative=True, adapt_scale=True)


def _aopt(default: Any, help: str, **kw: Any):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class AnonymizeOptions:
    """Options of a video anonymization run.

    ``animate`` holds the model, detector and compositing options shared with photo
    animation (:class:`~ppgan_fom.options.AnimateOptions`; its defaults, except
    ``ratio`` = :data:`DEFAULT_RATIO` and relative motion with adapt_scale, which the
    anonymizer always uses). The other fields are the anonymizer's own.
    """

    animate: AnimateOptions = field(default_factory=_default_animate,
                                    metadata={"flag": False})
    detect_every: int = _aopt(
        1, "run the face detector on every N-th frame (and on the first frame of every "
           "shot); boxes in between are interpolated. 1 = every frame (safest)", type=int)
    detect_batch: int = _aopt(8, "frames per face-detector call", type=int)
    detect_tiles: int = _aopt(
        1, "BlazeFace only: also search an N x N grid of tiles for small faces "
           "(wide shots); 1 = whole frame only", type=int)
    max_gap: int = _aopt(
        DEFAULT_MAX_GAP, "longest run of frames without a detection inside a track; "
                         "the box is interpolated over it (a longer gap ends the track)",
        type=int)
    pad_frames: int = _aopt(
        DEFAULT_PAD, "frames a track is extended before its first and after its last "
                     "detection (never across a scene cut)", type=int)
    iou_threshold: float = _aopt(DEFAULT_IOU, "minimum box overlap (IoU) to link a "
                                              "detection to a track", type=float)
    smooth_sigma: float = _aopt(
        DEFAULT_SMOOTH_SIGMA, "temporal smoothing of the face boxes, in frames "
                              "(Gaussian-weighted local-linear fit; 0 = off)", type=float)
    cut_threshold: float = _aopt(
        DEFAULT_CUT_THRESHOLD, "scene-change score (0..1, colour histogram / thumbnail "
                               "difference) above which a frame starts a new shot; "
                               ">= 1 disables cut detection", type=float)
    min_detections: int = _aopt(1, "drop tracks with fewer detections (1 keeps every "
                                   "face found: privacy first)", type=int)

    def __post_init__(self):
        if self.detect_every < 1:
            raise InputError(f"--detect_every must be >= 1, got {self.detect_every}")
        if self.detect_batch < 1:
            raise InputError(f"--detect_batch must be >= 1, got {self.detect_batch}")
        if self.detect_tiles < 1:
            raise InputError(f"--detect_tiles must be >= 1, got {self.detect_tiles}")
        if self.max_gap < self.detect_every - 1:
            raise InputError(f"--max_gap ({self.max_gap}) must be at least --detect_every "
                             f"- 1 ({self.detect_every - 1})")
        if self.pad_frames < 0:
            raise InputError(f"--pad_frames must be >= 0, got {self.pad_frames}")
        if not 0 < self.iou_threshold <= 1:
            raise InputError(f"--iou_threshold must be in (0, 1], got {self.iou_threshold}")
        if self.smooth_sigma < 0:
            raise InputError(f"--smooth_sigma must be >= 0, got {self.smooth_sigma}")
        if self.cut_threshold <= 0:
            raise InputError(f"--cut_threshold must be > 0, got {self.cut_threshold}")
        if self.min_detections < 1:
            raise InputError(f"--min_detections must be >= 1, got {self.min_detections}")

    @property
    def track_pad(self) -> int:
        """Frames added at each track end: ``pad_frames`` plus the frames a sparse
        detection step may have skipped (``detect_every - 1``)."""
        return self.pad_frames + self.detect_every - 1

    def replace(self, **changes: Any) -> "AnonymizeOptions":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "AnonymizeOptions":
        """Build from keywords: :class:`AnimateOptions` field names go to ``animate``
        (on top of the anonymizer's defaults), the rest to this class."""
        own = {f.name for f in dataclasses.fields(cls)} - {"animate"}
        anim_names = {f.name for f in dataclasses.fields(AnimateOptions)}
        unknown = sorted(set(kwargs) - own - anim_names - {"animate"})
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(own | anim_names))}")
        animate = kwargs.pop("animate", None) or _default_animate()
        anim_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in anim_names}
        if anim_kw:
            animate = animate.replace(**anim_kw)
        return cls(animate=animate, **kwargs)


# --------------------------------------------------------------------------- #
# data passed between the passes
# --------------------------------------------------------------------------- #
@dataclass
class TargetFace:
    """A target (replacement) face: the image file, its face crop box and the
    model state of the crop (computed once)."""

    path: str
    box: Box
    crop: np.ndarray  # (S, S, 3) uint8
    state: Any  # ppgan_fom.animator.SourceState


@dataclass
class TrackPlan:
    """Result of pass 1: everything pass 2 and the report need (no frames).

    Attributes:
        n_frames: frames decoded.
        cuts: frames that start a new shot.
        shots: inclusive (first, last) frames of each shot.
        tracks: finished face tracks.
        sampled: number of frames the detector ran on.
        no_face_frames: sampled frames where the detector found no face.
        detections: total number of detections.
    """

    n_frames: int
    cuts: List[int]
    shots: List[Tuple[int, int]]
    tracks: List[Track]
    sampled: int
    no_face_frames: List[int]
    detections: int


@dataclass
class FrameResult:
    """One output frame, as handed to ``run(..., on_frame=)``.

    ``original`` and ``composite`` are ``(H, W, 3)`` uint8 RGB; ``mask`` is the
    ``(H, W)`` bool union of the paste masks (all False for a frame without a track);
    ``boxes`` lists ``(track_id, crop box)`` of the faces pasted.
    """

    index: int
    original: np.ndarray
    composite: np.ndarray
    mask: np.ndarray
    boxes: List[Tuple[int, Box]]


def assign_targets(tracks: Sequence[Track], n_targets: int) -> None:
    """Round robin: track ``i`` (tracks ordered by first appearance, then left to
    right) gets target ``i % n_targets``. Sets ``track.target`` in place."""
    if n_targets < 1:
        raise InputError("at least one --target_face is needed")
    for t in tracks:
        t.target = t.id % n_targets


# --------------------------------------------------------------------------- #
# the anonymizer
# --------------------------------------------------------------------------- #
class FaceAnonymizer:
    """Replace the faces of a video by animated target faces.

    Args:
        options: an :class:`AnonymizeOptions`; or keywords (any
            :class:`AnonymizeOptions` or :class:`~ppgan_fom.options.AnimateOptions`
            field, e.g. ``weight_path=..., config=..., detect_every=2``).
        detector: a ready ``faceutils`` detector (default: created from the options).

    Example::

        anon = FaceAnonymizer(weight_path="vox-256")
        anon.run("talk.mp4", ["face_a.png", "face_b.png"], "talk_anon.mp4")
    """

    def __init__(self, options: Optional[AnonymizeOptions] = None, *, detector=None,
                 **kwargs: Any) -> None:
        from .pipeline import load_animator

        if options is not None and kwargs:
            raise TypeError("pass either options= or keywords, not both")
        self.options = options or AnonymizeOptions.from_kwargs(**kwargs)
        core = opaque_core_radius(self.options.animate.ratio, self.options.animate.face_margin)
        if core < FACE_BOX_HALF_DIAGONAL:
            logger.warning("with ratio %.2f and face_margin %.2f the opaque part of the pasted "
                           "disc (radius %.2f x face size) does not cover the corners of the "
                           "face box (%.2f): parts of the original face may show through the "
                           "feathered edge", self.options.animate.ratio,
                           self.options.animate.face_margin, core, FACE_BOX_HALF_DIAGONAL)
        self.config, self.animator = load_animator(self.options.animate)
        self._detector = detector

    # ------------------------------------------------------------ components
    @property
    def detector(self):
        """The face detector (created on first use)."""
        if self._detector is None:
            import faceutils

            name = self.options.animate.detector_name
            extra: Dict[str, Any] = {}
            if self.options.detect_tiles > 1:
                if (name or faceutils.DEFAULT_DETECTOR) != "blazeface":
                    raise InputError("--detect_tiles only applies to the blazeface detector")
                extra["tiles"] = self.options.detect_tiles
            self._detector = faceutils.create_detector(name, **extra)
        return self._detector

    @property
    def image_size(self) -> int:
        """Side S of the model's square input."""
        return int(self.config.image_size)

    def prepare_targets(self, paths: Sequence[PathLike]) -> List[TargetFace]:
        """Read each target image, crop its largest face, compute its model state.

        Raises:
            InputError: no target, or an unreadable image.
            NoFaceError: a target image without a detectable face (names the file).
        """
        import faceutils

        if not paths:
            raise InputError("at least one --target_face is needed")
        out: List[TargetFace] = []
        for p in paths:
            image = read_image(p)
            dets = self.detector.detect(image)
            if len(dets) == 0:
                raise NoFaceError(f"no face found in target face image {p}")
            box = faceutils.face_crop_boxes(dets, image.shape,
                                            margin=self.options.animate.face_margin,
                                            largest_only=True)[0]
            box = tuple(int(v) for v in box)
            crop = crop_square(image, box, self.image_size)
            out.append(TargetFace(str(p), box, crop, self.animator.prepare_sources([crop])))
            if len(dets) > 1:
                logger.info("target %s has %d faces: using the largest", p, len(dets))
        return out

    # ------------------------------------------------------------ pass 1
    def analyze(self, video: PathLike, info: Optional[VideoInfo] = None) -> TrackPlan:
        """Pass 1: detect faces, find scene cuts, build smoothed tracks (boxes only)."""
        from tqdm import tqdm

        opts = self.options
        info = info or probe_video(video)
        cutter = SceneCutDetector(opts.cut_threshold)
        builder = TrackBuilder(iou_threshold=opts.iou_threshold, max_gap=opts.max_gap)
        pending: List[Tuple[int, np.ndarray]] = []
        cuts: List[int] = []
        no_face: List[int] = []
        counts = {"sampled": 0, "detections": 0}

        def flush() -> None:
            if not pending:
                return
            results = self.detector.detect_batch([f for _, f in pending])
            for (idx, _), dets in zip(pending, results):
                builder.update(idx, dets)
                counts["sampled"] += 1
                counts["detections"] += len(dets)
                if len(dets) == 0:
                    no_face.append(idx)
            pending.clear()

        next_sample = 0
        n = 0
        frame_size = (info.width, info.height)
        frames = iter_frames(video, allow_partial=opts.animate.allow_partial_video)
        for idx, frame in enumerate(tqdm(frames, total=info.n_frames or None, unit="frame",
                                         desc="finding faces", disable=None)):
            n = idx + 1
            frame_size = (frame.shape[1], frame.shape[0])
            if cutter.update(frame):
                flush()
                builder.cut(idx)
                cuts.append(idx)
                logger.info("scene cut at frame %d (score %.2f)", idx, cutter.last_score)
                next_sample = idx
            if idx >= next_sample:
                pending.append((idx, frame))
                next_sample = idx + opts.detect_every
                if len(pending) >= opts.detect_batch:
                    flush()
        flush()
        shots = shot_bounds(cuts, n)
        tracks = finalize_tracks(builder.finish(), shots, sigma=opts.smooth_sigma,
                                 pad=opts.track_pad, min_detections=opts.min_detections,
                                 frame_size=frame_size, max_exit=opts.max_gap)
        logger.info("%d frames, %d shot(s), %d face track(s), %d detection(s) in %d "
                    "sampled frame(s)", n, len(shots), len(tracks), counts["detections"],
                    counts["sampled"])
        return TrackPlan(n_frames=n, cuts=cuts, shots=shots, tracks=tracks,
                         sampled=counts["sampled"], no_face_frames=no_face,
                         detections=counts["detections"])

    # ------------------------------------------------------------ pass 2
    def render(self, video: PathLike, plan: TrackPlan, targets: Sequence[TargetFace],
               on_frame: Optional[Callable[[FrameResult], None]] = None) -> Iterator[Frame]:
        """Pass 2: stream the video again and yield each output frame: a
        :class:`~ppgan_fom.media.Frame` with the input frame's index and presentation
        time and the ``(H, W, 3)`` uint8 RGB image with the faces of the tracks replaced.

        Tracks must have their ``target`` set (:func:`assign_targets`).
        ``on_frame`` is called with a :class:`FrameResult` for every frame.
        """
        opts = self.options
        window: List[Frame] = []
        started: Dict[int, Tuple[Any, List[float]]] = {}  # track id -> (kp_initial, scales)
        upcoming = sorted(plan.tracks, key=lambda t: t.start)
        live: List[Track] = []  # tracks that may cover the current window
        pos = 0

        def flush() -> Iterator[Frame]:
            nonlocal pos, live
            last = window[-1].index
            while pos < len(upcoming) and upcoming[pos].start <= last:
                live.append(upcoming[pos])
                pos += 1
            yield from self._render_window(window, live, targets, started, on_frame)
            live = [t for t in live if t.end > last]

        for frame in read_frames(video, allow_partial=opts.animate.allow_partial_video):
            window.append(frame)
            if len(window) >= opts.animate.batch_size:
                yield from flush()
                window = []
        if window:
            yield from flush()

    def _render_window(self, window: List[Frame], tracks: Sequence[Track],
                       targets: Sequence[TargetFace], started: Dict[int, Tuple[Any, List[float]]],
                       on_frame) -> Iterator[Frame]:
        """Animate every track covering the frames of ``window``, paste, yield."""
        a = self.options.animate
        first, last = window[0].index, window[-1].index
        pasted: Dict[int, List[Tuple[int, Box, np.ndarray]]] = {f.index: [] for f in window}
        for t in tracks:
            if t.end < first or t.start > last:
                continue
            sel = [(f.index, f.image) for f in window if t.covers(f.index)]
            boxes = [t.crop_box(i, a.face_margin) for i, _ in sel]
            crops = [crop_square(f, b, self.image_size) for (_, f), b in zip(sel, boxes)]
            target = targets[t.target]
            kp = self.animator.keypoints(crops)
            if t.id not in started:
                if sel[0][0] != t.start:  # cannot happen with in-order frames
                    raise RuntimeFailure(f"track {t.id} reached at frame {sel[0][0]} before "
                                         f"its first frame {t.start}")
                kp_initial = {k: v[0:1] for k, v in kp.items()}
                started[t.id] = (kp_initial, self.animator.movement_scales(
                    target.state, kp_initial, a.adapt_scale))
            kp_initial, scales = started[t.id]
            faces = self.animator.animate_batch(target.state, kp, kp_initial,
                                                relative=a.relative, scales=scales)[0]
            for (i, _), b, face in zip(sel, boxes, faces):
                pasted[i].append((t.id, b, face))
        ends = {t.id: t.end for t in tracks}
        for tid in [tid for tid in started if ends.get(tid, -1) <= last]:
            del started[tid]  # finished: keep per-track state small
        for f in window:
            i, frame = f.index, f.image
            faces = pasted[i]
            if faces:
                composite, mask = paste_faces(frame, [(b, f) for _, b, f in faces],
                                              ratio=a.ratio, color_match=a.color_match)
            else:
                composite, mask = frame, np.zeros(frame.shape[:2], bool)
            if on_frame is not None:
                on_frame(FrameResult(i, frame, composite, mask, [(tid, b) for tid, b, _ in faces]))
            yield Frame(i, composite, f.time)

    # ------------------------------------------------------------ files
    def run(self, video: PathLike, target_faces: Union[PathLike, Sequence[PathLike]],
            output: PathLike, report: Union[PathLike, None, bool] = None,
            on_frame: Optional[Callable[[FrameResult], None]] = None) -> str:
        """Anonymize ``video`` into ``output``.

        Args:
            video: input video (any ffmpeg-readable file with a video stream).
            target_faces: one image path or a list; assigned to tracks round robin.
            output: result video (.mp4/.m4v/.mov/.mkv); same size (padded by one pixel
                if odd), fps and frame count as the input, audio copied.
            report: JSON report path; None = beside the output (``<stem>.json``);
                False = no report.
            on_frame: optional callback receiving a :class:`FrameResult` per frame.

        Returns:
            The output path.
        """
        from tqdm import tqdm

        opts = self.options
        targets_in = [target_faces] if isinstance(target_faces, (str, os.PathLike)) \
            else list(target_faces)
        if not targets_in:
            raise InputError("at least one --target_face is needed")
        inputs = [video, *targets_in]
        out = ensure_writable_output(output, inputs, suffixes=VIDEO_SUFFIXES)
        report_path: Optional[Path] = None
        if report is not False:
            report_path = ensure_writable_output(
                default_report_path(out) if report in (None, True) else report, [*inputs, out])
        info = probe_video(video)
        targets = self.prepare_targets(targets_in)
        plan = self.analyze(video, info)
        assign_targets(plan.tracks, len(targets))
        if len(targets) > len(plan.tracks) and plan.tracks:
            logger.info("%d target faces for %d track(s): the last %d are unused",
                        len(targets), len(plan.tracks), len(targets) - len(plan.tracks))
        if not plan.tracks:
            logger.warning("no face found in %s: the output is a re-encoded copy", video)
        written = 0
        with VideoWriter(out, (info.width, info.height), info.fps, time_base=info.time_base,
                         audio_from=video if opts.animate.audio else None) as writer:
            for frame in tqdm(self.render(video, plan, targets, on_frame), total=plan.n_frames,
                              unit="frame", desc="anonymizing", disable=None):
                writer.write(frame.image, frame.time)
                written += 1
        if written != plan.n_frames:
            logger.warning("decoded %d frames in pass 2 but %d in pass 1", written, plan.n_frames)
        if report_path is not None:
            write_report(report_path, build_report(plan, targets, video=video, output=out,
                                                   info=info, options=opts,
                                                   image_size=self.image_size))
            logger.info("report: %s", report_path)
        return str(out)


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
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
