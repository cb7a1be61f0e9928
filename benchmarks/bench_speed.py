#!/usr/bin/env python
"""Speed benchmark: this project's inference vs PaddleGAN's ppgan 2.1.0, same CPU, same weights.

One run measures, each configuration in its own subprocess (so peak RSS is per
configuration):

* the machine: CPU model, cores, vector ISA, and its measured float32 SGEMM peak
  (Paddle Inference / oneDNN matmul and numpy, ``--threads`` threads);
* one bottleneck convolution, oneDNN's direct kernel vs the Winograd layer F(2x2), F(4x4),
  F(6x6), all in Paddle Inference, interleaved;
* ours, vox-256: the static engine (Paddle Inference) with its default exact fast layers
  (Winograd bottleneck, folded BatchNorms, transposed-conv up-sampling), batch 1 and 8;
  the static engine with the layers as they are (``PPGAN_FOM_FAST_LAYERS=0``); the
  eager float32 reference;
* the two static variants interleaved frame pair by frame pair in ONE process, so their
  ratio holds on a loaded machine, with the multiply-adds per frame of each and the
  achieved GFLOPS of the direct formulation;
* ours, vox-mobile (PaddleGAN's lightweight architecture): static batch 1 and 8, eager;
* ours, vox-256, 5 faces (the syndics photo's face count) vs 1 face, batch 1;
* ppgan 2.1.0 from PyPI in its own venv (paddlepaddle 2.6.2), batch 1 and 8
  (``benchmarks/ppgan_ref/``; skipped with ``--no-ppgan``);
* the max abs difference of each fast path's prediction against the eager reference;
* the static engines' first-run export time (vox-256 FOMM graphs, BlazeFace) in an empty
  cache, and the setup time of a later process reusing that export;
* the peak RSS of whole runs as users run them: the photo demo (1 face, the 3 s clip) and
  the anonymizer on a 1280x720 one-face clip (ppgan's peak RSS comes from its run above);
* the anonymize and demo pipeline efficiencies (``benchmarks/bench_pipeline.py``, run in
  its own process; skipped with ``--no-pipeline``);
* with ``--profile``, the per-primitive oneDNN profile of both static generator graphs;
* at the end, the README's performance table in Markdown, the machine named.

All runs use the same seeded random full-size vox-256 weights
(``benchmarks/ppgan_ref/make_weights.py``, seed 20240601, made once in the ppgan venv and
cached in ``~/.cache/ppgan-fom/bench/``), the source photo and the first frames of the
3 s driving clip, relative motion with adapt_scale, and ``--threads`` CPU threads.
A face-frame is one face animated for one driving frame.

    python benchmarks/bench_speed.py                 # full run (~15-25 min on 2 cores)
    python benchmarks/bench_speed.py --quick         # fewer frames, no ppgan (smoke test)
    python benchmarks/bench_speed.py --isa avx2      # AVX2 kernels only (no AVX-512)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from bench_machine import machine as _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
BENCH = Path.home() / ".cache" / "ppgan-fom" / "bench"
VOX_WEIGHTS = BENCH / "vox256_random_seed20240601.pdparams"
MOBILE_WEIGHTS = SHARED / "golden" / "fom_mobile128" / "fom_mobile128_random.pdparams"
CLIP = REPO / "docs" / "samples" / "driving_3s.mp4"
SOURCE = REPO / "docs" / "samples" / "source_256x256.png"
TARGET_S = 0.35  # issue 16: vox-256 s per face-frame, 2 threads


# --------------------------------------------------------------------------- worker
def _setup(args):
    if args.fast_layers in ("0", "1"):
        os.environ["PPGAN_FOM_FAST_LAYERS"] = args.fast_layers
    from ppgan_fom.config import load_config
    from ppgan_fom.model import load_fomm
    from ppgan_fom.runtime import setup_device

    device = setup_device(threads=args.threads)
    cfg = load_config(args.config)
    gen, kp = load_fomm(cfg, args.weights)
    return device, cfg, gen, kp


def _inputs(args, s):
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.geometry import resize_square
    from ppgan_fom.media import read_image

    frames = [f for _, f in zip(range(args.frames), driving_frames(CLIP, DrivingCrop(None, ""), s))]
    return frames, resize_square(read_image(SOURCE), s)


def _diff_vs_eager(engine, gen, kp, frames, src) -> dict:
    """Prediction and keypoints of ``engine`` vs the eager float32 reference (one frame)."""
    import numpy as np

    from ppgan_fom.animator import frames_to_tensor
    from ppgan_fom.engine import EagerEngine

    ref = EagerEngine(gen, kp)
    x = frames_to_tensor(frames[:1])
    src_t = frames_to_tensor([src])
    kp_s, kp_d = ref.keypoints(src_t), ref.keypoints(x)
    feats = ref.encode(src_t)
    fast = engine.generate(src_t, feats, kp_d, kp_s).numpy()
    slow = ref.generate(src_t, feats, kp_d, kp_s).numpy()
    return {"max_abs_diff_vs_eager": float(np.abs(fast - slow).max()),
            "kp_max_abs_diff_vs_eager": float(
                np.abs(engine.keypoints(x)["value"].numpy() - kp_d["value"].numpy()).max())}


def worker(args) -> dict:
    """Time one configuration in this process, built as the pipelines build it (the static
    engine without eager networks; they are loaded only for the eager engine or the final
    cross-check); returns the figures."""
    from ppgan_fom.animator import Animator
    from ppgan_fom.config import load_config
    from ppgan_fom.engine import make_engine
    from ppgan_fom.model import load_fomm
    from ppgan_fom.runtime import setup_device

    if args.fast_layers in ("0", "1"):
        os.environ["PPGAN_FOM_FAST_LAYERS"] = args.fast_layers
    device = setup_device(threads=args.threads)
    cfg = load_config(args.config)
    t0 = time.perf_counter()
    engine = make_engine(args.engine, None, None, cfg.image_size, args.weights, repr(cfg),
                         args.threads, device,
                         networks=lambda: load_fomm(cfg, args.weights))
    setup_s = time.perf_counter() - t0
    anim = Animator(image_size=cfg.image_size, batch_size=args.batch, engine=engine)
    frames, src = _inputs(args, cfg.image_size)
    state = anim.prepare_sources([src] * args.faces)
    warm = frames[:args.batch]
    list(anim.animate(state, warm))  # warm-up (first call builds oneDNN primitives)
    t0, c0 = time.perf_counter(), time.process_time()
    list(anim.animate(state, frames, kp_initial=anim.keypoints(frames[:1])))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"config": cfg.name, "engine": engine.name, "batch": args.batch,
              "fast_layers": getattr(engine, "fast_layers", None), "engine_setup_s": setup_s,
              "export_s": getattr(engine, "export_seconds", None),
              "faces": args.faces, "frames": len(frames), "seconds": wall, "cpu_seconds": cpu,
              "face_frames_per_s": len(frames) * args.faces / wall,
              "seconds_per_frame": wall / len(frames),
              # before the eager check below, whose networks and activations would count
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.check_eager:
        gen, kp = load_fomm(cfg, args.weights)
        result.update(_diff_vs_eager(engine, gen, kp, frames, src))
    return result


def export_worker(args) -> dict:
    """Build the static engines in this process from the export cache the parent chose
    (``PPGAN_FOM_ENGINE_CACHE``): the FOMM (``--config``) and BlazeFace. In an empty
    cache this is the first run (export included); in a filled one, a later process."""
    from faceutils.blazeface import static_runner
    from ppgan_fom.config import load_config
    from ppgan_fom.engine import make_engine
    from ppgan_fom.model import load_fomm
    from ppgan_fom.runtime import setup_device

    device = setup_device(threads=args.threads)
    cfg = load_config(args.config)
    built = []

    def networks():
        built.append(1)
        return load_fomm(cfg, args.weights)

    t0 = time.perf_counter()
    engine = make_engine("static", None, None, cfg.image_size, args.weights, repr(cfg),
                         args.threads, device, networks=networks)
    fomm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    static_runner()
    blaze_s = time.perf_counter() - t0
    return {"engine": engine.name, "fomm_setup_s": fomm_s,
            "fomm_export_s": engine.export_seconds, "eager_networks_built": bool(built),
            "blazeface_setup_s": blaze_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def rss_worker(args) -> dict:
    """One full run in this process, as a user runs it; returns its peak RSS.
    ``--case demo``: vox-256, the sample photo (1 face) animated by the 3 s clip;
    ``--case anonymize``: the 1280x720 one-face clip of ``bench_pipeline.py``."""
    import tempfile

    from bench_pipeline import make_clip

    os.environ["PPGAN_FOM_PROGRESS"] = "0"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.case == "demo":
            from ppgan_fom import FirstOrderPredictor

            FirstOrderPredictor(config=args.config, weight_path=args.weights,
                                threads=args.threads, output=tmp).run(str(SOURCE), str(CLIP))
        else:
            from ppgan_fom import FaceAnonymizer

            clip = make_clip(BENCH / "face_1280x720_90f.mp4")
            FaceAnonymizer(config=args.config, weight_path=args.weights,
                           threads=args.threads).run(str(clip), [str(SOURCE)],
                                                     str(Path(tmp) / "anon.mp4"), report=False)
    return {"case": args.case, "seconds": time.perf_counter() - t0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def compare_worker(args) -> dict:
    """Static engine without vs with the fast layers, interleaved in this process.

    Frames go through both in pairs (the order alternating), so load from other processes
    hits both alike. Also counts the multiply-adds of a frame in both formulations.
    """
    import numpy as np

    from ppgan_fom.animator import Animator
    from ppgan_fom.engine import StaticEngine, cache_key
    from graph_cost import count_frame_macs

    _, cfg, gen, kp = _setup(args)
    key = cache_key(args.weights, repr(cfg), cfg.image_size, True)
    engines = {name: StaticEngine(gen, kp, cfg.image_size, key, args.threads,
                                  fast_layers=(name == "fast"))
               for name in ("direct", "fast")}
    frames, src = _inputs(args, cfg.image_size)
    anims = {k: Animator(gen, kp, cfg.image_size, 1, engine=e) for k, e in engines.items()}
    states = {k: a.prepare_sources([src]) for k, a in anims.items()}
    kp_init = {k: a.keypoints(frames[:1]) for k, a in anims.items()}
    for k, a in anims.items():
        list(a.animate(states[k], frames[:2], kp_initial=kp_init[k]))  # warm-up
    times = {k: [] for k in anims}
    for i in range(0, len(frames), 2):
        order = ("direct", "fast") if (i // 2) % 2 == 0 else ("fast", "direct")
        for k in order:
            t0 = time.perf_counter()
            list(anims[k].animate(states[k], frames[i:i + 2], kp_initial=kp_init[k]))
            times[k].append((time.perf_counter() - t0) / len(frames[i:i + 2]))
    result = {"config": cfg.name, "frames": len(frames), "macs": count_frame_macs(
        gen, kp, cfg.image_size)}
    for k in anims:
        result[k] = {"seconds_per_frame": float(np.mean(times[k])),
                     "median_pair_seconds_per_frame": float(np.median(times[k])),
                     **_diff_vs_eager(engines[k], gen, kp, frames, src)}
    ratios = [d / f for d, f in zip(times["direct"], times["fast"])]
    result["speedup"] = result["direct"]["seconds_per_frame"] / result["fast"]["seconds_per_frame"]
    result["speedup_median_of_pairs"] = float(np.median(ratios))
    return result


def micro_worker(args) -> dict:
    """One bottleneck convolution (3x3, 256 -> 256, 64 x 64, batch 1): oneDNN's direct
    convolution vs WinogradConv3x3 F(2x2), F(4x4), F(6x6), all through Paddle Inference,
    interleaved call by call. Returns the median and minimum ms of each and the GFLOPS of
    the direct one."""
    import tempfile

    import numpy as np
    import paddle
    from paddle.static import InputSpec

    from ppgan_fom.engine import _export, _Predictor
    from ppgan_fom.modules.winograd import WinogradConv3x3
    from ppgan_fom.runtime import setup_device

    setup_device(threads=args.threads)
    c, s = 256, 64
    rng = np.random.RandomState(0)
    w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = (rng.standard_normal(c) * 0.1).astype(np.float32)
    x = rng.standard_normal((1, c, s, s)).astype(np.float32)
    direct = paddle.nn.Conv2D(c, c, 3, padding=1)
    direct.weight.set_value(w)
    direct.bias.set_value(b)
    layers = {"direct": direct, **{f"winograd F({m}x{m},3x3)": WinogradConv3x3(w, b, m)
                                   for m in (2, 4, 6)}}
    preds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, layer) in enumerate(layers.items()):
            _export(layer, [InputSpec([None, c, s, s], "float32", "x")], Path(tmp) / str(i))
            preds[name] = _Predictor(Path(tmp) / str(i), args.threads, False, False)
        ref = preds["direct"](x)[0]
        out = {name: {"rel_err_vs_direct": float(np.abs(p(x)[0] - ref).max() / np.abs(ref).max())}
               for name, p in preds.items()}
        times = {name: [] for name in preds}
        for _ in range(args.frames):
            for name, p in preds.items():
                times[name].append(_timed(lambda: p(x)))
    for name, t in times.items():
        out[name].update(median_ms=1e3 * float(np.median(t)), min_ms=1e3 * min(t))
    out["direct"]["gflops_at_min"] = 2 * c * c * 9 * s * s / (out["direct"]["min_ms"] / 1e3) / 1e9
    return out


def sgemm_worker(args) -> dict:
    """Float32 SGEMM peak with ``--threads`` threads: a 2048^3 matrix product through
    Paddle Inference (oneDNN, as the engine's graphs run) and through numpy's BLAS."""
    import tempfile

    import numpy as np
    import paddle
    from paddle.static import InputSpec

    from ppgan_fom.engine import _export, _Predictor
    from ppgan_fom.runtime import setup_device

    setup_device(threads=args.threads)
    n = 2048
    flop = 2 * n ** 3

    class MatMul(paddle.nn.Layer):
        def forward(self, a, b):
            return paddle.matmul(a, b)

    a = np.random.RandomState(0).rand(n, n).astype(np.float32)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        _export(MatMul(), [InputSpec([n, n], "float32", "a"), InputSpec([n, n], "float32", "b")],
                Path(tmp) / "mm")
        pred = _Predictor(Path(tmp) / "mm", args.threads, False, False)
        pred(a, a)
        best = min(_timed(lambda: pred(a, a)) for _ in range(15))
        out["paddle_inference_gflops"] = flop / best / 1e9
    a @ a
    out["numpy_gflops"] = flop / min(_timed(lambda: a @ a) for _ in range(15)) / 1e9
    out["numpy_blas"] = _numpy_blas()
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _numpy_blas() -> str:
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:  # pragma: no cover - older numpy
        return "unknown"


def profile_worker(args) -> None:
    """Run the static generator graph ``--frames`` times with ONEDNN_VERBOSE on; a marker
    line after each run lets the parent attribute primitives to runs."""
    import ctypes

    from ppgan_fom.animator import frames_to_tensor
    from ppgan_fom.engine import make_engine

    device, cfg, gen, kp = _setup(args)
    engine = make_engine("static", gen, kp, cfg.image_size, args.weights, repr(cfg),
                         args.threads, device)
    frames, src = _inputs(args, cfg.image_size)
    src_t, x = frames_to_tensor([src]), frames_to_tensor(frames[:1])
    kp_s, kp_d = engine.keypoints(src_t), engine.keypoints(x)
    feats = engine.encode(src_t)
    libc = ctypes.CDLL(None)
    for _ in range(args.frames):
        t0 = time.perf_counter()
        engine.generate(src_t, feats, kp_d, kp_s)
        wall = time.perf_counter() - t0
        libc.fflush(None)  # oneDNN writes with C stdio; keep the marker in order
        os.write(1, f"PROFILE_RUN {wall:.6f}\n".encode())


def parse_profile(text: str) -> dict:
    """Per-primitive minimum over runs (after the first) of the oneDNN exec times."""
    runs, cur = [], []
    for line in text.splitlines():
        if line.startswith("PROFILE_RUN"):
            runs.append((float(line.split()[1]), cur))
            cur = []
        elif line.startswith("onednn_verbose") and ",exec," in line and ",primitive," in line:
            f = line.split(",")
            cur.append((f"{f[5]} {f[6].split(':')[0]} {f[-2]}", float(f[-1])))
    runs = runs[1:]  # the first run creates the primitives
    n = min(len(r[1]) for r in runs)
    per_prim = [(min(r[1][i][1] for r in runs), runs[-1][1][i][0]) for i in range(n)]
    grouped = collections.defaultdict(lambda: [0.0, 0])
    for ms, name in per_prim:
        grouped[name][0] += ms
        grouped[name][1] += 1
    return {"wall_ms_min": 1e3 * min(r[0] for r in runs),
            "onednn_ms": sum(ms for ms, _ in per_prim),
            "top": sorted(((v[0], v[1], k) for k, v in grouped.items()), reverse=True)}


def run_worker(env=None, mode="--worker", **kw) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), mode]
    for k, v in kw.items():
        if isinstance(v, bool):
            if v:
                cmd.append(f"--{k}")
        else:
            cmd += [f"--{k}", str(v)]
    if mode == "--profile_worker":
        env = dict(env or os.environ, ONEDNN_VERBOSE="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    if mode == "--profile_worker":
        return parse_profile(r.stdout)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_pipeline(env, threads: int, quick: bool) -> dict:
    """``bench_pipeline.py`` in its own process: the anonymize and demo efficiencies."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pipeline.json"
        cmd = [sys.executable, str(HERE / "bench_pipeline.py"), "--threads", str(threads),
               "--json", str(out)] + (["--reps", "1", "--demo_frames", "6"] if quick else [])
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"bench_pipeline.py failed:\n{r.stderr[-3000:]}")
        return json.loads(out.read_text())


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
    """The CPU, its vector ISA, the cores and the 1-minute load average."""
    return f"{_machine()}, load avg {os.getloadavg()[0]:.1f}"


def markdown_table(rows: dict, extra: dict, threads: int) -> str:
    """The README's performance table, from this run's figures."""
    def spf(name):
        r = rows.get(name)
        return f"{r['seconds_per_frame']:.3f}" if r else "n/a"

    pp1 = rows.get("ppgan 2.1.0 b1")
    ours1 = rows["ours vox-256 static b1"]
    c, sg = extra["compare"], extra["sgemm"]
    mac = c["macs"]
    peak = max(sg["paddle_inference_gflops"], sg["numpy_gflops"])
    ef, ea = extra["export_first"], extra["export_again"]
    lines = [f"Machine: {machine()}; {threads} threads; {time.strftime('%Y-%m-%d')}; "
             f"`python benchmarks/bench_speed.py`", "",
             "| | ppgan-fom | PaddleGAN ppgan 2.1.0 |", "|---|---|---|",
             f"| vox-256, s per face-frame, static engine (batch 1) | {spf('ours vox-256 static b1')} "
             f"| {1 / pp1['face_frames_per_s']:.3f} |" if pp1 else
             f"| vox-256, s per face-frame, static engine (batch 1) | {spf('ours vox-256 static b1')} | n/a |",
             f"| vox-256, s per face-frame, eager (batch 1) | {spf('ours vox-256 eager b1')} | |",
             f"| vox-mobile, s per face-frame, static / eager (batch 1) | "
             f"{spf('ours vox-mobile static b1')} / {spf('ours vox-mobile eager b1')} | |"]
    if pp1:
        lines.append(f"| speed vs ppgan (vox-256, batch 1) | "
                     f"{ours1['face_frames_per_s'] / pp1['face_frames_per_s']:.1f}x | 1x |")
    lines += [f"| achieved GFLOPS of the direct formulation ({2 * mac['direct']:.0f} GFLOP per "
              f"face-frame): direct engine / fast layers (equivalent) / SGEMM peak | "
              f"{2 * mac['direct'] / c['direct']['seconds_per_frame']:.0f} / "
              f"{2 * mac['direct'] / c['fast']['seconds_per_frame']:.0f} / {peak:.0f} | |",
              f"| peak RSS, vox-256 photo demo (1 face) / anonymize 1280x720 | "
              f"{extra['rss_demo']['peak_rss_mb'] / 1024:.2f} / "
              f"{extra['rss_anonymize']['peak_rss_mb'] / 1024:.2f} GB | "
              + (f"{pp1['peak_rss_mb'] / 1024:.2f} GB (model loop) |" if pp1 else "|")]
    pipe = extra.get("pipeline") or {}
    for case, what in (("anonymize", "anonymize 1280x720, 1 face"),
                       ("demo", "photo demo 1200x900, 5 faces")):
        r = pipe.get(case)
        if r:
            lines.append(f"| pipeline efficiency, {what} (of the animation alone) | "
                         f"{100 * r['variants']['pipeline']['efficiency']:.0f} % | |")
    lines.append(f"| static graphs: first-run export (vox-256) / later process setup | "
                 f"{ef['fomm_export_s']:.0f} s / {ea['fomm_setup_s']:.1f} s | none (eager) |")
    return "\n".join(lines)


def _row(name: str, r: dict) -> str:
    spf = r.get("seconds_per_frame") or (1 / r["face_frames_per_s"])
    rss = r.get("peak_rss_mb")
    return (f"{name:34s} {r['face_frames_per_s']:14.3f} {spf:9.3f} "
            f"{rss if rss is None else round(rss):>12}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for mode in ("--worker", "--compare_worker", "--sgemm_worker", "--micro_worker",
                 "--profile_worker", "--export_worker", "--rss_worker"):
        p.add_argument(mode, action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", default="vox-256")
    p.add_argument("--weights", default=str(VOX_WEIGHTS))
    p.add_argument("--engine", default="static")
    p.add_argument("--fast_layers", default="auto", help="worker: auto, 0 or 1")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--faces", type=int, default=1)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--check_eager", action="store_true")
    p.add_argument("--case", default="demo", help="rss worker: demo or anonymize")
    p.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                   help="skip the pipeline efficiency runs (benchmarks/bench_pipeline.py)")
    p.add_argument("--quick", action="store_true", help="few frames, skip ppgan")
    p.add_argument("--no-ppgan", dest="ppgan", action="store_false")
    p.add_argument("--profile", action="store_true",
                   help="also print the per-primitive profile of both static generator graphs")
    p.add_argument("--isa", choices=["native", "avx2"], default="native",
                   help="avx2: limit oneDNN, MKL and OpenBLAS to AVX2 kernels (as on a CPU "
                        "without AVX-512)")
    p.add_argument("--json", type=Path, help="also write all figures here")
    args = p.parse_args()
    sys.path.insert(0, str(HERE))
    if args.worker or args.compare_worker or args.sgemm_worker or args.micro_worker or \
            args.export_worker or args.rss_worker:
        fn = compare_worker if args.compare_worker else sgemm_worker if args.sgemm_worker \
            else micro_worker if args.micro_worker else export_worker if args.export_worker \
            else rss_worker if args.rss_worker else worker
        print(json.dumps(fn(args)))
        return 0
    if args.profile_worker:
        profile_worker(args)
        return 0

    import tempfile

    if args.isa == "avx2":  # also for the ppgan run (its paddle uses MKL and oneDNN)
        os.environ.update(ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                          OPENBLAS_CORETYPE="Haswell")
    env = dict(os.environ)
    t = args.threads
    print(f"machine: {machine()}; threads {t}"
          + ("; oneDNN/MKL/OpenBLAS limited to AVX2 kernels" if args.isa == "avx2" else ""))
    frames = 4 if args.quick else 16
    rows, extra = {}, {}
    py = None
    if args.ppgan and not args.quick:
        py = ppgan_python()
        ensure_weights(py)
    if not VOX_WEIGHTS.exists():
        raise SystemExit(f"{VOX_WEIGHTS} missing: run benchmarks/ppgan_ref/make_weights.py in "
                         f"the ppgan venv (see benchmarks/ppgan_ref/README.md)")
    extra["sgemm"] = run_worker(env, "--sgemm_worker", threads=t)
    extra["micro"] = run_worker(env, "--micro_worker", threads=t, frames=10 if args.quick else 30)
    vox = dict(threads=t)
    rows["ours vox-256 static b1"] = run_worker(env, batch=1, frames=frames, check_eager=True,
                                                **vox)
    rows["ours vox-256 static b8"] = run_worker(env, batch=8, frames=max(frames, 16), **vox)
    rows["ours vox-256 static-direct b1"] = run_worker(env, batch=1, frames=frames,
                                                       fast_layers="0", **vox)
    rows["ours vox-256 eager b1"] = run_worker(env, batch=1, frames=max(2, frames // 4),
                                               engine="eager", **vox)
    extra["compare"] = run_worker(env, "--compare_worker", frames=frames, **vox)
    if MOBILE_WEIGHTS.exists():
        mob = dict(config="vox-mobile", weights=MOBILE_WEIGHTS, threads=t)
        for b in (1, 8):
            rows[f"ours vox-mobile static b{b}"] = run_worker(env, batch=b,
                                                              frames=max(frames, 8 * b),
                                                              check_eager=(b == 1), **mob)
        rows["ours vox-mobile eager b1"] = run_worker(env, batch=1, frames=max(2, frames // 4),
                                                      engine="eager", **mob)
    rows["ours vox-256 static 5 faces b1"] = run_worker(env, batch=1, faces=5,
                                                        frames=max(4, frames // 2), **vox)
    if py:
        with tempfile.TemporaryDirectory() as tmp:
            for b in (1, 8):
                rows[f"ppgan 2.1.0 b{b}"] = run_ppgan(py, b, 3 * b if b > 1 else 8, t, Path(tmp))
    # first run (export) and a later process (reuse) of the static engines, in a cache of
    # this run's own
    with tempfile.TemporaryDirectory() as cache:
        env_c = dict(env, PPGAN_FOM_ENGINE_CACHE=cache)
        extra["export_first"] = run_worker(env_c, "--export_worker", **vox)
        extra["export_again"] = run_worker(env_c, "--export_worker", **vox)
    # peak RSS of whole runs as users run them (the exports cached)
    for case in ("demo", "anonymize"):
        extra[f"rss_{case}"] = run_worker(env, "--rss_worker", case=case, **vox)
    if args.pipeline:
        extra["pipeline"] = run_pipeline(env, t, args.quick)
    if args.profile:
        for fl in ("0", "1"):
            extra[f"profile_fast{fl}"] = run_worker(env, "--profile_worker", frames=6,
                                                    fast_layers=fl, **vox)

    print(f"\n{'run':34s} {'face-frames/s':>14s} {'s/frame':>9s} {'peak RSS MB':>12s}")
    for name, r in rows.items():
        print(_row(name, r))
    print()
    ours1 = rows["ours vox-256 static b1"]
    spf = ours1["seconds_per_frame"]
    print(f"vox-256, static engine, batch 1: {spf:.3f} s per face-frame "
          f"(target <= {TARGET_S} s: {'met' if spf <= TARGET_S else 'NOT met'})")
    for b in (1, 8):
        if f"ppgan 2.1.0 b{b}" in rows:
            pp = rows[f"ppgan 2.1.0 b{b}"]["face_frames_per_s"]
            ours = rows[f"ours vox-256 static b{b}"]["face_frames_per_s"]
            print(f"speed-up vs ppgan 2.1.0, batch {b}: {ours / pp:.2f}x")
    c = extra["compare"]
    mac = c["macs"]
    d_s, f_s = c["direct"]["seconds_per_frame"], c["fast"]["seconds_per_frame"]
    print(f"interleaved in one process, vox-256 batch 1: static direct {d_s:.3f} s, "
          f"static fast {f_s:.3f} s per face-frame: {c['speedup']:.2f}x "
          f"(median of frame pairs {c['speedup_median_of_pairs']:.2f}x)")
    print(f"multiply-adds per face-frame: direct {mac['direct']:.1f} GMAC (bottleneck "
          f"{mac['bottleneck_direct']:.1f}); fast {mac['fast']:.1f} GMAC "
          f"({mac['fast_gemm']:.1f} in products + {mac['fast_transforms']:.1f} in Winograd "
          f"transforms), {mac['direct'] / mac['fast']:.2f}x fewer")
    print("one bottleneck convolution (3x3, 256 -> 256, 64 x 64, batch 1), Paddle Inference, "
          "interleaved:")
    mic = extra["micro"]
    for name, r in mic.items():
        print(f"  {name:24s} median {r['median_ms']:7.2f} ms  min {r['min_ms']:7.2f} ms  "
              f"{mic['direct']['median_ms'] / r['median_ms']:.2f}x direct  "
              f"(max error {r['rel_err_vs_direct']:.1e} of the output scale)"
              + (f"; {r['gflops_at_min']:.0f} GFLOPS" if "gflops_at_min" in r else ""))
    sg = extra["sgemm"]
    peak = max(sg["paddle_inference_gflops"], sg["numpy_gflops"])
    print(f"achieved: direct formulation {2 * mac['direct'] / d_s:.0f} GFLOPS; fast path "
          f"{2 * mac['direct'] / f_s:.0f} GFLOPS-equivalent of direct work "
          f"({2 * mac['fast'] / f_s:.0f} GFLOPS actually executed); SGEMM peak {peak:.0f} GFLOPS "
          f"(2048^3, {t} threads: Paddle Inference/oneDNN {sg['paddle_inference_gflops']:.0f}, "
          f"numpy/{sg['numpy_blas']} {sg['numpy_gflops']:.0f})")
    one = rows["ours vox-256 static b1"]["seconds_per_frame"]
    five = rows["ours vox-256 static 5 faces b1"]["seconds_per_frame"]
    print(f"5 faces cost {five / one:.2f}x one face per driving frame")
    for name in ("ours vox-256 static b1", "ours vox-mobile static b1"):
        if name in rows and "max_abs_diff_vs_eager" in rows[name]:
            print(f"{name}: prediction max abs diff vs eager float32 reference "
                  f"{rows[name]['max_abs_diff_vs_eager']:.2e} (keypoints "
                  f"{rows[name]['kp_max_abs_diff_vs_eager']:.2e})")
    for k in ("direct", "fast"):
        print(f"interleaved run, static {k}: prediction max abs diff vs eager "
              f"{c[k]['max_abs_diff_vs_eager']:.2e}")
    for fl, name in (("0", "direct"), ("1", "fast")):
        prof = extra.get(f"profile_fast{fl}")
        if prof:
            print(f"\nprofile, static {name} generator graph (batch 1, per-primitive minimum over "
                  f"runs): run {prof['wall_ms_min']:.1f} ms, oneDNN primitives "
                  f"{prof['onednn_ms']:.1f} ms, the rest (native Paddle ops, framework) "
                  f"{prof['wall_ms_min'] - prof['onednn_ms']:.1f} ms")
            for ms, n, what in prof["top"][:14]:
                print(f"  {ms:8.2f} ms  x{n:<3d} {what}")
    ef, ea = extra["export_first"], extra["export_again"]
    print(f"static engines, first run (empty cache): vox-256 FOMM engine {ef['fomm_setup_s']:.1f} s "
          f"(export {ef['fomm_export_s']:.1f} s), BlazeFace {ef['blazeface_setup_s']:.1f} s; a "
          f"later process: {ea['fomm_setup_s']:.1f} s and {ea['blazeface_setup_s']:.1f} s "
          f"(export reused: {ea['fomm_export_s'] is None and not ea['eager_networks_built']})")
    rd, ra = extra["rss_demo"], extra["rss_anonymize"]
    print(f"peak RSS of whole vox-256 runs: demo (1 face, 3 s clip) {rd['peak_rss_mb']:.0f} MB, "
          f"anonymize (1280x720, 1 face, 3 s) {ra['peak_rss_mb']:.0f} MB; first run with the "
          f"export {ef['peak_rss_mb']:.0f} MB (engines only)")
    pipe = extra.get("pipeline")
    if pipe:
        for case in ("anonymize", "demo"):
            r = pipe.get(case)
            if r:
                v = r["variants"]["pipeline"]
                print(f"pipeline efficiency, {case} ({r['faces']} face(s)): "
                      f"{100 * v['efficiency']:.1f} % of the animation alone "
                      f"(pairs {', '.join(f'{100 * x:.1f}' for x in v['efficiency_pairs'])})")
    load = os.getloadavg()[0]
    # the benchmark's own t threads make a load of about t
    print(f"load average at the end: {load:.1f}"
          + (f" (above {t + 0.5:.1f}: other processes competed for the cores; figures are "
             f"pessimistic)" if load > t + 0.5 else f" (about this run's own {t} threads)"))
    print()
    print(markdown_table(rows, extra, t))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows, **extra}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
