#!/usr/bin/env python
"""Reconstruction benchmark of a trained First Order Motion Model (L1, optional AKD/AED).

    python applications/tools/evaluate.py --help

Run with --help for every option and the exit codes; see docs/training.md.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from ppgan_fom.cli import evaluate_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(evaluate_main())
