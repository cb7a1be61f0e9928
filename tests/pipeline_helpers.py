"""Helpers for the end-to-end tests: tiny videos, tone tracks, frame comparison."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def add_tone(video: Path, out: Path, freq: int = 440) -> Path:
    """Copy ``video`` with a sine tone as long as the video (AAC)."""
    subprocess.run([FFMPEG, "-y", "-v", "error", "-i", str(video), "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:sample_rate=44100", "-map", "0:v", "-map", "1:a",
                    "-c:v", "copy", "-c:a", "aac", "-shortest", str(out)], check=True)
    return out


def stream_durations(path: Path) -> dict:
    """{'video': seconds, 'audio': seconds or None} from ffmpeg's decode of each stream."""
    out = {}
    for kind, flag in (("video", "-vn"), ("audio", "-an")):
        sel = "0:a:0" if kind == "audio" else "0:v:0"
        r = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", sel, "-f", "null",
                            "-", "-stats"], capture_output=True, text=True)
        if r.returncode != 0:
            out[kind] = None
            continue
        times = [ln for ln in r.stderr.replace("\r", "\n").splitlines() if "time=" in ln]
        if not times:
            out[kind] = None
            continue
        t = times[-1].split("time=")[1].split()[0]
        h, m, s = t.split(":")
        out[kind] = int(h) * 3600 + int(m) * 60 + float(s)
    return out


def read_all(path: Path) -> np.ndarray:
    from ppgan_fom.media import iter_frames

    return np.stack(list(iter_frames(path)))
