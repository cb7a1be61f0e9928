"""Face detection checked against boxes drawn by hand (tests/data/faces/labels.json),
not against the detector's own earlier output.

The default detector (embedded BlazeFace) must find every labelled face, one detection
per face, overlapping its hand-drawn box by IoU >= 0.5, and nothing else. The two photos
in docs/samples always run; the photos of ../shared/media run when it is present.
(S3FD is not checked here: the repository has no real S3FD weights.)
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest

from synthetic_clips import face_labels, read_rgb

REPO = Path(__file__).resolve().parents[1]
MIN_IOU = 0.5


def iou(a, b) -> float:
    """IoU of two [x1, y1, x2, y2] boxes (written here: not the code under test)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(labels: dict, dets: np.ndarray) -> Tuple[dict, List[int]]:
    """Greedy one-to-one matching by IoU: ({face name: IoU of its detection, 0 if none},
    indices of detections matched to no face)."""
    pairs = sorted(((iou(box, d[:4]), name, j) for name, box in labels.items()
                    for j, d in enumerate(dets)), reverse=True)
    got, used = {name: 0.0 for name in labels}, set()
    for value, name, j in pairs:
        if value >= MIN_IOU and got[name] == 0.0 and j not in used:
            got[name] = value
            used.add(j)
    return got, [j for j in range(len(dets)) if j not in used]


def photo_path(key: str, where: str) -> Path:
    if where == "repo":
        return REPO / key
    from sample_media import sample_media  # copies of ../shared/media in the repository

    return sample_media(key)


REPO_CASES = sorted((k, e) for k, e in face_labels().items() if e["where"] == "repo")
SHARED_CASES = sorted((k, e) for k, e in face_labels().items() if e["where"] != "repo")


@pytest.fixture(scope="module")
def detector():
    import faceutils

    return faceutils.create_detector()  # the default: BlazeFace


def check_photo(detector, key: str, entry: dict) -> None:
    image = read_rgb(photo_path(key, entry["where"]))
    dets = detector.detect(image)
    got, extra = match(entry["faces"], dets)
    missed = {name: round(v, 2) for name, v in got.items() if v < MIN_IOU}
    assert not missed, f"{key}: labelled faces not found at IoU >= {MIN_IOU}: {missed} " \
                       f"(detections {np.round(dets[:, :4]).tolist()})"
    assert not extra, f"{key}: detections on no labelled face: " \
                      f"{np.round(dets[extra, :4]).tolist()}"


@pytest.mark.parametrize("key,entry", REPO_CASES, ids=[k for k, _ in REPO_CASES])
def test_default_detector_finds_the_hand_labelled_faces(detector, key, entry):
    check_photo(detector, key, entry)


def test_default_detector_on_the_shared_photos(detector):
    """The photos of ../shared/media (two people, astronaut, grass: no face); one test,
    so a clone without ../shared skips once."""
    for key, entry in SHARED_CASES:
        check_photo(detector, key, entry)


def test_repo_photos_are_labelled():
    """The in-repo photos carry labels for all their faces (the syndics: 5, the sixth
    head at the left border shows no face)."""
    repo = {k: len(e["faces"]) for k, e in face_labels().items() if e["where"] == "repo"}
    assert repo == {"docs/samples/syndics_1200x900.jpg": 5,
                    "docs/samples/source_256x256.png": 1}
    for key in repo:
        h, w = read_rgb(REPO / key).shape[:2]
        for x1, y1, x2, y2 in face_labels()[key]["faces"].values():
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h


def test_matching_rejects_a_shifted_box():
    """The check can fail: a detection shifted by half a face is not a match."""
    labels = {"a": [100, 100, 200, 200]}
    got, extra = match(labels, np.array([[150, 100, 250, 200, 0.9]]))
    assert got["a"] == 0.0 and extra == [0]
    got, extra = match(labels, np.array([[110, 105, 205, 210, 0.9]]))
    assert got["a"] == pytest.approx(8550 / 11425) and extra == []
