"""Decoder up-sampling blocks (regular and PaddleGAN's mobile variant)."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import batch_norm


class UpBlock2d(nn.Layer):
    """Nearest x2 -> conv3x3 -> BN -> ReLU: (B, Cin, H, W) -> (B, Cout, 2H, 2W)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding)
        self.norm = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.relu(self.norm(self.conv(out)))


class MobileUpBlock2d(nn.Layer):
    """Nearest x2 -> depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU (no biases)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, in_features, kernel_size, padding=padding,
                              groups=in_features, bias_attr=False)
        self.conv1 = nn.Conv2D(in_features, out_features, 1, bias_attr=False)
        self.norm = batch_norm(in_features)
        self.norm1 = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.interpolate(x, scale_factor=2, mode="nearest")
        out = F.relu(self.norm(self.conv(out)))
        return F.relu(self.norm1(self.conv1(out)))
