"""U-Net style hourglass (encoder of down blocks, decoder of up blocks with skips)."""

from __future__ import annotations

from typing import List

import paddle
import paddle.nn as nn

from .down_block import DownBlock2d, MobileDownBlock2d
from .up_block import MobileUpBlock2d, UpBlock2d


def _width(block_expansion: int, max_features: int, level: int) -> int:
    return min(max_features, block_expansion * (2 ** level))


class Encoder(nn.Layer):
    """Returns the list [x, d1, d2, ...] of the input and every down block's output."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        block = MobileDownBlock2d if mobile_net else DownBlock2d
        self.down_blocks = nn.LayerList([
            block(in_features if i == 0 else _width(block_expansion, max_features, i),
                  _width(block_expansion, max_features, i + 1))
            for i in range(num_blocks)])

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        outs = [x]
        for blk in self.down_blocks:
            outs.append(blk(outs[-1]))
        return outs


class Decoder(nn.Layer):
    """Up-samples the deepest map, concatenating each skip; output has
    ``block_expansion + in_features`` channels at the input resolution."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        block = MobileUpBlock2d if mobile_net else UpBlock2d
        blocks = []
        for i in reversed(range(num_blocks)):
            mult = 1 if i == num_blocks - 1 else 2
            blocks.append(block(mult * _width(block_expansion, max_features, i + 1),
                                _width(block_expansion, max_features, i)))
        self.up_blocks = nn.LayerList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, skips: List[paddle.Tensor]) -> paddle.Tensor:
        skips = list(skips)
        out = skips.pop()
        for blk in self.up_blocks:
            out = paddle.concat([blk(out), skips.pop()], axis=1)
        return out


class Hourglass(nn.Layer):
    """(B, in_features, H, W) -> (B, block_expansion + in_features, H, W)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3,
                 max_features: int = 256, mobile_net: bool = False):
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features, mobile_net)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features, mobile_net)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.decoder(self.encoder(x))
