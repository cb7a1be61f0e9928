"""FOMM's training losses (paper Sec. 3.3) and the pixel L1 alternative.

All images are (B, C, H, W) in [0, 1]; keypoints are dicts with ``value`` (B, K, 2) in
[-1, 1] and ``jacobian`` (B, K, 2, 2). Every function returns a scalar tensor that is
already multiplied by its weights.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import paddle
import paddle.nn as nn

from ..modules.dense_motion import inverse_2x2
from ..modules.antialias import AntiAliasInterpolation2d
from .tps import RandomTPS

__all__ = ["ImagePyramid", "pixel_pyramid_loss", "perceptual_pyramid_loss",
           "equivariance_value_loss", "equivariance_jacobian_loss", "generator_gan_loss",
           "feature_matching_loss", "discriminator_gan_loss", "detach_kp"]

Pyramid = Dict[float, paddle.Tensor]
KP = Dict[str, paddle.Tensor]


class ImagePyramid(nn.Layer):
    """Anti-aliased down-scalings of an image: ``{scale: (B, C, ceil(H*s), ceil(W*s))}``."""

    def __init__(self, scales: Sequence[float], num_channels: int):
        super().__init__()
        self.scales = tuple(float(s) for s in scales)
        self.downs = nn.LayerList([AntiAliasInterpolation2d(num_channels, s) for s in self.scales])

    def forward(self, x: paddle.Tensor) -> Pyramid:
        return {s: down(x) for s, down in zip(self.scales, self.downs)}


def detach_kp(kp: KP) -> KP:
    return {k: v.detach() for k, v in kp.items()}


def pixel_pyramid_loss(pred: Pyramid, real: Pyramid, weights: Sequence[float]) -> paddle.Tensor:
    """sum_s w_s * mean |pred_s - real_s| (``weights`` in the order of the pyramid's scales)."""
    total = paddle.zeros([], "float32")
    for (s, p), w in zip(pred.items(), weights):
        if w:
            total = total + w * (p - real[s].detach()).abs().mean()
    return total


def perceptual_pyramid_loss(vgg: nn.Layer, pred: Pyramid, real: Pyramid,
                            weights: Sequence[float]) -> paddle.Tensor:
    """sum_s sum_i w_i * mean |VGG_i(pred_s) - VGG_i(real_s)| over every pyramid scale."""
    total = paddle.zeros([], "float32")
    for s, p in pred.items():
        fp = vgg(p)
        with paddle.no_grad():
            fr = vgg(real[s])
        for w, a, b in zip(weights, fp, fr):
            if w:
                total = total + w * (a - b).abs().mean()
    return total


def equivariance_value_loss(kp_driving: KP, kp_transformed: KP, tps: RandomTPS) -> paddle.Tensor:
    """mean |kp(D) - T(kp(T^-1 D))|: keypoints must move with a known warp (unweighted)."""
    return (kp_driving["value"] - tps.warp_coordinates(kp_transformed["value"])).abs().mean()


def equivariance_jacobian_loss(kp_driving: KP, kp_transformed: KP, tps: RandomTPS) -> paddle.Tensor:
    """mean |I - J(D)^-1 (dT(kp_t) J_t)|: jacobians must compose with the warp's (unweighted)."""
    jac_t = paddle.matmul(tps.jacobian(kp_transformed["value"]), kp_transformed["jacobian"])
    value = paddle.matmul(inverse_2x2(kp_driving["jacobian"]), jac_t)
    eye = paddle.eye(2, dtype=value.dtype).reshape([1, 1, 2, 2])
    return (eye - value).abs().mean()


def generator_gan_loss(fake_maps: Dict[float, Tuple[List[paddle.Tensor], paddle.Tensor]],
                       weight: float) -> paddle.Tensor:
    """LSGAN generator term: weight * sum_s mean (1 - D_s(fake))^2."""
    total = paddle.zeros([], "float32")
    for _, pred in fake_maps.values():
        total = total + weight * ((1 - pred) ** 2).mean()
    return total


def feature_matching_loss(real_maps, fake_maps, weights: Sequence[float]) -> paddle.Tensor:
    """sum_s sum_i w_i * mean |D_s,i(real) - D_s,i(fake)| over discriminator blocks."""
    total = paddle.zeros([], "float32")
    for s, (fake_feats, _) in fake_maps.items():
        real_feats = real_maps[s][0]
        for w, a, b in zip(weights, real_feats, fake_feats):
            if w:
                total = total + w * (a.detach() - b).abs().mean()
    return total


def discriminator_gan_loss(real_maps, fake_maps, weight: float) -> paddle.Tensor:
    """LSGAN discriminator term: weight * sum_s mean[(1 - D_s(real))^2 + D_s(fake)^2]."""
    total = paddle.zeros([], "float32")
    for s, (_, fake) in fake_maps.items():
        real = real_maps[s][1]
        total = total + weight * ((1 - real) ** 2 + fake ** 2).mean()
    return total
