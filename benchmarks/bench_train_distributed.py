#!/usr/bin/env python
"""Two CPU processes (paddle.distributed.launch, gloo) vs one: weight differences and speed.

    python benchmarks/bench_train_distributed.py [--steps 10] [--lrs config,1e-5] [--out DIR]

Trains ``ppgan_fom/configs/fom_bench64.yaml`` (64x64) from scratch on synthetic videos
(moving discs, made here) for ``--steps`` steps, for each learning rate of ``--lrs``:

* ``2proc``: 2 processes x batch B/2 (``paddle.distributed.launch --nproc_per_node 2``);
* ``1proc``: 1 process x batch B, the same global batch - the reference;
* ``1proc_split``: 1 process x batch B whose BatchNorms sum each batch in 2 halves, the
  order 2 processes sum it: the same maths with other rounding, i.e. the float-noise floor
  between two runs that should be equal;
* ``2proc_localbn``: 2 processes with per-process BatchNorm statistics (no SyncBatchNorm):
  what a real difference looks like.

Each run goes through ``applications/tools/train.py``'s entry point wrapped by
``tests/dist_train_worker.py`` (which dumps every rank's final state). Printed per network
against ``1proc``: the largest weight difference, the relative L2 difference of the weight
updates (final - initial) and of Adam's first moments, and of the BatchNorm running
variances; whether the two ranks hold identical state; seconds per step. The machine
(``lscpu`` model name, cores) is printed first; timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_machine import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "dist_train_worker.py"
CONFIG = REPO / "ppgan_fom" / "configs" / "fom_bench64.yaml"
NETS = ("generator", "kp_detector")
RUNS = {"2proc": (2, ""), "1proc": (1, ""), "1proc_split": (1, "split:2"),
        "2proc_localbn": (2, "local")}



def make_videos(root: Path, clips: int, frames: int, size: int) -> None:
    """``root/train/clip_<i>/<n>.png``: a coloured disc moving over a gradient."""
    import cv2

    for c in range(clips):
        rng = np.random.default_rng(c)
        folder = root / "train" / f"clip_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        ramp = np.linspace(30, 220, size, dtype=np.float32)
        base = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)),
                         np.full((size, size), float(rng.integers(40, 200)))], -1)
        color = tuple(int(v) for v in rng.integers(40, 255, 3))
        for i in range(frames):
            img = base.astype(np.uint8).copy()
            cx = int(size * (0.3 + 0.4 * ((i * 0.13 + c * 0.1) % 1.0)))
            cy = int(size * (0.5 + 0.2 * np.sin(i * 0.7 + c)))
            cv2.circle(img, (cx, cy), size // 5, color, -1)
            cv2.imwrite(str(folder / f"{i}.png"), img)


def run(name: str, work: Path, data: Path, batch: int, steps: int, lr, threads: int) -> dict:
    procs, bn = RUNS[name]
    dump, out = work / f"dump_{name}", work / name
    dump.mkdir(parents=True)
    args = ["--config", str(CONFIG), "--data", str(data), "--output", str(out),
            "--batch_size", str(batch // procs), "--max_steps", str(steps),
            "--checkpoint_every", "0", "--grid_every", "0", "--num_workers", "0",
            "--no_progress", "--threads", str(threads), "--cpu", "--seed", "1"]
    if lr is not None:
        args += ["--lr", str(lr)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "FOM_DIST_"))}
    env.update(FOM_DIST_DUMP=str(dump), PPGAN_FOM_OFFLINE="1")
    if bn:
        env["FOM_DIST_BN"] = bn
    cmd = [sys.executable, str(WORKER), *args] if procs == 1 else \
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(procs),
         "--log_dir", str(work / f"log_{name}"), str(WORKER), *args]
    t0 = time.time()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    secs = np.genfromtxt(out / "losses.csv", delimiter=",", names=True)["seconds"]
    load = [dict(np.load(p)) for p in (dump / f"rank{r}.npz" for r in range(procs))]
    return {"state": load[0], "start": dict(np.load(dump / "rank0.start.npz")),
            "ranks_identical": all(set(s) == set(load[0]) and all(np.array_equal(s[k], load[0][k])
                                                                  for k in s) for s in load),
            "sec_per_step": float(secs[-1] - secs[0]) / max(1, len(secs) - 1),
            "wall": time.time() - t0}


def rel(a: dict, b: dict, keys) -> float:
    x = np.concatenate([np.ravel(a[k]).astype(np.float64) for k in keys])
    y = np.concatenate([np.ravel(b[k]).astype(np.float64) for k in keys])
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30))


def compare(r: dict, ref: dict) -> dict:
    a, b, s0 = r["state"], ref["state"], ref["start"]
    out = {}
    for net in NETS:
        w = [k for k in b if k.startswith(f"{net}/") and not k.endswith(("_mean", "_variance"))]
        m1 = [k for k in b if k.startswith(f"opt_{net}/") and "moment1" in k]
        var = [k for k in b if k.startswith(f"{net}/") and k.endswith("_variance")]
        out[net] = {
            "max_abs_weight_diff": max(float(np.abs(a[k] - b[k]).max()) for k in w),
            "weight_update_rel": rel({k: a[k] - s0[k] for k in w}, {k: b[k] - s0[k] for k in w}, w),
            "adam_moment1_rel": rel(a, b, m1), "bn_running_var_rel": rel(a, b, var)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8, help="global batch (default 8)")
    ap.add_argument("--lrs", default="config,1e-5",
                    help="comma-separated learning rates; 'config' = the config's (1e-3)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ppgan_fom_bench_dist"))
    args = ap.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"config {CONFIG.name}, global batch {args.batch}, {args.steps} steps, "
          f"{args.threads} thread(s) per process")
    data = args.out / "data"
    if not data.is_dir():
        make_videos(data, clips=8, frames=16, size=64)
    results = {}
    for lr_text in args.lrs.split(","):
        lr = None if lr_text == "config" else float(lr_text)
        work = args.out / f"lr_{lr_text}_{int(time.time())}"
        runs = {name: run(name, work, data, args.batch, args.steps, lr, args.threads)
                for name in RUNS}
        print(f"\n== learning rate {lr_text}")
        print(f"{'run':15s} {'net':12s} {'max|dw|':>9s} {'upd rel':>9s} {'m1 rel':>9s} "
              f"{'bnvar rel':>9s}  ranks equal  s/step")
        res = {}
        for name in ("2proc", "1proc_split", "2proc_localbn"):
            cmp = compare(runs[name], runs["1proc"])
            res[name] = {"vs_1proc": cmp, "ranks_identical": runs[name]["ranks_identical"],
                         "sec_per_step": runs[name]["sec_per_step"]}
            for net, v in cmp.items():
                print(f"{name:15s} {net:12s} {v['max_abs_weight_diff']:9.2e} "
                      f"{v['weight_update_rel']:9.2e} {v['adam_moment1_rel']:9.2e} "
                      f"{v['bn_running_var_rel']:9.2e}  {str(runs[name]['ranks_identical']):11s}"
                      f"  {runs[name]['sec_per_step']:.2f}")
        print(f"{'1proc':15s} (reference){'':46s}{runs['1proc']['sec_per_step']:.2f}")
        res["1proc"] = {"sec_per_step": runs["1proc"]["sec_per_step"]}
        results[lr_text] = res
    (args.out / "bench_dist_result.json").write_text(json.dumps(
        {"machine": machine(), "steps": args.steps, "batch": args.batch, "results": results},
        indent=1))
    print(f"\nJSON: {args.out / 'bench_dist_result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
