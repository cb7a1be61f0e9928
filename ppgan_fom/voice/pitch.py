"""Streaming pitch shift that keeps time: resampled grains placed by WSOLA.

Output grain k (``2 * hop`` samples, Hann window, 50 % overlap) starts at output
sample (k - 1) * hop and is read from the input at ``ratio`` times the normal speed,
so every frequency — pitch and formants alike — is multiplied by ``ratio`` while
the grain stays centred on its own place in time. Each grain's read position may
move by up to ``search`` samples from that nominal place, to the offset whose
waveform best continues the previous grain (normalised cross-correlation of the
channels' mean, WSOLA): this keeps the pitch periods phase-aligned across grains
instead of producing the rough, warbling splices of a plain delay-line shifter.
Timing is kept within ``search`` samples (6 ms by default), with no drift.

When reading faster than normal (``ratio > 1``) the input is low-passed first
(linear-phase FIR, its delay compensated) so that content above the new Nyquist
frequency does not alias. Grains are read with Catmull-Rom cubic interpolation.

The McAdams stage that follows divides the pole frequencies by ``ratio`` again,
which turns this into a pitch-only shift (see ``anonymizer.py``).

Written by hand: librosa's ``pitch_shift`` and similar work on whole signals (phase
vocoder + resampling) and cannot stream with a fixed, hidden latency.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from .buffer import SampleBuffer

__all__ = ["PitchShiftStage"]


def _cubic_read(seg: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Catmull-Rom interpolation of seg (L, C) at fractional row positions pos (n,)
    with 1 <= pos < L - 2. Returns (n, C)."""
    i = np.floor(pos).astype(np.int64)
    t = (pos - i)[:, None]
    p0, p1, p2, p3 = seg[i - 1], seg[i], seg[i + 1], seg[i + 2]
    # Horner form of the Catmull-Rom polynomial in t
    c1 = p2 - p0
    c2 = 2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3
    c3 = 3.0 * (p1 - p2) + p3 - p0
    return p1 + 0.5 * t * (c1 + t * (c2 + t * c3))


def _best_lag(region: np.ndarray, target: np.ndarray) -> int:
    """Lag of ``target`` inside ``region`` with the highest normalised correlation."""
    n = target.size
    corr = np.correlate(region, target, mode="valid")
    csum = np.concatenate(([0.0], np.cumsum(region * region)))
    energy = np.maximum(csum[n:] - csum[:-n], 1e-12 * n)
    return int(np.argmax(corr / np.sqrt(energy)))


class PitchShiftStage:
    """Streaming, length-preserving pitch/formant shifter (see the module docstring).

    ``push(x)`` takes (n, channels) float64 and returns the samples that became final;
    ``finish()`` returns the rest. Output sample t corresponds to input sample t.
    """

    def __init__(self, sample_rate: int, channels: int, ratio: float,
                 grain_ms: float = 40.0, search_ms: float = 6.0):
        if not 0.25 <= ratio <= 4.0:
            raise ValueError(f"pitch ratio {ratio} outside 0.25..4")
        self.channels = int(channels)
        self.ratio = float(ratio)
        self.hop = max(8, int(round(sample_rate * grain_ms / 2000.0)))
        n = 2 * self.hop
        self._n = n
        self._centre = (n - 1) / 2.0
        self.search = max(1, int(round(sample_rate * search_ms / 1000.0)))
        self._overlap = max(1, int(round(self.ratio * self.hop)))  # input samples compared
        self._step = max(1, int(sample_rate) // 16000)  # coarse search stride
        k = np.arange(n)
        self._window = (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n))[:, None]  # sums to 1
        if self.ratio > 1.0:
            self._taps = scipy.signal.firwin(63, 0.92 / self.ratio)
            self._zi = np.zeros((self._taps.size - 1, self.channels))
        else:
            self._taps = None
        self._delay = 0 if self._taps is None else (self._taps.size - 1) // 2
        # filtered stream: index t holds the (low-passed) input at time t - delay
        pre = 2 * n + 2 * self.search + 8
        self._f = SampleBuffer(self.channels, start=-pre)
        self._f.append_zeros(pre)
        self._raw = SampleBuffer(self.channels, start=0)  # input not yet low-passed
        self._received = 0
        self._k = 0  # next grain
        self._prev_pos = None  # read position of the previous grain
        self._pending = np.zeros((self.hop, self.channels))
        self._finished = False

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed (n, channels) float64; returns the (m, channels) samples now final."""
        if self._finished:
            raise RuntimeError("push() after finish()")
        self._received += x.shape[0]
        self._raw.append(x)
        self._filter_chunks()
        outs = []
        while self._f.end >= self._need(self._k):
            outs.append(self._grain())
        return self._release(outs, limit=None)

    def finish(self) -> np.ndarray:
        """Release the remaining samples (the end is zero-padded); the total output
        length then equals the total input length."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        total = self._received
        last = -(-total // self.hop)  # grain `last` completes sample total - 1
        outs = []
        while self._k <= last:
            while self._f.end < self._need(self._k):
                self._raw.append_zeros(self.hop)
                self._filter_chunks()
            outs.append(self._grain())
        return self._release(outs, limit=total)

    # -- internals ---------------------------------------------------------
    def _nominal(self, k: int) -> float:
        """Input position of grain k's first sample that centres it on its output."""
        return (k - 1) * self.hop + self._centre * (1.0 - self.ratio)

    def _need(self, k: int) -> int:
        """Filtered-stream end index that grain k needs (exclusive)."""
        p0 = self._nominal(k)
        read_end = math.floor(p0 + self.search + self.ratio * (self._n - 1)) + 3
        match_end = math.floor(p0) + self.search + self._overlap + 1
        return max(read_end, match_end) + self._delay

    def _filter_chunks(self) -> None:
        """Low-pass the input in fixed chunks of ``hop`` samples on the absolute
        grid (so the result does not depend on the caller's block sizes)."""
        while self._raw.end - self._raw.start >= self.hop:
            chunk = self._raw.view(self._raw.start, self._raw.start + self.hop)
            if self._taps is None:
                self._f.append(chunk)
            else:
                y, self._zi = scipy.signal.lfilter(self._taps, 1.0, chunk, axis=0, zi=self._zi)
                self._f.append(y)
            self._raw.drop_until(self._raw.start + self.hop)

    def _offset(self, p0: float) -> int:
        """WSOLA: the shift in [-search, search] of grain position p0 whose start
        best continues the previous grain (normalised cross-correlation; above
        16 kHz first on every ``step``-th sample, then refined at full rate)."""
        if self._prev_pos is None:
            return 0
        d, s, L = self._delay, self.search, self._overlap
        tb = math.floor(self._prev_pos + self.ratio * self.hop) + d
        target = self._f.view(tb, tb + L).mean(axis=1)
        if float(target @ target) <= 1e-12 * L:  # silence: stay on the nominal grid
            return 0
        cb = math.floor(p0) + d
        region = self._f.view(cb - s, cb + s + L).mean(axis=1)
        step = self._step
        coarse = _best_lag(region[::step], target[::step]) * step
        if step == 1:
            return coarse - s
        lo = max(0, coarse - step + 1)
        hi = min(2 * s, coarse + step - 1)
        return lo + _best_lag(region[lo : hi + L], target) - s

    def _grain(self) -> np.ndarray:
        k = self._k
        p0 = self._nominal(k)
        pos = p0 + self._offset(p0)
        lo = math.floor(pos) + self._delay - 1
        hi = math.floor(pos + self.ratio * (self._n - 1)) + self._delay + 3
        seg = self._f.view(lo, hi)
        rel = (pos + self._delay - lo) + self.ratio * np.arange(self._n)
        grain = _cubic_read(seg, rel) * self._window
        out = grain[: self.hop] + self._pending
        self._pending = grain[self.hop :].copy()
        self._prev_pos = pos
        self._k = k + 1
        # keep what the next grain may read or compare against
        keep = min(math.floor(self._nominal(k + 1)) - self.search,
                   math.floor(pos + self.ratio * self.hop)) + self._delay - 2
        self._f.drop_until(keep)
        return out  # absolute samples [(k - 1) hop, k hop)

    def _release(self, outs: list, limit) -> np.ndarray:
        if not outs:
            return np.zeros((0, self.channels))
        out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)
        start = (self._k - 1) * self.hop - out.shape[0]
        lo = max(0, -start)
        hi = out.shape[0] if limit is None else max(lo, min(out.shape[0], limit - start))
        return out[lo:hi]
