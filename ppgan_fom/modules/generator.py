"""Occlusion-aware generator: encode the source, warp its features, decode."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .border_blend import BORDER, border_blend_map
from .dense_motion import DenseMotionNetwork
from .down_block import DownBlock2d, MobileDownBlock2d
from .grid import make_coordinate_grid, resize_bilinear
from .res_block import MobileResBlock2d, ResBlock2d
from .sampling import GridSample
from .same_block import SameBlock2d
from .up_block import MobileUpBlock2d, UpBlock2d


def _width(be: int, mx: int, level: int) -> int:
    return min(mx, be * (2 ** level))


class OcclusionAwareGenerator(nn.Layer):
    """FOMM generator.

    ``forward(source_image (B, C, H, W) in [0, 1], kp_driving, kp_source)`` returns
    ``prediction`` (B, C, H, W) in (0, 1), ``deformed`` (source warped by the flow,
    (B, C, H, W)), and from the dense motion network ``mask``, ``sparse_deformed``,
    ``deformation`` and ``occlusion_map``.

    ``inference=True`` reproduces PaddleGAN's FirstOrderPredictor: the flow is blended
    to the identity at a 5-pixel border and (non-mobile) the occlusion map is 1 there.
    ``inference=False`` is the original FOMM.
    """

    def __init__(self, num_channels: int, num_kp: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int,
                 estimate_occlusion_map: bool = False, dense_motion_params: Optional[dict] = None,
                 estimate_jacobian: bool = False, inference: bool = False,
                 mobile_net: bool = False):
        super().__init__()
        be, mx = block_expansion, max_features
        self.dense_motion_network = DenseMotionNetwork(
            num_kp=num_kp, num_channels=num_channels, estimate_occlusion_map=estimate_occlusion_map,
            mobile_net=mobile_net, **dense_motion_params) if dense_motion_params is not None else None
        if mobile_net:
            self.first = nn.Sequential(
                SameBlock2d(num_channels, num_channels, 3, 1, mobile_net=True),
                SameBlock2d(num_channels, num_channels, 3, 1, mobile_net=True),
                SameBlock2d(num_channels, be, 3, 1, mobile_net=True))
        else:
            self.first = SameBlock2d(num_channels, be, kernel_size=7, padding=3)
        down = MobileDownBlock2d if mobile_net else DownBlock2d
        up = MobileUpBlock2d if mobile_net else UpBlock2d
        res = MobileResBlock2d if mobile_net else ResBlock2d
        self.down_blocks = nn.LayerList([down(_width(be, mx, i), _width(be, mx, i + 1))
                                         for i in range(num_down_blocks)])
        self.up_blocks = nn.LayerList([
            up(_width(be, mx, num_down_blocks - i), _width(be, mx, num_down_blocks - i - 1))
            for i in range(num_down_blocks)])
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_sublayer(f"r{i}", res(_width(be, mx, num_down_blocks)))
        if mobile_net:
            self.final = nn.Sequential(nn.Conv2D(be, be, 3, padding=1), nn.ReLU(),
                                       nn.Conv2D(be, be, 3, padding=1), nn.ReLU(),
                                       nn.Conv2D(be, num_channels, 3, padding=1))
        else:
            self.final = nn.Conv2D(be, num_channels, 7, padding=3)
        self.warp = GridSample()  # a layer, so the static export can swap in a faster one
        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels
        self.inference = inference
        self.mobile_net = mobile_net

    # ------------------------------------------------------------------ pieces
    def encode(self, source_image: paddle.Tensor) -> paddle.Tensor:
        """Source features before warping: (B, C_feat, H/2^d, W/2^d)."""
        out = self.first(source_image)
        for blk in self.down_blocks:
            out = blk(out)
        return out

    def decode(self, feats: paddle.Tensor) -> paddle.Tensor:
        """Warped features -> image (B, C, H, W) in (0, 1)."""
        out = self.bottleneck(feats)
        for blk in self.up_blocks:
            out = blk(out)
        return F.sigmoid(self.final(out))

    def deform_input(self, inp: paddle.Tensor, deformation: paddle.Tensor) -> paddle.Tensor:
        """Warp ``inp`` (B, C, h, w) by ``deformation`` (B, h', w', 2), resized to (h, w)."""
        _, h_old, w_old, _ = deformation.shape
        h, w = inp.shape[2], inp.shape[3]
        if (h_old, w_old) != (h, w):
            deformation = resize_bilinear(deformation.transpose([0, 3, 1, 2]), (h, w))
            deformation = deformation.transpose([0, 2, 3, 1])
        if self.inference:
            g = paddle.to_tensor(border_blend_map(h, w), dtype=inp.dtype).reshape([1, h, w])
            ident = make_coordinate_grid((h, w), inp.dtype)
            deformation = paddle.stack(
                [g * deformation[:, :, :, i] + (1 - g) * ident[:, :, i].reshape([1, h, w])
                 for i in (0, 1)], axis=-1)
        return self.warp(inp, deformation)

    def occlude(self, feats: paddle.Tensor, occlusion_map: paddle.Tensor):
        """Multiply features by the occlusion map (resized to them); returns
        (features, occlusion map as PaddleGAN reports it)."""
        size = [int(v) for v in feats.shape[2:]]
        resized = size != [int(v) for v in occlusion_map.shape[2:]]
        reported = occlusion_map
        if resized:
            occlusion_map = resize_bilinear(occlusion_map, size)
        if self.inference and not self.mobile_net:
            h, w = size
            inner = np.zeros((1, 1, h, w), np.float32)
            inner[..., BORDER:h - BORDER, BORDER:w - BORDER] = 1.0
            inner = paddle.to_tensor(inner, dtype=occlusion_map.dtype)
            occlusion_map = occlusion_map * inner + (1 - inner)
            if not resized:  # PaddleGAN writes the border in place into the returned map
                reported = occlusion_map
        return feats * occlusion_map, reported

    def forward(self, source_image: paddle.Tensor, kp_driving, kp_source,
                source_features: Optional[paddle.Tensor] = None) -> Dict[str, paddle.Tensor]:
        out = self.encode(source_image) if source_features is None else source_features
        result: Dict[str, paddle.Tensor] = {}
        if self.dense_motion_network is not None:
            dense = self.dense_motion_network(source_image, kp_driving=kp_driving,
                                              kp_source=kp_source)
            result["mask"] = dense["mask"]
            result["sparse_deformed"] = dense["sparse_deformed"]
            result["deformation"] = dense["deformation"]
            out = self.deform_input(out, dense["deformation"])
            if "occlusion_map" in dense:
                out, result["occlusion_map"] = self.occlude(out, dense["occlusion_map"])
            result["deformed"] = self.deform_input(source_image, dense["deformation"])
        result["prediction"] = self.decode(out)
        return result
