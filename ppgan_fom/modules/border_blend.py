"""PaddleGAN's inference-time border blend of the deformation grid.

At inference PaddleGAN's generator fades the predicted flow to the identity over a
band at the image border: ``g * deformation + (1 - g) * identity`` where ``g`` is a
(h, w) map of ones inside a 5-pixel border, blurred with OpenCV's
``GaussianBlur(ksize=9, sigma=0)``. For ksize 9 and sigma 0 OpenCV uses a fixed
9-tap table (not a sigma-derived Gaussian); it is reproduced here in numpy so the
result does not depend on the installed OpenCV.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BORDER = 5
KERNEL_9 = np.array([1, 3.25, 7.5, 12.75, 15, 12.75, 7.5, 3.25, 1], np.float64) / 64.0


@lru_cache(maxsize=32)
def border_blend_map(h: int, w: int, pad: int = BORDER) -> np.ndarray:
    """(h, w) float32 weights in [0, 1]: 0 at the border, 1 well inside."""
    vis = np.zeros((h, w), np.float64)
    vis[pad:h - pad, pad:w - pad] = 1.0
    r = len(KERNEL_9) // 2
    padded = np.pad(vis, r)  # zero border (OpenCV BORDER_ISOLATED on a constant image)
    rows = sum(KERNEL_9[i] * padded[:, i:i + w] for i in range(len(KERNEL_9)))
    out = sum(KERNEL_9[i] * rows[i:i + h, :] for i in range(len(KERNEL_9)))
    out = out.astype(np.float32)
    out.setflags(write=False)
    return out
