"""Driving-video preparation: face close-up or a fixed auto-crop to the model's square input.

**Close-up or not.** A few frames spread over the video are run through the face
detector. If the face's side is at least :data:`CLOSEUP_FRACTION` of the frame's
shorter side the video is a close-up and is used as is (a non-square frame is cut to
the square of its shorter side, centred on the face, so faces are never stretched).
Otherwise one fixed square around every detected face position (with the crop margin)
is cut from each frame: fixed over the whole video, so the crop cannot jitter and the
motion stays the face's own. With no face found, the whole frame is used and a
warning is logged.

The reference frame of relative motion (``best_frame`` / ``find_best_frame``) is found
by :mod:`ppgan_fom.pipeline.reference`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from .geometry import crop_square, resize_square, square_box
from .types import Box
from .errors import TruncatedVideoError
from .media import Frame, VideoInfo, iter_frames, read_frames

logger = logging.getLogger(__name__)

__all__ = ["DrivingCrop", "DrivingVideo", "open_driving", "plan_driving_crop", "driving_frames",
           "crop_frames", "sample_indices", "read_sample_frames", "CLOSEUP_FRACTION"]

#: A face at least this fraction of the frame's shorter side makes a close-up.
CLOSEUP_FRACTION = 0.35
#: Number of frames sampled to decide close-up vs auto-crop.
SAMPLES = 8


@dataclass(frozen=True)
class DrivingCrop:
    """How each driving frame is turned into the model's square input.

    ``box`` is a square ``(x1, y1, x2, y2)`` in frame pixels (may hang over the
    border: padded), or ``None`` for a square frame used whole.
    """

    box: Optional[Box]
    reason: str


def sample_indices(n_frames: int, k: int = SAMPLES) -> List[int]:
    """Up to ``k`` frame indices spread evenly over ``[0, n_frames)``."""
    if n_frames <= 0:
        return []
    return sorted(set(np.linspace(0, n_frames - 1, num=min(k, n_frames)).round().astype(int)))


def plan_driving_crop(frames: Sequence[np.ndarray], frame_shape: Sequence[int], detector,
                      margin: float = 0.5, enabled: bool = True) -> DrivingCrop:
    """Decide how to crop a driving video from a few sampled frames.

    Args:
        frames: sampled (H, W, 3) uint8 RGB frames (see :func:`sample_indices`).
        frame_shape: (H, W, ...) of the video.
        detector: a ``faceutils`` detector (``detect(img) -> (N, 5)``), or None.
        margin: crop margin around the face (as in the photo crops).
        enabled: False to never auto-crop (close-up assumed).
    """
    h, w = int(frame_shape[0]), int(frame_shape[1])
    short = min(h, w)
    faces = []
    if detector is not None:
        for frame in frames:
            dets = detector.detect(frame)
            if len(dets):
                sides = np.maximum(dets[:, 2] - dets[:, 0], dets[:, 3] - dets[:, 1])
                faces.append(dets[int(np.argmax(sides))])
    centre_box = _centre_square(h, w, faces)
    if not faces:
        reason = "no face detected in the sampled driving frames: using the whole frame"
        logger.warning(reason)
        return DrivingCrop(centre_box, reason)
    faces_arr = np.asarray(faces, np.float64)
    side = float(np.median(np.maximum(faces_arr[:, 2] - faces_arr[:, 0],
                                      faces_arr[:, 3] - faces_arr[:, 1])))
    if not enabled or side >= CLOSEUP_FRACTION * short:
        reason = (f"driving video is a face close-up (face {side:.0f}px of {short}px): "
                  f"used as is")
        return DrivingCrop(centre_box, reason)
    # one fixed square covering every sampled face position
    union = [faces_arr[:, 0].min(), faces_arr[:, 1].min(), faces_arr[:, 2].max(),
             faces_arr[:, 3].max()]
    ux, uy = (union[0] + union[2]) / 2, (union[1] + union[3]) / 2
    half = side / 2
    merged = [ux - half, uy - half, ux + half, uy + half]
    box = square_box(merged, frame_shape, margin=margin, mode="shift")
    spread = max(union[2] - union[0], union[3] - union[1]) - side
    if spread > 0:  # grow to keep every position inside the crop
        grow = int(np.ceil(spread))
        box = square_box(merged, frame_shape, margin=margin + spread / (2 * side), mode="shift")
        logger.debug("driving crop grown by %d px to cover the face's motion", grow)
    reason = (f"driving face is small ({side:.0f}px of {short}px): auto-cropped to a fixed "
              f"square {box}")
    return DrivingCrop(tuple(int(v) for v in box), reason)


def _centre_square(h: int, w: int, faces) -> Optional[Box]:
    """None for a square frame; else the square of the shorter side centred on the face."""
    if h == w:
        return None
    side = min(h, w)
    if faces:
        f = np.asarray(faces, np.float64)
        cx, cy = (f[:, 0] + f[:, 2]).mean() / 2, (f[:, 1] + f[:, 3]).mean() / 2
    else:
        cx, cy = w / 2, h / 2
    x1 = int(np.clip(round(cx - side / 2), 0, w - side))
    y1 = int(np.clip(round(cy - side / 2), 0, h - side))
    return (x1, y1, x1 + side, y1 + side)


def crop_frames(frames: Iterable[Frame], crop: DrivingCrop, size: int) -> Iterator[Frame]:
    """Each frame's image turned into the model's (size, size, 3) uint8 RGB input; index
    and presentation time kept."""
    for f in frames:
        image = resize_square(f.image, size) if crop.box is None \
            else crop_square(f.image, crop.box, size)
        yield Frame(f.index, image, f.time)


def driving_frames(path, crop: DrivingCrop, size: int,
                   allow_partial: bool = False) -> Iterator[np.ndarray]:
    """Stream the driving video as (size, size, 3) uint8 RGB model inputs (images only;
    :func:`crop_frames` over :func:`~ppgan_fom.media.read_frames` keeps the times)."""
    return (f.image for f in crop_frames(read_frames(path, allow_partial=allow_partial),
                                         crop, size))


def read_sample_frames(path, info: VideoInfo, allow_partial: bool = False) -> List[np.ndarray]:
    """The frames at :func:`sample_indices` (one streaming pass that stops after the last),
    for the close-up / auto-crop decision.

    A video that decodes short of its header count reaches its end here, so a truncated
    video fails now, before any model work, unless ``allow_partial``.
    """
    wanted = set(sample_indices(info.n_frames)) or {0}  # unknown count: the first frame
    last = max(wanted)
    out = []
    try:
        for i, frame in enumerate(iter_frames(path, allow_partial=allow_partial)):
            if i in wanted:
                out.append(frame)
            if i >= last:
                break
    except TruncatedVideoError as exc:
        raise TruncatedVideoError(
            f"{exc}; pass --allow_partial_video (allow_partial_video=True) to animate the "
            f"{exc.decoded} frames that decode", path=exc.path, decoded=exc.decoded,
            expected=exc.expected) from None
    return out


@dataclass(frozen=True)
class DrivingVideo:
    """A driving video ready to stream as model inputs: its file, what the demuxer knows
    and how each frame is cropped. :meth:`frames` can be called again (a second pass,
    e.g. for the reference frame)."""

    path: str
    info: VideoInfo
    crop: DrivingCrop
    size: int
    allow_partial: bool = False

    def frames(self) -> Iterator[Frame]:
        """Every frame as a ``(size, size, 3)`` uint8 model input, with its index and time."""
        return crop_frames(read_frames(self.path, info=self.info,
                                       allow_partial=self.allow_partial), self.crop, self.size)


def open_driving(path, info: VideoInfo, detector, size: int, margin: float = 0.5,
                 auto_crop: bool = True, allow_partial: bool = False) -> DrivingVideo:
    """Decide how to crop a driving video (a few sampled frames through the detector,
    :func:`plan_driving_crop`) and return it ready to stream. A truncated video fails
    here, before any model work, unless ``allow_partial``."""
    samples = read_sample_frames(path, info, allow_partial)
    crop = plan_driving_crop(samples, (info.height, info.width), detector, margin=margin,
                             enabled=auto_crop)
    logger.info(crop.reason)
    return DrivingVideo(str(path), info, crop, int(size), allow_partial)
