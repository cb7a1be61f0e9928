"""Benchmark the streaming voice anonymizer (ppgan_fom.voice) on this CPU.

Feeds minutes of synthetic speech-like audio (a glottal pulse train with moving
pitch through moving formant resonators, syllable envelopes, pauses and fricative
noise), made block by block, through ``VoiceAnonymizer`` and prints, per
configuration: the real-time factor (processing time / audio time; generating the
audio is not counted) and the process's resident memory at several points, which
stays flat with the audio's length. The CPU-time factor (this process's CPU
seconds / audio seconds) is printed too: on a shared, busy machine it is close to
what the wall time would be on an idle one (all work runs in one thread). Exits 1
when a (wall) real-time factor exceeds ``--budget`` (default 0.1: an hour of audio
in six minutes).

    python benchmarks/bench_voice.py                    # 10 min: 48 kHz stereo, 16 kHz mono
    python benchmarks/bench_voice.py --minutes 2 --config 44100x2 --pitch 0
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ppgan_fom.voice import VoiceAnonymizer  # noqa: E402
from bench_machine import cpu_model  # noqa: E402



def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


class SpeechLike:
    """Endless speech-like test signal, produced in blocks (flat memory)."""

    def __init__(self, fs: int, channels: int, seed: int = 0):
        self.fs, self.channels = fs, channels
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.phase = 0.0
        self.zi = None
        self.formants = (600.0, 1500.0, 2500.0)

    def _resonators(self) -> tuple:
        b, a = np.array([1.0]), np.array([1.0])
        for f, bw in zip(self.formants, (90.0, 120.0, 160.0)):
            r = np.exp(-np.pi * bw / self.fs)
            a = np.convolve(a, [1.0, -2 * r * np.cos(2 * np.pi * f / self.fs), r * r])
        return b, a

    def block(self, n: int) -> np.ndarray:
        fs = self.fs
        t = (self.t + np.arange(n)) / fs
        # new vowel every ~0.25 s
        if self.t // (fs // 4) != (self.t + n) // (fs // 4):
            self.formants = (self.rng.uniform(300, 850), self.rng.uniform(900, 2300),
                             self.rng.uniform(2300, 3200))
        f0 = 120.0 * (1 + 0.15 * np.sin(2 * np.pi * 0.3 * t)) + 20 * np.sin(2 * np.pi * 2.1 * t)
        phase = self.phase + np.cumsum(f0) / fs
        pulses = np.diff(np.floor(np.concatenate(([self.phase], phase)))).astype(float)
        self.phase = phase[-1] % 1.0
        syll = np.sin(np.pi * 4.0 * t) ** 2 * (np.sin(2 * np.pi * 0.11 * t) > -0.6)
        voiced = (np.sin(2 * np.pi * 1.3 * t) > -0.5).astype(float)
        excitation = pulses * voiced + 0.05 * self.rng.standard_normal(n) * (1 - voiced)
        b, a = self._resonators()
        if self.zi is None or self.zi.size != a.size - 1:
            self.zi = np.zeros(a.size - 1)
        y, self.zi = scipy.signal.lfilter(b, a, excitation, zi=self.zi)
        y = y * syll
        y = 0.3 * y / (np.abs(y).max() + 1e-9) if np.abs(y).max() > 0.3 else y
        self.t += n
        out = np.repeat(y[:, None], self.channels, axis=1)
        out[:, 1:] *= 0.8
        out += 1e-3 * self.rng.standard_normal(out.shape)  # room noise, differs per channel
        return out.astype(np.float32)


def run(fs: int, channels: int, minutes: float, block_s: float, options: dict) -> dict:
    gen = SpeechLike(fs, channels)
    anon = VoiceAnonymizer(fs, channels, **options)
    total = int(minutes * 60 * fs)
    block = int(block_s * fs)
    done, spent, cpu, out_len = 0, 0.0, 0.0, 0
    marks, next_mark = [], total // 4
    while done < total:
        x = gen.block(min(block, total - done))
        t0, c0 = time.perf_counter(), time.process_time()
        out_len += anon.process(x).shape[0]
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        done += x.shape[0]
        if done >= next_mark:
            marks.append((done / fs / 60.0, rss_mb()))
            next_mark += total // 4
    t0, c0 = time.perf_counter(), time.process_time()
    out_len += anon.flush().shape[0]
    spent += time.perf_counter() - t0
    cpu += time.process_time() - c0
    assert out_len == total, (out_len, total)
    return {"rtf": spent / (total / fs), "seconds": spent, "cpu_rtf": cpu / (total / fs),
            "rss": marks,
            "describe": anon.describe()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio per configuration")
    parser.add_argument("--config", action="append", default=None,
                        help="RATExCHANNELS, repeatable (default: 48000x2 and 16000x1)")
    parser.add_argument("--block", type=float, default=1024 / 48000,
                        help="block length in seconds fed per call (default ~21 ms, an AAC frame)")
    parser.add_argument("--pitch", type=float, default=None,
                        help="pitch shift in semitones (default: the anonymizer's)")
    parser.add_argument("--mcadams", type=float, default=None)
    parser.add_argument("--budget", type=float, default=0.1, help="max real-time factor")
    args = parser.parse_args()

    options = {}
    if args.pitch is not None:
        options["pitch_semitones"] = args.pitch
    if args.mcadams is not None:
        options["mcadams"] = args.mcadams
    configs = args.config or ["48000x2", "16000x1"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}; block {args.block * 1000:.1f} ms")
    worst = 0.0
    for cfg in configs:
        fs, ch = (int(v) for v in cfg.lower().split("x"))
        res = run(fs, ch, args.minutes, args.block, options)
        d = res["describe"]
        worst = max(worst, res["rtf"])
        rss = ", ".join(f"{m:.1f} min: {r:.0f} MB" for m, r in res["rss"])
        print(f"{fs} Hz x{ch}: {args.minutes:g} min of audio in {res['seconds']:.1f} s, "
              f"real-time factor {res['rtf']:.4f} wall, {res['cpu_rtf']:.4f} CPU "
              f"(mcadams {d['mcadams']}, pitch {d['pitch_semitones']} st, "
              f"LPC order {d['lpc_order']}); RSS {rss}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end")
    if worst > args.budget:
        print(f"FAIL: real-time factor {worst:.4f} > budget {args.budget}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
