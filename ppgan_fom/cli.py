"""Command-line entry points. They only map argv to :class:`AnimateOptions` and call the API.

Exit codes: 0 success; 1 runtime failure (e.g. the video writer died, Ctrl-C);
2 bad arguments or input (missing / unreadable file, no face, bad weights, output
not writable). Errors print one line, ``error: <message>``; ``--debug`` also prints
the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from typing import Callable, Optional, Sequence

from .errors import FomError
from .options import add_option_flags, options_from_args

EXIT_CODES = """exit codes:
  0  success
  1  runtime failure (encoder/writer failure, interrupted with Ctrl-C)
  2  bad arguments or input: missing/unreadable/truncated file, no face found,
     weights missing/corrupt/mismatched, output not writable or equal to an input
"""


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks and debug logging")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")


def _run(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
         body: Callable[[argparse.Namespace], object]) -> int:
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    try:
        result = body(args)
    except FomError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; try a smaller --batch_size or --image_size",
              file=sys.stderr)
        return 1
    if result is not None:
        print(result)
    return 0


def demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="first-order-demo.py",
        description="Animate the faces of a photo with the motion of a driving video "
                    "(First Order Motion Model). Writes OUTPUT/FILENAME with the driving "
                    "video's fps and audio.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    req = p.add_argument_group("inputs")
    req.add_argument("--source_image", required=True, help="photo with one or more faces")
    req.add_argument("--driving_video", required=True,
                     help="video whose face motion drives the photo")
    add_option_flags(p)
    _common_flags(p)
    return p


def demo_main(argv: Optional[Sequence[str]] = None) -> int:
    """``first-order-demo.py`` / ``ppgan-fom-demo``."""
    def body(args):
        from .predictor import FirstOrderPredictor

        predictor = FirstOrderPredictor(options_from_args(args))
        return predictor.run(args.source_image, args.driving_video)

    return _run(demo_parser(), argv, body)


def anonymize_main(argv: Optional[Sequence[str]] = None) -> int:
    """``anonymize.py`` / ``ppgan-fom-anonymize``."""
    from .anonymize import anonymize_cli

    return anonymize_cli(argv, _run, _common_flags)
