"""Temporal smoothing of box parameters: gap filling by interpolation and a
Gaussian-weighted local-linear fit (no lag on steady motion, no jitter). Pure numpy."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["interpolate_params", "smooth_params", "DEFAULT_SMOOTH_SIGMA"]

#: Standard deviation, in frames, of the temporal smoothing of a track's box.
DEFAULT_SMOOTH_SIGMA = 3.0


def interpolate_params(frames: Sequence[int], params: np.ndarray) -> np.ndarray:
    """Dense per-frame parameters from samples, by linear interpolation.

    Args:
        frames: ``(K,)`` increasing frame indices of the samples.
        params: ``(K, P)`` values at those frames.

    Returns:
        ``(frames[-1] - frames[0] + 1, P)`` float64, one row per frame from the
        first to the last sample; sampled frames keep their values exactly.
    """
    frames = np.asarray(frames, np.int64)
    params = np.asarray(params, np.float64).reshape(len(frames), -1)
    t = np.arange(frames[0], frames[-1] + 1)
    return np.stack([np.interp(t, frames, params[:, k]) for k in range(params.shape[1])], axis=1)


def smooth_params(values: np.ndarray, sigma: float = DEFAULT_SMOOTH_SIGMA) -> np.ndarray:
    """Temporal smoothing of a dense parameter series by a Gaussian-weighted
    local-linear fit (a LOESS of degree 1 with a Gaussian kernel).

    For each frame ``t``, a straight line is fitted by weighted least squares to the
    values at frames ``t - R .. t + R`` (``R = ceil(3 sigma)``, clipped to the
    series) with weights ``exp(-d^2 / (2 sigma^2))``; the fitted value at ``t`` is
    the output. Constant and linear motion pass unchanged (no lag, also at the
    ends, where a plain moving average would lag); frame-to-frame jitter is averaged
    out over roughly ``2.5 sigma`` frames.

    Args:
        values: ``(T, P)`` (or ``(T,)``) series.
        sigma: kernel width in frames; ``<= 0`` returns a copy.

    Returns:
        Array of the same shape, float64.
    """
    y = np.asarray(values, np.float64)
    squeeze = y.ndim == 1
    y = y.reshape(len(y), -1)
    n = len(y)
    if sigma <= 0 or n < 3:
        out = y.copy()
        return out[:, 0] if squeeze else out
    radius = int(np.ceil(3.0 * sigma))
    s0 = np.zeros(n)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    t0 = np.zeros_like(y)
    t1 = np.zeros_like(y)
    idx = np.arange(n)
    for d in range(-radius, radius + 1):
        j = idx + d
        ok = (j >= 0) & (j < n)
        w = np.where(ok, np.exp(-d * d / (2.0 * sigma * sigma)), 0.0)
        yj = y[np.clip(j, 0, n - 1)]
        s0 += w
        s1 += w * d
        s2 += w * d * d
        t0 += w[:, None] * yj
        t1 += (w * d)[:, None] * yj
    det = s0 * s2 - s1 * s1
    safe = det > 1e-9 * np.maximum(s0 * s2, 1e-300)
    fit = np.where(safe[:, None],
                   (s2[:, None] * t0 - s1[:, None] * t1) / np.where(safe, det, 1.0)[:, None],
                   t0 / s0[:, None])
    return fit[:, 0] if squeeze else fit
