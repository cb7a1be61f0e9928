#!/usr/bin/env python
"""Folder anonymization on Ray: throughput with 1 and 2 workers on this machine.

    python benchmarks/bench_scale.py [--videos 4] [--frames 45] [--rounds 1] [--small]

Input: ``--videos`` copies of the first ``--frames`` frames of the talking-head sample
(docs/samples/driving_3s.mp4, 256x256, one face) in a folder, and one long video made of
all of them back to back. The model is the full-size vox-256 FOMM with seeded random
weights (``benchmarks/ppgan_ref/make_weights.py``, cached in
``~/.cache/ppgan-fom/bench/``; the same as ``bench_speed.py``; ``--small`` uses the tiny
64x64 test weights instead). One local Ray is started with every core of the machine.
Runs, interleaved over ``--rounds`` (each a fresh output folder):

* ``folder, 1 worker x N cores``: the short videos, one worker with every core;
* ``folder, 2 workers x N/2 cores``: the same videos on two workers;
* ``long, 1 worker (one piece)``: the long video, ``chunk_frames 0``;
* ``long, 2 workers (chunks)``: the long video rendered in chunks of ``--frames``
  frames on two workers, joined.

Printed per run: wall seconds of ``anonymize_folder`` (worker start-up, model loading
and engine set-up included, Ray's own start-up not), the seconds until the first video
was dispatched to a ready worker, frames per second over the whole run, and the
speed-up against one worker. The machine (``lscpu`` model name, cores, load average)
is printed first: on a shared machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from bench_machine import machine as _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
CLIP = REPO / "docs" / "samples" / "driving_3s.mp4"
FACE = REPO / "docs" / "samples" / "source_256x256.png"
VOX_WEIGHTS = Path.home() / ".cache" / "ppgan-fom" / "bench" / \
    "vox256_random_seed20240601.pdparams"
SMALL = REPO / "tests" / "data" / "fom_small64"



def make_inputs(root: Path, videos: int, frames: int) -> None:
    """``root/short/clip_<i>.mp4`` (first ``frames`` frames of the sample) and
    ``root/long/long.mp4`` (all of them back to back)."""
    from ppgan_fom.media import VideoWriter, probe_video, read_frames

    info = probe_video(CLIP)
    first = [f for f, _ in zip(read_frames(CLIP), range(frames))]
    step = Fraction(1, 30)
    (root / "short").mkdir(parents=True, exist_ok=True)
    (root / "long").mkdir(parents=True, exist_ok=True)
    for i in range(videos):
        with VideoWriter(root / "short" / f"clip_{i}.mp4", (info.width, info.height), 30,
                         time_base=Fraction(1, 15360)) as w:
            for k, f in enumerate(first):
                w.write(f.image, float(k * step))
    with VideoWriter(root / "long" / "long.mp4", (info.width, info.height), 30,
                     time_base=Fraction(1, 15360)) as w:
        for k in range(videos * frames):
            w.write(first[k % frames].image, float(k * step))


def run_once(name: str, src: Path, out: Path, model: dict, workers: int, cpus: int,
             chunk_frames: int) -> dict:
    from ppgan_fom.scale import anonymize_folder

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    manifest = anonymize_folder(src, out, [FACE], workers=workers, cpus_per_worker=cpus,
                                chunk_frames=chunk_frames, **model)
    wall = time.perf_counter() - t0
    assert manifest["counts"]["failed"] == 0, manifest
    videos = manifest["videos"]
    frames = sum(v["frames"] for v in videos)
    first = min(time.mktime(time.strptime(v["started"], "%Y-%m-%dT%H:%M:%S"))
                for v in videos)
    started = time.mktime(time.strptime(manifest["started"][:19], "%Y-%m-%dT%H:%M:%S"))
    return {"run": name, "workers": workers, "cpus_per_worker": cpus, "frames": frames,
            "videos": len(videos), "chunks": sum(v.get("chunks", 1) for v in videos),
            "seconds": round(wall, 1), "to_first_dispatch_s": round(first - started, 1),
            "frames_per_s": round(frames / wall, 3)}


def machine() -> str:
    """The CPU, its vector ISA, the cores and the load averages."""
    return _machine(load=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=45)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--small", action="store_true", help="tiny 64x64 test weights")
    ap.add_argument("--out", type=Path, default=None, help="keep the outputs here")
    ap.add_argument("--batch_size", type=int, default=1, help="the anonymizer's default: 1")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PPGAN_FOM_PROGRESS", "0")
    if args.small:
        model = {"config": str(SMALL / "fom_small64.yaml"),
                 "weight_path": str(SMALL / "fom_small64_random.pdparams"),
                 "batch_size": args.batch_size}
    else:
        if not VOX_WEIGHTS.is_file():
            sys.exit(f"{VOX_WEIGHTS} missing: run benchmarks/ppgan_ref/make_weights.py "
                     f"(or use --small)")
        model = {"config": "vox-256", "weight_path": str(VOX_WEIGHTS),
                 "batch_size": args.batch_size}
    import ray

    cores = os.cpu_count() or 2
    half = max(1, cores // 2)
    print(f"machine: {machine()}")
    print(f"model: {model['config']}, {args.videos} videos x {args.frames} frames "
          f"(256x256, one face), long video {args.videos * args.frames} frames")
    root = Path(args.out or tempfile.mkdtemp(prefix="bench_scale-"))
    make_inputs(root / "in", args.videos, args.frames)
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    plan = [("folder, 1 worker", root / "in" / "short", 1, cores, 0),
            ("folder, 2 workers", root / "in" / "short", 2, half, 0),
            ("long, 1 worker (one piece)", root / "in" / "long", 1, cores, 0),
            ("long, 2 workers (chunks)", root / "in" / "long", 2, half, args.frames)]
    results = []
    try:
        for r in range(args.rounds):
            for name, src, workers, cpus, chunk in plan:
                res = run_once(name, src, root / "out" / f"{r}_{name.split(',')[0]}_{workers}",
                               model, workers, cpus, chunk)
                res["round"] = r
                results.append(res)
                print(json.dumps(res), flush=True)
    finally:
        ray.shutdown()
    print(f"\n{'run':32s} {'workers x cores':>15s} {'frames':>7s} {'seconds':>8s} "
          f"{'frames/s':>9s} {'speed-up':>9s}")
    for res in results:
        base = next(x for x in results if x["round"] == res["round"]
                    and x["run"].split(",")[0] == res["run"].split(",")[0]
                    and x["workers"] == 1)
        print(f"{res['run']:32s} {res['workers']:>7d} x {res['cpus_per_worker']:<5d} "
              f"{res['frames']:>7d} {res['seconds']:>8.1f} {res['frames_per_s']:>9.3f} "
              f"{res['frames_per_s'] / base['frames_per_s']:>8.2f}x")
    print(f"\nmachine at the end: {machine()}")
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
