"""Paired augmentations of training frames: the same random change for every frame.

Frames are (H, W, 3) float32 RGB in [0, 1]. Every function takes an explicit
``numpy.random.Generator`` so a sample is a pure function of its seed (exact resume,
results independent of the number of loader workers).
"""

from __future__ import annotations

from typing import Callable, List, Sequence

import cv2
import numpy as np

from .train_config import ColorJitterConfig, DatasetConfig

__all__ = ["paired_horizontal_flip", "paired_color_jitter", "time_flip", "PairAugmentation",
           "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue"]

Frames = List[np.ndarray]
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _gray(img: np.ndarray) -> np.ndarray:
    """(H, W, 1) luma of an (H, W, 3) RGB image."""
    return (img @ _LUMA)[..., None]


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale intensities by ``factor`` (1 = unchanged); result clipped to [0, 1]."""
    return np.clip(img * np.float32(factor), 0.0, 1.0)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the image's mean grey level; 0 = flat grey, 1 = unchanged."""
    mean = np.float32(_gray(img).mean())
    return np.clip(np.float32(factor) * img + np.float32(1 - factor) * mean, 0.0, 1.0)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the greyscale image; 0 = grey, 1 = unchanged."""
    return np.clip(np.float32(factor) * img + np.float32(1 - factor) * _gray(img), 0.0, 1.0)


def adjust_hue(img: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the hue by ``shift`` turns (in [-0.5, 0.5]); 0 = unchanged."""
    hsv = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2HSV)  # H in degrees
    hsv[..., 0] = np.mod(hsv[..., 0] + np.float32(shift * 360.0), 360.0)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0.0, 1.0)


def paired_horizontal_flip(frames: Sequence[np.ndarray], rng: np.random.Generator,
                           prob: float = 0.5) -> Frames:
    """Mirror every frame left-right together, with probability ``prob``."""
    if rng.random() < prob:
        return [np.ascontiguousarray(f[:, ::-1]) for f in frames]
    return list(frames)


def paired_color_jitter(frames: Sequence[np.ndarray], rng: np.random.Generator,
                        cfg: ColorJitterConfig) -> Frames:
    """Apply one random brightness / contrast / saturation / hue change, in a random
    order, identically to every frame (torchvision ``ColorJitter`` ranges)."""
    ops: List[Callable[[np.ndarray], np.ndarray]] = []
    if cfg.brightness > 0:
        b = rng.uniform(max(0.0, 1 - cfg.brightness), 1 + cfg.brightness)
        ops.append(lambda im: adjust_brightness(im, b))
    if cfg.contrast > 0:
        c = rng.uniform(max(0.0, 1 - cfg.contrast), 1 + cfg.contrast)
        ops.append(lambda im: adjust_contrast(im, c))
    if cfg.saturation > 0:
        s = rng.uniform(max(0.0, 1 - cfg.saturation), 1 + cfg.saturation)
        ops.append(lambda im: adjust_saturation(im, s))
    if cfg.hue > 0:
        h = rng.uniform(-min(cfg.hue, 0.5), min(cfg.hue, 0.5))
        ops.append(lambda im: adjust_hue(im, h))
    order = rng.permutation(len(ops))
    out = []
    for f in frames:
        for i in order:
            f = ops[i](f)
        out.append(f.astype(np.float32, copy=False))
    return out


def time_flip(frames: Sequence[np.ndarray], rng: np.random.Generator, prob: float = 0.5) -> Frames:
    """Reverse the frame order with probability ``prob`` (source and driving swap)."""
    return list(frames)[::-1] if rng.random() < prob else list(frames)


class PairAugmentation:
    """The dataset config's augmentations: horizontal flip, colour jitter, time flip."""

    def __init__(self, cfg: DatasetConfig):
        self.cfg = cfg

    def __call__(self, frames: Sequence[np.ndarray], rng: np.random.Generator) -> Frames:
        """frames: [source, driving], each (H, W, 3) float32 in [0, 1]."""
        out = list(frames)
        if self.cfg.horizontal_flip:
            out = paired_horizontal_flip(out, rng)
        if self.cfg.jitter.enabled:
            out = paired_color_jitter(out, rng, self.cfg.jitter)
        if self.cfg.time_flip:
            out = time_flip(out, rng)
        return out
