"""Anonymization checked against ground truth that does not come from the code under test.

The clips come from :mod:`synthetic_clips`: real face photos (docs/samples) pasted at
scripted places over a face-free background, so every true face box, and which of its
pixels are visible, is known by construction (boxes hand-labelled, never detected).
The product path runs as a user would: ``FaceAnonymizer`` with the default detector
(BlazeFace) and the default (static) engine, on the small random-weight 64x64 model (the
generated faces look like noise; the checks are geometric).

Checked, frame by frame (``on_frame``):
* every visible pixel of every true face box lies inside the paste masks (>= 95 %);
* outside the masks the output frame equals the input frame exactly, and the input the
  pipeline saw equals the frame the script drew (the clip is lossless);
* the report's tracks match the script: one track per person and shot, no identity swap
  where two faces cross, a track per shot at the cut, a zoom followed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

import synthetic_clips as sc

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "fom_small64"
TARGET = REPO / "docs" / "samples" / "source_256x256.png"
MIN_COVERAGE = 0.95


@dataclass
class Run:
    """What one anonymizer run produced: per-frame records and the report."""

    clip: sc.SyntheticClip
    coverage: Dict[Tuple[int, int], float] = field(default_factory=dict)  # (frame, person)
    outside_changed: List[int] = field(default_factory=list)  # frames changed outside masks
    input_differs: List[int] = field(default_factory=list)  # frames not as the script drew
    boxes: Dict[int, list] = field(default_factory=dict)  # frame -> [(track id, crop box)]
    report: dict = field(default_factory=dict)

    def __call__(self, r) -> None:
        clip = self.clip
        assert r.index == len(self.boxes), "frames out of order"
        if not np.array_equal(r.original, clip.frames[r.index]):
            self.input_differs.append(r.index)
        if not np.array_equal(r.composite[~r.mask], r.original[~r.mask]):
            self.outside_changed.append(r.index)
        labels = clip.labels[r.index]
        for person in clip.boxes[r.index]:
            visible = labels == person
            if visible.any():
                self.coverage[(r.index, person)] = float(r.mask[visible].mean())
        self.boxes[r.index] = list(r.boxes)

    def track_person(self) -> Dict[int, set]:
        """track id -> the scripted persons its boxes sat on (nearest true box centre
        in each frame where the track pasted a face)."""
        out: Dict[int, set] = {}
        for i, pasted in self.boxes.items():
            truth = self.clip.boxes[i]
            for tid, (x1, y1, x2, y2) in pasted:
                c = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
                dist = {p: np.hypot(*(c - [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]))
                        for p, b in truth.items()}
                out.setdefault(tid, set()).add(min(dist, key=dist.get))
        return out


@pytest.fixture(scope="module")
def anonymizer():
    from ppgan_fom.anonymize import FaceAnonymizer

    return FaceAnonymizer(config=str(SMALL / "fom_small64.yaml"),
                          weight_path=str(SMALL / "fom_small64_random.pdparams"),
                          batch_size=8, cpu=True)


def _run(anonymizer, tmp: Path, name: str, script, cuts=()) -> Run:
    clip = sc.make_clip(tmp / f"{name}.mp4", script, cuts=cuts)
    run = Run(clip)
    out = anonymizer.run(clip.path, TARGET, tmp / f"{name}_anon.mp4", on_frame=run)
    assert len(run.boxes) == len(clip.frames)
    run.report = json.loads((tmp / f"{name}_anon.json").read_text())
    assert Path(out).is_file()
    return run


@pytest.fixture(scope="module")
def crossing(anonymizer, tmp_path_factory) -> Run:
    return _run(anonymizer, tmp_path_factory.mktemp("crossing"), "crossing",
                sc.crossing_and_leaving())


@pytest.fixture(scope="module")
def cut(anonymizer, tmp_path_factory) -> Run:
    return _run(anonymizer, tmp_path_factory.mktemp("cut"), "cut", sc.cut_and_zoom(),
                cuts=[20])


def _uncovered(run: Run) -> List[str]:
    return [f"frame {i} person {p}: {c:.3f} of the visible box covered "
            f"({run.clip.visible_fraction(i, p):.0%} of the box visible)"
            for (i, p), c in sorted(run.coverage.items()) if c < MIN_COVERAGE]


# --------------------------------------------------------------------------- #
# the script itself (so that the checks below mean what they say)
# --------------------------------------------------------------------------- #
def test_script_has_crossing_occlusion_exit_and_entry(crossing, cut):
    c = crossing.clip
    # persons 0 and 1 swap sides, and 1 hides part of 0 where they cross
    assert c.boxes[0][0][0] < c.boxes[0][1][0] and c.boxes[-1][0][0] > c.boxes[-1][1][0]
    assert min(c.visible_fraction(i, 0) for i in range(len(c.frames))) < 0.55
    # person 2 leaves through the right border: whole at first, gone at the end
    assert c.visible_fraction(0, 2) == 1.0 and c.visible_fraction(len(c.frames) - 1, 2) == 0
    # person 3 enters the second shot through the left border
    assert cut.clip.visible_fraction(20, 3) == 0 and cut.clip.visible_fraction(39, 3) == 1.0


# --------------------------------------------------------------------------- #
# coverage and untouched pixels
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("which", ["crossing", "cut"])
def test_every_visible_true_face_pixel_is_covered(request, which):
    run: Run = request.getfixturevalue(which)
    clip = run.clip
    # every frame where a person shows any pixel of its face box was checked
    expected = {(i, p) for i in range(len(clip.frames)) for p in clip.boxes[i]
                if (clip.labels[i] == p).any()}
    assert set(run.coverage) == expected
    bad = _uncovered(run)
    assert not bad, "faces left visible:\n" + "\n".join(bad)


@pytest.mark.parametrize("which", ["crossing", "cut"])
def test_outside_masks_output_equals_input_exactly(request, which):
    run: Run = request.getfixturevalue(which)
    assert run.input_differs == [], "decoded frames differ from the scripted (lossless) ones"
    assert run.outside_changed == [], "pixels outside the paste masks were changed"
    # and the masks are not the whole frame: most of each frame is left alone
    assert run.report["totals"]["frames_with_replaced_faces"] == len(run.clip.frames)


# --------------------------------------------------------------------------- #
# tracks against the script
# --------------------------------------------------------------------------- #
def test_crossing_faces_keep_their_tracks(crossing):
    rep = crossing.report
    n = len(crossing.clip.frames)
    assert rep["scene_cuts"] == [] and rep["shots"] == [[0, n - 1]]
    assert len(rep["tracks"]) == 3
    # each track sat on one scripted person the whole time (no swap at the crossing)
    owners = crossing.track_person()
    assert sorted(owners) == [0, 1, 2]
    assert all(len(p) == 1 for p in owners.values()), owners
    person_of = {tid: next(iter(p)) for tid, p in owners.items()}
    assert sorted(person_of.values()) == [0, 1, 2]
    spans = {person_of[t["id"]]: (t["first_frame"], t["last_frame"]) for t in rep["tracks"]}
    assert spans[0] == spans[1] == (0, n - 1)
    # the leaving face's track starts with the clip and ends after its last visible frame
    last_visible = max(i for i in range(n) if crossing.clip.visible_fraction(i, 2) > 0)
    assert spans[2][0] == 0 and last_visible <= spans[2][1] < n - 1


def test_cut_splits_tracks_and_zoom_is_followed(cut):
    rep = cut.report
    assert rep["scene_cuts"] == [20]
    assert rep["shots"] == [[0, 19], [20, 39]]
    assert len(rep["tracks"]) == 4
    owners = cut.track_person()
    assert all(len(p) == 1 for p in owners.values()), owners
    person_of = {tid: next(iter(p)) for tid, p in owners.items()}
    assert sorted(person_of.values()) == [0, 1, 2, 3]
    for t in rep["tracks"]:
        person = person_of[t["id"]]
        first, last = (0, 19) if person in (0, 1) else (20, 39)
        # no track crosses the cut
        assert first <= t["first_frame"] <= t["last_frame"] <= last, (person, t)
    spans = {person_of[t["id"]]: (t["first_frame"], t["last_frame"]) for t in rep["tracks"]}
    assert spans[0] == spans[1] == (0, 19) and spans[2] == (20, 39)
    first_visible = min(i for i in range(20, 40) if cut.clip.visible_fraction(i, 3) > 0)
    assert 20 <= spans[3][0] <= first_visible and spans[3][1] == 39
    # the zooming face (56 -> 96 px wide): the crop box grows by the same factor
    tid = next(t for t, p in person_of.items() if p == 1)
    side = {i: b[2] - b[0] for i in (0, 19) for t, b in cut.boxes[i] if t == tid}
    assert side[19] / side[0] == pytest.approx(96 / 56, rel=0.12)
