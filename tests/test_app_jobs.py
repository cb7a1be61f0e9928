"""The web app's job layer without a browser (ppgan_fom.app minus the page): upload
limits, the temp workspace, one-line errors, per-job options, the report table, the face
preview, the progress hook, and the jobs themselves on the small local model."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import optional_import

from app_helpers import CLIP_FRAMES, PHOTO, PORTRAIT, SAMPLE_CLIP, SMALL, short_clip_with_tone
from ppgan_fom.errors import InputError, NoFaceError, VideoError, WeightsError
from ppgan_fom.media import probe_video, read_frames, read_image
from ppgan_fom.options import COVER_RATIO, AnimateOptions
from ppgan_fom.progress import progress, progress_listener

from ppgan_fom.app import choices as ch
from ppgan_fom.app.limits import MB, Limits
from ppgan_fom.app.messages import error_message
from ppgan_fom.app.preview import ANIMATED_COLOR, SKIPPED_COLOR, draw_faces
from ppgan_fom.app.report_view import public_report, ranges_text, summary, track_rows
from ppgan_fom.app.workspace import Workspace


# --------------------------------------------------------------------------- limits
def test_size_limit_names_the_file_and_the_limit(tmp_path):
    f = tmp_path / "big.mp4"
    f.write_bytes(b"\0" * (MB + 1))
    with pytest.raises(InputError) as e:
        Limits(max_upload_mb=1).check_size(f, "video")
    msg = str(e.value)
    assert msg.startswith("video big.mp4 is 1.0 MB") and "up to 1 MB" in msg
    assert "\n" not in msg and str(tmp_path) not in msg
    Limits(max_upload_mb=1.01).check_size(f, "video")  # just under: accepted


def test_duration_limit(tmp_path):
    with pytest.raises(InputError, match=r"driving_3s.mp4 lasts 3.0 s; .* up to 2.5 s"):
        Limits(max_video_seconds=2.5).check_video(SAMPLE_CLIP, "driving video")
    assert Limits(max_video_seconds=3.5).check_video(SAMPLE_CLIP).n_frames == 90


def test_bad_uploads_raise_the_library_errors(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not an image\n")
    with pytest.raises(InputError, match="not an image"):
        Limits().check_image(bad)
    with pytest.raises(VideoError):
        Limits().check_video(bad)


def test_limits_must_be_positive():
    with pytest.raises(InputError):
        Limits(max_upload_mb=0)
    with pytest.raises(InputError):
        Limits(max_video_seconds=-1)


# --------------------------------------------------------------------------- workspace
def test_workspace_job_folder_is_removed_on_success_and_failure(tmp_path):
    ws = Workspace(tmp_path)
    with ws.job() as work:
        (work / "partial.mp4").write_bytes(b"x")
        done = work / "done.mp4"
        done.write_bytes(b"result")
        [published] = ws.publish(done)
    assert list(ws.jobs.iterdir()) == []
    assert published.read_bytes() == b"result" and published.parent.parent == ws.results
    with pytest.raises(RuntimeError):
        with ws.job() as work:
            (work / "partial.mp4").write_bytes(b"x")
            raise RuntimeError("boom")
    assert list(ws.jobs.iterdir()) == []
    ws.close()
    assert not ws.root.exists() and list(tmp_path.iterdir()) == []


def test_workspace_sweep_removes_only_old_results(tmp_path):
    ws = Workspace(tmp_path, keep_seconds=60)
    paths = []
    for name in ("old.mp4", "new.mp4"):
        with ws.job() as work:
            (work / name).write_bytes(b"x")
            paths += ws.publish(work / name)
    old = paths[0].parent
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert ws.sweep() == 1
    assert not old.exists() and paths[1].exists()
    ws.close()


# --------------------------------------------------------------------------- messages
def test_error_message_hides_server_paths(tmp_path):
    exc = InputError(f"not an image (unrecognised format): {tmp_path}/cache/ab12/bad.png")
    assert error_message(exc, tmp_path) == "not an image (unrecognised format): bad.png"


def test_error_message_for_a_bug_is_one_line_without_traceback():
    try:
        raise KeyError("line one\nline two")
    except KeyError as exc:
        msg = error_message(exc)
    assert msg.startswith("unexpected KeyError: ") and "bug" in msg
    assert "\n" not in msg and "Traceback" not in msg
    assert error_message(MemoryError()).startswith("out of memory")


# --------------------------------------------------------------------------- choices
def test_animate_options_take_the_job_choices_and_output(tmp_path):
    base = AnimateOptions(config="x.yaml", weight_path="w.pdparams", batch_size=4)
    opts = ch.animate_options(base, {"relative": True, "ratio": 0.3}, tmp_path / "a.mp4")
    assert (opts.relative, opts.ratio, opts.batch_size) == (True, 0.3, 4)
    assert (opts.output, opts.filename) == (str(tmp_path), "a.mp4")
    with pytest.raises(TypeError, match="weight_path"):
        ch.animate_options(base, {"weight_path": "other"}, tmp_path / "a.mp4")


def test_anonymize_options_keep_the_anonymizer_defaults():
    base = AnimateOptions(batch_size=4, ratio=0.4, relative=False)
    opts = ch.anonymize_options(base, {})
    a = opts.animate
    assert (a.ratio, a.relative, a.adapt_scale, a.batch_size) == (COVER_RATIO, True, True, 4)


def test_optional_controls_appear_only_with_the_field():
    @dataclasses.dataclass
    class With:
        face_enhancement: bool = dataclasses.field(default=False, metadata={"help": "GPEN"})

    @dataclasses.dataclass
    class Without:
        relative: bool = False

    @dataclasses.dataclass
    class NotASwitch:
        voice: str = "mcadams"

    assert ch.available(With, ch.OPTIONAL_ANIMATE) == ["face_enhancement"]
    assert ch.available(Without, ch.OPTIONAL_ANIMATE) == []
    assert ch.available(NotASwitch, ch.OPTIONAL_ANONYMIZE) == []
    assert ch.field_help(With, "face_enhancement") == "GPEN"


# --------------------------------------------------------------------------- report view
REPORT = {
    "video": "/srv/tmp/cache/ab/talk.mp4", "output": "/srv/tmp/jobs/j/talk_anonymized.mp4",
    "frames": 10, "targets": ["/srv/tmp/cache/cd/face.png"],
    "tracks": [{"id": 0, "target": "/srv/tmp/cache/cd/face.png", "shot": 0,
                "first_frame": 2, "last_frame": 9, "frames_covered": 8, "frames_detected": 7,
                "frames_interpolated": 1, "frames_missed": 1, "mean_score": 0.9}],
    "frames_untouched": [[0, 1]],
    "totals": {"tracks": 1, "frames": 10, "frames_with_replaced_faces": 8},
}


def test_report_table_and_summary():
    cols, rows = track_rows(REPORT)
    assert cols[:2] == ["track", "replaced by"]
    assert rows == [[0, "face.png", 0, 2, 9, 8, 7, 1, 1, 0.9]]
    assert summary(REPORT) == ("1 face track(s); faces replaced in 8 of 10 frames; frames "
                               "left unchanged (no face found): 0-1")
    assert ranges_text([[0, 4], [9, 9]]) == "0-4, 9"
    pub = public_report(REPORT)
    assert (pub["video"], pub["output"], pub["targets"]) == (
        "talk.mp4", "talk_anonymized.mp4", ["face.png"])
    assert pub["tracks"][0]["target"] == "face.png" and "/srv" not in json.dumps(pub)
    assert REPORT["video"].startswith("/srv")  # the original is not modified


# --------------------------------------------------------------------------- preview
def test_draw_faces_numbers_and_colours():
    image = np.full((400, 800, 3), 10, np.uint8)
    out = draw_faces(image, [(100, 100, 300, 300), (500, 100, 700, 300)], [True, False],
                     max_side=400)
    assert out.shape == (200, 400, 3) and image.max() == 10  # scaled; input untouched
    assert tuple(out[100, 50]) == ANIMATED_COLOR  # left edge of face 1 (x 100 -> 50)
    assert tuple(out[100, 250]) == SKIPPED_COLOR  # left edge of face 2 (x 500 -> 250)
    assert tuple(out[10, 10]) == (10, 10, 10)


# --------------------------------------------------------------------------- progress hook
def test_progress_listener_sees_every_item_done_and_is_scoped():
    seen = []
    with progress_listener(lambda desc, done, total: seen.append((desc, done, total))):
        for item in progress(iter("ab"), total=2, desc="step"):
            seen.append(item)  # an item counts as done once the loop body has used it
    assert seen == [("step", 0, 2), "a", ("step", 1, 2), "b", ("step", 2, 2)]
    list(progress(range(2), total=2, desc="after"))
    assert len(seen) == 5  # no listener outside the block


# --------------------------------------------------------------------------- jobs (small model)
@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from ppgan_fom.app.jobs import AppContext
    from ppgan_fom.app.models import AppModels

    models = AppModels(AnimateOptions(config=str(SMALL / "fom_small64.yaml"),
                                      weight_path=str(SMALL / "fom_small64_random.pdparams"),
                                      cpu=True))
    ws = Workspace(tmp_path_factory.mktemp("app"))
    yield AppContext(models, ws, Limits(max_video_seconds=2.5))
    ws.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return short_clip_with_tone(tmp_path_factory.mktemp("clip") / "talk.mp4")


def test_models_are_loaded_once_and_shared(ctx, monkeypatch):
    import ppgan_fom.pipeline.models as models_mod

    def no_loading(*a, **k):
        raise AssertionError("models loaded again")

    monkeypatch.setattr(models_mod, "load_animator", no_loading)
    p = ctx.models.predictor(ctx.models.options)
    a = ctx.models.anonymizer(ch.anonymize_options(ctx.models.options, {}))
    assert p.animator is ctx.models.animator and a.animator is ctx.models.animator
    assert p.detector is ctx.models.detector and a.detector is ctx.models.detector


def test_missing_weights_fail_at_start_up(tmp_path):
    from ppgan_fom.app.models import AppModels

    with pytest.raises(WeightsError):
        AppModels(AnimateOptions(config=str(SMALL / "fom_small64.yaml"),
                                 weight_path=str(tmp_path / "missing.pdparams"), cpu=True))


def test_preview_numbers_the_faces_the_job_animates(ctx):
    from ppgan_fom.app.jobs import preview_faces

    every = preview_faces(ctx, PHOTO, multi_person=True)
    expected = ctx.models.predictor(ctx.models.options.replace(multi_person=True)).face_boxes(
        read_image(PHOTO))
    assert sorted(every.boxes) == sorted(expected) and all(every.animated)
    assert [b[0] for b in every.boxes] == sorted(b[0] for b in every.boxes)  # left to right
    largest = preview_faces(ctx, PHOTO, multi_person=False)
    job_box = ctx.models.predictor(ctx.models.options.replace(multi_person=False)).face_boxes(
        read_image(PHOTO))
    assert sum(largest.animated) == 1
    assert largest.boxes[largest.animated.index(True)] == job_box[0]
    assert f"{len(expected)} faces found" in largest.caption
    assert max(largest.image.shape[:2]) <= 960


def test_animate_job_writes_the_video_and_leaves_no_job_files(ctx, clip):
    from ppgan_fom.app.jobs import animate_job

    seen = []
    r = animate_job(ctx, PORTRAIT, clip, dict(ch.ANIMATE_DEFAULTS),
                    progress=lambda d, n, t: seen.append((d, n, t)))
    info = probe_video(r.video)
    assert r.frames == info.n_frames == CLIP_FRAMES
    assert (info.width, info.height, info.has_audio) == (256, 256, True)
    assert r.video.name == "source_256x256_animated.mp4"
    assert r.video.parent.parent == ctx.workspace.results
    assert seen[-1] == ("animating", CLIP_FRAMES, CLIP_FRAMES)
    assert [n for d, n, t in seen if d == "animating"] == list(range(CLIP_FRAMES + 1))
    assert list(ctx.workspace.jobs.iterdir()) == []
    times = [f.time for f in read_frames(r.video)]
    assert times == pytest.approx([f.time for f in read_frames(clip)], abs=1e-3)


def test_failed_job_publishes_nothing(ctx, clip, tmp_path):
    from ppgan_fom.app.jobs import animate_job, anonymize_job

    before = set(ctx.workspace.results.iterdir())
    grass = tmp_path / "empty.png"
    from PIL import Image
    Image.fromarray(np.full((128, 128, 3), 120, np.uint8)).save(grass)
    with pytest.raises(NoFaceError, match="empty.png"):
        animate_job(ctx, grass, clip, {})
    with pytest.raises(InputError, match="lasts 3.0 s"):
        animate_job(ctx, PORTRAIT, SAMPLE_CLIP, {})
    with pytest.raises(NoFaceError, match="empty.png"):
        anonymize_job(ctx, clip, [grass])
    assert set(ctx.workspace.results.iterdir()) == before
    assert list(ctx.workspace.jobs.iterdir()) == []


def test_anonymize_job_report_and_video(ctx, clip):
    from ppgan_fom.app.jobs import anonymize_job

    stages = set()
    r = anonymize_job(ctx, clip, [PORTRAIT], progress=lambda d, n, t: stages.add(d))
    info = probe_video(r.video)
    assert (info.n_frames, info.width, info.height, info.has_audio) == (CLIP_FRAMES, 256, 256,
                                                                        True)
    assert {"finding faces", "anonymizing"} <= stages
    saved = json.loads(r.report_path.read_text())
    assert saved == r.report and saved["video"] == "talk.mp4"
    assert saved["targets"] == ["source_256x256.png"]
    assert len(r.rows) == saved["totals"]["tracks"] >= 1
    assert r.rows[0][1] == "source_256x256.png"
    assert r.video.parent == r.report_path.parent
    assert list(ctx.workspace.jobs.iterdir()) == []


def test_server_without_weights_stops_at_start_up_with_one_line(tmp_path):
    """Offline with nothing cached: exit 2, one line naming the file to fetch, and no
    temp files made."""
    import socket
    import subprocess
    import sys

    from app_helpers import REPO

    env = dict(os.environ, PPGAN_FOM_HOME=str(tmp_path / "weights"), PPGAN_FOM_OFFLINE="1",
               PPGAN_FOM_REUSE_PADDLEGAN="0")
    (tmp_path / "srv").mkdir()
    with socket.socket() as s:  # a free port, in case the server did start
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run([sys.executable, str(REPO / "applications" / "tools" / "app.py"),
                        "--port", str(port), "--tmp_dir", str(tmp_path / "srv")],
                       env=env, capture_output=True, text=True, timeout=120)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2, r.stderr
    assert len(errors) == 1 and "vox-cpk.pdparams" in errors[0] and "offline" in errors[0]
    assert "Traceback" not in r.stderr and list((tmp_path / "srv").iterdir()) == []


def test_page_shows_optional_controls_only_when_the_library_has_them(ctx, monkeypatch):
    optional_import("gradio", reason='Gradio is not installed (pip install -e ".[app]")')
    from ppgan_fom.app import choices, ui

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(ctx.workspace.cache))

    def ids():
        demo = ui.build_ui(ctx)
        return {getattr(b, "elem_id", None) for b in demo.blocks.values()}

    required = {"source_image", "driving_video", "animate_button", "result_video",
                "anon_video", "target_faces", "anonymize_button", "anon_result", "error_box"}
    before = ids()
    assert required <= before
    have = {f.name for f in dataclasses.fields(AnimateOptions)}
    assert ("face_enhancement" in before) == ("face_enhancement" in have)

    @dataclasses.dataclass(frozen=True)
    class WithEnhancement(AnimateOptions):
        face_enhancement: bool = dataclasses.field(
            default=False, metadata={"help": "GPEN on every face", "group": "faces"})

    monkeypatch.setattr(ui, "AnimateOptions", WithEnhancement)
    monkeypatch.setattr(choices, "AnimateOptions", WithEnhancement)
    assert "face_enhancement" in ids()
    opts = choices.animate_options(WithEnhancement(), {"face_enhancement": True},
                                   ctx.workspace.root / "a.mp4")
    assert opts.face_enhancement is True


def test_missing_gradio_is_one_line_with_the_install_command(monkeypatch):
    import importlib.util

    from ppgan_fom.app import server
    from ppgan_fom.deps import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gradio" else real(name, *a))
    with pytest.raises(MissingDependencyError) as e:
        server.require_gradio()
    assert "\n" not in str(e.value) and 'pip install "ppgan-fom[app]"' in str(e.value)
