"""The jobs behind the page, without Gradio: check the uploads, preview the faces,
animate a photo, anonymize a video. Each job takes plain paths and values and returns
plain results, so that it is tested without a browser; the page only lays them out.

Every job checks the uploads against the server's :class:`~.limits.Limits` first (no
model runs on a bad or too large upload), runs the models under
:attr:`AppModels.lock <.models.AppModels.lock>`, works in a job folder that is removed
when it ends, and publishes only its finished files. Failures are the library's typed
errors (:mod:`ppgan_fom.errors`); :func:`~.messages.error_message` words them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..errors import InputError
from ..geometry import order_by_area
from ..media import probe_video
from ..progress import ProgressListener, progress_listener
from ..types import Box, PathLike
from .choices import animate_options, anonymize_options
from .limits import Limits
from .models import AppModels
from .preview import draw_faces
from .report_view import public_report, summary, track_rows
from .workspace import Workspace

logger = logging.getLogger(__name__)

__all__ = ["AppContext", "FacePreview", "AnimateResult", "AnonymizeResult", "check_photo",
           "check_video", "check_faces", "preview_faces", "animate_job", "anonymize_job"]

#: Longest file stem kept in a result's name.
_STEM = 60


@dataclass
class AppContext:
    """What every job of a server process shares."""

    models: AppModels
    workspace: Workspace
    limits: Limits = field(default_factory=Limits)
    _ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_id(self) -> int:
        return next(self._ids)


@dataclass(frozen=True)
class FacePreview:
    """The faces found in a photo: ``image`` ``(h, w, 3)`` uint8 with numbered squares,
    ``boxes`` (photo pixels, numbered 1.. from left to right), which will be animated,
    and a one-line ``caption``."""

    image: np.ndarray
    boxes: List[Box]
    animated: List[bool]
    caption: str


@dataclass(frozen=True)
class AnimateResult:
    """A finished animation: the published video and its frame count."""

    video: Path
    frames: int
    seconds: float


@dataclass(frozen=True)
class AnonymizeResult:
    """A finished anonymization: the published video and JSON report, the report
    (files named by their uploaded names), its track table and summary line."""

    video: Path
    report_path: Path
    report: Dict[str, Any]
    columns: List[str]
    rows: List[List[Any]]
    summary: str
    seconds: float


def _listening(progress: Optional[ProgressListener]):
    return progress_listener(progress) if progress is not None else contextlib.nullcontext()


def _stem(path: Path) -> str:
    return path.stem[:_STEM] or "result"


def check_photo(limits: Limits, photo: PathLike, what: str = "photo") -> np.ndarray:
    """The photo as ``(H, W, 3)`` uint8 RGB, if it is within the limits and readable."""
    return limits.check_image(photo, what)


def check_video(limits: Limits, video: PathLike, what: str = "video") -> str:
    """A one-line description of an acceptable video (else the error)."""
    info = limits.check_video(video, what)
    audio = "with sound" if info.has_audio else "no sound"
    return (f"{what} {Path(video).name}: {info.width}x{info.height}, {info.n_frames} frames "
            f"at {info.fps:.3g} fps ({info.duration:.1f} s), {audio}")


def check_faces(limits: Limits, images: Sequence[PathLike]) -> None:
    """Every replacement face image is within the limits and readable."""
    if not images:
        raise InputError("add at least one replacement face (an image of a face)")
    for image in images:
        limits.check_image(image, "replacement face")


def preview_faces(ctx: AppContext, photo: PathLike, multi_person: bool) -> FacePreview:
    """Find the faces of ``photo`` (the detector the jobs use, with the same crop boxes)
    and draw them numbered; green ones will be animated.

    Raises:
        InputError: a bad or too large photo. NoFaceError: no face in it.
    """
    photo = Path(photo)
    image = check_photo(ctx.limits, photo)
    opts = ctx.models.options.replace(multi_person=True)
    with ctx.models.lock:
        boxes = ctx.models.predictor(opts).face_boxes(image, photo.name)
    boxes = sorted(boxes, key=lambda b: (b[0], b[1]))  # numbered left to right
    largest = tuple(int(v) for v in order_by_area(np.array(boxes))[0])
    animated = [multi_person or tuple(b) == largest for b in boxes]
    n = len(boxes)
    if multi_person or n == 1:
        caption = f"{n} face(s) found; all will be animated"
    else:
        caption = (f"{n} faces found; face {animated.index(True) + 1} (the largest) will be "
                   f"animated; tick 'Animate every face' for all")
    return FacePreview(draw_faces(image, boxes, animated), boxes, animated, caption)


def animate_job(ctx: AppContext, photo: PathLike, driving: PathLike,
                choices: Mapping[str, Any],
                progress: Optional[ProgressListener] = None) -> AnimateResult:
    """Animate the faces of ``photo`` with ``driving`` (``FirstOrderPredictor.run``).

    Args:
        choices: the job's options (:data:`~.choices.ANIMATE_CHOICES` and the optional
            ones the library has).
        progress: called ``(stage, done, total)`` per frame.

    Returns:
        The published ``<photo stem>_animated.mp4``: frame i at driving frame i's time,
        the photo's size, the driving video's sound.
    """
    photo, driving = Path(photo), Path(driving)
    job = ctx.next_id()
    start = time.perf_counter()
    check_photo(ctx.limits, photo)
    ctx.limits.check_video(driving, "driving video")
    with ctx.models.lock, ctx.workspace.job() as work:
        logger.info("job %d animate: started (%s, %s)", job, photo.name, driving.name)
        ctx.workspace.sweep()
        try:
            opts = animate_options(ctx.models.options, choices,
                                   work / f"{_stem(photo)}_animated.mp4")
            with _listening(progress):
                written = Path(ctx.models.predictor(opts).run(photo, driving))
            [video] = ctx.workspace.publish(written)
        except BaseException as exc:
            logger.info("job %d animate: failed (%s)", job, type(exc).__name__)
            raise
        seconds = time.perf_counter() - start
        logger.info("job %d animate: finished in %.1f s", job, seconds)
    return AnimateResult(video, probe_video(video).n_frames, seconds)


def anonymize_job(ctx: AppContext, video: PathLike, faces: Sequence[PathLike],
                  choices: Optional[Mapping[str, Any]] = None,
                  progress: Optional[ProgressListener] = None) -> AnonymizeResult:
    """Replace every face of ``video`` by the replacement ``faces`` (round robin over
    the tracks; ``FaceAnonymizer.run``).

    Returns:
        The published ``<video stem>_anonymized.mp4`` (every input frame at its time,
        the input's size and sound) and ``.json`` report.
    """
    video = Path(video)
    faces = [Path(f) for f in faces]
    job = ctx.next_id()
    start = time.perf_counter()
    ctx.limits.check_video(video, "video")
    check_faces(ctx.limits, faces)
    with ctx.models.lock, ctx.workspace.job() as work:
        logger.info("job %d anonymize: started (%s, %d face(s))", job, video.name, len(faces))
        ctx.workspace.sweep()
        try:
            out = work / f"{_stem(video)}_anonymized.mp4"
            report_path = out.with_suffix(".json")
            anonymizer = ctx.models.anonymizer(anonymize_options(ctx.models.options,
                                                                 choices or {}))
            with _listening(progress):
                anonymizer.run(video, faces, out, report=report_path)
            report = public_report(json.loads(report_path.read_text(encoding="utf-8")))
            report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            video_out, report_out = ctx.workspace.publish(out, report_path)
        except BaseException as exc:
            logger.info("job %d anonymize: failed (%s)", job, type(exc).__name__)
            raise
        seconds = time.perf_counter() - start
        logger.info("job %d anonymize: finished in %.1f s", job, seconds)
    columns, rows = track_rows(report)
    return AnonymizeResult(video_out, report_out, report, columns, rows, summary(report),
                           seconds)
