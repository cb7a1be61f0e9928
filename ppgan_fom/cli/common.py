"""What every command line shares: the runner (one-line errors, exit codes, logging),
``--debug`` / ``--quiet``, and old flag spellings kept for one release.

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
import faulthandler
import logging
import os
import signal
import sys
import traceback
import warnings
from typing import Callable, Optional, Sequence

from ..deps import require
from ..errors import FomError
from ..progress import ENV_PROGRESS

logger = logging.getLogger("ppgan_fom.cli")

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_BAD_INPUT", "EXIT_CODES", "common_flags",
           "run_cli", "add_deprecated_spelling", "add_dashed_alias_flag"]

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


def common_flags(parser: argparse.ArgumentParser) -> None:
    """``--debug`` and ``--quiet`` (the latter also hides progress bars)."""
    g = parser.add_argument_group("logging")
    g.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    g.add_argument("--quiet", action="store_true",
                   help="only warnings and errors, no progress bars")


#: parser -> {old spelling: new spelling}
_DEPRECATED: dict = {}


def add_deprecated_spelling(parser: argparse.ArgumentParser, group, new: str, old: str,
                            **kwargs) -> None:
    """Add flag ``new`` that also accepts its former spelling ``old`` (marked deprecated
    in ``--help``; using it logs a warning). ``kwargs`` as for ``add_argument``."""
    kwargs["help"] = f"{kwargs.get('help', '')} ({old}: former spelling, deprecated)".strip()
    group.add_argument(new, old, **kwargs)
    _DEPRECATED.setdefault(id(parser), {})[old] = new


def add_dashed_alias_flag(parser: argparse.ArgumentParser, group, name: str,
                          **kwargs) -> None:
    """``--snake_case`` flag that also takes its former ``--dashed-spelling``."""
    add_deprecated_spelling(parser, group, name, name.replace("_", "-"), **kwargs)


def _warn_deprecated(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    table = _DEPRECATED.get(id(parser), {})
    for token in argv:
        if token == "--":
            break
        flag = token.split("=", 1)[0]
        if flag in table:
            logger.warning("%s is deprecated and will be removed in the next release; "
                           "use %s", flag, table[flag])


def _one_line(text: str) -> str:
    """Collapse a message to one line (messages are one line already; this is a guard)."""
    return " | ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions ``exc`` was raised while
    handling (e.g. ``ImportError: initialization failed`` after Ctrl-C in an import)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return code


def run_cli(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
         body: Callable[[argparse.Namespace], object], *,
         interrupted: str = "interrupted; no output was written",
         memory_hint: str = "try a smaller --batch_size or --image_size, or a smaller "
                            "photo") -> int:
    """Parse ``argv``, run ``body(args)`` and map every failure to a one-line message and
    an exit code (see :data:`EXIT_CODES`). Argument errors exit with 2 (argparse).
    ``interrupted`` / ``memory_hint`` word the Ctrl-C and out-of-memory messages."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    if args.quiet:
        os.environ[ENV_PROGRESS] = "0"
    if args.debug:  # FFmpeg's own messages too
        logging.getLogger("libav").setLevel(logging.DEBUG)
    else:  # paddle's import-time notice about a C++ build cache is noise here
        warnings.filterwarnings("ignore", message="No ccache found")
    _warn_deprecated(parser, argv)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints every thread's stack (a hang)
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
        except (AttributeError, ValueError, OSError):  # stderr is not a file (captured)
            pass
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
        if _caused_by_interrupt(exc):  # Ctrl-C inside an import or a finaliser
            return _fail(args, interrupted, EXIT_FAILURE)
        detail = _one_line(str(exc))[:300] or "no message"
        return _fail(args, f"unexpected {type(exc).__name__}: {detail} (this is a bug; "
                           f"run with --debug for the traceback)", EXIT_FAILURE)
    if result is not None:
        print(result)
    return EXIT_OK
