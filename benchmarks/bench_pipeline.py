#!/usr/bin/env python
"""Pipeline overhead: the whole anonymizer and the whole photo demo against the animation
alone, on the same face-frames, interleaved in one process (issue 16, part 4).

* **anonymize**: a 1280x720, 30 fps clip with one face (built here: a sample talking head
  moving over a panning texture, see :func:`make_clip`), anonymized with the sample
  source face: both passes (decode, scene cuts, face detection and tracking; decode,
  crops, animation, paste, H.264 encode) against ``Animator.animate`` on the same
  driving crops (the crops pass 2 cuts, taken beforehand);
* **demo**: the 1200x900 syndics photo (5 faces, ``multi_person``) animated by the first
  frames of the sample driving clip, ``FirstOrderPredictor.run`` against
  ``Animator.animate`` of the same 5 faces with the same driving frames.

Efficiency = animation-alone wall time / pipeline wall time for the same face-frames
(throughput ratio). Each pair runs ``--reps`` times, the order alternating (ABBA), so load
from other processes hits both alike; the median of the per-pair ratios is reported. The
models are loaded once, outside the timings. Per-stage wall times in the calling thread
come from wrapping the stage functions (x264 and FFmpeg also work in their own threads;
the process CPU time is printed too). The x264 preset comparison (CPU per frame, size,
luma PSNR) runs on the same clip.

    python benchmarks/bench_pipeline.py                      # vox-256 benchmark weights
    python benchmarks/bench_pipeline.py --reps 1 --demo_frames 8 --json out.json

``benchmarks/bench_speed.py`` runs it as part of its one-run report.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable, Dict, Iterator, List

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

BENCH = Path.home() / ".cache" / "ppgan-fom" / "bench"
VOX_WEIGHTS = BENCH / "vox256_random_seed20240601.pdparams"
SAMPLES = REPO / "docs" / "samples"
DRIVING = SAMPLES / "driving_3s.mp4"
SOURCE = SAMPLES / "source_256x256.png"
PHOTO = SAMPLES / "syndics_1200x900.jpg"
CLIP_SIZE = (1280, 720)


# --------------------------------------------------------------------------- inputs
def _texture(h: int, w: int, seed: int = 0):
    """Smooth multi-scale grey-green texture (foliage-like), uint8 (h, w, 3)."""
    import cv2
    import numpy as np

    rng = np.random.RandomState(seed)
    lum = np.zeros((h, w), np.float32)
    for cells, amp in ((6, 0.45), (24, 0.3), (96, 0.17), (384, 0.08)):
        small = rng.rand(max(2, h * cells // 1024), max(2, w * cells // 1024))
        lum += amp * cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    lum = (lum - lum.min()) / (lum.max() - lum.min())
    tint = np.array([0.75, 0.9, 0.6], np.float32)
    return np.clip(255 * (0.15 + 0.8 * lum[..., None] * tint), 0, 255).astype(np.uint8)


def make_clip(path: Path, frames: int = 90) -> Path:
    """A 1280x720 30 fps H.264 clip with one face: the sample talking head (400 px, soft
    round edge) drifting over a texture that pans 2 px per frame, plus mild sensor noise
    (sigma 2.5 grey levels) so the encoder has real detail to code. Deterministic."""
    import av
    import cv2
    import numpy as np

    from ppgan_fom.media import read_frames

    w, h = CLIP_SIZE
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    bg = _texture(h, w + 2 * frames)
    yy, xx = np.mgrid[:400, :400]
    soft = np.clip((190 - np.hypot(yy - 199.5, xx - 199.5)) / 20, 0, 1)[..., None]
    rng = np.random.RandomState(1)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "16", "preset": "slow"}
        for i, f in zip(range(frames), read_frames(DRIVING)):
            fr = bg[:, 2 * i:2 * i + w].astype(np.float32)
            face = cv2.resize(f.image, (400, 400), interpolation=cv2.INTER_CUBIC)
            y0, x0 = 150, 640 + int(40 * np.sin(i / 15))
            fr[y0:y0 + 400, x0:x0 + 400] = soft * face + (1 - soft) * fr[y0:y0 + 400, x0:x0 + 400]
            fr += rng.normal(0, 2.5, fr.shape)
            img = np.clip(fr + 0.5, 0, 255).astype(np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    os.replace(tmp, path)
    return path


def trimmed_driving(path: Path, frames: int) -> Path:
    """The first ``frames`` frames of the sample driving clip (re-encoded, CRF 16)."""
    import av

    from ppgan_fom.media import read_frames

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width = st.height = 256
        st.pix_fmt = "yuv420p"
        st.options = {"crf": "16", "preset": "slow"}
        for _, f in zip(range(frames), read_frames(DRIVING)):
            for p in st.encode(av.VideoFrame.from_ndarray(f.image, format="rgb24")):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- stage timers
class Stages:
    """Wall seconds spent in wrapped functions and iterators (calling thread only)."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = collections.defaultdict(float)
        self._undo: List[Callable[[], None]] = []

    def wrap(self, owner, attr: str, name: str, iterator: bool = False) -> None:
        orig = getattr(owner, attr)
        seconds = self.seconds

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                out = orig(*a, **k)
            finally:
                seconds[name] += time.perf_counter() - t
            return _timed_iter(out, seconds, name) if iterator else out

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, orig))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _timed_iter(it, seconds, name) -> Iterator:
    it = iter(it)
    while True:
        t = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            seconds[name] += time.perf_counter() - t
            return
        seconds[name] += time.perf_counter() - t
        yield item


@contextlib.contextmanager
def _anonymize_stages(anon):
    import ppgan_fom.anonymize.anonymizer as anz
    import ppgan_fom.anonymize.plan as plan
    import ppgan_fom.anonymize.render as render
    import ppgan_fom.scenecut as scenecut
    from ppgan_fom.media import writer

    st = Stages()
    st.wrap(plan, "iter_frames", "decode (pass 1)", iterator=True)
    st.wrap(scenecut.SceneCutDetector, "update", "scene cuts")
    st.wrap(anon.detector, "detect_batch", "face detection")
    st.wrap(anz, "read_frames", "decode (pass 2)", iterator=True)
    st.wrap(render, "crop_square", "crops")
    st.wrap(anon.animator, "keypoints", "keypoints")
    st.wrap(anon.animator, "animate_batch", "generator")
    st.wrap(render, "paste_faces", "paste")
    st.wrap(writer.VideoWriter, "write", "encode")
    st.wrap(writer.VideoWriter, "_finish", "encode")
    try:
        yield st.seconds
    finally:
        st.restore()


@contextlib.contextmanager
def _demo_stages(pred):
    import ppgan_fom.driving as driving
    import ppgan_fom.predictor as predictor
    from ppgan_fom.media import writer

    st = Stages()
    st.wrap(driving, "read_frames", "decode", iterator=True)
    st.wrap(pred.animator, "keypoints", "keypoints")
    st.wrap(pred.animator, "animate_batch", "generator")
    st.wrap(predictor, "paste_faces", "paste")
    st.wrap(writer.VideoWriter, "write", "encode")
    st.wrap(writer.VideoWriter, "_finish", "encode")
    try:
        yield st.seconds
    finally:
        st.restore()


def _clock(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


# --------------------------------------------------------------------------- runs
#: pipeline variants: name -> module attributes set for the run
DEFAULT_VARIANTS: Dict[str, dict] = {"pipeline": {}}


@contextlib.contextmanager
def _settings(overrides: dict):
    import importlib

    undo = []
    for dotted, value in overrides.items():
        mod, attr = dotted.rsplit(".", 1)
        module = importlib.import_module(mod)
        undo.append((module, attr, getattr(module, attr)))
        setattr(module, attr, value)
    try:
        yield
    finally:
        for module, attr, value in reversed(undo):
            setattr(module, attr, value)


def _interleaved(animation, pipeline, stage_context, variants: Dict[str, dict], reps: int):
    """Per rep: the animation alone and every pipeline variant, the order rotating."""
    kinds = ["animation", *variants]
    runs: Dict[str, list] = {k: [] for k in kinds}
    stages: Dict[str, Dict[str, list]] = {v: collections.defaultdict(list) for v in variants}
    for rep in range(reps):
        order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
        for kind in (order if rep % 2 == 0 else order[::-1]):
            if kind == "animation":
                runs[kind].append(_clock(animation)[:2])
                continue
            with _settings(variants[kind]), stage_context() as sec:
                runs[kind].append(_clock(pipeline)[:2])
            for k, v in sec.items():
                stages[kind][k].append(v)
    return runs, stages


def anonymize_pair_runs(models, clip: Path, reps: int, tmp: Path,
                        variants: Dict[str, dict] = DEFAULT_VARIANTS) -> dict:
    """Interleaved: the anonymizer on ``clip`` vs the animator alone on its crops."""
    from ppgan_fom import FaceAnonymizer
    from ppgan_fom.geometry import crop_square
    from ppgan_fom.media import read_frames

    anon = FaceAnonymizer(models=models)
    anon.run(str(clip), [str(SOURCE)], str(tmp / "warm.mp4"), report=False)  # warm-up
    plan = anon.analyze(str(clip))
    if len(plan.tracks) != 1:
        raise SystemExit(f"benchmark clip: expected one face track, found {len(plan.tracks)}")
    track = plan.tracks[0]
    margin = anon.options.animate.face_margin
    size = anon.image_size
    crops = [crop_square(f.image, track.crop_box(f.index, margin), size)
             for f in read_frames(str(clip)) if track.covers(f.index)]
    target = anon.prepare_targets([str(SOURCE)])[0]
    animator = anon.animator

    def animation():
        state = animator.prepare_sources([target.crop])
        for _ in animator.animate(state, crops, relative=True, adapt_scale=True):
            pass

    def pipeline():
        anon.run(str(clip), [str(SOURCE)], str(tmp / "anon.mp4"), report=False)

    runs, stages = _interleaved(animation, pipeline, lambda: _anonymize_stages(anon),
                                variants, reps)
    return _summary(runs, stages, face_frames=len(crops), frames=plan.n_frames, faces=1)


def demo_pair_runs(models, driving: Path, reps: int, tmp: Path,
                   variants: Dict[str, dict] = DEFAULT_VARIANTS) -> dict:
    """Interleaved: ``FirstOrderPredictor.run`` (5 faces) vs the animator alone."""
    from ppgan_fom import FirstOrderPredictor
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.geometry import crop_square
    from ppgan_fom.media import read_image

    pred = FirstOrderPredictor(models=models, output=str(tmp), filename="demo.mp4",
                               multi_person=True, relative=True, adapt_scale=True)
    photo = read_image(PHOTO)
    boxes = pred.face_boxes(photo)
    size = pred.image_size
    crops = [crop_square(photo, b, size) for b in boxes]
    frames = list(driving_frames(driving, DrivingCrop(None, "close-up"), size))
    pred.run(str(PHOTO), str(driving))  # warm-up (also checks the run works)
    animator = pred.animator

    def animation():
        state = animator.prepare_sources(crops)
        for _ in animator.animate(state, frames, relative=True, adapt_scale=True):
            pass

    def pipeline():
        pred.run(str(PHOTO), str(driving))

    runs, stages = _interleaved(animation, pipeline, lambda: _demo_stages(pred), variants,
                                reps)
    return _summary(runs, stages, face_frames=len(frames) * len(boxes), frames=len(frames),
                    faces=len(boxes))


def _summary(runs, stages, face_frames: int, frames: int, faces: int) -> dict:
    anim = [w for w, _ in runs["animation"]]
    out = {"faces": faces, "frames": frames, "face_frames": face_frames,
           "animation_s": anim, "animation_cpu_s": [c for _, c in runs["animation"]],
           "animation_face_frames_per_s": face_frames / statistics.median(anim),
           "variants": {}}
    for name in runs:
        if name == "animation":
            continue
        pipe = [w for w, _ in runs[name]]
        ratios = [a / p for a, p in zip(anim, pipe)]
        out["variants"][name] = {
            "pipeline_s": pipe, "pipeline_cpu_s": [c for _, c in runs[name]],
            "efficiency_pairs": ratios, "efficiency": statistics.median(ratios),
            "efficiency_of_medians": statistics.median(anim) / statistics.median(pipe),
            "pipeline_face_frames_per_s": face_frames / statistics.median(pipe),
            "stages_ms_per_frame": {k: 1e3 * statistics.median(v) / frames
                                    for k, v in sorted(stages[name].items())}}
    main = out["variants"].get("pipeline")
    if main:
        out["efficiency"] = main["efficiency"]
    return out


def photo_frames(models, driving: Path) -> list:
    """The demo's composites (the syndics photo, 5 faces animated), uncompressed."""
    import numpy as np

    from ppgan_fom import FirstOrderPredictor
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.media import read_image
    from ppgan_fom.media.encoders import pad_to_even

    pred = FirstOrderPredictor(models=models, multi_person=True, relative=True,
                               adapt_scale=True)
    photo = read_image(PHOTO)
    frames = driving_frames(driving, DrivingCrop(None, "close-up"), pred.image_size)
    return [np.ascontiguousarray(pad_to_even(f)) for f in pred.animate(photo, frames)]


def encoder_presets(clip: Path, presets, tmp: Path, photo: list) -> dict:
    """x264 at CRF 18 on the 1280x720 clip and on the demo's composites: CPU ms per frame
    (process, all threads; the best of two interleaved runs), size, luma PSNR against
    the frames encoded."""
    import av
    import cv2
    import numpy as np

    from ppgan_fom.media import read_frames
    from ppgan_fom.media.encoders import DEFAULT_CRF

    inputs = {"clip": [f.image for f in read_frames(str(clip))], "photo": photo}

    def encode(frames, out_path: Path, preset: str) -> None:
        with av.open(str(out_path), "w") as out:
            st = out.add_stream("libx264", rate=30)
            st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            st.options = {"crf": str(DEFAULT_CRF), "preset": preset}
            for i, img in enumerate(frames):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = i
                for p in st.encode(fr):
                    out.mux(p)
            for p in st.encode(None):
                out.mux(p)

    def luma_psnr(frames, path: Path) -> float:
        y = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2YUV)[..., 0].astype(np.float64)  # noqa
        mse = np.mean([np.mean((y(a) - y(f.image)) ** 2)
                       for a, f in zip(frames, read_frames(str(path)))])
        return float(10 * np.log10(255 ** 2 / mse))

    out: Dict[str, dict] = {}
    for name, frames in inputs.items():
        cpu = collections.defaultdict(list)
        for rep in range(2):
            for preset in (presets if rep % 2 == 0 else presets[::-1]):
                path = tmp / f"x264_{name}_{preset}.mp4"
                _, c, _ = _clock(lambda: encode(frames, path, preset))
                cpu[preset].append(c / len(frames))
        out[name] = {p: {"cpu_ms_per_frame": 1e3 * min(cpu[p]),
                         "bytes": (tmp / f"x264_{name}_{p}.mp4").stat().st_size,
                         "luma_psnr_db": luma_psnr(frames, tmp / f"x264_{name}_{p}.mp4")}
                     for p in presets}
    return out


# --------------------------------------------------------------------------- main
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="vox-256")
    p.add_argument("--weights", default=str(VOX_WEIGHTS))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--reps", type=int, default=2, help="pipeline/animation pairs per case")
    p.add_argument("--frames", type=int, default=90, help="frames of the 1280x720 clip")
    p.add_argument("--demo_frames", type=int, default=20, help="driving frames of the demo")
    p.add_argument("--skip", nargs="*", default=[], choices=["anonymize", "demo", "x264"])
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PPGAN_FOM_PROGRESS", "0")
    from ppgan_fom.options import AnimateOptions
    from ppgan_fom.pipeline import load_models

    if not Path(args.weights).exists():
        raise SystemExit(f"{args.weights} missing: see benchmarks/ppgan_ref/README.md")
    clip = make_clip(BENCH / f"face_1280x720_{args.frames}f.mp4", args.frames)
    driving = trimmed_driving(BENCH / f"driving_256_{args.demo_frames}f.mp4", args.demo_frames)
    t0 = time.perf_counter()
    models = load_models(AnimateOptions(config=args.config, weight_path=args.weights,
                                        threads=args.threads))
    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} cores",
              "load_s": time.perf_counter() - t0, "engine": models.animator.engine.name}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        variants = DEFAULT_VARIANTS
        if "anonymize" not in args.skip:
            result["anonymize"] = anonymize_pair_runs(models, clip, args.reps, tmp, variants)
        if "demo" not in args.skip:
            result["demo"] = demo_pair_runs(models, driving, args.reps, tmp, variants)
        if "x264" not in args.skip:
            result["x264"] = encoder_presets(clip, ["medium", "faster", "veryfast"], tmp,
                                             photo_frames(models, driving))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["load_average"] = os.getloadavg()[0]
    for case in ("anonymize", "demo"):
        r = result.get(case)
        if not r:
            continue
        print(f"{case}: {r['faces']} face(s) x {r['frames']} frames; animation alone "
              f"{r['animation_face_frames_per_s']:.2f} face-frames/s")
        for name, v in r["variants"].items():
            print(f"  {name}: efficiency {100 * v['efficiency']:.1f} % (pairs "
                  f"{', '.join(f'{100 * x:.1f}' for x in v['efficiency_pairs'])}), "
                  f"{v['pipeline_face_frames_per_s']:.2f} face-frames/s")
            print("    stages (ms per frame, calling thread): " + ", ".join(
                f"{k} {x:.1f}" for k, x in v["stages_ms_per_frame"].items()))
    for name, presets in result.get("x264", {}).items():
        what = "1280x720 clip" if name == "clip" else "demo composites (photo, 5 faces)"
        for preset, r in presets.items():
            print(f"x264 {preset:9s} CRF 18, {what}: {r['cpu_ms_per_frame']:5.1f} ms CPU per "
                  f"frame, {r['bytes'] / 1e6:.2f} MB, luma PSNR {r['luma_psnr_db']:.2f} dB")
    print(f"load average at the end {result['load_average']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
