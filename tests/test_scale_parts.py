"""The pieces of a folder run, without Ray: planning (inputs, outputs, chunk ranges),
the media layer's seek / explicit time origin / packet-copy join, and chunks of a long
video rendering exactly the frames of the one-piece render (a worker in this process).

The clips are sync clips (tests/sync_clips.py): a face photo on a background that
flashes white on some frames, with a beep at each flash's time. Small random 64x64
weights: the faces look like noise; what is checked is that pieces equal the whole.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import SMALL
from sync_clips import FACE, ClipSpec, audio_of, frame_times_of, sync_report, write_clip
from ppgan_fom.anonymize import AnonymizeOptions, Renderer
from ppgan_fom.cli import anonymize_main
from ppgan_fom.errors import InputError, RuntimeFailure
from ppgan_fom.media import VideoWriter, frame_times, probe_video, read_frames
from ppgan_fom.media.audio import audio_start
from ppgan_fom.media.remux import concat_videos
from ppgan_fom.scale.chunks import render_chunk
from ppgan_fom.scale.planning import (chunk_ranges, crossing_tracks, find_videos,
                                      plan_outputs)
from ppgan_fom.scale.worker import AnonymizeWorker
from ppgan_fom.tracking import Track

CFG = SMALL / "fom_small64.yaml"
WEIGHTS = SMALL / "fom_small64_random.pdparams"
#: 100 frames, keyframe every 10, flashes (= scene cuts, so several tracks) at 10/50/90
LONG = ClipSpec([i / 30 for i in range(100)], [10, 50, 90], gop=10)
#: variable frame rate with long gaps (x264's B-frames then give a part's first packets
#: decoding times before the previous part's last one), audio starting 0.3 s early
VFR = ClipSpec([0.3 + t for t in (0, .033, .067, .150, .183, .300, .333, .5, .533, .7, .8,
                                  .85, 1.2, 1.233, 1.4, 1.5, 1.6, 1.9, 2.0, 2.1)],
               [3, 7, 12], audio_start=0.0, time_base=Fraction(1, 1000), gop=4)


def _decoded(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


# ------------------------------------------------------------------------ planning
def test_chunk_ranges_cover_every_frame_on_batch_boundaries():
    for n, chunk, batch in [(100, 48, 8), (1000, 300, 8), (97, 10, 4), (50, 7, 1), (9, 4, 8)]:
        ranges = chunk_ranges(n, chunk, batch)
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # no gap, no overlap
        assert all(s % batch == 0 for s, _ in ranges)
        assert all(e > s for s, e in ranges)
        assert len(ranges) <= -(-n // chunk)
    assert chunk_ranges(100, 0, 8) == [(0, 100)] and chunk_ranges(100, 100, 8) == [(0, 100)]
    assert chunk_ranges(100, 48, 8) == [(0, 40), (40, 80), (80, 100)]


def test_inputs_and_output_names(tmp_path):
    src, out = tmp_path / "in", tmp_path / "in" / "out"
    for rel in ["s1/a.mp4", "s1/a.avi", "b.MOV", "c.webm", "manifest.mkv", ".hidden.mp4",
                "notes.txt", "out/old.mp4", ".cache/x.mp4"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"x")
    videos = find_videos(src, out)
    assert [v.relative_to(src).as_posix() for v in videos] == [
        "b.MOV", "c.webm", "manifest.mkv", "s1/a.avi", "s1/a.mp4"]
    jobs = {j.key: j for j in plan_outputs(videos, src, out)}
    rel = {k: (Path(j.output).relative_to(out).as_posix(),
               Path(j.report).relative_to(out).as_posix()) for k, j in jobs.items()}
    assert rel == {"b.MOV": ("b.mov", "b.json"), "c.webm": ("c.mp4", "c.json"),
                   "manifest.mkv": ("manifest_mkv.mkv", "manifest_mkv.json"),
                   "s1/a.avi": ("s1/a_avi.mp4", "s1/a_avi.json"),
                   "s1/a.mp4": ("s1/a_mp4.mp4", "s1/a_mp4.json")}
    with pytest.raises(InputError, match="not a folder"):
        find_videos(tmp_path / "missing", out)


# ------------------------------------------------------------------------ media
@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("parts_clips")
    return {"long": write_clip(d / "long.mp4", LONG), "vfr": write_clip(d / "vfr.mp4", VFR)}


def test_seek_gives_the_frames_of_a_decode_from_the_start(clips):
    src = clips["long"]
    times = frame_times(src)
    full = list(read_frames(src))
    assert times == [f.time for f in full]  # the demuxer's index = the decoder's times
    for start in (0, 13, 40, 99):  # 13 and 99 are not keyframes (gop 10)
        got = list(read_frames(src, start=(start, times[start])))
        assert [f.index for f in got] == list(range(start, 100))
        assert [f.time for f in got] == times[start:]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(got, full[start:]))
    with pytest.raises(InputError, match="no frame at"):
        next(read_frames(src, start=(5, times[5] + 0.01)))


def test_parts_on_one_timeline_join_into_the_whole_video(clips, tmp_path):
    """Chunks written with the whole video's time origin, joined by packet copy, decode
    at exactly the times of a one-piece write, with the same audio and sync; B-frames
    make the parts' first decoding times overlap the previous part's (VFR gaps)."""
    src = clips["vfr"]
    info = probe_video(src)
    times = frame_times(src)
    whole = tmp_path / "whole.mp4"
    with VideoWriter(whole, (info.width, info.height), info.fps, time_base=info.time_base,
                     audio_from=src) as w:
        for f in read_frames(src):
            w.write(f.image, f.time)
    origin = min(times[0], audio_start(src))
    assert origin == 0.0 and times[0] == pytest.approx(0.3)
    parts = []
    for k, (s, e) in enumerate([(0, 6), (6, 13), (13, 20)]):
        part = tmp_path / f"part{k}.mp4"
        with VideoWriter(part, (info.width, info.height), info.fps, time_base=info.time_base,
                         origin=origin) as w:
            for f in read_frames(src, start=(s, times[s])):
                if f.index >= e:
                    break
                w.write(f.image, f.time)
        parts.append(part)
    # the case the join has to handle: a part's first decoding time not after the last one
    with av.open(str(parts[0])) as c0, av.open(str(parts[1])) as c1:
        last = max(p.dts for p in c0.demux(video=0) if p.size)
        first = next(p.dts for p in c1.demux(video=0) if p.size)
    assert first <= last
    joined = tmp_path / "joined.mp4"
    n = concat_videos(parts, joined, src, origin=origin,
                      audio_end=times[-1] - origin + 1 / info.fps)
    assert n == len(times) == 20
    assert frame_times_of(joined) == frame_times_of(whole)
    assert frame_times_of(joined) == pytest.approx([t - origin for t in times], abs=1e-9)
    a_whole, t_whole = audio_of(whole)
    a_joined, t_joined = audio_of(joined)
    assert t_joined == t_whole and np.array_equal(a_joined, a_whole)
    assert sync_report(joined).errors == sync_report(whole).errors
    assert len(sync_report(joined).flashes) == 3
    with pytest.raises(RuntimeFailure, match="starts at or before"):
        concat_videos([parts[1], parts[0]], tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


# ------------------------------------------------------------------------ chunks
@pytest.fixture(scope="module")
def worker():
    opts = AnonymizeOptions.from_kwargs(config=str(CFG), weight_path=str(WEIGHTS),
                                        batch_size=8)
    w = AnonymizeWorker(opts, [str(FACE)])
    assert w.ready()["error"] is None
    return w


def test_chunks_render_exactly_the_frames_of_the_whole_video(worker, clips, tmp_path):
    src = clips["long"]
    job = plan_outputs([src], src.parent, tmp_path)[0]
    r = worker.process(job, chunk_frames=48)
    assert r["kind"] == "plan", r
    vplan = r["plan"]
    assert vplan.chunks == [(0, 40), (40, 80), (80, 100)]
    # tracks go on across both chunk boundaries (else the test would not test them)
    assert crossing_tracks(vplan.plan.tracks, 40) and crossing_tracks(vplan.plan.tracks, 80)
    split, whole = {}, {}
    renderer = Renderer(worker.anonymizer.animator, worker.options, worker.targets)
    for i in range(3):
        render_chunk(renderer, vplan, i, on_frame=lambda fr: split.__setitem__(fr.index, fr))
    for _ in worker.anonymizer.render(src, vplan.plan, worker.targets,
                                      on_frame=lambda fr: whole.__setitem__(fr.index, fr)):
        pass
    assert sorted(split) == sorted(whole) == list(range(100))
    for i in range(100):
        assert np.array_equal(split[i].composite, whole[i].composite), f"frame {i}"
        assert np.array_equal(split[i].mask, whole[i].mask)
        assert split[i].boxes == whole[i].boxes
    assert sum(bool(whole[i].boxes) for i in range(100)) > 80  # faces were replaced
    # a part is kept on a rerun with the same plan (resume), not rendered again
    stamp = vplan.part(1).stat().st_mtime_ns
    assert render_chunk(renderer, vplan, 1) == 40
    assert vplan.part(1).stat().st_mtime_ns == stamp


class BatchSensitiveAnimator:
    """A stand-in animator whose keypoints of a frame depend a little on the other frames
    of its batch (as a GPU's convolution algorithms may, by batch size): a reference
    frame computed outside its batch would then differ."""

    image_size = 16

    def keypoints(self, crops):
        means = np.array([c.reshape(-1, 3).mean(0)[:2] for c in crops], np.float64)
        value = means[:, None, :] / 255 + 1e-3 * means.mean(0)
        return {"value": np.repeat(value, 2, axis=1), "jacobian": np.zeros((len(crops), 2, 2, 2))}

    def movement_scales(self, state, kp_initial, adapt_scale):
        return [1.0]

    def animate_batch(self, state, kp, kp_initial, relative, scales):
        shift = kp["value"][:, 0, :] - kp_initial["value"][0, 0, :]  # (B, 2)
        level = np.clip(128 + 1000 * shift.sum(1), 0, 255).astype(np.uint8)
        return np.broadcast_to(level[None, :, None, None, None], (1, len(level), 16, 16, 3))


def test_reference_keypoints_come_from_the_batch_of_the_whole_render():
    from types import SimpleNamespace

    from ppgan_fom.media import Frame
    from ppgan_fom.scale.planning import reference_window

    rng = np.random.default_rng(0)
    frames = [Frame(i, rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), i / 25)
              for i in range(20)]

    def track(tid, start, end):
        n = end - start + 1
        params = np.column_stack([np.full(n, 24.0), np.full(n, 24.0), np.full(n, 16.0)])
        return Track(tid, 0, start, end, start, end, np.arange(start, end + 1), params, 1.0)

    tracks = [track(0, 1, 13), track(1, 6, 19), track(2, 9, 10)]
    opts = AnonymizeOptions.from_kwargs(batch_size=4, color_match=False)  # keep levels
    renderer = Renderer(BatchSensitiveAnimator(), opts, [SimpleNamespace(state=None)])
    whole = [f.image for f in renderer.render(frames, tracks)]
    split = []
    for start, stop in chunk_ranges(20, 7, 4):
        refs = {}
        for t in crossing_tracks(tracks, start):
            first, last = reference_window(t, 4)
            refs[t.id] = renderer.reference_keypoints(frames[first:last + 1], t)
        split += [f.image for f in renderer.render(frames[start:stop], tracks,
                                                   references=refs)]
    assert len(split) == 20
    assert all(np.array_equal(a, b) for a, b in zip(split, whole))
    assert any(not np.array_equal(a, f.image) for a, f in zip(whole, frames))


def test_worker_reports_bad_inputs_as_one_line(worker, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\0" * 4096)
    job = plan_outputs([bad], tmp_path, tmp_path / "out")[0]
    r = worker.process(job, chunk_frames=0)
    assert r["kind"] == "error" and r["bad_input"] and not r["split"]
    assert "broken.mp4" in r["error"] and "\n" not in r["error"]
    assert not Path(job.output).exists()


def test_worker_startup_error_is_kept_for_the_driver(tmp_path):
    noface = tmp_path / "grey.png"
    import cv2
    cv2.imwrite(str(noface), np.full((64, 64, 3), 128, np.uint8))
    opts = AnonymizeOptions.from_kwargs(config=str(CFG), weight_path=str(WEIGHTS))
    info = AnonymizeWorker(opts, [str(noface)]).ready()
    assert info["type"] == "NoFaceError" and "grey.png" in info["error"]


def test_cli_folder_flags_are_checked(tmp_path, capsys):
    rc = anonymize_main(["--input_dir", str(tmp_path), "--target_face", str(FACE)])
    assert rc == 2 and "--input_dir needs --output_dir" in capsys.readouterr().err
    rc = anonymize_main(["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o"),
                         "--video", "x.mp4", "--target_face", str(FACE)])
    assert rc == 2 and "not --video" in capsys.readouterr().err
    rc = anonymize_main(["--target_face", str(FACE)])
    assert rc == 2 and "--video and --output are needed" in capsys.readouterr().err
    rc = anonymize_main(["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o"),
                         "--target_face", str(FACE), "--workers", "0"])
    assert rc == 2 and "--workers must be >= 1" in capsys.readouterr().err


def test_worker_shape_and_startup_errors():
    from ppgan_fom.errors import NoFaceError, WeightsError
    from ppgan_fom.scale.cluster import (ClusterOptions, check_fits, startup_error,
                                         worker_shape)

    assert worker_shape(ClusterOptions(), {"CPU": 8.0}) == (4, 2)
    assert worker_shape(ClusterOptions(), {"CPU": 1.0}) == (1, 1)
    assert worker_shape(ClusterOptions(workers=3), {"CPU": 8.0}) == (3, 2)
    assert worker_shape(ClusterOptions(cpus_per_worker=4), {"CPU": 16.0}) == (4, 4)
    assert worker_shape(ClusterOptions(gpus_per_worker=0.5), {"CPU": 8.0, "GPU": 2.0}) == (4, 1)
    with pytest.raises(InputError, match="GPU"):
        check_fits(ClusterOptions(gpus_per_worker=1), {"CPU": 2.0}, local=True)
    check_fits(ClusterOptions(gpus_per_worker=1), {"CPU": 2.0}, local=False)  # warns only
    err = startup_error({"type": "NoFaceError", "error": "no face found in target x.png"})
    assert isinstance(err, NoFaceError) and str(err) == "no face found in target x.png"
    assert isinstance(startup_error({"type": "WeightsError", "error": "w"}), WeightsError)
    assert type(startup_error({"type": "ValueError", "error": "v"})) is RuntimeFailure
