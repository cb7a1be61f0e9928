"""GPEN (Yang et al., CVPR 2021, "GAN Prior Embedded Network for Blind Face
Restoration in the Wild"): an encoder whose features drive a StyleGAN2 generator.

Layout and numerics are PaddleGAN's ``ppgan.models.generators.GPEN`` (so its
``GPEN-512.pdparams`` loads by name); see ``docs/enhancement.md``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import paddle
import paddle.nn as nn

from .encoder import encoder_stages
from .equalized import EqualLinear
from .generator import StyleGAN2Generator, channels_for

__all__ = ["GPEN"]


class GPEN(nn.Layer):
    """Blind face restoration network.

    ``forward(x)``: x (B, 3, size, size) RGB in [-1, 1] ->
    ``(image (B, 3, size, size) about [-1, 1], unclipped; latents or None)``.

    The encoder stages ``ecd0..ecd{log2(size)-2}`` produce maps at size, size/2, ..., 4 px;
    the last, flattened, gives the style (``final_linear``: EqualLinear + fused leaky
    ReLU to ``style_dim``), and all of them, coarsest first, are the generator's noise
    inputs. ``is_concat=False`` adds them instead of concatenating; GPEN's published
    models are all ``is_concat=True`` (PaddleGAN's own non-concat path stops early,
    so there is no reference for it).
    """

    def __init__(self, size: int, style_dim: int, n_mlp: int, channel_multiplier: int = 2,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), lr_mlp: float = 0.01,
                 is_concat: bool = True):
        super().__init__()
        self.size = size
        self.log_size = int(math.log2(size))
        self.generator = StyleGAN2Generator(size, style_dim, n_mlp, channel_multiplier,
                                            blur_kernel, lr_mlp, concat=is_concat)
        ch = channels_for(channel_multiplier)
        self.stage_names = [f"ecd{i}" for i in range(self.log_size - 1)]
        for name, stage in zip(self.stage_names, encoder_stages(size, ch, blur_kernel)):
            setattr(self, name, stage)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 4 * 4, style_dim, activate=True))

    def encode(self, x: paddle.Tensor):
        """x (B, 3, size, size) -> (features per stage, finest first; style (B, style_dim))."""
        feats = []
        for name in self.stage_names:
            x = getattr(self, name)(x)
            feats.append(x)
        style = self.final_linear(x.flatten(1))
        return feats, style

    def forward(self, x: paddle.Tensor, return_latents: bool = False
                ) -> Tuple[paddle.Tensor, Optional[paddle.Tensor]]:
        feats, style = self.encode(x)
        return self.generator(style, feats[::-1], return_latents)
