"""Decode the frames of a video, one at a time, each with its own presentation time.

Frames come out in display order, upright (the display matrix of a phone clip is
applied), as ``(H, W, 3)`` uint8 RGB arrays, each with the time the demuxer gives it: a
variable-frame-rate clip keeps its irregular times, an MP4 edit list (a stream-copied
cut) is honoured (frames before the edit are not delivered), a video that starts after
its audio keeps its start time. Memory is one decoded frame (plus the decoder's own
reference frames), whatever the length of the video.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple

import av
import numpy as np

from ..errors import TruncatedVideoError, VideoError
from ..types import PathLike
from .probe import VideoInfo, av_reason, display_turns, open_input, probe_video

logger = logging.getLogger(__name__)

__all__ = ["Frame", "read_frames", "iter_frames", "is_truncated",
           "TRUNCATION_MIN_MISSING", "TRUNCATION_MAX_FRACTION"]

#: A decode that ends short of the expected count is only called truncated if it is more
#: than this many frames short ...
TRUNCATION_MIN_MISSING = 2
#: ... and delivered less than this fraction of the expected count.
TRUNCATION_MAX_FRACTION = 0.9


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    Attributes:
        index: 0-based position in display order.
        image: ``(H, W, 3)`` uint8 RGB, upright.
        time: presentation time in seconds (the demuxer's, not index / fps).
    """

    index: int
    image: np.ndarray
    time: float


def is_truncated(decoded: int, expected: int) -> bool:
    """Whether ``decoded`` frames out of ``expected`` is a clear shortfall (not the
    off-by-one-or-two of an estimate): more than :data:`TRUNCATION_MIN_MISSING` short
    and below :data:`TRUNCATION_MAX_FRACTION` of ``expected`` (unknown: never)."""
    if expected <= 0:
        return False
    missing = expected - decoded
    return missing > TRUNCATION_MIN_MISSING and decoded < TRUNCATION_MAX_FRACTION * expected


def read_frames(path: PathLike, *, allow_partial: bool = False,
                info: Optional[VideoInfo] = None,
                start: Optional[Tuple[int, float]] = None) -> Iterator[Frame]:
    """Stream the frames of a video with their presentation times.

    The file is probed immediately (open errors raise at call time); frames are decoded
    lazily, and the file is closed when the iterator is exhausted, closed or collected.

    Args:
        path: video file (anything FFmpeg demuxes: MP4, MOV, MKV, WebM, AVI, GIF, ...).
        allow_partial: if True, a video that ends clearly short of its expected frame
            count, or whose decoder reports an error, only logs a warning; otherwise it
            raises after the last good frame has been yielded.
        info: the result of :func:`probe_video` if the caller has it.
        start: ``(index, time)``: begin at the frame whose presentation time is ``time``
            (seconds, e.g. from :func:`~ppgan_fom.media.probe.frame_times`) and number it
            ``index``: the demuxer seeks to the keyframe at or before it and the frames
            before it are decoded but not converted or yielded. The truncation check then
            counts from ``index``.

    Returns:
        An iterator of :class:`Frame` (``image`` writable, ``(H, W)`` = ``info``'s
        display size; ``time`` strictly increasing for well-formed files).

    Raises:
        VideoError: at call time if the file is missing / cannot be opened / is a still
            image / has no video stream; during iteration if no frame could be decoded,
            or (after the last frame, unless ``allow_partial``) if decoding failed or
            stopped short: :class:`TruncatedVideoError` ``"... decoded 40 of 90 frames"``;
            with ``start``, if no frame has that time.
    """
    p = Path(path)
    info = info or probe_video(p)
    return _decode(p, info, allow_partial, start)


def iter_frames(path: PathLike, *, allow_partial: bool = False) -> Iterator[np.ndarray]:
    """The images of :func:`read_frames` alone: ``(H, W, 3)`` uint8 RGB, upright."""
    p = Path(path)
    info = probe_video(p)
    return (f.image for f in _decode(p, info, allow_partial))


def _upright(frame: "av.VideoFrame") -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    turns = display_turns(getattr(frame, "rotation", 0) or 0.0)
    if turns:
        # the display matrix says "rotate counter-clockwise before showing"
        image = np.ascontiguousarray(np.rot90(image, turns))
    return image


def _decode(p: Path, info: VideoInfo, allow_partial: bool,
            start: Optional[Tuple[int, float]] = None) -> Iterator[Frame]:
    """Generator behind :func:`read_frames`."""
    first, t_start = start if start is not None else (0, None)
    half_tick = float(info.time_base) / 2
    decoded = 0
    demux_error: Optional[str] = None
    bad_packets: list = []  # (count, first reason) of packets the decoder refused
    last_time: Optional[float] = None
    step = 1.0 / info.fps
    with open_input(p) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside the decoder
        if t_start is not None:
            try:  # the keyframe at or before the start: decoding is exact from there
                container.seek(int(math.floor(t_start / info.time_base)), stream=stream,
                               backward=True, any_frame=False)
            except (av.FFmpegError, ValueError) as exc:
                raise VideoError(f"cannot seek to {t_start:.6f} s in video {p}: "
                                 f"{av_reason(exc)}") from None
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError) as exc:  # unreadable container data
                demux_error = av_reason(exc)
                break
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:  # a corrupt packet: keep going,
                bad_packets.append(av_reason(exc))     # as FFmpeg's own tools do
                continue
            for frame in frames:
                time = float(frame.time) if frame.time is not None else (
                    info.start_time if last_time is None else last_time + step)
                last_time = time
                if t_start is not None:
                    if time < t_start - half_tick:
                        continue  # between the keyframe and the start
                    if decoded == 0 and time > t_start + half_tick:
                        raise VideoError(f"no frame at {t_start:.6f} s in video {p} (the "
                                         f"next one is at {time:.6f} s)")
                yield Frame(first + decoded, _upright(frame), time)
                decoded += 1
    if t_start is not None and decoded == 0:
        raise VideoError(f"no frame at {t_start:.6f} s in video {p}")
    _check_result(p, info, decoded, demux_error, bad_packets, allow_partial, skipped=first)


def _check_result(path: Path, info: VideoInfo, decoded: int, demux_error: Optional[str],
                  bad_packets: list, allow_partial: bool, skipped: int = 0) -> None:
    """Raise or warn once a decode has delivered ``decoded`` frames (after ``skipped``
    frames a seek passed over)."""
    error = demux_error or (bad_packets[0] if bad_packets else None)
    decoded += skipped
    if decoded == 0:
        raise VideoError(f"no frames could be decoded from video {path}"
                         + (f": {error}" if error else ""))
    # an estimated count (no full index) is only trusted when something also failed
    short = is_truncated(decoded, info.n_frames) and (info.exact_count or error is not None)
    if short:
        msg = (f"video {path} is truncated or corrupt: decoded {decoded} of "
               f"{info.n_frames} frames")
        if not allow_partial:
            raise TruncatedVideoError(msg, path=str(path), decoded=decoded,
                                      expected=info.n_frames)
        logger.warning("%s; continuing with the %d decoded frames (allow_partial)", msg, decoded)
    elif demux_error is not None:
        msg = f"reading video {path} failed after {decoded} frames: {demux_error}"
        if not allow_partial:
            raise VideoError(msg)
        logger.warning("%s; continuing (allow_partial)", msg)
    elif bad_packets:
        logger.warning("%d damaged packet(s) skipped while decoding %s (%s)",
                       len(bad_packets), path, bad_packets[0])
    logger.debug("decoded %d frames from %s (expected %d)", decoded, path, info.n_frames)
