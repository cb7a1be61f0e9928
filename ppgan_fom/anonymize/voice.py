"""The voice side of anonymization: the audio track's voice anonymized on the way to the
output (``--voice``), or alone with the picture copied untouched (``--voice_only``).

The transform (:class:`~ppgan_fom.voice.VoiceAnonymizer`) runs inside the media writer's
audio path, block by block, so memory stays flat and the sound keeps its offset to the
picture exactly as without it (docs/video.md, docs/voice.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional

from ..media import VIDEO_SUFFIXES, ensure_writable_output
from ..media.audio import check_audio_decodes
from ..media.remux import copy_video_with_audio
from ..types import PathLike
from ..voice import VoiceAnonymizer
from .options import AnonymizeOptions

logger = logging.getLogger(__name__)

__all__ = ["VoiceMode", "anonymize_voice_only"]


class VoiceMode:
    """Builds the run's :class:`VoiceAnonymizer` when the writer knows the audio's rate and
    channels (``mode(rate, channels)``), and remembers it for the report."""

    def __init__(self, options: AnonymizeOptions) -> None:
        self.values = options.voice_values()
        self.seed = options.voice_seed
        self.made: Optional[VoiceAnonymizer] = None

    def __call__(self, sample_rate: int, channels: int) -> VoiceAnonymizer:
        self.made = VoiceAnonymizer(sample_rate, channels, seed=self.seed, **self.values)
        logger.info("voice anonymization: McAdams %.3f, pitch %+.2f semitones, formants x%.3f",
                    self.made.mcadams, self.made.pitch_semitones, self.made.formant_scale)
        return self.made

    def report(self, video: PathLike) -> Dict[str, Any]:
        """The report's ``voice`` entry: what was applied, or why nothing was."""
        if self.made is None:
            note = f"no audio stream in {video}: there was no voice to anonymize"
            logger.warning(note)
            return {"applied": False, "note": note}
        return {"applied": True, **self.made.describe()}


def anonymize_voice_only(video: PathLike, output: PathLike, options: AnonymizeOptions,
                         report: Optional[PathLike] = None) -> str:
    """``--voice_only``: ``output`` = ``video``'s picture copied packet for packet (no
    decoding, no quality loss) and its voice anonymized. No face model is loaded.

    Returns the output path; writes the JSON report (``report``, if given) with the
    ``voice`` entry.
    """
    from .report import write_report

    out = ensure_writable_output(output, [video], suffixes=VIDEO_SUFFIXES - {".gif"})
    report_path = ensure_writable_output(report, [video, out]) if report else None
    mode = VoiceMode(options)
    check_audio_decodes(video)  # a broken sound track fails before anything is written
    copy_video_with_audio(video, out, audio_transform=mode)
    if report_path is not None:
        write_report(report_path, {"video": str(video), "output": str(out),
                                   "mode": "voice_only", "voice": mode.report(video)})
    elif mode.made is None:
        mode.report(video)  # logs the note
    return str(Path(out))
