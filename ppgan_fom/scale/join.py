"""Joining the rendered chunks of a long video: their packets copied into the output
(no re-encoding) with the input's audio muxed once, then the run's report."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional, Sequence

from ..anonymize import AnonymizeOptions, TargetFace, build_report, write_report
from ..anonymize.voice import VoiceMode
from ..media.audio import audio_start
from ..media.remux import concat_videos
from .chunks import VideoPlan

logger = logging.getLogger(__name__)

__all__ = ["keeps_audio", "time_origin", "join_chunks"]


def keeps_audio(options: AnonymizeOptions, has_audio: bool, output: str) -> bool:
    """Whether the output carries the input's audio (as the one-video writer decides)."""
    return options.animate.audio and has_audio and Path(output).suffix.lower() != ".gif"


def time_origin(video: str, first_time: float, with_audio: bool) -> float:
    """The input time that becomes 0 in the output, by the writer's rule: the first
    frame's time, or the audio's start if the audio is kept and starts earlier."""
    start = audio_start(video) if with_audio else None
    return first_time if start is None else min(first_time, start)


def join_chunks(vplan: VideoPlan, options: AnonymizeOptions, targets: Sequence[TargetFace],
                image_size: Optional[int] = None) -> int:
    """Write ``vplan.output`` from the part files of its chunks and the input's audio
    (each frame and audio packet at the time the one-video run gives it), write the
    report (``vplan.report``), then delete the parts. Returns the frames written."""
    info = vplan.info
    with_audio = keeps_audio(options, info.has_audio, vplan.output)
    voice = VoiceMode(options) if options.voice and with_audio else None
    parts = [vplan.part(i) for i in range(len(vplan.chunks))]
    written = concat_videos(parts, vplan.output, vplan.video if with_audio else None,
                            origin=vplan.origin,
                            audio_end=vplan.times[-1] - vplan.origin + 1.0 / info.fps,
                            audio_transform=voice)
    if written != vplan.plan.n_frames:
        logger.warning("%s: joined %d frames, pass 1 found %d", vplan.video, written,
                       vplan.plan.n_frames)
    if vplan.report:
        entry = build_report(vplan.plan, targets, video=vplan.video, output=vplan.output,
                             info=info, options=options, image_size=image_size)
        if options.voice:
            entry["voice"] = (voice or VoiceMode(options)).report(vplan.video)
        write_report(vplan.report, entry)
    shutil.rmtree(vplan.parts_dir, ignore_errors=True)
    try:
        Path(vplan.parts_dir).parent.rmdir()  # the hidden parts folder, once empty
    except OSError:
        pass
    return written
