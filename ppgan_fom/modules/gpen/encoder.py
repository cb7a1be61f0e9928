"""GPEN's encoder: a StyleGAN2-discriminator-like stack of stride-2 conv layers."""

from __future__ import annotations

from typing import List, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .equalized import LRELU_GAIN, EqualConv2d, FusedLeakyReLU
from .upfirdn import Blur

__all__ = ["ConvLayer", "encoder_stages"]


class ConvLayer(nn.Sequential):
    """[Blur ->] EqualConv2d (no bias) -> FusedLeakyReLU (with the bias), as a Sequential
    so the state-dict names are PaddleGAN's (``0.weight``/``1.bias``, or with the blur
    first ``1.weight``/``2.bias``).

    ``downsample``: FIR blur then a stride-2 ``k x k`` conv without padding,
    (B, in, H, W) -> (B, out, H/2, W/2); otherwise a 'same' conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 downsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(in_channels, blur_kernel, ((p + 1) // 2, p // 2)))
            conv = EqualConv2d(in_channels, out_channels, kernel_size, stride=2, padding=0,
                               bias=False)
        else:
            conv = EqualConv2d(in_channels, out_channels, kernel_size, stride=1,
                               padding=kernel_size // 2, bias=False)
        layers += [conv, FusedLeakyReLU(out_channels)]
        super().__init__(*layers)
        self.downsample = downsample

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.downsample:
            x = self[0](x)
        conv, act = self[-2], self[-1]
        # conv(x, w * scale * g) == g * conv(x, w * scale): the activation gain moves onto
        # the (small) kernel instead of the feature map
        out = F.conv2d(x, conv.weight * (conv.scale * LRELU_GAIN), stride=conv.stride,
                       padding=conv.padding)
        return act(out, prescaled=True)


def encoder_stages(size: int, channels: dict, blur_kernel: Sequence[float] = (1, 3, 3, 1)
                   ) -> List[nn.Sequential]:
    """The ``log2(size) - 1`` stages ``ecd0..``: a 1x1 ConvLayer 3 -> channels[size] at
    full resolution, then one stride-2 3x3 ConvLayer per halving down to 4 px
    (stage i outputs channels[size / 2^i] at size / 2^i px). Each stage is a
    one-element Sequential, as in PaddleGAN (names ``ecdI.0.*``)."""
    log_size = size.bit_length() - 1
    stages = [nn.Sequential(ConvLayer(3, channels[size], 1))]
    in_ch = channels[size]
    for i in range(log_size, 2, -1):
        out_ch = channels[2 ** (i - 1)]
        stages.append(nn.Sequential(ConvLayer(in_ch, out_ch, 3, downsample=True,
                                              blur_kernel=blur_kernel)))
        in_ch = out_ch
    return stages
