"""Streaming image and video IO built on numpy, Pillow and the ffmpeg binary
shipped with ``imageio-ffmpeg`` (no paddle).

Conventions
-----------
* Every image or frame handed out or accepted here is an ``(H, W, 3)`` ``uint8``
  array in **RGB** order, values 0..255.
* Videos are streamed: :func:`iter_frames` holds one frame in memory at a time and
  :class:`VideoWriter` pipes frames straight into an ffmpeg encoder, so memory
  use does not grow with the video length.
* Problems with inputs raise :class:`~ppgan_fom.errors.InputError` /
  :class:`~ppgan_fom.errors.VideoError`, problems with the output path raise
  :class:`~ppgan_fom.errors.OutputError`, and an encoder that dies mid-run raises
  :class:`~ppgan_fom.errors.RuntimeFailure`. Messages are one line and name the
  file.
* ffmpeg children run in their own session (process group), so a Ctrl-C in the
  terminal reaches only Python, which stops them and removes every temp file;
  they cannot finish or corrupt anything behind its back.
* The ``build_*_args`` functions are pure: they return ffmpeg argument lists
  *without* the executable, so they can be unit-tested without running ffmpeg.
"""

from __future__ import annotations

import errno
import functools
import logging
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ppgan_fom.errors import (InputError, OutputError, RuntimeFailure, TruncatedVideoError,
                              VideoError)
from ppgan_fom.fsutil import publish

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "VideoInfo",
    "VideoWriter",
    "read_image",
    "probe_video",
    "parse_probe_output",
    "iter_frames",
    "is_truncated",
    "build_probe_args",
    "build_decode_args",
    "build_encode_args",
    "build_mux_args",
    "audio_can_be_copied",
    "even_size",
    "pad_to_even",
    "ensure_writable_output",
    "check_video_suffix",
    "LARGE_FRAME_PIXELS",
]

#: Audio codecs that can be stream-copied into an MP4/MOV container unchanged.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3"})
#: Output containers the writer accepts (chosen by the target's suffix).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv"})
_MP4_FAMILY = frozenset({".mp4", ".m4v", ".mov"})
#: ffmpeg input formats that mean "this is a still image, not a video".
_STILL_IMAGE_FORMATS = ("image2", "_pipe")
#: A decode that ends short of the header count is only called truncated if it
#: is more than this many frames short ...
TRUNCATION_MIN_MISSING = 2
#: ... and delivered less than this fraction of the header count.
TRUNCATION_MAX_FRACTION = 0.9
_FFMPEG_TIMEOUT_S = 120.0
#: Frames with more pixels than this (4K UHD) are encoded in x264's low-memory mode
#: (see :func:`build_encode_args`): with the default settings x264 buffers ~40
#: frames of lookahead plus frame threads, which is gigabytes for a 48 MP photo.
LARGE_FRAME_PIXELS = 3840 * 2160
#: x264 settings for large frames: no lookahead / B-frames, sliced threads (memory
#: independent of the core count). Measured at 8000x6000: the encoder process peaks at
#: ~1.3-1.6 GB for a few frames and ~3.4 GB for long inputs (ffmpeg's own queues of raw
#: frames between its threads, bounded), against 6+ GB (growing) with x264's defaults.
_LOW_MEMORY_X264 = "rc-lookahead=0:sync-lookahead=0:bframes=0:sliced-threads=1"
#: ffmpeg children get their own session: a terminal Ctrl-C (SIGINT to the whole
#: foreground process group) must reach Python only, which then stops them cleanly.
_CHILD = {"start_new_session": True} if os.name == "posix" else {}
_NO_SPACE = "No space left on device"


# --------------------------------------------------------------------------- #
# ffmpeg executable
# --------------------------------------------------------------------------- #
@functools.lru_cache(maxsize=1)
def _ffmpeg_exe() -> str:
    """Return the path of the ffmpeg binary shipped with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(text: str, n_lines: int = 3) -> str:
    """Last ``n_lines`` non-empty lines of ``text`` joined into one line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n_lines:])


def _read_log(handle: IO[bytes]) -> str:
    """Read back a temporary stderr file written by an ffmpeg child."""
    try:
        handle.flush()
        handle.seek(0)
        return handle.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""


# --------------------------------------------------------------------------- #
# images
# --------------------------------------------------------------------------- #
def _check_input_file(path: Path, error: type[InputError], what: str) -> None:
    """Raise ``error`` naming ``path`` if it is missing, a directory or unreadable."""
    if not path.exists():
        raise error(f"{what} not found: {path}")
    if path.is_dir():
        raise error(f"{what} is a directory, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise error(f"{what} is not readable (permission denied): {path}")


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert a loaded PIL image of any mode to an (H, W, 3) uint8 RGB array.

    * 16-bit / 32-bit integer greyscale (``I;16*``, ``I``) is scaled from the
      0..65535 range with rounding (``v / 257``), not clipped.
    * Float greyscale (``F``) is taken as 0..255 and clipped.
    * Images with transparency (``RGBA``, ``LA``, ``PA``, palette with a
      transparent index) are composited over **white**.
    * Palette, CMYK, YCbCr, 1-bit, ... go through Pillow's ``convert("RGB")``.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        grey = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.array(img.convert("RGB"), dtype=np.uint8)


def read_image(path: PathLike) -> np.ndarray:
    """Read a still image as an RGB array.

    Args:
        path: image file (anything Pillow reads: JPEG, PNG, BMP, TIFF, WebP, ...).

    Returns:
        ``(H, W, 3)`` ``uint8`` RGB array, values 0..255, in display orientation:
        the EXIF ``Orientation`` tag is applied (so ``H, W`` may be swapped
        relative to the stored pixels). Greyscale is replicated to 3 channels,
        16-bit samples are scaled to 8 bit, alpha is composited over white; only
        the first frame of a multi-frame file is read. The file is opened read-only.

    Raises:
        InputError: one line naming the file, for a missing path, a directory,
            an unreadable file, a file that is not an image or a truncated/corrupt
            image.
    """
    p = Path(path)
    _check_input_file(p, InputError, "image")
    try:
        with Image.open(p) as img:
            img.load()  # force full decode so truncation is detected here
            img = ImageOps.exif_transpose(img)
            img.load()
            return _to_rgb_uint8(img)
    except UnidentifiedImageError:
        raise InputError(f"not an image (unrecognised format): {p}") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"image too large to read safely: {p} ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read image {p}: truncated or corrupt ({detail})") from None


# --------------------------------------------------------------------------- #
# probing
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg reports about a video file.

    Attributes:
        fps: frames per second of the first video stream (average rate).
        n_frames: frame count estimated from the header (``round(duration * fps)``);
            ``0`` when the container does not state a duration. For files whose
            audio outlasts the video it is an overestimate.
        width, height: decoded frame size in pixels, after applying display
            rotation (what :func:`iter_frames` yields).
        has_audio: whether the file has at least one audio stream.
        duration: container duration in seconds (``0.0`` if unknown).
        audio_codec: codec name of the first audio stream (e.g. ``"aac"``) or None.
        video_codec: codec name of the first video stream (e.g. ``"h264"``).
        rotation: display rotation in degrees as stored in the file (0 if none).
    """

    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool
    duration: float
    audio_codec: Optional[str] = None
    video_codec: str = ""
    rotation: float = 0.0


_RE_INPUT = re.compile(r"^Input #0, (?P<fmt>[^,]+(?:,[^,\s]+)*), from ", re.M)
_RE_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_RE_STREAM = re.compile(r"^\s*Stream #0:(?P<idx>\d+)\S*: (?P<kind>Video|Audio): (?P<rest>.*)$", re.M)
_RE_SIZE = re.compile(r"(?<![\dx])(?P<w>\d{1,5})x(?P<h>\d{1,5})(?![\dx])")
_RE_RATE = re.compile(r"(?P<v>\d+(?:\.\d+)?)(?P<k>k?) (?P<unit>fps|tbr)\b")
_RE_ROTATION = re.compile(r"rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees", re.I)


def _parse_rates(rest: str) -> dict[str, float]:
    """Map ``fps``/``tbr`` to their values in an ffmpeg stream description."""
    rates: dict[str, float] = {}
    for m in _RE_RATE.finditer(rest):
        value = float(m.group("v")) * (1000.0 if m.group("k") else 1.0)
        rates.setdefault(m.group("unit"), value)
    return rates


def _open_failure_reason(text: str) -> str:
    """A short reason extracted from the stderr of an ffmpeg that could not open a file."""
    if "moov atom not found" in text:
        return "moov atom not found (incomplete or truncated MP4)"
    m = re.search(r"Error opening input files?: (.+)", text)
    if m:
        return m.group(1).strip()
    return _tail(text, 1) or "ffmpeg could not open it"


def parse_probe_output(text: str, path: PathLike) -> VideoInfo:
    """Parse the stderr of ``ffmpeg -i <path>`` into a :class:`VideoInfo`.

    Pure function (no IO) so that the parsing can be tested on canned text.

    Args:
        text: everything ffmpeg wrote to stderr for ``ffmpeg -hide_banner -i path``.
        path: the probed file, used in error messages only.

    Raises:
        VideoError: ffmpeg could not open the file, it has no video stream, or it
            is a still image (image2 / ``*_pipe`` demuxer) rather than a video.
    """
    m_input = _RE_INPUT.search(text)
    if m_input is None:
        raise VideoError(f"cannot open video {path}: {_open_failure_reason(text)}")
    fmt = m_input.group("fmt")
    if any(tag in fmt for tag in _STILL_IMAGE_FORMATS):
        raise VideoError(f"not a video (still image, format {fmt}): {path}")

    video = audio = None
    for m in _RE_STREAM.finditer(text):
        if m.group("kind") == "Video" and video is None:
            video = m
        elif m.group("kind") == "Audio" and audio is None:
            audio = m
    if video is None:
        raise VideoError(f"no video stream in {path}")

    rest = video.group("rest")
    m_size = _RE_SIZE.search(rest)
    if m_size is None:
        raise VideoError(f"cannot determine the frame size of video {path}")
    width, height = int(m_size.group("w")), int(m_size.group("h"))
    rates = _parse_rates(rest)
    fps = rates.get("fps") or rates.get("tbr") or 0.0
    if not fps > 0:
        raise VideoError(f"cannot determine the frame rate of video {path}")

    # display rotation (side data printed below the video stream line)
    after_video = text[video.end():]
    next_stream = _RE_STREAM.search(after_video)
    block = after_video[: next_stream.start()] if next_stream else after_video
    m_rot = _RE_ROTATION.search(block)
    rotation = float(m_rot.group("deg")) if m_rot else 0.0
    if round(rotation / 90.0) % 2 == 1:
        width, height = height, width

    m_dur = _RE_DURATION.search(text)
    duration = 0.0
    if m_dur is not None:
        duration = int(m_dur.group("h")) * 3600 + int(m_dur.group("m")) * 60 + float(m_dur.group("s"))
    n_frames = int(round(duration * fps)) if duration > 0 else 0

    audio_codec = None
    if audio is not None:
        audio_codec = audio.group("rest").split()[0].rstrip(",")
    return VideoInfo(
        fps=float(fps),
        n_frames=n_frames,
        width=width,
        height=height,
        has_audio=audio is not None,
        duration=float(duration),
        audio_codec=audio_codec,
        video_codec=rest.split()[0].rstrip(","),
        rotation=rotation,
    )


def build_probe_args(path: PathLike) -> list[str]:
    """ffmpeg arguments (without the executable) that print stream info of ``path``."""
    return ["-hide_banner", "-nostdin", "-i", str(path)]


def probe_video(path: PathLike) -> VideoInfo:
    """Describe a video file without decoding it.

    Args:
        path: video file.

    Returns:
        :class:`VideoInfo` (fps, header frame count estimate, decoded size, audio).

    Raises:
        VideoError: naming the file, if it is missing, a directory, cannot be
            opened by ffmpeg (e.g. an MP4 without its ``moov`` atom), has no video
            stream or is a still image.
    """
    p = Path(path)
    _check_input_file(p, VideoError, "video")
    try:
        proc = subprocess.run(
            [_ffmpeg_exe(), *build_probe_args(p)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=_FFMPEG_TIMEOUT_S,
            check=False,
            **_CHILD,
        )
    except subprocess.TimeoutExpired:
        raise VideoError(f"timed out probing video {p}") from None
    text = proc.stderr.decode("utf-8", errors="replace")
    info = parse_probe_output(text, p)
    logger.debug("probed %s: %s", p, info)
    return info


# --------------------------------------------------------------------------- #
# decoding
# --------------------------------------------------------------------------- #
def build_decode_args(path: PathLike) -> list[str]:
    """ffmpeg arguments (without the executable) decoding the first video stream of
    ``path`` to raw ``rgb24`` frames on stdout.

    Every decoded frame is delivered exactly once (``-fps_mode passthrough``): a
    variable-frame-rate video is neither padded with duplicates nor thinned to a
    constant rate, so the frame count is the stream's real one.
    """
    return [
        "-hide_banner", "-nostdin", "-loglevel", "error",
        "-i", str(path),
        "-map", "0:v:0", "-an", "-sn", "-dn",
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-",
    ]


def is_truncated(decoded: int, expected: int) -> bool:
    """Whether ``decoded`` frames out of a header count of ``expected`` is a clear
    shortfall (not just the usual off-by-one-or-two of header estimates).

    True iff ``expected > 0`` and the decode is more than
    :data:`TRUNCATION_MIN_MISSING` frames short *and* below
    :data:`TRUNCATION_MAX_FRACTION` of ``expected``.
    """
    if expected <= 0:
        return False
    missing = expected - decoded
    return missing > TRUNCATION_MIN_MISSING and decoded < TRUNCATION_MAX_FRACTION * expected


def _read_exact(stream: IO[bytes], n: int) -> Optional[bytearray]:
    """Read exactly ``n`` bytes, or return None at end of stream (a trailing
    partial frame is discarded)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            return None
        got += k
    return buf


def _stop_process(proc: subprocess.Popen) -> None:
    """Terminate (then kill) a child process if it is still running and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def iter_frames(path: PathLike, *, allow_partial: bool = False) -> Iterator[np.ndarray]:
    """Stream the frames of a video.

    The file is probed immediately (so open errors raise at call time); frames
    are then decoded lazily by an ffmpeg child process that is stopped as soon as
    the iterator is exhausted, closed or garbage-collected.

    Args:
        path: video file.
        allow_partial: if True, a video that ends clearly short of its header frame
            count (see :func:`is_truncated`) only logs a warning; otherwise it
            raises after the last good frame has been yielded.

    Returns:
        An iterator of ``(H, W, 3)`` ``uint8`` RGB frames (writable, one at a time;
        memory use is independent of the video length). ``H, W`` are those of
        :func:`probe_video` (display rotation applied).

    Raises:
        VideoError: at call time if the file is missing / cannot be opened / is a
            still image / has no video stream; during iteration if no frame at all
            could be decoded, or (after the last frame, unless ``allow_partial``)
            if the decode stopped short, e.g. ``"... decoded 40 of 90 frames"``.
    """
    p = Path(path)
    info = probe_video(p)
    return _frame_stream(p, info, allow_partial)


def _frame_stream(p: Path, info: VideoInfo, allow_partial: bool) -> Iterator[np.ndarray]:
    """Generator behind :func:`iter_frames`."""
    frame_bytes = info.width * info.height * 3
    decoded = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [_ffmpeg_exe(), *build_decode_args(p)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            **_CHILD,
        )
        try:
            assert proc.stdout is not None
            while True:
                buf = _read_exact(proc.stdout, frame_bytes)
                if buf is None:
                    break
                decoded += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(info.height, info.width, 3)
            proc.stdout.close()
            rc = proc.wait(timeout=_FFMPEG_TIMEOUT_S)
        finally:
            if proc.stdout is not None and not proc.stdout.closed:
                proc.stdout.close()
            _stop_process(proc)
        log = _tail(_read_log(err))
    _check_decode_result(p, info, decoded, rc, log, allow_partial)


def _check_decode_result(
    path: Path, info: VideoInfo, decoded: int, rc: int, log: str, allow_partial: bool
) -> None:
    """Raise or warn after a decode finished with ``decoded`` frames."""
    if decoded == 0:
        raise VideoError(f"no frames could be decoded from video {path}" + (f": {log}" if log else ""))
    # With an audio stream the container duration may be the audio's, so the
    # header estimate alone is not trusted: ffmpeg must also have complained.
    short = is_truncated(decoded, info.n_frames) and (not info.has_audio or bool(log) or rc != 0)
    if short:
        msg = f"video {path} is truncated or corrupt: decoded {decoded} of {info.n_frames} frames"
        if not allow_partial:
            raise TruncatedVideoError(msg, path=str(path), decoded=decoded,
                                      expected=info.n_frames)
        logger.warning("%s; continuing with the %d decoded frames (allow_partial)", msg, decoded)
    elif rc != 0:
        msg = f"ffmpeg failed while decoding video {path} after {decoded} frames: {log}"
        if not allow_partial:
            raise VideoError(msg)
        logger.warning("%s; continuing (allow_partial)", msg)
    elif log:
        logger.warning("ffmpeg reported problems decoding %s: %s", path, log)
    logger.debug("decoded %d frames from %s (header estimate %d)", decoded, path, info.n_frames)


# --------------------------------------------------------------------------- #
# encoding
# --------------------------------------------------------------------------- #
def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """``(w, h)`` rounded up to even numbers (what yuv420p requires)."""
    w, h = size
    return w + (w % 2), h + (h % 2)


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Pad an ``(H, W, C)`` frame by one replicated pixel column on the right and/or
    row at the bottom where ``W`` / ``H`` is odd. Returns the input object itself
    if both are already even. Never resizes."""
    h, w = frame.shape[:2]
    pad_h, pad_w = h % 2, w % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _format_rate(fps: float) -> str:
    """Frame rate as a string ffmpeg parses exactly enough (e.g. 29.97002997...)."""
    return repr(float(fps))


def build_encode_args(
    out: PathLike,
    fps: float,
    size: tuple[int, int],
    *,
    crf: int = 18,
    preset: str = "medium",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> list[str]:
    """ffmpeg arguments (without the executable) that read raw ``rgb24`` frames of
    ``size = (w, h)`` (must already be even for yuv420p) from stdin at ``fps`` and
    encode them, without audio, to ``out``.

    Frames larger than :data:`LARGE_FRAME_PIXELS` are encoded by libx264 in a
    low-memory mode (no lookahead, no B-frames, sliced threads): the encoder then
    holds a handful of frames instead of ~40 plus one per thread, at the cost of a
    slightly larger file."""
    w, h = size
    args = [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", _format_rate(fps),
        "-i", "-",
        "-an", "-c:v", codec, "-pix_fmt", pix_fmt,
    ]
    if codec in ("libx264", "libx265"):
        args += ["-crf", str(int(crf)), "-preset", preset]
    if codec == "libx264" and w * h > LARGE_FRAME_PIXELS:
        args += ["-x264-params", _LOW_MEMORY_X264]
    if Path(out).suffix.lower() in _MP4_FAMILY:
        args += ["-movflags", "+faststart"]
    return args + [str(out)]


def build_mux_args(
    video_tmp: PathLike,
    audio_src: PathLike,
    out: PathLike,
    copy_audio: bool,
    duration: Optional[float] = None,
    audio_bitrate: str = "192k",
) -> list[str]:
    """ffmpeg arguments (without the executable) that combine the video stream of
    ``video_tmp`` (copied) with the first audio stream of ``audio_src`` into ``out``.

    Args:
        copy_audio: stream-copy the audio (only for MP4-compatible codecs, see
            :func:`audio_can_be_copied`); otherwise re-encode it to AAC.
        duration: video length in seconds; the output is cut to it with ``-t``
            so longer audio is trimmed. ``None`` falls back to ``-shortest``
            (which would also cut the video if the audio is shorter).
    """
    args = [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-i", str(video_tmp), "-i", str(audio_src),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "copy",
    ]
    args += ["-c:a", "copy"] if copy_audio else ["-c:a", "aac", "-b:a", audio_bitrate]
    args += ["-t", f"{duration:.6f}"] if duration is not None else ["-shortest"]
    if Path(out).suffix.lower() in _MP4_FAMILY:
        args += ["-movflags", "+faststart"]
    return args + [str(out)]


def audio_can_be_copied(audio_codec: Optional[str], out_suffix: str = ".mp4") -> bool:
    """Whether audio of codec ``audio_codec`` can be stream-copied into a file with
    suffix ``out_suffix`` (MKV takes anything; MP4/MOV only aac and mp3 here)."""
    if not audio_codec:
        return False
    if out_suffix.lower() == ".mkv":
        return True
    return audio_codec.lower() in MP4_AUDIO_CODECS


def check_video_suffix(path: PathLike) -> Path:
    """Raise :class:`OutputError` unless ``path`` ends in a suffix the writer accepts
    (``.mp4 .m4v .mov .mkv``); lets callers reject a bad output name before any work."""
    p = Path(path)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(
            f"unsupported video suffix {p.suffix!r} for {p} "
            f"(use one of {', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    return p


def _no_space(exc: Optional[BaseException] = None, log: str = "") -> bool:
    """Whether an OSError or an ffmpeg log says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return _NO_SPACE.lower() in log.lower() or "disk quota exceeded" in log.lower()


def _describe_rc(rc: int) -> str:
    """``exit code 1`` / ``killed by signal 9 (SIGKILL)``."""
    if rc < 0:
        import signal

        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-rc} ({name})"
    return f"exit code {rc}"


def _make_temp_path(target: Path, tag: str = "") -> Path:
    """Create an empty hidden temp file next to ``target`` (same directory, hence
    same filesystem, so ``os.replace`` is atomic) and return its path."""
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.tmp-", suffix=f"{tag}{target.suffix}", dir=target.parent
    )
    os.close(fd)
    return Path(name)


def _unlink_quietly(path: Optional[Path]) -> None:
    """Remove ``path`` if it exists, ignoring errors."""
    if path is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not remove temporary file %s: %s", path, exc)


def _run_ffmpeg(args: Sequence[str]) -> tuple[int, str]:
    """Run ffmpeg with ``args``; return (return code, stderr tail)."""
    proc = subprocess.run(
        [_ffmpeg_exe(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=None,
        check=False,
        **_CHILD,
    )
    return proc.returncode, _tail(proc.stderr.decode("utf-8", errors="replace"))


class VideoWriter:
    """Write RGB frames to a video file, atomically.

    Usage::

        with VideoWriter("out.mp4", fps=30, size=(w, h), audio_from="driving.mp4") as vw:
            for frame in frames:          # (h, w, 3) uint8 RGB
                vw.write(frame)

    Frames are piped to ffmpeg (``libx264``, ``yuv420p``, ``-crf``) writing a
    hidden temporary file in the target's directory (``.<stem>.tmp-XXXX<suffix>``).
    On a clean exit the audio of ``audio_from`` (if it has any) is muxed in —
    stream-copied when MP4-compatible (aac, mp3), otherwise re-encoded to AAC,
    and cut to the video's length — and the result is moved over ``path`` with
    ``os.replace``. If the with-block raises (including ``KeyboardInterrupt``)
    or ffmpeg fails, every temp file is removed and ``path`` is left untouched.

    Odd sizes: yuv420p needs even dimensions, so a frame with odd ``w`` / ``h``
    is padded by one replicated pixel column on the right / row at the bottom;
    the file is then ``even_size(size)``. Frames are never resized.

    Args:
        path: target file; suffix one of ``.mp4 .m4v .mov .mkv``.
        fps: frames per second (> 0).
        size: ``(w, h)`` of the frames that will be written.
        audio_from: optional media file whose first audio stream is copied in.
        crf: x264 constant rate factor (0 = lossless, 18 ~ visually lossless,
            23 = x264 default); lower is better quality and bigger.
        preset: x264 speed preset.
        codec, pix_fmt: ffmpeg video codec and pixel format.

    Raises:
        OutputError: unsupported suffix, the temp file cannot be created (at
            ``__enter__``), or the finished file cannot replace the target.
        InputError/VideoError: ``audio_from`` missing or unreadable (at ``__enter__``).
        ValueError: bad ``fps``/``size``, or a frame of the wrong shape/dtype.
        RuntimeFailure: ffmpeg died while encoding or muxing, or no frame was written.
    """

    def __init__(
        self,
        path: PathLike,
        fps: float,
        size: tuple[int, int],
        *,
        audio_from: Optional[PathLike] = None,
        crf: int = 18,
        preset: str = "medium",
        codec: str = "libx264",
        pix_fmt: str = "yuv420p",
    ) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        w, h = (int(v) for v in size)
        if w <= 0 or h <= 0:
            raise ValueError(f"size must be positive (w, h), got {size!r}")
        self.path = check_video_suffix(path)
        self.fps = float(fps)
        self.size = (w, h)
        self.encoded_size = even_size(self.size)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.crf, self.preset, self.codec, self.pix_fmt = crf, preset, codec, pix_fmt
        self.frames_written = 0
        self._proc: Optional[subprocess.Popen] = None
        self._err: Optional[IO[bytes]] = None
        self._tmp: Optional[Path] = None
        self._mux_tmp: Optional[Path] = None
        self._audio_codec: Optional[str] = None
        self._done = False

    # -- context manager ---------------------------------------------------- #
    def __enter__(self) -> "VideoWriter":
        if self._proc is not None or self._done:
            raise RuntimeError("VideoWriter can only be entered once")
        if self.audio_from is not None:
            self._audio_codec = self._probe_audio(self.audio_from)
        try:
            self._tmp = _make_temp_path(self.path)
        except OSError as exc:
            if _no_space(exc):
                raise RuntimeFailure(f"no space left on device while writing {self.path}") from None
            raise OutputError(f"cannot create a temporary file next to {self.path}: {exc.strerror}") from None
        if self.encoded_size != self.size:
            logger.info("frame size %dx%d is odd: padding to %dx%d (edge replicate)",
                        *self.size, *self.encoded_size)
        self._err = tempfile.TemporaryFile()
        args = build_encode_args(self._tmp, self.fps, self.encoded_size, crf=self.crf,
                                 preset=self.preset, codec=self.codec, pix_fmt=self.pix_fmt)
        try:
            self._proc = subprocess.Popen([_ffmpeg_exe(), *args], stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=self._err, **_CHILD)
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
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

    # -- writing ------------------------------------------------------------ #
    def write(self, frame: np.ndarray) -> None:
        """Append one frame: ``(h, w, 3)`` ``uint8`` RGB with ``(w, h) == size``.

        Raises:
            ValueError: wrong shape or dtype (nothing is written).
            RuntimeFailure: the ffmpeg encoder has died.
        """
        if self._proc is None or self._done:
            raise RuntimeError("VideoWriter.write() called outside its with-block")
        w, h = self.size
        if not isinstance(frame, np.ndarray) or frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            got = (frame.shape, frame.dtype) if isinstance(frame, np.ndarray) else type(frame)
            raise ValueError(f"frame must be ({h}, {w}, 3) uint8 RGB for {self.path}, got {got}")
        data = np.ascontiguousarray(pad_to_even(frame))
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(memoryview(data).cast("B"))
        except OSError as exc:  # BrokenPipeError when ffmpeg died, ENOSPC, EIO, ...
            raise RuntimeFailure(self._encoder_failure(f"write failed: {exc}", exc)) from None
        self.frames_written += 1

    # -- internals ---------------------------------------------------------- #
    def _probe_audio(self, src: Path) -> Optional[str]:
        """Codec of the first audio stream of ``src``, or None if it has none."""
        try:
            info = probe_video(src)
        except VideoError as exc:
            if "no video stream" not in str(exc):
                raise
            return self._probe_audio_only(src)
        return info.audio_codec if info.has_audio else None

    @staticmethod
    def _probe_audio_only(src: Path) -> Optional[str]:
        """Audio codec of a file without video (e.g. an .m4a), or None."""
        proc = subprocess.run([_ffmpeg_exe(), *build_probe_args(src)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
                              **_CHILD)
        text = proc.stderr.decode("utf-8", errors="replace")
        m = re.search(r"Stream #0:\d+\S*: Audio: (\S+)", text)
        return m.group(1).rstrip(",") if m else None

    def _encoder_failure(self, what: str, exc: Optional[BaseException] = None) -> str:
        """One-line message for a dead encoder, including ffmpeg's last words; a full
        disk is named as such."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            if proc.stdin is not None and not proc.stdin.closed:
                try:  # EOF lets a still-running ffmpeg exit at once
                    proc.stdin.close()
                except OSError:
                    pass
            if isinstance(exc, BrokenPipeError):  # it is exiting: let it report why
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            _stop_process(proc)
        log = _tail(_read_log(self._err)) if self._err is not None else ""
        if _no_space(exc, log):
            return (f"no space left on device while writing {self.path} "
                    f"(after {self.frames_written} frames); nothing was saved")
        return (f"ffmpeg encoder for {self.path} failed after {self.frames_written} frames"
                f" ({what})" + (f": {log}" if log else ""))

    def _finish(self) -> None:
        """Close the encoder, mux audio, move the result into place."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and self._tmp is not None
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        rc = proc.wait()
        if rc != 0:
            raise RuntimeFailure(self._encoder_failure(_describe_rc(rc)))
        if self.frames_written == 0:
            raise RuntimeFailure(f"no frames were written to {self.path}; nothing saved")
        final = self._tmp
        if self.audio_from is not None:
            final = self._mux_audio(self._tmp)
        try:
            publish(final, self.path)
        except OSError as exc:
            if _no_space(exc):
                raise RuntimeFailure(f"no space left on device while writing {self.path}") from None
            raise OutputError(f"cannot move the finished video into place at {self.path}: "
                              f"{exc.strerror or exc}") from None
        self._done = True
        logger.info("wrote %s: %d frames, %dx%d, %.3f fps", self.path, self.frames_written,
                    *self.encoded_size, self.fps)

    def _mux_audio(self, video_tmp: Path) -> Path:
        """Return the file to publish: ``video_tmp`` itself if there is no audio to
        add, else a second temp file with the audio muxed in."""
        assert self.audio_from is not None
        if self._audio_codec is None:
            logger.info("no audio stream in %s; %s will have no audio", self.audio_from, self.path)
            return video_tmp
        try:
            self._mux_tmp = _make_temp_path(self.path, ".mux")
        except OSError as exc:
            if _no_space(exc):
                raise RuntimeFailure(f"no space left on device while writing {self.path}") from None
            raise OutputError(f"cannot create a temporary file next to {self.path}: "
                              f"{exc.strerror or exc}") from None
        duration = self.frames_written / self.fps
        copy = audio_can_be_copied(self._audio_codec, self.path.suffix)
        rc, log = _run_ffmpeg(build_mux_args(video_tmp, self.audio_from, self._mux_tmp, copy, duration))
        if rc != 0 and copy:
            logger.warning("copying %s audio from %s failed (%s); re-encoding to AAC",
                           self._audio_codec, self.audio_from, log)
            copy = False
            rc, log = _run_ffmpeg(build_mux_args(video_tmp, self.audio_from, self._mux_tmp, False, duration))
        if rc != 0:
            if _no_space(log=log):
                raise RuntimeFailure(f"no space left on device while writing {self.path} "
                                     f"(adding audio); nothing was saved")
            raise RuntimeFailure(f"adding audio from {self.audio_from} to {self.path} failed: {log}")
        logger.info("audio from %s %s (%s)", self.audio_from,
                    "copied" if copy else "re-encoded to AAC", self._audio_codec)
        return self._mux_tmp

    def _cleanup(self) -> None:
        """Stop ffmpeg if running and delete every temporary file."""
        if self._proc is not None:
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                try:
                    self._proc.stdin.close()
                except (BrokenPipeError, OSError):
                    pass
            _stop_process(self._proc)
        if self._err is not None:
            self._err.close()
            self._err = None
        _unlink_quietly(self._tmp)
        _unlink_quietly(self._mux_tmp)
        self._tmp = None
        self._mux_tmp = None
        self._done = True


# --------------------------------------------------------------------------- #
# output checks
# --------------------------------------------------------------------------- #
def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (resolving symlinks and hard links)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def ensure_writable_output(path: PathLike, inputs: Iterable[PathLike] = (), *,
                           suffixes: Optional[Iterable[str]] = None) -> Path:
    """Check, before any work, that ``path`` can be written.

    Creates the output directory (with parents) if needed and creates/removes a
    probe file in it.

    Args:
        path: the output file that will be written.
        inputs: input files of the run; the output must not be any of them.
        suffixes: if given, the suffixes ``path`` may have (e.g. :data:`VIDEO_SUFFIXES`);
            checked after the same-file check and before anything is created.

    Returns:
        The output path made absolute.

    Raises:
        OutputError: one line naming the path if it resolves to one of ``inputs``,
            has a suffix not in ``suffixes``, is an existing directory, or its
            directory cannot be created or written.
    """
    out = Path(path).expanduser().absolute()
    for inp in inputs:
        if _same_file(out, Path(inp).expanduser().absolute()):
            raise OutputError(f"output {out} is the same file as input {inp}; refusing to overwrite it")
    allowed = None if suffixes is None else sorted({s.lower() for s in suffixes})
    if allowed is not None and out.suffix.lower() not in allowed:
        raise OutputError(f"unsupported suffix {out.suffix!r} for output {out} "
                          f"(use one of {', '.join(allowed)})")
    if out.is_dir():
        raise OutputError(f"output path is a directory: {out}")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a path component is a file, not a directory"
        raise OutputError(f"cannot create output directory {parent}: {reason}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"output directory {parent} is not writable: {exc.strerror or exc}") from None
    return out
