"""Test harness: ``applications/tools/train.py``'s entry point, plus what the test inspects.

Started by tests/test_train_distributed.py directly (one process) or under
``python -m paddle.distributed.launch`` (several). It runs the real CLI (``train_main``)
and additionally, for the directory in ``$FOM_DIST_DUMP``:

* ``rank<R>.start.npz`` / ``rank<R>.npz``: this rank's weights and Adam state
  (``<net>/<name>``, ``opt_<net>/<param>/<accumulator>``) when training starts (after
  initialisation or resume) and when it ends, so the test can compare ranks and runs;
* ``rank<R>.grads.npz``: the (all-reduced) gradients of the first step of this run,
  ``<net>/<name>``, taken just before each optimiser steps;
* ``rank<R>.writes.json``: every path under the run's ``--output`` that this process
  created, opened for writing, renamed, linked or deleted (Python audit events), so the
  test can check that only rank 0 writes.

``$FOM_DIST_STOP_AT=N`` adds a hook that asks the trainer to stop after step N; hooks run
on rank 0 only (like the held-out evaluation), so the other ranks must learn of it.

``$FOM_DIST_BN`` changes the BatchNorms for the benchmark's reference runs:
``local`` keeps per-process statistics (no SyncBatchNorm: what data parallelism gives
without it); ``split:N`` (one process) sums each batch's statistics in N equal chunks, the
order in which N processes sum them - the same maths, another rounding.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.link", "os.remove", "os.rmdir",
           "os.symlink", "shutil.copyfile", "shutil.rmtree"}


def _output_dir(argv) -> Path:
    out = "output/fom_train"
    for i, a in enumerate(argv):
        if a == "--output" and i + 1 < len(argv):
            out = argv[i + 1]
        elif a.startswith("--output="):
            out = a.split("=", 1)[1]
    return Path(out).resolve()


def _patch_batchnorm(mode: str) -> None:
    if not mode:
        return
    from ppgan_fom.training import distributed

    if mode == "local":
        distributed.convert_sync_batchnorm = lambda layer, device=None: layer
        return
    if not mode.startswith("split:"):
        raise SystemExit(f"FOM_DIST_BN={mode!r}: expected 'local' or 'split:N'")
    chunks = int(mode.split(":", 1)[1])
    import paddle

    import ppgan_fom.modules.down_block as m1
    import ppgan_fom.modules.res_block as m2
    import ppgan_fom.modules.same_block as m3
    import ppgan_fom.modules.up_block as m4

    class ChunkSumBatchNorm(distributed.CpuSyncBatchNorm):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            c, k = int(x.shape[1]), int(x.shape[0]) // chunks

            def chunked_sum(t):
                parts = [t[i * k:(i + 1) * k].sum(axis=[0, 2, 3]) for i in range(chunks)]
                return paddle.add_n(parts) if len(parts) > 1 else parts[0]

            n = float(x.size // c)
            mean = chunked_sum(x) / n
            centred = x - mean.reshape([1, c, 1, 1])
            var = chunked_sum(centred * centred) / n
            out = centred * paddle.rsqrt(var + self._epsilon).reshape([1, c, 1, 1])
            out = out * self.weight.reshape([1, c, 1, 1]) + self.bias.reshape([1, c, 1, 1])
            with paddle.no_grad():
                m = float(self._momentum)
                self._mean.set_value(self._mean * m + mean.detach() * (1.0 - m))
                self._variance.set_value(self._variance * m + var.detach() * (1.0 - m))
            return out

    for mod in (m1, m2, m3, m4):
        mod.batch_norm = lambda n: ChunkSumBatchNorm(n, epsilon=1e-5, momentum=0.9)


def main() -> int:
    argv = sys.argv[1:]
    dump = Path(os.environ["FOM_DIST_DUMP"])
    out = str(_output_dir(argv))
    writes = []

    def audit(event, args):
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or \
                (mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
            paths = [path] if writing and not isinstance(path, int) else []
        elif event in _EVENTS:
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
        else:
            return
        for p in paths:
            p = os.fsdecode(p)
            if os.path.abspath(p).startswith(out):
                writes.append([event, os.path.relpath(os.path.abspath(p), out)])

    sys.addaudithook(audit)
    _patch_batchnorm(os.environ.get("FOM_DIST_BN", ""))

    import numpy as np

    from ppgan_fom.cli.train import train_main
    from ppgan_fom.training import trainer
    from ppgan_fom.training.checkpoint import layer_state
    from ppgan_fom.training.optim import optimizer_state

    fit = trainer.Trainer.fit

    def state(self):
        arrays = {}
        for name, net in self._nets.items():
            arrays.update({f"{name}/{k}": v for k, v in layer_state(net).items()})
            opt = optimizer_state(self.optimizers[name], net)["state"]
            for pname, accs in opt.items():
                arrays.update({f"opt_{name}/{pname}/{acc}": a for acc, a in accs.items()})
        return arrays

    def fit_and_dump(self):
        np.savez(dump / f"rank{self.rank}.start.npz", **state(self))
        summary = fit(self)
        np.savez(dump / f"rank{self.rank}.npz", **state(self))
        return summary

    step_fn = trainer.Trainer.train_step
    grads = {}

    def train_step_recording(self, batch, step):
        if grads:
            return step_fn(self, batch, step)
        originals = {}
        for name, opt in self.optimizers.items():
            def record(opt=opt, name=name):
                for pname, p in self._nets[name].named_parameters():
                    if p.grad is not None:
                        grads[f"{name}/{pname}"] = np.array(p.grad.numpy())
                return originals[name]()
            originals[name] = opt.step
            opt.step = record
        try:
            return step_fn(self, batch, step)
        finally:
            for name, opt in self.optimizers.items():
                opt.step = originals[name]
            np.savez(dump / f"rank{self.rank}.grads.npz", **grads)

    stop_at = int(os.environ.get("FOM_DIST_STOP_AT", "0"))
    init = trainer.Trainer.__init__

    def init_with_stop_hook(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if stop_at:
            self.hooks.append(lambda tr, step, losses: tr.request_stop() if step >= stop_at
                              else None)

    trainer.Trainer.__init__ = init_with_stop_hook
    trainer.Trainer.fit = fit_and_dump
    trainer.Trainer.train_step = train_step_recording
    code = train_main(argv)
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    (dump / f"rank{rank}.writes.json").write_text(json.dumps(writes))
    return code


if __name__ == "__main__":
    sys.exit(main())
