"""``applications/tools/evaluate.py`` / ``ppgan-fom-evaluate``: the FOMM paper's
reconstruction benchmark on a split of videos (mean L1; AKD/MKR and AED with models you
plug in)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import InputError
from .common import add_dashed_alias_flag, add_deprecated_spelling, run_cli
from .train import TRAIN_EXIT_CODES, device_flags

__all__ = ["evaluate_parser", "evaluate_main", "load_callable"]


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


def evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Reconstruction benchmark (FOMM paper): each test video is re-generated "
                    "from its first frame, driven by its own frames; reports the mean L1 per "
                    "video and overall (table + OUTPUT/reconstruction.json).",
        epilog=TRAIN_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None,
                   help="model YAML or preset (vox-256, ...); default vox-256")
    p.add_argument("--data", required=True, help="dataset root holding the split directory")
    p.add_argument("--split", default="test", help="split directory (default: %(default)s)")
    src = p.add_mutually_exclusive_group(required=True)
    add_deprecated_spelling(p, src, "--weight_path", "--weights", dest="weight_path",
                            help="checkpoint .pdparams or registry name (vox-256, ...)")
    src.add_argument("--baseline", choices=["copy-source"],
                     help="evaluate a baseline instead of a model: copy-source repeats the "
                          "first frame")
    p.add_argument("--output", default="output/fom_eval",
                   help="where reconstruction.json (and videos/) go (default: %(default)s)")
    g = p.add_argument_group("evaluation")
    add_dashed_alias_flag(p, g, "--save_videos", action="store_true",
          help="also write each reconstruction as OUTPUT/videos/<name>.mp4")
    add_dashed_alias_flag(p, g, "--batch_size", type=int, default=16)
    add_dashed_alias_flag(p, g, "--max_videos", type=int, default=None)
    add_dashed_alias_flag(p, g, "--max_frames", type=int, default=None)
    add_dashed_alias_flag(p, g, "--skip_source_frame", action="store_true",
          help="do not count frame 0 (FOMM's script counts it)")
    add_dashed_alias_flag(p, g, "--border_blend", action="store_true",
          help="use PaddleGAN's inference border blend (default: original FOMM)")
    add_dashed_alias_flag(p, g, "--akd_model", default=None, metavar="MODULE:FUNCTION",
          help="landmark detector for AKD/MKR: frames (N,S,S,3) uint8 RGB -> (N,K,2) pixel "
               "coordinates, NaN when missed")
    add_dashed_alias_flag(p, g, "--aed_model", default=None, metavar="MODULE:FUNCTION",
          help="identity embedder for AED: frames (N,S,S,3) uint8 RGB -> (N,D)")
    device_flags(p)
    return p


def _evaluate(args: argparse.Namespace) -> str:
    from ..config import load_config
    from ..training.dataset import VideoSet, split_dir

    split = split_dir(args.data, args.split)
    cfg = load_config(args.config)
    kp_fn = load_callable(args.akd_model, "--akd_model") if args.akd_model else None
    emb_fn = load_callable(args.aed_model, "--aed_model") if args.aed_model else None
    if args.batch_size < 1:
        raise InputError("--batch_size must be >= 1")
    from ..training.evaluator import CopySourceReconstructor, Evaluator, FommReconstructor

    if args.baseline:
        model = CopySourceReconstructor()
    else:
        from ..model import load_fomm
        from ..runtime import setup_device
        from ..weights import resolve_weights

        setup_device(cpu=args.cpu, threads=args.threads)
        gen, kp = load_fomm(cfg, resolve_weights(args.weight_path), inference=False)
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
    return run_cli(evaluate_parser(), argv, _evaluate,
                   interrupted="interrupted; no report was written",
                   memory_hint="try a smaller --batch_size")
