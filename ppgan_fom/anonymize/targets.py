"""Target (replacement) faces: read, cropped around their largest face, prepared once,
and assigned to tracks round robin."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, List, Sequence

import numpy as np

from ..errors import InputError
from ..geometry import crop_square
from ..pipeline.faces import find_faces
from ..media import read_image
from ..tracking import Track
from ..types import Box, PathLike

logger = logging.getLogger(__name__)

__all__ = ["TargetFace", "prepare_targets", "assign_targets"]


@dataclass
class TargetFace:
    """A target (replacement) face: the image file, its face crop box and the model
    state of the crop (computed once)."""

    path: str
    box: Box
    crop: np.ndarray  # (S, S, 3) uint8
    state: Any  # ppgan_fom.animator.SourceState


def prepare_targets(paths: Sequence[PathLike], detector, animator,
                    face_margin: float) -> List[TargetFace]:
    """Read each target image, crop its largest face, compute its model state.

    Raises:
        InputError: no target, or an unreadable image.
        NoFaceError: a target image without a detectable face (names the file).
    """
    if not paths:
        raise InputError("at least one --target_face is needed")
    out: List[TargetFace] = []
    for p in paths:
        image = read_image(p)
        (box,) = find_faces(detector, image, f"target face image {p}", face_margin,
                            largest_only=True)
        crop = crop_square(image, box, animator.image_size)
        out.append(TargetFace(str(p), box, crop, animator.prepare_sources([crop])))
    return out


def assign_targets(tracks: Sequence[Track], n_targets: int) -> None:
    """Round robin: track ``i`` (tracks ordered by first appearance, then left to
    right) gets target ``i % n_targets``. Sets ``track.target`` in place."""
    if n_targets < 1:
        raise InputError("at least one --target_face is needed")
    for t in tracks:
        t.target = t.id % n_targets
