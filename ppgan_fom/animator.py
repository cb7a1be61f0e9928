"""The animation engine: FOMM inference on batches of driving frames for several faces.

Per source face the keypoints, the encoder features and the adapt-scale factor are
computed once; each generator call then processes ``batch_size`` driving frames of one
face (as PaddleGAN's multi-person mode does), so the network's batch, and with it its
memory, does not grow with the number of faces. Results do not depend on ``batch_size``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import paddle

from .engine import EagerEngine, Engine
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


def _repeat_rows(t: paddle.Tensor, n: int) -> paddle.Tensor:
    """(1, ...) -> (n, ...) by repetition (a no-op for n == 1)."""
    return t if n == 1 else paddle.repeat_interleave(t, n, axis=0)


def _repeat(kp: KP, n: int) -> KP:
    """Repeat each batch element ``n`` times consecutively: (F, ...) -> (F*n, ...)."""
    return {k: _repeat_rows(v, n) if v.shape[0] == 1 else paddle.repeat_interleave(v, n, axis=0)
            for k, v in kp.items()}


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
    """Runs a loaded FOMM (generator + keypoint detector, eval mode) through an engine.

    Args:
        generator, kp_detector: the eager networks (see :func:`ppgan_fom.model.load_fomm`)
            for the default eager engine; None when ``engine`` is given.
        image_size: crop size S the networks run at.
        batch_size: driving frames per generator call.
        engine: how the networks execute (:mod:`ppgan_fom.engine`); default eager.
        networks: builds the eager networks on demand (for :attr:`generator` /
            :attr:`kp_detector` with a static engine, which holds no eager layer).
    """

    def __init__(self, generator: Optional[OcclusionAwareGenerator] = None,
                 kp_detector: Optional[KPDetector] = None, image_size: Optional[int] = None,
                 batch_size: int = 1, engine: Optional[Engine] = None,
                 networks: Optional[Callable[[], Tuple[OcclusionAwareGenerator,
                                                       KPDetector]]] = None):
        if engine is None:
            if generator is None or kp_detector is None:
                raise ValueError("Animator needs an engine or the generator and keypoint "
                                 "detector")
            engine = EagerEngine(generator, kp_detector)
        if image_size is None:
            raise ValueError("Animator needs the image_size")
        self.image_size = int(image_size)
        self.batch_size = max(1, int(batch_size))
        self.engine = engine
        self._load_networks = networks
        self._networks: Optional[Tuple[OcclusionAwareGenerator, KPDetector]] = None

    # ----------------------------------------------------------------- eager networks
    def networks(self) -> Tuple[OcclusionAwareGenerator, KPDetector]:
        """The eager ``(generator, kp_detector)``: the eager engine's own; with a static
        engine built on first use (then kept: ~0.25 GB for vox-256)."""
        if isinstance(self.engine, EagerEngine):
            return self.engine.generator, self.engine.kp_detector
        if self._networks is None:
            if self._load_networks is None:
                raise RuntimeError("this animator runs a static engine and was given no "
                                   "way to build the eager networks")
            self._networks = self._load_networks()
        return self._networks

    @property
    def generator(self) -> OcclusionAwareGenerator:
        """The eager generator (see :meth:`networks`)."""
        return self.networks()[0]

    @property
    def kp_detector(self) -> KPDetector:
        """The eager keypoint detector (see :meth:`networks`)."""
        return self.networks()[1]

    # ----------------------------------------------------------------- pieces
    @paddle.no_grad()
    def prepare_sources(self, crops: Sequence[np.ndarray]) -> SourceState:
        """Source face crops (each (S, S, 3) uint8 RGB) -> their cached state (computed
        ``batch_size`` faces per network call)."""
        image = frames_to_tensor(crops)
        kps, feats = [], []
        for i in range(0, len(crops), self.batch_size):
            part = image[i:i + self.batch_size]
            kps.append(self.engine.keypoints(part))
            feats.append(self.engine.encode(part))
        kp = {k: paddle.concat([p[k] for p in kps], axis=0) for k in kps[0]}
        return SourceState(image=image, kp=kp, features=paddle.concat(feats, axis=0))

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
        out = []
        # one generator call per face (B rows, B <= batch_size): on the CPU a call of F x B
        # rows is slower per row than F calls of B (measured 2x for 5 faces), and its
        # activations would grow with the face count
        for f in range(n_faces):
            kp_src = _take(source.kp, slice(f, f + 1))
            if relative:
                kp_norm = normalize_kp(kp_src, kp_driving, kp_initial,
                                       adapt_movement_scale=float(scales[f]),
                                       use_relative_movement=True, use_relative_jacobian=True)
            else:
                kp_norm = kp_driving
            pred = self.engine.generate(_repeat_rows(source.image[f:f + 1], b),
                                        _repeat_rows(source.features[f:f + 1], b),
                                        kp_norm, _repeat(kp_src, b))
            out.append(tensor_to_frames(pred))
        return np.stack(out)

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
