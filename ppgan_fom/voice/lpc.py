"""Linear prediction on batches of frames: autocorrelation, Levinson-Durbin, poles.

All functions work on many frames at once (leading axis = frame) so that the
per-frame Python overhead stays out of the audio loop. Written by hand because
no maintained numpy/scipy function does a *batched* Levinson recursion
(``scipy.linalg.solve_toeplitz`` solves one system per call; ``librosa.lpc``
uses Burg's method and would add librosa to the core dependencies).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["autocorrelation", "levinson", "lpc_poles", "poly_from_roots"]


def autocorrelation(frames: np.ndarray, order: int) -> np.ndarray:
    """Linear (not circular) autocorrelation lags 0..order of each frame.

    frames: (K, N) float64. Returns (K, order + 1) float64.
    """
    n = frames.shape[-1]
    nfft = scipy.fft.next_fast_len(n + order + 1, real=True)
    spec = scipy.fft.rfft(frames, nfft, axis=-1)
    power = spec.real * spec.real + spec.imag * spec.imag
    return scipy.fft.irfft(power, nfft, axis=-1)[..., : order + 1]


def levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Prediction-error filter ``a`` (a[:, 0] == 1) from autocorrelation lags.

    r: (K, >= order + 1) float64 with r[:, 0] > 0. Returns (K, order + 1): the
    analysis filter A(z) = sum_k a[k] z^-k of each frame. For a valid
    (positive definite) autocorrelation every reflection coefficient has
    |k| < 1, so A(z) is minimum phase and 1/A(z) stable.
    """
    k_frames = r.shape[0]
    a = np.zeros((k_frames, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("kj,kj->k", a[:, 1:i], r[:, i - 1 : 0 : -1])
        refl = -acc / err
        # guard against |k| >= 1 from rounding on (near-)singular frames
        np.clip(refl, -0.999999, 0.999999, out=refl)
        a[:, 1:i] = a[:, 1:i] + refl[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = refl
        err = err * (1.0 - refl * refl)
    return a


def lpc_poles(a: np.ndarray) -> np.ndarray:
    """Roots of each A(z) (the poles of 1/A(z)).

    a: (K, p + 1) with a[:, 0] == 1. Returns (K, p) complex128. Eigenvalues of the
    companion matrices, batched in one LAPACK call; complex roots come in exact
    conjugate pairs and real roots have an imaginary part of exactly 0.
    """
    k_frames, p1 = a.shape
    p = p1 - 1
    comp = np.zeros((k_frames, p, p))
    comp[:, 0, :] = -a[:, 1:]
    comp[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    return np.linalg.eigvals(comp).astype(np.complex128)


def poly_from_roots(roots: np.ndarray) -> np.ndarray:
    """Monic polynomial coefficients (highest power first) of each row of roots.

    roots: (K, p) complex, closed under conjugation per row. Returns (K, p + 1)
    float64 (the imaginary part, pure rounding, is dropped).
    """
    k_frames, p = roots.shape
    c = np.zeros((k_frames, p + 1), dtype=np.complex128)
    c[:, 0] = 1.0
    for i in range(p):
        # multiply by (z - root_i): c[1:i+2] -= root_i * c[0:i+1]
        c[:, 1 : i + 2] -= roots[:, i : i + 1] * c[:, 0 : i + 1]
    return c.real.copy()
