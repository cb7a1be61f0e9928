"""Overlap streaming IO with the model: produce a stream ahead, or consume it behind, in a
background thread, through a bounded queue (at most ``depth`` items in flight, so memory
stays flat in the stream's length).

Why a thread helps although Paddle Inference holds the GIL while a graph runs: FFmpeg's
decoding, swscale's colour conversions and x264's encoding run inside PyAV calls that
release the GIL, so a decoder or encoder thread works while the main thread is in
Python, numpy or OpenCV code, and x264's waits for its own frame threads no longer stall
the main thread (measured by ``benchmarks/bench_pipeline.py``).

Exceptions raised by the background work reach the main thread at the same point of the
stream as without the thread (the producer's after its last good item; the consumer's at
the next hand-over or at the end), and closing or abandoning the stream stops the thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterable, Iterator, Optional, TypeVar

__all__ = ["run_ahead", "Behind"]

T = TypeVar("T")
_POLL = 0.05  # seconds between checks of the stop flag while a queue is full or empty
_ITEM, _END, _ERROR = 0, 1, 2


def run_ahead(iterable: Iterable[T], depth: int, name: str = "prefetch") -> Iterator[T]:
    """Iterate ``iterable`` in a background thread, up to ``depth`` items ahead of the
    consumer; yields the same items in the same order, then raises what it raised.

    ``depth <= 0`` iterates in the calling thread (no thread). The background thread
    starts at the first ``next()`` and ends when the stream is exhausted, fails, or the
    returned iterator is closed or collected (the source's ``close()`` is then called in
    that thread, e.g. closing its file).
    """
    if depth <= 0:
        yield from iterable
        return
    q: "queue.Queue" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        it = iter(iterable)
        try:
            for item in it:
                if not put((_ITEM, item)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_ERROR, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


class Behind(Generic[T]):
    """Hand items to ``consume`` running in a background thread, up to ``depth`` of them
    pending; e.g. a video encoder behind the loop that renders the frames.

    Use :meth:`put` for each item and :meth:`finish` at the end (it waits for the
    consumer and raises the first error it had); on any failure of the producer call
    :meth:`abort`. An error of ``consume`` is raised by the next :meth:`put` (the later
    items are not consumed). ``depth <= 0`` consumes in the calling thread.
    """

    def __init__(self, consume: Callable[[T], None], depth: int, name: str = "consumer"):
        self._consume = consume
        self._error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if depth > 0:
            self._q: "queue.Queue" = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            try:
                kind, item = self._q.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if kind == _END or self._stop.is_set():
                return
            try:
                self._consume(item)
            except BaseException as exc:  # raised in the producer's thread
                self._error = exc
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: T) -> None:
        """Hand over one item (blocks while ``depth`` are pending)."""
        if self._thread is None:
            self._consume(item)
            return
        while True:
            self._raise_error()
            if not self._thread.is_alive():
                raise RuntimeError("the background consumer has stopped")
            try:
                self._q.put((_ITEM, item), timeout=_POLL)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every item is consumed; raise the consumer's error if it had one."""
        if self._thread is None:
            return
        while self._thread.is_alive():
            try:
                self._q.put((_END, None), timeout=_POLL)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Stop the consumer without consuming what is pending; errors are dropped."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._error = None
