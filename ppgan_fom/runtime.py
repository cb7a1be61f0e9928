"""Device and CPU-thread selection for Paddle."""

from __future__ import annotations

import logging
import os
from typing import Optional

logger = logging.getLogger(__name__)


def cpu_threads() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def setup_device(cpu: bool = False, threads: Optional[int] = None) -> str:
    """Select the Paddle device and set CPU threads (Paddle defaults to ONE thread).

    Args:
        cpu: force the CPU even when a GPU build and device are present.
        threads: CPU threads for Paddle's kernels; default all available cores
            (``PPGAN_FOM_THREADS`` overrides).

    Returns:
        The device string in use, e.g. ``'cpu'`` or ``'gpu:0'``.
    """
    import paddle

    n = int(os.environ.get("PPGAN_FOM_THREADS", threads or cpu_threads()))
    try:
        paddle.set_flags({"FLAGS_paddle_num_threads": n})
    except (ValueError, RuntimeError):  # pragma: no cover - flag missing in some builds
        pass
    try:
        import paddle.base.core as core  # paddle >= 2.5

        core.set_num_threads(n)
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    use_gpu = (not cpu) and paddle.device.is_compiled_with_cuda() \
        and paddle.device.cuda.device_count() > 0
    device = "gpu:0" if use_gpu else "cpu"
    paddle.set_device(device)
    logger.info("device %s, %d CPU threads", device, n)
    return device
