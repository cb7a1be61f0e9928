"""Tests for ppgan_fom.media (image reading, video probing/decoding/writing on PyAV).

Timing and sync (offsets, VFR, edit lists, rotation, GIF) are in tests/test_timing.py."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from ppgan_fom.errors import FomError, InputError, OutputError, RuntimeFailure, VideoError
from ppgan_fom.media import (
    VideoWriter,
    ensure_writable_output,
    is_truncated,
    iter_frames,
    probe_video,
    read_image,
)
from ppgan_fom.media.audio import can_copy_audio
from ppgan_fom.media.encoders import H264Encoder, even_size, pad_to_even
from sample_media import LONG_LOOPS, long_driving_clip, sample_media

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly; fail the test on error."""
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def make_clip(path: Path, seconds: float = 1.0, fps: int = 25, size: str = "64x48",
              audio_seconds: float | None = None, audio_codec: str = "aac") -> Path:
    """A testsrc clip (optionally with a 440 Hz sine track) written with ffmpeg."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}:duration={seconds}"]
    if audio_seconds is not None:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={audio_seconds}"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    if audio_seconds is not None:
        args += ["-c:a", audio_codec]
    ffmpeg(*args, str(path))
    return path


def audio_seconds_of(path: Path) -> float:
    """Exact decoded audio length of a file (mono 8 kHz s16 PCM byte count)."""
    raw = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout
    return len(raw) / 2 / 8000


def smooth_frames(n: int, w: int, h: int) -> list[np.ndarray]:
    """n distinct smooth RGB frames (easy for the codec to keep close)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(n):
        r = 128 + 100 * np.sin(xx / w * 2 * np.pi + i * 0.3)
        g = 128 + 100 * np.cos(yy / h * 2 * np.pi)
        b = np.full_like(xx, 40 + 10 * i % 200)
        frames.append(np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8))
    return frames


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def test_error_hierarchy_and_exit_codes() -> None:
    assert issubclass(VideoError, InputError) and issubclass(InputError, FomError)
    assert (FomError.exit_code, InputError.exit_code, OutputError.exit_code, RuntimeFailure.exit_code) == (1, 2, 2, 1)
    assert str(VideoError("bad x.mp4")) == "bad x.mp4"


# --------------------------------------------------------------------------- #
# probing and decoding the shared samples
# --------------------------------------------------------------------------- #
def test_probe_and_read_3s_clip() -> None:
    p = sample_media("driving_fom_dv_256x256_3s.mp4")
    info = probe_video(p)
    assert (info.fps, info.n_frames, info.width, info.height, info.has_audio) == (30.0, 90, 256, 256, False)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    n = 0
    for frame in iter_frames(p):
        assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
        n += 1
    assert n == 90
    assert frame.flags.writeable and frame.std() > 5  # real picture content


def test_long_clip_is_not_mistaken_for_truncated() -> None:
    p = long_driving_clip()
    assert sum(1 for _ in iter_frames(p)) == probe_video(p).n_frames == 90 * LONG_LOOPS


def test_truncated_video_raises_unless_partial_allowed(caplog) -> None:
    p = sample_media("bad_truncated_faststart.mp4")
    with pytest.raises(VideoError, match="decoded 40 of 90 frames") as err:
        for _ in iter_frames(p):
            pass
    assert p.name in str(err.value)
    with caplog.at_level(logging.WARNING, logger="ppgan_fom.media"):
        frames = list(iter_frames(p, allow_partial=True))
    assert len(frames) == 40
    assert "decoded 40 of 90" in caplog.text


def test_no_moov_video_error_names_the_file() -> None:
    p = sample_media("bad_truncated_no_moov.mp4")
    with pytest.raises(VideoError, match="moov") as err:
        probe_video(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(VideoError):
        iter_frames(p)  # raises at call time, before iteration


def test_missing_and_directory_are_video_errors(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        iter_frames(tmp_path)


def test_still_image_and_empty_video_are_rejected(tmp_path: Path) -> None:
    png = tmp_path / "still.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(png)
    with pytest.raises(VideoError, match="still image"):
        iter_frames(png)
    empty = tmp_path / "zero.mp4"  # zero frames: ffmpeg writes a file without streams
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=10", "-frames:v", "0", str(empty))
    with pytest.raises(VideoError, match="zero.mp4"):
        list(iter_frames(empty))
    audio_only = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(audio_only))
    with pytest.raises(VideoError, match="no video stream"):
        iter_frames(audio_only)


def test_header_only_video_has_no_frames(tmp_path: Path) -> None:
    clip = tmp_path / "fs.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip))
    data = clip.read_bytes()
    cut = tmp_path / "header_only.mp4"  # moov (10 frames) intact, media data gone
    cut.write_bytes(data[: data.index(b"mdat") + 4])
    assert probe_video(cut).n_frames == 10
    for partial in (False, True):
        with pytest.raises(VideoError, match="no frames could be decoded from video .*header_only.mp4"):
            list(iter_frames(cut, allow_partial=partial))


def test_longer_audio_is_not_truncation(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", seconds=1.0, fps=25, audio_seconds=3.0)
    info = probe_video(clip)
    assert info.has_audio and info.audio_codec == "aac"
    assert len(list(iter_frames(clip))) == 25


def test_rotated_video_reports_display_size(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", seconds=0.4, fps=10, size="64x48")
    rot = tmp_path / "rot.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(rot))
    info = probe_video(rot)
    assert (info.width, info.height) == (48, 64)
    assert next(iter(iter_frames(rot))).shape == (64, 48, 3)


# --------------------------------------------------------------------------- #
# pure helpers
# --------------------------------------------------------------------------- #
def test_is_truncated_thresholds() -> None:
    assert is_truncated(40, 90)
    assert is_truncated(0, 90)
    assert not is_truncated(89, 90) and not is_truncated(88, 90)  # off-by-one/two is normal
    assert not is_truncated(87, 90)  # 3 short but 96.7 %: still within tolerance
    assert is_truncated(800, 1000)
    assert not is_truncated(10, 0)  # unknown header count


def test_audio_copy_rule() -> None:
    assert can_copy_audio("aac", ".mp4") and can_copy_audio("mp3", ".MOV")
    assert not can_copy_audio("pcm_s16le", ".mp4") and not can_copy_audio("opus", ".m4v")
    assert can_copy_audio("opus", ".mkv") and can_copy_audio("pcm_s16le", ".mkv")
    assert not can_copy_audio(None, ".mkv") and not can_copy_audio("aac", ".gif")


def test_encoder_settings_reach_the_file(tmp_path: Path) -> None:
    """crf/preset are the encoder's options; the MP4 is fast-start (moov before mdat) and
    states the BT.601 colours its RGB -> YUV conversion used; MKV has no movflags."""
    out = tmp_path / "o.mp4"
    with VideoWriter(out, fps=10, size=(64, 48), crf=20, preset="veryfast") as vw:
        assert vw._encoder.stream.options == {"crf": "20", "preset": "veryfast"}
        for f in smooth_frames(3, 64, 48):
            vw.write(f)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.name, cc.pix_fmt, int(cc.colorspace), int(cc.color_range)) == \
            ("h264", "yuv420p", 6, 1)
    mkv = tmp_path / "o.mkv"
    with VideoWriter(mkv, fps=10, size=(64, 48)) as vw:
        # the defaults: CRF 18 at x264's faster preset (docs/performance.md: the trade-off)
        assert vw._encoder.stream.options == {"crf": "18", "preset": "faster"}
        vw.write(smooth_frames(1, 64, 48)[0])
    assert probe_video(mkv).format.startswith("matroska")


def test_pad_to_even() -> None:
    f = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3)
    p = pad_to_even(f)
    assert p.shape == (6, 4, 3) and even_size((3, 5)) == (4, 6)
    np.testing.assert_array_equal(p[:5, :3], f)
    np.testing.assert_array_equal(p[5, :3], f[4])
    np.testing.assert_array_equal(p[:5, 3], f[:, 2])
    even = np.zeros((4, 6, 3), np.uint8)
    assert pad_to_even(even) is even


# --------------------------------------------------------------------------- #
# VideoWriter
# --------------------------------------------------------------------------- #
def leftovers(directory: Path) -> list[str]:
    """Hidden temp files left in a directory."""
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name)


def test_writer_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.mp4"
    out.parent.mkdir()
    frames = smooth_frames(12, 64, 48)
    with VideoWriter(out, fps=12.5, size=(64, 48)) as vw:
        for f in frames:
            vw.write(f)
    info = probe_video(out)
    assert (info.fps, info.n_frames, info.width, info.height, info.has_audio) == (12.5, 12, 64, 48, False)
    back = list(iter_frames(out))
    assert len(back) == 12
    for a, b in zip(frames, back):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 4
    assert leftovers(out.parent) == []


def test_writer_pads_odd_sizes(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    frames = smooth_frames(3, 63, 47)
    frames[0][:, -1] = (255, 0, 0)  # last real column red: padding must replicate it
    with VideoWriter(out, fps=10, size=(63, 47)) as vw:
        for f in frames:
            vw.write(f)
    info = probe_video(out)
    assert (info.width, info.height) == (64, 48)
    first = next(iter(iter_frames(out)))
    assert np.abs(first[:47, :63].astype(int) - frames[0].astype(int)).mean() < 4
    assert first[10:40, 63, 0].mean() > 180 and first[10:40, 63, 1].mean() < 80  # replicated, not black


def test_writer_muxes_audio_cut_to_video_length(tmp_path: Path, caplog) -> None:
    src = make_clip(tmp_path / "tone.mp4", seconds=3.0, fps=25, audio_seconds=3.0)
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.INFO, logger="ppgan_fom.media"):
        with VideoWriter(out, fps=25, size=(64, 48), audio_from=src) as vw:
            for f in smooth_frames(50, 64, 48):  # 2.0 s of video
                vw.write(f)
    info = probe_video(out)
    assert info.has_audio and info.audio_codec == "aac"
    assert len(list(iter_frames(out))) == 50
    assert abs(audio_seconds_of(out) - 2.0) <= 0.1
    assert "copied" in caplog.text
    assert leftovers(tmp_path) == []


def test_writer_reencodes_non_mp4_audio_and_keeps_video_when_audio_short(tmp_path: Path, caplog) -> None:
    wav = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=1.0", "-c:a", "pcm_s16le", str(wav))
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.INFO, logger="ppgan_fom.media"):
        with VideoWriter(out, fps=20, size=(32, 32), audio_from=wav) as vw:
            for f in smooth_frames(40, 32, 32):  # 2 s of video, 1 s of audio
                vw.write(f)
    assert "re-encoded" in caplog.text
    assert probe_video(out).audio_codec == "aac"
    assert len(list(iter_frames(out))) == 40  # video is not cut to the audio
    assert abs(audio_seconds_of(out) - 1.0) <= 0.1


def test_writer_without_audio_in_source(tmp_path: Path, caplog) -> None:
    src = make_clip(tmp_path / "silent.mp4", seconds=0.5)
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.INFO, logger="ppgan_fom.media"):
        with VideoWriter(out, fps=10, size=(16, 16), audio_from=src) as vw:
            vw.write(np.zeros((16, 16, 3), np.uint8))
    assert not probe_video(out).has_audio
    assert "no audio stream" in caplog.text


@pytest.mark.parametrize("exc_type", [ValueError, KeyboardInterrupt])
def test_writer_failure_leaves_target_untouched(tmp_path: Path, exc_type) -> None:
    fresh = tmp_path / "fresh.mp4"
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"old content")
    for target in (fresh, existing):
        with pytest.raises(exc_type):
            with VideoWriter(target, fps=10, size=(32, 32), audio_from=None) as vw:
                for f in smooth_frames(5, 32, 32):
                    vw.write(f)
                raise exc_type("boom")
    assert not fresh.exists()
    assert existing.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_writer_rejects_wrong_frames_and_empty_output(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    with pytest.raises(ValueError, match=r"\(32, 32, 3\) uint8"):
        with VideoWriter(out, fps=10, size=(32, 32)) as vw:
            vw.write(np.zeros((32, 32, 3), np.uint8))
            vw.write(np.zeros((30, 32, 3), np.uint8))
    with pytest.raises(ValueError):
        with VideoWriter(out, fps=10, size=(32, 32)) as vw:
            vw.write(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(RuntimeFailure, match="no frames"):
        with VideoWriter(out, fps=10, size=(32, 32)):
            pass
    assert not out.exists() and leftovers(tmp_path) == []
    with pytest.raises(OutputError, match="suffix"):
        VideoWriter(tmp_path / "o.txt", fps=10, size=(8, 8))
    with pytest.raises(ValueError):
        VideoWriter(out, fps=0, size=(8, 8))


def test_writer_encoder_failure_is_runtime_failure(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "o.mp4"
    real = H264Encoder.encode

    def fail_on_second(self, image, pts):  # the encoder crashes mid-run
        if pts > 0:
            raise av.error.ExternalError(-542398533, "Generic error in an external library")
        return real(self, image, pts)

    monkeypatch.setattr(H264Encoder, "encode", fail_on_second)
    with pytest.raises(RuntimeFailure, match=r"H.264 encoder for .*o.mp4 failed after 1 frames"):
        with VideoWriter(out, fps=10, size=(320, 240)) as vw:
            for _ in range(50):
                vw.write(np.zeros((240, 320, 3), np.uint8))
    assert not out.exists() and leftovers(tmp_path) == []


def test_writer_missing_audio_source_fails_before_work(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="nope.mp4"):
        with VideoWriter(tmp_path / "o.mp4", fps=10, size=(8, 8), audio_from=tmp_path / "nope.mp4"):
            pass
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- #
# read_image
# --------------------------------------------------------------------------- #
def test_read_image_modes(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (6, 1))
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (6, 25, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 1], grey)

    rgba = np.zeros((4, 3, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 0, 3] = 0      # transparent -> white
    rgba[:, 1, 3] = 255    # opaque -> colour
    rgba[:, 2, 3] = 128    # half -> halfway to white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (200, 0, 0)
    assert tuple(out[0, 2]) == (227, 127, 127)  # 200*a + 255*(1-a), a = 128/255

    pal = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[0, 1]) == (200, 100, 50)


def test_read_image_16_bit(tmp_path: Path) -> None:
    vals = np.array([[0, 257, 32896, 65535, 1000]], np.uint16)
    Image.fromarray(vals).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[0, :, 0], [0, 1, 128, 255, 4])

    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 1] = 32896
    rgb16[..., 2] = 5140
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # cv2 writes BGR
    out = read_image(tmp_path / "c16.png")
    assert out.dtype == np.uint8
    assert np.abs(out[0, 0].astype(int) - [255, 128, 20]).max() <= 1


def test_read_image_applies_exif_orientation(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)  # h=20, w=40: left half red, right half blue
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(tmp_path / "rot.jpg")
    assert out.shape == (40, 20, 3)
    assert out[:18, :, 0].mean() > 200 and out[:18, :, 2].mean() < 50   # left -> top
    assert out[22:, :, 2].mean() > 200 and out[22:, :, 0].mean() < 50   # right -> bottom


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    with pytest.raises(InputError, match="notes.png"):
        read_image(text)
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(InputError, match="trunc.png.*truncated") as err:
        read_image(trunc)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "missing.jpg")
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)


def test_read_image_shared_bad_files_and_input_unchanged(tmp_path: Path) -> None:
    for name in ("bad_not_an_image.png", "bad_truncated.png"):
        p = sample_media(name)
        with pytest.raises(InputError, match=name):
            read_image(p)
    src = sample_media("single_face_fom_source_256x256.png")
    copy = tmp_path / src.name
    shutil.copy2(src, copy)
    before = (copy.read_bytes(), copy.stat().st_mtime_ns)
    img = read_image(copy)
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    assert (copy.read_bytes(), copy.stat().st_mtime_ns) == before


# --------------------------------------------------------------------------- #
# ensure_writable_output
# --------------------------------------------------------------------------- #
def test_ensure_writable_output(tmp_path: Path) -> None:
    inp = tmp_path / "in.mp4"
    inp.write_bytes(b"x")
    out = ensure_writable_output(tmp_path / "new" / "deeper" / "out.mp4", [inp])
    assert out.is_absolute() and out.parent.is_dir() and not out.exists()
    assert os.listdir(out.parent) == []  # the probe file was removed

    with pytest.raises(OutputError, match="same file"):
        ensure_writable_output(tmp_path / "." / "in.mp4", [inp])
    link = tmp_path / "alias.mp4"
    link.symlink_to(inp)
    with pytest.raises(OutputError, match="same file"):
        ensure_writable_output(link, [inp])
    with pytest.raises(OutputError, match="directory"):
        ensure_writable_output(tmp_path / "new", [inp])
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="afile"):
        ensure_writable_output(blocker / "out.mp4", [inp])


def _unwritable_dir(tmp_path: Path):
    """A directory in which no file can be created, and how it was made. A normal user
    gets one with chmod 555; root ignores permissions, so as root it is procfs (Linux),
    where nobody can create a file (no privilege or special filesystem needed: CI
    containers often run as root on overlayfs, where chattr +i does not work)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro, "chmod"
    proc = Path("/proc/self")
    if not proc.is_dir():
        pytest.skip("running as root without procfs: no directory root cannot write to")
    return proc, "procfs"


def test_ensure_writable_output_read_only_dir(tmp_path: Path) -> None:
    ro, how = _unwritable_dir(tmp_path)
    try:
        with pytest.raises(OutputError, match="not writable") as err:
            ensure_writable_output(ro / "out.mp4", [])
        assert str(err.value).startswith(f"output directory {ro} is not writable: "), how
        assert "\n" not in str(err.value)
    finally:
        if how == "chmod":
            ro.chmod(0o755)
    assert not (ro / "out.mp4").exists()


# --------------------------------------------------------------------------- #
# FFmpeg's log and threaded decoders
# --------------------------------------------------------------------------- #
def test_ffmpeg_log_is_never_left_on(tmp_path: Path) -> None:
    """With FFmpeg's log routed to Python, a decoder thread that logs while the main
    thread frees the decoder (an abandoned frame iterator) deadlocks on the interpreter
    lock (seen in the test suite). The log is only switched on to read the reason of a
    failed open, and always switched off again."""
    import av.logging

    clip = make_clip(tmp_path / "c.mp4", seconds=1.0, fps=25, size="320x240")
    probe_video(clip)
    assert av.logging.get_level() is None
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(VideoError):
        probe_video(bad)
    assert av.logging.get_level() is None
    frames = iter_frames(clip)
    next(frames)
    del frames  # an abandoned iterator closes its threaded decoder
    assert av.logging.get_level() is None
