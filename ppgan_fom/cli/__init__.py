"""Command lines: each maps argv onto the options dataclasses and calls the Python API.

Exit codes: 0 success; 1 runtime failure; 2 bad arguments or input. Errors print one
line, ``error: <message>``; ``--debug`` adds the traceback (docs/errors.md).
"""

from .anonymize import anonymize_main
from .common import EXIT_CODES, run_cli
from .convert import convert_main
from .demo import demo_main
from .evaluate import evaluate_main
from .train import train_main

__all__ = ["EXIT_CODES", "run_cli", "demo_main", "anonymize_main", "train_main",
           "evaluate_main", "convert_main"]
