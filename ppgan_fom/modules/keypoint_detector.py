"""Keypoint detector: heatmap soft-argmax keypoints and local affine jacobians."""

from __future__ import annotations

from typing import Dict

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .antialias import AntiAliasInterpolation2d
from .grid import make_coordinate_grid
from .hourglass import Hourglass


def _head(in_ch: int, out_ch: int, pad: int, mobile_net: bool) -> nn.Layer:
    """7x7 conv, or PaddleGAN mobile's three 3x3 convs with no activation between."""
    if not mobile_net:
        return nn.Conv2D(in_ch, out_ch, 7, padding=pad)
    return nn.Sequential(nn.Conv2D(in_ch, in_ch, 3, padding=pad),
                         nn.Conv2D(in_ch, in_ch, 3, padding=pad),
                         nn.Conv2D(in_ch, out_ch, 3, padding=pad))


class KPDetector(nn.Layer):
    """Detects ``num_kp`` keypoints in an image.

    Input ``x``: (B, num_channels, H, W) RGB in [0, 1].
    Output: ``{'value': (B, K, 2) in [-1, 1] (x, y), 'jacobian': (B, K, 2, 2)}``
    (the jacobian only with ``estimate_jacobian``).
    """

    def __init__(self, block_expansion: int, num_kp: int, num_channels: int, max_features: int,
                 num_blocks: int, temperature: float, estimate_jacobian: bool = False,
                 scale_factor: float = 1, single_jacobian_map: bool = False, pad: int = 0,
                 mobile_net: bool = False):
        super().__init__()
        self.predictor = Hourglass(block_expansion, in_features=num_channels,
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        feats = self.predictor.out_filters
        self.kp = _head(feats, num_kp, pad, mobile_net)
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian = _head(feats, 4 * self.num_jacobian_maps, pad, mobile_net)
            last = self.jacobian[-1] if mobile_net else self.jacobian
            # identity jacobians at initialisation (weights zero, bias [1, 0, 0, 1])
            for layer in (self.jacobian if mobile_net else [self.jacobian]):
                layer.weight.set_value(paddle.zeros(layer.weight.shape, "float32"))
            last.bias.set_value(paddle.to_tensor(
                np.tile(np.array([1, 0, 0, 1], np.float32), self.num_jacobian_maps)))
        else:
            self.jacobian = None
        self.temperature = temperature
        self.scale_factor = scale_factor
        self.num_kp = num_kp
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor, mobile_net=mobile_net)

    def forward(self, x: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        if self.scale_factor != 1:
            x = self.down(x)
        feature_map = self.predictor(x)
        logits = self.kp(feature_map)
        _, k, h, w = logits.shape  # batch left as -1 so static graphs take any batch
        heatmap = F.softmax(logits.reshape([-1, k, h * w]) / self.temperature, axis=2)
        grid = make_coordinate_grid((h, w), logits.dtype).reshape([1, 1, h * w, 2])
        out = {"value": (heatmap.unsqueeze(-1) * grid).sum(axis=2)}
        if self.jacobian is not None:
            jmap = self.jacobian(feature_map).reshape([-1, self.num_jacobian_maps, 4, h * w])
            jac = (heatmap.unsqueeze(2) * jmap).sum(axis=-1)  # B K 4
            out["jacobian"] = jac.reshape([-1, k, 2, 2])
        return out
