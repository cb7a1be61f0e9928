"""Pass 2 of anonymization: replace the faces of the tracks, frame by frame.

Frames are streamed again, ``batch_size`` at a time. For each track covering them, the
square crop around the track's smoothed face box is cut out (the driving input), and the
track's target face is animated by it (relative motion from the track's first frame,
adapt scale on); with ``face_enhancement`` the window's generated faces go through the
face enhancer together; each is pasted back with the feathered, colour-matched
compositor. Frames and regions without a track are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple)

import numpy as np

from ..errors import RuntimeFailure
from ..geometry import crop_square, paste_faces
from ..media import Frame
from ..tracking import Track
from ..types import Box
from .options import AnonymizeOptions
from .targets import TargetFace

__all__ = ["FrameResult", "Renderer"]


@dataclass
class FrameResult:
    """One output frame, as handed to ``run(..., on_frame=)``.

    ``original`` and ``composite`` are ``(H, W, 3)`` uint8 RGB; ``mask`` is the
    ``(H, W)`` bool union of the paste masks (all False for a frame without a track);
    ``boxes`` lists ``(track_id, crop box)`` of the faces pasted.
    """

    index: int
    original: np.ndarray
    composite: np.ndarray
    mask: np.ndarray
    boxes: List[Tuple[int, Box]]


class Renderer:
    """Replaces the faces of given tracks in a stream of frames.

    Args:
        animator: a loaded :class:`~ppgan_fom.animator.Animator`.
        options: the run's options (``animate.batch_size``, ratio, colour matching...).
        targets: the target faces; each track's ``target`` indexes them.
        enhancer: a :class:`~ppgan_fom.enhance.FaceEnhancer` run on the generated faces
            before they are pasted, or None.
    """

    def __init__(self, animator, options: AnonymizeOptions,
                 targets: Sequence[TargetFace], enhancer=None) -> None:
        self.animator = animator
        self.options = options
        self.targets = targets
        self.enhancer = enhancer
        self.size = int(animator.image_size)

    def render(self, frames: Iterable[Frame], tracks: Sequence[Track],
               on_frame: Optional[Callable[[FrameResult], None]] = None,
               references: Optional[Mapping[int, Any]] = None) -> Iterator[Frame]:
        """Yield every frame of ``frames`` (in order) with the faces of ``tracks``
        replaced: a :class:`~ppgan_fom.media.Frame` with the input's index and time and
        the ``(H, W, 3)`` uint8 composite. ``on_frame`` gets a :class:`FrameResult` per
        frame. Tracks must have their ``target`` set.

        ``frames`` may be a piece of the video (a chunk rendered apart): then
        ``references`` maps the id of every track that started before the piece to the
        keypoints of its first frame (:meth:`reference_keypoints`), so that its motion
        stays relative to that frame. With a piece that starts at a multiple of
        ``batch_size``, the frames come out exactly as in a render of the whole video."""
        batch = self.options.animate.batch_size
        window: List[Frame] = []
        started: Dict[int, Tuple[Any, List[float]]] = {}  # track id -> (kp_initial, scales)
        by_id = {t.id: t for t in tracks}
        for tid, kp_initial in (references or {}).items():
            started[tid] = (kp_initial, self.animator.movement_scales(
                self.targets[by_id[tid].target].state, kp_initial,
                self.options.animate.adapt_scale))
        upcoming = sorted(tracks, key=lambda t: t.start)
        live: List[Track] = []  # tracks that may cover the current window
        pos = 0

        def flush() -> Iterator[Frame]:
            nonlocal pos, live
            last = window[-1].index
            while pos < len(upcoming) and upcoming[pos].start <= last:
                live.append(upcoming[pos])
                pos += 1
            yield from self._window(window, live, started, on_frame)
            live = [t for t in live if t.end > last]

        for frame in frames:
            window.append(frame)
            if len(window) >= batch:
                yield from flush()
                window = []
        if window:
            yield from flush()

    def reference_keypoints(self, frames: Iterable[Frame], track: Track) -> Any:
        """Keypoints (``value`` (1, K, 2), ``jacobian`` (1, K, 2, 2)) of ``track``'s first
        frame, the reference of its relative motion, computed as :meth:`render` computes
        them: in one batch with the track's other frames of the same ``batch_size``
        window of the video. ``frames``: that window's frames from ``track.start`` on
        (frames the track does not cover, or of another window, are ignored), e.g.
        decoded with ``read_frames(video, start=(track.start, time))``."""
        batch = self.options.animate.batch_size
        window_end = (track.start // batch + 1) * batch
        window = [f for f in frames if track.start <= f.index < window_end]
        sel, _, kp = self._track_keypoints(window, track)
        if not sel or sel[0].index != track.start:
            raise RuntimeFailure(f"the first frame ({track.start}) of track {track.id} "
                                 f"was not given")
        return {k: v[0:1] for k, v in kp.items()}

    def _track_keypoints(self, window: List[Frame], t: Track):
        """The frames of ``window`` that ``t`` covers, their crop boxes, and the
        keypoints of the crops (one batch)."""
        margin = self.options.animate.face_margin
        sel = [f for f in window if t.covers(f.index)]
        boxes = [t.crop_box(f.index, margin) for f in sel]
        crops = [crop_square(f.image, b, self.size) for f, b in zip(sel, boxes)]
        return sel, boxes, (self.animator.keypoints(crops) if crops else None)

    def _window(self, window: List[Frame], tracks: Sequence[Track],
                started: Dict[int, Tuple[Any, List[float]]], on_frame) -> Iterator[Frame]:
        """Animate every track covering the frames of ``window``, paste, yield."""
        a = self.options.animate
        first, last = window[0].index, window[-1].index
        pasted: Dict[int, List[Tuple[int, Box, np.ndarray]]] = {f.index: [] for f in window}
        for t in tracks:
            if t.end < first or t.start > last:
                continue
            sel, boxes, kp = self._track_keypoints(window, t)
            target = self.targets[t.target]
            if t.id not in started:
                if sel[0].index != t.start:  # cannot happen with in-order frames
                    raise RuntimeFailure(f"track {t.id} reached at frame {sel[0].index} "
                                         f"before its first frame {t.start}")
                kp_initial = {k: v[0:1] for k, v in kp.items()}
                started[t.id] = (kp_initial, self.animator.movement_scales(
                    target.state, kp_initial, a.adapt_scale))
            kp_initial, scales = started[t.id]
            faces = self.animator.animate_batch(target.state, kp, kp_initial,
                                                relative=a.relative, scales=scales)[0]
            for f, b, face in zip(sel, boxes, faces):
                pasted[f.index].append((t.id, b, face))
        if self.enhancer is not None:
            self._enhance(pasted)
        ends = {t.id: t.end for t in tracks}
        for tid in [tid for tid in started if ends.get(tid, -1) <= last]:
            del started[tid]  # finished: keep per-track state small
        for f in window:
            faces = pasted[f.index]
            if faces:
                composite, mask = paste_faces(f.image, [(b, face) for _, b, face in faces],
                                              ratio=a.ratio, color_match=a.color_match)
            else:
                composite, mask = f.image, np.zeros(f.image.shape[:2], bool)
            if on_frame is not None:
                on_frame(FrameResult(f.index, f.image, composite, mask,
                                     [(tid, b) for tid, b, _ in faces]))
            yield Frame(f.index, composite, f.time)

    def _enhance(self, pasted: Dict[int, List[Tuple[int, Box, np.ndarray]]]) -> None:
        """Enhance every generated face of the window in one call, in place."""
        items = [(i, j) for i, faces in pasted.items() for j in range(len(faces))]
        if not items:
            return
        out = self.enhancer.enhance(np.stack([pasted[i][j][2] for i, j in items]))
        for (i, j), face in zip(items, out):
            tid, box, _ = pasted[i][j]
            pasted[i][j] = (tid, box, face)
