#!/usr/bin/env python
"""Train or fine-tune the First Order Motion Model on your own videos.

    python applications/tools/train.py --help

Run with --help for every option and the exit codes; see docs/training.md.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from ppgan_fom.cli import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main())
