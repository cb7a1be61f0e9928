"""VGG19 feature extractor for FOMM's perceptual loss (ImageNet weights, frozen).

Only ``features[0:30]`` of torchvision's / Paddle's VGG19 are built (up to relu5_1); the
five outputs are relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1. Weights are PaddleGAN's
``vgg19.pdparams`` (Paddle's ``vision.models.vgg19`` layout: ``features.<i>.weight``)
resolved through :func:`ppgan_fom.weights.resolve_weights` (registry name ``vgg19``);
offline and not cached, that raises a :class:`~ppgan_fom.errors.WeightsError` that names
the file and URL. Train without it with ``--no_perceptual``.
"""

from __future__ import annotations

import logging
import os
from typing import List, Optional

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import WeightsError
from ..checkpoint import load_checkpoint, validate_state_dict
from ..weights import resolve_weights

logger = logging.getLogger(__name__)

__all__ = ["VGG19Features", "load_vgg19", "SLICE_ENDS"]

# VGG19 convolution widths up to conv5_1; "M" = 2x2 max-pool
_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
#: index (exclusive) in ``features`` where each of the 5 outputs is taken
SLICE_ENDS = (2, 7, 12, 21, 30)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Layer):
    """forward(x (B, 3, H, W) RGB in [0, 1]) -> list of ``num_outputs`` feature maps
    (ImageNet normalisation applied inside)."""

    def __init__(self, num_outputs: int = 5):
        super().__init__()
        if not 1 <= num_outputs <= 5:
            raise ValueError(f"num_outputs must be 1..5, got {num_outputs}")
        layers: List[nn.Layer] = []
        c_in = 3
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2D(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2D(c_in, item, 3, padding=1), nn.ReLU()]
                c_in = item
        self.ends = SLICE_ENDS[:num_outputs]
        self.features = nn.Sequential(*layers[:self.ends[-1]])
        for name, value in (("mean", _MEAN), ("std", _STD)):
            arr = np.array(value, np.float32).reshape(1, 3, 1, 1)
            self.register_buffer(name, paddle.to_tensor(arr), persistable=False)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        out = (x - self.mean) / self.std
        feats, start = [], 0
        for end in self.ends:
            for i in range(start, end):
                out = self.features[i](out)
            feats.append(out)
            start = end
        return feats


def load_vgg19(name_or_path: str = "vgg19", num_outputs: int = 5,
               state: Optional[dict] = None) -> VGG19Features:
    """A frozen, eval-mode :class:`VGG19Features` with ImageNet weights.

    Args:
        name_or_path: registry name (``vgg19``) or a ``.pdparams`` path.
        num_outputs: how many of the 5 feature levels the loss uses (fewer = cheaper).
        state: an already loaded state dict (tests).

    Raises:
        WeightsError: weights unavailable (offline: names file + URL) or not VGG19's.
    """
    net = VGG19Features(num_outputs)
    if state is None:
        try:
            path = resolve_weights(name_or_path)
        except WeightsError as exc:
            raise WeightsError(f"{exc} - the VGG19 perceptual loss needs these ImageNet "
                               f"weights; to train without it pass --no_perceptual (pixel "
                               f"L1 pyramid loss instead)") from None
        state = load_checkpoint(path)
    else:
        path = "<state>"
    if not isinstance(state, dict):  # pragma: no cover - load_checkpoint returns dicts
        raise WeightsError(f"{path}: not a VGG19 checkpoint")
    own = net.state_dict()
    picked = {}
    for key in own:
        for cand in (key, key[len("features."):]):
            if cand in state:
                picked[key] = np.asarray(state[cand])
                break
    validate_state_dict({k: tuple(v.shape) for k, v in own.items()}, picked, "vgg19",
                        os.fspath(path))
    with paddle.no_grad():
        for k, v in picked.items():
            own[k].set_value(v.astype(np.float32))
    for p in net.parameters():
        p.stop_gradient = True
    net.eval()
    logger.info("VGG19 perceptual features loaded from %s (%d levels)", path, num_outputs)
    return net
