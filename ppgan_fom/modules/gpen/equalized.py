"""Equalized-learning-rate layers of StyleGAN2, as GPEN uses them.

Parameters are stored at unit scale and multiplied by a constant ``scale`` (He
init constant, times ``lr_mul``) in every forward pass; the stored layouts are
PaddleGAN's: a linear weight is ``(in, out)``, a conv weight ``(out, in, k, k)``.
"""

from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["fused_leaky_relu", "FusedLeakyReLU", "EqualLinear", "EqualConv2d", "PixelNorm"]

#: StyleGAN2's activation: leaky ReLU (slope 0.2) times sqrt(2), which keeps the
#: activation variance of a unit-variance input at about 1.
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def fused_leaky_relu(x: paddle.Tensor, bias: paddle.Tensor | None = None,
                     gain: float | None = None) -> paddle.Tensor:
    """``leaky_relu(x + bias, 0.2) * gain``; ``bias`` (C,) is added along axis 1.

    ``gain`` defaults (None) to StyleGAN2's sqrt(2). Since leaky ReLU is positively homogeneous,
    ``g * leaky_relu(x + b) == leaky_relu(g * x + g * b)``: callers that can scale ``x``
    for free (inside a preceding conv) pass ``gain=1`` and a pre-scaled bias.
    """
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2))
    x = F.leaky_relu(x, LRELU_SLOPE)
    gain = LRELU_GAIN if gain is None else gain
    return x * gain if gain != 1.0 else x


class FusedLeakyReLU(nn.Layer):
    """Bias + scaled leaky ReLU over (B, C, ...) with a learned ``bias`` (C,).

    ``forward(x)`` = ``leaky_relu(x + bias, 0.2) * sqrt(2)``;
    ``forward(x, prescaled=True)`` takes ``x`` already multiplied by sqrt(2) and returns
    the same value (the bias is scaled instead of the feature map).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = self.create_parameter([channels],
                                          default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor, prescaled: bool = False) -> paddle.Tensor:
        if prescaled:
            return fused_leaky_relu(x, self.bias * LRELU_GAIN, gain=1.0)
        return fused_leaky_relu(x, self.bias)


class EqualLinear(nn.Layer):
    """``y = x @ (weight * scale) + bias * lr_mul``, optionally followed by the fused
    leaky ReLU (then the bias is added before the activation).

    ``weight`` is (in_dim, out_dim), ``scale = lr_mul / sqrt(in_dim)``.
    Input (B, in_dim) -> (B, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = self.create_parameter(
            [in_dim, out_dim], default_initializer=nn.initializer.Normal(0.0, 1.0 / lr_mul))
        self.bias = self.create_parameter(
            [out_dim], default_initializer=nn.initializer.Constant(bias_init))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = paddle.matmul(x, self.weight * self.scale)
        if self.activate:
            return fused_leaky_relu(out, self.bias * self.lr_mul)
        return out + self.bias * self.lr_mul


class EqualConv2d(nn.Layer):
    """Conv with ``weight * 1/sqrt(in * k * k)``; weight (out, in, k, k), optional bias (out,).

    (B, in, H, W) -> (B, out, (H + 2p - k) // stride + 1, ...).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = self.create_parameter(
            [out_channels, in_channels, kernel_size, kernel_size],
            default_initializer=nn.initializer.Normal(0.0, 1.0))
        self.bias = self.create_parameter(
            [out_channels], default_initializer=nn.initializer.Constant(0.0)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride = stride
        self.padding = padding

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride,
                        padding=self.padding)


class PixelNorm(nn.Layer):
    """Normalise each sample's features (axis 1) to unit RMS: x / sqrt(mean(x^2) + 1e-8)."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        # a sum times 1/C rather than paddle.mean: Paddle Inference's oneDNN mean kernel
        # prints a line to stdout when the predictor is built
        mean_sq = paddle.sum(x * x, axis=1, keepdim=True) * (1.0 / x.shape[1])
        return x * paddle.rsqrt(mean_sq + 1e-8)
