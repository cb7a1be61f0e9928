"""S3FD face detector network (VGG16 trunk) in Paddle.

Layer names equal PaddleGAN's ``s3fd`` state dict, so its ``s3fd_paddle.pdparams``
loads by name (65 tensors, 22,459,110 float32 values).

Input: ``(B, 3, H, W)`` float32, **BGR** channel order, minus the means
``[104, 117, 123]``, no scaling. Output: 12 tensors ``[cls1, reg1, ..., cls6,
reg6]``; ``cls`` are ``(B, 2, h, w)`` logits (background, face), ``reg`` are
``(B, 4, h, w)`` box offsets, for strides 4, 8, 16, 32, 64, 128.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["S3FDNet", "L2Norm", "BGR_MEAN", "param_shapes"]

BGR_MEAN = (104.0, 117.0, 123.0)

# (name, in_channels, out_channels) of the 3x3 VGG convolutions, grouped by stage;
# a 2x2 max-pool follows each stage.
_VGG_STAGES: Tuple[Tuple[Tuple[str, int, int], ...], ...] = (
    (("conv1_1", 3, 64), ("conv1_2", 64, 64)),
    (("conv2_1", 64, 128), ("conv2_2", 128, 128)),
    (("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256)),
    (("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512)),
    (("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)),
)

# detection sources: (feature name, channels, confidence channels)
_HEADS: Tuple[Tuple[str, int, int], ...] = (
    ("conv3_3_norm", 256, 4),
    ("conv4_3_norm", 512, 2),
    ("conv5_3_norm", 512, 2),
    ("fc7", 1024, 2),
    ("conv6_2", 512, 2),
    ("conv7_2", 256, 2),
)


def param_shapes() -> Dict[str, Tuple[int, ...]]:
    """State-dict names and shapes of :class:`S3FDNet`, without building it."""
    convs: List[Tuple[str, int, int, int]] = [
        (name, cin, cout, 3) for stage in _VGG_STAGES for name, cin, cout in stage]
    convs += [("fc6", 512, 1024, 3), ("fc7", 1024, 1024, 1), ("conv6_1", 1024, 256, 1),
              ("conv6_2", 256, 512, 3), ("conv7_1", 512, 128, 1), ("conv7_2", 128, 256, 3)]
    shapes: Dict[str, Tuple[int, ...]] = {}
    for name, cin, cout, k in convs:
        shapes[f"{name}.weight"] = (cout, cin, k, k)
        shapes[f"{name}.bias"] = (cout,)
    for name, channels in (("conv3_3_norm", 256), ("conv4_3_norm", 512), ("conv5_3_norm", 512)):
        shapes[f"{name}.weight"] = (channels,)
    for name, channels, conf in _HEADS:
        for suffix, cout in (("mbox_conf", conf), ("mbox_loc", 4)):
            shapes[f"{name}_{suffix}.weight"] = (cout, channels, 3, 3)
            shapes[f"{name}_{suffix}.bias"] = (cout,)
    return shapes


class L2Norm(nn.Layer):
    """Channel-wise L2 normalisation with a learned per-channel scale.

    ``y = x / (sqrt(sum_c x**2) + 1e-10) * weight[c]``; ``weight`` starts at ``scale``.
    """

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        self.eps = 1e-10
        self.weight = self.create_parameter(
            [channels], default_initializer=nn.initializer.Constant(scale))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        norm = paddle.sqrt(paddle.sum(x * x, axis=1, keepdim=True)) + self.eps
        return x / norm * self.weight.reshape([1, -1, 1, 1])


class S3FDNet(nn.Layer):
    """Single Shot Scale-invariant Face Detector (Zhang et al., 2017)."""

    def __init__(self) -> None:
        super().__init__()
        for stage in _VGG_STAGES:
            for name, cin, cout in stage:
                setattr(self, name, nn.Conv2D(cin, cout, 3, padding=1))
        # fc6 is a plain 3x3 conv with padding 3 (no dilation): maps grow by 4
        self.fc6 = nn.Conv2D(512, 1024, 3, padding=3)
        self.fc7 = nn.Conv2D(1024, 1024, 1)
        self.conv6_1 = nn.Conv2D(1024, 256, 1)
        self.conv6_2 = nn.Conv2D(256, 512, 3, stride=2, padding=1)
        self.conv7_1 = nn.Conv2D(512, 128, 1)
        self.conv7_2 = nn.Conv2D(128, 256, 3, stride=2, padding=1)
        self.conv3_3_norm = L2Norm(256, 10.0)
        self.conv4_3_norm = L2Norm(512, 8.0)
        self.conv5_3_norm = L2Norm(512, 5.0)
        for name, channels, conf in _HEADS:
            setattr(self, f"{name}_mbox_conf", nn.Conv2D(channels, conf, 3, padding=1))
            setattr(self, f"{name}_mbox_loc", nn.Conv2D(channels, 4, 3, padding=1))

    def _trunk(self, x: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        feats: Dict[str, paddle.Tensor] = {}
        for stage in _VGG_STAGES:
            for name, _, _ in stage:
                x = F.relu(getattr(self, name)(x))
            feats[stage[-1][0]] = x
            x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.fc6(x))
        x = F.relu(self.fc7(x))
        feats["fc7"] = x
        x = F.relu(self.conv6_2(F.relu(self.conv6_1(x))))
        feats["conv6_2"] = x
        x = F.relu(self.conv7_2(F.relu(self.conv7_1(x))))
        feats["conv7_2"] = x
        feats["conv3_3_norm"] = self.conv3_3_norm(feats["conv3_3"])
        feats["conv4_3_norm"] = self.conv4_3_norm(feats["conv4_3"])
        feats["conv5_3_norm"] = self.conv5_3_norm(feats["conv5_3"])
        return feats

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        """Run the network; see the module docstring for shapes."""
        feats = self._trunk(x)
        outputs: List[paddle.Tensor] = []
        for name, _, _ in _HEADS:
            conf = getattr(self, f"{name}_mbox_conf")(feats[name])
            loc = getattr(self, f"{name}_mbox_loc")(feats[name])
            if conf.shape[1] == 4:
                conf = self.maxout(conf)
            outputs += [conf, loc]
        return outputs

    @staticmethod
    def maxout(conf: paddle.Tensor) -> paddle.Tensor:
        """Level-1 "max-out" background: ``[max(c0, c1, c2), c3]`` over channels."""
        background = paddle.max(conf[:, 0:3], axis=1, keepdim=True)
        return paddle.concat([background, conf[:, 3:4]], axis=1)
