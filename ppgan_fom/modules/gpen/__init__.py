"""GPEN face restoration network (PaddleGAN's layout) and its StyleGAN2 building blocks."""

from .encoder import ConvLayer, encoder_stages
from .equalized import EqualConv2d, EqualLinear, FusedLeakyReLU, PixelNorm, fused_leaky_relu
from .generator import StyleGAN2Generator, channels_for
from .gpen import GPEN
from .modulated import ModulatedConv2d
from .styled import ConstantInput, NoiseInjection, StyledConv, ToRGB
from .upfirdn import Blur, Upsample, make_kernel, upfirdn2d

__all__ = ["GPEN", "StyleGAN2Generator", "channels_for", "ConvLayer", "encoder_stages",
           "EqualConv2d", "EqualLinear", "FusedLeakyReLU", "PixelNorm", "fused_leaky_relu",
           "ModulatedConv2d", "ConstantInput", "NoiseInjection", "StyledConv", "ToRGB",
           "Blur", "Upsample", "make_kernel", "upfirdn2d"]
