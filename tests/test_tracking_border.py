"""Tracks of faces leaving or entering the frame through a border (ppgan_fom.tracking).

The detector loses a face that is partly out of the frame; the track must go on until
the face has gone. Expected frames and positions are worked out by hand from the
scripted linear motion (pure numpy, no paddle).
"""

from __future__ import annotations

import numpy as np
import pytest

from ppgan_fom.scenecut import shot_bounds
from ppgan_fom.tracking import TrackBuilder, finalize_tracks

W, H = 600, 400


def track_of(centres, frames, size=60.0, n_frames=60, frame_size=(W, H), max_exit=15,
             cuts=()):
    b = TrackBuilder()
    for f in range(n_frames):
        if f in cuts:
            b.cut(f)
        if f in frames:
            cx, cy = centres[frames.index(f)]
            b.update(f, np.array([[cx - size / 2, cy - size / 2, cx + size / 2,
                                   cy + size / 2, 0.9]]))
    (t,) = finalize_tracks(b.finish(), shot_bounds(list(cuts), n_frames), sigma=2.0, pad=2,
                           frame_size=frame_size, max_exit=max_exit)
    return t


def test_face_leaving_right_border_is_followed_out():
    # centre x = 400 + 10 f, detected on frames 0..17: the last box [540, 170, 600, 230]
    # touches the right border (600). At 10 px/frame its left edge (540) reaches 600
    # after 6 frames, so the track ends at 17 + 6 = 23, the box moving on.
    frames = list(range(18))
    t = track_of([(400 + 10 * f, 200) for f in frames], frames)
    assert (t.start, t.last_detection, t.end) == (0, 17, 23)
    for f in range(18, 24):
        np.testing.assert_allclose(t.face_box(f), [540 + 10 * (f - 17), 170,
                                                   600 + 10 * (f - 17), 230], atol=1e-6)
    assert t.face_box(23)[0] >= W  # wholly outside at the last frame
    assert t.n_padded == 6


def test_face_entering_left_border_is_covered_from_its_first_frame():
    # centre x = -20 + 8 (f - 30) from frame 30 on, first detected at 33 (centre 4,
    # box [-26, 94, 34, 154] touching the left border): going back in time at 8 px/frame
    # the right edge (34) reaches 0 after ceil(34 / 8) = 5 frames -> track from 28.
    frames = list(range(33, 50))
    t = track_of([(-20 + 8 * (f - 30), 124) for f in frames], frames)
    assert (t.first_detection, t.start, t.end) == (33, 28, 51)
    np.testing.assert_allclose(t.face_box(28), [-66, 94, -6, 154], atol=1e-6)


def test_exit_extension_is_capped_and_stops_at_a_cut():
    frames = list(range(18))
    slow = track_of([(540 + 2 * f, 200) for f in frames], frames, max_exit=6)
    # 2 px/frame from x1 = 544 would need 28 frames: capped at 6
    assert slow.end == 17 + 6
    cut = track_of([(400 + 10 * f, 200) for f in frames], frames, cuts=(21,))
    assert cut.end == 20  # the shot ends before the face has left


@pytest.mark.parametrize("case", ["static at the border", "moving inwards",
                                  "moving along, away from the border", "no frame size"])
def test_plain_padding_otherwise(case):
    frames = list(range(20))
    kwargs = {}
    if case == "static at the border":
        centres = [(585, 200)] * 20
    elif case == "moving inwards":
        centres = [(590 - 3 * f, 200) for f in frames]
    elif case == "moving along, away from the border":
        centres = [(300 + 5 * f, 200) for f in frames]  # ends at 395: far from 600
    else:
        centres = [(400 + 10 * f, 200) for f in frames]
        kwargs["frame_size"] = None
    t = track_of(centres, frames, **kwargs)
    assert (t.start, t.end) == (0, 21)
    # padding holds the last box
    np.testing.assert_allclose(t.face_box(21), t.face_box(19))


def test_face_hidden_while_shrinking_keeps_its_track():
    """A face walking behind another is detected ever smaller (its visible part), then
    lost for 4 frames, then found again at full size. The prediction must move the box
    at the face's speed without shrinking it, or the face comes back as a new track.
    Worked out for frame 16 (face [220, 60, 300, 140]): corners extrapolated, the
    predicted box is inverted (IoU 0); the last (40 px) box moved: IoU 0.25 < 0.3;
    the largest recent size (80 px) moved: IoU 1."""
    b = TrackBuilder()
    sizes = {8: 70, 9: 60, 10: 50, 11: 40}  # being hidden
    for f in range(20):
        if 12 <= f <= 15:
            b.update(f, np.zeros((0, 5)))  # hidden: no detection
            continue
        size = sizes.get(f, 80)
        cx = 100 + 10 * f  # the walking speed, 10 px/frame
        b.update(f, np.array([[cx - size / 2, 100 - size / 2, cx + size / 2, 100 + size / 2,
                               0.9]]))
    tracks = finalize_tracks(b.finish(), shot_bounds([], 20), sigma=0.0, pad=0)
    assert len(tracks) == 1
    assert (tracks[0].first_detection, tracks[0].last_detection) == (0, 19)
    np.testing.assert_array_equal(tracks[0].interpolated_frames(), [12, 13, 14, 15])
