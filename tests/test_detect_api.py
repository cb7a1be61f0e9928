"""The detector API: registry, counts and boxes on the sample photos, batches, big photos,
bad input."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

import faceutils
from ppgan_fom.geometry.boxes import box_iou
from ppgan_fom.errors import InputError
from sample_media import sample_media

# the detector's own boxes when its port was validated: a regression reference, not
# ground truth (hand-drawn labels: tests/test_detect_truth.py)
REFERENCE = json.loads((Path(__file__).resolve().parent / "data" / "detect" /
                        "blazeface_reference_boxes.json").read_text())
PHOTOS = sorted(k for k in REFERENCE if not k.startswith("_"))



@pytest.fixture(scope="module")
def detector():
    return faceutils.create_detector()


@pytest.fixture(scope="module")
def images():
    return {name: faceutils.read_rgb(sample_media(name)) for name in PHOTOS}


# ------------------------------------------------------------------ registry

def test_available_detectors_lists_default_first():
    names = faceutils.available_detectors()
    assert names[0] == faceutils.DEFAULT_DETECTOR == "blazeface"
    assert "s3fd" in names


def test_import_does_not_load_paddle():
    import subprocess
    import sys

    code = "import sys, faceutils; print('paddle' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "False"


def test_unknown_detector_name_is_a_one_line_input_error():
    with pytest.raises(InputError, match="unknown face detector 'haar'.*blazeface, s3fd"):
        faceutils.create_detector("haar")


def test_detector_name_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="faceutils"):
        det = faceutils.create_detector(None)
    assert det.name == "blazeface"
    assert any("face detector: blazeface" in r.getMessage() for r in caplog.records)


def test_registry_has_no_dynamic_import():
    src = (Path(faceutils.__file__).parent / "registry.py").read_text()
    assert "__import__" not in src and "importlib" not in src


# ------------------------------------------------------------------ the acceptance photos

@pytest.mark.parametrize("name", PHOTOS)
def test_default_detector_counts_and_boxes(detector, images, name):
    dets = detector.detect(images[name])
    reference = np.asarray(REFERENCE[name], float).reshape(-1, 4)
    assert dets.dtype == np.float32 and dets.shape == (len(reference), 5), dets
    assert np.all(np.diff(dets[:, 4]) <= 0), "not sorted by score"
    assert np.all(dets[:, 4] > 0.6)
    unmatched = list(range(len(reference)))
    for row in dets:
        overlaps = box_iou(row, reference[unmatched]) if unmatched else np.zeros(0)
        assert overlaps.size and overlaps.max() >= 0.75, f"{name}: no face under {row}"
        unmatched.pop(int(overlaps.argmax()))
    assert not unmatched


def test_syndics_counts_in_accepted_range(detector, images):
    assert len(detector.detect(images["multi_face_syndics_1200x900.jpg"])) in (5, 6)


def test_detect_batch_equals_single_detects(detector, images):
    batch = [images["single_face_astronaut_512x512.png"],
             images["multi_face_two_people_1126x661.jpg"],
             images["no_face_grass_780x519.jpg"],
             images["single_face_astronaut_512x512.png"]]
    many = detector.detect_batch(batch)
    assert len(many) == 4
    for img, got in zip(batch, many):
        np.testing.assert_allclose(got, detector.detect(img), rtol=0, atol=1e-3)
    assert detector.detect_batch([]) == []


def test_detect_batch_in_small_chunks(detector, images):
    small_batches = faceutils.create_detector(batch_size=2)
    batch = [images[name] for name in PHOTOS]
    for got, img in zip(small_batches.detect_batch(batch), batch):
        np.testing.assert_allclose(got, detector.detect(img), rtol=0, atol=1e-3)


def test_large_photo_is_fast_and_boxes_map_back(detector, images):
    """A 6000x4000 upscale of the two-people photo: same faces, scaled, in well under 5 s."""
    import cv2

    src = images["multi_face_two_people_1126x661.jpg"]
    big = cv2.resize(src, (6000, 4000), interpolation=cv2.INTER_LINEAR)
    t0 = time.perf_counter()
    dets = detector.detect(big)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0
    assert len(dets) == 2
    reference = np.asarray(REFERENCE["multi_face_two_people_1126x661.jpg"], float)
    reference[:, [0, 2]] *= 6000 / 1126
    reference[:, [1, 3]] *= 4000 / 661
    for row in dets:
        assert box_iou(row, reference).max() > 0.6


def test_tiled_mode_keeps_counts(images):
    tiled = faceutils.create_detector("blazeface", tiles=2)
    for name in ("multi_face_syndics_1200x900.jpg", "no_face_grass_780x519.jpg",
                 "single_face_fom_source_256x256.png"):
        dets = tiled.detect(images[name])
        assert len(dets) == len(REFERENCE[name]), name


def test_tile_grid_covers_image():
    from faceutils.blazeface import tile_grid

    for h, w, n in ((900, 1200, 2), (768, 1024, 3), (300, 301, 2)):
        cover = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in tile_grid(h, w, n):
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            cover[y0:y1, x0:x1] = True
        assert cover.all()


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("name", ["bad_not_an_image.png", "bad_truncated.png"])
def test_bad_image_file_gives_one_line_error_naming_it(detector, name):
    path = sample_media(name)
    with pytest.raises(InputError) as err:
        faceutils.detect_file(path, detector)
    msg = str(err.value)
    assert name in msg and "\n" not in msg
    assert err.value.exit_code == 2


def test_command_line_bad_file_one_line_exit_2():
    import subprocess
    import sys

    path = sample_media("bad_not_an_image.png")
    out = subprocess.run([sys.executable, "-m", "faceutils", str(path)], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad_not_an_image.png" in lines[0], out.stderr


def test_missing_file(detector, tmp_path):
    with pytest.raises(InputError, match="nope.jpg"):
        faceutils.detect_file(tmp_path / "nope.jpg", detector)


def test_detect_file_on_a_photo(detector):
    dets = faceutils.detect_file(sample_media("single_face_astronaut_512x512.png"), detector)
    assert dets.shape == (1, 5)


@pytest.mark.parametrize("bad", [
    np.zeros((10, 10, 3), np.float32),
    np.zeros((0, 10, 3), np.uint8),
    np.zeros((10, 10, 2), np.uint8),
    "image.png",
])
def test_bad_arrays_are_rejected(detector, bad):
    with pytest.raises(InputError):
        detector.detect(bad)


def test_grey_and_rgba_inputs_are_accepted(detector, images):
    rgb = images["single_face_astronaut_512x512.png"]
    grey = rgb.mean(axis=2).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert len(detector.detect(grey)) == 1
    np.testing.assert_allclose(detector.detect(rgba), detector.detect(rgb))
