"""Minimal stand-in for the removed ``paddle.fluid`` package (paddle >= 2.6).

ppgan 2.1.0 still touches ``paddle.fluid`` in two places that matter for
First Order Motion inference:

* ``ppgan/models/starganv2_model.py`` does
  ``from paddle.fluid.layers.nn import soft_relu`` at import time, and
  ``ppgan/models/__init__.py`` imports that module, so importing *any*
  ppgan model (including the FOMM generator) fails without it;
* ``AntiAliasInterpolation2d.forward`` calls
  ``paddle.fluid.layers.resize_nearest(out, scale=...)`` on every KPDetector
  and DenseMotionNetwork forward pass.

This package provides exactly those two functions, nothing else.  Call
:func:`install` (after ``import paddle``) to register it as ``paddle.fluid``
in ``sys.modules`` and as the attribute ``paddle.fluid``.

``resize_nearest`` deliberately does *not* emulate the legacy
``align_corners=True`` nearest kernel of paddle <= 2.5: it subsamples with a
stride of ``1/scale`` (``x[:, :, ::k, ::k]``), which is what the original
FOMM code and current PaddleGAN do and what the project's golden vectors were
computed with (golden README section 9.2).
"""
import sys

from . import layers
from .layers import nn as _layers_nn

__all__ = ["layers", "install"]


def install():
    """Register this package as ``paddle.fluid`` (idempotent).

    Returns the module object now reachable as ``paddle.fluid``.
    """
    import paddle

    me = sys.modules[__name__]
    existing = sys.modules.get("paddle.fluid")
    if existing is not None and existing is not me:
        # A real paddle.fluid (paddle < 2.6) is present: leave it alone.
        return existing
    sys.modules["paddle.fluid"] = me
    sys.modules["paddle.fluid.layers"] = layers
    sys.modules["paddle.fluid.layers.nn"] = _layers_nn
    paddle.fluid = me
    return me
