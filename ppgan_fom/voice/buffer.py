"""A growable (n, channels) sample buffer addressed by absolute sample index."""

from __future__ import annotations

import numpy as np

__all__ = ["SampleBuffer"]


class SampleBuffer:
    """Holds samples [start, end) of a stream; appending is amortised O(1) and
    dropping the front keeps memory bounded by what is still needed."""

    def __init__(self, channels: int, start: int = 0):
        self.channels = int(channels)
        self.start = int(start)
        self._data = np.zeros((256, self.channels))
        self._len = 0

    @property
    def end(self) -> int:
        """Absolute index one past the last sample held."""
        return self.start + self._len

    def append(self, x: np.ndarray) -> None:
        """Append (n, channels) samples."""
        n = x.shape[0]
        if n == 0:
            return
        need = self._len + n
        if need > self._data.shape[0]:
            grown = np.empty((max(need, 2 * self._data.shape[0]), self.channels))
            grown[: self._len] = self._data[: self._len]
            self._data = grown
        self._data[self._len : need] = x
        self._len = need

    def append_zeros(self, n: int) -> None:
        """Append n zero samples."""
        if n > 0:
            self.append(np.zeros((n, self.channels)))

    def drop_until(self, index: int) -> None:
        """Forget every sample before absolute ``index``."""
        k = min(max(index - self.start, 0), self._len)
        if k == 0:
            return
        rest = self._len - k
        self._data[:rest] = self._data[k : self._len]
        self._len = rest
        self.start += k

    def view(self, lo: int, hi: int) -> np.ndarray:
        """Samples [lo, hi) as a (hi - lo, channels) view; must be held."""
        if lo < self.start or hi > self.end or hi < lo:
            raise IndexError(f"[{lo}, {hi}) outside the buffer [{self.start}, {self.end})")
        return self._data[lo - self.start : hi - self.start]
