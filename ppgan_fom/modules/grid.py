"""Coordinate grids and keypoint Gaussians shared by the FOMM networks."""

from __future__ import annotations

from typing import Tuple

import paddle


def make_coordinate_grid(spatial_size: Tuple[int, int], dtype: str = "float32") -> paddle.Tensor:
    """Meshgrid over [-1, 1]^2.

    Returns:
        (H, W, 2) tensor; ``[..., 0]`` is x = 2*j/(W-1) - 1, ``[..., 1]`` is y = 2*i/(H-1) - 1.
    """
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = 2.0 * (paddle.arange(w, dtype=dtype) / (w - 1)) - 1.0
    y = 2.0 * (paddle.arange(h, dtype=dtype) / (h - 1)) - 1.0
    xx = x.reshape([1, w]).expand([h, w])
    yy = y.reshape([h, 1]).expand([h, w])
    return paddle.stack([xx, yy], axis=2)


def kp2gaussian(kp_value: paddle.Tensor, spatial_size: Tuple[int, int],
                kp_variance: float) -> paddle.Tensor:
    """Gaussian blobs at keypoints.

    Args:
        kp_value: (B, K, 2) keypoints in [-1, 1] (x, y).
        spatial_size: (H, W) of the output.
        kp_variance: variance of each blob in normalised coordinates.

    Returns:
        (B, K, H, W) values ``exp(-0.5 * |grid - kp|^2 / kp_variance)`` in (0, 1].
    """
    grid = make_coordinate_grid(spatial_size, kp_value.dtype)  # H W 2
    b, k = kp_value.shape[0], kp_value.shape[1]
    diff = grid.reshape([1, 1, *grid.shape]) - kp_value.reshape([b, k, 1, 1, 2])
    return paddle.exp(-0.5 * (diff ** 2).sum(-1) / kp_variance)
