"""Time PaddleGAN's ppgan 2.1.0 First Order Motion inference on this CPU.

Runs INSIDE the venv made by setup_env.sh (paddlepaddle 2.6.2 + ppgan 2.1.0);
the project's benchmark starts it as a subprocess and reads ``--json-out``.

What is timed is FirstOrderPredictor.make_animation's loop:

* setup (not timed): ``kp_source = kp_detector(source)``,
  ``kp_driving_initial = kp_detector(driving[0:1])``, source and kp_source tiled
  to the batch size;
* per batch of N driving frames: ``kp_detector(batch)``,
  ``normalize_kp(kp_source, kp_driving, kp_driving_initial, relative,
  adapt_scale)``, ``generator(source[:n], kp_source[:n], kp_norm)`` and the
  ``prediction`` tensor fetched to numpy.

The first batch is the warm-up (not timed); face_frames_per_s counts the
frames of the remaining batches over their wall time (time.perf_counter).

Threads: ``FLAGS_paddle_num_threads``, ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` must be in the environment before paddle is imported.  If
they are not all equal to ``--threads`` the runner sets them and re-executes
itself once (``os.execv``); a caller may export them itself to skip that.

Inputs: ``--frames-npy`` (F',3,S,S) float32 in [0,1] (the first F frames are
used) and ``--source-npy`` (1,3,S,S) or (3,S,S).  As a convenience,
``--video`` / ``--source-image`` read the files with OpenCV instead (RGB,
``cv2.resize(..., INTER_AREA)`` to SxS, /255, like FirstOrderPredictor).
"""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ppgan_common as pc  # noqa: E402

log = pc.log


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time ppgan 2.1.0 FOMM (FirstOrderPredictor-style) on CPU.")
    p.add_argument("--weights", default=pc.DEFAULT_WEIGHTS,
                   help="FirstOrderPredictor checkpoint {'generator','kp_detector'} "
                        "(default %(default)s)")
    p.add_argument("--config", default="vox-256",
                   help="vox-256 | small64 | <FirstOrderPredictor yaml/json> (default %(default)s)")
    p.add_argument("--batch", type=int, default=1, help="driving frames per generator call (N)")
    p.add_argument("--frames", type=int, default=None,
                   help="number of driving frames F (default: all frames of the input)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads T (default %(default)s)")
    p.add_argument("--size", type=int, default=None,
                   help="image size S (default: the preset's, else 256)")
    p.add_argument("--frames-npy", help="driving frames, float32 (F',3,S,S) in [0,1]")
    p.add_argument("--source-npy", help="source image, float32 (1,3,S,S) in [0,1]")
    p.add_argument("--video", help="alternative to --frames-npy: a video read with OpenCV")
    p.add_argument("--source-image", help="alternative to --source-npy: an image read with OpenCV")
    p.add_argument("--mode", choices=("relative", "absolute"), default="relative",
                   help="normalize_kp use_relative_movement/jacobian (default %(default)s)")
    p.add_argument("--no-adapt-scale", dest="adapt_scale", action="store_false",
                   help="normalize_kp adapt_movement_scale=False (default: True)")
    p.add_argument("--json-out", required=True, help="where to write the result JSON")
    p.add_argument("--save-pred", help="save the first (warm-up) batch's predictions, "
                                       "float32 (N,3,S,S) in [0,1], to this .npy")
    p.add_argument("--allow-partial-weights", action="store_true",
                   help="only warn (as ppgan does) if checkpoint keys/shapes do not match")
    return p.parse_args(argv)


def read_video_frames(path, size, max_frames, np, cv2):
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit("cannot open video %s" % path)
    frames = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(to_chw(bgr, size, np, cv2))
    finally:
        cap.release()
    if not frames:
        raise SystemExit("no frame decoded from %s" % path)
    return np.stack(frames)


def to_chw(bgr, size, np, cv2):
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if rgb.shape[:2] != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)


def load_inputs(args, size, np):
    if bool(args.frames_npy) == bool(args.video):
        raise SystemExit("give exactly one of --frames-npy / --video")
    if bool(args.source_npy) == bool(args.source_image):
        raise SystemExit("give exactly one of --source-npy / --source-image")
    if args.frames_npy:
        frames = np.load(args.frames_npy, mmap_mode="r")
        if args.frames is not None:
            frames = frames[:args.frames]
    else:
        import cv2
        frames = read_video_frames(args.video, size, args.frames, np, cv2)
    if args.source_npy:
        source = np.load(args.source_npy)
    else:
        import cv2
        bgr = cv2.imread(args.source_image, cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit("cannot read image %s" % args.source_image)
        source = to_chw(bgr, size, np, cv2)
    source = np.asarray(source, dtype=np.float32)
    if source.ndim == 3:
        source = source[None]
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    for name, arr, lead in (("source", source, 1), ("frames", frames, None)):
        if arr.ndim != 4 or arr.shape[1:] != (3, size, size) or (lead and arr.shape[0] != lead):
            raise SystemExit("%s has shape %s, expected (%s,3,%d,%d) float32 CHW"
                             % (name, arr.shape, lead or "F", size, size))
    if args.frames is not None and frames.shape[0] < args.frames:
        raise SystemExit("asked for %d frames, input has only %d" % (args.frames, frames.shape[0]))
    lo, hi = float(min(frames.min(), source.min())), float(max(frames.max(), source.max()))
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        log.warning("inputs range [%.3f, %.3f]; ppgan expects [0,1]", lo, hi)
    return source, frames


def main(argv=None):
    pc.setup_logging()
    args = parse_args(argv)
    if args.batch < 1:
        raise SystemExit("--batch must be >= 1")
    pc.ensure_thread_env(args.threads)

    t0 = time.perf_counter()
    cfg, preset_size, label = pc.load_config(args.config)
    size = args.size or preset_size or 256
    mods = pc.import_ppgan()
    paddle = mods["paddle"]
    normalize_kp = mods["normalize_kp"]
    import numpy as np

    source_np, frames_np = load_inputs(args, size, np)
    n_frames = frames_np.shape[0]
    batch = args.batch
    generator, kp_detector = pc.build_models(mods, cfg)
    pc.load_weights(mods, generator, kp_detector, os.path.expanduser(args.weights),
                    strict=not args.allow_partial_weights)
    t_loaded = time.perf_counter()
    log.info("paddle %s, ppgan %s, config %s, S=%d, F=%d, N=%d, threads=%s (%s)",
             paddle.__version__, mods["ppgan"].__version__, label, size, n_frames, batch,
             args.threads, ", ".join("%s=%s" % (v, os.environ.get(v)) for v in pc.THREAD_VARS))

    relative = args.mode == "relative"
    batches = []  # per batch: frames, total, kp, normalize, generator seconds
    first_pred = None
    with paddle.no_grad():
        ts = time.perf_counter()
        source = paddle.to_tensor(source_np)
        driving = paddle.to_tensor(frames_np)
        kp_source = kp_detector(source)
        kp_driving_initial = kp_detector(driving[0:1])
        kp_source_batch = {
            "value": paddle.tile(kp_source["value"], repeat_times=[batch, 1, 1]),
            "jacobian": paddle.tile(kp_source["jacobian"], repeat_times=[batch, 1, 1, 1]),
        }
        source_batch = paddle.tile(source, repeat_times=[batch, 1, 1, 1])
        setup_s = time.perf_counter() - ts

        begin = 0
        t_loop = None
        while begin < n_frames:
            num = min(batch, n_frames - begin)
            ta = time.perf_counter()
            if len(batches) == 1:
                t_loop = ta
                cpu_loop = time.process_time()
                load_start = os.getloadavg()[0]
            kp_driving = kp_detector(driving[begin:begin + num])
            tb = time.perf_counter()
            kp_norm = normalize_kp(
                kp_source=kp_source, kp_driving=kp_driving,
                kp_driving_initial=kp_driving_initial,
                use_relative_movement=relative, use_relative_jacobian=relative,
                adapt_movement_scale=args.adapt_scale)
            kp_src = {"value": kp_source_batch["value"][0:num],
                      "jacobian": kp_source_batch["jacobian"][0:num]}
            tc = time.perf_counter()
            out = generator(source_batch[0:num], kp_source=kp_src, kp_driving=kp_norm)
            pred = out["prediction"].numpy()
            td = time.perf_counter()
            batches.append((num, td - ta, tb - ta, tc - tb, td - tc))
            if first_pred is None:
                first_pred = pred.astype(np.float32)
                log.info("warm-up batch: %d frames in %.2fs", num, td - ta)
            else:
                log.info("batch %d: %d frames in %.2fs (generator %.2fs)",
                         len(batches) - 1, num, td - ta, td - tc)
            begin += num
        t_end = time.perf_counter()
        cpu_end = time.process_time()

    timed = batches[1:]
    timed_frames = sum(b[0] for b in timed)
    if timed:
        seconds = t_end - t_loop
        fps = timed_frames / seconds
        gen_frac = sum(b[4] for b in timed) / seconds
        kp_frac = sum(b[2] for b in timed) / seconds
        norm_frac = sum(b[3] for b in timed) / seconds
        cpu_seconds = cpu_end - cpu_loop
        loadavg = [load_start, os.getloadavg()[0]]
    else:
        log.warning("only one batch (F=%d <= N=%d): nothing timed after the warm-up; "
                    "use --frames > --batch", n_frames, batch)
        seconds = fps = gen_frac = kp_frac = norm_frac = cpu_seconds = loadavg = None

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "face_frames_per_s": fps,
        "seconds": seconds,
        "frames": timed_frames,
        "batch": batch,
        "threads": args.threads,
        "paddle_version": paddle.__version__,
        "ppgan_version": mods["ppgan"].__version__,
        "peak_rss_mb": round(peak_kb / 1024.0, 1),
        "generator_fraction": gen_frac,
        # extra detail
        "kp_detector_fraction": kp_frac,
        "normalize_kp_fraction": norm_frac,
        "cpu_seconds": cpu_seconds,
        "loadavg_1min_start_end": loadavg,
        "frames_total": n_frames,
        "warmup_frames": batches[0][0],
        "warmup_seconds": batches[0][1],
        "timed_batches": len(timed),
        "batch_seconds": [round(b[1], 4) for b in timed],
        "setup_seconds": setup_s,
        "load_seconds": t_loaded - t0,
        "config": label,
        "size": size,
        "mode": args.mode,
        "adapt_scale": args.adapt_scale,
        "weights": os.path.abspath(os.path.expanduser(args.weights)),
        "thread_env": {v: os.environ.get(v) for v in pc.THREAD_VARS},
        "numpy_version": np.__version__,
        "python": sys.version.split()[0],
    }
    if args.save_pred:
        np.save(args.save_pred, first_pred)
        result["saved_pred"] = os.path.abspath(args.save_pred)
        result["saved_pred_shape"] = list(first_pred.shape)
    out_dir = os.path.dirname(os.path.abspath(args.json_out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.json_out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.json_out)
    if fps is not None:
        log.info("ppgan %s: %.3f face-frames/s (%d frames in %.2fs, batch %d, %d threads, "
                 "generator %.0f%%, peak RSS %.0f MB)", mods["ppgan"].__version__, fps,
                 timed_frames, seconds, batch, args.threads, 100 * gen_frac, result["peak_rss_mb"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
