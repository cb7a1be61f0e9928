"""S3FD backend: PaddleGAN's face detector (needs its 90 MB weights).

Weights: a local ``.pdparams`` path, or a name resolved by the checkpoint loader the
caller hands over (``load_checkpoint=``). ``ppgan_fom`` hands its weights registry
(:func:`ppgan_fom.weights.load_weights`: name ``'s3fd'`` = PaddleGAN's
``s3fd_paddle.pdparams``, cached, reused from PaddleGAN's cache or downloaded), so
``ppgan_fom.create_detector('s3fd')`` and the pipelines fetch it; detection itself does
no IO beyond reading the file it is given.

PaddleGAN runs S3FD on the full-resolution photo; here images whose longer side
exceeds ``max_side`` (default 640) are downscaled first (area averaging) and the
boxes are mapped back. The VGG16 trunk costs tens of seconds per megapixel on
a 2-core CPU (14 s at 640x480, over a minute at 1280x960 on a busy machine);
at 640 S3FD still finds faces of ~16 px, smaller than anything worth animating.
``max_side=0`` reproduces PaddleGAN exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Union

import numpy as np

from ppgan_fom.checkpoint import load_checkpoint, validate_state_dict
from ppgan_fom.errors import WeightsError

from . import s3fd_post
from ppgan_fom.runtime import ensure_cpu_threads
from .base import FaceDetector, downscale

logger = logging.getLogger(__name__)

__all__ = ["S3FDDetector", "load_s3fd_net", "preprocess", "MAX_SIDE"]

MAX_SIDE = 640
_BATCH_PIXELS = 2_000_000  # images per forward pass are limited to about this many pixels


def preprocess(images: List[np.ndarray]) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB images of one size -> ``(B, 3, H, W)`` float32 BGR minus means."""
    from .s3fd_net import BGR_MEAN

    batch = np.stack(images)[..., ::-1].astype(np.float32) - np.asarray(BGR_MEAN, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


#: Reads a checkpoint given a registry name or a path: ``f(name_or_path) -> state dict``.
CheckpointLoader = Callable[[str], Mapping[str, np.ndarray]]


def _local_only(name_or_path: str) -> Mapping[str, np.ndarray]:
    """The default loader: local files only (no registry, no download here)."""
    if not Path(name_or_path).exists():
        raise WeightsError(f"{name_or_path}: S3FD weights are not a local file; pass the "
                           f"path of s3fd_paddle.pdparams, or create the detector with "
                           f"ppgan_fom.create_detector('s3fd'), which fetches them")
    return load_checkpoint(name_or_path)


def load_s3fd_net(weights: Union[str, Path] = "s3fd",
                  load_checkpoint: Optional[CheckpointLoader] = None):
    """Build :class:`~faceutils.s3fd_net.S3FDNet` with weights, in eval mode.

    Args:
        weights: a local ``.pdparams`` path, or a name the loader resolves (``'s3fd'``).
        load_checkpoint: ``f(name_or_path) -> state dict``; default: local files only.

    Raises:
        WeightsError: weights not obtainable, unreadable file, or names/shapes that do
            not match the network.
    """
    import paddle

    from .s3fd_net import S3FDNet, param_shapes

    path = str(weights)
    state = (load_checkpoint or _local_only)(path)
    validate_state_dict(param_shapes(), state, "s3fd", path)
    net = S3FDNet()
    net.set_state_dict({k: paddle.to_tensor(np.asarray(v, dtype=np.float32))
                        for k, v in state.items()})
    net.eval()
    logger.info("S3FD weights loaded from %s", path)
    return net


class S3FDDetector(FaceDetector):
    """PaddleGAN's S3FD (VGG16) face detector.

    Args:
        weights: local path, or a name for ``load_checkpoint`` (default ``'s3fd'``).
        max_side: longer image side the network sees (default 640; 0 = never resize,
            as PaddleGAN).
        score_threshold: final score filter (strictly greater), default 0.5.
        nms_iou: greedy NMS overlap threshold, default 0.3.
        load_checkpoint: ``f(name_or_path) -> state dict`` (see :func:`load_s3fd_net`).
    """

    name = "s3fd"

    def __init__(self, weights: Union[str, Path] = "s3fd", max_side: int = MAX_SIDE,
                 score_threshold: float = s3fd_post.SCORE_THRESHOLD,
                 nms_iou: float = s3fd_post.NMS_IOU,
                 load_checkpoint: Optional[CheckpointLoader] = None) -> None:
        ensure_cpu_threads()
        self._setup(load_s3fd_net(weights, load_checkpoint), max_side, score_threshold,
                    nms_iou)

    def _setup(self, net, max_side: int, score_threshold: float, nms_iou: float) -> None:
        self.net = net
        self.max_side = int(max_side)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)

    @classmethod
    def from_net(cls, net, max_side: int = MAX_SIDE,
                 score_threshold: float = s3fd_post.SCORE_THRESHOLD,
                 nms_iou: float = s3fd_post.NMS_IOU) -> "S3FDDetector":
        """A detector around an already loaded :class:`~faceutils.s3fd_net.S3FDNet`."""
        ensure_cpu_threads()
        det = cls.__new__(cls)
        det._setup(net, max_side, score_threshold, nms_iou)
        return det

    def raw_outputs(self, batch_nchw: np.ndarray) -> List[np.ndarray]:
        """The 12 network outputs for a preprocessed ``(B, 3, H, W)`` batch, as numpy."""
        import paddle

        with paddle.no_grad():
            return [o.numpy() for o in self.net(paddle.to_tensor(batch_nchw))]

    def _detect_many(self, images: List[np.ndarray]) -> List[np.ndarray]:
        small = [downscale(im, self.max_side) for im in images]
        results: List[Optional[np.ndarray]] = [None] * len(images)
        i = 0
        while i < len(small):  # consecutive same-size images share a forward pass
            shape = small[i][0].shape
            per_batch = max(1, _BATCH_PIXELS // (shape[0] * shape[1]))
            j = i
            while j < len(small) and j - i < per_batch and small[j][0].shape == shape:
                j += 1
            outputs = self.raw_outputs(preprocess([s[0] for s in small[i:j]]))
            for b in range(j - i):
                dets = s3fd_post.postprocess(outputs, b, nms_iou=self.nms_iou,
                                             score_threshold=self.score_threshold)
                dets = dets.astype(np.float64)
                dets[:, :4] /= small[i + b][1]
                results[i + b] = dets
            i = j
        return results  # type: ignore[return-value]
