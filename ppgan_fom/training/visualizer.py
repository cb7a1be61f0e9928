"""PNG grids of training batches: what the model sees and what it makes of it.

One row per sample (at most ``max_rows``), columns left to right:

* **source** with its keypoints, **driving** with its keypoints (same colour = same
  keypoint; they should sit on corresponding parts of the object);
* **transformed** - the driving frame under the random equivariance warp, with the
  keypoints detected on it (they should follow the warp);
* **deformed** - the source warped by the predicted dense motion (should look like the
  driving pose, with holes where the source does not show the region);
* **prediction** - the generator's output (should match driving);
* **occlusion** - occlusion map, white where the warped source can be used, dark where
  the generator must inpaint;
* **motion mask** - which keypoint's local motion each pixel follows (keypoint colours;
  black = background / no motion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

__all__ = ["keypoint_colors", "draw_keypoints", "make_grid", "save_png"]


def keypoint_colors(k: int) -> np.ndarray:
    """(k, 3) uint8 RGB colours spread around the hue circle."""
    hsv = np.stack([np.linspace(0, 170, k, endpoint=False), np.full(k, 255), np.full(k, 255)], 1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """(H, W, C) or (C, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


_GAP = 2  # white pixels between cells


def _cell(img: np.ndarray, size: int) -> np.ndarray:
    img = _to_uint8(img)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(img)


def _framed(img: np.ndarray) -> np.ndarray:
    return np.pad(img, ((0, _GAP), (0, _GAP), (0, 0)), constant_values=255)


def draw_keypoints(img: np.ndarray, kp: np.ndarray, radius: Optional[int] = None) -> np.ndarray:
    """Draw (K, 2) keypoints in [-1, 1] (x, y) as filled discs on an (S, S, 3) uint8 image."""
    out = img.copy()
    s = out.shape[0]
    r = radius or max(2, s // 48)
    for (x, y), c in zip(kp, keypoint_colors(len(kp))):
        cx, cy = int(round((x + 1) / 2 * (s - 1))), int(round((y + 1) / 2 * (s - 1)))
        cv2.circle(out, (cx, cy), r + 1, (0, 0, 0), -1, lineType=cv2.LINE_AA)
        cv2.circle(out, (cx, cy), r, tuple(int(v) for v in c), -1, lineType=cv2.LINE_AA)
    return out


def _mask_image(mask: np.ndarray) -> np.ndarray:
    """(K+1, h, w) softmax weights -> (h, w, 3) float colour composite (background black)."""
    colors = keypoint_colors(mask.shape[0] - 1).astype(np.float32) / 255.0
    return np.einsum("khw,kc->hwc", mask[1:], colors)


def _header(titles: List[str], cell: int) -> np.ndarray:
    """White title bar; ``cell`` is the column pitch in pixels."""
    bar = np.full((22, cell * len(titles), 3), 255, np.uint8)
    scale = 0.4 if cell < 160 else 0.5
    for i, t in enumerate(titles):
        cv2.putText(bar, t, (i * cell + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return bar


def make_grid(vis: Dict[str, np.ndarray], max_rows: int = 4, min_cell: int = 128) -> np.ndarray:
    """Compose the grid from numpy arrays.

    Args:
        vis: ``source``, ``driving``, ``prediction`` (B, 3, S, S) in [0, 1];
            ``kp_source``, ``kp_driving`` (B, K, 2); optional ``transformed`` (B, 3, S, S)
            with ``kp_transformed``, ``deformed`` (B, 3, S, S), ``occlusion_map``
            (B, 1, h, w), ``mask`` (B, K+1, h, w).
        max_rows: samples shown.
        min_cell: cells are upscaled (nearest) to at least this many pixels.

    Returns:
        (22 + rows*(cell+2), columns*(cell+2), 3) uint8 RGB image with a title bar
        (cells separated by 2 white pixels).
    """
    b = min(max_rows, vis["source"].shape[0])
    size = max(min_cell, vis["source"].shape[-1])
    titles = ["source", "driving"]
    if "transformed" in vis:
        titles.append("transformed")
    if "deformed" in vis:
        titles.append("deformed")
    titles.append("prediction")
    if "occlusion_map" in vis:
        titles.append("occlusion")
    if "mask" in vis:
        titles.append("motion mask")
    rows = []
    for i in range(b):
        cells = [draw_keypoints(_cell(vis["source"][i], size), vis["kp_source"][i]),
                 draw_keypoints(_cell(vis["driving"][i], size), vis["kp_driving"][i])]
        if "transformed" in vis:
            cells.append(draw_keypoints(_cell(vis["transformed"][i], size),
                                        vis["kp_transformed"][i]))
        if "deformed" in vis:
            cells.append(_cell(vis["deformed"][i], size))
        cells.append(_cell(vis["prediction"][i], size))
        if "occlusion_map" in vis:
            cells.append(_cell(vis["occlusion_map"][i], size))
        if "mask" in vis:
            cells.append(_cell(_mask_image(vis["mask"][i]), size))
        rows.append(np.concatenate([_framed(c) for c in cells], axis=1))
    return np.concatenate([_header(titles, size + _GAP), *rows], axis=0)


def save_png(path: Path | str, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB image as PNG (creating the directory)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(p), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {p}")
    return p
