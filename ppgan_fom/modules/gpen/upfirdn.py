"""FIR up-sampling and blurring of StyleGAN2 (``upfirdn2d`` with down = 1).

``upfirdn2d(x, k, up, pad)`` inserts ``up - 1`` zeros after every pixel, zero-pads
``pad = (p0, p1)`` on both spatial axes (p0 before, p1 after), then convolves each
channel with the 2-D kernel ``k`` (a true convolution: ``k`` is flipped), keeping only
the "valid" part. Output side ``H * up + p0 + p1 - kh + 1``.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["make_kernel", "upfirdn2d", "Blur", "Upsample"]


def make_kernel(taps: Sequence[float], gain: float = 1.0) -> np.ndarray:
    """Separable 2-D FIR kernel ``outer(taps, taps)`` normalised to sum ``gain``, float32 (k, k)."""
    k = np.asarray(taps, dtype=np.float32)
    k2 = np.outer(k, k) if k.ndim == 1 else k
    return (k2 / k2.sum() * gain).astype(np.float32)


def _depthwise_weight(kernel: paddle.Tensor, channels: int) -> paddle.Tensor:
    """(kh, kw) kernel -> (C, 1, kh, kw) flipped depthwise weight (correlation == convolution)."""
    kh, kw = kernel.shape
    return paddle.flip(kernel, [0, 1]).reshape([1, 1, kh, kw]).tile([channels, 1, 1, 1])


def upfirdn2d(x: paddle.Tensor, kernel: paddle.Tensor, up: int = 1,
              pad: Tuple[int, int] = (0, 0), weight: paddle.Tensor | None = None) -> paddle.Tensor:
    """Up-sample by zero insertion, pad, and FIR-filter every channel of (B, C, H, W).

    Args:
        x: (B, C, H, W) float32.
        kernel: (kh, kw) float32 FIR kernel.
        up: integer up-sampling factor (>= 1).
        pad: (p0, p1) zero padding (>= 0) before / after on both axes, after up-sampling.
        weight: optional precomputed ``(C, 1, kh, kw)`` depthwise form of ``kernel``
            (flipped), to save rebuilding it on every call.

    Returns:
        (B, C, H*up + p0 + p1 - kh + 1, W*up + p0 + p1 - kw + 1).
    """
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    if up > 1:
        # zero insertion: (B, C, H, 1, W, 1) -> (B, C, H, up, W, up) -> (B, C, H*up, W*up)
        # (concatenated zeros: a 6-D F.pad is exported with another axis order)
        x = x.reshape([-1, c, h, 1, w, 1])
        x = paddle.concat([x] + [paddle.zeros_like(x)] * (up - 1), axis=5)
        x = paddle.concat([x] + [paddle.zeros_like(x)] * (up - 1), axis=3)
        x = x.reshape([-1, c, h * up, w * up])
    if weight is None:
        weight = _depthwise_weight(kernel, c)
    p0, p1 = pad
    if p0 == p1:  # symmetric: let the conv pad (no separate pad pass over the tensor)
        return F.conv2d(x, weight, padding=p0, groups=c)
    return F.conv2d(F.pad(x, [p0, p1, p0, p1]), weight, groups=c)  # left, right, top, bottom


class Blur(nn.Layer):
    """``upfirdn2d(x, kernel, up=1, pad)`` on (B, channels, H, W) with kernel
    ``make_kernel(taps, gain)``.

    The kernel is a non-persistable buffer (not in the state dict), as in PaddleGAN;
    its depthwise form is built once here.
    """

    def __init__(self, channels: int, taps: Sequence[float], pad: Tuple[int, int],
                 gain: float = 1.0):
        super().__init__()
        kernel = paddle.to_tensor(make_kernel(taps, gain))
        self.register_buffer("kernel", kernel, persistable=False)
        self.register_buffer("weight", _depthwise_weight(kernel, channels), persistable=False)
        self.pad = tuple(pad)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return upfirdn2d(x, self.kernel, 1, self.pad, self.weight)


class Upsample(nn.Layer):
    """x2 FIR up-sampling (B, C, H, W) -> (B, C, 2H, 2W) with kernel gain 4.

    The kernel is a persistable buffer ``kernel`` (k, k): it is part of PaddleGAN's
    state dict (``to_rgbs.N.upsample.kernel``).
    """

    def __init__(self, taps: Sequence[float], factor: int = 2):
        super().__init__()
        kernel = make_kernel(taps, factor * factor)
        self.register_buffer("kernel", paddle.to_tensor(kernel))
        p = kernel.shape[0] - factor
        self.factor = factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return upfirdn2d(x, self.kernel, self.factor, self.pad)
