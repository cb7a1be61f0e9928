"""Copy video packets without re-encoding, with (or with a transformed) audio, atomically.

* :func:`copy_video_with_audio` (``anonymize.py --voice_only``): the picture is not
  decoded or re-encoded at all (no quality loss, every timestamp and the display matrix
  kept); the audio goes through :class:`~ppgan_fom.media.audio.AudioTrack` (re-encoded
  to AAC when an :class:`~ppgan_fom.media.audio.AudioTransform` changes it), at its own
  times.
* :func:`concat_videos`: pieces of one video encoded separately on one timeline (chunks
  rendered in parallel) joined packet for packet, with the source's audio muxed once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import av

from ..errors import OutputError, RuntimeFailure, VideoError
from ..types import PathLike
from .audio import AudioTrack, TransformFactory
from .paths import (MP4_FAMILY, check_video_suffix, make_temp_path, no_space, publish,
                    unlink_quietly)
from .probe import av_reason, open_input

logger = logging.getLogger(__name__)

__all__ = ["copy_video_with_audio", "concat_videos"]


@contextmanager
def _atomic_output(dst: Path, what: str) -> Iterator[Path]:
    """A temporary path beside ``dst``, moved into place when the block ends; on any
    failure it is removed, and FFmpeg or file-system errors become one
    :class:`RuntimeFailure` (``what`` failed, or the disk is full)."""
    tmp = make_temp_path(dst)
    try:
        yield tmp
        publish(tmp, dst)
    except (av.FFmpegError, OSError) as exc:
        unlink_quietly(tmp)
        if no_space(exc):
            raise RuntimeFailure(f"no space left on device while writing {dst}; nothing "
                                 f"was saved") from None
        raise RuntimeFailure(f"{what} failed: {av_reason(exc)}") from None
    except BaseException:
        unlink_quietly(tmp)
        raise


def copy_video_with_audio(src: PathLike, dst: PathLike,
                          audio_transform: Optional[TransformFactory] = None) -> bool:
    """Write ``dst`` with ``src``'s first video stream copied and its first audio stream
    carried over (transformed by ``audio_transform`` when given).

    Returns:
        Whether ``src`` had an audio stream (without one, ``dst`` is a copy of the
        picture alone).

    Raises:
        VideoError: ``src`` cannot be read, has no video stream, or its audio cannot be
            decoded. OutputError: ``dst``'s container cannot take the video codec (one
            line naming it), or the file cannot be moved into place. RuntimeFailure: the
            disk is full or writing failed. Nothing is left at ``dst`` on failure.
    """
    src, dst = Path(src), check_video_suffix(dst)
    if dst.suffix.lower() == ".gif":
        raise OutputError(f"{dst}: a GIF cannot hold a copied video stream or audio; "
                          f"use .mp4, .mov or .mkv")
    audio: Optional[AudioTrack] = None
    try:
        with _atomic_output(dst, f"copying {src} to {dst}") as tmp:
            with open_input(src) as inp:
                if not inp.streams.video:
                    raise VideoError(f"no video stream in {src}")
                vin = inp.streams.video[0]
                options = {"movflags": "+faststart"} if dst.suffix.lower() in MP4_FAMILY else {}
                with av.open(str(tmp), mode="w", options=options) as out:
                    try:
                        vout = out.add_stream_from_template(vin)
                    except (av.FFmpegError, ValueError) as exc:
                        raise OutputError(f"{dst}: cannot hold the {vin.codec_context.name} video "
                                          f"of {src} ({av_reason(exc)}); use .mkv") from None
                    if inp.streams.audio:
                        audio = AudioTrack(src, out, dst.suffix, audio_transform)
                        audio.origin = 0.0  # the copied picture keeps its own timestamps
                    for packet in inp.demux(vin):
                        if packet.dts is None or not packet.size:
                            continue
                        if audio is not None:
                            audio.mux_until(float(packet.dts * packet.time_base))
                        packet.stream = vout
                        out.mux(packet)
                    if audio is not None:
                        audio.finish(float("inf"))  # the whole sound track, as in the input
    finally:
        if audio is not None:
            audio.close()
    logger.info("wrote %s: picture copied from %s, audio %s", dst, src,
                "absent" if audio is None else "transformed" if audio_transform else "copied")
    return audio is not None


def _tick_rate(time_base: Fraction) -> int:
    """Ticks per second of ``time_base`` when it is 1/n, else 90 kHz (as the writer)."""
    tb = Fraction(time_base)
    return tb.denominator if tb.numerator == 1 and tb.denominator <= 10_000_000 else 90000


def concat_videos(parts: Sequence[PathLike], output: PathLike,
                  audio_from: Optional[PathLike] = None, *, origin: float = 0.0,
                  audio_end: Optional[float] = None,
                  audio_transform: Optional[TransformFactory] = None) -> int:
    """Join the video streams of ``parts`` into ``output`` without re-encoding, and mux
    the first audio stream of ``audio_from`` once, atomically.

    The parts are pieces of one video on one timeline, in order: each a separately
    encoded stream with the same codec parameters (e.g. written by
    :class:`~ppgan_fom.media.VideoWriter` with the same size, time base and ``origin``),
    each starting with a keyframe, the presentation times of part *k + 1* after those of
    part *k*. Packets are copied unchanged (so is every presentation time) except their
    decoding times where a part starts: an encoder with B-frames gives a stream's first
    packets decoding times before its first frame's time, which may not come after the
    previous part's last one; those are moved up to one tick after it (never past the
    packet's own presentation time). The audio is shifted by ``origin`` as the writer
    shifts it (so it keeps its offset to the picture) and ends at ``audio_end`` (output
    seconds; default the end of the last frame).

    Args:
        parts: the pieces, in order (MP4/MOV/MKV with one video stream).
        output: the joined file (.mp4/.m4v/.mov/.mkv).
        audio_from: media file whose first audio stream is carried over (copied, or
            re-encoded to AAC when the container needs it or ``audio_transform`` is set).
        origin: input time (s) that is time 0 of the parts' timeline.
        audio_end: output time (s) where the audio stops.
        audio_transform: as for :class:`~ppgan_fom.media.VideoWriter`.

    Returns:
        The number of video packets (frames) written.

    Raises:
        VideoError: a part cannot be read, or ``audio_from`` cannot. RuntimeFailure: the
            parts do not fit together (codec parameters, overlapping times), writing
            failed or the disk is full. OutputError: bad output suffix, or the file
            cannot be moved into place. Nothing is left at ``output`` on failure.
    """
    dst = check_video_suffix(output)
    if dst.suffix.lower() == ".gif":
        raise OutputError(f"{dst}: GIF parts cannot be joined by copying; use .mp4, .mov "
                          f"or .mkv")
    paths = [Path(p) for p in parts]
    if not paths:
        raise RuntimeFailure(f"no parts to join into {dst}")
    inputs: list = []
    audio: Optional[AudioTrack] = None
    written = 0
    try:
        with _atomic_output(dst, f"joining {len(paths)} parts into {dst}") as tmp:
            inputs.extend(open_input(p) for p in paths)
            streams = []
            for p, c in zip(paths, inputs):
                if len(c.streams.video) != 1:
                    raise RuntimeFailure(f"part {p} of {dst} must have one video stream")
                streams.append(c.streams.video[0])
            first = streams[0]
            for p, st in zip(paths[1:], streams[1:]):
                a, b = first.codec_context, st.codec_context
                if (a.name, a.width, a.height, a.pix_fmt, bytes(a.extradata or b"")) != \
                        (b.name, b.width, b.height, b.pix_fmt, bytes(b.extradata or b"")) \
                        or st.time_base != first.time_base:
                    raise RuntimeFailure(f"part {p} of {dst} was not encoded like {paths[0]} "
                                         f"(codec parameters or time base differ)")
            tb = first.time_base
            options = {}
            if dst.suffix.lower() in MP4_FAMILY:
                options = {"movflags": "+faststart", "movie_timescale": str(_tick_rate(tb))}
            with av.open(str(tmp), mode="w", options=options) as out:
                vout = out.add_stream_from_template(first)
                vout.time_base = tb
                if audio_from is not None:
                    with open_input(Path(audio_from), "audio source") as src:
                        has_audio = bool(src.streams.audio)
                    if has_audio:
                        audio = AudioTrack(Path(audio_from), out, dst.suffix, audio_transform)
                        audio.origin = float(origin)
                last_dts: Optional[int] = None
                last_pts: Optional[int] = None
                end = 0
                for p, c, st in zip(paths, inputs, streams):
                    part_pts: List[int] = []
                    for packet in c.demux(st):
                        if packet.dts is None or not packet.size:
                            continue
                        pts = packet.pts if packet.pts is not None else packet.dts
                        if last_pts is not None and not part_pts and pts <= last_pts:
                            raise RuntimeFailure(f"part {p} of {dst} starts at or before the end "
                                                 f"of the previous part")
                        dts = packet.dts
                        if last_dts is not None and dts <= last_dts:
                            dts = last_dts + 1
                            if dts > pts:
                                raise RuntimeFailure(f"part {p} of {dst} cannot follow the "
                                                     f"previous part (decoding times)")
                            packet.dts = dts
                        last_dts = dts
                        part_pts.append(pts)
                        end = max(end, pts + (packet.duration or 0))
                        if audio is not None:
                            audio.mux_until(float(dts * tb))
                        packet.stream = vout
                        out.mux(packet)
                        written += 1
                    if part_pts:
                        last_pts = max(part_pts)
                if audio is not None:
                    audio.finish(float(end * tb) if audio_end is None else float(audio_end))
    finally:
        if audio is not None:
            audio.close()
        for c in inputs:
            c.close()
    logger.info("wrote %s: %d frames joined from %d parts, audio %s", dst, written,
                len(paths), "absent" if audio is None else "muxed")
    return written
