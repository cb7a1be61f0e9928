"""Training augmentation: each kind really changes a frame, by the documented formula,
and source and driving get the same random change.

The colour formulas are torchvision's ``ColorJitter`` semantics, written here in numpy
(grey = 0.299 R + 0.587 G + 0.114 B; brightness scales, contrast blends with the mean
grey level of the image, saturation with the per-pixel grey, hue rotates the HSV hue),
with an own RGB <-> HSV conversion. The parameter drawn is read back from the source
frame's change and must explain the driving frame's change too.

The pairing check for all augmentations together uses a driving frame that is the
source upside down: every augmentation here commutes with a vertical flip (colour
changes are per pixel or use the image mean, the flip is horizontal), so the outputs
must again be each other upside down, exactly when both got the same parameters.

Pure numpy / cv2; no paddle.
"""

from __future__ import annotations

import numpy as np
import pytest

from ppgan_fom.training.augmentation import PairAugmentation
from ppgan_fom.training.train_config import ColorJitterConfig, DatasetConfig

LUMA = np.array([0.299, 0.587, 0.114])
SEEDS = range(8)


def frames(seed: int = 0):
    """Two different (24, 20, 3) float32 frames in [0.1, 0.9] (no clipping for small
    changes), neither symmetric."""
    rng = np.random.default_rng(100 + seed)
    return [rng.uniform(0.1, 0.9, (24, 20, 3)).astype(np.float32) for _ in range(2)]


def only(**kw) -> PairAugmentation:
    """Augmentation with just the given kinds on (flips off unless asked)."""
    jitter = ColorJitterConfig(**{k: kw.pop(k) for k in list(kw)
                                  if k in ("brightness", "contrast", "saturation", "hue")})
    return PairAugmentation(DatasetConfig(horizontal_flip=kw.pop("horizontal_flip", False),
                                          time_flip=kw.pop("time_flip", False), jitter=jitter))


# --------------------------------------------------------------------------- #
# numpy colour model
# --------------------------------------------------------------------------- #
def grey(img):
    return (img.astype(np.float64) @ LUMA)[..., None]


def rgb_to_hsv(img):
    r, g, b = np.moveaxis(img.astype(np.float64), -1, 0)
    v = np.max(img, axis=-1).astype(np.float64)
    c = v - np.min(img, axis=-1)
    s = np.where(v > 0, c / np.where(v > 0, v, 1), 0)
    safe = np.where(c > 0, c, 1)
    h = np.where(v == r, ((g - b) / safe) % 6,
                 np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4))
    return np.stack([np.where(c > 0, h / 6, 0), s, v], -1)


def hsv_to_rgb(hsv):
    h, s, v = np.moveaxis(hsv, -1, 0)
    i = np.floor(h * 6) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(choices):
        m = i == k
        out[m] = np.stack([r[m], g[m], b[m]], -1)
    return out


def rotate_hue(img, shift):
    hsv = rgb_to_hsv(img)
    hsv[..., 0] = (hsv[..., 0] + shift) % 1.0
    return np.clip(hsv_to_rgb(hsv), 0, 1)


def test_own_hsv_round_trip_and_known_hue():
    img = frames()[0]
    np.testing.assert_allclose(hsv_to_rgb(rgb_to_hsv(img)), img, atol=1e-6)
    red = np.array([[[1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(rotate_hue(red, 1 / 3), [[[0.0, 1.0, 0.0]]], atol=1e-12)


# --------------------------------------------------------------------------- #
# each kind alone: changes the frame by the formula, same parameter for both frames
# --------------------------------------------------------------------------- #
def read_back(kind, src, out):
    """The parameter that turned ``src`` into ``out`` under ``kind``'s formula."""
    src, out = src.astype(np.float64), out.astype(np.float64)
    if kind == "brightness":
        return float(np.median(out / src))
    if kind == "contrast":
        slope, _ = np.polyfit(src.ravel(), out.ravel(), 1)
        return float(slope)
    if kind == "saturation":
        g = np.broadcast_to(grey(src), src.shape)
        ok = np.abs(src - g) > 0.05
        return float(np.median((out - g)[ok] / (src - g)[ok]))
    d = (rgb_to_hsv(out)[..., 0] - rgb_to_hsv(src)[..., 0]) % 1.0
    angle = np.angle(np.exp(2j * np.pi * d).mean()) / (2 * np.pi)
    return float(angle)


def formula(kind, img, p):
    img = img.astype(np.float64)
    if kind == "brightness":
        return np.clip(img * p, 0, 1)
    if kind == "contrast":
        return np.clip(p * img + (1 - p) * grey(img).mean(), 0, 1)
    if kind == "saturation":
        return np.clip(p * img + (1 - p) * grey(img), 0, 1)
    return rotate_hue(img, p)


@pytest.mark.parametrize("kind,amount", [("brightness", 0.2), ("contrast", 0.3),
                                         ("saturation", 0.4), ("hue", 0.1)])
def test_each_colour_jitter_changes_both_frames_identically(kind, amount):
    aug = only(**{kind: amount})
    params = []
    for seed in SEEDS:
        src, drv = frames(seed)
        out_src, out_drv = aug([src, drv], np.random.default_rng(seed))
        assert out_src.dtype == out_drv.dtype == np.float32
        p = read_back(kind, src, out_src)
        params.append(p)
        # the change is real, follows the formula, and the same p explains the driving frame
        assert np.abs(out_src - src).max() > 1e-3, (kind, seed, p)
        np.testing.assert_allclose(out_src, formula(kind, src, p), atol=2e-4)
        np.testing.assert_allclose(out_drv, formula(kind, drv, p), atol=2e-4)
    lo, hi = (-amount, amount) if kind == "hue" else (1 - amount, 1 + amount)
    assert all(lo <= p <= hi for p in params), params
    assert len({round(p, 4) for p in params}) == len(params)  # drawn afresh per pair


def test_horizontal_flip_flips_both_or_neither():
    aug = only(horizontal_flip=True)
    seen = set()
    for seed in range(16):
        src, drv = frames(seed)
        out = aug([src, drv], np.random.default_rng(seed))
        if np.array_equal(out[0], src[:, ::-1]):
            np.testing.assert_array_equal(out[1], drv[:, ::-1])
            seen.add("flipped")
        else:
            np.testing.assert_array_equal(out[0], src)
            np.testing.assert_array_equal(out[1], drv)
            seen.add("kept")
    assert seen == {"flipped", "kept"}


def test_time_flip_swaps_source_and_driving():
    aug = only(time_flip=True)
    seen = set()
    for seed in range(16):
        src, drv = frames(seed)
        out = aug([src, drv], np.random.default_rng(seed))
        swapped = out[0] is drv or np.array_equal(out[0], drv)
        np.testing.assert_array_equal(out[1], src if swapped else drv)
        seen.add(swapped)
    assert seen == {True, False}


# --------------------------------------------------------------------------- #
# everything on: still the same change for both frames
# --------------------------------------------------------------------------- #
def test_all_augmentations_pair_source_and_driving():
    aug = PairAugmentation(DatasetConfig(horizontal_flip=True, time_flip=True,
                                         jitter=ColorJitterConfig(0.3, 0.3, 0.3, 0.1)))
    for seed in range(12):
        src = frames(seed)[0]
        drv = np.ascontiguousarray(src[::-1])  # the source upside down
        a, b = aug([src, drv], np.random.default_rng(seed))
        assert np.abs(a - src).max() > 1e-3 and np.abs(a - drv).max() > 1e-3
        np.testing.assert_allclose(b, a[::-1], atol=1e-5, err_msg=f"seed {seed}")


def test_pairing_check_can_fail():
    """Sanity of the check above: different parameters per frame break the relation."""
    rng = np.random.default_rng(0)
    src = frames()[0]
    one = only(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1)
    a = one([src], rng)[0]
    b = one([np.ascontiguousarray(src[::-1])], rng)[0]  # next draw of the generator
    assert not np.allclose(b, a[::-1], atol=1e-5)
