"""Decoder up-sampling blocks (regular and PaddleGAN's mobile variant)."""

from __future__ import annotations

from typing import Optional

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


def _fold(w: paddle.Tensor, axis: int, phase: int) -> paddle.Tensor:
    """Fold a 3-tap kernel axis into the 2 source taps one up-sampling phase sees.

    On a nearest x2 up-sampled map, output row 2i+phase reads up-sampled rows
    2i+phase-1 .. 2i+phase+1, i.e. source rows (i-1, i, i) for phase 0 and (i, i, i+1)
    for phase 1: taps that land on the same source row are summed.
    """
    t = [paddle.index_select(w, paddle.to_tensor([i]), axis=axis) for i in range(3)]
    pair = [t[0], t[1] + t[2]] if phase == 0 else [t[0] + t[1], t[2]]
    return paddle.concat(pair, axis=axis)


def upsample_conv3x3(x: paddle.Tensor, weight: paddle.Tensor,
                     bias: Optional[paddle.Tensor]) -> paddle.Tensor:
    """``conv3x3(nearest_x2(x))`` (padding 1), computed without up-sampling.

    Each of the four output phases (row parity, column parity) is a 2x2 convolution of
    ``x`` with taps of the 3x3 kernel folded together (:func:`_fold`): 16 instead of 36
    multiply-adds per output quad, and no up-sampled copy of the input. The phases are
    interleaved with a pixel shuffle. Equal to the direct computation up to float
    rounding. (B, Cin, H, W) -> (B, Cout, 2H, 2W).
    """
    _, _, h, w = x.shape
    cout = int(weight.shape[0])
    xp = F.pad(x, [1, 1, 1, 1])
    phases = []
    for py in (0, 1):
        wr = _fold(weight, 2, py)
        for px in (0, 1):
            k = _fold(wr, 3, px)
            phases.append(F.conv2d(xp[:, :, py:py + h + 1, px:px + w + 1], k, bias))
    # channel order c*4 + py*2 + px, as pixel_shuffle expects
    out = paddle.stack(phases, axis=2).reshape([-1, 4 * cout, h, w])
    return F.pixel_shuffle(out, 2)


class UpBlock2d(nn.Layer):
    """Nearest x2 -> conv3x3 -> BN -> ReLU: (B, Cin, H, W) -> (B, Cout, 2H, 2W)."""

    def __init__(self, in_features: int, out_features: int, kernel_size=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding)
        self.norm = batch_norm(out_features)
        self.fused = kernel_size in (3, (3, 3), [3, 3]) and padding in (1, (1, 1), [1, 1])

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.fused:
            out = upsample_conv3x3(x, self.conv.weight, self.conv.bias)
        else:
            out = self.conv(upsample2(x))
        return F.relu(self.norm(out))


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
