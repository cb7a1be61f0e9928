"""Carry the audio of an input file into an output container with its timing.

The audio keeps its offset to the picture: every audio packet (or decoded sample) goes to
the output at its own input time minus the output's *time origin*, the same shift the
video frames get (see :class:`~ppgan_fom.media.writer.VideoWriter`). So a recording whose
picture starts 0.84 s after its sound, or a stream-copied cut whose MP4 edit list hides
the first packets, plays in sync in the output exactly as in the input; nothing is
stretched or guessed from a frame rate.

* **Copy** (the default when the container takes the codec: AAC/MP3 into MP4/MOV, any
  codec into MKV): packets are copied unchanged, including the ones an edit list marks
  as discarded, so the output's own edit list reproduces the input's sample-exact start.
* **Re-encode** to AAC (other codecs into MP4/MOV, e.g. Opus from WebM or PCM from a MOV;
  or when an :class:`AudioTransform` such as the voice anonymizer changes the samples):
  decoded frames keep their timestamps.

Audio that starts at or after the end of the picture is dropped (the output ends with its
last frame); audio before the first frame is kept.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol

import av
import numpy as np

from ..errors import VideoError
from ..types import PathLike
from .paths import MP4_FAMILY
from .probe import av_reason, open_input

logger = logging.getLogger(__name__)

__all__ = ["AudioTrack", "AudioTransform", "aac_layout", "audio_start", "can_copy_audio",
           "check_audio_decodes", "MP4_AUDIO_CODECS", "AAC_BITRATE"]

#: Audio codecs that are stream-copied into an MP4/MOV container unchanged.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3"})
#: Bit rate of re-encoded AAC audio.
AAC_BITRATE = 192_000


class AudioTransform(Protocol):
    """Processes audio as a stream of blocks; the outputs concatenated have exactly the
    inputs' length (sample-accurate, no added delay)."""

    def process(self, block: np.ndarray) -> np.ndarray:
        """``(n, channels)`` float32 in [-1, 1] -> ``(m, channels)`` float32."""

    def flush(self) -> np.ndarray:
        """The remaining ``(k, channels)`` samples at the end of the stream."""


#: Builds a transform for ``(sample_rate, channels)``.
TransformFactory = Callable[[int, int], AudioTransform]


def aac_layout(channels: int) -> str:
    """The AAC channel layout for ``channels`` input channels: mono, stereo, 5.1; any other
    count is mixed down to stereo (FFmpeg's AAC encoder takes only standard layouts)."""
    return {1: "mono", 2: "stereo", 6: "5.1"}.get(int(channels), "stereo")


def can_copy_audio(codec: Optional[str], out_suffix: str) -> bool:
    """Whether audio of ``codec`` can be stream-copied into a file with ``out_suffix``
    (MKV takes anything; MP4/MOV only :data:`MP4_AUDIO_CODECS`; GIF has no audio)."""
    suffix = out_suffix.lower()
    if not codec or suffix == ".gif":
        return False
    if suffix == ".mkv":
        return True
    return suffix in MP4_FAMILY and codec.lower() in MP4_AUDIO_CODECS


def check_audio_decodes(source: Path, seconds: float = 1.0) -> None:
    """Decode the first ``seconds`` of ``source``'s first audio stream; raise a one-line
    :class:`~ppgan_fom.errors.VideoError` naming the file if that fails."""
    with open_input(Path(source), "audio source") as container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        got = 0.0
        try:
            for frame in container.decode(stream):
                got += frame.samples / max(1, frame.sample_rate)
                if got >= seconds:
                    return
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot decode the audio of {source}: {av_reason(exc)}") from None
        if got == 0.0:
            raise VideoError(f"cannot decode the audio of {source}: no audio frame decodes")


def _stream_start(stream) -> float:
    """Time (s) of an audio stream's first sample as the writer takes it (0 if unknown)."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None \
        else 0.0


def audio_start(source: PathLike) -> Optional[float]:
    """Time (s) of the first sample of ``source``'s first audio stream, as
    :class:`AudioTrack` (and so :class:`~ppgan_fom.media.VideoWriter`'s time origin) takes
    it; None without an audio stream. Raises VideoError if the file cannot be opened."""
    with open_input(Path(source), "audio source") as container:
        return _stream_start(container.streams.audio[0]) if container.streams.audio else None


class AudioTrack:
    """The first audio stream of ``source``, written into ``output`` as packets are due.

    Usage (by the writer): construct before the first packet is muxed (it adds the output
    stream), set :attr:`origin` to the output's time origin, then call
    :meth:`mux_until` as the video advances and :meth:`finish` at the end.

    Args:
        source: media file whose first audio stream is carried over.
        output: the open output container.
        out_suffix: the output's suffix (decides copy vs re-encode).
        transform: optional factory of an :class:`AudioTransform` applied to the decoded
            samples (forces a re-encode).
    """

    def __init__(self, source: Path, output, out_suffix: str,
                 transform: Optional[TransformFactory] = None) -> None:
        self.source = source
        self._out = output
        self._in = open_input(source, "audio source")
        self._stream = self._in.streams.audio[0]
        self.codec = self._stream.codec_context.codec.canonical_name
        self.copy = transform is None and can_copy_audio(self.codec, out_suffix)
        self.origin = 0.0
        self.start = _stream_start(self._stream)
        self.packets = 0
        if self.copy:
            self._ostream = output.add_stream_from_template(self._stream)
            self._items: Iterator = self._copy_packets()
        else:
            cc = self._stream.codec_context
            self.layout = aac_layout(cc.layout.nb_channels)
            self._ostream = output.add_stream("aac", rate=cc.sample_rate)
            self._ostream.layout = self.layout
            self._ostream.bit_rate = AAC_BITRATE
            self._transform = transform(cc.sample_rate, av.AudioLayout(self.layout).nb_channels) \
                if transform is not None else None
            self._items = self._encoded_packets()
            self._fed = 0  # samples given to the encoder
        self._pending = None  # next packet and its output time, once read
        self._end: Optional[float] = None

    # ------------------------------------------------------------------ public
    def mux_until(self, t_out: float) -> None:
        """Mux every packet whose output time is before ``t_out`` seconds."""
        while True:
            item = self._peek()
            if item is None or item[1] >= t_out:
                return
            self._mux(item[0])
            self._pending = None

    def finish(self, end_out: float) -> None:
        """Mux what is left before ``end_out`` (the end of the picture), flush the
        encoder, close the input."""
        self._end = end_out
        self.mux_until(end_out)
        self._pending = None
        if not self.copy:
            for packet in self._flush_encoder():
                self._mux(packet)
        self.close()
        logger.info("audio from %s %s (%s), %d packets", self.source,
                    "copied" if self.copy else "re-encoded to AAC", self.codec, self.packets)

    def close(self) -> None:
        """Close the input file (idempotent)."""
        if self._in is not None:
            self._in.close()
            self._in = None

    # ------------------------------------------------------------------ internals
    def _mux(self, packet) -> None:
        self._out.mux(packet)
        self.packets += 1

    def _peek(self):
        if self._pending is None:
            try:
                self._pending = next(self._items)
            except StopIteration:
                return None
            except (av.FFmpegError, ValueError) as exc:
                raise VideoError(f"cannot decode the audio of {self.source}: "
                                 f"{av_reason(exc)}") from None
        return self._pending

    def _copy_packets(self) -> Iterator:
        """(packet shifted to the output timeline, its output time in s). Runs lazily,
        so :attr:`origin` is known when the first packet is read."""
        tb = self._stream.time_base
        shift = round(Fraction(self.origin) / tb)
        for packet in self._in.demux(self._stream):
            if packet.dts is None or not packet.size:
                continue  # the demuxer's end-of-stream marker
            t = float((packet.pts if packet.pts is not None else packet.dts) * tb) - self.origin
            if self._end is not None and t >= self._end:
                return
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts = packet.dts - shift
            packet.stream = self._ostream
            yield packet, t

    def _encoded_packets(self) -> Iterator:
        """Decoded (and transformed) samples, encoded to AAC. The first sample keeps its
        time; the rest follow contiguously (an AAC track has no gaps)."""
        rate, layout = self._stream.codec_context.sample_rate, self.layout
        to_float = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        written = 0  # samples handed to the encoder
        first_pts: Optional[int] = None
        for frame in self._in.decode(self._stream):
            if first_pts is None:
                t0 = float(frame.time) if frame.time is not None else self.start
                first_pts = round((t0 - self.origin) * rate)
            samples = np.concatenate([f.to_ndarray() for f in to_float.resample(frame)],
                                     axis=1).T if frame.samples else np.zeros((0, 1))
            if self._end is not None:
                room = int(round(self._end * rate)) - (first_pts + written)
                if room <= 0:
                    break
                samples = samples[:room]
            written += len(samples)
            if self._transform is not None:
                samples = self._transform.process(samples)
            yield from self._encode(samples, first_pts, rate, layout)
        if self._transform is not None:
            yield from self._encode(self._transform.flush(), first_pts or 0, rate, layout)

    def _encode(self, samples: np.ndarray, first_pts: int, rate: int,
                layout: str) -> Iterator:
        """Encode ``(n, channels)`` samples that continue the track; yield (packet,
        output time)."""
        if len(samples):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples.T, dtype=np.float32), format="fltp",
                layout=layout)
            frame.sample_rate = rate
            frame.pts, frame.time_base = first_pts + self._fed, Fraction(1, rate)
            self._fed += len(samples)
            for packet in self._ostream.encode(frame):
                yield packet, float(packet.pts * packet.time_base)

    def _flush_encoder(self) -> Iterator:
        yield from self._ostream.encode(None)
