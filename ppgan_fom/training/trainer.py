"""The training loop: build, (re)start, step, log, draw, checkpoint.

One step (FOMM's): the keypoint detector and generator minimise the sum of their
losses (Adam each), then - for configs with ``generator_gan != 0`` - the discriminator
takes an LSGAN step on the same batch. Everything random in a step (the batch, its
augmentations, the equivariance warp) is drawn from generators seeded by
``(seed, step)``; with the networks' weights, BatchNorm statistics, Adam moments and the
step count restored from a checkpoint, a resumed run continues exactly.

Several processes (GPUs, or CPU processes for testing): start with ``python -m
paddle.distributed.launch --nproc_per_node N train.py ...``. Each process trains on its
share of every global batch (``batch_size`` is per process; the global batch of a step is
the same whatever N, see :mod:`.loader`), the BatchNorms compute global-batch statistics
(:func:`.distributed.convert_sync_batchnorm`), gradients are averaged by
``paddle.DataParallel``, logged losses are averaged over the ranks, and rank 0 alone
writes checkpoints, logs and grids. A checkpoint resumes with any process count.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import InputError, RuntimeFailure
from ..model import build_fomm
from ..weights import resolve_weights
from . import checkpoint as ckpt
from . import distributed as dist_util
from .discriminator import MultiScaleDiscriminator
from .full_model import DiscriminatorFullModel, GeneratorFullModel
from .init import init_fomm_weights
from .loader import PairLoader
from .logger import ScalarLogger
from .optim import build_adam, load_optimizer_state, lr_at, milestone_steps, optimizer_state
from .tps import RandomTPS
from .train_config import TrainConfig, describe
from .visualizer import make_grid, save_png

logger = logging.getLogger(__name__)

__all__ = ["TrainOptions", "Trainer", "TrainSummary", "TrainingInterrupted"]

Hook = Callable[["Trainer", int, Dict[str, float]], None]
LOSS_ORDER = ("perceptual", "pixel_l1", "gen_gan", "feature_matching", "equivariance_value",
              "equivariance_jacobian", "disc_gan")


@dataclass
class TrainOptions:
    """Run options (the config holds the model and the losses).

    Attributes:
        output: run directory: ``checkpoints/``, ``grids/``, ``losses.csv``, ``visualdl/``.
        resume: continue from this training checkpoint (weights, optimisers, step).
        weights: start from these weights (registry name such as ``vox-256`` or a
            ``.pdparams``; fine-tuning): generator and keypoint detector must match the
            config; a matching discriminator section is used too. Optimisers start fresh.
        max_steps: stop after this many optimiser steps in all (default: the config's
            ``num_epochs`` epochs).
        time_limit: stop after this many seconds of this run (a checkpoint is written).
        checkpoint_every, grid_every, log_every: in steps (default: the config's;
            0 = never, except the final checkpoint).
        keep_checkpoints: newest ``step_*.pdparams`` files kept (0 = all).
        seed: seeds initialisation, batches, augmentation and warps.
        num_workers: threads preparing batches ahead of the training thread.
        progress: tqdm bar. visualdl: also log to VisualDL when it is installed.
        vgg_weights: registry name or path of the VGG19 ImageNet weights.
    """

    output: Path = Path("output/fom_train")
    resume: Optional[Path] = None
    weights: Optional[str] = None
    max_steps: Optional[int] = None
    time_limit: Optional[float] = None
    checkpoint_every: Optional[int] = None
    grid_every: Optional[int] = None
    log_every: Optional[int] = None
    keep_checkpoints: int = 5
    seed: int = 0
    num_workers: int = 1
    progress: bool = True
    visualdl: bool = True
    vgg_weights: str = "vgg19"


@dataclass
class TrainSummary:
    """What a :meth:`Trainer.fit` call did."""

    start_step: int
    step: int
    seconds: float
    checkpoint: Optional[Path]
    last_losses: Dict[str, float] = field(default_factory=dict)


class TrainingInterrupted(RuntimeFailure):
    """Ctrl-C during training; a checkpoint of the last completed step was written."""


class Trainer:
    """Trains a FOMM described by a :class:`TrainConfig` on a :class:`PairDataset`.

    Args:
        tc: training config (architecture, losses, optimiser, batch size).
        dataset: training pairs (``root/train``).
        options: run options.
        hooks: ``hook(trainer, step, losses)`` called after every step (rank 0 only),
            e.g. a held-out evaluation; :meth:`request_stop` ends training cleanly.

    Raises:
        WeightsError: VGG19 / fine-tuning / resume weights missing or mismatched.
        InputError: bad options (e.g. both ``resume`` and ``weights``).
    """

    def __init__(self, tc: TrainConfig, dataset, options: Optional[TrainOptions] = None,
                 hooks: Sequence[Hook] = ()):
        self.tc = tc
        self.options = opts = options or TrainOptions()
        self.hooks: List[Hook] = list(hooks)
        self.output = Path(opts.output)
        self.rank, self.world_size = dist_util.world_from_env()
        if opts.resume is not None and opts.weights is not None:
            raise InputError("pass either --resume (continue a run) or --weight_path (start from "
                             "published weights), not both")
        lw = tc.loss_weights
        if lw.use_gan:
            missing = [s for s in tc.discriminator.scales if float(s) not in tc.scales]
            if missing:
                raise InputError(f"config {tc.name}: discriminator scales {missing} are not "
                                 f"among train_params.scales {list(tc.scales)}")
        self.device = dist_util.init_process_group() if self.world_size > 1 \
            else paddle.device.get_device()
        paddle.seed(opts.seed)
        self.generator, self.kp_detector = build_fomm(tc.model, inference=False)
        self.discriminator = MultiScaleDiscriminator(tc.model.num_channels, tc.model.num_kp,
                                                     tc.discriminator)
        jac = [self.kp_detector.jacobian] if self.kp_detector.jacobian is not None else []
        init_fomm_weights(self.kp_detector, skip=jac)
        init_fomm_weights(self.generator)
        init_fomm_weights(self.discriminator)
        vgg = None
        if lw.use_perceptual:
            from .vgg import load_vgg19

            levels = max(i + 1 for i, w in enumerate(lw.perceptual) if w)
            vgg = load_vgg19(opts.vgg_weights, num_outputs=levels)
        self.step = 0
        self.resumed = False
        if opts.weights is not None:
            self._load_pretrained(opts.weights)
        if self.world_size > 1:  # before the optimisers: GPU conversion makes new layers
            self.generator = dist_util.convert_sync_batchnorm(self.generator, self.device)
            self.kp_detector = dist_util.convert_sync_batchnorm(self.kp_detector, self.device)
        o = tc.optim
        self.optimizers = {"generator": build_adam(self.generator, o.lr_generator, o),
                           "kp_detector": build_adam(self.kp_detector, o.lr_kp_detector, o),
                           "discriminator": build_adam(self.discriminator, o.lr_discriminator, o)}
        self._nets = {"generator": self.generator, "kp_detector": self.kp_detector,
                      "discriminator": self.discriminator}
        if opts.resume is not None:
            self._resume(Path(opts.resume))
        self.gen_full: nn.Layer = GeneratorFullModel(self.kp_detector, self.generator, tc, vgg)
        self.disc_full: nn.Layer = DiscriminatorFullModel(self.discriminator, tc)
        if self.world_size > 1:
            self.gen_full = paddle.DataParallel(self.gen_full, find_unused_parameters=True)
            self.disc_full = paddle.DataParallel(self.disc_full)
        self.loader = PairLoader(dataset, tc.batch_size, seed=opts.seed,
                                 num_workers=opts.num_workers, rank=self.rank,
                                 world_size=self.world_size)
        self.milestones = milestone_steps(o, self.loader.steps_per_epoch)
        self.total_steps = int(opts.max_steps) if opts.max_steps is not None \
            else tc.num_epochs * self.loader.steps_per_epoch
        self.checkpoint_dir = self.output / "checkpoints"
        self.last_checkpoint: Optional[Path] = None
        self._stop = False
        logger.info("%s; %d steps/epoch, %d steps in all%s", describe(tc),
                    self.loader.steps_per_epoch, self.total_steps,
                    f"; resuming at step {self.step}" if self.resumed else "")

    # ------------------------------------------------------------------ (re)starting
    def _load_pretrained(self, name_or_path: str) -> None:
        path = resolve_weights(str(name_or_path))
        state = ckpt.load_training_checkpoint(path)
        ckpt.load_network(self.generator, state["generator"], "generator", path)
        ckpt.load_network(self.kp_detector, state["kp_detector"], "kp_detector", path)
        ckpt.load_network(self.discriminator, state.get("discriminator"), "discriminator", path,
                          strict=False)
        logger.info("fine-tuning from %s", path)

    def _resume(self, path: Path) -> None:
        if not path.is_file():
            raise InputError(f"{path}: checkpoint to resume not found")
        state = ckpt.load_training_checkpoint(path)
        for name, net in self._nets.items():
            ckpt.load_network(net, state.get(name), name, path, strict=name != "discriminator")
        for name, opt in self.optimizers.items():
            saved = state.get(f"optimizer_{name}")
            if saved is None:
                logger.warning("%s: no optimizer_%s state; Adam restarts for %s", path, name, name)
                continue
            load_optimizer_state(opt, self._nets[name], saved, f"{path}: optimizer_{name}")
        self.step = int(state.get("step", 0))
        self.resumed = True
        meta = state.get("meta") if isinstance(state.get("meta"), dict) else {}
        saved = meta.get("global_batch")
        if saved is not None and int(saved) != self.tc.batch_size * self.world_size:
            # the step -> batch mapping depends on the global batch, so the remaining steps
            # see other batches than the interrupted run would have (training is still valid)
            logger.warning("%s was trained with a global batch of %d (%s x %s processes); this "
                           "run uses %d (%d x %d): later batches differ from the original run",
                           path, int(saved), meta.get("batch_size", "?"),
                           meta.get("world_size", "?"), self.tc.batch_size * self.world_size,
                           self.tc.batch_size, self.world_size)
        logger.info("resumed from %s at step %d", path, self.step)

    # ------------------------------------------------------------------ one step
    def _set_learning_rates(self, step: int) -> Dict[str, float]:
        o = self.tc.optim
        lrs = {"generator": lr_at(o.lr_generator, step, self.milestones, o.gamma),
               "kp_detector": lr_at(o.lr_kp_detector, step, self.milestones, o.gamma),
               "discriminator": lr_at(o.lr_discriminator, step, self.milestones, o.gamma)}
        for name, opt in self.optimizers.items():
            opt.set_lr(lrs[name])
        return lrs

    def _set_disc_trainable(self, flag: bool) -> None:
        for p in self.discriminator.parameters():
            p.stop_gradient = not flag

    def train_step(self, batch: Dict[str, object], step: int):
        """One optimiser step on ``batch`` (numpy ``source`` / ``driving`` (B, 3, S, S)).

        Returns:
            (losses as floats incl. ``total``, the generator's outputs for drawing).
        """
        lw = self.tc.loss_weights
        self.generator.train()
        self.kp_detector.train()
        self.discriminator.train()
        source = paddle.to_tensor(batch["source"])
        driving = paddle.to_tensor(batch["driving"])
        lrs = self._set_learning_rates(step)
        tps = None
        if lw.equivariance_value or lw.equivariance_jacobian:
            # one generator per sample, keyed by its slot in the global batch: the warps of
            # a step do not depend on how the batch is split over processes
            b = int(source.shape[0])
            slots = batch.get("slots", range(self.rank * b, (self.rank + 1) * b))
            rngs = [np.random.default_rng([self.options.seed, step, int(k), 0x7F5]) for k in slots]
            tps = RandomTPS(b, self.tc.transform, rngs)
        gan = lw.use_gan
        self._set_disc_trainable(False)
        losses, generated = self.gen_full(source, driving, tps, self.discriminator if gan else None)
        total = paddle.add_n(list(losses.values()))
        total.backward()
        for name in ("generator", "kp_detector"):
            self.optimizers[name].step()
            self.optimizers[name].clear_grad()
        out = {k: float(v) for k, v in losses.items()}
        out["total"] = float(total)
        if gan:
            self._set_disc_trainable(True)
            opt = self.optimizers["discriminator"]
            opt.clear_grad()
            d_losses = self.disc_full(driving, generated["prediction"], generated["kp_driving"])
            d_total = paddle.add_n(list(d_losses.values()))
            d_total.backward()
            opt.step()
            opt.clear_grad()
            out.update({k: float(v) for k, v in d_losses.items()})
        if self.world_size > 1:  # log the global batch's losses (and agree on NaN)
            keys = list(out)
            out = dict(zip(keys, dist_util.all_reduce_mean([out[k] for k in keys])))
        out.update({f"lr_{k}": v for k, v in lrs.items()})
        if not math.isfinite(out["total"]):
            raise RuntimeFailure(f"the loss became {out['total']} at step {step + 1}; last "
                                 f"checkpoint: {self.last_checkpoint or 'none'} (try a lower "
                                 f"learning rate)")
        return out, generated

    # ------------------------------------------------------------------ outputs
    def loss_columns(self) -> List[str]:
        lw = self.tc.loss_weights
        on = {"perceptual": lw.use_perceptual, "pixel_l1": lw.use_pixel, "gen_gan": lw.use_gan,
              "feature_matching": lw.use_gan and any(lw.feature_matching),
              "equivariance_value": bool(lw.equivariance_value),
              "equivariance_jacobian": bool(lw.equivariance_jacobian)
              and self.tc.model.estimate_jacobian, "disc_gan": lw.use_gan}
        return [k for k in LOSS_ORDER if on[k]]

    def save(self) -> Path:
        """Write ``checkpoints/step_<N>.pdparams`` (atomically), point ``latest.pdparams``
        at it and prune old ones. Rank 0 only (other ranks return the would-be path)."""
        path = ckpt.checkpoint_path(self.checkpoint_dir, self.step)
        if self.rank != 0:
            return path
        opts = {name: optimizer_state(opt, self._nets[name])
                for name, opt in self.optimizers.items()}
        meta = {"config": self.tc.source_text, "config_name": self.tc.name,
                "seed": int(self.options.seed), "image_size": int(self.tc.image_size),
                "num_kp": int(self.tc.model.num_kp), "batch_size": int(self.tc.batch_size),
                "world_size": int(self.world_size),
                "global_batch": int(self.tc.batch_size * self.world_size)}
        ckpt.save_training_checkpoint(path, self._nets, opts, self.step, meta)
        ckpt.update_latest(path)
        ckpt.prune_checkpoints(self.checkpoint_dir, self.options.keep_checkpoints)
        self.last_checkpoint = path
        logger.info("checkpoint %s", path)
        return path

    def grid(self, batch: Dict[str, object], generated: dict) -> np.ndarray:
        """The PNG grid (see :mod:`.visualizer`) of a batch and its outputs."""
        def arr(t):
            return t.detach().numpy()

        vis = {"source": batch["source"], "driving": batch["driving"],
               "prediction": arr(generated["prediction"]),
               "kp_source": arr(generated["kp_source"]["value"]),
               "kp_driving": arr(generated["kp_driving"]["value"])}
        if "transformed_frame" in generated:
            vis["transformed"] = arr(generated["transformed_frame"])
            vis["kp_transformed"] = arr(generated["transformed_kp"]["value"])
        for key in ("deformed", "occlusion_map", "mask"):
            if key in generated:
                vis[key] = arr(generated[key])
        return make_grid(vis)

    def request_stop(self) -> None:
        """Ask :meth:`fit` to stop after the current step (a checkpoint is written)."""
        self._stop = True

    # ------------------------------------------------------------------ the loop
    def fit(self) -> TrainSummary:
        """Train from the current step to ``total_steps`` (or the time limit / a stop request).

        Raises:
            TrainingInterrupted: on Ctrl-C (and, with several processes, SIGTERM: what
                the launcher sends on Ctrl-C), after writing a checkpoint.
            RuntimeFailure: the loss became NaN / inf.
        """
        from tqdm import tqdm

        opts = self.options
        every = {"checkpoint": self._every(opts.checkpoint_every, self.tc.checkpoint_every),
                 "grid": self._every(opts.grid_every, self.tc.grid_every),
                 "log": max(1, self._every(opts.log_every, self.tc.log_every))}
        main = self.rank == 0
        start, t0 = self.step, time.time()
        columns = ["step", "epoch", "seconds", "total", *self.loss_columns(),
                   "lr_generator", "lr_kp_detector"]
        if self.tc.loss_weights.use_gan:
            columns.append("lr_discriminator")
        log = ScalarLogger(self.output, columns, resume_step=start if self.resumed else None,
                           visualdl=opts.visualdl) if main else None
        bar = tqdm(total=self.total_steps, initial=start, unit="step", desc="training",
                   disable=not (opts.progress and main), dynamic_ncols=True)
        saved_at, last = -1, {}
        terminated: List[bool] = []
        restore_signal = dist_util.on_sigterm(lambda: (terminated.append(True),
                                                       self.request_stop())) \
            if self.world_size > 1 else None
        try:
            for step, batch in self.loader.iterate(start, self.total_steps):
                last, generated = self.train_step(batch, step)
                self.step = step + 1
                bar.update(1)
                if main:
                    if self.step % every["log"] == 0 or self.step == self.total_steps:
                        log.log(self.step, {"epoch": self.loader.epoch_of(step),
                                            "seconds": round(time.time() - t0, 3), **last})
                        bar.set_postfix(loss=f"{last['total']:.4g}", refresh=False)
                    if every["grid"] and self.step % every["grid"] == 0:
                        save_png(self.output / "grids" / f"step_{self.step:08d}.png",
                                 self.grid(batch, generated))
                    if every["checkpoint"] and self.step % every["checkpoint"] == 0:
                        self.save()
                        saved_at = self.step
                    for hook in self.hooks:
                        hook(self, self.step, last)
                stop = self._stop or bool(opts.time_limit and time.time() - t0 >= opts.time_limit)
                if self.world_size > 1:  # a rank leaving the loop alone would hang the others
                    stop = dist_util.any_rank(stop)
                if stop:
                    logger.info("stopping at step %d (%s)", self.step,
                                "requested" if self._stop else "time limit or another rank")
                    break
        except KeyboardInterrupt:
            path = self.save() if self.step > start else self.last_checkpoint
            raise TrainingInterrupted(f"interrupted at step {self.step}; "
                                      f"checkpoint: {path or 'none written'}") from None
        finally:
            bar.close()
            if log is not None:
                log.close()
            if restore_signal is not None:
                restore_signal()
        if saved_at != self.step and (self.step > start or self.last_checkpoint is None):
            self.save()
        if terminated:
            raise TrainingInterrupted(f"terminated at step {self.step}; checkpoint: "
                                      f"{ckpt.checkpoint_path(self.checkpoint_dir, self.step)}")
        return TrainSummary(start, self.step, time.time() - t0, self.last_checkpoint, last)

    @staticmethod
    def _every(option: Optional[int], config: int) -> int:
        return int(option) if option is not None else int(config)
