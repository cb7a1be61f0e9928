"""Residual blocks of the generator bottleneck (regular and mobile)."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import batch_norm


class ResBlock2d(nn.Layer):
    """x + conv(ReLU(BN(conv(ReLU(BN(x)))))); shape preserved (B, C, H, W)."""

    def __init__(self, in_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv1 = nn.Conv2D(in_features, in_features, kernel_size, padding=padding)
        self.conv2 = nn.Conv2D(in_features, in_features, kernel_size, padding=padding)
        self.norm1 = batch_norm(in_features)
        self.norm2 = batch_norm(in_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class MobileResBlock2d(nn.Layer):
    """Inverted residual: BN -> ReLU -> pw 1x1 (C->2C) -> BN -> dw 3x3 -> BN -> ReLU
    -> pw 1x1 (2C->C) -> BN, plus the input. No biases; shape preserved."""

    def __init__(self, in_features: int, kernel_size=3, padding=1):
        super().__init__()
        mid = in_features * 2
        self.conv_pw = nn.Conv2D(in_features, mid, 1, bias_attr=False)
        self.conv_dw = nn.Conv2D(mid, mid, kernel_size, padding=padding, groups=mid,
                                 bias_attr=False)
        self.conv_pw_linear = nn.Conv2D(mid, in_features, 1, bias_attr=False)
        self.norm1 = batch_norm(in_features)
        self.norm_pw = batch_norm(mid)
        self.norm_dw = batch_norm(mid)
        self.norm_pw_linear = batch_norm(in_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = self.norm_pw(self.conv_pw(F.relu(self.norm1(x))))
        out = F.relu(self.norm_dw(self.conv_dw(out)))
        out = self.norm_pw_linear(self.conv_pw_linear(out))
        return out + x
