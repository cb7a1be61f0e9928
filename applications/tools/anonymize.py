#!/usr/bin/env python
"""Anonymize a video: replace every face by an animated target face.

    python applications/tools/anonymize.py --video talk.mp4 --target_face face.png \
        --output talk_anonymized.mp4 [--target_face other.png ...] [--report r.json]

Takes the same model and detector flags as first-order-demo.py (--config --weight_path
--image_size --face_detector --batch_size --cpu ...). Run with --help for every option
and the exit codes; see docs/anonymize.md.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from ppgan_fom.cli import anonymize_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(anonymize_main())
