"""Command line: print the faces found in image files.

    python -m faceutils photo.jpg [more.jpg ...] [--detector s3fd] [--tiles 2] [--crop-boxes]

One line per face: ``file x1 y1 x2 y2 score`` (or the square crop box with
``--crop-boxes``). A bad file ends the run with a one-line error naming it and
exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from ppgan_fom.deps import require
from ppgan_fom.errors import FomError

from ppgan_fom.geometry.boxes import DEFAULT_MARGIN, face_crop_boxes
from .files import read_rgb
from .registry import available_detectors, create_detector


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m faceutils",
                                     description="Find the faces in images.")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--detector", choices=available_detectors(), default=None,
                        help="detector (default: blazeface, needs no download)")
    parser.add_argument("--tiles", type=int, default=None, help="BlazeFace tile grid (n x n)")
    parser.add_argument("--crop-boxes", action="store_true",
                        help=f"print square crop boxes (margin {DEFAULT_MARGIN}) instead")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the detector used")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    detector = None
    try:
        require()  # Paddle / OpenCV missing: one line with the install command
        for path in args.images:
            image = read_rgb(path)  # a bad file fails before any model is loaded
            if detector is None:
                options = {} if args.tiles is None else {"tiles": args.tiles}
                detector = create_detector(args.detector, **options)
            dets = detector.detect(image)
            rows = face_crop_boxes(dets, image.shape) if args.crop_boxes else dets
            if len(rows) == 0:
                print(f"{path}: no face")
            for row in rows:
                if args.crop_boxes:
                    print(path, *(int(v) for v in row))
                else:
                    print(path, *(f"{v:.1f}" for v in row[:4]), f"{row[4]:.3f}")
    except FomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
