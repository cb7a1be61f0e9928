"""Winograd minimal filtering F(m x m, 3 x 3): a 3x3 convolution with fewer multiplications.

A stride-1, padding-1 3x3 convolution is computed tile by tile: every m x m output tile
reads an n x n input patch (n = m + 2). With the transforms of Winograd's minimal
filtering algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
2016),

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* is the elementwise product)

the n x n products of the transformed patch and filter replace the 9 m^2 products of
the direct convolution. Summed over input channels, the products become n^2 independent
matrix products (Cout x Cin) @ (Cin x tiles): for F(4x4, 3x3) 36 instead of 144
multiply-adds per output pixel and input channel (4x fewer).

The matrices come from the Toom-Cook construction on the interpolation points
0, 1, -1, 2, -2, ... (plus the point at infinity), computed here in exact rational
arithmetic, so no table is copied by hand. The filter transform is done once, in float64,
when the layer is built; only the input and output transforms and the matrix products run
per call. All steps are standard Paddle ops, so the layer exports to static graphs and
runs under Paddle Inference (oneDNN on the CPU).

This is the same linear map as the direct convolution; only float rounding differs
(about 2e-5 relative for F(4x4, 3x3) with 256 channels; ``tests/test_winograd.py``).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ["toom_cook", "transform_filter", "WinogradConv3x3"]

# interpolation points in the usual order of increasing magnitude (small points keep
# the transforms well conditioned); n - 1 of them are used, plus infinity
_POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2),
           Fraction(1, 2), Fraction(-1, 2), Fraction(3), Fraction(-3))


def _poly_mul(a: Sequence[Fraction], b: Sequence[Fraction]) -> list:
    """Product of two polynomials given by ascending coefficients."""
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


@lru_cache(maxsize=None)
def toom_cook(m: int, r: int = 3) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transform matrices of F(m, r) (1-D; the 2-D algorithm nests them).

    With n = m + r - 1 and points p_0 .. p_{n-2} (plus infinity):
    ``B^T`` row j holds the coefficients of prod_{l != j} (x - p_l) (the last row those of
    prod_l (x - p_l)), ``G`` row j is p_j^k / prod_{l != j} (p_j - p_l) (last row
    (0, .., 0, 1)), and ``A^T[i, j] = p_j^i`` (last column (0, .., 0, 1)). Then for any
    signal d (n,) and filter g (r,), ``A^T ((G g) * (B^T d))`` equals the correlation
    ``y_i = sum_k d_{i+k} g_k``, i < m.

    Returns:
        (A^T (m, n), G (n, r), B^T (n, n)) as float64 arrays (exact rationals rounded once).
    """
    n = m + r - 1
    if m < 1 or r < 1 or n - 1 > len(_POINTS):
        raise ValueError(f"F({m}, {r}) is not supported")
    pts = _POINTS[:n - 1]
    bt, g = [], []
    for j, pj in enumerate(pts):
        poly, denom = [Fraction(1)], Fraction(1)
        for l, pl in enumerate(pts):
            if l != j:
                poly = _poly_mul(poly, [-pl, Fraction(1)])
                denom *= pj - pl
        bt.append(poly + [Fraction(0)])
        g.append([pj ** k / denom for k in range(r)])
    full = [Fraction(1)]
    for pl in pts:
        full = _poly_mul(full, [-pl, Fraction(1)])
    bt.append(full)
    g.append([Fraction(0)] * (r - 1) + [Fraction(1)])
    at = [[pj ** i for pj in pts] + [Fraction(int(i == m - 1))] for i in range(m)]

    def arr(rows):
        out = np.array([[float(v) for v in row] for row in rows], np.float64)
        out.setflags(write=False)
        return out

    return arr(at), arr(g), arr(bt)


def transform_filter(weight: np.ndarray, m: int) -> np.ndarray:
    """Filters (Cout, Cin, 3, 3) -> Winograd domain (n*n, Cout, Cin), float64: ``G g G^T``
    per filter, flattened row-major over the n x n positions."""
    _, g, _ = toom_cook(m)
    n = m + 2
    w = np.asarray(weight, np.float64)
    u = np.einsum("ak,oikl,bl->aboi", g, w, g)
    return u.reshape(n * n, w.shape[0], w.shape[1])


class WinogradConv3x3(nn.Layer):
    """Exact drop-in for ``Conv2D(Cin, Cout, 3, stride=1, padding=1)`` (NCHW, float32).

    forward: (B, Cin, H, W) -> (B, Cout, H, W), any H, W >= 1 (tiles past the border read
    zeros and are cropped). The weights are fixed at construction (an inference layer:
    no gradients flow to the original convolution).

    Per call:
      1. input transform ``B^T d B`` of every n x n patch (stride m), as one 3-D
         convolution over the (channel, row, column) volume with the n^2 rows of
         ``kron(B^T, B^T)`` as filters: (B, n^2, Cin, tiles), transform index first, so
         no transpose is needed before step 2;
      2. n^2 matrix products (Cout, Cin) @ (Cin, tiles), batched;
      3. output transform ``A^T M A`` as one matrix product with ``kron(A^T, A^T)``, then
         the m x m tiles are interleaved back into the image and the bias added.

    Args:
        weight: (Cout, Cin, 3, 3) filters.
        bias: (Cout,) or None.
        m: output tile size (2, 4 or 6; 4 is the best trade-off of work and rounding).
    """

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray] = None, m: int = 4):
        super().__init__()
        weight = np.asarray(weight)
        if weight.ndim != 4 or weight.shape[2:] != (3, 3):
            raise ValueError(f"WinogradConv3x3 needs (Cout, Cin, 3, 3) filters, got {weight.shape}")
        at, _, bt = toom_cook(m)
        n = m + 2
        self.m, self.n = m, n
        self.out_channels, self.in_channels = int(weight.shape[0]), int(weight.shape[1])
        u = transform_filter(weight, m)[None]                      # (1, n^2, Cout, Cin)
        kin = np.kron(bt, bt).reshape(n * n, 1, 1, n, n)          # 3-D conv filters
        kout = np.kron(at, at)                                     # (m^2, n^2)
        b = np.zeros(self.out_channels) if bias is None else np.asarray(bias, np.float64)
        for name, value in (("u", u), ("kin", kin), ("kout", kout),
                            ("bias", b.reshape(1, -1, 1, 1))):
            self.register_buffer(name, paddle.to_tensor(value.astype(np.float32)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        m, n, c, co = self.m, self.n, self.in_channels, self.out_channels
        h, w = int(x.shape[2]), int(x.shape[3])
        th, tw = -(-h // m), -(-w // m)
        t = th * tw
        v = x.reshape([-1, 1, c, h, w])
        if th * m != h or tw * m != w:  # whole tiles: zeros past the bottom/right border
            v = F.pad(v, [0, tw * m - w, 0, th * m - h, 0, 0], data_format="NCDHW")
        # 1. (B, 1, Cin, H+2, W+2) -> (B, n^2, Cin, th, tw); padding 1 is the conv's own
        v = F.conv3d(v, self.kin, stride=[1, m, m], padding=[0, 1, 1])
        # 2. per transform position: (Cout, Cin) @ (Cin, tiles)
        prod = paddle.matmul(self.u, v.reshape([-1, n * n, c, t]))   # (B, n^2, Cout, T)
        # 3. (B*Cout, n^2, T) -> (B*Cout, m^2, T) -> interleave the tiles
        prod = prod.transpose([0, 2, 1, 3]).reshape([-1, n * n, t])
        y = paddle.matmul(self.kout, prod)
        y = y.reshape([-1, co, m, m, th, tw]).transpose([0, 1, 4, 2, 5, 3])
        y = y.reshape([-1, co, th * m, tw * m])
        if th * m != h or tw * m != w:
            y = y[:, :, :h, :w]
        return y + self.bias
