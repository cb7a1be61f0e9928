"""The reference driving frame of relative motion: ``best_frame`` or ``find_best_frame``.

In relative mode FOMM moves the source keypoints by the driving keypoints' displacement
from a reference frame (frame 0 by default). ``best_frame=i`` makes frame i the reference;
``find_best_frame`` picks the frame whose keypoint layout (centred, scaled by the square
root of the convex-hull area) is closest to the source face's. PaddleGAN animates frames
i..end and i..0 separately and concatenates them; each output frame depends only on its
own driving frame and on the reference, so the pipelines stream the frames in their
natural order with the same reference: the same frames, in the right order, with flat
memory.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Optional

import numpy as np

from ..errors import InputError, VideoError

logger = logging.getLogger(__name__)

__all__ = ["reference_keypoints", "layout_distances", "best_frame_index",
           "normalized_kp_layout"]


def normalized_kp_layout(values: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` keypoints -> centred and scaled by sqrt(convex hull area), float64."""
    from ..motion import hull_area

    values = np.asarray(values, np.float64)
    centred = values - values.mean(axis=1, keepdims=True)
    scale = np.array([np.sqrt(max(hull_area(v), 1e-12)) for v in values])
    return centred / scale[:, None, None]


def best_frame_index(source_kp: np.ndarray, driving_kp: np.ndarray) -> int:
    """Index of the driving frame whose keypoint layout is closest to the source's."""
    return int(np.argmin(layout_distances(source_kp, driving_kp)))


def layout_distances(source_kp: np.ndarray, driving_kp: np.ndarray) -> np.ndarray:
    """Squared distance of each driving frame's keypoint layout to the source's.

    Args:
        source_kp: ``(K, 2)`` or ``(1, K, 2)`` source keypoints in [-1, 1].
        driving_kp: ``(N, K, 2)`` keypoints of N driving frames.

    Returns:
        ``(N,)`` float64, >= 0.
    """
    src = normalized_kp_layout(np.asarray(source_kp).reshape(1, -1, 2))[0]
    drv = normalized_kp_layout(np.asarray(driving_kp))
    return ((drv - src[None]) ** 2).sum(axis=(1, 2))


def reference_keypoints(animator, source, frames: Callable[[], Iterable[np.ndarray]], *,
                        best_frame: Optional[int], find_best_frame: bool,
                        video_name: str = "the driving video"):
    """Keypoints ``{value (1, K, 2), jacobian (1, K, 2, 2)}`` of the reference frame, and
    its index; ``(None, None)`` when neither option is set (frame 0 is then used).

    Args:
        animator: a :class:`~ppgan_fom.animator.Animator`.
        source: its ``SourceState``; the first face's keypoints are matched.
        frames: returns a fresh iterable of the ``(S, S, 3)`` uint8 driving inputs.
        best_frame, find_best_frame: the options (``best_frame`` wins).

    Raises:
        InputError: ``best_frame`` beyond the end of the video.
        VideoError: no frame decoded.
    """
    if best_frame is not None:
        count = 0
        for i, frame in enumerate(frames()):
            count = i + 1
            if i == best_frame:
                logger.info("reference driving frame: %d (best_frame)", i)
                return animator.keypoints([frame]), i
        raise InputError(f"--best_frame {best_frame} is beyond the end of {video_name} "
                         f"({count} frames)")
    if not find_best_frame:
        return None, None
    src = source.kp["value"][0].numpy()
    best, best_kp, offset = None, None, 0
    for kp in animator.keypoints_of(frames()):
        d = layout_distances(src, kp["value"].numpy())
        i = int(np.argmin(d))
        if best is None or d[i] < best[1]:
            best = (offset + i, float(d[i]))
            best_kp = {k: t[i:i + 1] for k, t in kp.items()}
        offset += len(d)
    if best is None:
        raise VideoError(f"{video_name}: no frame decoded")
    logger.info("reference driving frame: %d (find_best_frame, keypoint layout distance "
                "%.4f)", best[0], best[1])
    return best_kp, best[0]
