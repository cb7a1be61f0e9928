"""Decoder up-sampling blocks (regular and PaddleGAN's mobile variant)."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import batch_norm


def upsample2(x: paddle.Tensor) -> paddle.Tensor:
    """Nearest-neighbour x2 up-sampling, (B, C, H, W) -> (B, C, 2H, 2W).

    Written as a tile (exactly what nearest x2 computes) rather than ``F.interpolate``:
    Paddle Inference's oneDNN executor cannot run the interpolate op of exported graphs.
    """
    _, c, h, w = x.shape
    x = paddle.tile(x.reshape([-1, c, h, 1, w, 1]), [1, 1, 1, 2, 1, 2])
    return x.reshape([-1, c, 2 * h, 2 * w])


class UpBlock2d(nn.Layer):
    """Nearest x2 -> conv3x3 -> BN -> ReLU: (B, Cin, H, W) -> (B, Cout, 2H, 2W)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding)
        self.norm = batch_norm(out_features)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = upsample2(x)
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
        out = upsample2(x)
        out = F.relu(self.norm(self.conv(out)))
        return F.relu(self.norm1(self.conv1(out)))
