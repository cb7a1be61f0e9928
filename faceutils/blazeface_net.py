"""BlazeFace "back camera" network (MediaPipe ``face_detection_back``) in Paddle.

Re-implemented from the operator graph of the TFLite model: a 5x5 stride-2 stem,
31 residual "Blaze" blocks (depthwise 3x3 + pointwise 1x1, ReLU after the
residual sum; stride-2 blocks take a 2x2 max-pooled, zero-channel-padded
shortcut), one extra stride-2 separable convolution, and two SSD heads at 16x16
(2 anchors per cell) and 8x8 (6 anchors per cell).

Input: ``(B, 3, 256, 256)`` float32 RGB scaled to [-1, 1]. Output:
``(regressors (B, 896, 16), scores (B, 896))``: raw box/keypoint offsets in
input pixels and raw (pre-sigmoid) face logits, anchors in MediaPipe order.

Convolutions use TensorFlow "SAME" padding, which is asymmetric for stride 2
(the extra row/column goes at the bottom/right); it is folded into each
convolution's padding.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["BlazeFaceBackNet", "BlazeBlock", "BLOCK_SPECS", "INPUT_SIZE", "layer_order",
           "fold_depthwise_biases"]

INPUT_SIZE = 256

# (in_channels, out_channels, stride) of the 31 residual blocks
BLOCK_SPECS: Tuple[Tuple[int, int, int], ...] = (
    ((24, 24, 1),) * 7 + ((24, 24, 2),)
    + ((24, 24, 1),) * 7 + ((24, 48, 2),)
    + ((48, 48, 1),) * 7 + ((48, 96, 2),)
    + ((96, 96, 1),) * 7
)


def same_pads(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow "SAME" padding ``(before, after)`` for one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameConv(nn.Conv2D):
    """Conv2D with TensorFlow "SAME" padding computed from the input size.

    ``skip_bias`` (set by :func:`fold_depthwise_biases` once the bias is zero)
    saves the broadcast addition, which is slow on CPU.
    """

    skip_bias = False

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:  # noqa: D102
        k, s = self._kernel_size[0], self._stride[0]
        pads = [0, 0, 0, 0]
        if k > 1:  # [top, bottom, left, right], folded into the convolution
            pads = [*same_pads(x.shape[2], k, s), *same_pads(x.shape[3], k, s)]
        y = F.conv2d(x, self.weight, None, s, pads, groups=self._groups)
        if self.skip_bias:
            return y
        # a (C, 1, 1) bias broadcasts much faster on CPU than F.conv2d's (1, C, 1, 1)
        return y + self.bias.reshape([-1, 1, 1])


class BlazeBlock(nn.Layer):
    """Depthwise-separable residual block: ``relu(shortcut(x) + pw(dw(x)))``."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride
        self.dw = _SameConv(cin, cin, 3, stride=stride, groups=cin)
        self.pw = _SameConv(cin, cout, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:  # noqa: D102
        y = self.pw(self.dw(x))
        if self.stride == 2:
            x = F.max_pool2d(x, 2, 2)
        if self.cout > self.cin:  # zero channels appended after the existing ones
            extra = paddle.zeros([x.shape[0], self.cout - self.cin, x.shape[2], x.shape[3]],
                                 x.dtype)
            x = paddle.concat([x, extra], axis=1)
        return F.relu(x + y)


class BlazeFaceBackNet(nn.Layer):
    """BlazeFace back-camera (256x256, 896 anchors) detector network."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _SameConv(3, 24, 5, stride=2)
        self.blocks = nn.LayerList([BlazeBlock(*spec) for spec in BLOCK_SPECS])
        self.down_dw = _SameConv(96, 96, 3, stride=2, groups=96)
        self.down_pw = _SameConv(96, 96, 1)
        self.cls16 = _SameConv(96, 2, 1)
        self.cls8 = _SameConv(96, 6, 1)
        self.reg16 = _SameConv(96, 32, 1)
        self.reg8 = _SameConv(96, 96, 1)

    @staticmethod
    def _flatten(t: paddle.Tensor, per_anchor: int) -> paddle.Tensor:
        """``(B, A*per_anchor, H, W)`` -> ``(B, H*W*A, per_anchor)`` in (h, w, a) order."""
        b = t.shape[0]
        return t.transpose([0, 2, 3, 1]).reshape([b, -1, per_anchor])

    def forward(self, x: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """See the module docstring for shapes."""
        x = F.relu(self.stem(x))
        for block in self.blocks:
            x = block(x)
        y = F.relu(self.down_pw(self.down_dw(x)))
        reg = paddle.concat([self._flatten(self.reg16(x), 16),
                             self._flatten(self.reg8(y), 16)], axis=1)
        cls = paddle.concat([self._flatten(self.cls16(x), 1),
                             self._flatten(self.cls8(y), 1)], axis=1)
        return reg, cls[:, :, 0]


def _fold(dw: _SameConv, pw: _SameConv) -> None:
    """Move ``dw``'s bias into ``pw``'s: ``pw(dw(x) + b) = pw(dw(x)) + W_pw @ b`` (exact)."""
    w = pw.weight[:, :, 0, 0]
    pw.bias.set_value(pw.bias + paddle.matmul(w, dw.bias))
    dw.bias.set_value(paddle.zeros_like(dw.bias))
    dw.skip_bias = True


@paddle.no_grad()
def fold_depthwise_biases(net: "BlazeFaceBackNet") -> "BlazeFaceBackNet":
    """Fold every depthwise bias into the following pointwise bias, in place.

    The outputs are unchanged up to float rounding; inference gets faster (one
    broadcast add fewer per block). The state dict keeps its names (the
    depthwise biases become zeros). Returns ``net``.
    """
    for block in net.blocks:
        if not block.dw.skip_bias:
            _fold(block.dw, block.pw)
    if not net.down_dw.skip_bias:
        _fold(net.down_dw, net.down_pw)
    return net


def layer_order() -> List[Tuple[str, str, Sequence[int], int]]:
    """The convolutions in TFLite graph order: ``(name, kind, paddle_weight_shape, stride)``.

    ``kind`` is ``"conv"`` or ``"depthwise"``. The converter assigns the graph's
    CONV_2D / DEPTHWISE_CONV_2D weights to these names one by one and checks
    every shape and stride.
    """
    order: List[Tuple[str, str, Sequence[int], int]] = [("stem", "conv", (24, 3, 5, 5), 2)]
    for i, (cin, cout, stride) in enumerate(BLOCK_SPECS):
        order.append((f"blocks.{i}.dw", "depthwise", (cin, 1, 3, 3), stride))
        order.append((f"blocks.{i}.pw", "conv", (cout, cin, 1, 1), 1))
    order += [("down_dw", "depthwise", (96, 1, 3, 3), 2), ("down_pw", "conv", (96, 96, 1, 1), 1),
              ("cls16", "conv", (2, 96, 1, 1), 1), ("cls8", "conv", (6, 96, 1, 1), 1),
              ("reg16", "conv", (32, 96, 1, 1), 1), ("reg8", "conv", (96, 96, 1, 1), 1)]
    return order
