"""``find_best_frame`` must pick a known frame.

The driving clip contains the source face itself (the exact crop the predictor animates)
at frame k; every other frame is another face (the five syndics) or the source crop
mirrored, rotated or inverted. The run goes through the product path
(``FirstOrderPredictor.run`` with ``find_best_frame=True``, the default static engine,
the small random-weight model) and must report ``best_frame_found == k``.

Are random weights good enough? The criterion compares keypoint *layouts* (centred,
scaled by the square root of their convex hull's area). A random keypoint detector's
layout means nothing about pose, but it is a deterministic function of the image: the
source itself gives distance 0 (up to float noise), and the test checks, with its own
numpy implementation of the layout distance, that every other frame is far (> 0.5;
measured 1.8 to 11.6), so the right answer is unambiguous and the test checks the
selection (search over batches, frame numbering, reference keypoints), not the
quality of the weights. The clip is lossless (PyAV, H.264 RGB crf 0), so frame k
decodes to the source crop bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

import synthetic_clips as sc

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "fom_small64"
SOURCE = REPO / "docs" / "samples" / "source_256x256.png"
SYNDICS = "docs/samples/syndics_1200x900.jpg"


# --------------------------------------------------------------------------- #
# the layout distance, written here from its definition
# --------------------------------------------------------------------------- #
def hull_area(points: np.ndarray) -> float:
    """Convex hull area of (K, 2) points: monotone chain, then the shoelace formula."""
    pts = sorted(map(tuple, np.asarray(points, np.float64)))

    def half(seq):
        out: list = []
        for q in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (q[1] - out[-2][1]) -
                                     (out[-1][1] - out[-2][1]) * (q[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(q)
        return out[:-1]

    hull = np.array(half(pts) + half(pts[::-1]))
    x, y = hull[:, 0], hull[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def layout_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of squared differences of the two (K, 2) layouts, each centred and divided by
    sqrt(hull area)."""
    def norm(v):
        return (v - v.mean(axis=0)) / np.sqrt(hull_area(v))

    return float(((norm(a) - norm(b)) ** 2).sum())


def test_own_layout_distance_is_what_it_says():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1]], float)
    assert hull_area(square) == pytest.approx(4.0)
    # invariant to translation and scale, not to rotation
    assert layout_distance(square, 3 * square + 7) == pytest.approx(0.0, abs=1e-12)
    skew = square.copy()
    skew[4] = [2, 1]
    # same hull (area 4: divide by 2); the mean moves from (1, 1) to (1.2, 1): the four
    # corners shift by 0.2 / 2 = 0.1 in x, the moved point from 0 to (2 - 1.2) / 2 = 0.4
    # -> 4 * 0.1^2 + 0.4^2 = 0.2
    assert layout_distance(square, skew) == pytest.approx(0.2)


def test_best_frame_index_matches_the_definition():
    """The pure selection function against the definition, on hand-made layouts."""
    from ppgan_fom.pipeline.reference import best_frame_index

    src = np.array([[0, 0], [4, 0], [4, 2], [0, 2], [1, 1]], float)
    rot = src[:, ::-1].copy()                 # transposed: another layout
    same = 0.25 * src + [-0.5, 0.3]           # same layout, moved and shrunk
    bent = src.copy()
    bent[4] = [3, 1]
    drv = np.stack([rot, bent, same, rot])
    dist = [layout_distance(src, d) for d in drv]
    assert int(np.argmin(dist)) == 2 and dist[2] < 1e-12 < min(dist[:2])
    assert best_frame_index(src, drv) == 2
    assert best_frame_index(src[None], drv[[1, 0]]) == int(np.argmin(dist[:2][::-1]))


# --------------------------------------------------------------------------- #
# through the predictor
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from ppgan_fom import FirstOrderPredictor

    return FirstOrderPredictor(config=str(SMALL / "fom_small64.yaml"),
                               weight_path=str(SMALL / "fom_small64_random.pdparams"),
                               cpu=True, find_best_frame=True, relative=True,
                               adapt_scale=True, batch_size=4,
                               output=str(tmp_path_factory.mktemp("best_frame_out")))


@pytest.fixture(scope="module")
def source_crop(predictor) -> np.ndarray:
    """The exact (64, 64, 3) crop the predictor animates for the source photo."""
    from ppgan_fom.geometry import crop_square

    image = sc.read_rgb(SOURCE)
    (box,) = predictor.face_boxes(image)
    return crop_square(image, box, predictor.image_size)


@pytest.fixture(scope="module")
def distractors(source_crop) -> List[np.ndarray]:
    """Nine other 64x64 faces: the five syndics (square crops around the hand-labelled
    boxes, margin as the predictor's), and the source mirrored, rotated and inverted."""
    photo = sc.read_rgb(REPO / SYNDICS)
    out = []
    for x1, y1, x2, y2 in sc.face_labels()[SYNDICS]["faces"].values():
        cx, cy, s = (x1 + x2) // 2, (y1 + y2) // 2, max(x2 - x1, y2 - y1)
        crop = photo[cy - s:cy + s, cx - s:cx + s]
        out.append(np.ascontiguousarray(_resize(crop, 64)))
    out += [source_crop[:, ::-1], np.rot90(source_crop), np.rot90(source_crop, 2),
            255 - source_crop]
    return [np.ascontiguousarray(f) for f in out]


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("k", [6, 9])
def test_find_best_frame_picks_the_source_itself(predictor, source_crop, distractors,
                                                 tmp_path, monkeypatch, k):
    frames = list(distractors)
    frames.insert(k, source_crop)
    assert len(frames) == 10  # batches of 4: k = 6 in the second, k = 9 alone in the third
    clip = sc.write_video(tmp_path / f"driving_k{k}.mp4", frames)

    # the answer is unambiguous for these weights (own distance, product keypoints)
    kp = predictor.animator.keypoints(frames)["value"].numpy()
    src_kp = predictor.animator.prepare_sources([source_crop]).kp["value"].numpy()[0]
    dist = np.array([layout_distance(src_kp, v) for v in kp])
    assert dist[k] < 1e-6 and np.delete(dist, k).min() > 0.5, dist.round(3)

    # record the reference keypoints the animation is given
    seen = {}
    animate = predictor.animator.animate

    def spy(state, frames, **kw):
        seen["kp_initial"] = kw.get("kp_initial")
        return animate(state, frames, **kw)

    monkeypatch.setattr(predictor.animator, "animate", spy)
    predictor.best_frame_found = None
    out = predictor.run(SOURCE, clip)
    assert predictor.best_frame_found == k
    assert Path(out).is_file()
    # and frame k's keypoints (= the source's) are the reference of the animation
    np.testing.assert_allclose(seen["kp_initial"]["value"].numpy()[0], src_kp, atol=1e-5)
