"""The frame loop every orchestrator shares: animate a stream of timed frames, and write
a stream of timed frames to a video (each at its own presentation time, with the
input's audio, atomically, with a progress bar)."""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Deque, Iterable, Iterator, Optional, Tuple

import numpy as np

from ..media import Frame, VideoWriter
from ..media.audio import TransformFactory
from ..progress import progress
from ..types import PathLike

__all__ = ["animate_frames", "write_video"]


def animate_frames(animator, source, frames: Iterable[Frame], *, relative: bool,
                   adapt_scale: bool, kp_initial=None) -> Iterator[Tuple[Frame, np.ndarray]]:
    """Animate the source faces with each driving frame, keeping the frames' times.

    Args:
        animator: a :class:`~ppgan_fom.animator.Animator`.
        source: its ``SourceState`` for F faces.
        frames: driving frames, images already ``(S, S, 3)`` uint8 model inputs.
        relative, adapt_scale, kp_initial: see :meth:`Animator.animate`.

    Yields:
        ``(driving frame, faces)`` with ``faces`` ``(F, S, S, 3)`` uint8, in order.
    """
    taken: Deque[Frame] = deque()  # frames the animator has taken and not answered yet

    def images() -> Iterator[np.ndarray]:
        for f in frames:
            taken.append(f)
            yield f.image

    for faces in animator.animate(source, images(), relative=relative,
                                  adapt_scale=adapt_scale, kp_initial=kp_initial):
        yield taken.popleft(), faces


def write_video(path: PathLike, frames: Iterable[Frame], size: Tuple[int, int], *,
                fps: float, time_base: Optional[Fraction] = None,
                audio_from: Optional[PathLike] = None,
                audio_transform: Optional[TransformFactory] = None,
                total: Optional[int] = None, desc: str = "writing") -> int:
    """Write every frame at its own time (:class:`~ppgan_fom.media.VideoWriter`); return
    the number of frames written. Nothing is left at ``path`` if anything fails."""
    written = 0
    with VideoWriter(Path(path), size, fps, time_base=time_base, audio_from=audio_from,
                     audio_transform=audio_transform) as writer:
        for f in progress(frames, total=total, desc=desc):
            writer.write(f.image, f.time)
            written += 1
    return written
