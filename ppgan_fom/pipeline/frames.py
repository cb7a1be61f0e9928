"""The frame loop every orchestrator shares: animate a stream of timed frames, enhance the
animated faces (``face_enhancement``), and write a stream of timed frames to a video (each
at its own presentation time, with the input's audio, atomically, with a progress bar)."""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Deque, Iterable, Iterator, List, Optional, Tuple, TypeVar

import numpy as np

from ..media import Frame, VideoWriter
from ..media.audio import TransformFactory
from ..progress import progress
from ..types import PathLike

__all__ = ["animate_frames", "enhance_frames", "write_video"]

T = TypeVar("T")


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


def enhance_frames(animated: Iterable[Tuple[T, np.ndarray]], enhancer,
                   frames_per_call: int = 1) -> Iterator[Tuple[T, np.ndarray]]:
    """Pass the animated faces of a stream through the face enhancer, in order.

    Args:
        animated: ``(item, faces)`` pairs, ``faces`` ``(F, S, S, 3)`` uint8 (F may vary).
        enhancer: a :class:`~ppgan_fom.enhance.FaceEnhancer` (or None: pairs unchanged).
        frames_per_call: frames whose faces go to the enhancer together (PaddleGAN
            enhances each ``batch_size`` batch of frames at once); results do not depend
            on it.

    Yields:
        ``(item, enhanced faces)``: the same shapes, uint8.
    """
    if enhancer is None:
        yield from animated
        return
    group: List[Tuple[T, np.ndarray]] = []

    def flush() -> Iterator[Tuple[T, np.ndarray]]:
        faces = np.concatenate([f for _, f in group])
        out = enhancer.enhance(faces) if len(faces) else faces
        start = 0
        for item, f in group:
            yield item, out[start:start + len(f)]
            start += len(f)

    for pair in animated:
        group.append(pair)
        if len(group) >= max(1, frames_per_call):
            yield from flush()
            group = []
    if group:
        yield from flush()


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
