"""Synthetic test clips whose true face boxes are known by construction.

Real face photos from ``docs/samples`` are cut out around hand-labelled face boxes
(``tests/data/faces/labels.json``; no detector of this project was involved), and pasted
with a soft elliptical edge at scripted centres, sizes and motions over a textured,
face-free background. Each scripted person keeps one identity over the clip; a scene
cut swaps the background. Since every pixel of every frame is placed here, the true box of
each face, and which of its pixels are visible (not hidden by a face in front or by the
frame border), is known exactly.

Clips are written with PyAV (libx264rgb, crf 0: lossless RGB), so the decoded frames are
the generated ones bit for bit: the code under test reads exactly what the script drew.

Pure numpy / cv2 / PyAV; nothing from ``ppgan_fom``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "faces" / "labels.json"

#: label value of a pixel that shows no visible face-box pixel
NO_FACE = -1


# --------------------------------------------------------------------------- #
# labels and face patches
# --------------------------------------------------------------------------- #
@lru_cache(maxsize=None)
def face_labels() -> Dict[str, dict]:
    """``{image key: {'where': 'repo' | 'shared/media', 'faces': {name: [x1, y1, x2, y2]}}}``
    as stored in ``tests/data/faces/labels.json`` (hand-drawn boxes)."""
    return json.loads(LABELS.read_text())["images"]


def repo_face_names() -> List[str]:
    """Names of the labelled faces whose photo is in the repository (``docs/samples``)."""
    return [name for entry in face_labels().values() if entry["where"] == "repo"
            for name in entry["faces"]]


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (cv2 only)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return np.ascontiguousarray(bgr[..., ::-1])


@dataclass(frozen=True)
class FacePatch:
    """A face cut out of a photo.

    ``image`` (h, w, 3) uint8 RGB; ``alpha`` (h, w) float32 in [0, 1], exactly 1 over the
    whole face box (an ellipse through points beyond the box corners, feathered outwards);
    ``box`` the true face box [x1, y1, x2, y2] in patch pixels (floats).
    """

    name: str
    image: np.ndarray
    alpha: np.ndarray
    box: np.ndarray


#: patch half-extent around the box centre, in box half-sizes
_PATCH_HALF = 1.9
#: the alpha ellipse: opaque up to this normalised radius, zero from _FEATHER_END on
#: (box corners sit at radius sqrt(2) / _ELLIPSE = 0.94 < _OPAQUE_END: fully opaque)
_ELLIPSE = 1.5
_OPAQUE_END = 1.0
_FEATHER_END = 1.25


@lru_cache(maxsize=None)
def load_patch(name: str) -> FacePatch:
    """The face patch of a labelled face of a repository photo (see :func:`repo_face_names`)."""
    for key, entry in face_labels().items():
        if entry["where"] == "repo" and name in entry["faces"]:
            photo = read_rgb(REPO / key)
            box = np.asarray(entry["faces"][name], np.float64)
            break
    else:
        raise KeyError(f"no face {name!r} in a repository photo of {LABELS}")
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    x0, y0 = int(np.floor(cx - _PATCH_HALF * hw)), int(np.floor(cy - _PATCH_HALF * hh))
    x1, y1 = int(np.ceil(cx + _PATCH_HALF * hw)), int(np.ceil(cy + _PATCH_HALF * hh))
    # edge-replicate where the patch hangs over the photo border (the rightmost syndic)
    ys = np.clip(np.arange(y0, y1), 0, photo.shape[0] - 1)
    xs = np.clip(np.arange(x0, x1), 0, photo.shape[1] - 1)
    image = photo[ys][:, xs].copy()
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5  # pixel centres
    r = np.hypot((gx - cx) / (_ELLIPSE * hw), (gy - cy) / (_ELLIPSE * hh))
    alpha = np.clip((_FEATHER_END - r) / (_FEATHER_END - _OPAQUE_END), 0.0, 1.0)
    return FacePatch(name, image, alpha.astype(np.float32), box - [x0, y0, x0, y0])


# --------------------------------------------------------------------------- #
# script and rendering
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Placement:
    """One scripted face in one frame: ``person`` (identity over the clip) shows patch
    ``face`` with its true box centred at (``cx``, ``cy``) and ``size`` pixels wide."""

    person: int
    face: str
    cx: float
    cy: float
    size: float


@dataclass
class SyntheticClip:
    """A written clip and its ground truth.

    Attributes:
        path: the video file.
        frames: the (H, W, 3) uint8 RGB frames as generated (and as decoded: lossless).
        boxes: per frame, ``{person: true box [x1, y1, x2, y2]}`` in frame pixels (may hang
            over the border).
        labels: per frame, (H, W) int8: the person whose face-box pixel is visible there,
            :data:`NO_FACE` elsewhere.
        cuts: frames that start a new shot.
        fps: frame rate.
    """

    path: Path
    frames: List[np.ndarray]
    boxes: List[Dict[int, np.ndarray]]
    labels: List[np.ndarray]
    cuts: List[int]
    fps: int

    @property
    def shots(self) -> List[Tuple[int, int]]:
        """Inclusive (first, last) frame of every shot."""
        starts = [0, *self.cuts]
        ends = [c - 1 for c in self.cuts] + [len(self.frames) - 1]
        return list(zip(starts, ends))

    def persons(self) -> List[int]:
        return sorted({p for frame in self.boxes for p in frame})

    def frames_of(self, person: int) -> List[int]:
        return [i for i, b in enumerate(self.boxes) if person in b]

    def visible_fraction(self, index: int, person: int) -> float:
        """Visible pixels of the person's true box / the box's area."""
        x1, y1, x2, y2 = pixel_box(self.boxes[index][person])
        return float((self.labels[index] == person).sum()) / ((x2 - x1) * (y2 - y1))


def pixel_box(box: Sequence[float]) -> Tuple[int, int, int, int]:
    """The pixels a float box touches: (x1, y1, x2, y2) integers, x2 / y2 exclusive."""
    return (int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])),
            int(np.ceil(box[3])))


def background(h: int, w: int, seed: int) -> np.ndarray:
    """A face-free textured background (H, W, 3) uint8: smooth colour blobs plus fine
    grain, different for every seed."""
    rng = np.random.default_rng(seed)
    grey = rng.uniform(50, 200, (6, 10, 1))
    tint = rng.uniform(-25, 25, (1, 1, 3)) + rng.uniform(-12, 12, (6, 10, 3))
    coarse = (grey + tint).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


def render(bg: np.ndarray, placements: Sequence[Placement]
           ) -> Tuple[np.ndarray, Dict[int, np.ndarray], np.ndarray]:
    """Paste the placements in order (later ones in front).

    Returns ``(frame (H, W, 3) uint8, {person: true box}, labels (H, W) int8)``.
    """
    h, w = bg.shape[:2]
    out = bg.astype(np.float32)
    labels = np.full((h, w), NO_FACE, np.int8)
    boxes: Dict[int, np.ndarray] = {}
    for pl in placements:
        patch = load_patch(pl.face)
        scale = pl.size / (patch.box[2] - patch.box[0])
        ph, pw = patch.image.shape[:2]
        sw, sh = max(1, int(round(pw * scale))), max(1, int(round(ph * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        img = cv2.resize(patch.image, (sw, sh), interpolation=interp).astype(np.float32)
        alpha = np.clip(cv2.resize(patch.alpha, (sw, sh), interpolation=cv2.INTER_LINEAR), 0, 1)
        # the exact scale of each axis after rounding the patch size
        sx, sy = sw / pw, sh / ph
        pbox = patch.box * [sx, sy, sx, sy]
        ox = int(round(pl.cx - (pbox[0] + pbox[2]) / 2))
        oy = int(round(pl.cy - (pbox[1] + pbox[3]) / 2))
        box = pbox + [ox, oy, ox, oy]
        # paste the part of the patch inside the frame
        fx0, fy0, fx1, fy1 = max(ox, 0), max(oy, 0), min(ox + sw, w), min(oy + sh, h)
        if fx0 < fx1 and fy0 < fy1:
            a = alpha[fy0 - oy:fy1 - oy, fx0 - ox:fx1 - ox, None]
            region = out[fy0:fy1, fx0:fx1]
            region[:] = a * img[fy0 - oy:fy1 - oy, fx0 - ox:fx1 - ox] + (1 - a) * region
            # where this patch is opaque it hides the faces behind it; where it is
            # feathered they still show through, so their pixels stay "visible"
            labels[fy0:fy1, fx0:fx1][a[..., 0] >= 1] = NO_FACE
        bx0, by0, bx1, by1 = pixel_box(box)
        bx0, by0, bx1, by1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
        if bx0 < bx1 and by0 < by1:
            labels[by0:by1, bx0:bx1] = pl.person
        boxes[pl.person] = box
    return np.clip(np.round(out), 0, 255).astype(np.uint8), boxes, labels


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 30) -> Path:
    """Write RGB frames losslessly with PyAV (H.264 RGB, crf 0)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "rgb24"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_clip(path: Path, script: Sequence[Sequence[Placement]], cuts: Sequence[int] = (),
              size: Tuple[int, int] = (640, 360), fps: int = 30) -> SyntheticClip:
    """Render ``script`` (per frame, the placements in paste order) and write it.

    Shot ``k`` (frames from ``cuts[k-1]``) has its own background."""
    w, h = size
    bgs = [background(h, w, seed=100 + k) for k in range(len(cuts) + 1)]
    frames, boxes, labels = [], [], []
    for i, placements in enumerate(script):
        shot = sum(1 for c in cuts if c <= i)
        f, b, lab = render(bgs[shot], placements)
        frames.append(f)
        boxes.append(b)
        labels.append(lab)
    write_video(path, frames, fps)
    return SyntheticClip(Path(path), frames, boxes, labels, list(cuts), fps)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


# --------------------------------------------------------------------------- #
# the scripted scenes
# --------------------------------------------------------------------------- #
def crossing_and_leaving(n: int = 48) -> List[List[Placement]]:
    """640x360. Person 0 (photo) walks left -> right and person 1 (syndic) right -> left
    below it; they cross at mid-clip (boxes overlapping, IoU 0.18), person 1 in front
    hiding up to half of person 0's box. Person 2 (another syndic) drifts out through the
    right border: fully inside at the start, wholly outside from frame 33 on."""
    script = []
    for i in range(n):
        t = i / (n - 1)
        script.append([
            Placement(0, "photo_man", _lerp(110, 530, t), 140, 84),
            Placement(1, "syndics_top", _lerp(530, 110, t), 195, 78),
            Placement(2, "syndics_front_right", _lerp(560, 720, t), 300, 64),
        ])
    return script


def cut_and_zoom(n: int = 40, cut: int = 20) -> List[List[Placement]]:
    """640x360, a hard cut at ``cut``. Shot 1: person 0 drifts right; person 1 grows
    (zoom, 56 -> 96 px). Shot 2 (new background): person 2 appears about where person 1
    was (boxes overlap: only the cut separates them); person 3 enters through the left
    border (fully outside in the shot's first frame)."""
    script = []
    for i in range(n):
        if i < cut:
            t = i / (cut - 1)
            script.append([Placement(0, "syndics_hat_left", _lerp(150, 210, t), 170, 80),
                           Placement(1, "syndics_front_left", 460, 190, _lerp(56, 96, t))])
        else:
            t = (i - cut) / (n - cut - 1)
            script.append([Placement(2, "syndics_right", _lerp(470, 430, t), 200, 90),
                           Placement(3, "photo_man", _lerp(-60, 170, t), 170, 100)])
    return script
