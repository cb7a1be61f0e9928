"""Open media files with PyAV and describe their video and audio streams.

Everything here comes from the demuxer and the decoder (stream time bases, start times,
the sample index, the display matrix of the first frame), never from a guess or from
parsing a log. FFmpeg's own error log line (e.g. ``moov atom not found``) is captured and
put into the one-line :class:`~ppgan_fom.errors.VideoError` that names the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import List, Optional

import av
import av.logging

from ..errors import VideoError
from ..types import PathLike
from .paths import check_input_file

logger = logging.getLogger(__name__)

__all__ = ["VideoInfo", "probe_video", "frame_times", "open_input", "av_reason",
           "display_turns", "STILL_IMAGE_FORMATS"]

#: Demuxers that mean "this is a still image, not a video".
STILL_IMAGE_FORMATS = ("image2", "_pipe")
#: Frame rate assumed when a stream states none (only for progress estimates and for
#: frames written without a time).
FALLBACK_FPS = 25.0

# FFmpeg's log stays off (PyAV's default) while anything decodes: with it on, FFmpeg's
# own decoder threads call back into Python for every message, and freeing a threaded
# decoder then deadlocks on the interpreter lock. It is switched on only to re-open a file
# that failed to open, to read FFmpeg's reason ("moov atom not found", ...).
logging.getLogger("libav").setLevel(logging.CRITICAL)  # the reason reaches users as one line


@dataclass(frozen=True)
class VideoInfo:
    """What the demuxer knows about a video file (first video and audio streams).

    Attributes:
        fps: average frame rate of the video stream (frames / duration; a variable
            frame rate clip keeps its own per-frame times, see ``reader``).
        n_frames: frames the decoder will deliver: exact when the container has a full
            sample index (MP4/MOV: index entries not discarded by an edit list), else
            ``round(duration * fps)`` (0 if the duration is unknown).
        width, height: frame size in pixels in display orientation (rotation applied).
        has_audio: whether the file has an audio stream.
        duration: video stream duration in seconds (0.0 if unknown).
        audio_codec: codec of the first audio stream (e.g. ``"aac"``) or None.
        video_codec: codec of the video stream (e.g. ``"h264"``).
        rotation: display rotation in degrees counter-clockwise (0, 90, 180, 270).
        time_base: the video stream's time base (seconds per timestamp tick).
        start_time: presentation time of the first video frame, in seconds.
        audio_start: presentation time of the first audio sample, in seconds, or None.
        exact_count: True when ``n_frames`` comes from a full sample index.
        format: the container format (demuxer) name.
    """

    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool
    duration: float
    audio_codec: Optional[str] = None
    video_codec: str = ""
    rotation: int = 0
    time_base: Fraction = Fraction(1, 90000)
    start_time: float = 0.0
    audio_start: Optional[float] = None
    exact_count: bool = False
    format: str = ""


def av_reason(exc: BaseException) -> str:
    """One-line reason from a PyAV/FFmpeg exception, without the errno prefix, ending
    with FFmpeg's last error log line when it has one."""
    text = " ".join(str(exc).split())
    if text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    if "moov atom not found" in text:
        return "moov atom not found (incomplete or truncated MP4)"
    return text or type(exc).__name__


def open_input(path: Path, what: str = "video") -> "av.container.InputContainer":
    """Open ``path`` for demuxing; raise a one-line :class:`VideoError` naming it if it is
    missing, a directory, unreadable or not a media file FFmpeg can open."""
    check_input_file(path, VideoError, what)
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"cannot open {what} {path}: {_open_failure(path, exc)}") from None


def _open_failure(path: Path, exc: BaseException) -> str:
    """FFmpeg's own reason for a failed open: the open is repeated with FFmpeg's error log
    on (no decoder runs during an open, so no decoder thread can call back)."""
    av.logging.set_level(av.logging.ERROR)
    try:
        av.open(str(path), mode="r", metadata_errors="ignore").close()
    except (av.FFmpegError, UnicodeDecodeError) as again:
        exc = again
    finally:
        av.logging.set_level(None)
    return av_reason(exc)


def display_turns(rotation: float) -> int:
    """Quarter turns (0..3, counter-clockwise) for a display rotation in degrees."""
    return int(round(rotation / 90.0)) % 4


def _first_frame_rotation(container, stream) -> int:
    """Display rotation (degrees CCW) from the first decodable frame's display matrix;
    0 when no frame decodes (reading then fails with its own message)."""
    try:
        for frame in container.decode(stream):
            return int(display_turns(getattr(frame, "rotation", 0) or 0.0) * 90)
    except (av.FFmpegError, ValueError):
        pass
    return 0


def _seconds(ts: Optional[int], time_base: Optional[Fraction]) -> Optional[float]:
    if ts is None or time_base is None:
        return None
    return float(ts * time_base)


def probe_video(path: PathLike) -> VideoInfo:
    """Describe a video file (decodes at most its first frame, for the display matrix).

    Raises:
        VideoError: naming the file, if it is missing, a directory, cannot be opened
            (e.g. an MP4 without its ``moov`` atom), has no video stream or is a still
            image.
    """
    p = Path(path)
    with open_input(p) as container:
        fmt = container.format.name
        if any(tag in fmt for tag in STILL_IMAGE_FORMATS):
            raise VideoError(f"not a video (still image, format {fmt}): {p}")
        if not container.streams.video:
            raise VideoError(f"no video stream in {p}")
        vs = container.streams.video[0]
        tb = vs.time_base or Fraction(1, 90000)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if not fps > 0:
            logger.debug("%s states no frame rate; assuming %g fps for estimates", p,
                         FALLBACK_FPS)
            fps = FALLBACK_FPS
        duration = _seconds(vs.duration, tb)
        if duration is None and container.duration:
            duration = container.duration / 1e6
        duration = float(duration or 0.0)
        entries = getattr(vs, "index_entries", None) or ()  # PyAV >= 15
        exact = vs.frames > 0 and len(entries) == vs.frames
        if exact:
            n_frames = sum(1 for e in entries if not e.is_discard)
        else:
            n_frames = int(round(duration * fps)) if duration > 0 else int(vs.frames or 0)
        start = _seconds(vs.start_time, tb) or 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_start = None
        if audio is not None:
            audio_start = _seconds(audio.start_time, audio.time_base)
            audio_start = start if audio_start is None else audio_start
        width, height = vs.codec_context.width, vs.codec_context.height
        rotation = _first_frame_rotation(container, vs)
    if display_turns(rotation) % 2:
        width, height = height, width
    info = VideoInfo(fps=fps, n_frames=n_frames, width=int(width), height=int(height),
                     has_audio=audio is not None, duration=duration,
                     audio_codec=audio.codec_context.codec.canonical_name if audio is not None else None,
                     video_codec=vs.codec_context.codec.canonical_name, rotation=rotation, time_base=tb,
                     start_time=start, audio_start=audio_start, exact_count=exact, format=fmt)
    logger.debug("probed %s: %s", p, info)
    return info


def frame_times(path: PathLike) -> Optional[List[float]]:
    """Presentation times (seconds) of the frames the decoder will deliver, in display
    order, from the demuxer alone (packets are read, not decoded): the timestamps of the
    video packets that an MP4 edit list does not discard, sorted. Used to seek to frame
    *i* (:func:`~ppgan_fom.media.read_frames` ``start=``); a reader of those frames
    should check the times it gets, since a damaged packet that does not decode has a
    timestamp but no frame.

    Returns:
        The times, or None when some packet has no presentation timestamp (AVI and raw
        streams may not have them: the times are then only known by decoding).

    Raises:
        VideoError: the file cannot be opened or has no video stream.
    """
    p = Path(path)
    with open_input(p) as container:
        if not container.streams.video:
            raise VideoError(f"no video stream in {p}")
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 90000)
        pts: List[int] = []
        try:
            for packet in container.demux(stream):
                if packet.dts is None and packet.pts is None or not packet.size:
                    continue  # the demuxer's end-of-stream marker
                if packet.is_discard:
                    continue
                if packet.pts is None:
                    return None
                pts.append(int(packet.pts))
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot read video {p}: {av_reason(exc)}") from None
    return [float(v * tb) for v in sorted(pts)]
