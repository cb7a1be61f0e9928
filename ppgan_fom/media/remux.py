"""Copy a video's picture packet for packet and carry (or transform) its audio, atomically.

Used by ``anonymize.py --voice_only``: the picture is not decoded or re-encoded at all
(no quality loss, every timestamp and the display matrix kept); the audio goes through
:class:`~ppgan_fom.media.audio.AudioTrack` (re-encoded to AAC when an
:class:`~ppgan_fom.media.audio.AudioTransform` changes it), at its own times.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import av

from ..errors import OutputError, RuntimeFailure, VideoError
from ..types import PathLike
from .audio import AudioTrack, TransformFactory
from .paths import MP4_FAMILY, check_video_suffix, make_temp_path, no_space, publish, unlink_quietly
from .probe import av_reason, open_input

logger = logging.getLogger(__name__)

__all__ = ["copy_video_with_audio"]


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
    tmp = make_temp_path(dst)
    audio: Optional[AudioTrack] = None
    try:
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
        publish(tmp, dst)
    except (av.FFmpegError, OSError) as exc:
        unlink_quietly(tmp)
        if no_space(exc):
            raise RuntimeFailure(f"no space left on device while writing {dst}; nothing "
                                 f"was saved") from None
        raise RuntimeFailure(f"copying {src} to {dst} failed: {av_reason(exc)}") from None
    except BaseException:
        unlink_quietly(tmp)
        raise
    finally:
        if audio is not None:
            audio.close()
    logger.info("wrote %s: picture copied from %s, audio %s", dst, src,
                "absent" if audio is None else "transformed" if audio_transform else "copied")
    return audio is not None
