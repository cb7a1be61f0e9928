"""Every frame at its own time: sync is checked with a signal, not with durations.

Each clip (tests/sync_clips.py) flashes its background white on some frames and starts a
beep at each flash frame's presentation time. The clips cover a video that starts 0.8 s
after its audio, audio that starts 0.5 s after the video, a stream-copied cut that leaves
an MP4 edit list, variable frame rate with irregular gaps, 29.97 and 25 fps, a phone clip
stored landscape with a 90-degree display rotation, a clip without audio, a GIF, and
WebM/MKV/MOV/AVI containers. They go through the media layer, ``anonymize.py`` and
``first-order-demo.py`` (small test weights, default engine), and the outputs must keep
every frame's time (1 ms) and every beep on its flash (at most a quarter frame; measured
~0.1 ms).
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL
from pipeline_helpers import FFMPEG
from sync_clips import (FACE, LANDSCAPE, PORTRAIT, ClipSpec, beep_times_of, flash_times_of,
                        frame_times_of, sync_report, write_clip)
from ppgan_fom.cli import anonymize_main, demo_main
from ppgan_fom.media import VideoWriter, probe_video, read_frames

CFG = SMALL / "fom_small64.yaml"
WEIGHTS = SMALL / "fom_small64_random.pdparams"
T30 = [i / 30 for i in range(48)]

CASES = {
    "video_starts_late": ClipSpec([0.8 + t for t in T30], [5, 20, 41], audio_start=0.0),
    "audio_starts_late": ClipSpec(T30, [20, 41], audio_start=0.5),
    "vfr_gaps": ClipSpec([0, .033, .067, .150, .183, .300, .333, .5, .533, .7, .8, .85, 1.2,
                          1.233, 1.4], [3, 7, 12], time_base=Fraction(1, 1000)),
    "ntsc_29.97": ClipSpec([i * 1001 / 30000 for i in range(48)], [10, 33],
                           time_base=Fraction(1, 30000)),
    "pal_25": ClipSpec([i / 25 for i in range(40)], [10, 33], time_base=Fraction(1, 25)),
    "phone_rotated": ClipSpec(T30, [10, 40], size=PORTRAIT, rotation=90),
    "no_audio": ClipSpec(T30, [10], audio_start=None),
}
#: a 4 s clip with one keyframe, cut at 1.3 s by stream copy: the MP4 keeps the packets
#: before the cut and an edit list that hides them
EDIT_LIST_SOURCE = ClipSpec([i / 30 for i in range(120)], [20, 50, 80, 110], gop=250)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("sync")
    out = {name: write_clip(d / f"{name}.mp4", spec) for name, spec in CASES.items()}
    base = write_clip(d / "uncut.mp4", EDIT_LIST_SOURCE)
    cut = d / "edit_list.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-ss", "1.3", "-i", str(base), "-c", "copy",
                    str(cut)], check=True)
    out["edit_list"] = cut
    return out


ALL = [*CASES, "edit_list"]


def _min_interval(times) -> float:
    return float(np.min(np.diff(times))) if len(times) > 1 else 1.0


def _assert_same_sync(src: Path, out: Path) -> None:
    """Same flashes, same beeps, each beep on its flash (<= a quarter of a frame)."""
    r_in, r_out = sync_report(src), sync_report(out)
    assert len(r_out.flashes) == len(r_in.flashes) > 0
    assert r_out.flashes == pytest.approx(r_in.flashes, abs=1e-3)
    assert len(r_out.beeps) == len(r_in.beeps)
    if r_in.beeps:
        assert r_out.beeps == pytest.approx(r_in.beeps, abs=1e-3)
        assert len(r_out.errors) == len(r_out.flashes)
        assert r_out.worst <= _min_interval(frame_times_of(src)) / 4, r_out


# ---------------------------------------------------------------------- the clips
def test_edit_list_clip_really_has_one(clips):
    """The cut keeps packets the edit list discards: the decoder must honour it."""
    import av

    with av.open(str(clips["edit_list"])) as c:
        entries = c.streams.video[0].index_entries
        assert sum(e.is_discard for e in entries) > 10
    times = frame_times_of(clips["edit_list"])
    assert times[0] == pytest.approx(0.0, abs=1e-6) and len(times) == 81


@pytest.mark.parametrize("case", ALL)
def test_reader_gives_each_frame_its_demuxer_time(clips, case):
    frames = list(read_frames(clips[case]))
    assert [f.time for f in frames] == pytest.approx(frame_times_of(clips[case]), abs=1e-9)
    assert [f.index for f in frames] == list(range(len(frames)))
    if case in CASES:
        assert [f.time for f in frames] == pytest.approx(CASES[case].frame_times, abs=1e-6)
    w, h = CASES[case].size if case in CASES else LANDSCAPE
    assert frames[0].image.shape == (h, w, 3)  # upright: the display rotation applied


@pytest.mark.parametrize("case", ALL)
def test_writer_keeps_times_and_audio_offset(clips, tmp_path, case):
    src = clips[case]
    info = probe_video(src)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, (info.width, info.height), info.fps, time_base=info.time_base,
                     audio_from=src) as vw:
        for f in read_frames(src, info=info):
            vw.write(f.image, f.time)
    assert frame_times_of(out) == pytest.approx(frame_times_of(src), abs=1e-3)
    _assert_same_sync(src, out)
    assert probe_video(out).rotation == 0  # written upright


# ---------------------------------------------------------------------- anonymize.py
def _anonymize(src: Path, out: Path, *extra: str) -> dict:
    rc = anonymize_main(["--video", str(src), "--target_face", str(FACE), "--output",
                         str(out), "--config", str(CFG), "--weight_path", str(WEIGHTS),
                         "--quiet", *extra])
    assert rc == 0
    return json.loads(out.with_suffix(".json").read_text())


@pytest.mark.parametrize("case", ALL)
def test_anonymize_keeps_every_frame_time_and_sync(clips, tmp_path, case):
    src = clips[case]
    out = tmp_path / "anon.mp4"
    report = _anonymize(src, out)
    assert report["totals"]["tracks"] >= 1  # the face was found: frames were upright
    assert frame_times_of(out) == pytest.approx(frame_times_of(src), abs=1e-3)
    _assert_same_sync(src, out)
    info_in, info_out = probe_video(src), probe_video(out)
    assert (info_out.width, info_out.height) == (info_in.width, info_in.height)
    assert info_out.rotation == 0 and info_out.has_audio == info_in.has_audio


# ---------------------------------------------------------------------- first-order-demo.py
def _demo(driving: Path, out_dir: Path, filename: str = "result.mp4") -> Path:
    rc = demo_main(["--source_image", str(FACE), "--driving_video", str(driving),
                    "--config", str(CFG), "--weight_path", str(WEIGHTS), "--relative",
                    "--adapt_scale", "--output", str(out_dir), "--filename", filename,
                    "--quiet"])
    assert rc == 0
    return out_dir / filename


@pytest.mark.parametrize("case", ALL)
def test_demo_writes_frame_i_at_driving_frame_i_time(clips, tmp_path, case):
    src = clips[case]
    out = _demo(src, tmp_path)
    assert frame_times_of(out) == pytest.approx(frame_times_of(src), abs=1e-3)
    # the driving audio keeps its offset to the frames: every beep where it was
    beeps_in = beep_times_of(src)
    assert len(beeps_in) > 0 or case == "no_audio"
    assert beep_times_of(out) == pytest.approx(beeps_in, abs=1e-3)


# ---------------------------------------------------------------------- GIF and containers
def test_gif_in_gif_out(tmp_path):
    spec = ClipSpec([i / 10 for i in range(12)] + [1.35, 1.4, 2.0], [5, 12], codec="gif",
                    audio_start=None)
    gif = write_clip(tmp_path / "drive.gif", spec)
    assert frame_times_of(gif) == pytest.approx(spec.frame_times, abs=1e-6)
    out = _demo(gif, tmp_path / "out", "result.gif")
    assert probe_video(out).format == "gif"
    assert frame_times_of(out) == pytest.approx(spec.frame_times, abs=1e-6)
    from PIL import Image

    with Image.open(out) as im:  # per-frame delays (ms) as a GIF reader sees them
        delays = []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
    assert delays[:-1] == [round(d * 1000) for d in np.diff(spec.frame_times)]
    anon = tmp_path / "anon.gif"
    _anonymize(gif, anon)
    assert frame_times_of(anon) == pytest.approx(spec.frame_times, abs=1e-6)
    assert flash_times_of(anon) == pytest.approx(spec.flash_times, abs=1e-6)


@pytest.mark.parametrize("suffix,codec,audio_codec,out_audio", [
    (".webm", "libvpx-vp9", "libopus", "aac"),  # re-encoded for MP4
    (".mkv", "libx264", "flac", "aac"),
    (".mov", "libx264", "pcm_s16le", "aac"),
    (".avi", "mpeg4", "libmp3lame", "mp3"),  # MP4 takes MP3 as it is
])
def test_driving_video_containers(tmp_path, suffix, codec, audio_codec, out_audio):
    spec = ClipSpec([i / 25 for i in range(30)], [8, 20], codec=codec,
                    audio_codec=audio_codec, time_base=Fraction(1, 25))
    src = write_clip(tmp_path / f"drive{suffix}", spec)
    times_in = frame_times_of(src)  # the demuxer's (AVI stores frame slots, not times)
    assert len(times_in) == 30
    out = _demo(src, tmp_path / "out")
    assert frame_times_of(out) == pytest.approx(times_in, abs=1e-3)
    assert beep_times_of(out) == pytest.approx(beep_times_of(src), abs=2e-3)
    assert probe_video(out).audio_codec == out_audio
