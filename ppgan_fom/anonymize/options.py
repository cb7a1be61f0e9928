"""Options of a video anonymization run (the anonymizer's own, plus the animation
options it shares with photo animation)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import InputError
from ..geometry.smooth import DEFAULT_SMOOTH_SIGMA
from ..options import COVER_RATIO, AnimateOptions
from ..scenecut import DEFAULT_CUT_THRESHOLD
from ..tracking import DEFAULT_IOU, DEFAULT_MAX_GAP, DEFAULT_PAD
from ..voice import parse_value
from ..voice.anonymizer import DEFAULT_MCADAMS, DEFAULT_PITCH_SEMITONES

__all__ = ["AnonymizeOptions"]


def _default_animate() -> AnimateOptions:
    """The animation options the anonymizer starts from: relative motion with
    adapt_scale (the driving face is the person's own face, the target a different
    face) and the larger paste disc (:data:`~ppgan_fom.options.COVER_RATIO`)."""
    return AnimateOptions(ratio=COVER_RATIO, relative=True, adapt_scale=True)


def _aopt(default: Any, help: str, **kw: Any):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class AnonymizeOptions:
    """Options of a video anonymization run.

    ``animate`` holds the model, detector and compositing options shared with photo
    animation (:class:`~ppgan_fom.options.AnimateOptions`; its defaults, except
    ``ratio`` = :data:`~ppgan_fom.options.COVER_RATIO` and relative motion with adapt_scale, which the
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
    voice: bool = _aopt(False, "also anonymize the voice of the audio track (McAdams "
                               "coefficient + pitch shift; docs/voice.md)")
    voice_mcadams: str = _aopt(
        f"{DEFAULT_MCADAMS:g}", "McAdams coefficient alpha of --voice, 0.5..1.0 (1 = "
                                "unchanged), or a range LOW:HIGH drawn once per run")
    voice_pitch: str = _aopt(
        f"{DEFAULT_PITCH_SEMITONES:g}", "pitch shift of --voice in semitones, -12..12 "
                                        "(0 = off), or a range LOW:HIGH")
    voice_formant: str = _aopt("1", "extra formant scale of --voice, 0.7..1.4 (1 = off), "
                                    "or a range LOW:HIGH")
    voice_seed: Optional[int] = _aopt(None, "seed of the --voice draws (recorded in the "
                                            "report; default: a fresh one)", type=int)

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
        self.voice_values()  # range-checks the voice settings (one-line InputError)
        if self.voice and not self.animate.audio:
            raise InputError("--voice anonymizes the audio track: it cannot go with --no_audio")

    def voice_values(self) -> dict:
        """The voice settings parsed: ``{mcadams, pitch_semitones, formant_scale}``, each a
        number or a (low, high) range (:func:`ppgan_fom.voice.parse_value`)."""
        out = {}
        for key, flag, text in (("mcadams", "--voice_mcadams", self.voice_mcadams),
                                ("pitch_semitones", "--voice_pitch", self.voice_pitch),
                                ("formant_scale", "--voice_formant", self.voice_formant)):
            try:
                out[key] = parse_value(key, str(text))
            except InputError as exc:
                raise InputError(f"{flag} {text}: {exc}") from None
        return out

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
