"""Multiply-adds of one FOMM frame (keypoints of the driving frame + the generator's
per-frame graph), counted with forward hooks on an eager run.

Two counts:

* ``direct``: the layers as the eager reference runs them (convolutions at their size;
  the up-sampling blocks in their phase form, 4 multiply-adds per output pixel and input
  channel, as the static engine without fast layers exports them);
* ``fast``: what the static engine exports on the CPU (``fast_inference_layers``):
  the Winograd layers' batched matrix products, counted apart from their input and
  output transforms; the transposed-convolution up-sampling (same count as the phase
  form).

Convolutions and matrix products only: elementwise ops, grid sampling and softmax are a
few percent of the multiply-adds and are not counted.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import paddle
import paddle.nn as nn


def _numel(shape) -> int:
    return int(np.prod([int(s) for s in shape]))


def count_frame_macs(generator, kp_detector, image_size: int) -> Dict[str, float]:
    """GMAC per face-frame: ``direct``, ``fast_gemm``, ``fast_transforms`` and ``fast``
    (their sum), and ``bottleneck_direct`` (the residual blocks' share of ``direct``)."""
    from ppgan_fom.modules.inference_layers import (FastResBlock2d, FastUpBlock2d,
                                                    fast_inference_layers)
    from ppgan_fom.modules.res_block import ResBlock2d
    from ppgan_fom.modules.up_block import UpBlock2d
    from ppgan_fom.modules.winograd import WinogradConv3x3

    counts = {"conv": 0, "up": 0, "wino_gemm": 0, "wino_tr": 0, "res": 0}
    res_depth = [0]

    def conv_hook(layer, inputs, out):
        macs = _numel(out.shape) * (layer._in_channels // layer._groups) \
            * int(np.prod(layer._kernel_size))
        counts["conv"] += macs
        if res_depth[0]:
            counts["res"] += macs

    def up_hook(layer, inputs, out):  # phase form / transposed conv: 4 taps per output
        cin = int(inputs[0].shape[1])
        counts["up"] += _numel(out.shape) * cin * 4

    def wino_hook(layer, inputs, out):
        x = inputs[0]
        b, h, w = int(x.shape[0]), int(x.shape[2]), int(x.shape[3])
        tiles = b * (-(-h // layer.m)) * (-(-w // layer.m))
        n2, m2 = layer.n ** 2, layer.m ** 2
        counts["wino_gemm"] += n2 * layer.out_channels * layer.in_channels * tiles
        counts["wino_tr"] += (n2 * n2 * layer.in_channels + m2 * n2 * layer.out_channels) * tiles

    def enter_res(layer, inputs):
        res_depth[0] += 1

    def leave_res(layer, inputs, out):
        res_depth[0] -= 1

    def run(tag: str) -> None:
        hooks = []
        for layer in list(generator.sublayers()) + list(kp_detector.sublayers()):
            if isinstance(layer, nn.Conv2D):
                hooks.append(layer.register_forward_post_hook(conv_hook))
            elif isinstance(layer, (UpBlock2d, FastUpBlock2d)):
                hooks.append(layer.register_forward_post_hook(up_hook))
            elif isinstance(layer, WinogradConv3x3):
                hooks.append(layer.register_forward_post_hook(wino_hook))
            if isinstance(layer, (ResBlock2d, FastResBlock2d)):
                hooks.append(layer.register_forward_pre_hook(enter_res))
                hooks.append(layer.register_forward_post_hook(leave_res))
        try:
            s = image_size
            rng = np.random.RandomState(0)
            src = paddle.to_tensor(rng.rand(1, 3, s, s).astype(np.float32))
            with paddle.no_grad():
                kp_s = kp_detector(src)
                feats = generator.encode(src)
                for k in counts:
                    counts[k] = 0
                kp_d = kp_detector(src)  # per frame: the driving keypoints ...
                generator(src, kp_driving=kp_d, kp_source=kp_s, source_features=feats)
        finally:
            for h in hooks:
                h.remove()
        results[tag] = dict(counts)

    results: Dict[str, Dict[str, int]] = {}
    run("direct")
    with fast_inference_layers(generator, kp_detector):
        run("fast")
    d, f = results["direct"], results["fast"]
    g = 1e9
    return {"direct": (d["conv"] + d["up"]) / g, "bottleneck_direct": d["res"] / g,
            "fast_gemm": (f["conv"] + f["up"] + f["wino_gemm"]) / g,
            "fast_transforms": f["wino_tr"] / g,
            "fast": (f["conv"] + f["up"] + f["wino_gemm"] + f["wino_tr"]) / g}
