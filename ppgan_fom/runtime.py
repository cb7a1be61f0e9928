"""Device and CPU-thread selection for Paddle: the one place where they are set.

The device is the one asked for (``--device``, ``--cpu``, PaddleGAN's ``--xpu``), checked
against the Paddle build and the devices it sees (a one-line :class:`InputError` if it is
not there), or by default Paddle's current device: a GPU when the GPU build sees one, and
whatever a caller chose with ``paddle.set_device`` before (as PaddleGAN's scripts do).

Paddle runs its CPU kernels on ONE thread unless told otherwise. The thread count is
chosen in this order: an explicit ``threads`` argument (``--threads``), then
``$PPGAN_FOM_THREADS``, then Paddle's own ``$FLAGS_paddle_num_threads`` if the user set
it, then every core this process may run on.
"""

from __future__ import annotations

import logging
import os
from typing import Optional

from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["cpu_threads", "resolve_threads", "set_cpu_threads", "ensure_cpu_threads",
           "select_device", "setup_device", "supports_static_engine"]

_configured: Optional[int] = None
_device: Optional[str] = None


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


def _count(fn) -> int:
    try:
        return int(fn())
    except Exception:  # pragma: no cover - a driver problem reads as "no device"
        return 0


def _available(kind: str):
    """(compiled in, devices seen, how to get the build) for a device type."""
    import paddle

    dev = paddle.device
    if kind == "gpu":
        built = dev.is_compiled_with_cuda() or dev.is_compiled_with_rocm()
        return built, _count(dev.cuda.device_count) if built else 0, \
            "install the CUDA build, paddlepaddle-gpu (docs/install.md)"
    if kind == "xpu":
        built = dev.is_compiled_with_xpu()
        return built, _count(dev.xpu.device_count) if built else 0, \
            "install Paddle's XPU build (paddlepaddle-xpu, see paddlepaddle.org.cn)"
    custom = set(dev.get_all_custom_device_type() or [])
    n = sum(1 for d in (dev.get_available_custom_device() or [])
            if d.split(":")[0] == kind) if kind in custom else 0
    return kind in custom, n, f"install the Paddle plugin for '{kind}' devices"


def select_device(requested: Optional[str] = None) -> str:
    """The Paddle device string to run on.

    Args:
        requested: ``None`` (Paddle's current device), ``'cpu'``, ``'gpu'``, ``'gpu:N'``,
            ``'xpu'``, ``'xpu:N'`` or a custom device type (``'npu'``, ...).

    Returns:
        e.g. ``'cpu'``, ``'gpu:0'``, ``'xpu:1'``.

    Raises:
        InputError: the Paddle build has no such device type, or no such device is seen;
            one line naming the device and what to install.
    """
    import paddle

    if requested is None:
        return paddle.device.get_device()
    req = requested.strip().lower()
    kind, _, index = req.partition(":")
    if kind == "cpu":
        return "cpu"
    idx = int(index) if index else 0
    built, count, how = _available(kind)
    if not built:
        raise InputError(f"device '{req}' requested but this PaddlePaddle {paddle.__version__} "
                         f"build has no {kind.upper()} support: {how}, or run on the CPU "
                         f"(--cpu)")
    if idx >= count:
        seen = f"only {count} {kind.upper()} device(s) are visible" if count else \
            f"no {kind.upper()} device is visible"
        raise InputError(f"device '{req}' requested but {seen} (check the driver and "
                         f"the *_VISIBLE_DEVICES variables), or run on the CPU (--cpu)")
    return f"{kind}:{idx}"


def supports_static_engine(device: str) -> bool:
    """Whether the static engine (Paddle Inference, :mod:`ppgan_fom.engine`) runs on
    ``device``: the CPU and CUDA GPUs; other devices run the eager engine."""
    return device == "cpu" or device.startswith("gpu")


def setup_device(cpu: bool = False, threads: Optional[int] = None,
                 device: Optional[str] = None) -> str:
    """Select the Paddle device (:func:`select_device`) and set CPU threads.

    Args:
        cpu: force the CPU even when a GPU build and device are present.
        threads: CPU threads for Paddle's kernels (see the module docstring).
        device: the device asked for (``cpu`` wins over it); None = Paddle's current.

    Returns:
        The device string in use, e.g. ``'cpu'`` or ``'gpu:0'``.

    Raises:
        InputError: the device asked for is not available (:func:`select_device`).
    """
    import paddle

    global _device
    chosen = select_device("cpu" if cpu else device)
    n = set_cpu_threads(threads)
    paddle.set_device(chosen)
    (logger.debug if chosen == _device else logger.info)("device %s, %d CPU threads",
                                                         chosen, n)
    _device = chosen
    return chosen
