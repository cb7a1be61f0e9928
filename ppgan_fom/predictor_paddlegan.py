"""PaddleGAN's ``FirstOrderPredictor`` methods and attributes on this project's pipeline.

Code written against ``ppgan.apps.FirstOrderPredictor`` (ppgan 2.1) calls more than
``run``: ``read_img``, ``extract_bbox``, ``make_animation``, ``find_best_frame_func``,
``load_checkpoints``, ``IOU``, and reads ``cfg``, ``generator``, ``kp_detector``,
``faceenhancer``. They keep PaddleGAN's signatures and value conventions here (faces as
float images in [0, 1], predictions as float 0..255) and run on this project's models;
the differences are listed in docs/paddlegan.md.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Tuple

import numpy as np

from .geometry import face_crop_boxes
from .media import read_image
from .pipeline import enhance_frames
from .pipeline.reference import layout_distances

__all__ = ["PaddleGANMethods"]


def _to_255(image: Any) -> np.ndarray:
    """PaddleGAN's float face in [0, 1] -> float32 0..255 (the animator's input scale)."""
    return np.asarray(image, np.float32) * np.float32(255.0)


class PaddleGANMethods:
    """Mixed into :class:`~ppgan_fom.predictor.FirstOrderPredictor` (which provides
    ``options``, ``config``, ``animator``, ``enhancer`` and ``detector``)."""

    # ------------------------------------------------------------ attributes
    def __getattr__(self, name: str):
        # PaddleGAN's predictor keeps its arguments as attributes (``p.ratio``)
        from .options import AnimateOptions

        own = any(name in k.__dict__ for k in type(self).__mro__)  # a property that failed
        if not own and name != "options" and name in AnimateOptions.__dataclass_fields__:
            return getattr(self.options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def cfg(self) -> dict:
        """The model config as PaddleGAN's ``{'model': ...}`` dict."""
        return self.config.to_paddlegan_dict()

    @property
    def generator(self):
        """The eager occlusion-aware generator (Paddle layer, eval mode)."""
        return self.animator.generator

    @property
    def kp_detector(self):
        """The eager keypoint detector (Paddle layer, eval mode)."""
        return self.animator.kp_detector

    @property
    def faceenhancer(self):
        """PaddleGAN's name for :attr:`enhancer` (None without ``face_enhancement``)."""
        return self.enhancer

    # ------------------------------------------------------------ methods
    def read_img(self, path: os.PathLike | str) -> np.ndarray:
        """The image at ``path`` as ``(H, W, 3)`` uint8 RGB (grey expanded, alpha
        dropped, EXIF orientation applied)."""
        return read_image(path)

    def load_checkpoints(self, config: Any, checkpoint_path: os.PathLike | str
                         ) -> Tuple[Any, Any]:
        """``(generator, kp_detector)`` built from ``config`` (dict, YAML path, preset or
        ModelConfig) and loaded strictly from ``checkpoint_path`` (a file or a registry
        name), in eval mode. ``image_size`` and ``mobile_net`` come from the options."""
        from .config import load_config
        from .model import load_fomm
        from .weights import resolve_weights

        cfg = load_config(config, image_size=self.options.image_size,
                          mobile_net=self.options.mobile_net)
        return load_fomm(cfg, resolve_weights(str(checkpoint_path)), inference=True)

    def extract_bbox(self, image: np.ndarray) -> np.ndarray:
        """Every face's crop box with its area: ``(N, 5)`` int64 rows
        ``[x1, y1, x2, y2, area]``, de-duplicated, detection order; ``(0, 5)`` if none.

        The boxes are this project's undistorted square crops (``face_margin``), not
        PaddleGAN's 1.6 x 2 rectangles.
        """
        dets = self.detector.detect(np.asarray(image))
        boxes = face_crop_boxes(dets, np.shape(image), margin=self.options.face_margin)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return np.concatenate([boxes, area[:, None]], axis=1).astype(np.int64)

    @staticmethod
    def IOU(ax1: float, ay1: float, ax2: float, ay2: float, sa: float,  # noqa: N802
            bx1: float, by1: float, bx2: float, by2: float, sb: float) -> float:
        """PaddleGAN's overlap of two boxes given with their areas ``sa``, ``sb``:
        intersection / (sa + sb - intersection); 0.0 when they do not overlap."""
        w, h = min(ax2, bx2) - max(ax1, bx1), min(ay2, by2) - max(ay1, by1)
        if w < 0 or h < 0:
            return 0.0
        return float(w * h) / float(sa + sb - w * h)

    def _check_own(self, generator: Optional[Any], kp_detector: Optional[Any]) -> None:
        if generator is not None and generator is not self.generator or \
                kp_detector is not None and kp_detector is not self.kp_detector:
            raise ValueError("make_animation runs this predictor's own networks: pass "
                             "predictor.generator / predictor.kp_detector (or nothing)")

    def make_animation(self, source_image: np.ndarray, driving_video: Iterable[np.ndarray],
                       generator: Optional[Any] = None, kp_detector: Optional[Any] = None,
                       relative: bool = True, adapt_movement_scale: bool = True
                       ) -> np.ndarray:
        """PaddleGAN's animation of one face crop.

        Args:
            source_image: ``(S, S, 3)`` float in [0, 1] (S = the model's size).
            driving_video: ``(S, S, 3)`` float frames in [0, 1].
            generator, kp_detector: PaddleGAN passes its networks; only this
                predictor's own (or None) are accepted.
            relative, adapt_movement_scale: the motion transfer (reference: frame 0).

        Returns:
            ``(N, S, S, 3)`` float32 in 0..255 (whole grey levels), one face per driving
            frame, enhanced with ``face_enhancement`` as in PaddleGAN.
        """
        self._check_own(generator, kp_detector)
        state = self.animator.prepare_sources([_to_255(source_image)])
        faces = self.animator.animate(state, (_to_255(f) for f in driving_video),
                                      relative=relative, adapt_scale=adapt_movement_scale)
        out = [f for _, f in enhance_frames(((None, f) for f in faces), self.enhancer,
                                            self.options.batch_size)]
        size = self.config.image_size
        return np.concatenate(out).astype(np.float32) if out else \
            np.zeros((0, size, size, 3), np.float32)

    def find_best_frame_func(self, source: np.ndarray, driving: Iterable[np.ndarray]) -> int:
        """Index of the driving frame (``(S, S, 3)`` float in [0, 1]) whose keypoint
        layout is closest to the source face's (``(S, S, 3)`` float in [0, 1]): the
        FOMM's own keypoints, where PaddleGAN uses the ``face_alignment`` landmarks."""
        src = self.animator.keypoints([_to_255(source)])["value"].numpy()
        dists = [layout_distances(src, kp["value"].numpy())
                 for kp in self.animator.keypoints_of(_to_255(f) for f in driving)]
        if not dists:
            raise ValueError("find_best_frame_func: no driving frame")
        return int(np.argmin(np.concatenate(dists)))
