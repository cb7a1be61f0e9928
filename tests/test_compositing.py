"""Tests for ppgan_fom.geometry (crop / mask / colour match / paste-back)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppgan_fom.geometry.crop import crop_square
from ppgan_fom.geometry.paste import (
    MAX_COLOR_GAIN,
    match_color,
    paste_faces,
    paste_mask,
    paste_order,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth-ish random RGB image (gradients + noise), uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / max(w, 1) * 200, yy / max(h, 1) * 200, (xx + yy) / max(h + w, 1) * 255], axis=2)
    noise = rng.normal(0, 12, size=(h, w, 3))
    return np.clip(base + noise + 20, 0, 255).astype(np.uint8)


@st.composite
def frame_and_box(draw, min_side: int = 3, max_side: int = 90):
    """A random frame plus a square box that intersects it (possibly hanging over borders)."""
    h = draw(st.integers(16, 100))
    w = draw(st.integers(16, 100))
    seed = draw(st.integers(0, 2**31 - 1))
    side = draw(st.integers(min_side, max_side))
    x1 = draw(st.integers(-side + 1, w - 1))
    y1 = draw(st.integers(-side + 1, h - 1))
    return _textured(h, w, seed), (x1, y1, x1 + side, y1 + side)


# --------------------------------------------------------------------------- #
# crop_square
# --------------------------------------------------------------------------- #
def test_crop_inside_is_exact_slice_and_a_copy() -> None:
    img = _textured(50, 60, 1)
    crop = crop_square(img, (10, 5, 30, 25), 20)
    assert crop.shape == (20, 20, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, img[5:25, 10:30])
    crop[:] = 0
    assert img[5:25, 10:30].any(), "crop must not be a view of the input"


def test_crop_pads_by_edge_replication() -> None:
    img = _textured(40, 40, 2)
    crop = crop_square(img, (-5, -3, 15, 17), 20)  # 5 columns left, 3 rows above
    np.testing.assert_array_equal(crop[3:, 5:], img[0:17, 0:15])
    for c in range(5):  # outside columns copy image column 0
        np.testing.assert_array_equal(crop[3:, c], img[0:17, 0])
    for r in range(3):  # outside rows copy image row 0
        np.testing.assert_array_equal(crop[r, 5:], img[0, 0:15])
    assert (crop[0, 0] == img[0, 0]).all()


def test_crop_entirely_outside_is_corner_colour() -> None:
    img = _textured(30, 30, 3)
    crop = crop_square(img, (40, 50, 50, 60), 10)
    assert (crop == img[29, 29]).all()


@pytest.mark.parametrize("size", [7, 64, 300])
def test_crop_resizes(size: int) -> None:
    img = np.full((100, 100, 3), 77, np.uint8)
    crop = crop_square(img, (10, 10, 90, 90), size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    assert (crop == 77).all()


@pytest.mark.parametrize("box", [(0, 0, 10, 12), (5, 5, 5, 5), (0, 0, -3, -3)])
def test_crop_rejects_bad_boxes(box) -> None:
    with pytest.raises(ValueError):
        crop_square(np.zeros((20, 20, 3), np.uint8), box, 8)


# --------------------------------------------------------------------------- #
# paste_mask
# --------------------------------------------------------------------------- #
@SETTINGS
@given(
    side=st.integers(1, 300),
    ratio=st.floats(1e-3, 1.0),
    feather=st.floats(0.0, 0.5),
)
def test_mask_zero_on_border_in_range_and_radially_monotone(side: int, ratio: float, feather: float) -> None:
    m = paste_mask(side, ratio, feather)
    assert m.shape == (side, side) and m.dtype == np.float32
    assert m.min() >= 0.0 and m.max() <= 1.0
    border = np.concatenate([m[0], m[-1], m[:, 0], m[:, -1]])
    assert (border == 0).all(), "mask must be exactly 0 on the crop border"
    c = np.arange(side) + 0.5 - side / 2
    d = np.sqrt(c[:, None] ** 2 + c[None, :] ** 2).ravel()
    order = np.argsort(d, kind="stable")
    vals = m.ravel()[order]
    assert (np.diff(vals) <= 1e-6).all(), "mask must not increase away from the centre"
    np.testing.assert_array_equal(m, m.T)  # round, centred


def test_mask_ratio_definition_numbers() -> None:
    s = 200
    m = paste_mask(s, 0.4, 0.1)
    c = np.arange(s) + 0.5 - s / 2
    d = np.sqrt(c[:, None] ** 2 + c[None, :] ** 2)
    assert (m[d >= 0.4 * s] == 0).all()
    assert (m[d <= 0.3 * s] == 1).all()
    assert ((m > 0) & (m < 1))[(d > 0.31 * s) & (d < 0.39 * s)].all()
    # support area ~ pi * 0.4^2 of the box (about half)
    assert abs((m > 0).mean() - np.pi * 0.16) < 0.01


def test_mask_ratio_is_clamped_inside_crop() -> None:
    s = 64
    big = [paste_mask(s, r, 0.1) for r in (0.5, 0.75, 1.0, 5.0)]
    for m in big[1:]:
        np.testing.assert_array_equal(m, big[0])
    assert (big[0][1:-1, 1:-1].max() == 1.0)
    assert big[0][0].max() == 0 and big[0][:, -1].max() == 0
    assert (paste_mask(s, 0.2) > 0).sum() < (paste_mask(s, 0.4) > 0).sum() < (big[0] > 0).sum()


def test_mask_feather_zero_is_hard_and_cached_copy_is_safe() -> None:
    m = paste_mask(50, 0.4, 0.0)
    assert set(np.unique(m)) <= {0.0, 1.0}
    m[:] = 5  # caller-owned copy: must not poison the cache
    assert paste_mask(50, 0.4, 0.0).max() == 1.0


@pytest.mark.parametrize("ratio", [0.0, -0.1, float("nan"), float("inf")])
def test_mask_rejects_bad_ratio(ratio: float) -> None:
    with pytest.raises(ValueError):
        paste_mask(32, ratio)


# --------------------------------------------------------------------------- #
# paste_faces
# --------------------------------------------------------------------------- #
@SETTINGS
@given(fb=frame_and_box(), color=st.booleans(), ratio=st.floats(0.05, 1.0))
def test_identity_paste_returns_source(fb, color: bool, ratio: float) -> None:
    frame, box = fb
    side = box[2] - box[0]
    face = crop_square(frame, box, side)  # native size: no resampling
    before = frame.copy()
    out, union = paste_faces(frame, [(box, face)], ratio=ratio, color_match=color)
    np.testing.assert_array_equal(frame, before)  # input untouched
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert np.abs(out.astype(int) - frame.astype(int)).max() <= 1


@SETTINGS
@given(
    fb=frame_and_box(min_side=6),
    extra=st.lists(st.tuples(st.integers(-20, 90), st.integers(-20, 90), st.integers(4, 60)), max_size=2),
    color=st.booleans(),
    ratio=st.floats(0.05, 1.0),
    face_size=st.sampled_from([16, 33, 64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_pixels_outside_union_are_untouched(fb, extra, color, ratio, face_size, seed) -> None:
    frame, box = fb
    rng = np.random.default_rng(seed)
    boxes = [box] + [(x, y, x + s, y + s) for x, y, s in extra]
    faces = [(b, rng.integers(0, 256, (face_size, face_size, 3), dtype=np.uint8)) for b in boxes]
    out, union = paste_faces(frame, faces, ratio=ratio, color_match=color)
    assert union.dtype == bool and union.shape == frame.shape[:2]
    np.testing.assert_array_equal(out[~union], frame[~union])
    # union lies inside the boxes and excludes each box's outer pixel ring
    inside_some_box = np.zeros_like(union)
    h, w = union.shape
    for x1, y1, x2, y2 in boxes:
        inside_some_box[max(y1 + 1, 0):max(min(y2 - 1, h), 0), max(x1 + 1, 0):max(min(x2 - 1, w), 0)] = True
    assert not (union & ~inside_some_box).any()
    # and a random face does change the frame where it is pasted (test can fail)
    m = paste_mask(box[2] - box[0], ratio)
    if (m == 1).sum() >= 9 and 0 <= box[0] and 0 <= box[1] and box[2] <= w and box[3] <= h:
        assert (out[union] != frame[union]).any()


def test_union_matches_mask_support() -> None:
    frame = _textured(80, 80, 5)
    box = (10, 20, 60, 70)
    face = np.zeros((50, 50, 3), np.uint8)
    out, union = paste_faces(frame, [(box, face)], color_match=False)
    expected = np.zeros((80, 80), bool)
    expected[20:70, 10:60] = paste_mask(50, 0.4) > 0
    np.testing.assert_array_equal(union, expected)
    assert (out[45, 35] == 0).all()  # centre fully replaced by the black face


@pytest.mark.parametrize("given_order", [[0, 1], [1, 0]])
def test_smaller_face_is_pasted_on_top(given_order) -> None:
    frame = np.full((120, 120, 3), 128, np.uint8)
    big = ((0, 0, 100, 100), np.full((64, 64, 3), (255, 0, 0), np.uint8))
    small = ((35, 35, 65, 65), np.full((64, 64, 3), (0, 0, 255), np.uint8))
    faces = [[big, small][i] for i in given_order]
    out, _ = paste_faces(frame, faces, color_match=False)
    assert tuple(out[50, 50]) == (0, 0, 255)
    assert tuple(out[50, 25]) == (255, 0, 0)  # big face still visible beside the small one
    assert paste_order([big[0], small[0]]) == [0, 1]
    assert paste_order([small[0], big[0]]) == [1, 0]


def test_equal_size_faces_keep_input_order() -> None:
    frame = np.full((60, 90, 3), 128, np.uint8)
    a = ((0, 0, 60, 60), np.full((60, 60, 3), 10, np.uint8))
    b = ((30, 0, 90, 60), np.full((60, 60, 3), 240, np.uint8))
    out_ab, _ = paste_faces(frame, [a, b], color_match=False)
    out_ba, _ = paste_faces(frame, [b, a], color_match=False)
    assert out_ab[30, 45, 0] > out_ba[30, 45, 0]  # the later one wins at the overlap


def test_color_matching_removes_brightness_offset() -> None:
    frame = _textured(120, 160, 7)
    box = (30, 10, 130, 110)
    crop = crop_square(frame, box, 100)
    pred = np.clip(crop.astype(int) + 30, 0, 255).astype(np.uint8)
    matched, union = paste_faces(frame, [(box, pred)], color_match=True)
    plain, _ = paste_faces(frame, [(box, pred)], color_match=False)
    err_matched = np.abs(matched[union].astype(int) - frame[union].astype(int)).mean()
    err_plain = np.abs(plain[union].astype(int) - frame[union].astype(int)).mean()
    assert err_plain > 15, "without matching the offset must be visible"
    assert err_matched < 2.0


def test_match_color_identity_and_gain_clamp() -> None:
    ref = _textured(40, 40, 9)
    mask = paste_mask(40, 0.45)
    np.testing.assert_array_equal(match_color(ref, ref, mask), ref)
    # reference with much higher contrast: gain is clamped at MAX_COLOR_GAIN
    pred = np.full((40, 40, 3), 128, np.uint8)
    pred[::2] = 118
    pred[1::2] = 138  # std 10 per channel
    ref = np.full((40, 40, 3), 128, np.uint8)
    ref[::2] = 78
    ref[1::2] = 178  # std 50
    out = match_color(pred, ref, mask)
    sel = mask > 0
    assert out[sel].astype(float).std(axis=0) == pytest.approx([10 * MAX_COLOR_GAIN] * 3, abs=0.6)
    # empty mask: unchanged copy
    np.testing.assert_array_equal(match_color(pred, ref, np.zeros((40, 40), np.float32)), pred)


def test_paste_rejects_bad_inputs() -> None:
    frame = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError):
        paste_faces(frame, [((0, 0, 10, 12), np.zeros((8, 8, 3), np.uint8))])
    with pytest.raises(ValueError):
        paste_faces(frame, [((0, 0, 10, 10), np.zeros((8, 6, 3), np.uint8))])
    with pytest.raises(ValueError):
        paste_faces(frame.astype(np.float32), [])
    with pytest.raises(ValueError):
        paste_faces(frame, [], ratio=0)


def test_box_fully_outside_frame_is_a_no_op() -> None:
    frame = _textured(30, 30, 11)
    out, union = paste_faces(frame, [((40, 40, 60, 60), np.zeros((20, 20, 3), np.uint8))])
    np.testing.assert_array_equal(out, frame)
    assert not union.any()


def test_paste_is_fast_enough_for_720p() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    faces = [((100, 100, 500, 500), rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)),
             ((900, -50, 1300, 350), rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))]
    paste_faces(frame, faces)  # warm the mask cache
    t0 = time.perf_counter()
    for _ in range(5):
        paste_faces(frame, faces)
    per_frame = (time.perf_counter() - t0) / 5
    assert per_frame < 0.25, f"paste_faces took {per_frame * 1000:.0f} ms per 720p frame"
