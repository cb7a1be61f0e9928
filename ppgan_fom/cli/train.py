"""``applications/tools/train.py`` / ``ppgan-fom-train``: flags mapped onto a training
config and :class:`~ppgan_fom.training.trainer.Trainer` options.

Run it under ``python -m paddle.distributed.launch --nproc_per_node N`` for data-parallel
training (docs/scale.md). Flags are spelled as in PaddleGAN (``--batch_size``); the
former dashed spellings (``--batch-size``) still work for one release, with a warning.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Optional, Sequence

from ..errors import InputError
from .common import add_dashed_alias_flag, add_deprecated_spelling, common_flags, run_cli

__all__ = ["train_parser", "train_main", "device_flags", "TRAIN_EXIT_CODES"]

TRAIN_EXIT_CODES = """exit codes:
  0  success
  1  runtime failure (loss became NaN, interrupted with Ctrl-C - a checkpoint is written
     first -, video writer failure)
  2  bad input: missing data root or split, bad config, weights missing / mismatched,
     VGG19 weights unavailable offline (see --no_perceptual)
"""


def device_flags(p: argparse.ArgumentParser) -> None:
    """``--cpu``, ``--threads`` and the logging flags."""
    g = p.add_argument_group("device")
    g.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is present")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for Paddle (default: all cores, shared between the "
                        "processes of one machine)")
    common_flags(p)


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train (or fine-tune) the First Order Motion Model on videos in the FOMM "
                    "layout: ROOT/train/ and ROOT/test/, each holding video files or "
                    "folders of frames. Checkpoints (OUTPUT/checkpoints/step_N.pdparams, "
                    "latest.pdparams) load in first-order-demo.py --weight_path.",
        epilog=TRAIN_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True,
                   help="training YAML (PaddleGAN or first-order-model layout)")
    p.add_argument("--data", required=True, help="dataset root holding train/ (and test/)")
    p.add_argument("--output", default="output/fom_train",
                   help="run directory (default: %(default)s)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", default=None,
                       help="continue a run from its checkpoint (weights, optimisers, step)")
    add_deprecated_spelling(p, start, "--weight_path", "--weights", default=None,
                            dest="weight_path",
                            help="fine-tune from these weights: registry name (vox-256, ...) "
                                 "or .pdparams path; optimisers start fresh")
    t = p.add_argument_group("training")
    add_dashed_alias_flag(p, t, "--no_perceptual", action="store_true",
          help="train without the VGG19 perceptual loss (no ImageNet weights needed); a "
               "pixel L1 pyramid loss is the reconstruction term")
    add_dashed_alias_flag(p, t, "--pixel_l1", type=float, default=None,
          help="per-scale weight of the pixel L1 loss with --no_perceptual (default: the "
               "config's pixel_l1, else 10)")
    add_dashed_alias_flag(p, t, "--max_steps", type=int, default=None,
          help="stop after N optimiser steps in all (default: the config's epochs)")
    t.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    add_dashed_alias_flag(p, t, "--batch_size", type=int, default=None,
          help="pairs per step and process: with paddle.distributed.launch a step trains on "
               "batch_size x processes pairs (docs/scale.md)")
    t.add_argument("--lr", type=float, default=None,
                   help="override every learning rate (generator, keypoints, discriminator)")
    t.add_argument("--seed", type=int, default=0)
    add_dashed_alias_flag(p, t, "--num_workers", type=int, default=1,
          help="threads preparing batches ahead (default: 1)")
    add_dashed_alias_flag(p, t, "--vgg_weights", default="vgg19",
          help="VGG19 ImageNet weights: registry name or .pdparams path")
    o = p.add_argument_group("outputs")
    add_dashed_alias_flag(p, o, "--checkpoint_every", type=int, default=None,
          help="steps between checkpoints (default: config, else 1000)")
    add_dashed_alias_flag(p, o, "--keep_checkpoints", type=int, default=5,
          help="newest step checkpoints kept (0 = all; default: 5)")
    add_dashed_alias_flag(p, o, "--grid_every", type=int, default=None,
          help="steps between PNG grids in OUTPUT/grids (default: config, else 500)")
    add_dashed_alias_flag(p, o, "--log_every", type=int, default=None,
          help="steps between rows of OUTPUT/losses.csv (default: 1)")
    add_dashed_alias_flag(p, o, "--eval_every", type=int, default=0,
          help="steps between held-out reconstruction evaluations on ROOT/test "
               "(OUTPUT/eval.csv; 0 = never)")
    add_dashed_alias_flag(p, o, "--eval_max_videos", type=int, default=None)
    add_dashed_alias_flag(p, o, "--eval_max_frames", type=int, default=None)
    add_dashed_alias_flag(p, o, "--no_visualdl", action="store_true", help="do not log to VisualDL")
    add_dashed_alias_flag(p, o, "--no_progress", action="store_true", help="no progress bar")
    device_flags(p)
    return p


def _train(args: argparse.Namespace) -> Optional[str]:
    from ..training.dataset import PairDataset, VideoSet, split_dir
    from ..training.distributed import prepare_process
    from ..training.hooks import held_out_evaluation
    from ..training.train_config import DEFAULT_PIXEL_L1, load_train_config
    from ..training.trainer import Trainer, TrainOptions

    train_dir = split_dir(args.data, "train")
    tc = load_train_config(args.config)
    if args.no_perceptual:
        tc = tc.without_perceptual(args.pixel_l1 if args.pixel_l1 is not None
                                   else DEFAULT_PIXEL_L1)
    elif args.pixel_l1 is not None:
        raise InputError("--pixel_l1 goes with --no_perceptual (or set "
                         "train_params.loss_weights.pixel_l1 in the config)")
    if args.lr is not None:
        tc = tc.replace(optim=dataclasses.replace(tc.optim, lr_generator=args.lr,
                                                  lr_kp_detector=args.lr,
                                                  lr_discriminator=args.lr))
    for name, value in (("batch_size", args.batch_size), ("epochs", args.epochs),
                        ("max_steps", args.max_steps)):
        if value is not None and value < 1:
            raise InputError(f"--{name} must be >= 1")
    tc = tc.replace(batch_size=args.batch_size, num_epochs=args.epochs)
    rank = prepare_process(cpu=args.cpu, threads=args.threads)
    dataset = PairDataset(VideoSet(train_dir, tc.image_size), tc.dataset)
    hooks = []
    if args.eval_every > 0:
        hooks.append(held_out_evaluation(args.data, Path(args.output), tc.image_size,
                                         args.eval_every, args.eval_max_videos,
                                         args.eval_max_frames))
    opts = TrainOptions(output=Path(args.output), resume=Path(args.resume) if args.resume
                        else None, weights=args.weight_path, max_steps=args.max_steps,
                        checkpoint_every=args.checkpoint_every, grid_every=args.grid_every,
                        log_every=args.log_every, keep_checkpoints=args.keep_checkpoints,
                        seed=args.seed, num_workers=args.num_workers,
                        progress=not args.no_progress, visualdl=not args.no_visualdl,
                        vgg_weights=args.vgg_weights)
    summary = Trainer(tc, dataset, opts, hooks=hooks).fit()
    if rank != 0:
        return None
    losses = ", ".join(f"{k} {v:.4g}" for k, v in summary.last_losses.items()
                       if not k.startswith("lr_"))
    return (f"trained steps {summary.start_step}..{summary.step} in {summary.seconds:.0f} s"
            f"{'; last losses: ' + losses if losses else ''}\ncheckpoint: {summary.checkpoint}")


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``applications/tools/train.py``."""
    return run_cli(train_parser(), argv, _train,
                   interrupted="interrupted (training writes a checkpoint first)",
                   memory_hint="try a smaller --batch_size")
