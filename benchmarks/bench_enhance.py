#!/usr/bin/env python
"""Face-enhancement benchmark: GPEN-512 per face, and what it adds to a vox-256 frame.

One run measures, each in its own subprocess (so peak RSS is per configuration):

* the enhancement step (``FaceEnhancer.enhance``: resize to 512, GPEN-512, blend, resize
  back to 256) on the fast path (static graph, Paddle Inference + oneDNN), batch 1 and 2,
  and on the eager float32 reference, batch 1;
* the max abs difference of the fast path's GPEN output against the eager reference on
  the same face (and of the final uint8 faces);
* one face animated by the FOMM (vox-256, static engine, batch 1; ``bench_speed.py``'s
  worker), to express the enhancement as a fraction of a vox-256 face-frame.

Weights: GPEN-512-shaped recipe weights (the golden-vector recipe of
``tests/gpen_helpers.py`` applied to ``tests/data/gpen/gpen_512_param_list.txt``, seed
20261129; made once, cached in ``~/.cache/ppgan-fom/bench/``) and bench_speed.py's random
vox-256 weights (or, if those were never made, the project's own seeded random init).
Random weights cost exactly as much as trained ones. The face is the bundled 256 px
source portrait.

    python benchmarks/bench_enhance.py            # ~2-5 min on 2 cores
    python benchmarks/bench_enhance.py --quick    # fewer faces, no batch-2 run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from bench_speed import BENCH, SOURCE, VOX_WEIGHTS, machine  # noqa: E402

GPEN_WEIGHTS = BENCH / "gpen512_recipe_seed20261129.pdparams"
FALLBACK_VOX = BENCH / "vox256_project_random_seed20240601.pdparams"


def ensure_gpen_weights() -> Path:
    if not GPEN_WEIGHTS.exists():
        from gpen_helpers import GOLDEN_SEED, LIST_512, recipe_weights
        from ppgan_fom.checkpoint import save_checkpoint

        save_checkpoint(GPEN_WEIGHTS, recipe_weights(LIST_512, GOLDEN_SEED))
    return GPEN_WEIGHTS


def ensure_vox_weights() -> Path:
    if VOX_WEIGHTS.exists():
        return VOX_WEIGHTS
    if not FALLBACK_VOX.exists():
        import paddle

        from ppgan_fom.config import PRESETS
        from ppgan_fom.model import build_fomm
        from ppgan_fom.checkpoint import save_checkpoint

        paddle.seed(20240601)
        gen, kp = build_fomm(PRESETS["vox-256"])
        save_checkpoint(FALLBACK_VOX, {"generator": gen.state_dict(),
                                       "kp_detector": kp.state_dict()})
    return FALLBACK_VOX


def faces(n: int):
    """n 256 px uint8 faces: the bundled portrait, every other one mirrored."""
    import numpy as np

    from ppgan_fom.geometry import resize_square
    from ppgan_fom.media import read_image

    face = resize_square(read_image(SOURCE), 256)
    return np.stack([face if i % 2 == 0 else face[:, ::-1] for i in range(n)])


# --------------------------------------------------------------------------- worker
def worker(args) -> dict:
    import numpy as np

    from ppgan_fom.enhance.step import resize_faces, to_network_input
    from ppgan_fom.enhance.enhancer import FaceEnhancer
    from ppgan_fom.runtime import setup_device

    setup_device(threads=args.threads)
    t0 = time.perf_counter()
    fe = FaceEnhancer(args.weights, engine=args.engine, batch_size=args.batch,
                      threads=args.threads)
    setup = time.perf_counter() - t0
    if fe.engine_name != args.engine:
        raise SystemExit(f"asked for the {args.engine} engine, got {fe.engine_name}")
    batch = faces(args.faces)
    fe.enhance(batch[:args.batch])  # warm-up (oneDNN builds its kernels on the first run)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fe.enhance(batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    x = to_network_input(resize_faces(batch[:args.batch]))
    t1 = time.perf_counter()
    fe.network(x)
    net = (time.perf_counter() - t1) / len(x)
    result = {"engine": fe.engine_name, "batch": args.batch, "faces": args.faces,
              "setup_s": setup, "ms_per_face": 1000 * wall / args.faces,
              "cpu_ms_per_face": 1000 * cpu / args.faces, "network_ms_per_face": 1000 * net}
    if args.check_eager:
        ref = FaceEnhancer(fe.weights, engine="eager")
        diff = np.abs(fe.network(x[:1]) - ref.network(x[:1]))
        result["max_abs_diff_vs_eager"] = float(diff.max())
        u8 = np.abs(out[:1].astype(int) - ref.enhance(batch[:1]))
        result["u8_max_diff_vs_eager"] = int(u8.max())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(cmd) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(map(str, cmd))}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_gpen(**kw) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    for k, v in kw.items():
        if isinstance(v, bool):
            cmd += [f"--{k}"] if v else []
        else:
            cmd += [f"--{k}", str(v)]
    return run(cmd)


def run_fomm(weights: Path, threads: int, frames: int) -> dict:
    return run([sys.executable, str(HERE / "bench_speed.py"), "--worker", "--weights",
                str(weights), "--batch", "1", "--frames", str(frames), "--threads",
                str(threads)])


# --------------------------------------------------------------------------- main
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--weights", default=str(GPEN_WEIGHTS), help=argparse.SUPPRESS)
    p.add_argument("--engine", default="static", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--faces", type=int, default=4, help=argparse.SUPPRESS)
    p.add_argument("--check_eager", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true", help="fewer faces, no batch-2 run")
    p.add_argument("--json", type=Path, help="also write all figures here")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    print(f"machine: {machine()}; threads {args.threads}")
    gpen_w, vox_w = ensure_gpen_weights(), ensure_vox_weights()
    t, n = args.threads, (2 if args.quick else 4)
    rows = {"GPEN-512 static b1": run_gpen(weights=gpen_w, batch=1, faces=n, threads=t,
                                           check_eager=True)}
    if not args.quick:
        rows["GPEN-512 static b2"] = run_gpen(weights=gpen_w, batch=2, faces=n, threads=t)
    rows["GPEN-512 eager b1"] = run_gpen(weights=gpen_w, engine="eager", batch=1, faces=1,
                                         threads=t)
    fomm = run_fomm(vox_w, t, 4 if args.quick else 8)

    print(f"\n{'run':22s} {'ms/face':>9s} {'GPEN only':>10s} {'CPU ms/face':>12s} "
          f"{'peak RSS MB':>12s}")
    for name, r in rows.items():
        print(f"{name:22s} {r['ms_per_face']:9.0f} {r['network_ms_per_face']:10.0f} "
              f"{r['cpu_ms_per_face']:12.0f} {r['peak_rss_mb']:12.0f}")
    fomm_ms = 1000 * fomm["seconds_per_frame"]
    print(f"{'FOMM vox-256 static b1':22s} {fomm_ms:9.0f}   (one face, one driving frame; "
          f"peak RSS {fomm['peak_rss_mb']:.0f} MB)")
    best = min(r["ms_per_face"] for k, r in rows.items() if "static" in k)
    print(f"\nenhancement (fast path, best batch) adds {best / fomm_ms:.1f}x a vox-256 "
          f"face-frame's time: {fomm_ms:.0f} -> {fomm_ms + best:.0f} ms per face per frame "
          f"(+{100 * best / fomm_ms:.0f}%)")
    eager = rows["GPEN-512 eager b1"]["ms_per_face"]
    print(f"fast path vs eager reference: {eager / rows['GPEN-512 static b1']['ms_per_face']:.1f}x "
          f"faster at batch 1")
    chk = rows["GPEN-512 static b1"]
    print(f"fast path vs eager float32 reference on one face: GPEN output max abs diff "
          f"{chk['max_abs_diff_vs_eager']:.2e}; enhanced uint8 face max diff "
          f"{chk['u8_max_diff_vs_eager']}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows, "fomm": fomm},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
