"""Unit tests for ppgan_fom.tracking: linking, cut splitting, gap filling, smoothing.

Pure numpy (plus OpenCV for the cut signatures); no paddle, no media files.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppgan_fom.geometry import iou_matrix
from ppgan_fom.geometry.smooth import interpolate_params, smooth_params
from ppgan_fom.scenecut import SceneCutDetector, frame_signature, scene_change_score, shot_bounds
from ppgan_fom.tracking import (TrackBuilder, coverage_by_frame, finalize_tracks, to_ranges,
                                track_summary)


def det(cx: float, cy: float, size: float, score: float = 0.9) -> np.ndarray:
    return np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2, score])


def build(frames_dets, cuts=(), n_frames=None, **kw):
    """Run a TrackBuilder over {frame: [det rows]} and finalize."""
    b = TrackBuilder(**{k: v for k, v in kw.items() if k in ("iou_threshold", "max_gap")})
    n = n_frames or (max(frames_dets) + 1)
    for f in range(n):
        if f in cuts:
            b.cut(f)
        if f in frames_dets:
            b.update(f, np.array(frames_dets[f]).reshape(-1, 5))
    shots = shot_bounds(cuts, n)
    return finalize_tracks(b.finish(), shots, sigma=kw.get("sigma", 2.0), pad=kw.get("pad", 0))


def test_tracking_does_not_import_paddle():
    code = ("import sys, ppgan_fom.tracking, ppgan_fom.scenecut, ppgan_fom.geometry; "
            "sys.exit(1 if 'paddle' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_iou_matrix_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m[0], [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(m[1], 0.0)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_two_moving_faces_give_two_tracks():
    dets = {f: [det(100 + 2 * f, 200, 80), det(600 - 2 * f, 220, 90)] for f in range(40)}
    tracks = build(dets)
    assert len(tracks) == 2
    left, right = tracks  # ordered by first frame, then left edge
    assert left.params[0, 0] < right.params[0, 0]
    for t in tracks:
        assert (t.start, t.end, t.n_detected) == (0, 39, 40)
        assert len(t.interpolated_frames()) == 0
    # the left face ends at x = 178, the right one at 522: boxes followed the motion
    np.testing.assert_allclose(left.params[-1, :2], [178, 200], atol=1e-6)
    np.testing.assert_allclose(right.params[-1, :2], [522, 220], atol=1e-6)


def test_short_gap_is_interpolated_long_gap_splits():
    dets = {f: [det(100 + 3 * f, 150, 60)] for f in range(30) if not 10 <= f <= 14}
    (track,) = build(dets, max_gap=5)
    assert (track.start, track.end) == (0, 29)
    np.testing.assert_array_equal(track.interpolated_frames(), np.arange(10, 15))
    # linear motion: the interpolated (and smoothed) centre is on the line
    for f in range(10, 15):
        np.testing.assert_allclose(track.face_box(f)[[0, 2]].mean(), 100 + 3 * f, atol=1e-6)
    summary = track_summary(track, margin=0.5)
    assert summary["frames_interpolated"] == 5 and summary["missed_ranges"] == [[10, 14]]
    # the detector ran on even frames only: 10, 12, 14 were missed, 11 and 13 not sampled
    summary = track_summary(track, 0.5, sampled=lambda f: f % 2 == 0)
    assert summary["frames_missed"] == 3 and summary["missed_ranges"] == [[10, 10], [12, 12],
                                                                          [14, 14]]
    # the same gap with max_gap 4: two tracks, frames 10..14 uncovered
    tracks = build(dets, max_gap=4)
    assert [(t.start, t.end) for t in tracks] == [(0, 9), (15, 29)]
    assert coverage_by_frame(tracks, 30)[10:15].sum() == 0


def test_scene_cut_splits_overlapping_track_and_padding_stops_at_cut():
    # same place before and after the cut: linking alone would merge them
    dets = {f: [det(300 if f < 20 else 320, 200, 100)] for f in range(40)}
    merged = build(dets)
    assert len(merged) == 1
    tracks = build(dets, cuts=(20,), pad=5)
    assert [(t.start, t.end, t.shot) for t in tracks] == [(0, 19, 0), (20, 39, 1)]
    # smoothing never mixed the shots: each track's box is exactly its own position
    np.testing.assert_allclose(tracks[0].params[:, 0], 300)
    np.testing.assert_allclose(tracks[1].params[:, 0], 320)


def test_padding_extends_within_shot_and_video():
    dets = {f: [det(200, 200, 50)] for f in range(10, 20)}
    (t,) = build(dets, n_frames=22, pad=3)
    assert (t.start, t.end, t.first_detection, t.last_detection) == (7, 21, 10, 19)
    assert t.n_padded == 5
    np.testing.assert_allclose(t.params[0], t.params[3])  # held box


def test_non_overlapping_detection_starts_new_track_and_duplicates_are_merged():
    dets = {0: [det(100, 100, 50)], 1: [det(400, 100, 50)],
            2: [det(400, 100, 50), det(402, 101, 50, 0.5)]}
    tracks = build(dets, max_gap=0)
    assert [(t.start, t.end) for t in tracks] == [(0, 0), (1, 2)]
    assert tracks[1].n_detected == 2


def test_interpolate_params_exact_at_samples():
    frames = [3, 5, 9]
    vals = np.array([[0.0, 10.0], [2.0, 10.0], [10.0, 30.0]])
    dense = interpolate_params(frames, vals)
    assert dense.shape == (7, 2)
    np.testing.assert_allclose(dense[[0, 2, 6]], vals)
    np.testing.assert_allclose(dense[:, 0], [0, 1, 2, 4, 6, 8, 10])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 80), a=st.floats(-500, 500), b=st.floats(-10, 10),
       sigma=st.floats(0.5, 6))
def test_smoothing_preserves_linear_motion(n, a, b, sigma):
    t = np.arange(n, dtype=np.float64)
    line = a + b * t
    np.testing.assert_allclose(smooth_params(line, sigma), line, atol=1e-6 * (1 + abs(a)))


def test_smoothing_reduces_jitter():
    rng = np.random.default_rng(0)
    t = np.arange(200, dtype=np.float64)
    truth = 300 + 0.8 * t + 20 * np.sin(t / 40)
    noisy = truth + rng.normal(0, 4, size=t.shape)
    smooth = smooth_params(noisy, 3.0)
    jitter_before = np.std(np.diff(noisy))
    jitter_after = np.std(np.diff(smooth))
    assert jitter_after < jitter_before / 5
    assert np.abs(smooth - truth).mean() < np.abs(noisy - truth).mean() / 2
    assert np.array_equal(smooth_params(noisy, 0), noisy)


def _textured(seed: int, shape=(180, 320)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (shape[0] // 20, shape[1] // 20, 3)).astype(np.uint8)
    return np.kron(base, np.ones((20, 20, 1), np.uint8))


def test_scene_cut_detector_ignores_motion_and_finds_cut():
    bg_a, bg_b = _textured(1), _textured(2)
    det_ = SceneCutDetector()
    flags = []
    for f in range(30):
        frame = (bg_a if f < 20 else bg_b).copy()
        x = 40 + 2 * (f % 20)
        frame[50:110, x:x + 60] = (230, 180, 160)  # a "face" moving slowly
        flags.append(det_.update(frame))
    assert [i for i, c in enumerate(flags) if c] == [20]
    assert scene_change_score(frame_signature(bg_a), frame_signature(bg_a)) == 0.0
    off = SceneCutDetector(threshold=1.0)
    assert not any(off.update(f) for f in (bg_a, bg_b, bg_a))


def test_shot_bounds_and_ranges():
    assert shot_bounds([30, 10], 40) == [(0, 9), (10, 29), (30, 39)]
    assert shot_bounds([], 5) == [(0, 4)]
    assert to_ranges([5, 1, 2, 3, 7, 8]) == [[1, 3], [5, 5], [7, 8]]
    assert to_ranges([]) == []


def test_builder_rejects_out_of_order_frames():
    b = TrackBuilder()
    b.update(3, np.zeros((0, 5)))
    with pytest.raises(ValueError):
        b.update(3, np.zeros((0, 5)))
