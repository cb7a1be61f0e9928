"""Streaming overlap-add over a fixed frame grid, with its latency hidden.

Frames of ``2 * hop`` samples start every ``hop`` samples; frame m covers input
samples [(m - 1) * hop, (m + 1) * hop), so the first hop is covered by a frame that
starts in (zero) pre-roll. The frame transform windows its input and output with
a sqrt-Hann window, whose square sums to exactly 1 at 50 % overlap.

Output sample t always corresponds to input sample t: samples are released as
soon as both frames that cover them are done, and ``finish()`` releases the rest,
so the concatenated output has exactly the input's length and no delay.

Frames are transformed in batches of a fixed number of frames on the *absolute*
frame grid, never on the caller's block boundaries: every frame sees the same
arithmetic whatever block sizes are fed in, so the output is bit-identical.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .buffer import SampleBuffer

__all__ = ["sqrt_hann", "OverlapAddStage"]

FrameTransform = Callable[[np.ndarray], np.ndarray]


def sqrt_hann(n: int) -> np.ndarray:
    """Square root of the periodic Hann window of even length n, (n,) float64;
    its square overlap-adds to exactly 1 at hop n / 2."""
    k = np.arange(n)
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * k / n))


class OverlapAddStage:
    """Streaming frame processor (see the module docstring).

    ``transform`` maps (K, 2 * hop) raw frames (one frame of one channel per row)
    to (K, 2 * hop) windowed output frames; it is called with
    K == ``batch_frames * channels`` except for the last batch.
    """

    def __init__(self, hop: int, channels: int, transform: FrameTransform,
                 batch_frames: int = 32):
        if hop < 1 or channels < 1 or batch_frames < 1:
            raise ValueError("hop, channels and batch_frames must be positive")
        self.hop = int(hop)
        self.channels = int(channels)
        self.transform = transform
        self.batch_frames = int(batch_frames)
        self._in = SampleBuffer(self.channels, start=-self.hop)
        self._in.append_zeros(self.hop)  # pre-roll of frame 0
        self._next_frame = 0
        self._pending = np.zeros((self.hop, self.channels))  # 2nd half of the last frame
        self._received = 0
        self._finished = False

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed (n, channels) float64 samples; returns the (m, channels) samples that
        became final (m may be 0 or larger than n)."""
        if self._finished:
            raise RuntimeError("push() after finish()")
        self._received += x.shape[0]
        self._in.append(x)
        outs = []
        while self._in.end >= (self._next_frame + self.batch_frames) * self.hop:
            outs.append(self._run_batch(self.batch_frames))
        return self._release(outs, limit=None)

    def finish(self) -> np.ndarray:
        """Release every remaining sample (the end is zero-padded); afterwards the
        total output length equals the total input length."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        total = self._received
        # frames up to ceil(total / hop) inclusive make every sample < total final
        last = -(-total // self.hop)
        outs = []
        while self._next_frame <= last:
            k = min(self.batch_frames, last + 1 - self._next_frame)
            self._in.append_zeros((self._next_frame + k) * self.hop - self._in.end)
            outs.append(self._run_batch(k))
        return self._release(outs, limit=total)

    # -- internals ---------------------------------------------------------
    def _run_batch(self, k: int) -> np.ndarray:
        hop, c, m = self.hop, self.channels, self._next_frame
        seg = self._in.view((m - 1) * hop, (m + k) * hop)
        # (k, c, 2 hop) strided view -> (k * c, 2 hop) rows, one frame of one channel each
        frames = np.lib.stride_tricks.sliding_window_view(seg, 2 * hop, axis=0)[::hop]
        rows = np.ascontiguousarray(frames.reshape(k * c, 2 * hop))
        done = self.transform(rows).reshape(k, c, 2 * hop).transpose(0, 2, 1)
        out = np.empty(((k + 1) * hop, c))
        out[: k * hop] = done[:, :hop, :].reshape(k * hop, c)
        out[k * hop :] = 0.0
        out[hop:] += done[:, hop:, :].reshape(k * hop, c)
        out[:hop] += self._pending
        self._pending = out[k * hop :].copy()
        self._next_frame = m + k
        self._in.drop_until((m + k - 1) * hop)  # start of the next frame
        return out[: k * hop]  # absolute samples [(m - 1) hop, (m + k - 1) hop)

    def _release(self, outs: list, limit: Optional[int]) -> np.ndarray:
        """Join batch outputs, dropping the pre-roll (negative time) and, at the end,
        anything at or past ``limit``."""
        if not outs:
            return np.zeros((0, self.channels))
        out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)
        start = (self._next_frame - 1) * self.hop - out.shape[0]
        lo = max(0, -start)
        hi = out.shape[0] if limit is None else max(lo, min(out.shape[0], limit - start))
        return out[lo:hi]
