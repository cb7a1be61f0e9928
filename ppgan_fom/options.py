"""Runtime options shared by the Python API, the command lines and the web app.

:class:`AnimateOptions` is the single source of defaults: ``FirstOrderPredictor``'s
keywords, ``first-order-demo.py``'s flags, ``anonymize.py``'s model flags and the web
app's controls are all generated from its fields (name, default, help text and group in
the field metadata; :mod:`ppgan_fom.cli.flags` turns them into flags).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

from .errors import InputError

__all__ = ["AnimateOptions", "DETECTOR_ALIASES", "GROUP_TITLES", "PHOTO_RATIO", "COVER_RATIO",
           "PADDLEGAN_POSITIONAL"]

#: Pasted-disc radius (fraction of the box side) for animating a photo: PaddleGAN's
#: ``--ratio`` default; the disc's opaque core leaves the corners of the face box to the
#: feathered edge, which blends the animated face into the photo.
PHOTO_RATIO = 0.4
#: Pasted-disc radius for anonymization: with the default crop margin 0.5 (crop side = 2 x
#: face size) the disc is the crop's inscribed circle and its fully opaque core (radius
#: 0.4 x side = 0.8 x face size) contains the whole detected face box (half-diagonal 0.71 x
#: face size): no original face pixel shows through, even with a few pixels of tracking
#: error (:func:`opaque_core_radius`).
COVER_RATIO = 0.5


#: PaddleGAN's ``--face_detector`` names mapped to this project's detector names.
DETECTOR_ALIASES = {"sfd": "s3fd"}

#: ``ppgan.apps.FirstOrderPredictor``'s parameters in their positional order (ppgan 2.1),
#: so that ``FirstOrderPredictor('output_dir', None, None, True, True)`` means what it
#: means there.
PADDLEGAN_POSITIONAL = ("output", "weight_path", "config", "relative", "adapt_scale",
                        "find_best_frame", "best_frame", "ratio", "filename", "face_detector",
                        "multi_person", "image_size", "face_enhancement", "batch_size",
                        "mobile_net", "slice_size")

# a Paddle device: cpu, gpu, xpu, npu, a custom device type, optionally ":index"
_DEVICE_RE = re.compile(r"^[a-z][a-z0-9_]*(:\d+)?$")


def _opt(default: Any, help: str, group: str = "model", **kw: Any):
    return field(default=default, metadata={"help": help, "group": group, **kw})


@dataclass(frozen=True)
class AnimateOptions:
    """Everything a run can be told. Defaults match PaddleGAN's first-order-demo.py."""

    # -- output
    output: str = _opt("output", "directory for the result video", "io")
    filename: str = _opt("result.mp4", "file name of the result inside --output", "io")
    # -- model
    weight_path: Optional[str] = _opt(
        None, "local .pdparams (PaddleGAN layout) or a registry name (vox-256, vox-512, "
              "vox-mobile); default: the official weights for --image_size/--mobile_net")
    config: Union[str, Mapping[str, Any], None] = _opt(
        None, "model config: preset name (vox-256, vox-512, vox-mobile) or YAML path "
              "(PaddleGAN or original FOMM layout; in Python also PaddleGAN's config dict); "
              "default: chosen from --image_size and --mobile_net as PaddleGAN does. Without "
              "--weight_path a YAML/dict config gets the official weights PaddleGAN picks "
              "(--mobile_net: vox-mobile, --image_size 512: vox-512, else vox-256)")
    image_size: Optional[int] = _opt(
        None, "face crop size fed to the model, any size the config supports (a multiple "
              "of 128 for the vox configs); default: the config's frame size, 256 for presets",
        type=int)
    mobile_net: bool = _opt(False, "use PaddleGAN's lightweight vox-mobile model")
    batch_size: int = _opt(1, "driving frames per generator call (all faces are batched "
                              "together with them); results do not depend on it", type=int)
    cpu: bool = _opt(False, "run on the CPU even if a GPU is available")
    xpu: bool = _opt(False, "run on a Baidu Kunlun XPU (PaddleGAN's --xpu; needs Paddle's XPU "
                            "build and a device, else a one-line error)")
    device: Optional[str] = _opt(
        None, "Paddle device: cpu, gpu, gpu:N, xpu, xpu:N or a custom device type; default: "
              "Paddle's current device (a GPU when the GPU build sees one)")
    threads: Optional[int] = _opt(None, "CPU threads for Paddle (default: all cores)", type=int)
    engine: Optional[str] = _opt(
        None, "execution: 'static' (Paddle Inference with oneDNN on CPU, the fast default) "
              "or 'eager' (dynamic graph, the float32 reference; the default on devices "
              "other than CPU and GPU)")
    slice_size: int = _opt(
        0, "accepted for PaddleGAN compatibility and ignored: PaddleGAN loads the whole "
           "driving video and slices it (in bytes) to stay under XPU's 4 GB tensor limit; "
           "here frames are streamed batch by batch, so memory never grows with the video",
        type=int)
    face_enhancement: bool = _opt(
        False, "pass every animated face through PaddleGAN's GPEN-512 face enhancer before "
               "pasting it (sharper teeth, eyes and hair; about 9x the animation's cost on "
               "a CPU; downloads GPEN-512.pdparams, about 290 MB, once)")
    enhancer_weight_path: Optional[str] = _opt(
        None, "GPEN weights for --face_enhancement: a local .pdparams (PaddleGAN's GPEN "
              "layout, any size) or the registry name gpen-512; default: gpen-512")
    # -- motion
    relative: bool = _opt(False, "relative motion: move the source keypoints by the driving "
                                 "video's displacement from its reference frame (recommended)",
                          "motion")
    adapt_scale: bool = _opt(False, "scale the relative motion by the ratio of face sizes "
                                    "(convex hull of keypoints)", "motion")
    find_best_frame: bool = _opt(
        False, "use the driving frame whose keypoint layout best matches the source face as "
               "the reference frame (no extra model download)", "motion")
    best_frame: Optional[int] = _opt(
        None, "0-based index of the driving frame to use as the reference frame", "motion",
        type=int)
    # -- faces and compositing
    face_detector: Optional[str] = _opt(
        None, "face detector: blazeface (embedded, default, no download) or s3fd / sfd "
              "(PaddleGAN's S3FD, downloads its weights)", "faces")
    multi_person: bool = _opt(False, "animate every face found; default: the largest only",
                              "faces")
    ratio: float = _opt(PHOTO_RATIO, "pasted disc radius as a fraction of the square face crop side "
                             "(0.4 pastes a disc of 0.8x the crop, feathered)", "faces",
                        type=float)
    color_match: bool = _opt(True, "match the pasted face's colour and brightness to the "
                                   "photo around it", "faces", negate="--no_color_match")
    face_margin: float = _opt(0.5, "space around each detected face in its square crop, as "
                                   "a fraction of the face size per side", "faces",
                              type=float)
    # -- video
    audio: bool = _opt(True, "copy the input video's audio (the driving video's; the "
                             "anonymized video's) into the result", "io",
                       negate="--no_audio")
    auto_crop_driving: bool = _opt(
        True, "crop a driving video that is not a face close-up to a stable square around "
              "the face", "io", negate="--no_auto_crop_driving")
    allow_partial_video: bool = _opt(
        False, "if the driving video is truncated, animate the frames that decode instead of "
               "failing", "io")

    def __post_init__(self):
        if not 0 < self.ratio <= 1:
            raise InputError(f"--ratio must be in (0, 1], got {self.ratio}")
        if self.batch_size < 1:
            raise InputError(f"--batch_size must be >= 1, got {self.batch_size}")
        if self.best_frame is not None and self.best_frame < 0:
            raise InputError(f"--best_frame must be >= 0, got {self.best_frame}")
        if self.image_size is not None and self.image_size <= 0:
            raise InputError(f"--image_size must be positive, got {self.image_size}")
        if self.face_margin <= -0.5:
            raise InputError(f"--face_margin must be > -0.5, got {self.face_margin}")
        if self.slice_size < 0:
            raise InputError(f"--slice_size must be >= 0, got {self.slice_size}")
        if self.cpu and self.xpu:
            raise InputError("--cpu and --xpu are mutually exclusive")
        if self.device is not None:
            if not _DEVICE_RE.match(self.device.strip().lower()):
                raise InputError(f"--device {self.device!r} is not a Paddle device "
                                 f"(cpu, gpu, gpu:N, xpu, xpu:N, ...)")
            kind = self.device.strip().lower().split(":")[0]
            for flag, name in (("cpu", self.cpu), ("xpu", self.xpu)):
                if name and kind != flag:
                    raise InputError(f"--{flag} contradicts --device {self.device}")

    @property
    def requested_device(self) -> Optional[str]:
        """The device asked for: ``--device``, else ``'cpu'`` / ``'xpu'`` for ``--cpu`` /
        ``--xpu``, else None (Paddle's current device)."""
        if self.device is not None:
            return self.device.strip().lower()
        return "cpu" if self.cpu else "xpu" if self.xpu else None

    @property
    def detector_name(self) -> Optional[str]:
        """Detector registry name (PaddleGAN's ``sfd`` means ``s3fd``)."""
        if self.face_detector is None:
            return None
        return DETECTOR_ALIASES.get(self.face_detector, self.face_detector)

    def replace(self, **changes: Any) -> "AnimateOptions":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_kwargs(cls, *args: Any, **kwargs: Any) -> "AnimateOptions":
        """Build from keywords, rejecting unknown names with a clear message.

        Positional ``args`` are PaddleGAN's ``FirstOrderPredictor`` parameters in its
        order (:data:`PADDLEGAN_POSITIONAL`: output, weight_path, config, relative, ...).
        """
        kwargs = {**_positional(args, kwargs), **kwargs}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(names))}")
        return cls(**kwargs)


def _positional(args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict:
    """PaddleGAN's positional parameters -> keywords (TypeError like Python's own)."""
    if len(args) > len(PADDLEGAN_POSITIONAL):
        raise TypeError(f"FirstOrderPredictor takes at most {len(PADDLEGAN_POSITIONAL)} "
                        f"positional arguments ({', '.join(PADDLEGAN_POSITIONAL)}), "
                        f"{len(args)} were given")
    named = dict(zip(PADDLEGAN_POSITIONAL, args))
    twice = sorted(set(named) & set(kwargs))
    if twice:
        raise TypeError(f"FirstOrderPredictor got multiple values for argument(s) "
                        f"{', '.join(twice)}")
    return named


#: Titles of the option groups (``--help`` sections, app panels).
GROUP_TITLES = {"io": "input/output", "model": "model", "motion": "motion transfer",
                "faces": "faces and compositing"}
