"""``paddle.fluid.layers`` stand-in: only what ppgan 2.1.0 FOMM inference uses."""
from . import nn
from .nn import resize_nearest, soft_relu

__all__ = ["nn", "resize_nearest", "soft_relu"]
