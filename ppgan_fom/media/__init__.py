"""Media IO on PyAV: still images, video probing, frame decoding with presentation times,
H.264/GIF encoding with the input's timing and audio, output-path checks.

Every image or frame handed out or accepted is an ``(H, W, 3)`` uint8 RGB array. Problems
with inputs raise :class:`~ppgan_fom.errors.InputError` / ``VideoError``; with the output
path, ``OutputError``; an encoder or disk failure mid-run, ``RuntimeFailure``. Messages are
one line and name the file. See docs/video.md for how timing, audio and rotation are kept.
"""

from .image import read_image
from .paths import VIDEO_SUFFIXES, check_video_suffix, ensure_writable_output
from .probe import VideoInfo, frame_times, probe_video
from .reader import Frame, is_truncated, iter_frames, read_frames
from .writer import VideoWriter

__all__ = ["read_image", "VIDEO_SUFFIXES", "check_video_suffix", "ensure_writable_output",
           "VideoInfo", "probe_video", "frame_times", "Frame", "read_frames", "iter_frames", "is_truncated",
           "VideoWriter"]
