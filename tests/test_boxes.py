"""Square crop boxes, de-duplication and ordering (ppgan_fom.geometry.boxes), property-tested."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppgan_fom.geometry.boxes import (DEFAULT_MARGIN, box_iou, dedupe_boxes, face_crop_boxes,
                             order_by_area, square_box)

# per-test settings (no global profile); no example database written into the checkout
SETTINGS = settings(max_examples=100, deadline=None, database=None)


@st.composite
def image_and_face(draw):
    """An image shape and a face box lying inside it."""
    h = draw(st.integers(16, 3000))
    w = draw(st.integers(16, 3000))
    fw = draw(st.floats(4, w))
    fh = draw(st.floats(4, h))
    x1 = draw(st.floats(0, w - fw))
    y1 = draw(st.floats(0, h - fh))
    score = draw(st.floats(0.5, 1.0))
    return (h, w, 3), np.array([x1, y1, x1 + fw, y1 + fh, score])


@st.composite
def box_arrays(draw, max_n=12):
    n = draw(st.integers(0, max_n))
    rows = []
    for _ in range(n):
        x1 = draw(st.integers(0, 200))
        y1 = draw(st.integers(0, 200))
        side_w = draw(st.integers(1, 120))
        side_h = draw(st.integers(1, 120))
        rows.append([x1, y1, x1 + side_w, y1 + side_h])
    return np.array(rows, np.int64).reshape(-1, 4)


margins = st.floats(0.0, 1.5)


@SETTINGS
@given(image_and_face(), margins, st.sampled_from(["shift", "pad", "clip"]))
def test_square_box_is_an_int_square(shape_face, margin, mode):
    shape, face = shape_face
    box = square_box(face, shape, margin, mode)
    assert all(isinstance(v, int) for v in box)
    x1, y1, x2, y2 = box
    assert x2 - x1 == y2 - y1 >= 1


@SETTINGS
@given(image_and_face(), margins, st.sampled_from(["shift", "pad"]))
def test_square_box_side_and_containment(shape_face, margin, mode):
    shape, face = shape_face
    x1, y1, x2, y2 = square_box(face, shape, margin, mode)
    size = max(face[2] - face[0], face[3] - face[1])
    assert abs((x2 - x1) - (1 + 2 * margin) * size) <= 0.5 + 1e-9
    # the face is inside the square (1 px for rounding)
    assert x1 <= face[0] + 1 and y1 <= face[1] + 1 and x2 >= face[2] - 1 and y2 >= face[3] - 1


@SETTINGS
@given(image_and_face(), margins)
def test_shift_mode_stays_inside_when_it_fits(shape_face, margin):
    shape, face = shape_face
    h, w = shape[:2]
    x1, y1, x2, y2 = square_box(face, shape, margin, "shift")
    side = x2 - x1
    for lo, hi, f_lo, f_hi, limit in ((x1, x2, face[0], face[2], w), (y1, y2, face[1], face[3], h)):
        if side <= limit:
            assert 0 <= lo and hi <= limit
        else:  # larger than the image on this axis: centred on the face, overhanging
            assert lo < 0 or hi > limit
            assert abs((lo + hi) / 2 - (f_lo + f_hi) / 2) <= 0.5 + 1e-9


@SETTINGS
@given(image_and_face(), margins)
def test_pad_mode_is_centred_on_the_face(shape_face, margin):
    shape, face = shape_face
    x1, y1, x2, y2 = square_box(face, shape, margin, "pad")
    assert abs((x1 + x2) / 2 - (face[0] + face[2]) / 2) <= 0.5 + 1e-9
    assert abs((y1 + y2) / 2 - (face[1] + face[3]) / 2) <= 0.5 + 1e-9


@SETTINGS
@given(image_and_face(), margins)
def test_clip_mode_is_always_inside(shape_face, margin):
    shape, face = shape_face
    x1, y1, x2, y2 = square_box(face, shape, margin, "clip")
    assert 0 <= x1 and 0 <= y1 and x2 <= shape[1] and y2 <= shape[0]


def test_square_box_examples():
    # 100x100 face in the middle of a 1000x800 image: 200 px square, same centre
    assert square_box([450, 350, 550, 450, 0.9], (800, 1000)) == (400, 300, 600, 500)
    # not stretched: a tall 60x120 face gives a 240 px square (PaddleGAN: 192x240 -> square)
    assert square_box([470, 340, 530, 460], (800, 1000)) == (380, 280, 620, 520)
    # near the top-left corner: shifted inward, not clipped
    assert square_box([0, 10, 100, 110], (800, 1000)) == (0, 0, 200, 200)
    # larger than a small image (266 > 256): centred on the face, hangs over the bottom
    assert square_box([66.6, 75.5, 199.4, 208.4], (256, 256)) == (0, 9, 266, 275)
    assert DEFAULT_MARGIN == 0.5
    with pytest.raises(ValueError):
        square_box([0, 0, 10, 10], (100, 100), mode="stretch")
    with pytest.raises(ValueError):
        square_box([0, 0, np.nan, 10], (100, 100))


@SETTINGS
@given(box_arrays(), st.floats(0.1, 0.9))
def test_dedupe_properties(boxes, thr):
    kept = dedupe_boxes(boxes, thr)
    assert kept.dtype == boxes.dtype and kept.shape[1] == 4
    # kept boxes do not overlap each other by more than thr
    for i in range(len(kept)):
        for j in range(i + 1, len(kept)):
            assert box_iou(kept[i], kept[j:j + 1])[0] <= thr
    # every dropped box overlaps an earlier kept one by more than thr
    kept_rows = [tuple(r) for r in kept]
    position = 0
    for row in boxes:
        if position < len(kept_rows) and tuple(row) == kept_rows[position]:
            position += 1
            continue
        assert box_iou(row, kept[:position]).max() > thr
    assert position == len(kept_rows)  # kept rows are a subsequence in input order
    if len(boxes):
        assert tuple(kept[0]) == tuple(boxes[0])
    np.testing.assert_array_equal(dedupe_boxes(kept, thr), kept)  # idempotent


@SETTINGS
@given(box_arrays())
def test_order_by_area_properties(boxes):
    ordered = order_by_area(boxes)
    assert sorted(map(tuple, ordered)) == sorted(map(tuple, boxes))
    areas = (ordered[:, 2] - ordered[:, 0]) * (ordered[:, 3] - ordered[:, 1])
    assert np.all(np.diff(areas) <= 0)


def test_order_by_area_really_sorts_unlike_paddlegan():
    boxes = np.array([[0, 0, 10, 10, 0.99], [0, 0, 50, 50, 0.6], [0, 0, 20, 20, 0.8]])
    np.testing.assert_array_equal(order_by_area(boxes)[:, 4], [0.6, 0.8, 0.99])


def test_face_crop_boxes_dedupes_and_picks_largest():
    shape = (800, 1000, 3)
    dets = np.array([[100, 100, 200, 200, 0.9],
                     [105, 102, 205, 204, 0.8],   # duplicate of the first
                     [500, 300, 700, 500, 0.7]], np.float32)
    boxes = face_crop_boxes(dets, shape)
    assert boxes.dtype == np.int64 and boxes.shape == (2, 4)
    assert tuple(boxes[0]) == square_box(dets[0], shape)
    largest = face_crop_boxes(dets, shape, largest_only=True)
    assert tuple(largest[0]) == square_box(dets[2], shape)
    assert face_crop_boxes(np.zeros((0, 5)), shape).shape == (0, 4)
