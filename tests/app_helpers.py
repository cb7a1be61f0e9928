"""Shared by the web app's tests: a short driving clip with sound, cut from the bundled
sample, and the small local model's flags."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "docs" / "samples"
SMALL = REPO / "tests" / "data" / "fom_small64"
PHOTO = SAMPLES / "syndics_1200x900.jpg"
PORTRAIT = SAMPLES / "source_256x256.png"
SAMPLE_CLIP = SAMPLES / "driving_3s.mp4"
#: frames (at 30 fps) of the short clip: 1 s keeps the tests fast
CLIP_FRAMES = 30
SMALL_MODEL_FLAGS = ["--config", str(SMALL / "fom_small64.yaml"),
                     "--weight_path", str(SMALL / "fom_small64_random.pdparams"), "--cpu"]


def short_clip_with_tone(out: Path, frames: int = CLIP_FRAMES) -> Path:
    """The first ``frames`` frames of the bundled talking head (256x256, 30 fps),
    re-encoded, with a 440 Hz AAC tone as long as the picture."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel",
                    "error", "-y", "-i", str(SAMPLE_CLIP), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100", "-map", "0:v", "-map", "1:a",
                    "-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(out)], check=True)
    return out
