"""Data-parallel training over several processes (``paddle.distributed.launch``).

One process per device (GPU, or CPU core group when testing); every process holds the
whole model and trains on its own share of each global batch. What this module adds to
``paddle.distributed``:

* :func:`world_from_env` - rank and world size from the launcher's environment, before
  (and without) initialising communication;
* :func:`init_process_group` - the device of this rank and ``init_parallel_env``
  (NCCL on GPUs, gloo on the CPU);
* :func:`convert_sync_batchnorm` - BatchNorm statistics over the global batch. On GPUs this
  is Paddle's ``nn.SyncBatchNorm``; Paddle 3.3 has no CPU kernel for it (``RuntimeError:
  (NotFound) The kernel `sync_batch_norm` is not registered.``), so on the CPU the
  BatchNorms become :class:`CpuSyncBatchNorm`, which all-reduces the per-channel sums
  with a differentiable all-reduce. Either way parameter and buffer names are unchanged,
  so checkpoints load in any process count and in inference;
* :func:`all_reduce_mean` / :func:`any_rank` - averaged step losses and stop decisions
  that every rank agrees on (a rank that leaves the loop alone would hang the others);
* :func:`on_sigterm` - Ctrl-C reaches only the launcher, which sends SIGTERM to every
  process (and kills them 30 s later); the trainer turns it into a stop request so the
  processes finish the step together and rank 0 writes a checkpoint.

Gradients are averaged by ``paddle.DataParallel`` (see :class:`..trainer.Trainer`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Callable, Optional, Sequence, Tuple

import paddle
import paddle.nn as nn
from paddle.autograd import PyLayer

logger = logging.getLogger(__name__)

__all__ = ["world_from_env", "local_world_size", "init_process_group", "CpuSyncBatchNorm",
           "convert_sync_batchnorm", "all_reduce_sum", "all_reduce_mean", "any_rank",
           "on_sigterm", "prepare_process"]


def world_from_env() -> Tuple[int, int]:
    """``(rank, world_size)`` of this process as set by ``paddle.distributed.launch``
    (``(0, 1)`` when started directly). Needs no communication."""
    try:
        import paddle.distributed as dist

        return int(dist.get_rank()), max(1, int(dist.get_world_size()))
    except Exception:  # pragma: no cover - a build without paddle.distributed
        return 0, 1


def local_world_size() -> int:
    """Processes on this machine (``--nproc_per_node``); 1 when not launched."""
    try:
        return max(1, int(os.environ.get("PADDLE_LOCAL_SIZE", "1")))
    except ValueError:
        return 1


def init_process_group() -> str:
    """Bind this rank to its device and initialise communication (once per process).

    On a CUDA build with GPUs the rank uses ``gpu:<device_id>`` (the launcher's
    ``--devices``/``--gpus`` list) and NCCL; otherwise the CPU and gloo.

    Returns:
        The device string in use, e.g. ``'gpu:1'`` or ``'cpu'``.
    """
    import paddle.distributed as dist

    if paddle.device.get_device().startswith("gpu"):
        paddle.set_device(f"gpu:{dist.ParallelEnv().device_id}")
    dist.init_parallel_env()
    device = paddle.device.get_device()
    logger.info("data-parallel training: rank %d of %d on %s", dist.get_rank(),
                dist.get_world_size(), device)
    return device


class _AllReduceSum(PyLayer):
    """Sum over ranks whose gradient is again the sum over ranks of the incoming gradients:
    every rank's output depends on every rank's input, so each input's gradient collects
    the contributions of all ranks' losses."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        out = x.clone()
        paddle.distributed.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = grad.clone()
        paddle.distributed.all_reduce(out, group=ctx.group)
        return out


def all_reduce_sum(x: paddle.Tensor, group=None) -> paddle.Tensor:
    """Differentiable sum of ``x`` over the ranks of ``group`` (all ranks by default);
    ``x`` itself in a single process."""
    if world_from_env()[1] == 1:
        return x
    return _AllReduceSum.apply(x, group)


class CpuSyncBatchNorm(nn.BatchNorm2D):
    """BatchNorm2D (NCHW) whose training statistics are those of the global batch.

    Same parameters, buffers, state-dict names and running-statistics rule as Paddle's
    ``BatchNorm2D`` (running mean / biased variance, ``momentum`` weight on the old value);
    in training the per-channel sum and sum of squared deviations are summed over the
    ranks (two all-reduces forward, two backward). Evaluation uses the running statistics
    and communicates nothing. Used on the CPU, where Paddle's ``SyncBatchNorm`` has no
    kernel; with one process it computes what ``BatchNorm2D`` computes.
    """

    group = None  # communication group (None: all ranks)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not self.training or self._use_global_stats:
            return super().forward(x)
        c = int(x.shape[1])
        count = paddle.full([1], float(x.size // c), dtype=x.dtype)
        packed = all_reduce_sum(paddle.concat([x.sum(axis=[0, 2, 3]), count]), self.group)
        n = packed[c]
        mean = packed[:c] / n
        # two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which
        # cancels catastrophically in float32 for channels with a large mean
        centred = x - mean.reshape([1, c, 1, 1])
        var = all_reduce_sum((centred * centred).sum(axis=[0, 2, 3]), self.group) / n
        out = centred * paddle.rsqrt(var + self._epsilon).reshape([1, c, 1, 1])
        if self.weight is not None:
            out = out * self.weight.reshape([1, c, 1, 1]) + self.bias.reshape([1, c, 1, 1])
        with paddle.no_grad():
            m = float(self._momentum)
            self._mean.set_value(self._mean * m + mean.detach() * (1.0 - m))
            self._variance.set_value(self._variance * m + var.detach() * (1.0 - m))
        return out


def _cpu_sync_copy(bn: nn.BatchNorm2D) -> CpuSyncBatchNorm:
    if bn._data_format != "NCHW":  # FOMM's layout; the statistics sum over axes 0, 2, 3
        raise ValueError(f"CpuSyncBatchNorm supports NCHW data, not {bn._data_format}")
    new = CpuSyncBatchNorm(bn._num_features, momentum=bn._momentum, epsilon=bn._epsilon,
                           use_global_stats=bn._use_global_stats)
    # share (not copy) the tensors, so optimisers and checkpoints see the same objects
    with paddle.no_grad():
        new.weight = bn.weight
        new.bias = bn.bias
    new._mean = bn._mean
    new._variance = bn._variance
    new.training = bn.training
    return new


def _replace_bn(layer: nn.Layer) -> nn.Layer:
    if type(layer) is nn.BatchNorm2D:
        return _cpu_sync_copy(layer)
    for name, child in layer.named_children():
        new = _replace_bn(child)
        if new is not child:
            setattr(layer, name, new)
    return layer


def convert_sync_batchnorm(layer: nn.Layer, device: Optional[str] = None) -> nn.Layer:
    """Every ``BatchNorm2D`` of ``layer`` computing global-batch statistics.

    Args:
        layer: a network (modified in place where possible; use the return value).
        device: ``'gpu:N'`` -> Paddle's ``nn.SyncBatchNorm``; ``'cpu'`` ->
            :class:`CpuSyncBatchNorm`. Default: the current Paddle device.

    Returns:
        The converted layer; parameters are the same tensor objects as before.
    """
    device = device or paddle.device.get_device()
    if device.startswith("gpu"):
        return nn.SyncBatchNorm.convert_sync_batchnorm(layer)
    return _replace_bn(layer)


def all_reduce_mean(values: Sequence[float]) -> list:
    """The mean over ranks of each of ``values`` (floats), as floats (one collective)."""
    import paddle.distributed as dist

    t = paddle.to_tensor([float(v) for v in values], dtype="float64")
    dist.all_reduce(t)
    n = dist.get_world_size()
    return [float(v) / n for v in t.numpy()]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (one collective)."""
    import paddle.distributed as dist

    t = paddle.to_tensor([1.0 if flag else 0.0], dtype="float32")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.numpy()[0] > 0)


def on_sigterm(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback()`` (once) when this process receives SIGTERM, instead of dying.

    Only possible from the main thread (elsewhere nothing is installed). Returns a function
    that restores the previous handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    fired = []

    def handler(signum, frame):
        if not fired:  # the launcher sends SIGTERM up to 3 times
            fired.append(signum)
            logger.warning("terminated (SIGTERM): stopping after this step")
            callback()

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def prepare_process(cpu: bool = False, threads: Optional[int] = None) -> int:
    """Device and threads for this training process; returns its rank.

    Under ``paddle.distributed.launch`` only rank 0 reports (the others log warnings
    only) and the processes of one machine share its cores unless ``threads`` is given.
    """
    import logging

    from ..runtime import cpu_threads, setup_device

    rank, world = world_from_env()
    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)
    if threads is None and world > 1:
        threads = max(1, cpu_threads() // local_world_size())
    setup_device(cpu=cpu, threads=threads)
    return rank
