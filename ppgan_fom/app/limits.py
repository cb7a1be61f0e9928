"""Upload limits of the web app: file size and video duration, checked before any model
runs, with messages a person without a terminal understands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..media import VideoInfo, probe_video, read_image
from ..types import PathLike

__all__ = ["Limits", "MB"]

#: Bytes per MB in every limit and message: 2^20, as Gradio counts when it refuses an
#: upload over ``--max_upload_mb`` in the browser (so both messages show the same limit).
MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What the server accepts.

    Attributes:
        max_upload_mb: largest file, in MB (2^20 bytes), per upload.
        max_video_seconds: longest video, in seconds.
    """

    max_upload_mb: float = 200.0
    max_video_seconds: float = 120.0

    def __post_init__(self):
        if not self.max_upload_mb > 0:
            raise InputError(f"--max_upload_mb must be > 0, got {self.max_upload_mb}")
        if not self.max_video_seconds > 0:
            raise InputError(f"--max_video_seconds must be > 0, got {self.max_video_seconds}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    def check_size(self, path: PathLike, what: str) -> None:
        """Raise :class:`InputError` if the file is larger than ``max_upload_mb``."""
        p = Path(path)
        size = p.stat().st_size if p.is_file() else 0
        if size > self.max_upload_bytes:
            raise InputError(f"{what} {p.name} is {size / MB:.1f} MB; this app accepts files "
                             f"up to {self.max_upload_mb:g} MB (server option "
                             f"--max_upload_mb)")

    def check_image(self, path: PathLike, what: str = "photo") -> np.ndarray:
        """Size check, then the image itself: ``(H, W, 3)`` uint8 RGB.

        Raises:
            InputError: too large, or not a readable image (the library's message).
        """
        self.check_size(path, what)
        return read_image(path)

    def check_video(self, path: PathLike, what: str = "video") -> VideoInfo:
        """Size check, then the video's header and its duration.

        Raises:
            InputError: too large or too long; VideoError (an InputError): not a
                readable video (the library's message).
        """
        self.check_size(path, what)
        info = probe_video(path)
        seconds = info.duration or (info.n_frames / info.fps if info.fps else 0.0)
        if seconds > self.max_video_seconds:
            raise InputError(f"{what} {Path(path).name} lasts {seconds:.1f} s; this app "
                             f"accepts videos up to {self.max_video_seconds:g} s (server "
                             f"option --max_video_seconds)")
        return info
