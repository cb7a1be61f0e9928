"""Test clips that carry their own sync signal, and the checks that read it back.

A *sync clip* shows a dark background with a face photo pasted on the right; on each
"flash" frame the background turns white, and at the flash frame's presentation time a
50 ms 1 kHz beep starts in the audio. Frame times, the audio's start, the container,
the codec and the display rotation are all chosen by the test, and everything is written
with PyAV, so the true timing is known exactly. :func:`sync_report` finds the flashes in
the decoded picture and the beep onsets in the decoded sound of any file and pairs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FACE = REPO / "docs" / "samples" / "source_256x256.png"

LANDSCAPE, PORTRAIT = (192, 128), (128, 192)  # w, h of the upright picture
FLASH_REGION = (0, 0, 48, 48)  # x1, y1, x2, y2: background in every layout
BEEP_S = 0.05
BEEP_HZ = 1000.0
SAMPLE_RATE = 48000
DARK, WHITE = 40, 250


def _face(side: int) -> np.ndarray:
    img = cv2.cvtColor(cv2.imread(str(FACE)), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def face_box(size) -> tuple:
    """Where the face photo sits in an upright picture of ``size`` (w, h): a square of
    3/4 of the short side against the bottom-right corner."""
    w, h = size
    side = min(w, h) * 3 // 4
    return (w - side, h - side, w, h)


def picture(flash: bool, size=LANDSCAPE) -> np.ndarray:
    """The upright picture of one frame: (h, w, 3) uint8 RGB."""
    w, h = size
    img = np.full((h, w, 3), WHITE if flash else DARK, np.uint8)
    x1, y1, x2, y2 = face_box(size)
    img[y1:y2, x1:x2] = _face(x2 - x1)
    return img


@dataclass
class ClipSpec:
    """What a sync clip holds. Times are seconds on the file's timeline."""

    frame_times: Sequence[float]
    flashes: Sequence[int]  # indices of flash frames (a beep starts at each one's time)
    audio_start: Optional[float] = 0.0  # None: no audio stream
    audio_end: Optional[float] = None  # default: last frame time + 0.5 s
    time_base: Fraction = Fraction(1, 90000)
    size: tuple = LANDSCAPE  # upright (displayed) w, h
    rotation: int = 0  # display rotation (degrees counter-clockwise)
    codec: str = "libx264"
    audio_codec: str = "aac"
    gop: int = 12

    @property
    def flash_times(self) -> List[float]:
        return [float(self.frame_times[i]) for i in self.flashes]


def beep_track(spec: ClipSpec, rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n,) float32 mono: silence with a beep starting at every flash time."""
    end = spec.audio_end if spec.audio_end is not None else spec.frame_times[-1] + 0.5
    n = int(round((end - spec.audio_start) * rate))
    out = np.zeros(n, np.float32)
    t = np.arange(int(BEEP_S * rate)) / rate
    beep = (0.5 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(np.float32)
    for ft in spec.flash_times:
        i = int(round((ft - spec.audio_start) * rate))
        if 0 <= i < n:
            out[i:i + len(beep)] = beep[: n - i]
    return out


def write_clip(path: Path, spec: ClipSpec) -> Path:
    """Write ``spec`` with PyAV (MP4/MOV/MKV with H.264, or a GIF)."""
    flashes = set(spec.flashes)
    rot_turns = (spec.rotation // 90) % 4
    w, h = spec.size if rot_turns % 2 == 0 else spec.size[::-1]
    gif = spec.codec == "gif"
    tb = Fraction(1, 100) if gif else spec.time_base
    with av.open(str(path), "w") as out:
        vs = out.add_stream(spec.codec, rate=25)
        vs.width, vs.height = w, h
        vs.pix_fmt = "rgb8" if gif else "yuv420p"
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if not gif:
            vs.options = {"g": str(spec.gop), "keyint_min": str(spec.gop), "sc_threshold": "0",
                          "crf": "18", "preset": "veryfast"}
        if spec.rotation:
            vs.set_display_rotation(spec.rotation)
        astream = None
        if spec.audio_start is not None and not gif:
            astream = out.add_stream(spec.audio_codec, rate=SAMPLE_RATE)
            astream.layout = "mono"
        for i, t in enumerate(spec.frame_times):
            upright = picture(i in flashes, spec.size)
            stored = np.ascontiguousarray(np.rot90(upright, -rot_turns)) if rot_turns else upright
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = round(Fraction(t) / tb), tb
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if astream is not None:
            track = beep_track(spec)
            block = 1024
            for k in range(0, len(track), block):
                chunk = track[k:k + block]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                af.sample_rate = SAMPLE_RATE
                af.pts = round(spec.audio_start * SAMPLE_RATE) + k
                af.time_base = Fraction(1, SAMPLE_RATE)
                for p in astream.encode(af):
                    out.mux(p)
            for p in astream.encode(None):
                out.mux(p)
    return path


# ------------------------------------------------------------------------------ reading
def frame_times_of(path: Path) -> List[float]:
    """Presentation times of every decoded video frame (PyAV, not the project's reader)."""
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def flash_times_of(path: Path, region=FLASH_REGION) -> List[float]:
    """Times of the frames whose (upright) top-left background region is bright."""
    times = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            turns = int(round((f.rotation or 0) / 90.0)) % 4
            img = np.rot90(img, turns) if turns else img
            x1, y1, x2, y2 = region
            if img[y1:y2, x1:x2].mean() > (DARK + WHITE) / 2:
                times.append(float(f.time))
    return times


def audio_of(path: Path):
    """(mono float32 samples, time of the first sample) or (None, None)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None, None
        rs = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks, t0 = [], None
        for f in c.decode(audio=0):
            if t0 is None:
                t0 = float(f.time)
            chunks += [r.to_ndarray().reshape(-1) for r in rs.resample(f)]
        chunks += [r.to_ndarray().reshape(-1) for r in rs.resample(None)]
    return np.concatenate(chunks), t0


def beep_times_of(path: Path) -> List[float]:
    """Onset times of the beeps in the decoded audio (first sample above 0.15 after at
    least 50 ms of quiet)."""
    samples, t0 = audio_of(path)
    if samples is None:
        return []
    loud = np.flatnonzero(np.abs(samples) > 0.15)
    onsets, last = [], -10**9
    for i in loud:
        if i - last > int(0.05 * SAMPLE_RATE):
            onsets.append(t0 + i / SAMPLE_RATE)
        last = i
    return onsets


@dataclass
class SyncReport:
    flashes: List[float]
    beeps: List[float]
    errors: List[float] = field(default_factory=list)  # beep - flash, paired in order

    @property
    def worst(self) -> float:
        return max((abs(e) for e in self.errors), default=0.0)


def sync_report(path: Path) -> SyncReport:
    flashes, beeps = flash_times_of(path), beep_times_of(path)
    n = min(len(flashes), len(beeps))
    return SyncReport(flashes, beeps, [b - f for f, b in zip(flashes[:n], beeps[:n])])
