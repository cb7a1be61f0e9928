"""The McAdams-coefficient transform of one batch of frames.

Per frame (the VoicePrivacy Challenge B2 baseline, Patino et al. 2021):
LPC analysis, the angle of every complex pole raised to the power ``alpha``
(radius kept), and resynthesis of the frame's LPC residual through the new
all-pole filter. Done in the frequency domain, Y = X * A / A_new, for a whole
batch of frames at once; the result is truncated to the frame length as in the
baseline.

Differences from the baseline, and why:

* The coefficient was defined and evaluated on 16 kHz speech. Above 16 kHz the
  LPC model covers 0-8 kHz only (selective linear prediction, Makhoul 1975: the
  autocorrelation is taken from that part of the power spectrum), so the pole
  search, the angles and the order (20) are exactly those of the baseline at any
  rate, and the pole search does not grow with the sample rate. The envelope
  change found at the top of the model's band is held constant above it. Below
  16 kHz the model covers the whole band and the angles are mapped on the 16 kHz
  frequency axis, so a coefficient means the same formant shift at every rate.
* A preceding pitch shift by ``pre_scale`` moved the formants too. The envelope the
  McAdams step works on is the *original* one: its LPC model is fitted to the
  frame's power spectrum read on a frequency axis divided by ``pre_scale``, and the
  new envelope is evaluated on an axis multiplied by ``post_scale`` (the formant
  shift). Scaling the axis keeps the envelope's shape; moving every pole angle by
  the same factor instead would tilt the spectrum by tens of dB.
* The model stops where the signal's band does (``model_rate_for``): a model
  spanning an empty band has a deep valley there which, once moved, would boost
  that band's noise or carve a hole next to it.
* Each output frame is scaled to the energy of its input frame, which keeps the
  loudness contour without a file-wide normalisation (impossible when streaming).
* A -40 dB white-noise floor on the autocorrelation keeps the poles away from the
  unit circle on band-limited audio.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from .lpc import levinson, lpc_poles, poly_from_roots

__all__ = ["REFERENCE_RATE", "warp_pole_angles", "McAdamsTransform", "default_lpc_order",
           "model_rate_for", "original_model_rate"]

#: sample rate (Hz) at which the McAdams coefficient is defined (LibriSpeech, VPC)
REFERENCE_RATE = 16000.0
_NOISE_FLOOR = 1e-4  # white-noise correction of r[0] (-40 dB)
_MAX_GAIN = 100.0  # energy-match gain limit (+40 dB): never blow up numerical dust
_MAX_ANGLE = math.pi * 0.995
_KNEE = math.pi * 0.9


def model_rate_for(sample_rate: float, pre_scale: float = 1.0) -> float:
    """Rate (Hz) of the LPC model of the analysed signal: twice the band it covers.
    16 kHz (0-8 kHz, the baseline's) when the signal has that band, less when it does
    not: at lower rates, and when a pitch shift left the top of the band empty (down:
    above ``pre_scale`` times Nyquist; up: above the anti-alias filter's pass band)."""
    rate = min(float(sample_rate), REFERENCE_RATE)
    if pre_scale < 1.0:
        rate = min(rate, 0.97 * pre_scale * sample_rate)
    elif pre_scale > 1.0:
        rate = min(rate, 0.88 * sample_rate)
    return rate


def original_model_rate(sample_rate: float, pre_scale: float = 1.0) -> float:
    """Rate (Hz) of the LPC model of the original (pre-shift) envelope."""
    return min(REFERENCE_RATE, model_rate_for(sample_rate, pre_scale) / pre_scale)


def default_lpc_order(sample_rate: float, pre_scale: float = 1.0) -> int:
    """LPC order: 20 (the baseline's) for a 0-8 kHz model, ``band / 500 Hz + 4``
    for a narrower one (12 at 8 kHz)."""
    return int(max(8, round(original_model_rate(sample_rate, pre_scale) / 1000.0) + 4))


def warp_pole_angles(poles: np.ndarray, alpha: float, model_rate: float) -> np.ndarray:
    """Move the complex poles' angles with the McAdams mapping; radii unchanged.

    poles: (..., p) complex, conjugate-closed, of an LPC model sampled at
    ``model_rate`` Hz. An angle theta is expressed on the 16 kHz axis, raised to
    ``alpha`` and mapped back (at 16 kHz: ``angle ** alpha``, the baseline). Below
    16 kHz a pole can land above pi; it is capped below pi, and a pole moved above
    0.9 pi fades out (radius to 0 at pi) rather than piling up at the band edge.
    Real poles (imaginary part exactly 0) stay where they are, as in the baseline.
    Returns the new poles, same shape.
    """
    theta = np.angle(poles)
    radius = np.abs(poles)
    to_ref = model_rate / REFERENCE_RATE
    u_old = np.abs(theta)
    u_new = np.power(u_old * to_ref, alpha) / to_ref
    knee = np.maximum(_KNEE, u_old)
    fade = np.clip((math.pi - u_new) / np.maximum(math.pi - knee, 1e-9), 0.0, 1.0)
    moved = poles.imag != 0.0
    radius = np.where(moved & (u_new > knee), radius * fade, radius)
    u_new = np.minimum(u_new, np.maximum(_MAX_ANGLE, u_old))
    theta_new = np.where(moved, np.sign(theta) * u_new, theta)
    return radius * np.exp(1j * theta_new)


def _band_weights(n: int, closed: bool) -> np.ndarray:
    """Trapezoid weights of a band of n DFT bins starting at 0 Hz (its autocorrelation
    is then a real inverse DFT when the band is the whole spectrum)."""
    w = np.full(n, 2.0)
    w[0] = 1.0
    if closed:
        w[-1] = 1.0
    return w


class McAdamsTransform:
    """Frame transform for ``OverlapAddStage``: (K, N) raw frames -> (K, N) output
    frames, windowed by ``window`` before analysis and after synthesis.

    ``pre_scale``: the factor a preceding pitch shift moved every frequency by (its
    formant move is undone here); ``post_scale``: an extra formant shift. With
    alpha == 1 and both scales 1 the output is ``frames * window**2`` up to rounding.
    """

    def __init__(self, sample_rate: int, window: np.ndarray, order: int, alpha: float,
                 pre_scale: float = 1.0, post_scale: float = 1.0):
        self.window = np.asarray(window, dtype=np.float64)
        self.order = int(order)
        self.alpha = float(alpha)
        self.pre_scale = r = float(pre_scale)
        self.post_scale = s = float(post_scale)
        self.model_rate = m_s = model_rate_for(sample_rate, r)  # signal as analysed
        self.original_rate = m_o = original_model_rate(sample_rate, r)  # pre-shift envelope
        n = self.window.size
        # 2N points: the all-pole tail wraps around only after 2N samples (negligible)
        self.nfft = scipy.fft.next_fast_len(2 * n, real=True)
        freqs = np.arange(self.nfft // 2 + 1) * (sample_rate / self.nfft)
        lags = np.arange(self.order + 1)
        eps = 1e-9 * sample_rate

        def acf_matrix(edge_hz: float, scale: float, rate: float) -> np.ndarray:
            # bins up to edge_hz, read on an axis divided by `scale`, at model `rate`
            k = int(np.sum(freqs <= edge_hz + eps))
            closed = k == freqs.size or math.isclose(freqs[k - 1], edge_hz)
            omega = 2.0 * np.pi * freqs[:k] / scale / rate
            return np.cos(np.outer(omega, lags)) * _band_weights(k, closed)[:, None]

        # LPC of the frame as it is (its residual is what gets resynthesised) ...
        self._acf_s = acf_matrix(m_s / 2.0, 1.0, m_s)
        # ... and of the original envelope, when a pitch shift moved it
        self._acf_o = None if r == 1.0 else acf_matrix(r * m_o / 2.0, r, m_o)
        # bins where both the analysed and the new envelope are defined; held above
        self.n_band = int(np.sum(freqs <= min(m_s, s * m_o) / 2.0 + eps))
        f = freqs[: self.n_band]
        self._eval_s = self._basis(2.0 * np.pi * f / m_s, lags)
        self._eval_t = self._basis(2.0 * np.pi * f / (s * m_o), lags)

    @staticmethod
    def _basis(omega: np.ndarray, lags: np.ndarray) -> tuple:
        return np.cos(np.outer(lags, omega)), np.sin(np.outer(lags, omega))

    @staticmethod
    def _response(a: np.ndarray, basis: tuple) -> np.ndarray:
        """A(e^{j omega}) on a basis's bins, (K, bins) complex."""
        # einsum, not matmul: these small products would go to multi-threaded BLAS,
        # which is pathologically slow (x100) on a busy machine
        re = np.einsum("kp,pn->kn", a, basis[0])
        im = np.einsum("kp,pn->kn", a, basis[1])
        return re - 1j * im

    def _lpc(self, power: np.ndarray, acf: np.ndarray) -> np.ndarray:
        r = np.einsum("kn,np->kp", power[:, : acf.shape[0]], acf)
        r[:, 0] = r[:, 0] * (1.0 + _NOISE_FLOOR) + 1e-12
        return levinson(r, self.order)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        n = frames.shape[-1]
        xw = frames * self.window
        spec = scipy.fft.rfft(xw, self.nfft, axis=-1)
        power = spec.real * spec.real + spec.imag * spec.imag
        a = self._lpc(power, self._acf_s)
        a_orig = a if self._acf_o is None else self._lpc(power, self._acf_o)
        new_a = poly_from_roots(warp_pole_angles(lpc_poles(a_orig), self.alpha,
                                                 self.original_rate))
        ratio = np.empty_like(spec)
        ratio[:, : self.n_band] = (self._response(a, self._eval_s)
                                   / self._response(new_a, self._eval_t))
        ratio[:, self.n_band :] = ratio[:, self.n_band - 1 : self.n_band]
        y = scipy.fft.irfft(spec * ratio, self.nfft, axis=-1)[:, :n]
        in_energy = np.einsum("kn,kn->k", xw, xw)
        out_energy = np.einsum("kn,kn->k", y, y)
        gain = np.sqrt((in_energy + 1e-20) / (out_energy + 1e-20))
        np.minimum(gain, _MAX_GAIN, out=gain)
        return y * (gain[:, None] * self.window)
