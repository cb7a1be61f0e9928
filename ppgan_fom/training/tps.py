"""Random thin-plate-spline warps for FOMM's equivariance losses (paper Sec. 3.3).

A warp maps normalised coordinates p in [-1, 1]^2 (x, y) to

    T(p) = A p + t + sum_k w_k * U(|p - c_k|_1) * (1, 1),   U(r) = r^2 log(r + 1e-6)

with A, t = identity + N(0, sigma_affine) noise, control points c_k on a regular
points x points grid and weights w_k ~ N(0, sigma_tps) (FOMM's parametrisation: the TPS
term is one scalar added to both coordinates, distances are L1). The parameters are drawn
from a numpy generator, so a step's warp is reproducible. The Jacobian dT/dp is computed
in closed form (differentiable, no double back-propagation needed).
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ..modules.grid import make_coordinate_grid
from .train_config import TransformConfig

__all__ = ["RandomTPS"]

_EPS = 1e-6


class RandomTPS:
    """One random warp per batch element.

    Args:
        batch: number of warps B.
        cfg: noise levels and control grid size.
        rng: source of randomness: one generator for the whole batch, or a sequence of
            B generators, one per warp (warp i then depends on ``rng[i]`` only, e.g. so
            that a sample gets the same warp however the batch is split over processes).
    """

    def __init__(self, batch: int, cfg: TransformConfig,
                 rng: Union[np.random.Generator, Sequence[np.random.Generator]]):
        self.batch = int(batch)
        self.tps = cfg.points_tps > 0 and cfg.sigma_tps > 0
        n = int(cfg.points_tps)
        if isinstance(rng, np.random.Generator):
            noise = rng.normal(0.0, cfg.sigma_affine, size=(batch, 2, 3))
            params = rng.normal(0.0, cfg.sigma_tps, size=(batch, 1, n * n)) if self.tps else None
        else:
            rngs = list(rng)
            if len(rngs) != self.batch:
                raise ValueError(f"{len(rngs)} generators for a batch of {self.batch} warps")
            noise = np.stack([r.normal(0.0, cfg.sigma_affine, size=(2, 3)) for r in rngs])
            params = np.stack([r.normal(0.0, cfg.sigma_tps, size=(1, n * n)) for r in rngs]) \
                if self.tps else None
        theta = np.eye(2, 3, dtype=np.float32)[None] + noise.astype(np.float32)
        self.theta = paddle.to_tensor(theta)  # (B, 2, 3)
        if self.tps:
            self.control_points = make_coordinate_grid((n, n)).reshape([1, 1, n * n, 2])
            self.control_params = paddle.to_tensor(params.astype(np.float32))  # (B, 1, P)

    def _expand(self, coords: paddle.Tensor) -> paddle.Tensor:
        if coords.shape[0] == 1 and self.batch != 1:
            coords = coords.expand([self.batch, *coords.shape[1:]])
        return coords

    def _tps_terms(self, coords: paddle.Tensor):
        """(differences (B, N, P, 2), L1 distances (B, N, P))."""
        diff = coords.unsqueeze(2) - self.control_points
        return diff, diff.abs().sum(-1)

    def warp_coordinates(self, coords: paddle.Tensor) -> paddle.Tensor:
        """(B or 1, N, 2) points in [-1, 1] -> (B, N, 2) warped points."""
        coords = self._expand(coords)
        a, t = self.theta[:, :, :2], self.theta[:, :, 2]
        out = paddle.matmul(coords, a, transpose_y=True) + t.unsqueeze(1)
        if self.tps:
            _, r = self._tps_terms(coords)
            u = r * r * paddle.log(r + _EPS)
            out = out + (u * self.control_params).sum(-1, keepdim=True)
        return out

    def jacobian(self, coords: paddle.Tensor) -> paddle.Tensor:
        """dT/dp at (B or 1, N, 2) points: (B, N, 2, 2) with ``J[..., i, j] = dT_i/dp_j``."""
        coords = self._expand(coords)
        b, n = coords.shape[0], coords.shape[1]
        jac = self.theta[:, :, :2].unsqueeze(1).expand([b, n, 2, 2])
        if self.tps:
            diff, r = self._tps_terms(coords)
            du = 2.0 * r * paddle.log(r + _EPS) + r * r / (r + _EPS)  # U'(r)
            row = ((du * self.control_params).unsqueeze(-1) * paddle.sign(diff)).sum(2)  # B N 2
            jac = jac + row.unsqueeze(2)  # the same row for both output coordinates
        return jac

    def transform_frame(self, frame: paddle.Tensor) -> paddle.Tensor:
        """Warp images (B, C, H, W): output pixel p shows input at T(p) (reflection padding)."""
        _, _, h, w = frame.shape
        grid = make_coordinate_grid((h, w), frame.dtype).reshape([1, h * w, 2])
        warped = self.warp_coordinates(grid).reshape([self.batch, h, w, 2])
        return F.grid_sample(frame, warped, mode="bilinear", padding_mode="reflection",
                             align_corners=True)
