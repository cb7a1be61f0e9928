"""Decode and encode throughput: the PyAV media layer against ffmpeg child processes.

The project's former video layer piped raw RGB frames from and to the ``ffmpeg`` binary of
imageio-ffmpeg; the current one runs FFmpeg in-process through PyAV. This script times
both on the same clips in one run (same x264 settings: CRF 18, preset medium, yuv420p):

    python benchmarks/bench_video_io.py [--frames 300]

It prints frames per second for decoding to RGB and for encoding from RGB, at 256x256 and
1280x720, and the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ppgan_fom.media import VideoWriter, iter_frames  # noqa: E402
from bench_machine import machine  # noqa: E402



def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def frames_for(w: int, h: int, n: int):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        r = 128 + 100 * np.sin(xx / w * 6.28 + i * 0.2)
        g = 128 + 100 * np.cos(yy / h * 6.28 - i * 0.1)
        b = 128 + 60 * np.sin((xx + yy) / (w + h) * 12 + i * 0.3)
        yield np.clip(np.stack([r, g, b], 2), 0, 255).astype(np.uint8)


def encode_pyav(path: Path, w: int, h: int, n: int) -> float:
    frames = list(frames_for(w, h, n))
    t = time.perf_counter()
    with VideoWriter(path, (w, h), 30) as vw:
        for f in frames:
            vw.write(f)
    return n / (time.perf_counter() - t)


def encode_pipe(path: Path, w: int, h: int, n: int) -> float:
    frames = list(frames_for(w, h, n))
    t = time.perf_counter()
    proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                             "rgb24", "-s", f"{w}x{h}", "-r", "30", "-i", "-", "-c:v",
                             "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset",
                             "medium", str(path)], stdin=subprocess.PIPE)
    for f in frames:
        proc.stdin.write(f.tobytes())
    proc.stdin.close()
    proc.wait()
    return n / (time.perf_counter() - t)


def decode_pyav(path: Path) -> float:
    t = time.perf_counter()
    n = sum(1 for _ in iter_frames(path))
    return n / (time.perf_counter() - t)


def decode_pipe(path: Path, w: int, h: int) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
                             "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    size, n = w * h * 3, 0
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size:
            break
        np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        n += 1
    proc.wait()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    print(f"machine: {machine()}; PyAV in-process vs ffmpeg child process, {args.frames} frames")
    print(f"{'size':>10} {'job':>7} {'PyAV fps':>9} {'pipe fps':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as d:
        for w, h in ((256, 256), (1280, 720)):
            a, b = Path(d) / "a.mp4", Path(d) / "b.mp4"
            enc_av = encode_pyav(a, w, h, args.frames)
            enc_pipe = encode_pipe(b, w, h, args.frames)
            dec_av = decode_pyav(a)
            dec_pipe = decode_pipe(a, w, h)
            for job, x, y in (("encode", enc_av, enc_pipe), ("decode", dec_av, dec_pipe)):
                print(f"{w}x{h:<6} {job:>7} {x:9.1f} {y:9.1f} {x / y:6.2f}")


if __name__ == "__main__":
    main()
