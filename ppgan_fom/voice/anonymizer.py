"""``VoiceAnonymizer``: the streaming voice anonymizer the CLI and library use.

Pipeline per run (one coefficient set for the whole recording):

1. optional pitch/formant shift by ``ratio = 2 ** (pitch_semitones / 12)``
   (``pitch.PitchShiftStage``; skipped when the shift is 0);
2. McAdams transform on 20 ms sqrt-Hann frames every 10 ms (``mcadams.py``) with
   overlap-add (``ola.OverlapAddStage``); its pole mapping divides by ``ratio`` first,
   so step 1 moves the pitch only, then applies ``alpha`` and ``formant_scale``.

Output sample t corresponds to input sample t and the concatenated output of
``process`` + ``flush`` has exactly the input's length. Memory is bounded by the
block size fed in plus ~0.4 s of audio, whatever the length of the recording.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ..errors import InputError
from .mcadams import McAdamsTransform, default_lpc_order
from .ola import OverlapAddStage, sqrt_hann
from .params import Value, check_value, draw, new_seed, optional_seed
from .pitch import PitchShiftStage

__all__ = ["VoiceAnonymizer", "anonymize_voice", "METHOD", "DEFAULT_MCADAMS",
           "DEFAULT_PITCH_SEMITONES"]

logger = logging.getLogger(__name__)

METHOD = "mcadams-lpc"
FRAME_MS = 20.0  # analysis window, as the VoicePrivacy baseline
HOP_MS = 10.0
MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 64
# Defaults: the McAdams coefficient alone (0.8, the 2020 baseline) left espeak-ng voices
# closer to their own speaker than two different voices are to each other for a
# pretrained speaker encoder; 0.7 with the pitch 2 semitones down did not (docs/voice.md)
DEFAULT_MCADAMS = 0.7
DEFAULT_PITCH_SEMITONES = -2.0


class VoiceAnonymizer:
    """Streaming McAdams voice anonymizer for one recording.

    Args:
        sample_rate: Hz, 8000..192000.
        channels: 1..64; channels are processed independently with the same
            coefficients.
        mcadams: McAdams coefficient alpha in 0.5..1.0 (1.0 = unchanged; default
            0.7), or a (low, high) range to draw it from once per run.
        pitch_semitones: pitch shift in -12..12 semitones (0 = off; default -2),
            or a range. Formants are not moved by it.
        formant_scale: extra factor on all formant frequencies, 0.7..1.4 (1 = off).
        seed: seeds the draws; when any value is a range and seed is None a fresh
            seed is taken from the OS and recorded in ``describe()``.
        lpc_order: LPC order (default: ``default_lpc_order(sample_rate)``, 20 at 16 kHz).

    ``process(block)`` takes (n, channels) float32/float64 samples in [-1, 1] (or (n,)
    for mono) and returns the float32 (m, channels) samples that are final; m is not
    n (the first ~0.3 s are held back). ``flush()`` returns the rest. Non-finite
    input samples are treated as 0; samples beyond +-0.9 go through a soft knee that
    keeps the output within [-1, 1].
    """

    def __init__(self, sample_rate: int, channels: int = 1, mcadams: Value = DEFAULT_MCADAMS,
                 pitch_semitones: Value = DEFAULT_PITCH_SEMITONES, formant_scale: Value = 1.0,
                 seed: Optional[int] = None, lpc_order: Optional[int] = None):
        if (isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer))
                or not MIN_RATE <= sample_rate <= MAX_RATE):
            raise InputError(f"voice: sample rate {sample_rate!r} Hz is not supported "
                             f"(an integer {MIN_RATE}..{MAX_RATE})")
        if (isinstance(channels, bool) or not isinstance(channels, (int, np.integer))
                or not 1 <= channels <= MAX_CHANNELS):
            raise InputError(f"voice: channel count {channels!r} is not supported "
                             f"(1..{MAX_CHANNELS})")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._spec = {"mcadams": check_value("mcadams", mcadams),
                      "pitch_semitones": check_value("pitch_semitones", pitch_semitones),
                      "formant_scale": check_value("formant_scale", formant_scale)}
        seed = optional_seed(seed)
        if seed is None and any(isinstance(v, tuple) for v in self._spec.values()):
            seed = new_seed()
        self.seed = seed
        rng = np.random.default_rng(seed)
        # fixed draw order: a seed always gives the same three values
        self.mcadams = draw(self._spec["mcadams"], rng)
        self.pitch_semitones = draw(self._spec["pitch_semitones"], rng)
        self.formant_scale = draw(self._spec["formant_scale"], rng)
        ratio = 2.0 ** (self.pitch_semitones / 12.0)
        if lpc_order is None:
            lpc_order = default_lpc_order(self.sample_rate, ratio)
        if isinstance(lpc_order, bool) or not isinstance(lpc_order, (int, np.integer)) \
                or not 4 <= lpc_order <= 64:
            raise InputError(f"voice: LPC order {lpc_order!r} must be an integer 4..64")
        self.lpc_order = int(lpc_order)

        self.pitch_ratio = ratio
        self._pitch = (PitchShiftStage(self.sample_rate, self.channels, ratio)
                       if self.pitch_semitones != 0.0 else None)
        hop = max(4, int(round(self.sample_rate * HOP_MS / 1000.0)))
        transform = McAdamsTransform(self.sample_rate, sqrt_hann(2 * hop), self.lpc_order,
                                     self.mcadams, pre_scale=ratio,
                                     post_scale=self.formant_scale)
        self._frames = OverlapAddStage(hop, self.channels, transform)
        self._in_count = 0
        self._out_count = 0
        self._flushed = False
        logger.debug("voice anonymizer: %s", self.describe())

    def describe(self) -> dict:
        """What the run does, for the JSON report: method, the coefficients used
        (drawn values when ranges were given), the ranges, the seed and the framing."""
        spec = {k: (list(v) if isinstance(v, tuple) else None) for k, v in self._spec.items()}
        return {
            "method": METHOD,
            "reference": "VoicePrivacy Challenge B2 baseline (McAdams coefficient, "
                         "Patino et al. 2021)",
            "mcadams": round(self.mcadams, 6),
            "mcadams_range": spec["mcadams"],
            "pitch_semitones": round(self.pitch_semitones, 6),
            "pitch_semitones_range": spec["pitch_semitones"],
            "formant_scale": round(self.formant_scale, 6),
            "formant_scale_range": spec["formant_scale"],
            "seed": self.seed,
            "lpc_order": self.lpc_order,
            "frame_ms": FRAME_MS,
            "hop_ms": HOP_MS,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }

    def process(self, block: np.ndarray) -> np.ndarray:
        """Anonymize the next block; returns the (m, channels) float32 samples that
        became final (see the class docstring)."""
        if self._flushed:
            raise RuntimeError("VoiceAnonymizer.process() after flush()")
        x = self._as_block(block)
        self._in_count += x.shape[0]
        if self._pitch is not None:
            x = self._pitch.push(x)
        return self._emit(self._frames.push(x))

    def flush(self) -> np.ndarray:
        """The remaining samples; after this the outputs add up to the input length."""
        if self._flushed:
            raise RuntimeError("VoiceAnonymizer.flush() called twice")
        self._flushed = True
        parts = []
        if self._pitch is not None:
            parts.append(self._frames.push(self._pitch.finish()))
        parts.append(self._frames.finish())
        out = self._emit(np.concatenate(parts, axis=0))
        if self._out_count != self._in_count:  # a broken invariant, not bad input
            raise RuntimeError(f"voice: {self._out_count} samples out for {self._in_count} in")
        return out

    def _as_block(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block)
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"voice: expected a (n, {self.channels}) block, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"voice: expected float samples in [-1, 1], got {x.dtype}")
        x = x.astype(np.float64)
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        return x

    def _emit(self, y: np.ndarray) -> np.ndarray:
        self._out_count += y.shape[0]
        return _soft_limit(y).astype(np.float32)


_KNEE = 0.9


def _soft_limit(y: np.ndarray) -> np.ndarray:
    """Keep samples within [-1, 1]: unchanged up to 0.9, a tanh knee above. The new
    envelope changes the waveform's crest factor, so a loud input (peaks near full
    scale) can overshoot by ~1 dB on rare samples; a knee distorts them less than
    hard clipping would. Memoryless, so it cannot break the sample alignment."""
    mag = np.abs(y)
    over = mag > _KNEE
    if not over.any():
        return y
    out = y.copy()
    soft = _KNEE + (1.0 - _KNEE) * np.tanh((mag[over] - _KNEE) / (1.0 - _KNEE))
    out[over] = np.sign(y[over]) * soft
    return out


def anonymize_voice(samples: np.ndarray, sample_rate: int, block: int = 65536,
                    **options) -> "tuple[np.ndarray, dict]":
    """Anonymize a whole in-memory signal: (n,) or (n, channels) float in [-1, 1].

    Returns (output with the input's shape, float32; ``describe()`` of the run).
    ``options`` are ``VoiceAnonymizer``'s keyword arguments.
    """
    x = np.asarray(samples)
    mono = x.ndim == 1
    x2 = x[:, None] if mono else x
    anon = VoiceAnonymizer(sample_rate, x2.shape[1], **options)
    outs = [anon.process(x2[i : i + block]) for i in range(0, x2.shape[0], block)]
    outs.append(anon.flush())
    y = np.concatenate(outs, axis=0)
    return (y[:, 0] if mono else y), anon.describe()
