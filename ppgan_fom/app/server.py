"""Start the web app: models first (a server with missing weights stops at start-up
with one line), then the temp root, then the page; the temp root is removed when the
server stops (Ctrl-C, SIGTERM, or an error)."""

from __future__ import annotations

import logging
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

from ..deps import MissingDependencyError
from ..options import AnimateOptions
from ..progress import ENV_PROGRESS
from .jobs import AppContext
from .limits import Limits
from .models import AppModels
from .workspace import Workspace

logger = logging.getLogger(__name__)

__all__ = ["ServerSettings", "serve", "require_gradio"]

GRADIO_HINT = ('the web app needs Gradio (no module named \'gradio\'); install it with: '
               'pip install "ppgan-fom[app]" (or pip install -e ".[app]" in a checkout)')


@dataclass(frozen=True)
class ServerSettings:
    """Where and how the page is served.

    Attributes:
        host, port: the address to listen on (127.0.0.1: this computer only).
        share: also open a temporary public link through Gradio's share service.
        limits: upload limits.
        keep_minutes: results and uploads older than this are deleted.
        tmp_dir: where the server's temp root is made (default: the system temp dir).
    """

    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    limits: Limits = Limits()
    keep_minutes: float = 60.0
    tmp_dir: Optional[str] = None


def require_gradio() -> None:
    """Raise :class:`MissingDependencyError` (one line, the install command) when Gradio
    is not installed."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise MissingDependencyError(GRADIO_HINT, name="gradio")


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) stops the server like Ctrl-C, so that the
    temp root is removed."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(options: AnimateOptions, settings: ServerSettings = ServerSettings()) -> None:
    """Load the models, build the page and serve it until interrupted.

    Raises:
        MissingDependencyError: Gradio is not installed.
        WeightsError / InputError: the models cannot be loaded (e.g. weights missing
            offline), before anything is served.
    """
    require_gradio()
    # no usage statistics are sent anywhere (the app handles people's faces)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up checks
    # progress goes to the page; text bars in the server's log would only be noise
    os.environ.setdefault(ENV_PROGRESS, "0")
    models = AppModels(options)
    keep = max(1, int(settings.keep_minutes * 60))
    with Workspace(settings.tmp_dir, keep_seconds=keep) as workspace:
        # Gradio keeps uploads (and serves results) in its upload folder: ours
        os.environ["GRADIO_TEMP_DIR"] = str(workspace.cache)
        from .ui import CSS, build_ui

        ctx = AppContext(models, workspace, settings.limits)
        demo = build_ui(ctx, keep_seconds=keep)
        demo.queue(default_concurrency_limit=1)
        logger.info("temp files in %s", workspace.root)
        with _sigterm_stops():
            demo.launch(server_name=settings.host, server_port=settings.port,
                        share=settings.share, max_file_size=settings.limits.max_upload_bytes,
                        ssr_mode=False, show_error=False, css=CSS, footer_links=[],
                        allowed_paths=[], quiet=False)
