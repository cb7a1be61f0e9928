"""Voice anonymization on numpy audio blocks (no Paddle, no model, no download).

The McAdams-coefficient method of the VoicePrivacy Challenge baseline (LPC per
frame, pole angles raised to a power alpha, resynthesis from the LPC residual),
with an optional pitch and formant shift, streamed with overlap-add so that memory
stays flat for hours of audio and the output keeps the input's length to the sample.

    from ppgan_fom.voice import VoiceAnonymizer
    anon = VoiceAnonymizer(48000, channels=2, mcadams=(0.5, 0.9), seed=7)
    for block in blocks:                 # (n, 2) float32 in [-1, 1]
        write(anon.process(block))
    write(anon.flush())
    report["voice"] = anon.describe()

docs/voice.md describes what it protects and what it does not.
"""

from .anonymizer import METHOD, VoiceAnonymizer, anonymize_voice
from .params import LIMITS, check_value, parse_value

__all__ = ["VoiceAnonymizer", "anonymize_voice", "METHOD", "LIMITS", "check_value",
           "parse_value"]
