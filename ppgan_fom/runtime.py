"""Device and CPU-thread selection for Paddle: the one place where they are set.

Paddle runs its CPU kernels on ONE thread unless told otherwise. The thread count is
chosen in this order: an explicit ``threads`` argument (``--threads``), then
``$PPGAN_FOM_THREADS``, then Paddle's own ``$FLAGS_paddle_num_threads`` if the user set
it, then every core this process may run on.
"""

from __future__ import annotations

import logging
import os
from typing import Optional

logger = logging.getLogger(__name__)

__all__ = ["cpu_threads", "resolve_threads", "set_cpu_threads", "ensure_cpu_threads",
           "setup_device"]

_configured: Optional[int] = None


def cpu_threads() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: Optional[int] = None) -> int:
    """The CPU thread count to use (see the module docstring for the order)."""
    if threads is not None:
        return max(1, int(threads))
    for var in ("PPGAN_FOM_THREADS", "FLAGS_paddle_num_threads"):
        if os.environ.get(var):
            return max(1, int(os.environ[var]))
    return cpu_threads()


def set_cpu_threads(threads: Optional[int] = None) -> int:
    """Set Paddle's CPU thread count (:func:`resolve_threads`) and return it."""
    global _configured
    import paddle

    n = resolve_threads(threads)
    if n != _configured:
        try:
            paddle.set_flags({"FLAGS_paddle_num_threads": n})
        except (ValueError, RuntimeError):  # pragma: no cover - flag missing in some builds
            pass
        try:
            import paddle.base.core as core  # paddle >= 2.5

            core.set_num_threads(n)
        except (ImportError, AttributeError):  # pragma: no cover
            pass
        _configured = n
        logger.debug("Paddle CPU threads: %d", n)
    return n


def ensure_cpu_threads() -> int:
    """The thread count already set in this process, or set the default one; for
    components (detectors) that must not override an explicit choice."""
    return _configured if _configured is not None else set_cpu_threads()


def setup_device(cpu: bool = False, threads: Optional[int] = None) -> str:
    """Select the Paddle device and set CPU threads.

    Args:
        cpu: force the CPU even when a GPU build and device are present.
        threads: CPU threads for Paddle's kernels (see the module docstring).

    Returns:
        The device string in use, e.g. ``'cpu'`` or ``'gpu:0'``.
    """
    import paddle

    n = set_cpu_threads(threads)
    use_gpu = (not cpu) and paddle.device.is_compiled_with_cuda() \
        and paddle.device.cuda.device_count() > 0
    device = "gpu:0" if use_gpu else "cpu"
    paddle.set_device(device)
    logger.info("device %s, %d CPU threads", device, n)
    return device
