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


def per_keypoint_map(values: paddle.Tensor, h: int, w: int) -> paddle.Tensor:
    """(B, K) per-keypoint scalars -> (B, K, h, w) constant maps.

    Written as an explicit expand: oneDNN runs a binary op whose FIRST operand is the
    broadcast one ((1, 1, h, w) - (B, K, 1, 1)) with its slow reference kernel, and an
    op between two (B, K, h, w) maps with its vectorised one; the values are the same.
    """
    k = int(values.shape[1])
    return values.reshape([-1, k, 1, 1]).expand([-1, k, h, w])


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
    h, w = int(spatial_size[0]), int(spatial_size[1])
    grid = make_coordinate_grid((h, w), kp_value.dtype)
    # per component on (B, K, h, w): no broadcasting over a trailing size-2 axis
    dx = grid[:, :, 0].reshape([1, 1, h, w]) - per_keypoint_map(kp_value[:, :, 0], h, w)
    dy = grid[:, :, 1].reshape([1, 1, h, w]) - per_keypoint_map(kp_value[:, :, 1], h, w)
    return paddle.exp(-0.5 * (dx * dx + dy * dy) / kp_variance)

def resize_bilinear(x: paddle.Tensor, size) -> paddle.Tensor:
    """Bilinear resize with ``align_corners=False`` (half-pixel centres, edge clamp),
    (B, C, H, W) -> (B, C, h, w); equal to ``F.interpolate(x, size, mode='bilinear',
    align_corners=False)`` (no antialiasing).

    Built on ``grid_sample`` with border padding so exported graphs run under Paddle
    Inference's oneDNN executor, which cannot run the interpolate op.
    """
    import paddle.nn.functional as F

    h, w = int(size[0]), int(size[1])
    # output pixel centre i maps to input coordinate (i + 0.5) * in/out - 0.5, which in
    # grid_sample's align_corners=False normalisation is (2 * (i + 0.5) / out) - 1.
    ys = (2.0 * (paddle.arange(h, dtype=x.dtype) + 0.5) / h) - 1.0
    xs = (2.0 * (paddle.arange(w, dtype=x.dtype) + 0.5) / w) - 1.0
    grid = paddle.stack([xs.reshape([1, w]).expand([h, w]), ys.reshape([h, 1]).expand([h, w])],
                        axis=2).unsqueeze(0)
    grid = paddle.zeros_like(x[:, :1, :1, :1]).reshape([-1, 1, 1, 1]) + grid
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
