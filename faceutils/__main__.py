"""Command line: print the faces found in image files.

    python -m faceutils photo.jpg [more.jpg ...] [--detector s3fd] [--tiles 2] [--crop_boxes]

One line per face: ``file x1 y1 x2 y2 score`` (or the square crop box with
``--crop_boxes``). A bad file ends the run with a one-line error naming it and exit
status 2 (the project's command-line conventions, docs/errors.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ppgan_fom.cli.common import add_deprecated_spelling, common_flags, run_cli
from ppgan_fom.geometry.boxes import DEFAULT_MARGIN, face_crop_boxes

from .files import read_rgb
from .registry import available_detectors


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m faceutils", description="Find the faces in images.")
    p.add_argument("images", nargs="+", help="image files")
    g = p.add_argument_group("detection")
    g.add_argument("--detector", choices=available_detectors(), default=None,
                   help="detector (default: blazeface, needs no download)")
    g.add_argument("--tiles", type=int, default=None, help="BlazeFace tile grid (n x n)")
    add_deprecated_spelling(p, g, "--crop_boxes", "--crop-boxes", action="store_true",
                            help=f"print square crop boxes (margin {DEFAULT_MARGIN}) instead")
    common_flags(p)
    return p


def _detect(args: argparse.Namespace) -> str:
    from ppgan_fom.pipeline import create_detector

    detector, lines = None, []
    for path in args.images:
        image = read_rgb(path)  # a bad file fails before any model is loaded
        if detector is None:
            options = {} if args.tiles is None else {"tiles": args.tiles}
            detector = create_detector(args.detector, **options)
        dets = detector.detect(image)
        rows = face_crop_boxes(dets, image.shape) if args.crop_boxes else dets
        if len(rows) == 0:
            lines.append(f"{path}: no face")
        for row in rows:
            lines.append(" ".join([str(path), *(str(int(v)) for v in row)]) if args.crop_boxes
                         else " ".join([str(path), *(f"{v:.1f}" for v in row[:4]),
                                        f"{row[4]:.3f}"]))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    return run_cli(parser(), argv, _detect)


if __name__ == "__main__":
    sys.exit(main())
