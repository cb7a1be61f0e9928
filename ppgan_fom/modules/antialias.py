"""Band-limited down-sampling (Gaussian blur, then strided sub-sampling)."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def gaussian_kernel(scale: float, mobile_net: bool = False) -> tuple:
    """Normalised 2-D Gaussian for down-sampling by ``scale``.

    FOMM uses sigma = (1/scale - 1)/2 and size 2*round(4*sigma)+1; PaddleGAN's mobile
    models use a fixed sigma 0.25, size 3. The ``+1e-9`` in the exponent's denominator
    is PaddleGAN's (it changes the kernel by < 1e-8).

    Returns:
        (kernel (k, k) float32 summing to 1, k)
    """
    if mobile_net:
        sigma, size = 0.25, 3
    else:
        sigma = (1.0 / scale - 1.0) / 2.0
        size = 2 * int(round(sigma * 4)) + 1
    ax = np.arange(size, dtype=np.float32) - (size - 1) / 2.0
    g = np.exp(-(ax ** 2) / np.float32(2 * sigma ** 2 + 1e-9)).astype(np.float32)
    kernel = np.outer(g, g)
    return (kernel / kernel.sum()).astype(np.float32), size


class AntiAliasInterpolation2d(nn.Layer):
    """Blur with a Gaussian and keep every ``1/scale``-th pixel (computed as a strided conv).

    Input (B, C, H, W); output (B, C, ceil(H*scale), ceil(W*scale)). The kernel is a
    persistable buffer named ``weight`` (C, 1, k, k), as in PaddleGAN's checkpoints.
    """

    def __init__(self, channels: int, scale: float, mobile_net: bool = False):
        super().__init__()
        kernel, size = gaussian_kernel(scale, mobile_net)
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        weight = np.tile(kernel[None, None], (channels, 1, 1, 1))
        self.register_buffer("weight", paddle.to_tensor(weight))
        self.groups = channels
        self.scale = scale
        inv = 1.0 / scale
        if abs(inv - round(inv)) > 1e-6:
            raise ValueError(f"AntiAliasInterpolation2d needs 1/scale to be an integer, got {scale}")
        self.step = int(round(inv))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.scale == 1.0:
            return x
        out = F.pad(x, [self.ka, self.kb, self.ka, self.kb])  # left, right, top, bottom
        # blur only where it is kept: a strided depthwise conv gives exactly the pixels
        # of blur-then-subsample ([::step]), with step**2 times less work
        return F.conv2d(out, weight=self.weight, stride=self.step, groups=self.groups)
