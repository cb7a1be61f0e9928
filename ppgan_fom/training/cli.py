"""``applications/tools/train.py`` and ``applications/tools/evaluate.py``.

Exit codes: 0 success; 1 runtime failure (loss became NaN, Ctrl-C - after writing a
checkpoint -, writer failure); 2 bad input (missing data root / split, bad config,
missing or mismatched weights, VGG19 weights unavailable offline). Errors print one
line, ``error: <message>``; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import InputError

__all__ = ["train_main", "evaluate_main", "train_parser", "evaluate_parser", "load_callable"]

EXIT_CODES = """exit codes:
  0  success
  1  runtime failure (loss became NaN, interrupted with Ctrl-C - a checkpoint is written
     first -, video writer failure)
  2  bad input: missing data root or split, bad config, weights missing / mismatched,
     VGG19 weights unavailable offline (see --no-perceptual)
"""


def _run(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
         body: Callable[[argparse.Namespace], Optional[str]]) -> int:
    """The project's CLI runner (one-line errors, exit codes) with training's wording."""
    from ..cli import _run as run_cli

    return run_cli(parser, argv, body,
                   interrupted="interrupted (training writes a checkpoint first)",
                   memory_hint="try a smaller --batch-size")


def _device_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("device and logging")
    g.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is present")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for Paddle (default: all cores)")
    g.add_argument("--debug", action="store_true", help="tracebacks and debug logging")
    g.add_argument("--quiet", action="store_true", help="only warnings and errors")


def _split_dir(root: str, split: str) -> Path:
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: data root not found")
    d = r / split
    if not d.is_dir():
        raise InputError(f"{r}: no '{split}' directory (expected the FOMM layout "
                         f"ROOT/train/, ROOT/test/ holding videos or folders of frames)")
    return d


def load_callable(spec: str, what: str) -> Callable:
    """``package.module:function`` or ``path/to/file.py:function`` -> the callable.

    Raises:
        InputError: malformed spec, import failure or missing attribute.
    """
    if ":" not in spec:
        raise InputError(f"{what} '{spec}': expected module:function or file.py:function")
    mod_name, attr = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise InputError(f"{what} '{spec}': {path} not found")
            s = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(mod_name)
        fn = getattr(module, attr)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import-time failure is a bad input
        raise InputError(f"{what} '{spec}': cannot load ({exc.__class__.__name__}: {exc})") \
            from None
    if not callable(fn):
        raise InputError(f"{what} '{spec}': {attr} is not callable")
    return fn


# ----------------------------------------------------------------------------- train
def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train (or fine-tune) the First Order Motion Model on videos in the FOMM "
                    "layout: ROOT/train/ and ROOT/test/, each holding video files or "
                    "folders of frames. Checkpoints (OUTPUT/checkpoints/step_N.pdparams, "
                    "latest.pdparams) load in first-order-demo.py --weight_path.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True,
                   help="training YAML (PaddleGAN or first-order-model layout)")
    p.add_argument("--data", required=True, help="dataset root holding train/ (and test/)")
    p.add_argument("--output", default="output/fom_train",
                   help="run directory (default: %(default)s)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", default=None,
                       help="continue a run from its checkpoint (weights, optimisers, step)")
    start.add_argument("--weights", default=None,
                       help="fine-tune from these weights: registry name (vox-256, ...) or "
                            ".pdparams path; optimisers start fresh")
    t = p.add_argument_group("training")
    t.add_argument("--no-perceptual", action="store_true",
                   help="train without the VGG19 perceptual loss (no ImageNet weights "
                        "needed); a pixel L1 pyramid loss is the reconstruction term")
    t.add_argument("--pixel-l1", type=float, default=None,
                   help="per-scale weight of the pixel L1 loss with --no-perceptual "
                        "(default: the config's pixel_l1, else 10)")
    t.add_argument("--max-steps", type=int, default=None,
                   help="stop after N optimiser steps in all (default: the config's epochs)")
    t.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    t.add_argument("--batch-size", type=int, default=None,
                   help="pairs per step and process: with paddle.distributed.launch a step "
                        "trains on batch-size x processes pairs (docs/scale.md)")
    t.add_argument("--lr", type=float, default=None,
                   help="override every learning rate (generator, keypoints, discriminator)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--num-workers", type=int, default=1,
                   help="threads preparing batches ahead (default: %(default)s)")
    t.add_argument("--vgg-weights", default="vgg19",
                   help="VGG19 ImageNet weights: registry name or .pdparams path")
    o = p.add_argument_group("outputs")
    o.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (default: config, else 1000)")
    o.add_argument("--keep-checkpoints", type=int, default=5,
                   help="newest step checkpoints kept (0 = all; default: %(default)s)")
    o.add_argument("--grid-every", type=int, default=None,
                   help="steps between PNG grids in OUTPUT/grids (default: config, else 500)")
    o.add_argument("--log-every", type=int, default=None,
                   help="steps between rows of OUTPUT/losses.csv (default: 1)")
    o.add_argument("--eval-every", type=int, default=0,
                   help="steps between held-out reconstruction evaluations on ROOT/test "
                        "(OUTPUT/eval.csv; 0 = never)")
    o.add_argument("--eval-max-videos", type=int, default=None)
    o.add_argument("--eval-max-frames", type=int, default=None)
    o.add_argument("--no-visualdl", action="store_true", help="do not log to VisualDL")
    o.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    _device_flags(p)
    return p


def _train(args: argparse.Namespace) -> Optional[str]:
    from .train_config import DEFAULT_PIXEL_L1, load_train_config

    train_dir = _split_dir(args.data, "train")
    tc = load_train_config(args.config)
    if args.no_perceptual:
        tc = tc.without_perceptual(args.pixel_l1 if args.pixel_l1 is not None
                                   else DEFAULT_PIXEL_L1)
    elif args.pixel_l1 is not None:
        raise InputError("--pixel-l1 goes with --no-perceptual (or set "
                         "train_params.loss_weights.pixel_l1 in the config)")
    if args.lr is not None:
        tc = tc.replace(optim=dataclasses.replace(tc.optim, lr_generator=args.lr,
                                                  lr_kp_detector=args.lr,
                                                  lr_discriminator=args.lr))
    for name, value in (("batch-size", args.batch_size), ("epochs", args.epochs),
                        ("max-steps", args.max_steps)):
        if value is not None and value < 1:
            raise InputError(f"--{name} must be >= 1")
    tc = tc.replace(batch_size=args.batch_size, num_epochs=args.epochs)
    from ..runtime import cpu_threads, setup_device
    from .distributed import local_world_size, world_from_env

    rank, world = world_from_env()  # paddle.distributed.launch sets these
    if rank != 0:  # rank 0 reports; the others only warn
        logging.getLogger().setLevel(logging.WARNING)
    threads = args.threads
    if threads is None and world > 1:  # processes of one machine share its cores
        threads = max(1, cpu_threads() // local_world_size())
    setup_device(cpu=args.cpu, threads=threads)
    from .dataset import PairDataset, VideoSet
    from .trainer import Trainer, TrainOptions

    dataset = PairDataset(VideoSet(train_dir, tc.image_size), tc.dataset)
    hooks = []
    if args.eval_every > 0:
        hooks.append(_eval_hook(args, tc))
    opts = TrainOptions(output=Path(args.output), resume=Path(args.resume) if args.resume
                        else None, weights=args.weights, max_steps=args.max_steps,
                        checkpoint_every=args.checkpoint_every, grid_every=args.grid_every,
                        log_every=args.log_every, keep_checkpoints=args.keep_checkpoints,
                        seed=args.seed, num_workers=args.num_workers,
                        progress=not args.no_progress, visualdl=not args.no_visualdl,
                        vgg_weights=args.vgg_weights)
    trainer = Trainer(tc, dataset, opts, hooks=hooks)
    summary = trainer.fit()
    if rank != 0:
        return None
    losses = ", ".join(f"{k} {v:.4g}" for k, v in summary.last_losses.items()
                       if not k.startswith("lr_"))
    return (f"trained steps {summary.start_step}..{summary.step} in {summary.seconds:.0f} s"
            f"{'; last losses: ' + losses if losses else ''}\ncheckpoint: {summary.checkpoint}")


def _eval_hook(args: argparse.Namespace, tc):
    """Held-out reconstruction every ``--eval-every`` steps, appended to OUTPUT/eval.csv."""
    from .dataset import VideoSet
    from .evaluator import Evaluator, FommReconstructor
    from .logger import CsvLog

    test = VideoSet(_split_dir(args.data, "test"), tc.image_size)
    ev = Evaluator(test, batch_size=16, max_videos=args.eval_max_videos,
                   max_frames=args.eval_max_frames, preload=True)
    state = {"log": None}

    def hook(trainer, step: int, losses: dict) -> None:
        if step % args.eval_every:
            return
        if state["log"] is None:
            state["log"] = CsvLog(Path(args.output) / "eval.csv", ["step", "l1", "frames"],
                                  resume_step=step - 1 if trainer.resumed else None)
        report = ev.run(FommReconstructor(trainer.generator, trainer.kp_detector))
        state["log"].write({"step": step, "l1": report.l1, "frames": report.frames})
        logging.getLogger(__name__).info("step %d: held-out reconstruction L1 %.5f (%d frames)",
                                         step, report.l1, report.frames)

    return hook


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``applications/tools/train.py``."""
    return _run(train_parser(), argv, _train)


# ----------------------------------------------------------------------------- evaluate
def evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Reconstruction benchmark (FOMM paper): each test video is re-generated "
                    "from its first frame, driven by its own frames; reports the mean L1 per "
                    "video and overall (table + OUTPUT/reconstruction.json).",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None,
                   help="model YAML or preset (vox-256, ...); default vox-256")
    p.add_argument("--data", required=True, help="dataset root holding the split directory")
    p.add_argument("--split", default="test", help="split directory (default: %(default)s)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", help="checkpoint .pdparams or registry name (vox-256, ...)")
    src.add_argument("--baseline", choices=["copy-source"],
                     help="evaluate a baseline instead of a model: copy-source repeats the "
                          "first frame")
    p.add_argument("--output", default="output/fom_eval",
                   help="where reconstruction.json (and videos/) go (default: %(default)s)")
    p.add_argument("--save-videos", action="store_true",
                   help="also write each reconstruction as OUTPUT/videos/<name>.mp4")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--skip-source-frame", action="store_true",
                   help="do not count frame 0 (FOMM's script counts it)")
    p.add_argument("--border-blend", action="store_true",
                   help="use PaddleGAN's inference border blend (default: original FOMM)")
    p.add_argument("--akd-model", default=None, metavar="MODULE:FUNCTION",
                   help="landmark detector for AKD/MKR: frames (N,S,S,3) uint8 RGB -> (N,K,2) "
                        "pixel coordinates, NaN when missed")
    p.add_argument("--aed-model", default=None, metavar="MODULE:FUNCTION",
                   help="identity embedder for AED: frames (N,S,S,3) uint8 RGB -> (N,D)")
    _device_flags(p)
    return p


def _evaluate(args: argparse.Namespace) -> str:
    from ..config import load_config

    split = _split_dir(args.data, args.split)
    cfg = load_config(args.config)
    kp_fn = load_callable(args.akd_model, "--akd-model") if args.akd_model else None
    emb_fn = load_callable(args.aed_model, "--aed-model") if args.aed_model else None
    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    from .dataset import VideoSet
    from .evaluator import CopySourceReconstructor, Evaluator, FommReconstructor

    if args.baseline:
        model = CopySourceReconstructor()
    else:
        from ..model import load_fomm
        from ..runtime import setup_device
        from ..weights import resolve_weights

        setup_device(cpu=args.cpu, threads=args.threads)
        gen, kp = load_fomm(cfg, resolve_weights(args.weights), inference=False)
        model = FommReconstructor(gen, kp, border_blend=args.border_blend)
    out = Path(args.output)
    ev = Evaluator(VideoSet(split, cfg.image_size), batch_size=args.batch_size,
                   max_videos=args.max_videos, max_frames=args.max_frames,
                   include_source_frame=not args.skip_source_frame,
                   save_dir=out / "videos" if args.save_videos else None,
                   keypoint_fn=kp_fn, embedding_fn=emb_fn)
    report = ev.run(model)
    if not report.videos:
        raise InputError(f"{split}: no video could be evaluated "
                         f"(skipped: {', '.join(report.skipped) or 'none'})")
    path = report.save_json(out / "reconstruction.json")
    skipped = f"\nskipped (unreadable): {', '.join(report.skipped)}" if report.skipped else ""
    return f"{report.table()}{skipped}\nreport: {path}"


def evaluate_main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``applications/tools/evaluate.py``."""
    return _run(evaluate_parser(), argv, _evaluate)
