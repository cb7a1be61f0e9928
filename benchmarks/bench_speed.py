#!/usr/bin/env python
"""Speed benchmark: this project's inference vs PaddleGAN's ppgan 2.1.0, same CPU, same weights.

One run measures, each in its own subprocess (so peak RSS is per configuration):

* ours, vox-256, default (static Paddle Inference) path, batch 1 and 8;
* ours, vox-mobile (PaddleGAN's lightweight architecture), batch 1 and 8;
* ours, vox-256, 5 faces (the syndics photo's face count) vs 1 face, batch 1;
* ppgan 2.1.0 from PyPI in its own venv (paddlepaddle 2.6.2), batch 1 and 8
  (``benchmarks/ppgan_ref/``; skipped with ``--no-ppgan``);
* the max abs difference of our fast path's prediction against our float32 eager reference.

All runs use the same seeded random full-size vox-256 weights
(``benchmarks/ppgan_ref/make_weights.py``, seed 20240601, made once in the ppgan venv and
cached in ``~/.cache/ppgan-fom/bench/``), the source photo and the first frames of the
3 s driving clip, relative motion with adapt_scale, and ``--threads`` CPU threads.
A face-frame is one face animated for one driving frame.

    python benchmarks/bench_speed.py                 # full run (~15-25 min on 2 cores)
    python benchmarks/bench_speed.py --quick         # fewer frames, no ppgan (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
BENCH = Path.home() / ".cache" / "ppgan-fom" / "bench"
VOX_WEIGHTS = BENCH / "vox256_random_seed20240601.pdparams"
MOBILE_WEIGHTS = SHARED / "golden" / "fom_mobile128" / "fom_mobile128_random.pdparams"
CLIP = REPO / "docs" / "samples" / "driving_3s.mp4"
SOURCE = REPO / "docs" / "samples" / "source_256x256.png"


# --------------------------------------------------------------------------- worker
def worker(args) -> dict:
    """Time one configuration in this process; returns the figures."""
    import numpy as np

    from ppgan_fom.animator import Animator
    from ppgan_fom.config import load_config
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.engine import make_engine
    from ppgan_fom.model import load_fomm
    from ppgan_fom.runtime import setup_device
    from ppgan_fom.media import read_image
    from ppgan_fom.geometry import resize_square

    device = setup_device(threads=args.threads)
    cfg = load_config(args.config)
    gen, kp = load_fomm(cfg, args.weights)
    engine = make_engine(args.engine, gen, kp, cfg.image_size, args.weights, repr(cfg),
                         args.threads, device)
    anim = Animator(gen, kp, cfg.image_size, args.batch, engine=engine)
    s = cfg.image_size
    frames = [f for _, f in zip(range(args.frames), driving_frames(CLIP, DrivingCrop(None, ""), s))]
    src = resize_square(read_image(SOURCE), s)
    state = anim.prepare_sources([src] * args.faces)
    warm = frames[:args.batch]
    list(anim.animate(state, warm))  # warm-up (first call builds oneDNN primitives)
    t0, c0 = time.perf_counter(), time.process_time()
    outs = list(anim.animate(state, frames, kp_initial=anim.keypoints(frames[:1])))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"config": cfg.name, "engine": engine.name, "batch": args.batch,
              "faces": args.faces, "frames": len(frames), "seconds": wall, "cpu_seconds": cpu,
              "face_frames_per_s": len(frames) * args.faces / wall,
              "seconds_per_frame": wall / len(frames)}
    if args.check_eager:
        # prediction of the fast path vs the eager float32 reference, before uint8 rounding
        import paddle

        from ppgan_fom.animator import frames_to_tensor
        from ppgan_fom.engine import EagerEngine

        ref = EagerEngine(gen, kp)
        x = frames_to_tensor(frames[:args.batch])
        src_t = frames_to_tensor([src] * x.shape[0])
        kp_s, kp_d = ref.keypoints(src_t), ref.keypoints(x)
        feats = ref.encode(src_t)
        fast = engine.generate(src_t, feats, kp_d, kp_s).numpy()
        slow = ref.generate(src_t, feats, kp_d, kp_s).numpy()
        kp_fast = engine.keypoints(x)
        result["max_abs_diff_vs_eager"] = float(np.abs(fast - slow).max())
        result["kp_max_abs_diff_vs_eager"] = float(
            np.abs(kp_fast["value"].numpy() - kp_d["value"].numpy()).max())
        del paddle
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_worker(**kw) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    for k, v in kw.items():
        if isinstance(v, bool):
            if v:
                cmd.append(f"--{k}")
        else:
            cmd += [f"--{k}", str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- ppgan
def ppgan_python() -> str:
    out = subprocess.run(["bash", str(HERE / "ppgan_ref" / "setup_env.sh")], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return out.split("=", 1)[1]


def ensure_weights(py: str) -> None:
    if not VOX_WEIGHTS.exists():
        subprocess.run([py, str(HERE / "ppgan_ref" / "make_weights.py")], check=True)


def run_ppgan(py: str, batch: int, frames: int, threads: int, tmp: Path) -> dict:
    import numpy as np

    from ppgan_fom.geometry import resize_square
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.media import read_image

    fr = np.stack([f for _, f in zip(range(frames), driving_frames(CLIP, DrivingCrop(None, ""),
                                                                   256))])
    np.save(tmp / "frames.npy", (fr.astype(np.float32) / 255).transpose(0, 3, 1, 2))
    src = resize_square(read_image(SOURCE), 256).astype(np.float32)[None] / 255
    np.save(tmp / "source.npy", src.transpose(0, 3, 1, 2))
    out = tmp / f"ppgan_b{batch}.json"
    env = dict(os.environ, FLAGS_paddle_num_threads=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    subprocess.run([py, str(HERE / "ppgan_ref" / "runner.py"), "--weights", str(VOX_WEIGHTS),
                    "--config", "vox-256", "--batch", str(batch), "--frames", str(frames),
                    "--threads", str(threads), "--size", "256", "--frames-npy",
                    str(tmp / "frames.npy"), "--source-npy", str(tmp / "source.npy"),
                    "--json-out", str(out)], check=True, env=env, capture_output=True)
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- main
def machine() -> str:
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                  if ln.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", default="vox-256")
    p.add_argument("--weights", default=str(VOX_WEIGHTS))
    p.add_argument("--engine", default="static")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--faces", type=int, default=1)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--check_eager", action="store_true")
    p.add_argument("--quick", action="store_true", help="few frames, skip ppgan")
    p.add_argument("--no-ppgan", dest="ppgan", action="store_false")
    p.add_argument("--json", type=Path, help="also write all figures here")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    import tempfile

    print(f"machine: {machine()}; threads {args.threads}; paddle defaults to 1 thread, "
          f"every run here uses {args.threads}")
    frames = 4 if args.quick else 16
    rows = {}
    py = None
    if args.ppgan and not args.quick:
        py = ppgan_python()
        ensure_weights(py)
    if not VOX_WEIGHTS.exists():
        raise SystemExit(f"{VOX_WEIGHTS} missing: run benchmarks/ppgan_ref/make_weights.py in "
                         f"the ppgan venv (see benchmarks/ppgan_ref/README.md)")
    t = args.threads
    rows["ours vox-256 b1"] = run_worker(batch=1, frames=frames, threads=t, check_eager=True)
    rows["ours vox-256 b8"] = run_worker(batch=8, frames=max(frames, 16), threads=t)
    if MOBILE_WEIGHTS.exists():
        for b in (1, 8):
            rows[f"ours vox-mobile b{b}"] = run_worker(config="vox-mobile", weights=MOBILE_WEIGHTS,
                                                       batch=b, frames=max(frames, 8 * b),
                                                       threads=t, check_eager=(b == 1))
    rows["ours vox-256 5 faces b1"] = run_worker(batch=1, faces=5, frames=max(4, frames // 2),
                                                 threads=t)
    if py:
        with tempfile.TemporaryDirectory() as tmp:
            for b in (1, 8):
                rows[f"ppgan 2.1.0 b{b}"] = run_ppgan(py, b, 3 * b if b > 1 else 8, t, Path(tmp))

    print(f"\n{'run':28s} {'face-frames/s':>14s} {'s/frame':>9s} {'peak RSS MB':>12s}")
    for name, r in rows.items():
        spf = r.get("seconds_per_frame") or (1 / r["face_frames_per_s"])
        print(f"{name:28s} {r['face_frames_per_s']:14.3f} {spf:9.3f} {r['peak_rss_mb']:12.0f}")
    ours1 = rows["ours vox-256 b1"]["face_frames_per_s"]
    ours8 = rows["ours vox-256 b8"]["face_frames_per_s"]
    print()
    for b, ours in ((1, ours1), (8, ours8)):
        if f"ppgan 2.1.0 b{b}" in rows:
            pp = rows[f"ppgan 2.1.0 b{b}"]["face_frames_per_s"]
            print(f"speed-up vs ppgan 2.1.0, batch {b}: {ours / pp:.2f}x")
    print(f"vs the original PyTorch FOMM's 0.70 face-frames/s (measured on this machine, "
          f"issue #6): {ours1 / 0.70:.2f}x at batch 1, {ours8 / 0.70:.2f}x at batch 8")
    one = rows["ours vox-256 b1"]["seconds_per_frame"]
    five = rows["ours vox-256 5 faces b1"]["seconds_per_frame"]
    print(f"5 faces cost {five / one:.2f}x one face per driving frame")
    for name in ("ours vox-256 b1", "ours vox-mobile b1"):
        if name in rows and "max_abs_diff_vs_eager" in rows[name]:
            print(f"{name}: prediction max abs diff vs eager float32 reference "
                  f"{rows[name]['max_abs_diff_vs_eager']:.2e} (keypoints "
                  f"{rows[name]['kp_max_abs_diff_vs_eager']:.2e})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
