"""Pass 2 of one chunk of a long video: decode its frames (seeking, not decoding from the
start), give the tracks that began before it their reference keypoints, replace the
faces and write the frames, each at its input time on the whole video's timeline, to a
part file that :mod:`.join` copies into the output."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from ..anonymize import FrameResult, Renderer, TrackPlan
from ..errors import RuntimeFailure
from ..media import Frame, VideoInfo, VideoWriter, read_frames
from .planning import crossing_tracks, reference_window

logger = logging.getLogger(__name__)

__all__ = ["VideoPlan", "SplitError", "timed_frames", "chunk_references", "render_chunk"]

#: Times from the demuxer and the decoder agree to far better than this (seconds).
_TIME_TOLERANCE = 1e-6


class SplitError(RuntimeFailure):
    """The decoder's frames do not match the demuxer's timestamps, so a chunk cannot be
    located in the video; the video is then rendered in one piece."""


@dataclass
class VideoPlan:
    """What pass 1 of a long video hands to its chunk renderers and to the joiner.

    Attributes:
        key, video, output, report: as in :class:`~.planning.VideoJob`.
        info: the video's :func:`~ppgan_fom.media.probe_video` result.
        plan: the tracks (targets assigned) and the rest of pass 1's result.
        times: presentation time (s) of every frame (:func:`~ppgan_fom.media.frame_times`).
        origin: input time that becomes 0 in the output (the writer's rule: the first
            frame's time, or the audio's start when the audio starts earlier and is kept).
        chunks: ``[start, stop)`` frame ranges, each starting at a multiple of the batch.
        parts_dir: folder of the part files (one per chunk, reused on a rerun).
        seconds: pass 1's duration on its worker.
    """

    key: str
    video: str
    output: str
    report: Optional[str]
    info: VideoInfo
    plan: TrackPlan
    times: List[float]
    origin: float
    chunks: List[Tuple[int, int]]
    parts_dir: str
    seconds: float = 0.0
    targets: List[str] = field(default_factory=list)

    def part(self, index: int) -> Path:
        """The part file of chunk ``index``."""
        return Path(self.parts_dir) / f"part_{index:05d}.mp4"


def timed_frames(video: str, info: VideoInfo, times: Sequence[float], first: int,
                 stop: int, allow_partial: bool = False) -> Iterator[Frame]:
    """Frames ``first..stop-1`` of ``video``, decoded from the keyframe before ``first``;
    each frame's time is checked against ``times`` (the demuxer's), so that frame *i*
    here is frame *i* of a decode from the start.

    Raises:
        SplitError: a frame's time differs, or the video ends early.
    """
    frames = read_frames(video, info=info, start=(first, times[first]),
                         allow_partial=allow_partial)
    expected = first
    try:
        for f in frames:
            if f.index >= stop:
                break
            if abs(f.time - times[f.index]) > _TIME_TOLERANCE:
                raise SplitError(f"frame {f.index} of {video} is at {f.time:.6f} s when "
                                 f"decoded but at {times[f.index]:.6f} s in the index")
            yield f
            expected += 1
    finally:
        frames.close()
    if expected < stop:
        raise SplitError(f"{video} ended at frame {expected}, before frame {stop}")


def chunk_references(renderer: Renderer, vplan: VideoPlan, start: int) -> dict:
    """Reference keypoints of the tracks that began before frame ``start`` and go on into
    it: each computed from its first frame, in the batch the whole render puts it in."""
    batch = renderer.options.animate.batch_size
    refs = {}
    allow = renderer.options.animate.allow_partial_video
    for t in crossing_tracks(vplan.plan.tracks, start):
        first, last = reference_window(t, batch)
        frames = list(timed_frames(vplan.video, vplan.info, vplan.times, first, last + 1,
                                   allow))
        refs[t.id] = renderer.reference_keypoints(frames, t)
    return refs


def render_chunk(renderer: Renderer, vplan: VideoPlan, index: int,
                 on_frame: Optional[Callable[[FrameResult], None]] = None) -> int:
    """Render chunk ``index`` of ``vplan`` into its part file (atomically; a part that
    exists already, from an interrupted run with the same plan, is kept). Frame *i* is
    written at input frame *i*'s time minus ``vplan.origin``, without audio.

    Returns:
        The number of frames of the chunk.
    """
    start, stop = vplan.chunks[index]
    part = vplan.part(index)
    if part.exists():
        logger.info("%s: chunk %d (frames %d-%d) already rendered", vplan.video, index,
                    start, stop - 1)
        return stop - start
    part.parent.mkdir(parents=True, exist_ok=True)
    refs = chunk_references(renderer, vplan, start) if start > 0 else {}
    frames = timed_frames(vplan.video, vplan.info, vplan.times, start, stop,
                          renderer.options.animate.allow_partial_video)
    info = vplan.info
    written = 0
    with VideoWriter(part, (info.width, info.height), info.fps, time_base=info.time_base,
                     origin=vplan.origin) as writer:
        for f in renderer.render(frames, vplan.plan.tracks, on_frame, references=refs):
            writer.write(f.image, f.time)
            written += 1
    logger.info("%s: chunk %d rendered (frames %d-%d, %d track(s) continued from before)",
                vplan.video, index, start, stop - 1, len(refs))
    return written

