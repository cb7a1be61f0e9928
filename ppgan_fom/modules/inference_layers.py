"""Exact inference-time rewrites of the generator and keypoint-detector layers.

The eager networks stay the float32 reference. For export to static graphs (the CPU
engine), :func:`fast_inference_layers` swaps in, for the duration of a ``with`` block,
layers that compute the same function with less work:

* :class:`FastResBlock2d`: the bottleneck residual blocks (12 of the 3x3, 256 -> 256
  convolutions at 64 x 64 in vox-256, ~80 % of the multiply-adds of a frame) as
  Winograd F(4x4, 3x3) (:mod:`.winograd`: 4x fewer multiplications), with the
  eval-mode BatchNorm that follows the first convolution folded into its filters.
* :class:`FastUpBlock2d`: nearest x2 up-sampling + 3x3 convolution as ONE stride-2
  transposed 4x4 convolution (the taps that land on the same source pixel summed:
  16 multiply-adds per output quad as in the phase form, but one oneDNN primitive
  instead of four convolutions, a stack and a pixel shuffle), with its BatchNorm
  folded in, so the ReLU is the only other op.
* :class:`.sampling.GatherGridSample` for the bilinear warps: Paddle's CPU
  ``grid_sample`` kernel is a scalar one-thread loop (same function, vectorised ops).

Folding an eval-mode BatchNorm ``y = s * x + t`` into the preceding convolution
(``W' = s W``, ``b' = s b + t``) is exact algebra; only float rounding differs. Paddle
Inference folds conv -> BN pairs by itself, but not through a pixel shuffle and not into
a Winograd layer, hence here. The original layers are restored when the block exits.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .res_block import ResBlock2d
from .sampling import GatherGridSample, GridSample
from .up_block import UpBlock2d
from .winograd import WinogradConv3x3

logger = logging.getLogger(__name__)

__all__ = ["bn_affine", "upsample_conv_transpose_filter", "FastResBlock2d", "FastUpBlock2d",
           "fast_inference_layers"]


def bn_affine(bn: nn.BatchNorm2D) -> Tuple[np.ndarray, np.ndarray]:
    """Eval-mode BatchNorm as ``y = scale * x + shift`` per channel (float64 (C,) each)."""
    if bn.training:
        raise ValueError("BatchNorm folding needs eval mode (running statistics)")
    var = bn._variance.numpy().astype(np.float64)
    scale = bn.weight.numpy().astype(np.float64) / np.sqrt(var + float(bn._epsilon))
    shift = bn.bias.numpy().astype(np.float64) - bn._mean.numpy().astype(np.float64) * scale
    return scale, shift


def _conv_params(conv: nn.Conv2D) -> Tuple[np.ndarray, np.ndarray]:
    w = conv.weight.numpy().astype(np.float64)
    b = conv.bias.numpy().astype(np.float64) if conv.bias is not None else np.zeros(w.shape[0])
    return w, b


def _buffer(layer: nn.Layer, name: str, value: np.ndarray) -> None:
    layer.register_buffer(name, paddle.to_tensor(np.asarray(value, np.float32)))


def upsample_conv_transpose_filter(weight: np.ndarray) -> np.ndarray:
    """3x3 filters (Cout, Cin, 3, 3) of ``conv3x3(nearest_x2(x))`` (padding 1) ->
    filters (Cin, Cout, 4, 4) of the equal ``conv2d_transpose(x, stride=2, padding=1)``.

    Along each axis, output 2i reads source pixels i-1 (tap 0) and i (taps 1 + 2), output
    2i+1 reads i (taps 0 + 1) and i+1 (tap 2); a stride-2 transposed convolution with
    padding 1 sends source pixel i to outputs 2i-1+k, so its 4 taps are
    (w2, w1 + w2, w0 + w1, w0).
    """
    fold = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float64)
    return np.einsum("ak,oikl,bl->ioab", fold, np.asarray(weight, np.float64), fold)


def _is_3x3_same(conv: nn.Conv2D) -> bool:
    return (tuple(conv._kernel_size) == (3, 3) and tuple(conv._stride) == (1, 1)
            and conv._padding in (1, [1, 1], (1, 1), [1, 1, 1, 1]) and conv._groups == 1
            and tuple(conv._dilation) == (1, 1))


class FastResBlock2d(nn.Layer):
    """:class:`ResBlock2d` with Winograd convolutions and ``norm2`` folded into ``conv1``:
    ``x + conv2(ReLU(conv1'(ReLU(s1 x + t1))))``; (B, C, H, W) -> same.

    ``norm1`` (before a ReLU, so not foldable) is applied as a per-channel multiply-add:
    on the plain NCHW tensors between the Winograd layers oneDNN's batch-norm primitive
    falls back to a slow generic kernel, its broadcasting binary ops do not.
    """

    def __init__(self, block: ResBlock2d, m: int = 4):
        super().__init__()
        s1, t1 = bn_affine(block.norm1)
        _buffer(self, "scale1", s1.reshape(1, -1, 1, 1))
        _buffer(self, "shift1", t1.reshape(1, -1, 1, 1))
        s2, t2 = bn_affine(block.norm2)
        w1, b1 = _conv_params(block.conv1)
        w2, b2 = _conv_params(block.conv2)
        self.conv1 = WinogradConv3x3(w1 * s2[:, None, None, None], b1 * s2 + t2, m)
        self.conv2 = WinogradConv3x3(w2, b2, m)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.relu(self.conv1(F.relu(x * self.scale1 + self.shift1)))
        return self.conv2(out) + x


class FastUpBlock2d(nn.Layer):
    """:class:`UpBlock2d` as ``ReLU(conv2d_transpose(x, W', b', stride 2, padding 1))``
    with the BatchNorm folded into W', b'; (B, Cin, H, W) -> (B, Cout, 2H, 2W)."""

    def __init__(self, block: UpBlock2d):
        super().__init__()
        s, t = bn_affine(block.norm)
        w, b = _conv_params(block.conv)
        _buffer(self, "weight", upsample_conv_transpose_filter(w * s[:, None, None, None]))
        _buffer(self, "bias", b * s + t)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(F.conv2d_transpose(x, self.weight, self.bias, stride=2, padding=1))


def _fast_version(layer: nn.Layer, m: int) -> Optional[nn.Layer]:
    if type(layer) is ResBlock2d and _is_3x3_same(layer.conv1) and _is_3x3_same(layer.conv2):
        return FastResBlock2d(layer, m)
    if type(layer) is UpBlock2d and layer.fused:
        return FastUpBlock2d(layer)
    if type(layer) is GridSample:
        return GatherGridSample()
    return None


@contextmanager
def fast_inference_layers(*nets: nn.Layer, winograd_m: int = 4) -> Iterator[int]:
    """Within the block, ``nets`` (eval mode) compute with the fast exact layers.

    Yields the number of layers swapped. The networks are restored on exit, also on error;
    their parameters are never modified.
    """
    swaps: List[Tuple[nn.Layer, str, nn.Layer]] = []
    try:
        with paddle.no_grad():
            for net in nets:
                for parent in [net] + list(net.sublayers()):
                    for name, child in list(parent._sub_layers.items()):
                        fast = _fast_version(child, winograd_m) if child is not None else None
                        if fast is not None:
                            parent._sub_layers[name] = fast
                            swaps.append((parent, name, child))
        logger.debug("fast inference layers: %d swapped", len(swaps))
        yield len(swaps)
    finally:
        for parent, name, child in reversed(swaps):
            parent._sub_layers[name] = child
