"""FOMM's multi-scale patch discriminator (for the ``-adv`` configs).

State-dict names follow PaddleGAN's ``MultiScaleDiscriminator`` (``discs.<scale>.
down_blocks.<i>.conv.weight[_orig|_u|_v]``, ``...norm.scale``, ``discs.<scale>.conv``),
so a PaddleGAN checkpoint's ``discriminator`` section loads as is.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..modules.grid import kp2gaussian
from .train_config import DiscriminatorConfig

__all__ = ["DiscriminatorBlock", "Discriminator", "MultiScaleDiscriminator", "scale_key"]


def scale_key(scale: float) -> str:
    """PaddleGAN's sub-layer name of a scale: 1 -> '1', 0.5 -> '0-5'."""
    s = str(int(scale)) if float(scale).is_integer() else str(float(scale))
    return s.replace(".", "-")


def _maybe_sn(layer: nn.Layer, sn: bool) -> nn.Layer:
    return nn.utils.spectral_norm(layer) if sn else layer


class DiscriminatorBlock(nn.Layer):
    """conv4x4 (valid, optional spectral norm) -> [InstanceNorm] -> LeakyReLU(0.2) -> [AvgPool2]."""

    def __init__(self, in_features: int, out_features: int, norm: bool, pool: bool, sn: bool):
        super().__init__()
        self.conv = _maybe_sn(nn.Conv2D(in_features, out_features, kernel_size=4), sn)
        self.norm = nn.InstanceNorm2D(out_features, epsilon=1e-5) if norm else None
        self.pool = pool

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        out = F.leaky_relu(out, 0.2)
        return F.avg_pool2d(out, kernel_size=2, stride=2) if self.pool else out


class Discriminator(nn.Layer):
    """One scale: ``forward(x (B, C, H, W), kp)`` -> (list of block outputs, (B, 1, h, w) map).

    With ``use_kp`` the driving keypoints' Gaussian heatmaps are concatenated to the input.
    """

    def __init__(self, num_channels: int, num_kp: int, cfg: DiscriminatorConfig):
        super().__init__()
        width = [min(cfg.max_features, cfg.block_expansion * (2 ** (i + 1)))
                 for i in range(cfg.num_blocks)]
        first = num_channels + (num_kp if cfg.use_kp else 0)
        self.down_blocks = nn.LayerList([
            DiscriminatorBlock(first if i == 0 else width[i - 1], width[i], norm=i != 0,
                               pool=i != cfg.num_blocks - 1, sn=cfg.sn)
            for i in range(cfg.num_blocks)])
        self.conv = _maybe_sn(nn.Conv2D(width[-1], 1, kernel_size=1), cfg.sn)
        self.use_kp = cfg.use_kp
        self.kp_variance = cfg.kp_variance

    def forward(self, x: paddle.Tensor, kp: Optional[Dict[str, paddle.Tensor]] = None):
        out = x
        if self.use_kp:
            heat = kp2gaussian(kp["value"], tuple(x.shape[2:]), self.kp_variance)
            out = paddle.concat([out, heat], axis=1)
        feats: List[paddle.Tensor] = []
        for blk in self.down_blocks:
            out = blk(out)
            feats.append(out)
        return feats, self.conv(out)


class MultiScaleDiscriminator(nn.Layer):
    """A :class:`Discriminator` per pyramid scale.

    ``forward(pyramid: {scale: (B, C, H*s, W*s)}, kp)`` returns ``{scale: (features, map)}``.
    """

    def __init__(self, num_channels: int, num_kp: int, cfg: DiscriminatorConfig):
        super().__init__()
        self.scales: Sequence[float] = tuple(cfg.scales)
        self.discs = nn.LayerDict({scale_key(s): Discriminator(num_channels, num_kp, cfg)
                                   for s in self.scales})

    def forward(self, pyramid: Dict[float, paddle.Tensor], kp=None):
        return {s: self.discs[scale_key(s)](pyramid[s], kp) for s in self.scales}
