"""``app.py`` / ``ppgan-fom-app``: the web app's flags (address, limits, and the model
flags of the other command lines), then :func:`ppgan_fom.app.server.serve`."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from .common import EXIT_CODES, common_flags, run_cli
from .flags import add_option_flags, options_from_args

__all__ = ["app_parser", "app_main"]


def app_parser() -> argparse.ArgumentParser:
    """The ``app.py`` argument parser."""
    p = argparse.ArgumentParser(
        prog="app.py",
        description="Web app: animate the faces of a photo with a driving video, or "
                    "anonymize the faces of a recorded video, in the browser. Open the "
                    "printed address (http://127.0.0.1:7860 by default). Needs the 'app' "
                    "extra: pip install -e \".[app]\". See docs/app.md.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    srv = p.add_argument_group("server")
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1, this computer only; "
                          "0.0.0.0 serves the local network)")
    srv.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    srv.add_argument("--share", action="store_true",
                     help="also create a temporary public link (Gradio's share service; "
                          "needs internet)")
    srv.add_argument("--max_upload_mb", type=float, default=200.0,
                     help="largest upload, in MB (default: 200)")
    srv.add_argument("--max_video_seconds", type=float, default=120.0,
                     help="longest video accepted, in seconds (default: 120)")
    srv.add_argument("--keep_minutes", type=float, default=60.0,
                     help="results and uploads are deleted after this many minutes, and "
                          "all of them when the server stops (default: 60)")
    srv.add_argument("--tmp_dir", default=None,
                     help="where the server keeps its temp files (default: the system temp "
                          "dir)")
    # the server's models: chosen at start-up (loaded once); each job picks its own
    # motion and paste options on the page
    add_option_flags(p, groups=("model", "faces"), skip=("multi_person", "ratio"))
    add_option_flags(p, groups=("io",), skip=("output", "filename"))
    common_flags(p)
    return p


def app_main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the web app until interrupted; returns the exit code."""
    def body(args: argparse.Namespace):
        from ..app.limits import Limits
        from ..app.server import ServerSettings, serve

        settings = ServerSettings(host=args.host, port=args.port, share=args.share,
                                  limits=Limits(args.max_upload_mb, args.max_video_seconds),
                                  keep_minutes=args.keep_minutes, tmp_dir=args.tmp_dir)
        serve(options_from_args(args), settings)

    return run_cli(app_parser(), argv, body)
