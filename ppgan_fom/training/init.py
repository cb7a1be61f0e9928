"""Initialisation for training from scratch, as FOMM (PyTorch 1.0 defaults) and PaddleGAN do.

Convolutions and linear layers: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
(PyTorch's ``kaiming_uniform(a=sqrt(5))``); BatchNorm: weight ~ U(0, 1), bias 0. The
keypoint detector's jacobian head keeps its identity initialisation (zero weights,
bias [1, 0, 0, 1]) so the first jacobians are the identity, as in the original FOMM.
Paddle's random generator is used: call ``paddle.seed`` first for reproducibility.
"""

from __future__ import annotations

import math
from typing import Iterable

import paddle
import paddle.nn as nn

__all__ = ["init_fomm_weights"]

_BN = (nn.BatchNorm2D, nn.BatchNorm, nn.SyncBatchNorm, nn.BatchNorm1D, nn.BatchNorm3D)


def _uniform_(param: paddle.Tensor, low: float, high: float) -> None:
    param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=low, max=high))


@paddle.no_grad()
def init_fomm_weights(layer: nn.Layer, skip: Iterable[nn.Layer] = ()) -> None:
    """Re-initialise every conv / linear / batch-norm sub-layer of ``layer`` except ``skip``."""
    skipped = {id(s) for s in skip}
    for sub in layer.sublayers(include_self=True):
        if id(sub) in skipped:
            continue
        if isinstance(sub, _BN):
            _uniform_(sub.weight, 0.0, 1.0)
            sub.bias.set_value(paddle.zeros(sub.bias.shape, sub.bias.dtype))
        elif isinstance(sub, (nn.Conv2D, nn.Linear)):
            weight = getattr(sub, "weight_orig", None)  # spectral norm keeps the raw weight here
            if weight is None or not isinstance(weight, paddle.Tensor):
                weight = sub.weight
            shape = weight.shape
            fan_in = shape[0] if isinstance(sub, nn.Linear) else \
                int(shape[1] * math.prod(shape[2:]))
            bound = 1.0 / math.sqrt(max(1, fan_in))
            _uniform_(weight, -bound, bound)
            if getattr(sub, "bias", None) is not None:
                _uniform_(sub.bias, -bound, bound)
