"""Use every CPU core for Paddle's kernels (Paddle defaults to one thread)."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

_configured = False


def ensure_cpu_threads() -> int:
    """Set Paddle's CPU thread count once per process and return it.

    The count is ``$PPGAN_FOM_THREADS`` if set, else the cores this process may
    run on. A ``FLAGS_paddle_num_threads`` set by the user in the environment is
    left alone.
    """
    global _configured
    import paddle

    if "FLAGS_paddle_num_threads" in os.environ:
        return int(os.environ["FLAGS_paddle_num_threads"])
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    n = max(1, int(os.environ.get("PPGAN_FOM_THREADS", cores)))
    if not _configured:
        paddle.set_flags({"FLAGS_paddle_num_threads": n})
        try:
            from paddle.base import core

            core.set_num_threads(n)
        except (ImportError, AttributeError):  # pragma: no cover - older Paddle
            pass
        _configured = True
        logger.debug("Paddle CPU threads: %d", n)
    return n
