"""A GPEN checkpoint's architecture, read from its state-dict names and shapes.

``--enhancer_weight_path`` takes any GPEN checkpoint in PaddleGAN's layout, not only
GPEN-512: the constructor arguments are implied by the weights themselves, so the user
never has to repeat them (and cannot get them wrong):

* ``size``: the encoder has one stage ``ecd{i}`` per resolution from ``size`` down to
  4 px, so ``size = 2 ** (stages + 1)``;
* ``style_dim``: the mapping network's square ``generator.style.1.weight``;
* ``n_mlp``: the number of mapping layers ``generator.style.{i}.weight``;
* ``channel_multiplier``: the first encoder stage has ``channels_for(cm)[size]``
  output channels (at 32 px and below every multiplier gives 512; 2, GPEN's, is kept).

``blur_kernel``, ``lr_mlp`` and ``is_concat`` leave no trace in the shapes that differs
between GPEN's published models; they keep PaddleGAN's defaults. The strict loader
(:func:`~ppgan_fom.enhance.load_gpen`) then checks every name and shape.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Sequence

from ..errors import WeightsError
from ..modules.gpen.generator import channels_for
from .enhancer import GPEN_512, GPENConfig

__all__ = ["gpen_config_from_shapes"]

_STYLE = re.compile(r"^generator\.style\.(\d+)\.weight$")
_STAGE = re.compile(r"^ecd(\d+)\.")


def gpen_config_from_shapes(shapes: Mapping[str, Sequence[int]],
                            source: str = "<state dict>") -> GPENConfig:
    """The :class:`GPENConfig` a flat GPEN state dict was made with.

    Args:
        shapes: name -> shape of every entry (e.g. ``{k: v.shape for k, v in state.items()}``).
        source: the file, for the error message.

    Raises:
        WeightsError: the names are not GPEN's (no mapping network, no encoder).
    """
    styles = [int(m.group(1)) for k in shapes for m in [_STYLE.match(k)] if m]
    stages = {int(m.group(1)) for k in shapes for m in [_STAGE.match(k)] if m}
    first = shapes.get("ecd0.0.0.weight")
    if not styles or not stages or first is None or "generator.style.1.weight" not in shapes:
        raise WeightsError(f"{source}: not a GPEN checkpoint (no generator.style.N / ecdN "
                           f"entries in PaddleGAN's GPEN layout)")
    size = 2 ** (max(stages) + 2)
    if size not in channels_for(1):
        raise WeightsError(f"{source}: GPEN checkpoint for {size} px faces; GPEN supports "
                           f"{min(channels_for(1))}..{max(channels_for(1))} px")
    style_dim = int(shapes["generator.style.1.weight"][0])
    out_channels = int(first[0])
    multiplier = GPEN_512.channel_multiplier
    if channels_for(1)[size] != channels_for(2)[size]:  # the multiplier shows at >= 64 px
        candidates = [cm for cm in range(1, 9) if channels_for(cm)[size] == out_channels]
        if candidates:
            multiplier = candidates[0]
    return dataclasses.replace(GPEN_512, size=size, style_dim=style_dim, n_mlp=len(styles),
                               channel_multiplier=multiplier)
