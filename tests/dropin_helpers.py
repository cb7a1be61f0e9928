"""Helpers for the PaddleGAN drop-in and face-enhancement tests: a short driving clip with
audio cut from the bundled sample, small weights written to a temp dir, the CLI in-process.
Everything is built from files in the repository (docs/samples, tests/data)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from conftest import REPO, SMALL
from pipeline_helpers import FFMPEG

SAMPLES = REPO / "docs" / "samples"
DRIVING = SAMPLES / "driving_3s.mp4"          # PaddleGAN's fom_dv.mp4, first 3 s, 256x256
PORTRAIT = SAMPLES / "source_256x256.png"     # PaddleGAN's fom_source_image.png
SYNDICS = SAMPLES / "syndics_1200x900.jpg"    # PaddleGAN's multi-person FOM demo input
SMALL_CFG = SMALL / "fom_small64.yaml"
SMALL_WEIGHTS = SMALL / "fom_small64_random.pdparams"
FPS = 30


def short_clip(out: Path, frames: int, tone: bool = True) -> Path:
    """The first ``frames`` frames of the bundled driving video (re-encoded, 30 fps), with a
    440 Hz AAC tone exactly as long as the picture when ``tone``."""
    cmd = [FFMPEG, "-y", "-v", "error", "-i", str(DRIVING)]
    if tone:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-map", "0:v", "-map", "1:a", "-c:a", "aac"]
    cmd += ["-frames:v", str(frames), "-t", f"{frames / FPS:.6f}", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True)
    return out


def write_small_gpen(path: Path) -> Path:
    """The GPEN golden set's recipe weights (``GPEN(64, 64, 2, channel_multiplier=1)``,
    tests/gpen_helpers.py) as a PaddleGAN-layout ``.pdparams``."""
    from gpen_helpers import SMALL_LIST, recipe_weights
    from ppgan_fom.checkpoint import save_checkpoint

    return save_checkpoint(path, recipe_weights(SMALL_LIST))


def write_random_fomm(path: Path, preset: str, seed: int = 0) -> Path:
    """Randomly initialised weights for a preset architecture (``vox-mobile``), in
    PaddleGAN's checkpoint layout: a stand-in for the official file of that name."""
    import paddle

    from ppgan_fom.checkpoint import save_checkpoint
    from ppgan_fom.config import PRESETS
    from ppgan_fom.model import build_fomm

    paddle.seed(seed)
    gen, kp = build_fomm(PRESETS[preset], inference=True)
    return save_checkpoint(path, {"generator": gen.state_dict(),
                                  "kp_detector": kp.state_dict()})


def run_demo(argv: Sequence[str]) -> int:
    """``first-order-demo.py`` in this process (PaddleGAN's flags); the exit code."""
    from ppgan_fom.cli import demo_main

    return demo_main(list(map(str, argv)))


def decoded(path: Path) -> np.ndarray:
    """All frames of a video, ``(N, H, W, 3)`` uint8."""
    from ppgan_fom.media import iter_frames

    return np.stack(list(iter_frames(path)))


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def error_lines(text: str) -> List[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error:")]


def paste_mask(image: np.ndarray, boxes: Sequence[Tuple[int, int, int, int]],
               ratio: float) -> np.ndarray:
    """The union of the compositor's paste discs for ``boxes`` (bool ``(H, W)``)."""
    from ppgan_fom.geometry import paste_faces

    faces = [np.zeros((8, 8, 3), np.uint8)] * len(boxes)
    return paste_faces(image, list(zip(boxes, faces)), ratio=ratio)[1]
