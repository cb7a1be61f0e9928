"""Dense motion: from sparse keypoint motions to a dense flow and an occlusion map."""

from __future__ import annotations

from typing import Dict

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .antialias import AntiAliasInterpolation2d
from .grid import kp2gaussian, make_coordinate_grid, per_keypoint_map
from .hourglass import Hourglass
from .sampling import GridSample


def _head(in_ch: int, out_ch: int, mobile_net: bool) -> nn.Layer:
    """7x7 conv, or PaddleGAN mobile's conv3 -> ReLU -> conv3 -> ReLU -> conv3."""
    if not mobile_net:
        return nn.Conv2D(in_ch, out_ch, 7, padding=3)
    return nn.Sequential(nn.Conv2D(in_ch, in_ch, 3, padding=1), nn.ReLU(),
                         nn.Conv2D(in_ch, in_ch, 3, padding=1), nn.ReLU(),
                         nn.Conv2D(in_ch, out_ch, 3, padding=1))


def inverse_2x2(m: paddle.Tensor) -> paddle.Tensor:
    """Closed-form inverse of (..., 2, 2) matrices."""
    a, b = m[..., 0, 0], m[..., 0, 1]
    c, d = m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    return paddle.stack([paddle.stack([d, -b], -1), paddle.stack([-c, a], -1)], -2) \
        / det.unsqueeze(-1).unsqueeze(-1)


class DenseMotionNetwork(nn.Layer):
    """Predicts the backward flow source <- driving at ``scale_factor`` resolution.

    forward(source (B, C, H, W) in [0, 1], kp_driving, kp_source) returns
    ``mask`` (B, K+1, h, w) softmax weights (channel 0 = background),
    ``sparse_deformed`` (B, K+1, C, h, w), ``deformation`` (B, h, w, 2) sampling grid
    in [-1, 1] (x, y) and, with ``estimate_occlusion_map``, ``occlusion_map`` (B, 1, h, w)
    in (0, 1); h, w = H*scale_factor, W*scale_factor.
    """

    def __init__(self, block_expansion: int, num_blocks: int, max_features: int, num_kp: int,
                 num_channels: int, estimate_occlusion_map: bool = False,
                 scale_factor: float = 1, kp_variance: float = 0.01, mobile_net: bool = False):
        super().__init__()
        self.hourglass = Hourglass(block_expansion, in_features=(num_kp + 1) * (num_channels + 1),
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        feats = self.hourglass.out_filters
        self.mask = _head(feats, num_kp + 1, mobile_net)
        self.occlusion = _head(feats, 1, mobile_net) if estimate_occlusion_map else None
        self.warp = GridSample()  # a layer, so the static export can swap in a faster one
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, mobile_net=mobile_net)

    def heatmaps(self, kp_driving, kp_source, h: int, w: int) -> paddle.Tensor:
        """(B, K+1, 1, h, w): driving minus source Gaussians, zero background first."""
        heat = kp2gaussian(kp_driving["value"], (h, w), self.kp_variance) \
            - kp2gaussian(kp_source["value"], (h, w), self.kp_variance)
        zeros = paddle.zeros_like(heat[:, :1])
        return paddle.concat([zeros, heat], axis=1).unsqueeze(2)

    def sparse_motion_xy(self, kp_driving, kp_source, h: int, w: int):
        """x and y of every sparse motion, each (B, K+1, h, w): the identity first, then
        ``J_s inv(J_d) (z - kp_d) + kp_s`` per keypoint.

        Computed per component on (B, K, h, w) maps: broadcasting over a trailing axis of
        size 2 is very slow in oneDNN's elementwise kernels (the static engine's path).
        """
        grid = make_coordinate_grid((h, w), kp_source["value"].dtype)
        gx, gy = grid[:, :, 0].reshape([1, 1, h, w]), grid[:, :, 1].reshape([1, 1, h, w])
        kd, ks = kp_driving["value"], kp_source["value"]
        # per-keypoint scalars as (B, K, h, w) maps: see grid.per_keypoint_map
        dx = gx - per_keypoint_map(kd[:, :, 0], h, w)
        dy = gy - per_keypoint_map(kd[:, :, 1], h, w)
        if "jacobian" in kp_driving:
            jac = paddle.matmul(kp_source["jacobian"], inverse_2x2(kp_driving["jacobian"]))
            j = [per_keypoint_map(jac[:, :, r, c], h, w) for r in (0, 1) for c in (0, 1)]
            dx, dy = dx * j[0] + dy * j[1], dx * j[2] + dy * j[3]
        mx = dx + per_keypoint_map(ks[:, :, 0], h, w)
        my = dy + per_keypoint_map(ks[:, :, 1], h, w)
        zero = paddle.zeros_like(mx[:, :1])
        return (paddle.concat([zero + gx, mx], axis=1), paddle.concat([zero + gy, my], axis=1))

    def sparse_motions(self, kp_driving, kp_source, h: int, w: int) -> paddle.Tensor:
        """(B, K+1, h, w, 2) sampling grids: the identity, then one per keypoint."""
        return paddle.stack(self.sparse_motion_xy(kp_driving, kp_source, h, w), axis=-1)

    def deform_source(self, source: paddle.Tensor, motions: paddle.Tensor) -> paddle.Tensor:
        """Warp the (down-scaled) source by each motion: (B, K+1, C, h, w)."""
        _, c, h, w = source.shape
        n = self.num_kp + 1
        rep = paddle.tile(source.unsqueeze(1), [1, n, 1, 1, 1]).reshape([-1, c, h, w])
        out = self.warp(rep, motions.reshape([-1, h, w, 2]))
        return out.reshape([-1, n, c, h, w])

    def forward(self, source_image: paddle.Tensor, kp_driving, kp_source) -> Dict[str, paddle.Tensor]:
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        _, c, h, w = source_image.shape
        heat = self.heatmaps(kp_driving, kp_source, h, w)
        mx, my = self.sparse_motion_xy(kp_driving, kp_source, h, w)
        deformed = self.deform_source(source_image, paddle.stack([mx, my], axis=-1))
        out = {"sparse_deformed": deformed}
        feats = self.hourglass(paddle.concat([heat, deformed], axis=2)
                               .reshape([-1, (self.num_kp + 1) * (c + 1), h, w]))
        mask = F.softmax(self.mask(feats), axis=1)
        out["mask"] = mask
        out["deformation"] = paddle.stack([(mx * mask).sum(axis=1), (my * mask).sum(axis=1)],
                                          axis=-1)
        if self.occlusion is not None:
            out["occlusion_map"] = F.sigmoid(self.occlusion(feats))
        return out
