"""``first-order-demo.py`` / ``ppgan-fom-demo``: PaddleGAN's flags mapped onto
:class:`~ppgan_fom.options.AnimateOptions`, then :meth:`FirstOrderPredictor.run`."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from .common import EXIT_CODES, common_flags, run_cli
from .flags import add_option_flags, options_from_args

__all__ = ["demo_parser", "demo_main"]


def demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="first-order-demo.py",
        description="Animate the faces of a photo with the motion of a driving video "
                    "(First Order Motion Model). Writes OUTPUT/FILENAME (MP4, MOV, MKV or "
                    "GIF, by its suffix): frame i at driving frame i's time, with the "
                    "driving video's audio.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    req = p.add_argument_group("inputs")
    req.add_argument("--source_image", required=True, help="photo with one or more faces")
    req.add_argument("--driving_video", required=True,
                     help="video whose face motion drives the photo")
    add_option_flags(p)
    common_flags(p)
    return p


def demo_main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; returns the exit code."""
    def body(args):
        from ..predictor import FirstOrderPredictor

        # models load only once the photo, driving video and output path have passed
        # their checks (and a face was found): bad input fails in well under a second
        predictor = FirstOrderPredictor(options_from_args(args), load_models=False)
        return predictor.run(args.source_image, args.driving_video)

    return run_cli(demo_parser(), argv, body)
