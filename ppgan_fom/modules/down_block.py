"""Encoder down-sampling blocks (regular and PaddleGAN's mobile variant)."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import batch_norm


class DownBlock2d(nn.Layer):
    """conv3x3 -> BN -> ReLU -> AvgPool2: (B, Cin, H, W) -> (B, Cout, H/2, W/2)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding)
        self.norm = batch_norm(out_features)
        self.pool = nn.AvgPool2D(kernel_size=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class MobileDownBlock2d(nn.Layer):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU -> AvgPool2 (no biases)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, in_features, kernel_size, padding=padding,
                              groups=in_features, bias_attr=False)
        self.norm = batch_norm(in_features)
        self.pool = nn.AvgPool2D(kernel_size=2)
        self.conv1 = nn.Conv2D(in_features, out_features, 1, bias_attr=False)
        self.norm1 = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.relu(self.norm(self.conv(x)))
        out = F.relu(self.norm1(self.conv1(out)))
        return self.pool(out)
