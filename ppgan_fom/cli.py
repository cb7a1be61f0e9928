"""Command-line entry points. They only map argv to :class:`AnimateOptions` and call the API.

Exit codes: 0 success; 1 runtime failure (e.g. the video writer died, disk full, Ctrl-C,
an unexpected internal error); 2 bad arguments or input (missing / unreadable file, no
face, bad weights, output not writable). Errors print one line, ``error: <message>``,
naming the file and the problem; ``--debug`` also prints the traceback. The API raises
the typed exceptions of :mod:`ppgan_fom.errors`, which carry these exit codes. Every
failure behaviour is listed in docs/errors.md.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import traceback
import warnings
from typing import Callable, Optional, Sequence

from .deps import MissingDependencyError, require
from .errors import FomError
from .options import add_option_flags, options_from_args

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

EXIT_CODES = """exit codes:
  0  success
  1  runtime failure: encoder/writer failure, disk full, interrupted with Ctrl-C,
     out of memory, unexpected internal error
  2  bad arguments or input: missing/unreadable/truncated file, no face found,
     weights missing/corrupt/mismatched/unsafe, output not writable or equal to an input

Errors print one line, "error: <message>", naming the file and the problem; --debug
also prints the traceback. On any failure nothing is left at the output path (the
result is written to a hidden temporary file that is renamed into place only when
complete) and the inputs are never modified. See docs/errors.md.
"""


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks and debug logging")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")


def _one_line(text: str) -> str:
    """Collapse a message to one line (messages are one line already; this is a guard)."""
    return " | ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return code


def _run(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
         body: Callable[[argparse.Namespace], object], *,
         interrupted: str = "interrupted; no output was written",
         memory_hint: str = "try a smaller --batch_size or --image_size, or a smaller "
                            "photo") -> int:
    """Parse ``argv``, run ``body(args)`` and map every failure to a one-line message and
    an exit code (see :data:`EXIT_CODES`). Argument errors exit with 2 (argparse).
    ``interrupted`` / ``memory_hint`` word the Ctrl-C and out-of-memory messages."""
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    if not args.debug:  # paddle's import-time notice about a C++ build cache is noise here
        warnings.filterwarnings("ignore", message="No ccache found")
    try:
        require()  # Paddle and OpenCV are not core requirements: one line if absent
        result = body(args)
    except FomError as exc:
        return _fail(args, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail(args, interrupted, EXIT_FAILURE)
    except MemoryError:
        return _fail(args, f"out of memory; {memory_hint}", EXIT_FAILURE)
    except OSError as exc:  # not mapped by the API, e.g. a full disk outside the writer
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return _fail(args, f"no space left on device{where}", EXIT_FAILURE)
        return _fail(args, f"{exc.strerror or exc}{where} (run with --debug for the "
                           f"traceback)", EXIT_FAILURE)
    except Exception as exc:  # a bug: still one line, traceback with --debug
        detail = _one_line(str(exc))[:300] or "no message"
        return _fail(args, f"unexpected {type(exc).__name__}: {detail} (this is a bug; "
                           f"run with --debug for the traceback)", EXIT_FAILURE)
    if result is not None:
        print(result)
    return EXIT_OK


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

        # models load only once the photo, driving video and output path have passed
        # their checks (and a face was found): bad input fails in well under a second
        predictor = FirstOrderPredictor(options_from_args(args), load_models=False)
        return predictor.run(args.source_image, args.driving_video)

    return _run(demo_parser(), argv, body)


def anonymize_main(argv: Optional[Sequence[str]] = None) -> int:
    """``anonymize.py`` / ``ppgan-fom-anonymize``."""
    try:
        require()  # before importing the tool, which needs OpenCV at import time
    except MissingDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    from .anonymize import anonymize_cli

    return anonymize_cli(argv, _run, _common_flags)
