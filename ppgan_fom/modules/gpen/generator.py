"""StyleGAN2 generator as GPEN uses it: mapping network + synthesis with external noise.

Channels per resolution follow StyleGAN2 (:func:`channels_for`). With ``concat``
(GPEN), each styled conv's "noise" is a feature map of GPEN's encoder at that
resolution, appended to the activations; a block's convs and its to-RGB therefore
take twice the channels.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn

from .equalized import EqualLinear, PixelNorm
from .styled import ConstantInput, StyledConv, ToRGB

__all__ = ["channels_for", "StyleGAN2Generator"]


def channels_for(channel_multiplier: int) -> Dict[int, int]:
    """Feature channels per resolution: 512 up to 32 px, then 256*cm, 128*cm, 64*cm,
    32*cm, 16*cm at 64..1024 px."""
    table = {res: 512 for res in (4, 8, 16, 32)}
    table.update({64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
                  256: 64 * channel_multiplier, 512: 32 * channel_multiplier,
                  1024: 16 * channel_multiplier})
    return table


class StyleGAN2Generator(nn.Layer):
    """Mapping network (``style``: PixelNorm + ``n_mlp`` EqualLinear, lr_mul ``lr_mlp``,
    fused leaky ReLU) and synthesis network from 4 px up to ``size`` px.

    State-dict names are PaddleGAN's ``StyleGANv2Generator``'s (``style.N``, ``input``,
    ``conv1``, ``to_rgb1``, ``convs.N``, ``to_rgbs.N``, ``noises.noise_N``).
    """

    def __init__(self, size: int, style_dim: int, n_mlp: int, channel_multiplier: int = 2,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1), lr_mlp: float = 0.01,
                 concat: bool = False):
        super().__init__()
        self.size, self.style_dim, self.concat = size, style_dim, concat
        self.log_size = int(math.log2(size))
        if 2 ** self.log_size != size or size < 8:
            raise ValueError(f"StyleGAN2Generator: size must be a power of 2 >= 8, got {size}")
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        ch = channels_for(channel_multiplier)
        self.channels = ch
        mult = 2 if concat else 1

        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True) for _ in range(n_mlp)])
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur_kernel=blur_kernel, concat=concat)
        self.to_rgb1 = ToRGB(ch[4] * mult, style_dim, upsample=False)
        self.convs = nn.LayerList()
        self.to_rgbs = nn.LayerList()
        in_ch = ch[4]
        for res in (2 ** i for i in range(3, self.log_size + 1)):
            out_ch = ch[res]
            self.convs.append(StyledConv(in_ch * mult, out_ch, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel, concat=concat))
            self.convs.append(StyledConv(out_ch * mult, out_ch, 3, style_dim,
                                         blur_kernel=blur_kernel, concat=concat))
            self.to_rgbs.append(ToRGB(out_ch * mult, style_dim, blur_kernel=blur_kernel))
            in_ch = out_ch
        # StyleGAN2's fixed-noise buffers, kept for the state-dict layout; GPEN passes
        # its encoder features as noise and never reads them.
        self.noises = nn.Layer()
        for i in range(self.num_layers):
            side = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", paddle.zeros([1, 1, side, side]))

    def forward(self, w: paddle.Tensor, noise: List[paddle.Tensor],
                return_latents: bool = False):
        """Synthesise images from mapping-network inputs.

        Args:
            w: (B, style_dim) input of the mapping network (GPEN: its encoder's style).
            noise: ``log_size - 1`` maps, coarsest first: noise[0] (B, C4, 4, 4) for
                ``conv1``, noise[j] (B, C, 2^(j+2), 2^(j+2)) for both convs of block j.
            return_latents: also return the per-layer latents (B, n_latent, style_dim).

        Returns:
            (image (B, 3, size, size) unclipped, about [-1, 1]; latents or None)
        """
        latent = self.style(w)  # one style for every layer (no mixing)
        out = self.conv1(self.input(), latent, noise[0])
        skip = self.to_rgb1(out, latent)
        for j, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * j](out, latent, noise[j + 1])
            out = self.convs[2 * j + 1](out, latent, noise[j + 1])
            skip = to_rgb(out, latent, skip)
        latents: Optional[paddle.Tensor] = None
        if return_latents:
            latents = latent.unsqueeze(1).tile([1, self.n_latent, 1])
        return skip, latents
