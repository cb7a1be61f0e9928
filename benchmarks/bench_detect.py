"""Benchmark face detection on a photo (default: the 1200x900 syndics painting).

Prints the machine, the detector, the face count and the median wall time of
``detector.detect(image)`` over several runs after a warm-up run (image decoding
excluded, every pre/post-processing step included). Exits 1 when the median
exceeds ``--budget`` seconds (default 1.0, the project's target for the default
detector on a 2-core CPU).

    python benchmarks/bench_detect.py
    python benchmarks/bench_detect.py --detector blazeface --tiles 2 --runs 5
    python benchmarks/bench_detect.py --detector s3fd --weights /path/s3fd_paddle.pdparams \
        --runs 3 --budget 60
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from bench_machine import cpu_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_PHOTO = REPO.parent / "shared" / "media" / "multi_face_syndics_1200x900.jpg"



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--detector", default=None, help="detector name (default: the default)")
    parser.add_argument("--tiles", type=int, default=None, help="BlazeFace tile grid")
    parser.add_argument("--weights", default=None, help="weights name/path for the detector")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds allowed (median)")
    args = parser.parse_args()

    import faceutils

    options = {} if args.tiles is None else {"tiles": args.tiles}
    if args.weights:
        options["weights"] = args.weights
    t0 = time.perf_counter()
    detector = faceutils.create_detector(args.detector, **options)
    t_init = time.perf_counter() - t0
    image = faceutils.read_rgb(args.photo)

    import paddle

    dets = detector.detect(image)  # warm-up
    times = []
    for _ in range(max(1, args.runs)):
        t = time.perf_counter()
        dets = detector.detect(image)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}, "
          f"paddle {paddle.__version__}, threads {paddle.get_flags(['FLAGS_paddle_num_threads'])}")
    print(f"detector: {detector!r} (created in {t_init:.2f} s)")
    print(f"photo: {args.photo.name} {image.shape[1]}x{image.shape[0]}, faces: {len(dets)}")
    print(f"detect time: median {median:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
          f"over {len(times)} runs (after 1 warm-up)")
    ok = median < args.budget
    print(f"budget {args.budget:.2f} s: {'OK' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
