"""``python -m ppgan_fom.convert``: original FOMM ``.pth.tar`` -> PaddleGAN ``.pdparams``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from .common import common_flags, run_cli

__all__ = ["convert_parser", "convert_main"]


def convert_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ppgan_fom.convert",
                                description="Convert an original FOMM .pth.tar checkpoint to "
                                            "PaddleGAN's .pdparams layout.")
    p.add_argument("src", type=Path, help="original checkpoint, e.g. vox-cpk.pth.tar")
    p.add_argument("dst", type=Path, help="output .pdparams")
    p.add_argument("--config", default="vox-256",
                   help="preset name or YAML (PaddleGAN or original layout) the weights are for")
    common_flags(p)
    return p


def convert_main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the converter; returns the exit code."""
    def body(args: argparse.Namespace) -> str:
        from ..convert import convert_checkpoint

        return str(convert_checkpoint(args.src, args.dst, args.config))

    return run_cli(convert_parser(), argv, body)
