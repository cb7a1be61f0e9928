"""``anonymize.py --voice`` / ``--voice_only``: the voice transformed, the timing kept.

The clips are the sync clips of tests/sync_clips.py: a 1 kHz beep starts on each flash
frame. Through ``--voice`` the beeps must stay on their flashes (sync and length kept)
while their pitch moves by the report's shift; ``--voice_only`` must copy the picture
packet for packet and load no face model.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import SMALL
from sync_clips import (FACE, SAMPLE_RATE, ClipSpec, audio_of, beep_times_of, frame_times_of,
                        sync_report, write_clip)
from ppgan_fom.cli import anonymize_main

CFG = SMALL / "fom_small64.yaml"
WEIGHTS = SMALL / "fom_small64_random.pdparams"
T30 = [i / 30 for i in range(45)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("voice")
    return write_clip(d / "talk.mp4", ClipSpec([0.4 + t for t in T30], [5, 20, 35],
                                               audio_start=0.0, audio_end=1.8))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _transformed_as_reported(src: Path, out: Path, voice: dict) -> None:
    """The output's sound is the input's put through the reported settings (the voice
    module offline, same seed), not the input itself: the writer applied the transform."""
    from ppgan_fom.voice import anonymize_voice

    x, t_in = audio_of(src)
    y, t_out = audio_of(out)
    assert t_out == pytest.approx(t_in, abs=1e-3)  # same start: sync kept
    ref, _ = anonymize_voice(x, SAMPLE_RATE, mcadams=voice["mcadams"],
                             pitch_semitones=voice["pitch_semitones"],
                             formant_scale=voice["formant_scale"], seed=voice["seed"])
    assert _corr(y, ref) > 0.9, _corr(y, ref)  # AAC coding noise only
    assert _corr(y, x) < 0.5, _corr(y, x)  # the voice did change


def _audio_seconds(path: Path) -> float:
    samples, _ = audio_of(path)
    return len(samples) / SAMPLE_RATE


def _run(*argv: str) -> int:
    return anonymize_main([*argv, "--quiet"])


def test_voice_moves_the_pitch_and_keeps_sync_and_length(clip, tmp_path):
    out = tmp_path / "anon.mp4"
    rc = _run("--video", str(clip), "--target_face", str(FACE), "--output", str(out),
              "--config", str(CFG), "--weight_path", str(WEIGHTS), "--voice",
              "--voice_mcadams", "0.8", "--voice_pitch", "-2", "--voice_seed", "7")
    assert rc == 0
    report = json.loads(out.with_suffix(".json").read_text())
    voice = report["voice"]
    assert voice["applied"] and voice["mcadams"] == 0.8 and voice["pitch_semitones"] == -2.0
    assert voice["method"].lower().startswith("mcadams") and voice["seed"] == 7
    # every frame at its time, every beep still on its flash, nothing lost at the ends
    assert frame_times_of(out) == pytest.approx(frame_times_of(clip), abs=1e-3)
    r = sync_report(out)
    assert len(r.beeps) == len(r.flashes) == 3, r
    assert r.worst <= 1 / 30, r  # within one frame (measured: a few ms)
    assert _audio_seconds(out) == pytest.approx(_audio_seconds(clip), abs=0.03)
    _transformed_as_reported(clip, out, voice)


def test_voice_only_copies_the_picture_and_loads_no_model(clip, tmp_path, monkeypatch):
    import ppgan_fom.pipeline.models as models

    def no_model(*a, **k):
        raise AssertionError("--voice_only must not load a face model")

    monkeypatch.setattr(models, "load_animator", no_model)
    out = tmp_path / "voice_only.mp4"
    assert _run("--video", str(clip), "--output", str(out), "--voice_only",
                "--voice_pitch", "3", "--voice_seed", "1") == 0

    def video_packets(path):
        with av.open(str(path)) as c:
            return [(p.pts, hashlib.sha256(bytes(p)).hexdigest())
                    for p in c.demux(video=0) if p.size]

    assert video_packets(out) == video_packets(clip)  # packet for packet, same times
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["mode"] == "voice_only" and report["voice"]["pitch_semitones"] == 3.0
    assert sync_report(out).worst <= 1 / 30
    _transformed_as_reported(clip, out, report["voice"])


def test_no_audio_is_a_note_not_an_error(tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", ClipSpec(T30, [10], audio_start=None))
    out = tmp_path / "o.mp4"
    assert _run("--video", str(silent), "--output", str(out), "--voice_only") == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["voice"]["applied"] is False and "no audio stream" in report["voice"]["note"]
    assert len(frame_times_of(out)) == len(T30)


def test_undecodable_audio_is_one_line_and_writes_nothing(tmp_path, capsys):
    broken = tmp_path / "broken_audio.mp4"
    with av.open(str(broken), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("aac", rate=SAMPLE_RATE)
        a.layout = "mono"
        rng = np.random.default_rng(0)
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 9, np.uint8))
            frame.pts = i
            for p in vs.encode(frame):
                out.mux(p)
            pkt = av.Packet(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
            pkt.stream, pkt.time_base = a, Fraction(1, SAMPLE_RATE)
            pkt.pts = pkt.dts = i * 1024
            out.mux(pkt)
        for p in vs.encode(None):
            out.mux(p)
    target = tmp_path / "o.mp4"
    assert _run("--video", str(broken), "--output", str(target), "--voice_only") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot decode the audio of ")
    assert str(broken) in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken_audio.mp4"]


@pytest.mark.parametrize("flag,value", [("--voice_mcadams", "0.3"), ("--voice_pitch", "30"),
                                        ("--voice_formant", "2:3"), ("--voice_mcadams", "x")])
def test_bad_voice_settings_are_refused_before_any_work(clip, tmp_path, capsys, flag, value):
    out = tmp_path / "o.mp4"
    assert _run("--video", str(clip), "--output", str(out), "--voice_only", flag, value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag} {value}: "), err
    assert not out.exists()
