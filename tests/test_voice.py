"""Voice anonymization (ppgan_fom.voice): length, sync, streaming, and what it does to speech.

Pure numpy/scipy, no Paddle. Speech is made in the test with espeak-ng (Debian
package ``espeak-ng``; the speech tests skip when it is absent) with two voices:
a male (en-us) and a female (en-us+f3) one, two sentences each. The speaker check
uses the pretrained encoder shipped inside the ``resemblyzer`` package (test-only
dependency; skipped when it is not installed). Pitch, formants and band energies
are measured with small estimators written here, independent of the code under test.
"""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
import wave

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from conftest import optional_import, optional_tool
from ppgan_fom.errors import InputError
from ppgan_fom.voice import VoiceAnonymizer, anonymize_voice, parse_value

FS = 16000
SENTENCES = (
    "The quick brown fox jumps over the lazy dog. Please call Stella and ask her to "
    "bring these things with her from the store. Six spoons of fresh snow peas, five "
    "thick slabs of blue cheese, and maybe a snack for her brother Bob.",
    "We also need a small plastic snake and a big toy frog for the kids. She can scoop "
    "these things into three red bags, and we will go meet her Wednesday at the train "
    "station.",
)
VOICES = {"male": "en-us", "female": "en-us+f3"}


# ---------------------------------------------------------------------------
# helpers
def run_blocks(x: np.ndarray, fs: int, sizes, **options) -> np.ndarray:
    """Feed x (n, c) through a VoiceAnonymizer in blocks of the given sizes (cycled)."""
    anon = VoiceAnonymizer(fs, x.shape[1], **options)
    outs, i, j = [], 0, 0
    while i < x.shape[0]:
        n = sizes[j % len(sizes)]
        outs.append(anon.process(x[i : i + n]))
        i, j = i + n, j + 1
    outs.append(anon.flush())
    return np.concatenate(outs, axis=0)


def read_wav(path) -> tuple:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        return data.astype(np.float64) / 32768.0, w.getframerate()


def frames_of(x: np.ndarray, fs: int, win_s: float, hop_s: float) -> np.ndarray:
    n, h = int(fs * win_s), int(fs * hop_s)
    idx = np.arange(0, len(x) - n + 1, h)
    return np.stack([x[i : i + n] for i in idx])


def pitch_track(x: np.ndarray, fs: int, fmin: float = 60.0, fmax: float = 400.0) -> np.ndarray:
    """F0 (Hz) per 40 ms frame every 10 ms by autocorrelation; NaN when unvoiced."""
    fr = frames_of(x, fs, 0.04, 0.01)
    energy = (fr ** 2).sum(axis=1)
    floor = 0.05 * np.median(energy[energy > 0])
    lo, hi = int(fs / fmax), int(fs / fmin)
    out = np.full(len(fr), np.nan)
    for i, f in enumerate(fr):
        if energy[i] < floor:
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[len(f) - 1 :]
        ac = ac / ac[0] / (1.0 - np.arange(len(ac)) / len(ac))  # unbiased
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5:
            a, b, c = ac[k - 1], ac[k], ac[k + 1]
            den = a - 2 * b + c
            out[i] = fs / (k + (0.5 * (a - c) / den if den != 0 else 0.0))
    return out


def first_formants(x: np.ndarray, fs: int) -> np.ndarray:
    """(frames, 2): F1, F2 (Hz) per 25 ms frame from LPC roots (order fs/1k + 2,
    pre-emphasis, Hamming); NaN in quiet frames."""
    order = int(fs / 1000) + 2
    fr = frames_of(x, fs, 0.025, 0.01)
    energy = (fr ** 2).sum(axis=1)
    floor = 0.1 * np.median(energy[energy > 0])
    win = np.hamming(fr.shape[1])
    out = np.full((len(fr), 2), np.nan)
    for i, f in enumerate(fr):
        if energy[i] < floor:
            continue
        f = np.append(f[0], f[1:] - 0.97 * f[:-1]) * win
        r = np.correlate(f, f, "full")[len(f) - 1 : len(f) + order]
        r[0] *= 1 + 1e-6
        a = scipy.linalg.solve_toeplitz(r[:-1], -r[1:])
        roots = np.roots(np.concatenate(([1.0], a)))
        roots = roots[roots.imag > 0]
        freq = np.angle(roots) * fs / (2 * np.pi)
        bw = -np.log(np.abs(roots)) * fs / np.pi
        sel = np.sort(freq[(freq > 150) & (bw < 400) & (freq < fs / 2 - 200)])
        out[i, : min(2, sel.size)] = sel[:2]
    return out


def band_share_db(x: np.ndarray, fs: int, lo: float, hi: float) -> float:
    """Share of the signal's energy in [lo, hi) Hz, in dB."""
    f, p = scipy.signal.welch(x, fs, nperseg=int(fs * 0.032))
    return float(10 * np.log10(p[(f >= lo) & (f < hi)].sum() / p.sum()))


def envelope_correlation(x: np.ndarray, y: np.ndarray, fs: int, lo=None, hi=None) -> float:
    """Correlation of the 20 ms log-energy contours of x and y (optionally band-passed)."""
    if lo is not None:
        sos = scipy.signal.butter(4, [lo, hi], "bandpass", fs=fs, output="sos")
        x, y = scipy.signal.sosfilt(sos, x), scipy.signal.sosfilt(sos, y)
    ex = 10 * np.log10((frames_of(x, fs, 0.02, 0.01) ** 2).sum(axis=1) + 1e-10)
    ey = 10 * np.log10((frames_of(y, fs, 0.02, 0.01) ** 2).sum(axis=1) + 1e-10)
    return float(np.corrcoef(ex, ey)[0, 1])


def median_ratio(a: np.ndarray, b: np.ndarray) -> float:
    ok = ~np.isnan(a) & ~np.isnan(b)
    assert ok.sum() > 50, "too few frames measured"
    return float(np.median(b[ok] / a[ok]))


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """{voice: [sentence0, sentence1]} as float64 at 16 kHz, made with espeak-ng."""
    exe = optional_tool("espeak-ng", "Debian package espeak-ng: the test speech")
    d = tmp_path_factory.mktemp("speech")
    out = {}
    for name, voice in VOICES.items():
        out[name] = []
        for i, text in enumerate(SENTENCES):
            path = d / f"{name}{i}.wav"
            subprocess.run([exe, "-v", voice, "-w", str(path), text], check=True,
                           capture_output=True, timeout=60)
            x, fs = read_wav(path)
            g = np.gcd(fs, FS)
            out[name].append(scipy.signal.resample_poly(x, FS // g, fs // g))
    return out


# ---------------------------------------------------------------------------
# length, timing, streaming
@pytest.mark.parametrize("fs,channels", [(8000, 1), (11025, 2), (22050, 1), (44100, 2),
                                         (48000, 3)])
@pytest.mark.parametrize("pitch", [0.0, -2.0])
def test_length_kept_to_the_sample(fs, channels, pitch):
    rng = np.random.default_rng(fs + channels)
    hop = round(fs * 0.01)
    for n in (0, 1, 7, hop - 1, hop + 1, 3 * hop + 5, fs // 3 + 11):
        x = (0.1 * rng.standard_normal((n, channels))).astype(np.float32)
        y = run_blocks(x, fs, [max(1, n // 3), 5], pitch_semitones=pitch)
        assert y.shape == (n, channels) and y.dtype == np.float32


def test_identity_when_nothing_is_changed():
    """alpha = 1 and no pitch shift: the overlap-add reconstructs the input exactly in
    time (a misaligned latency compensation or window would show here)."""
    rng = np.random.default_rng(0)
    for fs in (8000, 16000, 44100):
        x = 0.1 * rng.standard_normal((fs + 123, 2))  # below the output's soft knee (0.9)
        y = run_blocks(x, fs, [1000, 17], mcadams=1.0, pitch_semitones=0.0)
        np.testing.assert_allclose(y, x, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"pitch_semitones": 0.0},
                                     {"pitch_semitones": 3.0, "formant_scale": 1.1}])
def test_output_independent_of_block_sizes(options):
    rng = np.random.default_rng(1)
    fs = 44100
    x = (0.1 * rng.standard_normal((2 * fs + 7, 2))).astype(np.float32)
    ref = run_blocks(x, fs, [x.shape[0]], **options)
    for sizes in ([1024], [1, 7, 3001, 64], [44100, 13]):
        assert np.array_equal(run_blocks(x, fs, sizes, **options), ref), sizes


# McAdams alone: within 1 ms. With the pitch shift: its WSOLA search (6 ms) plus the
# grain's own stretch at its edges (|1 - ratio| x 20 ms, 2.2 ms at -2 semitones)
@pytest.mark.parametrize("fs,options,tol_ms", [(16000, {"pitch_semitones": 0.0}, 1.0),
                                               (16000, {}, 9.0), (48000, {}, 9.0)])
def test_click_track_stays_in_sync(fs, options, tol_ms):
    """Clicks on 'flash frames' (every 9th frame at 25 fps) come out where they went in
    (lip sync is noticed from ~45 ms of audio lead, ITU-R BT.1359)."""
    n = 6 * fs
    rng = np.random.default_rng(2)
    x = 0.002 * rng.standard_normal((n, 2))  # room noise
    clicks = (np.arange(9, 150, 9) * fs // 25).astype(int)
    burst = np.hanning(int(0.002 * fs) | 1)  # 2 ms click
    for c in clicks:
        x[c - burst.size // 2 : c + burst.size // 2 + 1] += 0.8 * burst[:, None]
    y = run_blocks(x, fs, [4096], **options)
    env = np.abs(y).mean(axis=1)
    half = int(0.1 * fs)
    found = np.array([c - half + int(np.argmax(env[c - half : c + half])) for c in clicks])
    err_ms = np.abs(found - clicks) / fs * 1000.0
    assert err_ms.max() <= tol_ms, err_ms


def test_channels_processed_alike():
    rng = np.random.default_rng(3)
    x = 0.1 * rng.standard_normal((20000, 1))
    x3 = np.concatenate([x, x, np.zeros_like(x)], axis=1)
    y = run_blocks(x3, 16000, [3000])
    np.testing.assert_array_equal(y[:, 0], y[:, 1])
    assert np.abs(y[:, 2]).max() == 0.0
    assert np.abs(y[:, 0]).max() > 0.01


def test_nonfinite_input_and_clipping():
    x = np.zeros((16000, 1), np.float32)
    x[4000:8000, 0] = 3.0 * np.sin(np.arange(4000) * 0.3)  # far over full scale
    x[100, 0] = np.nan
    x[200, 0] = np.inf
    y = run_blocks(x, 16000, [1000])
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    assert np.abs(y[4000:8000]).max() > 0.95  # limited, not muted


def test_memory_flat_in_audio_length():
    """Peak traced memory for 60 s of audio is that of 5 s (blocks of 0.1 s)."""
    def peak(seconds: float) -> int:
        anon = VoiceAnonymizer(16000, 1)
        block = (0.1 * np.random.default_rng(4).standard_normal((1600, 1))).astype(np.float32)
        tracemalloc.start()
        for _ in range(int(seconds * 10)):
            anon.process(block)
        anon.flush()
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    short, long = peak(5), peak(60)
    assert long < 1.3 * short + 200_000, (short, long)


# ---------------------------------------------------------------------------
# parameters, seeds, report
def test_seeded_ranges_are_drawn_recorded_and_reproducible():
    rng = np.random.default_rng(5)
    x = 0.1 * rng.standard_normal((8000, 1))
    opts = dict(mcadams=(0.5, 0.9), pitch_semitones=(-3.0, 3.0))
    a, da = anonymize_voice(x, 16000, seed=11, **opts)
    b, db = anonymize_voice(x, 16000, seed=11, **opts)
    c, dc = anonymize_voice(x, 16000, seed=12, **opts)
    assert np.array_equal(a, b) and da == db
    assert 0.5 <= da["mcadams"] <= 0.9 and -3 <= da["pitch_semitones"] <= 3
    assert da["mcadams_range"] == [0.5, 0.9] and da["seed"] == 11
    assert dc["mcadams"] != da["mcadams"] and not np.array_equal(a, c)
    # no seed given: a fresh one is drawn and recorded, and it replays the run
    d, dd = anonymize_voice(x, 16000, **opts)
    assert isinstance(dd["seed"], int)
    e, _ = anonymize_voice(x, 16000, seed=dd["seed"], **opts)
    assert np.array_equal(d, e)


def test_describe_names_method_and_coefficient():
    d = VoiceAnonymizer(48000, 2, mcadams=0.8, pitch_semitones=0.0).describe()
    assert d["method"] == "mcadams-lpc" and d["mcadams"] == 0.8
    assert d["mcadams_range"] is None and d["seed"] is None
    assert d["sample_rate"] == 48000 and d["channels"] == 2 and d["lpc_order"] == 20


@pytest.mark.parametrize("kwargs", [
    dict(mcadams=1.3), dict(mcadams=0.2), dict(mcadams=float("nan")), dict(mcadams="x"),
    dict(mcadams=(0.9, 0.5)), dict(mcadams=(0.5, 1.2)), dict(mcadams=(0.5,)),
    dict(pitch_semitones=13), dict(formant_scale=2.0), dict(seed=-1), dict(lpc_order=2),
    dict(sample_rate=4000), dict(sample_rate=44100.0), dict(channels=0),
])
def test_bad_parameters_are_one_line_input_errors(kwargs):
    args = {"sample_rate": 16000, "channels": 1}
    args.update(kwargs)
    with pytest.raises(InputError) as e:
        VoiceAnonymizer(**args)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 160 and e.value.exit_code == 2


def test_parse_value():
    assert parse_value("mcadams", "0.8") == 0.8
    assert parse_value("mcadams", "0.5:0.9") == (0.5, 0.9)
    assert parse_value("pitch_semitones", "-3, 3") == (-3.0, 3.0)
    for bad in ("abc", "0.5:0.6:0.7", "0.95:0.6", "1.5"):
        with pytest.raises(InputError):
            parse_value("mcadams", bad)


def test_misuse_is_reported():
    anon = VoiceAnonymizer(16000, 2)
    with pytest.raises(ValueError):
        anon.process(np.zeros((10, 3), np.float32))
    with pytest.raises(ValueError):
        anon.process(np.zeros((10, 2), np.int16))
    anon.flush()
    with pytest.raises(RuntimeError):
        anon.process(np.zeros((10, 2), np.float32))


# ---------------------------------------------------------------------------
# what it does to speech (espeak-ng)
@pytest.mark.parametrize("voice", list(VOICES))
def test_pitch_track_moved(speech, voice):
    x = speech[voice][0]
    p0 = pitch_track(x, FS)
    y, _ = anonymize_voice(x, FS)  # defaults: 2 semitones down
    assert abs(median_ratio(p0, pitch_track(y, FS)) - 2 ** (-2 / 12)) < 0.03
    y, _ = anonymize_voice(x, FS, pitch_semitones=3.0)
    assert abs(median_ratio(p0, pitch_track(y, FS)) - 2 ** (3 / 12)) < 0.04
    # McAdams alone leaves the pitch (the LPC residual) where it was
    y, _ = anonymize_voice(x, FS, pitch_semitones=0.0)
    assert abs(median_ratio(p0, pitch_track(y, FS)) - 1.0) < 0.02


@pytest.mark.parametrize("voice", list(VOICES))
def test_formant_envelope_changed(speech, voice):
    x = speech[voice][0]
    f0 = first_formants(x, FS)
    y, _ = anonymize_voice(x, FS)
    f1 = first_formants(y, FS)
    # alpha < 1 raises low formants (angles below 1 rad at 16 kHz, i.e. < 2.5 kHz)
    assert median_ratio(f0[:, 0], f1[:, 0]) > 1.2
    assert median_ratio(f0[:, 1], f1[:, 1]) > 1.03
    # the long-term spectrum changes shape (not only level) below 4 kHz
    f, p0 = scipy.signal.welch(x, FS, nperseg=512)
    _, p1 = scipy.signal.welch(y, FS, nperseg=512)
    band = (f > 100) & (f < 4000)
    d = 10 * np.log10(p1[band] / p0[band])
    assert np.sqrt(np.mean((d - d.mean()) ** 2)) > 3.0
    # a pitch shift alone leaves the formants (the pitch stage's formant move is undone)
    y, _ = anonymize_voice(x, FS, mcadams=1.0, pitch_semitones=-4.0)
    assert 0.9 < median_ratio(f0[:, 0], first_formants(y, FS)[:, 0]) < 1.1  # not 0.79


@pytest.mark.parametrize("voice", list(VOICES))
def test_intelligibility_proxy_kept(speech, voice):
    """What carries the words is kept: the share of energy in the telephone band, every
    band's energy within a bound, and the syllable rhythm (log-energy contours)."""
    x = speech[voice][0]
    y, _ = anonymize_voice(x, FS)
    assert abs(band_share_db(y, FS, 300, 3400) - band_share_db(x, FS, 300, 3400)) < 2.0
    # McAdams moves energy between bands by design (about -11 dB below 1 kHz and
    # +11 dB at 2-4 kHz at alpha 0.7); fricatives (4-7 kHz) must not be lost
    for lo, hi in ((300, 1000), (1000, 2000), (2000, 4000), (4000, 7000)):
        assert abs(band_share_db(y, FS, lo, hi) - band_share_db(x, FS, lo, hi)) < 12.0
        assert envelope_correlation(x, y, FS, lo, hi) > 0.9
    assert envelope_correlation(x, y, FS) > 0.93
    # the proxy can fail: the same speech 120 ms late keeps the spectrum, not the rhythm
    late = np.concatenate([np.zeros(int(0.12 * FS)), x])[: x.size]
    assert envelope_correlation(x, late, FS) < 0.7


@pytest.mark.slow
def test_speaker_encoder_no_longer_links_the_voice(speech, capsys):
    """Pretrained speaker encoder (resemblyzer): the anonymized sentence is further from
    its speaker's other sentence than the two different voices are from each other."""
    resemblyzer = optional_import("resemblyzer", reason="test-only dependency resemblyzer")
    enc = resemblyzer.VoiceEncoder(device="cpu", verbose=False)

    def embed(x):
        return enc.embed_utterance(resemblyzer.preprocess_wav(x.astype(np.float32),
                                                              source_sr=FS))

    e = {v: [embed(s) for s in speech[v]] for v in VOICES}
    between = max(float(e["male"][i] @ e["female"][j]) for i in (0, 1) for j in (0, 1))
    lines = [f"between voices (max of 4 pairs): {between:.3f}"]
    for v in VOICES:
        same = float(e[v][0] @ e[v][1])
        identity = float(embed(anonymize_voice(speech[v][0], FS, mcadams=1.0,
                                               pitch_semitones=0.0)[0]) @ e[v][1])
        vpc = float(embed(anonymize_voice(speech[v][0], FS, mcadams=0.8,
                                          pitch_semitones=0.0)[0]) @ e[v][1])
        anon = float(embed(anonymize_voice(speech[v][0], FS)[0]) @ e[v][1])
        lines.append(f"{v}: same speaker {same:.3f}, untouched {identity:.3f}, "
                     f"McAdams 0.8 alone {vpc:.3f}, default {anon:.3f}")
        assert identity > 0.95  # the encoder does link the untouched voice
        assert anon < between
    with capsys.disabled():
        print("\n[speaker cosine similarity] " + "; ".join(lines))
