"""Memory does not grow with the driving video's length (frames are streamed)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sample_media import long_driving_clip, sample_media

PROBE = __import__("pathlib").Path(__file__).resolve().parent / "rss_probe.py"


def _peak_mb(source, driving, out):
    r = subprocess.run([sys.executable, str(PROBE), str(source), str(driving), str(out)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    return float(re.search(r"PEAK_RSS_MB ([\d.]+)", r.stdout).group(1))


@pytest.mark.slow
def test_peak_memory_flat_in_video_length(tmp_path):
    source = sample_media("single_face_fom_source_256x256.png")
    short = _peak_mb(source, sample_media("driving_fom_dv_256x256_3s.mp4"), tmp_path / "a")
    long = _peak_mb(source, long_driving_clip(), tmp_path / "b")
    print(f"peak RSS: 90 frames {short:.0f} MB, 1800 frames {long:.0f} MB "
          f"({100 * (long / short - 1):+.1f} %)")
    assert long <= 1.10 * short, f"1800 frames: {long:.0f} MB vs 90 frames: {short:.0f} MB"
