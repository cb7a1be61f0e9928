"""End-to-end tests of video anonymization (ppgan_fom.anonymize) on clips built from
real media: the 256x256 talking head of docs/samples placed inside 1280x720 frames
over a photo background, with a tone audio track.

The small random-weight 64x64 model is used, so the generated faces look like noise:
the tests check geometry (the paste mask covers the real face box in every frame),
that nothing outside the masks changes, frame count / fps / size / audio, tracks and
the report, not the look of the faces.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from ppgan_fom.anonymize import (AnonymizeOptions, FaceAnonymizer, assign_targets,
                                 default_report_path, write_report)
from ppgan_fom.cli.anonymize import anonymize_parser, options_from_anonymize_args
from ppgan_fom.options import COVER_RATIO as DEFAULT_RATIO
from ppgan_fom.errors import InputError, NoFaceError
from ppgan_fom.options import AnimateOptions
from ppgan_fom.media import VideoWriter, iter_frames, probe_video, read_image
from sample_media import sample_media

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "fom_small64"
HEAD_CLIP = "driving_fom_dv_256x256_3s.mp4"
W, H, FPS = 1280, 720, 30



# --------------------------------------------------------------------------- #
# fixtures: the model, the source head and its true face boxes, a tone
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def anonymizer() -> FaceAnonymizer:
    return FaceAnonymizer(config=str(SMALL / "fom_small64.yaml"),
                          weight_path=str(SMALL / "fom_small64_random.pdparams"),
                          batch_size=8, cpu=True)


@pytest.fixture(scope="module")
def head_frames() -> List[np.ndarray]:
    """The 90 frames (256, 256, 3) of the talking-head clip."""
    return list(iter_frames(sample_media(HEAD_CLIP)))


@pytest.fixture(scope="module")
def head_boxes(anonymizer, head_frames) -> np.ndarray:
    """(90, 4) true face box of each head frame, from the detector on the close-up
    itself, clipped to the 256x256 patch."""
    boxes = []
    for frame in head_frames:
        dets = anonymizer.detector.detect(frame)
        assert len(dets) >= 1, "the detector must find the face in the close-up"
        boxes.append(np.clip(dets[0, :4], 0, 256))
    return np.array(boxes)


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tone") / "tone.m4a"
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f",
                    "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", str(out)],
                   check=True)
    return out


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    """A face-free photo (grass) resized to 1280x720."""
    return cv2.resize(read_image(sample_media("no_face_grass_780x519.jpg")), (W, H),
                      interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def small_background(background) -> np.ndarray:
    """The grass photo at 854x480 (the smaller clips keep the tests fast)."""
    return cv2.resize(background, (854, 480), interpolation=cv2.INTER_AREA)


# one head placement: (x, y, source frame index, mirrored)
Placement = Tuple[int, int, int, bool]


def build_clip(path: Path, backgrounds: Sequence[np.ndarray],
               placements: Sequence[Sequence[Placement]], head_frames, head_boxes,
               audio=None) -> List[List[np.ndarray]]:
    """Write a clip: frame i = backgrounds[i] (all the same size) with the heads of
    placements[i] pasted.

    Returns, per frame, the true face boxes [x1, y1, x2, y2] in clip pixels.
    """
    truth = []
    h, w = backgrounds[0].shape[:2]
    with VideoWriter(path, fps=FPS, size=(w, h), audio_from=audio) as writer:
        for bg, heads in zip(backgrounds, placements):
            frame = bg.copy()
            boxes = []
            for x, y, k, mirrored in heads:
                head = head_frames[k][:, ::-1] if mirrored else head_frames[k]
                frame[y:y + 256, x:x + 256] = head
                bx1, by1, bx2, by2 = head_boxes[k]
                if mirrored:
                    bx1, bx2 = 256 - bx2, 256 - bx1
                boxes.append(np.array([bx1 + x, by1 + y, bx2 + x, by2 + y]))
            writer.write(frame)
            truth.append(boxes)
    return truth


@contextlib.contextmanager
def options_changed(anonymizer: FaceAnonymizer, **changes):
    """Temporarily change the anonymizer's own options (the model stays loaded)."""
    saved = anonymizer.options
    anonymizer.options = saved.replace(**changes)
    try:
        yield anonymizer
    finally:
        anonymizer.options = saved


class Recorder:
    """on_frame callback: coverage of the true boxes and (dilated) masks, per frame."""

    def __init__(self, truth: List[List[np.ndarray]]):
        self.truth = truth
        self.coverage: List[List[float]] = []
        self.masks: List[np.ndarray] = []  # packed bits of the dilated union mask
        self.boxes: Dict[int, list] = {}
        self.outside_equal = True
        self.kernel = np.ones((17, 17), np.uint8)

    def __call__(self, r) -> None:
        assert r.index == len(self.coverage)
        cov = []
        for x1, y1, x2, y2 in self.truth[r.index]:
            x1, y1, x2, y2 = (int(round(v)) for v in (x1, y1, x2, y2))
            cov.append(float(r.mask[y1:y2, x1:x2].mean()))
        self.coverage.append(cov)
        self.outside_equal &= bool(np.array_equal(r.composite[~r.mask], r.original[~r.mask]))
        dilated = cv2.dilate(r.mask.astype(np.uint8), self.kernel) > 0
        self.masks.append(np.packbits(dilated))
        self.boxes[r.index] = list(r.boxes)

    def mask(self, i: int, shape: Tuple[int, int]) -> np.ndarray:
        h, w = shape
        return np.unpackbits(self.masks[i])[:h * w].reshape(h, w).astype(bool)


def audio_seconds(path: Path) -> float:
    """Duration of the first audio stream, from its decoded samples."""
    proc = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
                           str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar",
                           "8000", "-"], stdout=subprocess.PIPE, check=True)
    return len(proc.stdout) / 2 / 8000.0


def compare_outside(inp: Path, out: Path, rec: Recorder, truth) -> Tuple[float, float, int]:
    """(worst per-frame mean |out - in| outside the dilated masks, smallest mean change
    inside a true face box, frames compared)."""
    worst_out, least_in, n = 0.0, 1e9, 0
    for i, (a, b) in enumerate(zip(iter_frames(inp), iter_frames(out))):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
        m = rec.mask(i, a.shape[:2])
        worst_out = max(worst_out, float(diff[~m].mean()))
        for x1, y1, x2, y2 in truth[i]:
            x1, y1, x2, y2 = (int(round(v)) for v in (x1, y1, x2, y2))
            least_in = min(least_in, float(diff[y1:y2, x1:x2].mean()))
        n += 1
    return worst_out, least_in, n


# --------------------------------------------------------------------------- #
# end-to-end
# --------------------------------------------------------------------------- #
def test_single_moving_head(tmp_path, anonymizer, head_frames, head_boxes, tone, background):
    n = 90
    placements = [[(300 + round(200 * i / (n - 1)), 200 + round(60 * i / (n - 1)), i, False)]
                  for i in range(n)]
    clip = tmp_path / "one.mp4"
    truth = build_clip(clip, [background] * n, placements, head_frames, head_boxes, audio=tone)
    target = sample_media("single_face_fom_source_256x256.png")
    rec = Recorder(truth)
    out = anonymizer.run(clip, [target], tmp_path / "out" / "one_anon.mp4", on_frame=rec)

    # video properties kept
    info_in, info_out = probe_video(clip), probe_video(out)
    assert (info_out.width, info_out.height) == (W, H)
    assert info_out.fps == pytest.approx(FPS)
    assert info_out.has_audio
    assert audio_seconds(out) == pytest.approx(audio_seconds(clip), abs=0.1)
    assert audio_seconds(out) == pytest.approx(3.0, abs=0.1)
    assert not list((tmp_path / "out").glob(".*tmp*")), "temp files left behind"

    # no leak: every frame's paste mask covers >= 95 % of the true face box
    assert len(rec.coverage) == n
    worst = min(c[0] for c in rec.coverage)
    assert worst >= 0.95, f"worst face-box coverage {worst:.3f}"
    assert rec.outside_equal

    # outside the masks the output equals the input within codec noise; faces replaced
    worst_out, least_in, frames = compare_outside(clip, Path(out), rec, truth)
    assert frames == n == info_in.n_frames
    assert worst_out < 2.0, f"outside the masks the output differs by {worst_out:.2f}"
    assert least_in > 10.0, f"a face box barely changed (mean diff {least_in:.1f})"

    # report beside the output, counts matching what was rendered
    report = json.loads(default_report_path(out).read_text())
    assert report["frames"] == n and report["width"] == W and report["height"] == H
    assert report["scene_cuts"] == []
    (track,) = report["tracks"]
    assert (track["first_frame"], track["last_frame"], track["frames_covered"]) == (0, n - 1, n)
    assert track["target"] == str(target)
    assert track["frames_detected"] + track["frames_interpolated"] + track["frames_padded"] == n
    assert track["frames_missed"] == track["frames_interpolated"]  # every frame sampled
    covered = sum(1 for i in range(n) if rec.boxes[i])
    totals = report["totals"]
    assert totals["frames_with_replaced_faces"] == covered == n
    assert totals["frames_untouched"] == 0 and report["frames_untouched"] == []
    assert totals["frames_sampled"] == n
    no_face = sum(b - a + 1 for a, b in report["frames_without_face"])
    assert totals["frames_without_face"] == no_face
    assert totals["detections"] >= track["frames_detected"]
    # the smoothed box moves smoothly: no frame-to-frame jump above a few pixels
    centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for _, b in
                        (rec.boxes[i][0] for i in range(n))])
    assert np.abs(np.diff(centres, axis=0)).max() <= 6


def test_two_people_two_tracks_each_replaced(tmp_path, anonymizer, head_frames, head_boxes,
                                             small_background):
    n = 60
    # two heads side by side, drifting towards each other (the right one mirrored and
    # 1 s later in the talk)
    placements = [[(100 + i, 150, i, False), (500 - i, 110, (i + 30) % 90, True)]
                  for i in range(n)]
    clip = tmp_path / "two.mp4"
    truth = build_clip(clip, [small_background] * n, placements, head_frames, head_boxes)
    targets = [sample_media("single_face_fom_source_256x256.png"),
               sample_media("single_face_astronaut_512x512.png")]
    rec = Recorder(truth)
    with options_changed(anonymizer, detect_every=2):
        out = anonymizer.run(clip, targets, tmp_path / "two_anon.mp4",
                             report=tmp_path / "r" / "two.json", on_frame=rec)
    report = json.loads((tmp_path / "r" / "two.json").read_text())
    assert len(report["tracks"]) == 2
    left, right = report["tracks"]
    assert left["mean_face_box"][0] < right["mean_face_box"][0]
    assert [left["target"], right["target"]] == [str(t) for t in targets]  # round robin
    for t in (left, right):
        assert (t["first_frame"], t["last_frame"]) == (0, n - 1)
        assert t["frames_interpolated"] >= n // 2 - 1  # every other frame not sampled
        missed = sum(b - a + 1 for a, b in t["missed_ranges"])
        not_sampled = sum(1 for f in range(t["first_detection"], t["last_detection"] + 1)
                          if f % 2)
        assert t["frames_missed"] == missed == t["frames_interpolated"] - not_sampled
    assert report["totals"]["frames_sampled"] == n // 2
    cov = np.array(rec.coverage)
    assert cov.shape == (n, 2)
    assert cov.min() >= 0.95, f"worst coverage per person {cov.min(axis=0)}"
    worst_out, least_in, frames = compare_outside(clip, Path(out), rec, truth)
    assert frames == n
    assert worst_out < 2.0
    assert least_in > 10.0


def test_hard_cut_gives_separate_tracks(tmp_path, anonymizer, head_frames, head_boxes,
                                        small_background):
    n, cut = 60, 30
    # shot 2: other background, head 40 px right / 30 px down of where shot 1 ends:
    # the boxes overlap (IoU ~0.5), so only the cut keeps them apart
    backgrounds = [small_background] * cut + [255 - small_background] * (n - cut)
    placements = [[(250 + i, 120, i, False)] if i < cut else [(319, 150, i, False)]
                  for i in range(n)]
    clip = tmp_path / "cut.mp4"
    truth = build_clip(clip, backgrounds, placements, head_frames, head_boxes)
    rec = Recorder(truth)
    # sparse detection: the first frame of the new shot is still always detected
    with options_changed(anonymizer, detect_every=2):
        anonymizer.run(clip, sample_media("single_face_fom_source_256x256.png"),
                       tmp_path / "cut_anon.mkv", on_frame=rec)
    report = json.loads((tmp_path / "cut_anon.json").read_text())
    assert report["scene_cuts"] == [cut]
    # padding (2 + detect_every - 1 frames) stops at the cut
    assert report["shots"] == [[0, cut - 1], [cut, n - 1]]
    assert [(t["first_frame"], t["last_frame"]) for t in report["tracks"]] == \
        [(0, cut - 1), (cut, n - 1)]
    assert min(c[0] for c in rec.coverage) >= 0.95
    # no box sliding across the cut: right after it the box sits on the new position
    for i in (cut - 1, cut, cut + 1):
        (tid, box), = rec.boxes[i]
        assert tid == (0 if i < cut else 1)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        tx1, ty1, tx2, ty2 = truth[i][0]
        assert abs(cx - (tx1 + tx2) / 2) < 12 and abs(cy - (ty1 + ty2) / 2) < 12


# --------------------------------------------------------------------------- #
# inputs, options, CLI
# --------------------------------------------------------------------------- #
def test_target_without_face_is_named(tmp_path, anonymizer):
    grass = sample_media("no_face_grass_780x519.jpg")
    with pytest.raises(NoFaceError, match="no_face_grass_780x519.jpg"):
        anonymizer.prepare_targets([grass])


def test_cli_end_to_end_and_errors(tmp_path, head_frames, tone):
    from ppgan_fom.cli import anonymize_main

    clip = tmp_path / "small.mp4"
    with VideoWriter(clip, fps=FPS, size=(480, 320), audio_from=tone) as w:
        for k in range(12):
            frame = np.full((320, 480, 3), 90, np.uint8)
            frame[30:286, 100:356] = head_frames[k]
            w.write(frame)
    common = ["--video", str(clip), "--config", str(SMALL / "fom_small64.yaml"),
              "--weight_path", str(SMALL / "fom_small64_random.pdparams"), "--cpu", "--quiet"]
    out = tmp_path / "o" / "small_anon.mp4"
    rc = anonymize_main(common + ["--target_face",
                                  str(sample_media("single_face_astronaut_512x512.png")),
                                  "--output", str(out), "--report", str(tmp_path / "rep.json"),
                                  "--detect_every", "3"])
    assert rc == 0
    assert probe_video(out).has_audio
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["frames"] == 12 and rep["settings"]["detect_every"] == 3
    assert len(rep["tracks"]) == 1 and rep["tracks"][0]["frames_covered"] == 12
    assert not default_report_path(out).exists()
    # a target with no face: exit code 2, nothing written
    bad_out = tmp_path / "bad.mp4"
    rc = anonymize_main(common + ["--target_face", str(sample_media("no_face_grass_780x519.jpg")),
                                  "--output", str(bad_out)])
    assert rc == 2 and not bad_out.exists()
    # output equal to the input, or not a video file name, is refused before any work
    assert anonymize_main(common + ["--target_face", str(clip), "--output", str(clip)]) == 2
    assert anonymize_main(common + ["--target_face", str(clip), "--output",
                                    str(tmp_path / "o.json")]) == 2


def test_parser_shares_model_flags_and_defaults():
    p = anonymize_parser()
    args = p.parse_args(["--video", "v.mp4", "--target_face", "a.png", "--target_face",
                         "b.png", "--output", "o.mp4", "--batch_size", "4", "--face_detector",
                         "sfd", "--detect_every", "2", "--no_color_match"])
    assert args.target_face == ["a.png", "b.png"]
    opts = options_from_anonymize_args(args)
    assert opts.detect_every == 2 and opts.max_gap == AnonymizeOptions().max_gap
    a = opts.animate
    assert a.batch_size == 4 and a.detector_name == "s3fd" and not a.color_match
    assert a.relative and a.adapt_scale and a.ratio == DEFAULT_RATIO
    # every other shared default comes from AnimateOptions
    base = AnimateOptions()
    assert (a.face_margin, a.config, a.weight_path, a.image_size) == \
        (base.face_margin, base.config, base.weight_path, base.image_size)
    help_text = p.format_help()
    for flag in ("--config", "--weight_path", "--image_size", "--face_detector",
                 "--batch_size", "--cpu", "--mobile_net", "--threads", "--report"):
        assert flag in help_text


def test_options_validation_and_keywords():
    with pytest.raises(InputError):
        AnonymizeOptions(detect_every=0)
    with pytest.raises(InputError, match="max_gap"):
        AnonymizeOptions(detect_every=5, max_gap=2)
    with pytest.raises(InputError):
        AnonymizeOptions.from_kwargs(ratio=0)
    o = AnonymizeOptions.from_kwargs(batch_size=3, detect_every=2, ratio=0.45)
    assert o.animate.batch_size == 3 and o.animate.ratio == 0.45 and o.detect_every == 2
    assert o.animate.relative and o.animate.adapt_scale
    assert o.track_pad == o.pad_frames + 1
    with pytest.raises(TypeError, match="bogus"):
        AnonymizeOptions.from_kwargs(bogus=1)


def test_default_disc_core_covers_the_face_box():
    from ppgan_fom.geometry import FACE_BOX_HALF_DIAGONAL, opaque_core_radius
    from ppgan_fom.geometry import paste_mask

    margin = AnimateOptions().face_margin
    assert opaque_core_radius(DEFAULT_RATIO, margin) == pytest.approx(0.8)
    assert opaque_core_radius(DEFAULT_RATIO, margin) > FACE_BOX_HALF_DIAGONAL
    assert opaque_core_radius(0.4, margin) < FACE_BOX_HALF_DIAGONAL  # the demo's ratio
    # check on the real mask: a 100 px face in its 200 px crop is fully opaque
    mask = paste_mask(200, DEFAULT_RATIO)
    assert mask[50:150, 50:150].min() == 1.0


def test_assign_targets_round_robin_and_report_writing(tmp_path):
    from ppgan_fom.tracking import Track

    tracks = [Track(id=i, shot=0, start=0, end=1, first_detection=0, last_detection=1,
                    detected_frames=np.array([0, 1]), params=np.ones((2, 3)), mean_score=1.0)
              for i in range(5)]
    assign_targets(tracks, 2)
    assert [t.target for t in tracks] == [0, 1, 0, 1, 0]
    assign_targets(tracks, 7)
    assert [t.target for t in tracks] == [0, 1, 2, 3, 4]
    with pytest.raises(InputError):
        assign_targets(tracks, 0)
    path = tmp_path / "r.json"
    write_report(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert default_report_path(tmp_path / "x" / "v.mp4") == tmp_path / "x" / "v.json"
