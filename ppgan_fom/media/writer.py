"""Write frames, each at the time you give it, with the audio of an input file, atomically.

Timing: every frame is written at its own presentation time (``write(image, time=t)``),
so a variable-frame-rate input keeps its rhythm frame by frame. The output's time origin
is the earliest time written, of the first frame and of the first audio sample, and
every frame and audio packet is shifted by that same origin: the time from the first
frame to any audio sample is exactly what it was in the input (a video that starts 0.84 s
after its audio still does; its MP4 gets an edit list for the gap). Frames written
without a time follow each other at ``fps``.

Atomicity: PyAV writes a hidden temporary file in the target's directory
(``.<stem>.tmp-XXXX<suffix>``) which is moved over the target only when complete; if the
with-block raises (including ``KeyboardInterrupt``), the encoder fails or the disk fills
up, the temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Optional, Tuple

import av
import numpy as np

from ..errors import OutputError, RuntimeFailure
from ..types import PathLike
from .audio import AudioTrack, TransformFactory
from .encoders import DEFAULT_CRF, DEFAULT_PRESET, GifEncoder, H264Encoder, even_size
from .paths import (MP4_FAMILY, check_video_suffix, make_temp_path, no_space, publish,
                    unlink_quietly)
from .probe import av_reason, open_input

logger = logging.getLogger(__name__)

__all__ = ["VideoWriter", "DEFAULT_TIME_BASE"]

#: Timestamp unit when the caller gives none (MPEG's 90 kHz clock: exact for every
#: common frame rate, 29.97 included).
DEFAULT_TIME_BASE = Fraction(1, 90000)


class VideoWriter:
    """Write RGB frames to a video file (H.264 MP4/M4V/MOV/MKV, or an animated GIF).

    Usage::

        info = probe_video("in.mp4")
        with VideoWriter("out.mp4", size=(w, h), fps=info.fps, time_base=info.time_base,
                         audio_from="in.mp4") as vw:
            for f in read_frames("in.mp4"):
                vw.write(process(f.image), time=f.time)

    Args:
        path: target file; suffix one of ``.mp4 .m4v .mov .mkv .gif``.
        size: ``(w, h)`` of the frames that will be written. H.264 needs even sizes: an
            odd ``w``/``h`` is padded by one replicated column/row (never resized).
        fps: nominal frame rate (> 0): the stream header's rate, the spacing of frames
            written without a time, and the display time of the last frame.
        time_base: timestamp unit; give the input's (``VideoInfo.time_base``) so input
            times map to output timestamps exactly. GIFs always use 1/100 s.
        audio_from: optional media file whose first audio stream is carried over with
            its timing (copied, or re-encoded to AAC when the container needs it; a GIF
            has no audio).
        audio_transform: optional factory ``(sample_rate, channels) -> AudioTransform``
            applied to the audio samples (e.g. voice anonymization; forces AAC).
        origin: the input time (seconds) that becomes time 0 of the output; default the
            earliest of the first frame's time and the audio's start. Given explicitly,
            pieces of one video written by separate writers share one timeline (their
            packets can then be joined by :func:`~ppgan_fom.media.remux.concat_videos`).
        crf, preset: x264 quality settings (GIF: unused).

    Raises:
        OutputError: unsupported suffix, the temp file cannot be created (at
            ``__enter__``), or the finished file cannot replace the target.
        VideoError: ``audio_from`` missing or unreadable (at ``__enter__``).
        ValueError: bad ``fps``/``size``, or a frame of the wrong shape/dtype.
        RuntimeFailure: the encoder or muxer failed, the disk is full, or no frame was
            written.
    """

    def __init__(self, path: PathLike, size: Tuple[int, int], fps: float, *,
                 time_base: Optional[Fraction] = None,
                 audio_from: Optional[PathLike] = None,
                 audio_transform: Optional[TransformFactory] = None,
                 origin: Optional[float] = None,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET) -> None:
        if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        w, h = (int(v) for v in size)
        if w <= 0 or h <= 0:
            raise ValueError(f"size must be positive (w, h), got {size!r}")
        self.path = check_video_suffix(path)
        self.gif = self.path.suffix.lower() == ".gif"
        self.fps = float(fps)
        self.size = (w, h)
        self.encoded_size = self.size if self.gif else even_size(self.size)
        self.time_base = Fraction(time_base) if time_base else DEFAULT_TIME_BASE
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_transform = audio_transform
        self.crf, self.preset = crf, preset
        self.frames_written = 0
        self._container = None
        self._encoder = None
        self._audio: Optional[AudioTrack] = None
        self._tmp: Optional[Path] = None
        self._origin: Optional[float] = None if origin is None else float(origin)
        self._last_pts: Optional[int] = None
        self._last_time: Optional[float] = None
        self._nudged = 0
        self._done = False

    # ------------------------------------------------------------------ context
    def __enter__(self) -> "VideoWriter":
        if self._container is not None or self._done:
            raise RuntimeError("VideoWriter can only be entered once")
        has_audio = self._check_audio_source()
        try:
            self._tmp = make_temp_path(self.path)
        except OSError as exc:
            raise self._file_error(exc, "cannot create a temporary file next to") from None
        try:
            self._open(has_audio)
        except BaseException as exc:
            self._cleanup()
            if isinstance(exc, (av.FFmpegError, OSError)):
                raise self._failure("opening the output", exc) from None
            raise
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool:
        if exc_type is not None:
            logger.info("aborting video %s after %d frames (%s); no file written",
                        self.path, self.frames_written, exc_type.__name__)
            self._cleanup()
            return False
        try:
            self._finish()
        finally:
            self._cleanup()
        return False

    # ------------------------------------------------------------------ writing
    def write(self, frame: np.ndarray, time: Optional[float] = None) -> None:
        """Append one frame.

        Args:
            frame: ``(h, w, 3)`` uint8 RGB with ``(w, h) == size``.
            time: presentation time in seconds (e.g. ``Frame.time`` of the input frame
                it comes from); None = one nominal frame after the previous one.

        Raises:
            ValueError: wrong shape or dtype (nothing is written).
            RuntimeFailure: the encoder failed or the disk is full.
        """
        if self._container is None or self._done:
            raise RuntimeError("VideoWriter.write() called outside its with-block")
        w, h = self.size
        if not isinstance(frame, np.ndarray) or frame.shape != (h, w, 3) \
                or frame.dtype != np.uint8:
            got = (frame.shape, frame.dtype) if isinstance(frame, np.ndarray) else type(frame)
            raise ValueError(f"frame must be ({h}, {w}, 3) uint8 RGB for {self.path}, "
                             f"got {got}")
        if time is None:
            time = 0.0 if self._last_time is None else self._last_time + 1.0 / self.fps
        if self._origin is None:
            self._origin = time if self._audio is None else min(time, self._audio.start)
            if self._audio is not None:
                self._audio.origin = self._origin
        pts = self._pts(time)
        try:
            self._mux_video(self._encoder.encode(frame, pts))
        except (av.FFmpegError, OSError) as exc:
            raise self._failure("encoding", exc) from None
        self._last_time = time
        self.frames_written += 1

    # ------------------------------------------------------------------ internals
    def _check_audio_source(self) -> bool:
        """Whether ``audio_from`` has audio (raises VideoError if it cannot be read)."""
        if self.audio_from is None:
            return False
        with open_input(self.audio_from, "audio source") as src:
            has_audio = bool(src.streams.audio)
        if not has_audio:
            logger.info("no audio stream in %s; %s will have no audio", self.audio_from,
                        self.path)
        elif self.gif:
            logger.info("a GIF has no audio: the audio of %s is not carried over",
                        self.audio_from)
            return False
        return has_audio

    def _open(self, has_audio: bool) -> None:
        options = {}
        if self.path.suffix.lower() in MP4_FAMILY:
            options["movflags"] = "+faststart"
            # edit lists (a video that starts after its audio) are stated in the movie
            # time scale: FFmpeg's default (1/1000 s) would round the offset to 1 ms
            options["movie_timescale"] = str(self._tick_rate())
        if self.gif:
            options.update(GifEncoder.container_options(self.fps))
        self._container = av.open(str(self._tmp), mode="w", options=options)
        if self.gif:
            self._encoder = GifEncoder(self._container, self.size, self.fps)
            self.time_base = GifEncoder.time_base
        else:
            self._encoder = H264Encoder(self._container, self.size, self.time_base, self.fps,
                                        self.crf, self.preset)
        if has_audio:
            self._audio = AudioTrack(self.audio_from, self._container, self.path.suffix,
                                     self.audio_transform)
            if self._origin is not None:
                self._audio.origin = self._origin

    def _tick_rate(self) -> int:
        """Ticks per second of the time base when it is 1/n, else 90 kHz."""
        tb = self.time_base
        return tb.denominator if tb.numerator == 1 and tb.denominator <= 10_000_000 else 90000

    def _pts(self, time: float) -> int:
        """Output timestamp of a frame at ``time``; strictly increasing (a repeated or
        backwards input time is nudged one tick forward and counted)."""
        pts = round(Fraction(time - self._origin) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
            self._nudged += 1
        self._last_pts = pts
        return pts

    def _mux_video(self, packets) -> None:
        for packet in packets:
            if self._audio is not None and packet.dts is not None:
                self._audio.mux_until(float(packet.dts * packet.time_base))
            self._container.mux(packet)

    def _failure(self, what: str, exc: BaseException) -> RuntimeFailure:
        """One-line failure naming the target; a full disk is named as such."""
        if no_space(exc):
            return RuntimeFailure(f"no space left on device while writing {self.path} "
                                  f"(after {self.frames_written} frames); nothing was saved")
        name = self._encoder.name if self._encoder is not None else "video"
        return RuntimeFailure(f"{name} encoder for {self.path} failed after "
                              f"{self.frames_written} frames ({what}): {av_reason(exc)}")

    def _file_error(self, exc: OSError, what: str) -> Exception:
        """A full disk (RuntimeFailure) or another file-system problem (OutputError)."""
        if no_space(exc):
            return RuntimeFailure(f"no space left on device while writing {self.path}")
        return OutputError(f"{what} {self.path}: {exc.strerror or exc}")

    def _finish(self) -> None:
        """Flush the encoder, finish the audio, close the file, move it into place."""
        if self.frames_written == 0:
            raise RuntimeFailure(f"no frames were written to {self.path}; nothing saved")
        try:
            self._mux_video(self._encoder.flush())
            if self._audio is not None:
                self._audio.finish(self._last_time - self._origin + 1.0 / self.fps)
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            raise self._failure("finishing", exc) from None
        finally:
            self._container = None
        if self._nudged:
            logger.warning("%d frame time(s) were not after the previous frame's; each was "
                           "moved one tick later", self._nudged)
        try:
            publish(self._tmp, self.path)
        except OSError as exc:
            raise self._file_error(exc, "cannot move the finished video into place at") \
                from None
        self._tmp = None
        self._done = True
        logger.info("wrote %s: %d frames, %dx%d, %.3f fps nominal", self.path,
                    self.frames_written, *self.encoded_size, self.fps)

    def _cleanup(self) -> None:
        """Close everything and delete the temporary file (idempotent)."""
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            try:
                self._container.close()
            except (av.FFmpegError, OSError):
                pass
            self._container = None
        unlink_quietly(self._tmp)
        self._tmp = None
        self._done = True
