"""``--face_enhancement`` through the whole path: FirstOrderPredictor, first-order-demo.py
and anonymize.py with the GPEN golden set's recipe weights (GPEN 64 px, built by
tests/gpen_helpers.py) and the small FOMM: enhanced faces are pasted by the compositor as
usual, and frames, sizes and audio are what they are without enhancement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dropin_helpers import (PORTRAIT, SMALL_CFG, SMALL_WEIGHTS, decoded, paste_mask,
                            run_demo, short_clip, write_small_gpen)
from gpen_helpers import LIST_512, SMALL_LIST, read_param_list, small_config
from pipeline_helpers import stream_durations
from ppgan_fom.errors import WeightsError
from ppgan_fom.media import probe_video, read_image
from ppgan_fom.pipeline import enhance_frames


# --------------------------------------------------------------------------- no Paddle
class _FakeEnhancer:
    """Inverts every face and records how many faces each call got."""

    def __init__(self):
        self.calls = []

    def enhance(self, faces):
        self.calls.append(len(faces))
        return 255 - faces


def _stream(n_faces_per_frame):
    rng = np.random.default_rng(0)
    return [(i, rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8))
            for i, n in enumerate(n_faces_per_frame)]


@pytest.mark.parametrize("per_call", [1, 3, 10])
def test_enhance_frames_keeps_order_and_grouping_does_not_matter(per_call):
    items = _stream([2, 1, 3, 2, 2, 1, 2])
    fake = _FakeEnhancer()
    out = list(enhance_frames(iter(items), fake, per_call))
    assert [i for i, _ in out] == [i for i, _ in items]
    for (_, faces), (_, enhanced) in zip(items, out):
        assert enhanced.dtype == np.uint8
        np.testing.assert_array_equal(enhanced, 255 - faces)
    # each call got the faces of at most ``per_call`` frames, every face exactly once
    assert sum(fake.calls) == sum(len(f) for _, f in items)
    assert len(fake.calls) == -(-len(items) // per_call)


def test_enhance_frames_without_enhancer_passes_through():
    items = _stream([1, 2])
    assert list(enhance_frames(iter(items), None, 4)) == items


# --------------------------------------------------------------------------- layout
def test_gpen_config_is_read_from_the_weights():
    from ppgan_fom.enhance import GPEN_512
    from ppgan_fom.enhance.layout import gpen_config_from_shapes

    # the golden set's own record of its config, and PaddleGAN's GPEN-512 param list
    assert gpen_config_from_shapes(dict(read_param_list(SMALL_LIST))) == small_config()
    assert gpen_config_from_shapes(dict(read_param_list(LIST_512))) == GPEN_512
    with pytest.raises(WeightsError, match="x.pdparams: not a GPEN checkpoint"):
        gpen_config_from_shapes({"generator.weight": (3, 3)}, "x.pdparams")


# --------------------------------------------------------------------------- API
@pytest.fixture(scope="module")
def gpen(tmp_path_factory) -> Path:
    return write_small_gpen(tmp_path_factory.mktemp("gpen") / "gpen64.pdparams")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return short_clip(tmp_path_factory.mktemp("clip") / "drive6.mp4", 6)


def _predictor(**kw):
    from ppgan_fom import FirstOrderPredictor

    return FirstOrderPredictor(config=str(SMALL_CFG), weight_path=str(SMALL_WEIGHTS),
                               relative=True, adapt_scale=True, **kw)


@pytest.mark.slow
def test_api_pastes_the_enhanced_faces(gpen, clip):
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.enhance import FaceEnhancer
    from ppgan_fom.geometry import paste_faces

    photo = read_image(PORTRAIT)
    plain = _predictor(batch_size=2)
    enhanced = _predictor(batch_size=2, face_enhancement=True,
                          enhancer_weight_path=str(gpen))
    assert enhanced.enhancer is not None and enhanced.enhancer.size == 64
    assert plain.enhancer is None
    boxes = plain.face_boxes(photo)
    drive = list(driving_frames(clip, DrivingCrop(None, "test"), 64))[:4]
    faces = list(plain.animate_faces([_crop(photo, b) for b in boxes], drive))
    got = list(enhanced.animate(photo, drive, boxes=boxes))
    assert len(got) == len(drive) == 4
    # the reference: the same animated faces through GPEN one by one, pasted as usual
    ref_enhancer = FaceEnhancer(gpen, small_config())
    mask = paste_mask(photo, boxes, enhanced.options.ratio)
    for frame, f in zip(got, faces):
        want = paste_faces(photo, list(zip(boxes, ref_enhancer.enhance(f))),
                           ratio=enhanced.options.ratio)[0]
        assert np.abs(frame.astype(int) - want.astype(int)).max() <= 2
        np.testing.assert_array_equal(frame[~mask], photo[~mask])
    unenhanced = list(plain.animate(photo, drive, boxes=boxes))
    change = np.abs(np.stack(got).astype(int) - np.stack(unenhanced).astype(int))
    assert change[:, mask].mean() > 3  # enhancement really changed the pasted faces


def _crop(photo, box):
    from ppgan_fom.geometry import crop_square

    return crop_square(photo, box, 64)


# --------------------------------------------------------------------------- CLIs
def _same_container(a: Path, b: Path):
    ia, ib = probe_video(a), probe_video(b)
    assert (ia.width, ia.height, ia.n_frames, ia.fps, ia.has_audio) == \
        (ib.width, ib.height, ib.n_frames, ib.fps, ib.has_audio)
    da, db = stream_durations(a), stream_durations(b)
    assert da["audio"] == pytest.approx(db["audio"], abs=0.03)
    assert da["video"] == pytest.approx(db["video"], abs=1e-3)
    return ia


@pytest.mark.slow
def test_demo_cli_with_face_enhancement(tmp_path, gpen, clip, capsys):
    common = ["--driving_video", clip, "--source_image", PORTRAIT, "--relative",
              "--adapt_scale", "--config", SMALL_CFG, "--weight_path", SMALL_WEIGHTS,
              "--output", tmp_path]
    assert run_demo(common + ["--filename", "plain.mp4"]) == 0
    assert run_demo(common + ["--filename", "enh.mp4", "--face_enhancement",
                              "--enhancer_weight_path", gpen]) == 0
    assert "face enhancement: GPEN 64 px" in capsys.readouterr().err
    info = _same_container(tmp_path / "plain.mp4", tmp_path / "enh.mp4")
    assert (info.width, info.height, info.n_frames, info.has_audio) == (256, 256, 6, True)
    plain, enh = decoded(tmp_path / "plain.mp4").astype(int), \
        decoded(tmp_path / "enh.mp4").astype(int)
    photo = read_image(PORTRAIT)
    from ppgan_fom import FirstOrderPredictor

    boxes = FirstOrderPredictor(load_models=False).face_boxes(photo)
    mask = paste_mask(photo, boxes, 0.4)
    assert np.abs(plain - enh)[:, mask].mean() > 3
    assert np.abs(plain - enh)[:, ~mask].mean() < 1


@pytest.mark.slow
def test_anonymize_cli_with_face_enhancement(tmp_path, gpen, clip, capsys):
    from ppgan_fom.cli import anonymize_main

    common = ["--video", clip, "--target_face", PORTRAIT, "--config", SMALL_CFG,
              "--weight_path", SMALL_WEIGHTS, "--batch_size", "3"]
    assert anonymize_main(list(map(str, common + ["--output", tmp_path / "plain.mp4"]))) == 0
    assert anonymize_main(list(map(str, common + [
        "--output", tmp_path / "enh.mp4", "--face_enhancement",
        "--enhancer_weight_path", gpen]))) == 0
    assert "face enhancement: GPEN 64 px" in capsys.readouterr().err
    info = _same_container(tmp_path / "plain.mp4", tmp_path / "enh.mp4")
    assert (info.width, info.height, info.n_frames, info.has_audio) == (256, 256, 6, True)
    plain, enh = decoded(tmp_path / "plain.mp4").astype(int), \
        decoded(tmp_path / "enh.mp4").astype(int)
    assert np.abs(plain - enh).mean(axis=(1, 2, 3)).min() > 1  # every frame's face changed
    import json

    assert json.loads((tmp_path / "enh.json").read_text())["settings"]["face_enhancement"]
    assert not json.loads((tmp_path / "plain.json").read_text())["settings"]["face_enhancement"]


def test_enhancer_weights_offline_fail_before_the_fomm_loads(tmp_path, monkeypatch):
    from ppgan_fom import FaceAnonymizer, FirstOrderPredictor

    monkeypatch.setenv("PPGAN_FOM_HOME", str(tmp_path))
    monkeypatch.setenv("PPGAN_FOM_OFFLINE", "1")
    import ppgan_fom.pipeline.models as models

    def no_fomm(options):
        raise AssertionError("the FOMM was loaded before the enhancer weights were found")

    monkeypatch.setattr("ppgan_fom.pipeline.models.load_animator", no_fomm)
    for make in (lambda: FirstOrderPredictor(face_enhancement=True),
                 lambda: FaceAnonymizer(face_enhancement=True)):
        with pytest.raises(WeightsError, match="'gpen-512' are not cached.*"
                                               "--enhancer_weight_path"):
            make()
    assert models.ENHANCER_WEIGHTS == "gpen-512"


@pytest.mark.slow
def test_shared_models_get_the_enhancer_a_run_asks_for(gpen):
    """The web app loads the models once without an enhancer and hands them to each job:
    a job with face_enhancement must still enhance (and keep sharing the FOMM)."""
    from ppgan_fom import FaceAnonymizer, FirstOrderPredictor
    from ppgan_fom.options import AnimateOptions
    from ppgan_fom.pipeline import load_models

    shared = load_models(AnimateOptions(config=str(SMALL_CFG), weight_path=str(SMALL_WEIGHTS)))
    assert shared.enhancer is None
    common = dict(config=str(SMALL_CFG), weight_path=str(SMALL_WEIGHTS), models=shared)
    ask = dict(face_enhancement=True, enhancer_weight_path=str(gpen))
    anon = FaceAnonymizer(**common, **ask)
    pred = FirstOrderPredictor(**common, **ask)
    for job in (anon, pred):
        assert job.enhancer is not None and job.enhancer.size == 64
        assert job.animator is shared.animator  # the FOMM is not loaded again
    assert FaceAnonymizer(**common).enhancer is None
    assert FirstOrderPredictor(**common).enhancer is None
