"""Video encoders for the writer: H.264 (MP4/MOV/MKV) and GIF, both through PyAV.

Each encoder adds its stream to an open output container and turns ``(H, W, 3)`` uint8
RGB images with integer timestamps (in its :attr:`time_base`) into packets.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import List, Tuple

import av
import numpy as np
from PIL import Image

__all__ = ["H264Encoder", "GifEncoder", "LARGE_FRAME_PIXELS", "DEFAULT_PRESET", "DEFAULT_CRF",
           "even_size", "pad_to_even"]

logger = logging.getLogger(__name__)

#: x264 quality: constant rate factor 18 (about visually lossless).
DEFAULT_CRF = 18
#: x264 speed preset. ``faster`` rather than x264's ``medium``: at CRF 18 it costs 40-45 %
#: less CPU per frame (CPU the model shares on small machines) for the same or smaller
#: files: on a 1280x720 camera-like clip 19 % smaller at +0.1 dB luma PSNR; on a photo
#: with animated faces the same size at +9 % mean error outside the faces (1.96 vs 1.80
#: grey levels, mostly chroma subsampling). ``veryfast`` saves more CPU (2.7x less than
#: ``medium``) but costs quality on still backgrounds (2.10). Measured by
#: ``benchmarks/bench_pipeline.py`` (docs/performance.md).
DEFAULT_PRESET = "faster"
#: Frames with more pixels than this (4K UHD) are encoded in x264's low-memory mode: with
#: the defaults x264 buffers ~40 frames of lookahead plus frame threads, which is
#: gigabytes for a 48 MP photo.
LARGE_FRAME_PIXELS = 3840 * 2160
#: x264 settings for large frames: no lookahead / B-frames, sliced threads (memory
#: independent of the core count), at the cost of a slightly larger file.
LOW_MEMORY_X264 = "rc-lookahead=0:sync-lookahead=0:bframes=0:sliced-threads=1"
#: BT.601 ("smpte170m") colour tags: what swscale's RGB -> YUV conversion uses, stated in
#: the file so that players do not assume BT.709 for HD sizes.
_BT601 = 6
_TV_RANGE = 1


def even_size(size: Tuple[int, int]) -> Tuple[int, int]:
    """``(w, h)`` rounded up to even numbers (what yuv420p requires)."""
    w, h = size
    return w + (w % 2), h + (h % 2)


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Pad an ``(H, W, C)`` frame by one replicated pixel column on the right and/or row
    at the bottom where ``W`` / ``H`` is odd. Returns the input object itself if both are
    already even. Never resizes."""
    h, w = frame.shape[:2]
    pad_h, pad_w = h % 2, w % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


class H264Encoder:
    """libx264, yuv420p, constant rate factor; odd sizes padded by one pixel.

    Args:
        container: open output container.
        size: ``(w, h)`` of the frames that will be given.
        time_base: timestamp unit of the frames.
        fps: nominal frame rate (stated in the stream header; timing comes from the
            timestamps).
        crf: x264 constant rate factor (0 lossless, 18 ~ visually lossless, 23 default).
        preset: x264 speed preset (:data:`DEFAULT_PRESET`).
    """

    name = "H.264"

    def __init__(self, container, size: Tuple[int, int], time_base: Fraction, fps: float,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET) -> None:
        self.size = tuple(int(v) for v in size)
        self.encoded_size = even_size(self.size)
        self.time_base = time_base
        w, h = self.encoded_size
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = time_base
        cc = stream.codec_context
        cc.time_base = time_base
        cc.colorspace = cc.color_primaries = cc.color_trc = _BT601
        cc.color_range = _TV_RANGE
        options = {"crf": str(int(crf)), "preset": preset}
        if w * h > LARGE_FRAME_PIXELS:
            options["x264-params"] = LOW_MEMORY_X264
        stream.options = options
        self.stream = stream
        if self.encoded_size != self.size:
            logger.info("frame size %dx%d is odd: padding to %dx%d (edge replicate)",
                        *self.size, *self.encoded_size)

    def encode(self, image: np.ndarray, pts: int) -> List["av.Packet"]:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pad_to_even(image)),
                                           format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        return self.stream.encode(frame)

    def flush(self) -> List["av.Packet"]:
        return self.stream.encode(None)


class GifEncoder:
    """Animated GIF: one adaptive 256-colour palette per frame (Pillow's median cut with
    Floyd-Steinberg dithering), per-frame delays in hundredths of a second from the
    timestamps (the GIF format's unit), looping forever like PaddleGAN's GIFs.

    PyAV's own RGB -> palette conversion uses one fixed 8-bit palette (visibly banded);
    quantizing each frame with Pillow and handing PyAV palettized frames keeps the
    streaming (one frame in memory) with a good palette.
    """

    name = "GIF"
    time_base = Fraction(1, 100)

    def __init__(self, container, size: Tuple[int, int], fps: float) -> None:
        self.size = self.encoded_size = tuple(int(v) for v in size)
        stream = container.add_stream("gif", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = self.size
        stream.pix_fmt = "pal8"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        self.stream = stream

    @staticmethod
    def container_options(fps: float) -> dict:
        """Muxer options: loop forever; the last frame shows for one nominal frame."""
        return {"loop": "0", "final_delay": str(max(1, round(100 / fps)))}

    def encode(self, image: np.ndarray, pts: int) -> List["av.Packet"]:
        quant = Image.fromarray(image).quantize(256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.FLOYDSTEINBERG)
        rgb = np.zeros((256, 3), np.uint8)
        pal = np.frombuffer(bytes(quant.getpalette()[:768]), np.uint8).reshape(-1, 3)
        rgb[: len(pal)] = pal
        argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
        frame = av.VideoFrame.from_ndarray((np.asarray(quant), argb), format="pal8")
        frame.pts, frame.time_base = pts, self.time_base
        return self.stream.encode(frame)

    def flush(self) -> List["av.Packet"]:
        return self.stream.encode(None)
