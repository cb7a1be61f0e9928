"""The detector interface shared by every backend, and input checks.

A detector maps an RGB ``uint8`` image to an ``(N, 5)`` float32 array of
``[x1, y1, x2, y2, score]`` rows in source-image pixels, sorted by descending
score (``N`` may be 0). Boxes are not clipped to the image.
"""

from __future__ import annotations

import abc
import logging
from typing import List, Sequence, Tuple

import numpy as np

from ppgan_fom.errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["FaceDetector", "as_rgb_uint8", "downscale", "finish", "EMPTY"]

EMPTY = np.zeros((0, 5), np.float32)


def as_rgb_uint8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Validate a detector input and return it as contiguous ``(H, W, 3)`` uint8.

    Greyscale ``(H, W)`` / ``(H, W, 1)`` is replicated to three channels and an
    alpha channel is dropped.

    Raises:
        InputError: not an array, wrong dtype, wrong shape or empty.
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"{what}: expected uint8 RGB pixels, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise InputError(f"{what}: expected an (H, W, 3) RGB array, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{what}: empty image of shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def downscale(image: np.ndarray, max_side: int) -> Tuple[np.ndarray, float]:
    """Shrink ``image`` so its longer side is at most ``max_side`` (area averaging).

    Returns:
        ``(image, factor)`` where ``factor <= 1`` maps source to returned pixels
        (1.0 and the same array when no resize was needed).
    """
    h, w = image.shape[:2]
    longest = max(h, w)
    if max_side <= 0 or longest <= max_side:
        return image, 1.0
    factor = max_side / longest
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    import cv2  # here, not at the top: `import faceutils` works without OpenCV

    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, min(size[0] / w, size[1] / h)


def finish(rows: np.ndarray) -> np.ndarray:
    """Return ``rows`` as contiguous ``(N, 5)`` float32 sorted by descending score."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
    order = np.argsort(-rows[:, 4], kind="stable")
    return np.ascontiguousarray(rows[order])


class FaceDetector(abc.ABC):
    """Base class of all face detectors.

    Subclasses implement :meth:`_detect_many` on validated images.

    Attributes:
        name: registry name of the backend.
        max_side: longest image side the network sees; larger images are
            downscaled for detection and the boxes are mapped back.
    """

    name: str = "?"
    max_side: int = 0

    def detect(self, image_rgb_uint8: np.ndarray) -> np.ndarray:
        """Find the faces in one image.

        Args:
            image_rgb_uint8: ``(H, W, 3)`` uint8 RGB (greyscale and RGBA accepted).

        Returns:
            ``(N, 5)`` float32 ``[x1, y1, x2, y2, score]`` in source pixels,
            score in (0, 1], sorted by descending score; ``(0, 5)`` if no face.
        """
        return self.detect_batch([image_rgb_uint8])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Find the faces in several images (e.g. video frames); one array per image.

        Images may differ in size; same-sized images are batched through the network.
        """
        checked = [as_rgb_uint8(im, f"image {i}") for i, im in enumerate(images)]
        if not checked:
            return []
        return [finish(rows) for rows in self._detect_many(checked)]

    @abc.abstractmethod
    def _detect_many(self, images: List[np.ndarray]) -> List[np.ndarray]:
        """Detect on validated ``(H, W, 3)`` uint8 images; rows in any order."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, max_side={self.max_side})"
