"""Resolution-preserving conv -> BN -> ReLU block."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import batch_norm


class SameBlock2d(nn.Layer):
    """conv(k) -> BN -> ReLU; (B, Cin, H, W) -> (B, Cout, H, W). Mobile: no conv bias."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1,
                 mobile_net: bool = False):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding,
                              bias_attr=None if not mobile_net else False,
                              weight_attr=nn.initializer.KaimingUniform())
        self.norm = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.norm(self.conv(x)))
