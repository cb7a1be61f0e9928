"""FaceAnonymizer: replace every face of a recorded video by a generated face that keeps
the person's expressions, head motion and lip movement.

A thin orchestrator over two streaming passes (memory flat in the video's length):
pass 1 finds the face tracks (:mod:`.plan`), pass 2 replaces them (:mod:`.render`);
the frames are written by the shared frame loop at their input times with the input's
audio, and a JSON report is written beside (:mod:`.report`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from ..errors import InputError
from ..geometry import FACE_BOX_HALF_DIAGONAL, opaque_core_radius
from ..media import (VIDEO_SUFFIXES, Frame, VideoInfo, ensure_writable_output, probe_video,
                     read_frames)
from ..media.audio import check_audio_decodes
from ..pipeline import Models, create_detector, load_models, write_video
from ..types import PathLike
from .options import AnonymizeOptions
from .plan import TrackPlan, plan_tracks
from .render import FrameResult, Renderer
from .report import build_report, default_report_path, write_report
from .targets import TargetFace, assign_targets, prepare_targets
from .voice import VoiceMode

logger = logging.getLogger(__name__)

__all__ = ["FaceAnonymizer"]


class FaceAnonymizer:
    """Replace the faces of a video by animated target faces.

    Args:
        options: an :class:`AnonymizeOptions`; or keywords (any
            :class:`AnonymizeOptions` or :class:`~ppgan_fom.options.AnimateOptions`
            field, e.g. ``weight_path=..., config=..., detect_every=2``).
        detector: a ready ``faceutils`` detector (default: created from the options).
        models: :class:`~ppgan_fom.pipeline.Models` already loaded, to share them (the web
            app loads them once per process); default: loaded from the options.

    Target assignment: with one target face every track gets it; with several, track
    ``i`` (numbered by first appearance, then left to right) gets target ``i mod n``.

    Example::

        anon = FaceAnonymizer(weight_path="vox-256")
        anon.run("talk.mp4", ["face_a.png", "face_b.png"], "talk_anon.mp4")
    """

    def __init__(self, options: Optional[AnonymizeOptions] = None, *, detector=None,
                 models: Optional[Models] = None, **kwargs: Any) -> None:
        if options is not None and kwargs:
            raise TypeError("pass either options= or keywords, not both")
        self.options = options or AnonymizeOptions.from_kwargs(**kwargs)
        a = self.options.animate
        core = opaque_core_radius(a.ratio, a.face_margin)
        if core < FACE_BOX_HALF_DIAGONAL:
            logger.warning("with ratio %.2f and face_margin %.2f the opaque part of the pasted "
                           "disc (radius %.2f x face size) does not cover the corners of the "
                           "face box (%.2f): parts of the original face may show through the "
                           "feathered edge", a.ratio, a.face_margin, core, FACE_BOX_HALF_DIAGONAL)
        self.models = (models or load_models(a)).with_enhancer(a)
        self.config, self.animator = self.models.config, self.models.animator
        #: the GPEN face enhancer (``face_enhancement``) or None
        self.enhancer = self.models.enhancer
        self._detector = detector

    @property
    def detector(self):
        """The face detector (created on first use)."""
        if self._detector is None:
            name = self.options.animate.detector_name
            extra: Dict[str, Any] = {}
            if self.options.detect_tiles > 1:
                if (name or "blazeface") != "blazeface":
                    raise InputError("--detect_tiles only applies to the blazeface detector")
                extra["tiles"] = self.options.detect_tiles
            self._detector = create_detector(name, **extra)
        return self._detector

    @property
    def image_size(self) -> int:
        """Side S of the model's square input."""
        return int(self.config.image_size)

    def prepare_targets(self, paths: Sequence[PathLike]) -> List[TargetFace]:
        """Read each target image, crop its largest face, compute its model state."""
        return prepare_targets(paths, self.detector, self.animator,
                               self.options.animate.face_margin)

    def analyze(self, video: PathLike, info: Optional[VideoInfo] = None) -> TrackPlan:
        """Pass 1: detect faces, find scene cuts, build smoothed tracks (boxes only)."""
        return plan_tracks(video, self.detector, self.options, info)

    def renderer(self, targets: Sequence[TargetFace]) -> Renderer:
        """Pass 2's :class:`Renderer` on this anonymizer's models (the enhancer included),
        for whole videos and for chunks of them."""
        return Renderer(self.animator, self.options, targets, enhancer=self.enhancer)

    def render(self, video: PathLike, plan: TrackPlan, targets: Sequence[TargetFace],
               on_frame: Optional[Callable[[FrameResult], None]] = None) -> Iterator[Frame]:
        """Pass 2: every frame of the video, with the faces of the plan's tracks replaced
        (see :meth:`Renderer.render`)."""
        frames = read_frames(video, allow_partial=self.options.animate.allow_partial_video)
        return self.renderer(targets).render(frames, plan.tracks, on_frame)

    def run(self, video: PathLike, target_faces: Union[PathLike, Sequence[PathLike]],
            output: PathLike, report: Union[PathLike, None, bool] = None,
            on_frame: Optional[Callable[[FrameResult], None]] = None) -> str:
        """Anonymize ``video`` into ``output``.

        Args:
            video: input video (anything FFmpeg reads with a video stream).
            target_faces: one image path or a list; assigned to tracks round robin.
            output: result video (.mp4/.m4v/.mov/.mkv/.gif): every input frame at its own
                time, the input's size (padded by one pixel if odd) and audio.
            report: JSON report path; None = beside the output (``<stem>.json``);
                False = no report.
            on_frame: optional callback receiving a :class:`FrameResult` per frame.

        Returns:
            The output path.
        """
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
        voice = VoiceMode(opts) if opts.voice else None
        if voice is not None and info.has_audio:
            check_audio_decodes(video)  # a broken sound track fails now, not after pass 2
        targets = self.prepare_targets(targets_in)
        plan = self.analyze(video, info)
        assign_targets(plan.tracks, len(targets))
        if len(targets) > len(plan.tracks) and plan.tracks:
            logger.info("%d target faces for %d track(s): the last %d are unused",
                        len(targets), len(plan.tracks), len(targets) - len(plan.tracks))
        if not plan.tracks:
            logger.warning("no face found in %s: the output is a re-encoded copy", video)
        written = write_video(out, self.render(video, plan, targets, on_frame),
                              (info.width, info.height), fps=info.fps,
                              time_base=info.time_base,
                              audio_from=video if opts.animate.audio else None,
                              audio_transform=voice, total=plan.n_frames, desc="anonymizing")
        if written != plan.n_frames:
            logger.warning("decoded %d frames in pass 2 but %d in pass 1", written, plan.n_frames)
        if report_path is not None:
            entry = build_report(plan, targets, video=video, output=out, info=info,
                                 options=opts, image_size=self.image_size)
            if voice is not None:
                entry["voice"] = voice.report(video)
            write_report(report_path, entry)
            logger.info("report: %s", report_path)
        elif voice is not None:
            voice.report(video)  # logs the note when there was no audio
        return str(out)
