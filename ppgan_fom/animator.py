"""The animation engine: FOMM inference on batches of driving frames for several faces.

Per source face the keypoints, the encoder features and the adapt-scale factor are
computed once; each generator call then processes ``batch_size`` driving frames for
all faces together (batch = faces x frames). Results do not depend on ``batch_size``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import paddle

from .engine import EagerEngine
from .modules import KPDetector, OcclusionAwareGenerator
from .motion import movement_scale, normalize_kp

logger = logging.getLogger(__name__)

KP = Dict[str, paddle.Tensor]

__all__ = ["SourceState", "Animator", "frames_to_tensor", "tensor_to_frames", "batches"]


def frames_to_tensor(frames: Sequence[np.ndarray]) -> paddle.Tensor:
    """(N, S, S, 3) uint8 RGB frames -> (N, 3, S, S) float32 in [0, 1]."""
    arr = np.stack([np.asarray(f) for f in frames]).astype(np.float32) / 255.0
    return paddle.to_tensor(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def tensor_to_frames(t) -> np.ndarray:
    """(N, 3, S, S) float in [0, 1] (tensor or array) -> (N, S, S, 3) uint8 (rounded)."""
    arr = (t.numpy() if hasattr(t, "numpy") else np.asarray(t)).transpose(0, 2, 3, 1)
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _take(kp: KP, idx) -> KP:
    return {k: v[idx] for k, v in kp.items()}


def _repeat(kp: KP, n: int) -> KP:
    """Repeat each batch element ``n`` times consecutively: (F, ...) -> (F*n, ...)."""
    return {k: paddle.repeat_interleave(v, n, axis=0) for k, v in kp.items()}


@dataclass
class SourceState:
    """Per-face values that are the same for every driving frame."""

    image: paddle.Tensor  # (F, 3, S, S)
    kp: KP  # value (F, K, 2), jacobian (F, K, 2, 2)
    features: paddle.Tensor  # (F, C, S/4, S/4) encoder output

    @property
    def num_faces(self) -> int:
        return int(self.image.shape[0])


class Animator:
    """Runs a loaded FOMM (generator + keypoint detector, eval mode).

    Args:
        generator, kp_detector: the networks (see :func:`ppgan_fom.model.load_fomm`).
        image_size: crop size S the networks run at.
        batch_size: driving frames per generator call.
        engine: how the networks execute (:mod:`ppgan_fom.engine`); default eager.
    """

    def __init__(self, generator: OcclusionAwareGenerator, kp_detector: KPDetector,
                 image_size: int, batch_size: int = 1, engine: Optional[EagerEngine] = None):
        self.generator = generator
        self.kp_detector = kp_detector
        self.image_size = int(image_size)
        self.batch_size = max(1, int(batch_size))
        self.engine = engine or EagerEngine(generator, kp_detector)

    # ----------------------------------------------------------------- pieces
    @paddle.no_grad()
    def prepare_sources(self, crops: Sequence[np.ndarray]) -> SourceState:
        """Source face crops (each (S, S, 3) uint8 RGB) -> their cached state."""
        image = frames_to_tensor(crops)
        return SourceState(image=image, kp=self.engine.keypoints(image),
                           features=self.engine.encode(image))

    @paddle.no_grad()
    def keypoints(self, frames: Sequence[np.ndarray]) -> KP:
        """Keypoints of driving frames (each (S, S, 3) uint8): value (B, K, 2), jacobian."""
        return self.engine.keypoints(frames_to_tensor(frames))

    def keypoints_of(self, frames: Iterable[np.ndarray]) -> Iterator[KP]:
        """Keypoints batch by batch for a stream of frames."""
        for batch in batches(frames, self.batch_size):
            yield self.keypoints(batch)

    @paddle.no_grad()
    def animate_batch(self, source: SourceState, kp_driving: KP, kp_initial: Optional[KP],
                      relative: bool, scales: Sequence[float]) -> np.ndarray:
        """Animate all faces for B driving frames.

        Args:
            source: from :meth:`prepare_sources` (F faces).
            kp_driving: keypoints of the B driving frames.
            kp_initial: keypoints (1, ...) of the reference driving frame (relative mode).
            relative: relative (True) or absolute (False) motion transfer.
            scales: per-face movement scale (1.0 without adapt_scale).

        Returns:
            (F, B, S, S, 3) uint8 predicted faces.
        """
        n_faces, b = source.num_faces, int(kp_driving["value"].shape[0])
        per_face = []
        for f in range(n_faces):
            kp_src = _take(source.kp, slice(f, f + 1))
            if relative:
                per_face.append(normalize_kp(kp_src, kp_driving, kp_initial,
                                             adapt_movement_scale=float(scales[f]),
                                             use_relative_movement=True,
                                             use_relative_jacobian=True))
            else:
                per_face.append(kp_driving)
        kp_norm = {k: paddle.concat([p[k] for p in per_face], axis=0) for k in kp_driving}
        pred = self.engine.generate(paddle.repeat_interleave(source.image, b, axis=0),
                                    paddle.repeat_interleave(source.features, b, axis=0),
                                    kp_norm, _repeat(source.kp, b))
        frames = tensor_to_frames(pred)
        return frames.reshape(n_faces, b, *frames.shape[1:])

    def movement_scales(self, source: SourceState, kp_initial: KP, adapt_scale: bool) -> List[float]:
        """Per-face adapt-scale factors (sqrt of keypoint hull area ratio) or 1.0."""
        if not adapt_scale:
            return [1.0] * source.num_faces
        return [movement_scale(_take(source.kp, slice(f, f + 1)), kp_initial)
                for f in range(source.num_faces)]

    # ----------------------------------------------------------------- stream
    def animate(self, source: SourceState, driving: Iterable[np.ndarray], relative: bool = True,
                adapt_scale: bool = True, kp_initial: Optional[KP] = None) -> Iterator[np.ndarray]:
        """Yield, for each driving frame (S, S, 3) uint8, the (F, S, S, 3) animated faces.

        ``kp_initial`` is the reference driving frame's keypoints; by default the first
        driving frame (FOMM's convention). Memory does not grow with the stream length.
        """
        scales: Optional[List[float]] = None
        for batch in batches(driving, self.batch_size):
            kp_d = self.keypoints(batch)
            if kp_initial is None:
                kp_initial = _take(kp_d, slice(0, 1))
            if scales is None:
                scales = self.movement_scales(source, kp_initial, adapt_scale)
            faces = self.animate_batch(source, kp_d, kp_initial, relative, scales)
            for i in range(faces.shape[1]):
                yield faces[:, i]


def batches(frames: Iterable[np.ndarray], size: int) -> Iterator[List[np.ndarray]]:
    """Group a stream into lists of ``size`` items (the last may be shorter)."""
    batch: List[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
