#!/usr/bin/env python
"""Animate every face in a photo with a driving video (PaddleGAN's flags and defaults).

    python applications/tools/first-order-demo.py --driving_video D --source_image S \
        --ratio 0.4 --relative --adapt_scale [--multi_person]

Run with --help for every option and the exit codes.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from ppgan_fom.cli import demo_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(demo_main())
