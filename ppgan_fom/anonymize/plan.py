"""Pass 1 of anonymization: find every face track of a video (boxes only, no pixels kept).

Frames are streamed once; a scene-cut detector looks at every frame (tiny thumbnails);
the face detector runs, batched, on every ``detect_every``-th frame and on the first frame
of every shot. Detections are linked into tracks by overlap; tracks end at scene cuts and
after ``max_gap`` frames without a face. Each track's boxes are then interpolated over
missed frames, smoothed over time, padded at both ends and followed through the frame
borders (:mod:`ppgan_fom.tracking`). Memory is flat in the video's length.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..media import VideoInfo, iter_frames, probe_video
from ..progress import progress
from ..scenecut import SceneCutDetector, shot_bounds
from ..tracking import Track, TrackBuilder, finalize_tracks
from ..types import PathLike
from .options import AnonymizeOptions

logger = logging.getLogger(__name__)

__all__ = ["TrackPlan", "plan_tracks"]


@dataclass
class TrackPlan:
    """Result of pass 1: everything pass 2 and the report need (no frames).

    Attributes:
        n_frames: frames decoded.
        cuts: frames that start a new shot.
        shots: inclusive (first, last) frames of each shot.
        tracks: finished face tracks.
        sampled: number of frames the detector ran on.
        no_face_frames: sampled frames where the detector found no face.
        detections: total number of detections.
    """

    n_frames: int
    cuts: List[int]
    shots: List[Tuple[int, int]]
    tracks: List[Track]
    sampled: int
    no_face_frames: List[int]
    detections: int


def plan_tracks(video: PathLike, detector, opts: AnonymizeOptions,
                info: Optional[VideoInfo] = None) -> TrackPlan:
    """Pass 1: detect faces, find scene cuts, build smoothed tracks.

    Args:
        video: the video file.
        detector: a ``faceutils`` detector (``detect_batch(images) -> [(N, 5)]``).
        opts: the run's options.
        info: the video's :func:`~ppgan_fom.media.probe_video` result, if known.
    """
    info = info or probe_video(video)
    cutter = SceneCutDetector(opts.cut_threshold)
    builder = TrackBuilder(iou_threshold=opts.iou_threshold, max_gap=opts.max_gap)
    pending: List[Tuple[int, np.ndarray]] = []
    cuts: List[int] = []
    no_face: List[int] = []
    counts = {"sampled": 0, "detections": 0}

    def flush() -> None:
        if not pending:
            return
        results = detector.detect_batch([f for _, f in pending])
        for (idx, _), dets in zip(pending, results):
            builder.update(idx, dets)
            counts["sampled"] += 1
            counts["detections"] += len(dets)
            if len(dets) == 0:
                no_face.append(idx)
        pending.clear()

    next_sample = 0
    n = 0
    frame_size = (info.width, info.height)
    frames = iter_frames(video, allow_partial=opts.animate.allow_partial_video)
    for idx, frame in enumerate(progress(frames, total=info.n_frames, desc="finding faces")):
        n = idx + 1
        frame_size = (frame.shape[1], frame.shape[0])
        if cutter.update(frame):
            flush()
            builder.cut(idx)
            cuts.append(idx)
            logger.info("scene cut at frame %d (score %.2f)", idx, cutter.last_score)
            next_sample = idx
        if idx >= next_sample:
            pending.append((idx, frame))
            next_sample = idx + opts.detect_every
            if len(pending) >= opts.detect_batch:
                flush()
    flush()
    shots = shot_bounds(cuts, n)
    tracks = finalize_tracks(builder.finish(), shots, sigma=opts.smooth_sigma,
                             pad=opts.track_pad, min_detections=opts.min_detections,
                             frame_size=frame_size, max_exit=opts.max_gap)
    logger.info("%d frames, %d shot(s), %d face track(s), %d detection(s) in %d "
                "sampled frame(s)", n, len(shots), len(tracks), counts["detections"],
                counts["sampled"])
    return TrackPlan(n_frames=n, cuts=cuts, shots=shots, tracks=tracks,
                     sampled=counts["sampled"], no_face_frames=no_face,
                     detections=counts["detections"])
