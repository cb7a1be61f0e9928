#!/usr/bin/env python
"""CPU training benchmark: a small FOMM trained from scratch on one talking-head video.

    python benchmarks/bench_train.py [--minutes 30] [--threads 2] [--out DIR]

* data: the frames of ``../shared/media/driving_fom_dv_256x256.mp4`` at the config's
  frame size (64x64); the first 80 % of the frames are the training video, the last
  20 % the held-out test video (FOMM layout ``root/train``, ``root/test``, PNG frames);
* model: ``ppgan_fom/configs/fom_bench64.yaml`` (10 keypoints, narrow networks), trained
  from scratch without the VGG19 perceptual term (pixel L1 pyramid instead);
* every ``--eval-every-min`` minutes the held-out reconstruction L1 is measured (the
  first held-out frame animates the others; every ``--curve-stride``-th frame for the
  curve) and printed next to the "copy the source frame" baseline on the same frames;
* the whole run (preparation, training, evaluations) stays within ``--minutes``; the
  final evaluation uses every held-out frame. Exit code 0 when the final L1 is below
  the baseline, 1 otherwise. A JSON summary is written to ``OUT/bench_result.json``.

Not a test (it takes up to 30 minutes); run it by hand or in the background.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_VIDEO = REPO.parent / "shared" / "media" / "driving_fom_dv_256x256.mp4"
DEFAULT_CONFIG = REPO / "ppgan_fom" / "configs" / "fom_bench64.yaml"


def prepare_data(video: Path, root: Path, size: int, train_fraction: float) -> dict:
    """Write ``root/train/<stem>/`` and ``root/test/<stem>_heldout/`` as PNG frames."""
    import cv2

    from ppgan_fom.training.dataset import resize_frame
    from ppgan_fom.media import iter_frames

    frames = [resize_frame(f, size) for f in iter_frames(video)]
    split = int(round(train_fraction * len(frames)))
    parts = {"train": (root / "train" / video.stem, frames[:split]),
             "test": (root / "test" / f"{video.stem}_heldout", frames[split:])}
    for folder, chunk in parts.values():
        folder.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(chunk):
            cv2.imwrite(str(folder / f"{i:06d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return {"frames": len(frames), "train_frames": split, "test_frames": len(frames) - split}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--minutes", type=float, default=30.0, help="budget for the whole run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ppgan_fom_bench_train"))
    ap.add_argument("--eval-every-min", type=float, default=3.0)
    ap.add_argument("--curve-stride", type=int, default=4,
                    help="curve evaluations use every k-th held-out frame (final: all)")
    ap.add_argument("--lr", type=float, default=None, help="override all learning rates")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-fraction", type=float, default=0.8)
    args = ap.parse_args(argv)
    t_start = time.time()
    deadline = t_start + args.minutes * 60.0
    if not args.video.is_file():
        print(f"error: {args.video} not found (the benchmark needs ../shared/media)",
              file=sys.stderr)
        return 2

    import dataclasses
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from ppgan_fom.runtime import setup_device

    setup_device(cpu=True, threads=args.threads)
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.evaluator import (CopySourceReconstructor, Evaluator,
                                              FommReconstructor)
    from ppgan_fom.training.train_config import load_train_config
    from ppgan_fom.training.trainer import Trainer, TrainOptions

    tc = load_train_config(args.config).without_perceptual()
    if args.lr is not None:
        tc = tc.replace(optim=dataclasses.replace(tc.optim, lr_generator=args.lr,
                                                  lr_kp_detector=args.lr,
                                                  lr_discriminator=args.lr))
    tc = tc.replace(batch_size=args.batch_size)
    root = args.out / "data"
    if args.out.exists():
        import shutil

        shutil.rmtree(args.out)
    info = prepare_data(args.video, root, tc.image_size, args.train_fraction)
    print(f"data: {info['frames']} frames of {args.video.name} at {tc.image_size}x"
          f"{tc.image_size}; train {info['train_frames']}, held-out {info['test_frames']}")
    train = PairDataset(VideoSet(root / "train", tc.image_size), tc.dataset)
    test = VideoSet(root / "test", tc.image_size)
    curve_eval = Evaluator(test, batch_size=16, preload=True, frame_stride=args.curve_stride)
    full_eval = Evaluator(test, batch_size=16, preload=True)
    base_curve = curve_eval.run(CopySourceReconstructor()).l1
    base_full = full_eval.run(CopySourceReconstructor()).l1
    print(f"copy-source baseline L1: {base_curve:.5f} (curve frames, every "
          f"{args.curve_stride}th), {base_full:.5f} (all {info['test_frames']} held-out frames)")

    curve = []
    last_eval = [0.0]
    eval_cost = [0.0]

    def evaluate(trainer: Trainer, step: int, losses: dict) -> None:
        now = time.time()
        due = now - last_eval[0] >= args.eval_every_min * 60.0
        if not due and step > 0:
            return
        t0 = time.time()
        l1 = curve_eval.run(FommReconstructor(trainer.generator, trainer.kp_detector)).l1
        eval_cost[0] = time.time() - t0
        last_eval[0] = time.time()
        minutes = (time.time() - t_start) / 60.0
        curve.append({"step": step, "minutes": round(minutes, 2), "heldout_l1": l1,
                      "train_loss": losses.get("total")})
        loss = "" if losses.get("total") is None else f"{losses['total']:.4f}"
        print(f"  step {step:5d}  {minutes:6.1f} min  train loss {loss:>8}  held-out L1 "
              f"{l1:.5f}  (copy-source {base_curve:.5f})", flush=True)

    opts = TrainOptions(output=args.out / "run", seed=args.seed, num_workers=1,
                        progress=False, visualdl=False, keep_checkpoints=2)
    trainer = Trainer(tc, train, opts, hooks=[evaluate])
    print(f"training {tc.name}: batch {tc.batch_size}, lr {tc.optim.lr_generator:g}, "
          f"{tc.model.num_kp} keypoints, {args.threads} threads, budget {args.minutes:g} min")
    print(f"held-out L1 curve (every {args.curve_stride}th held-out frame):")
    evaluate(trainer, 0, {})
    final_cost = eval_cost[0] * args.curve_stride * 1.3 + 15.0
    trainer.options.time_limit = max(0.0, deadline - time.time() - final_cost)
    trainer.options.max_steps = 10 ** 9
    trainer.total_steps = 10 ** 9
    summary = trainer.fit()
    t0 = time.time()
    final = full_eval.run(FommReconstructor(trainer.generator, trainer.kp_detector))
    minutes = (time.time() - t_start) / 60.0
    ok = final.l1 < base_full
    print(f"final (step {summary.step}, {minutes:.1f} min, eval {time.time() - t0:.0f} s): "
          f"held-out L1 {final.l1:.5f} vs copy-source baseline {base_full:.5f} on the same "
          f"{final.frames} frames -> {'BELOW baseline' if ok else 'NOT below baseline'}")
    result = {"config": str(args.config), "threads": args.threads, "minutes": round(minutes, 2),
              "steps": summary.step, "batch_size": tc.batch_size,
              "lr": tc.optim.lr_generator, "baseline_curve_l1": base_curve,
              "baseline_l1": base_full, "final_l1": final.l1, "below_baseline": ok,
              "curve": curve, "checkpoint": str(summary.checkpoint)}
    (args.out / "bench_result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"summary: {args.out / 'bench_result.json'}; checkpoint {summary.checkpoint}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
