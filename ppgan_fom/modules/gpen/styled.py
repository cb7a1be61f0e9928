"""The StyleGAN2 synthesis blocks GPEN uses: constant input, noise, styled conv, to-RGB.

GPEN's "noise" is not random: it is the encoder's feature map at the block's
resolution, and it is *concatenated* to the activations (``is_concat``), so a styled
conv's activation (and its bias) has twice the conv's output channels.
"""

from __future__ import annotations

from typing import Optional, Sequence

import paddle
import paddle.nn as nn

from .equalized import LRELU_GAIN, FusedLeakyReLU
from .modulated import ModulatedConv2d
from .upfirdn import Upsample

__all__ = ["ConstantInput", "NoiseInjection", "StyledConv", "ToRGB"]


class ConstantInput(nn.Layer):
    """Learned constant ``input`` (1, C, size, size).

    ``forward()`` returns it with batch 1; the first modulated conv broadcasts it to
    the style's batch (so the exported graph needs no batch-dependent tiling).
    """

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = self.create_parameter([1, channels, size, size],
                                           default_initializer=nn.initializer.Normal(0.0, 1.0))

    def forward(self) -> paddle.Tensor:
        return self.input


class NoiseInjection(nn.Layer):
    """Adds (or, with ``concat``, appends as channels) ``weight * noise``.

    image (B, C, H, W), noise (B, Cn, H, W) (Cn = 1 or C when adding) ->
    (B, C + Cn, H, W) with ``concat``, else (B, C, H, W). ``weight`` is (1,).
    ``noise=None`` draws Gaussian noise (B, 1, H, W) (StyleGAN2 sampling; GPEN always
    passes its encoder features).
    """

    def __init__(self, concat: bool = False):
        super().__init__()
        self.weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))
        self.concat = concat

    def forward(self, image: paddle.Tensor, noise: Optional[paddle.Tensor] = None,
                gain: float = 1.0) -> paddle.Tensor:
        """``gain`` scales the noise term (for an ``image`` that was scaled by it)."""
        if noise is None:
            noise = paddle.randn([image.shape[0], 1, image.shape[2], image.shape[3]])
        weight = self.weight * gain if gain != 1.0 else self.weight
        if self.concat:
            return paddle.concat([image, weight * noise], axis=1)
        return image + weight * noise


class StyledConv(nn.Layer):
    """Modulated 3x3 conv (optionally x2 up) -> noise injection -> biased fused leaky ReLU.

    x (B, in, H, W), style (B, style_dim), noise (B, out, H', W') ->
    (B, 2*out or out, H', W') with H' = H or 2H.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int,
                 upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 concat: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection(concat)
        self.activate = FusedLeakyReLU(out_channels * 2 if concat else out_channels)

    def forward(self, x: paddle.Tensor, style: paddle.Tensor,
                noise: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        # the activation's sqrt(2) gain is applied inside the conv (on its demodulation
        # factors) and on the noise weight, saving a pass over the feature map
        out = self.conv(x, style, gain=LRELU_GAIN)
        return self.activate(self.noise(out, noise, gain=LRELU_GAIN), prescaled=True)


class ToRGB(nn.Layer):
    """1x1 modulated conv to RGB (no demodulation) + ``bias`` (1, 3, 1, 1), plus the
    x2 FIR-up-sampled RGB ``skip`` of the previous resolution when given.

    x (B, in, H, W), style (B, style_dim), skip (B, 3, H/2, W/2) -> (B, 3, H, W).
    """

    def __init__(self, in_channels: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = self.create_parameter([1, 3, 1, 1],
                                          default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor, style: paddle.Tensor,
                skip: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out
