"""A folder anonymized on Ray (a local Ray with 2 CPUs, started once for this module):
three videos and a corrupt file give three outputs equal to the one-video command line's
(frames, frame times, audio, report) and one failed entry; a long video rendered in
chunks on both workers equals the one-piece result; a rerun does no work.

The clips are sync clips (tests/sync_clips.py) made here; the small random 64x64 test
weights are used (the generated faces look like noise).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import SMALL, optional_import  # noqa: E402

ray = optional_import("ray", reason="Ray is needed for folder runs: pip install "
                                    "\"ppgan-fom[ray]\"")
from sync_clips import (FACE, ClipSpec, audio_of, frame_times_of, sync_report,  # noqa: E402
                        write_clip)
from ppgan_fom.cli import anonymize_main  # noqa: E402
from ppgan_fom.scale import anonymize_folder  # noqa: E402
from ppgan_fom.scale import driver as driver_module  # noqa: E402

CFG = SMALL / "fom_small64.yaml"
WEIGHTS = SMALL / "fom_small64_random.pdparams"
#: the workers run with 1 CPU thread each (2 workers on 2 CPUs): the one-video runs they
#: are compared with use the same count (the convolutions' rounding may depend on it)
MODEL = ["--config", str(CFG), "--weight_path", str(WEIGHTS), "--batch_size", "8",
         "--threads", "1"]
CLIPS = {
    "a.mp4": ClipSpec([i / 30 for i in range(40)], [5, 20]),
    # the picture starts 0.52 s after the sound, 25 fps
    "talks/b.mp4": ClipSpec([0.52 + i / 25 for i in range(30)], [7], audio_start=0.0,
                            time_base=Fraction(1, 25)),
    # variable frame rate in an MKV (its output stays MKV)
    "c.mkv": ClipSpec([0, .033, .067, .150, .183, .300, .333, .5, .533, .7, .8, .85, 1.2],
                      [3, 7], time_base=Fraction(1, 1000)),
    # longer than --chunk_frames 48: rendered in 3 chunks (tracks cross both boundaries);
    # the sound starts at 0.2 s, the picture at 0.5 s: the chunks must share the output's
    # time origin (the audio's start) with the audio
    "long.mp4": ClipSpec([0.5 + i / 30 for i in range(100)], [10, 50, 90], audio_start=0.2,
                         gop=10),
}


def _decoded(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("recordings")
    for rel, spec in CLIPS.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        write_clip(src / rel, spec)
    (src / "broken.mp4").write_bytes(b"this is not a video\n" * 200)
    return src


@pytest.fixture(scope="module")
def cli_outputs(folder, tmp_path_factory):
    """Each video through the one-video command line (same options)."""
    out = tmp_path_factory.mktemp("cli")
    result = {}
    for rel in CLIPS:
        dst = out / Path(rel).name
        assert anonymize_main(["--video", str(folder / rel), "--target_face", str(FACE),
                               "--output", str(dst), "--quiet", *MODEL]) == 0
        result[rel] = dst
    return result


@pytest.fixture(scope="module")
def run(local_ray, folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("anon")
    manifest = anonymize_folder(folder, out, [FACE], config=str(CFG),
                                weight_path=str(WEIGHTS), batch_size=8, workers=2,
                                chunk_frames=48)
    return out, manifest


def _entries(manifest) -> dict:
    return {e["input"]: e for e in manifest["videos"]}


def test_three_outputs_and_one_failed_entry(run):
    out, manifest = run
    entries = _entries(manifest)
    assert sorted(entries) == ["a.mp4", "broken.mp4", "c.mkv", "long.mp4", "talks/b.mp4"]
    assert manifest["counts"] == {"pending": 0, "running": 0, "done": 4, "skipped": 0,
                                  "failed": 1}
    bad = entries["broken.mp4"]
    assert bad["status"] == "failed" and "broken.mp4" in bad["error"]
    assert "\n" not in bad["error"] and bad["bad_input"]
    assert not (out / "broken.mp4").exists()
    for rel in CLIPS:
        e = entries[rel]
        assert e["status"] == "done" and Path(e["output"]).is_file(), e
        assert e["frames"] == len(CLIPS[rel].frame_times) and e["tracks"] >= 1
        assert e["seconds"] > 0 and e["worker"]
    assert entries["long.mp4"]["chunks"] == 3 and entries["a.mp4"]["chunks"] == 1
    assert (out / "talks" / "b.mp4").is_file() and (out / "c.mkv").is_file()
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["counts"] == manifest["counts"] and on_disk["finished"]
    assert not list(out.rglob(".parts")) and not list(out.rglob(".*tmp*"))


@pytest.mark.parametrize("rel", ["a.mp4", "talks/b.mp4", "c.mkv"])
def test_whole_videos_equal_the_one_video_cli(run, cli_outputs, folder, rel):
    out, manifest = run
    mine, cli = Path(_entries(manifest)[rel]["output"]), cli_outputs[rel]
    assert mine.suffix == Path(rel).suffix
    a, b = _decoded(mine), _decoded(cli)
    assert len(a) == len(b) == len(CLIPS[rel].frame_times)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert frame_times_of(mine) == frame_times_of(cli)
    sa, ta = audio_of(mine)
    sb, tb = audio_of(cli)
    assert ta == tb and np.array_equal(sa, sb)
    ra = json.loads(mine.with_suffix(".json").read_text())
    rb = json.loads(cli.with_suffix(".json").read_text())
    assert ra["tracks"] == rb["tracks"] and ra["totals"] == rb["totals"]


def test_long_video_in_chunks_equals_the_unsplit_result(run, cli_outputs, folder):
    out, manifest = run
    mine, cli = out / "long.mp4", cli_outputs["long.mp4"]
    # every frame at the unsplit run's time (= the input's), same audio, same sync
    assert frame_times_of(mine) == frame_times_of(cli)
    with av.open(str(folder / "long.mp4")) as c:  # the AAC stream starts before 0.2 s:
        a = c.streams.audio[0]                    # the encoder's priming samples
        origin = float(a.start_time * a.time_base)
    assert 0.15 < origin < 0.2
    assert frame_times_of(mine) == pytest.approx(
        [t - origin for t in CLIPS["long.mp4"].frame_times], abs=1e-9)
    sa, ta = audio_of(mine)
    sb, tb = audio_of(cli)
    assert ta == tb and np.array_equal(sa, sb)
    assert sync_report(mine).errors == sync_report(cli).errors
    # the chunks were encoded apart: the pictures agree within codec noise
    a, b = _decoded(mine), _decoded(cli)
    assert len(a) == len(b) == 100
    for i, (x, y) in enumerate(zip(a, b)):
        mse = np.mean((x.astype(float) - y.astype(float)) ** 2)
        assert mse == 0 or 10 * np.log10(255 ** 2 / mse) > 35, f"frame {i}"
    ra = json.loads(mine.with_suffix(".json").read_text())
    rb = json.loads(cli.with_suffix(".json").read_text())
    assert ra["tracks"] == rb["tracks"] and ra["totals"] == rb["totals"]


def test_rerun_does_no_work(run, folder, monkeypatch):
    out, first = run
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
              and p.name != "manifest.json"}

    def no_workers(*args, **kwargs):
        raise AssertionError("a rerun started workers")

    monkeypatch.setattr(driver_module, "FolderRun", no_workers)
    manifest = anonymize_folder(folder, out, [FACE], config=str(CFG),
                                weight_path=str(WEIGHTS), batch_size=8, workers=2,
                                chunk_frames=48)
    entries = _entries(manifest)
    assert manifest["counts"]["skipped"] == 4 and manifest["counts"]["failed"] == 1
    assert entries["broken.mp4"]["error"] == _entries(first)["broken.mp4"]["error"]
    assert entries["long.mp4"]["chunks"] == 3  # the earlier run's details are kept
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
