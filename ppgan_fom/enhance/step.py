"""PaddleGAN's face-enhancement step around the GPEN network (numpy and OpenCV only).

``FaceEnhancement.enhance_from_batch`` in ppgan 2.1.0, which ``--face_enhancement``
runs on every batch of animated faces, does, for faces (N, S, S, 3) RGB in 0..255:

1. resize each face to 512 x 512 with ``cv2.INTER_AREA`` (:func:`resize_faces`);
2. ``x = (img / 255 - 0.5) / 0.5``, NCHW (:func:`to_network_input`), through GPEN;
3. ``out = uint8(clip(y * 0.5 + 0.5, 0, 1) * 255)``, truncating (:func:`from_network_output`);
4. ``out * mask + (1 - mask) * img`` with the blurred-rectangle :func:`blend_mask`
   (:func:`blend`): the border of the enhanced face fades into the resized input.

The result is 512 x 512, float32; :func:`to_crop_size` brings it back to the crop size
for the compositor. The network itself is run by :class:`ppgan_fom.enhance.FaceEnhancer`.
"""

from __future__ import annotations

import functools
from typing import Callable

import cv2
import numpy as np

__all__ = ["ENHANCE_SIZE", "blend_mask", "resize_faces", "to_network_input",
           "from_network_output", "blend", "enhance_faces", "to_crop_size"]

#: GPEN-512's working resolution (PaddleGAN hard-codes it).
ENHANCE_SIZE = 512
# PaddleGAN's mask at 512 px: rectangle (26, 26)-(486, 486), two Gaussian blurs 101 px, sigma 11
_RECT_MARGIN, _BLUR_KSIZE, _BLUR_SIGMA = 26, 101, 11.0


def _check_faces(faces: np.ndarray) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[3] != 3 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be an (N, S, S, 3) RGB batch, got shape {faces.shape}")
    if faces.dtype != np.uint8 and not np.issubdtype(faces.dtype, np.floating):
        raise ValueError(f"faces must be uint8 or float in 0..255, got {faces.dtype}")
    return faces


@functools.lru_cache(maxsize=4)
def _mask(size: int) -> np.ndarray:
    scale = size / ENHANCE_SIZE
    margin = int(round(_RECT_MARGIN * scale))
    ksize = max(1, int(round(_BLUR_KSIZE * scale)) // 2 * 2 + 1)  # odd
    sigma = _BLUR_SIGMA * scale
    mask = np.zeros((size, size), np.float32)
    cv2.rectangle(mask, (margin, margin), (size - margin, size - margin), (1, 1, 1), -1,
                  cv2.LINE_AA)
    for _ in range(2):
        mask = cv2.GaussianBlur(mask, (ksize, ksize), sigma)
    mask.setflags(write=False)
    return mask


def blend_mask(size: int = ENHANCE_SIZE) -> np.ndarray:
    """The (size, size) float32 blend weight of the enhanced face, in [0, 1].

    At 512 it is PaddleGAN's: a filled rectangle (26, 26)-(486, 486) drawn with
    ``cv2.LINE_AA``, blurred twice with ``cv2.GaussianBlur(mask, (101, 101), 11)``.
    Other sizes scale the rectangle margin, kernel size and sigma proportionally
    (used by small test models). Read-only, cached.
    """
    return _mask(int(size))


def resize_faces(faces: np.ndarray, size: int = ENHANCE_SIZE) -> np.ndarray:
    """(N, S, S, 3) uint8 or float 0..255 -> (N, size, size, 3) float32 0..255, each face
    resized with ``cv2.INTER_AREA`` as float32 (PaddleGAN feeds its float predictions)."""
    faces = _check_faces(faces)
    out = np.empty((len(faces), size, size, 3), np.float32)
    for i, face in enumerate(faces):
        face = face.astype(np.float32)
        out[i] = face if face.shape[0] == size else cv2.resize(face, (size, size),
                                                                interpolation=cv2.INTER_AREA)
    return out


def to_network_input(img: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) float32 0..255 -> (N, 3, H, W) float32 in [-1, 1]: ``(img/255 - 0.5)/0.5``."""
    x = (img.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def from_network_output(y: np.ndarray) -> np.ndarray:
    """GPEN output (N, 3, H, W), about [-1, 1] -> (N, H, W, 3) uint8, truncated like PaddleGAN
    (``uint8(clip(y * 0.5 + 0.5, 0, 1) * 255)``, not rounded)."""
    img = np.clip(y.transpose(0, 2, 3, 1) * np.float32(0.5) + np.float32(0.5), 0.0, 1.0)
    return (img * np.float32(255.0)).astype(np.uint8)


def blend(enhanced: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``enhanced * mask + (1 - mask) * original`` per pixel, float32 (N, H, W, 3) 0..255.

    enhanced: (N, H, W, 3) uint8; original: (N, H, W, 3) float32; mask (H, W) float32.
    """
    m = mask[None, :, :, None]
    return enhanced * m + (np.float32(1.0) - m) * original


def enhance_faces(faces: np.ndarray, network: Callable[[np.ndarray], np.ndarray],
                  size: int = ENHANCE_SIZE) -> np.ndarray:
    """PaddleGAN's ``enhance_from_batch`` on a batch of faces (steps 1-4 above).

    Args:
        faces: (N, S, S, 3) RGB, uint8 or float in 0..255 (any N, including a last
            batch smaller than the others; ppgan fails there, see the docs).
        network: maps (n, 3, size, size) float32 in [-1, 1] to GPEN's output image
            of the same shape (it may be called on sub-batches).
        size: the network's resolution (512 for GPEN-512).

    Returns:
        (N, size, size, 3) float32 in 0..255: the enhanced faces at ``size``.
    """
    img = resize_faces(faces, size)
    y = network(to_network_input(img))
    return blend(from_network_output(y), img, blend_mask(size))


def to_crop_size(faces: np.ndarray, size: int) -> np.ndarray:
    """(N, H, H, 3) float 0..255 -> (N, size, size, 3) uint8 for the compositor: resized
    with ``cv2.INTER_AREA`` when shrinking (``INTER_CUBIC`` when enlarging), rounded and
    clipped. (PaddleGAN instead truncates to uint8 and resizes bilinearly to the box.)"""
    out = np.empty((len(faces), size, size, 3), np.uint8)
    for i, face in enumerate(faces):
        if face.shape[0] != size:
            interp = cv2.INTER_AREA if size < face.shape[0] else cv2.INTER_CUBIC
            face = cv2.resize(face, (size, size), interpolation=interp)
        out[i] = np.clip(np.rint(face), 0, 255).astype(np.uint8)
    return out
