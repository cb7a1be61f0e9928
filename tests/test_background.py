"""Streaming IO in background threads (issue 16, part 4): decoding ahead of the frame loop,
encoding behind it. Same items, same order, same errors at the same point, bounded
memory, nothing left running or open when a stream is abandoned."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ppgan_fom.background import Behind, run_ahead
from ppgan_fom.media import Frame, read_frames
from ppgan_fom.pipeline import write_video
from sample_media import sample_media


class _Source:
    """An iterator recording how far it was consumed, in which thread, and its close."""

    def __init__(self, n, fail_at=None):
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.threads = set()
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        self.threads.add(threading.current_thread().name)
        if self.produced == self.fail_at:
            raise KeyError("source broke")
        if self.produced >= self.n:
            raise StopIteration
        self.produced += 1
        return self.produced - 1

    def close(self):
        self.closed = True


def test_run_ahead_same_items_in_a_bounded_background_thread():
    src = _Source(50)
    it = run_ahead(src, depth=3, name="t-ahead")
    got = [next(it)]
    time.sleep(0.2)  # let the producer run as far as it may
    # one item consumed, at most `depth` queued, one more held by the blocked producer
    assert src.produced <= 1 + 3 + 1
    got += list(it)
    assert got == list(range(50))
    assert src.threads == {"t-ahead"} and src.closed


def test_run_ahead_raises_after_the_last_good_item():
    got = []
    with pytest.raises(KeyError, match="source broke"):
        for x in run_ahead(_Source(50, fail_at=7), depth=2):
            got.append(x)
    assert got == list(range(7))


def test_run_ahead_abandoned_stops_and_closes_the_source():
    src = _Source(10 ** 6)
    it = run_ahead(src, depth=2, name="t-abandoned")
    assert next(it) == 0
    it.close()
    assert src.closed
    assert not any(t.name == "t-abandoned" for t in threading.enumerate())
    assert src.produced < 10


def test_run_ahead_depth_zero_stays_in_the_calling_thread():
    src = _Source(3)
    assert list(run_ahead(src, depth=0)) == [0, 1, 2]
    assert src.threads == {threading.current_thread().name}


def test_behind_consumes_in_order_in_a_background_thread():
    seen, threads = [], set()

    def consume(x):
        time.sleep(0.002)
        seen.append(x)
        threads.add(threading.current_thread().name)

    b = Behind(consume, depth=2, name="t-behind")
    for i in range(40):
        b.put(i)
    b.finish()
    assert seen == list(range(40)) and threads == {"t-behind"}


def test_behind_raises_the_consumer_error_and_stops():
    seen = []

    def consume(x):
        if x == 5:
            raise ValueError("encoder broke")
        seen.append(x)

    b = Behind(consume, depth=2)
    with pytest.raises(ValueError, match="encoder broke"):
        for i in range(1000):
            b.put(i)
        b.finish()
    assert seen == list(range(5))
    # nothing after the failing item was consumed
    b.abort()


def test_behind_abort_drops_pending_items():
    gate = threading.Event()
    seen = []

    def consume(x):
        gate.wait(2)
        seen.append(x)

    b = Behind(consume, depth=3)
    for i in range(4):
        b.put(i)
    gate.set()
    b.abort()
    assert len(seen) <= 2  # the one in progress (and maybe one more), not all four


def _fd_targets():
    fds = Path("/proc/self/fd")
    out = []
    for fd in fds.iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            pass
    return out


def test_read_frames_decodes_ahead_and_closes_the_file_when_abandoned():
    clip = sample_media("driving_fom_dv_256x256_3s.mp4")
    it = read_frames(clip)
    first = next(it)
    assert first.index == 0 and first.image.shape == (256, 256, 3)
    assert any(t.name == "decoder" for t in threading.enumerate())
    assert any(str(clip) in t for t in _fd_targets())
    it.close()
    assert not any(t.name == "decoder" for t in threading.enumerate())
    assert not any(str(clip) in t for t in _fd_targets()), "the video is still open"


def test_write_video_error_of_the_encoder_reaches_the_caller(tmp_path):
    """A frame the writer refuses (wrong size): the error is raised in the caller's
    thread, the producer stops soon after, and nothing is left at the output path."""
    produced = []

    def frames():
        for i in range(200):
            produced.append(i)
            shape = (48, 64, 3) if i != 10 else (40, 64, 3)
            yield Frame(i, np.full(shape, i % 255, np.uint8), i / 10)

    out = tmp_path / "o.mp4"
    with pytest.raises(ValueError, match="frame must be"):
        write_video(out, frames(), (64, 48), fps=10)
    assert not out.exists() and not list(tmp_path.iterdir())
    assert len(produced) < 30  # stopped within a few frames of the failure


def test_write_video_keeps_every_frame_and_time(tmp_path):
    frames = [Frame(i, np.full((48, 64, 3), 10 * i, np.uint8), 0.25 * i) for i in range(12)]
    out = tmp_path / "o.mp4"
    assert write_video(out, iter(frames), (64, 48), fps=4) == 12
    back = list(read_frames(out))
    assert [f.time for f in back] == pytest.approx([f.time for f in frames], abs=1e-3)
    levels = np.array([f.image.mean() for f in back])  # in order: each frame its own level
    assert np.abs(levels - 10 * np.arange(12)).max() <= 2  # TV-range YUV rounding
