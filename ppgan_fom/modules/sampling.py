"""Bilinear warping (``grid_sample``, zeros padding, ``align_corners=True``) as a layer.

:class:`GridSample` is the reference (Paddle's ``F.grid_sample``). Paddle's CPU kernel
reads every corner value channel by channel in a scalar loop on one thread; for the
256-channel 64 x 64 feature warp of vox-256 it is about 10 % of a frame in the static
engine. :class:`GatherGridSample` computes the same function with vectorised ops: the four
corner rows of a channels-last copy are gathered (``C`` contiguous floats each) and
combined with the bilinear weights, using Paddle's CPU formulas (pixel coordinate
``(g + 1) * (size - 1) / 2``; weights from the distances to the west/east/north/south
neighbours; corners outside the image contribute zero) in the same order, so it
agrees with ``F.grid_sample`` to float rounding (~2e-7 relative). The static engine
exports it through :mod:`.inference_layers`.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["GridSample", "GatherGridSample"]


class GridSample(nn.Layer):
    """``forward(x (B, C, H, W), grid (B, h, w, 2) (x, y) in [-1, 1]) -> (B, C, h, w)``:
    bilinear sampling, zeros outside the image, ``align_corners=True``."""

    def forward(self, x: paddle.Tensor, grid: paddle.Tensor) -> paddle.Tensor:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=True)


def _floor(v: paddle.Tensor) -> paddle.Tensor:
    """Exact floor of float values within int32 range, as int32."""
    t = v.astype("int32")
    return t - (v < t.astype(v.dtype)).astype("int32")


class GatherGridSample(nn.Layer):
    """Same function as :class:`GridSample`, computed with row gathers (see module doc)."""

    def forward(self, x: paddle.Tensor, grid: paddle.Tensor) -> paddle.Tensor:
        c, h, w = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
        ho, wo = int(grid.shape[1]), int(grid.shape[2])
        p = ho * wo
        # pixel coordinates; clipping to [-2, size + 1] changes no result (a corner outside
        # [0, size - 1] contributes zero either way) and keeps the floor below exact
        px = paddle.clip((grid[:, :, :, 0] + 1.0) * ((w - 1) * 0.5), -2.0, w + 1.0)
        py = paddle.clip((grid[:, :, :, 1] + 1.0) * ((h - 1) * 0.5), -2.0, h + 1.0)
        # floor from an integer cast (which truncates towards zero), exact: Paddle
        # Inference 3.3's in-place pass runs floor() over its input even when that
        # input is used again
        x_w, y_n = _floor(px), _floor(py)
        xw_f, yn_f = x_w.astype(x.dtype), y_n.astype(x.dtype)
        d_w, d_e = px - xw_f, (xw_f + 1.0) - px
        d_n, d_s = py - yn_f, (yn_f + 1.0) - py
        corners = ((x_w, y_n, d_e, d_s), (x_w + 1, y_n, d_w, d_s),
                   (x_w, y_n + 1, d_e, d_n), (x_w + 1, y_n + 1, d_w, d_n))
        # (B*H*W, C): each gathered corner is one contiguous row of C values
        rows = x.transpose([0, 2, 3, 1]).reshape([-1, c])
        offset = (paddle.arange(paddle.shape(x)[0], dtype="int64") * (h * w)).reshape([-1, 1, 1])
        out = None
        for xi, yi, dx, dy in corners:
            inside = ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)).astype(x.dtype)
            idx = (paddle.clip(yi, 0, h - 1) * w + paddle.clip(xi, 0, w - 1)).astype("int64")
            vals = paddle.gather(rows, (idx + offset).reshape([-1])).reshape([-1, p, c])
            # weights expanded to (B, P, C): a same-shape product is vectorised in oneDNN,
            # a broadcast over the last axis is not
            wgt = (dx * dy * inside).reshape([-1, p, 1]).expand([-1, p, c])
            term = vals * wgt
            out = term if out is None else out + term
        # (B, P, C) -> (B, C, ho, wo). Transposing the 3-D tensor and reshaping after it:
        # ending with a 4-D transpose, Paddle Inference 3.3 fused it with the reshape of
        # DenseMotionNetwork.deform_source into a mis-typed op (the graph did not load)
        return out.transpose([0, 2, 1]).reshape([-1, c, ho, wo])
