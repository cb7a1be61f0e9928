"""StyleGAN2's modulated convolution (weight modulation and demodulation).

Reference semantics, per sample b with ``s_b = modulation(style_b)`` (one factor per
input channel)::

    w_b[o, i] = scale * w[o, i] * s_b[i]                                (modulate)
    w_b[o, i] *= d_b[o] = 1 / sqrt(sum_{i,kh,kw} w_b[o, i]^2 + 1e-8)   (demodulate)
    y_b = conv(x_b, w_b)

PaddleGAN runs this as a grouped convolution with one group per sample. Here:

* k x k convs modulate the *activations* instead: ``y_b = d_b * conv(x_b * s_b, scale * w)``
  (the modulation scales input channels, the demodulation output channels), one ordinary
  convolution for the whole batch with a constant kernel. Besides batching, a constant
  kernel matters for Paddle Inference: its oneDNN convolution caches the (reordered)
  kernel after the first run, so a per-sample kernel would silently be reused.
* 1 x 1 convs (to-RGB) modulate the kernel, as a batched matrix product: the kernel is
  tiny (3 x in) while the feature maps are the largest of the network.

``gain`` multiplies the output (folded into ``d``, or into ``s`` without demodulation),
so a following activation gain costs nothing.
"""

from __future__ import annotations

import math
from typing import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .equalized import EqualLinear
from .upfirdn import Blur

__all__ = ["ModulatedConv2d"]


class ModulatedConv2d(nn.Layer):
    """Modulated (and optionally demodulated) k x k conv, optionally x2 up-sampling.

    Parameters (PaddleGAN's names): ``weight`` (1, out, in, k, k) at unit scale,
    ``modulation`` an :class:`EqualLinear` (style_dim -> in) with bias initialised to 1.

    ``forward(x, style, gain=1)``: x (B, in, H, W) (or (1, in, H, W), broadcast to the
    style's batch), style (B, style_dim) -> gain * (B, out, H, W), or (B, out, 2H, 2W)
    with ``upsample`` (a stride-2 transposed conv followed by a FIR blur, StyleGAN2's
    up-sampling).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 demodulate: bool = True, upsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        if upsample and kernel_size == 1:
            raise ValueError("ModulatedConv2d: up-sampling needs kernel_size > 1")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size
        self.weight = self.create_parameter(
            [1, out_channels, in_channels, kernel_size, kernel_size],
            default_initializer=nn.initializer.Normal(0.0, 1.0))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            # the transposed conv's output (2H + k - 2 px) is blurred back to 2H
            self.blur = Blur(out_channels, blur_kernel,
                             ((p + 1) // 2 + factor - 1, p // 2 + 1), gain=factor ** 2)

    def forward(self, x: paddle.Tensor, style: paddle.Tensor, gain: float = 1.0) -> paddle.Tensor:
        o, i, k = self.out_channels, self.in_channels, self.kernel_size
        s = self.modulation(style) * self.scale  # (B, in)
        weight = self.weight.reshape([o, i, k, k])
        d = None
        if self.demodulate:
            w2 = paddle.sum(weight * weight, axis=[2, 3])  # (out, in)
            d = paddle.rsqrt(paddle.matmul(s * s, w2, transpose_y=True) + 1e-8)  # (B, out)
            if gain != 1.0:
                d = d * gain
        elif gain != 1.0:
            s = s * gain
        if k == 1:
            return self._pointwise(x, s, d, weight)
        x = x * s.reshape([-1, i, 1, 1])
        if self.upsample:
            out = F.conv2d_transpose(x, weight.transpose([1, 0, 2, 3]), stride=2)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if d is not None:
            out = out * d.reshape([-1, o, 1, 1])
        if self.upsample:
            out = self.blur(out)  # per-channel and linear: commutes with the demodulation
        return out

    def _pointwise(self, x, s, d, weight):
        """1 x 1 conv with per-sample kernels ``w_b = w * s_b (* d_b)`` as a batched matmul."""
        o, i = self.out_channels, self.in_channels
        wb = weight.reshape([1, o, i]) * s.unsqueeze(1)  # (B, out, in)
        if d is not None:
            wb = wb * d.unsqueeze(2)
        h, w = x.shape[2], x.shape[3]
        out = paddle.matmul(wb, x.reshape([-1, i, h * w]))  # a batch-1 x broadcasts
        return out.reshape([-1, o, h, w])
