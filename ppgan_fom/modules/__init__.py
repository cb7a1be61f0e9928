"""FOMM networks (and the GPEN face enhancer) in PaddlePaddle, with PaddleGAN's state-dict names."""

from .antialias import AntiAliasInterpolation2d
from .dense_motion import DenseMotionNetwork
from .down_block import DownBlock2d, MobileDownBlock2d
from .generator import OcclusionAwareGenerator
from .gpen import GPEN
from .hourglass import Decoder, Encoder, Hourglass
from .keypoint_detector import KPDetector
from .res_block import MobileResBlock2d, ResBlock2d
from .same_block import SameBlock2d
from .up_block import MobileUpBlock2d, UpBlock2d

__all__ = ["AntiAliasInterpolation2d", "DenseMotionNetwork", "DownBlock2d", "MobileDownBlock2d",
           "OcclusionAwareGenerator", "GPEN", "Decoder", "Encoder", "Hourglass", "KPDetector",
           "MobileResBlock2d", "ResBlock2d", "SameBlock2d", "MobileUpBlock2d", "UpBlock2d"]
