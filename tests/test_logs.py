"""``ppgan_fom.log_to_stderr()``: the documented one-liner that shows the library's log
messages (in a notebook as in a terminal), each once, wherever stderr points."""

from __future__ import annotations

import contextlib
import io
import logging

import pytest


@pytest.fixture
def clean_loggers():
    from ppgan_fom.logs import LOGGERS

    saved = [(logging.getLogger(n), logging.getLogger(n).level,
              list(logging.getLogger(n).handlers), logging.getLogger(n).propagate)
             for n in LOGGERS]
    yield
    for lg, level, handlers, propagate in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate


def test_log_to_stderr_shows_each_message_once(clean_loggers):
    import ppgan_fom

    root_seen = io.StringIO()
    root = logging.getLogger()
    saved_root = list(root.handlers), root.level  # earlier tests configured the root
    root.setLevel(logging.INFO)
    root.handlers[:] = [logging.StreamHandler(root_seen)]  # like the one `import paddle` adds
    try:
        handler = ppgan_fom.log_to_stderr()
        assert ppgan_fom.log_to_stderr("debug") is handler  # idempotent, one handler
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):  # a notebook cell's stream, say
            logging.getLogger("ppgan_fom.predictor").info("5 face(s) found in x.jpg")
            logging.getLogger("faceutils.blazeface").debug("detector ready")
            logging.getLogger("other.library").info("not ours")
        lines = buf.getvalue().splitlines()
        assert lines == ["INFO ppgan_fom.predictor: 5 face(s) found in x.jpg",
                         "DEBUG faceutils.blazeface: detector ready"]
        assert "face(s) found" not in root_seen.getvalue()  # not shown a second time
        assert "not ours" in root_seen.getvalue()  # other libraries' logging is untouched
        assert len(logging.getLogger("ppgan_fom").handlers) == 1
        ppgan_fom.log_to_stderr(logging.WARNING)
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            logging.getLogger("ppgan_fom.x").info("hidden")
            logging.getLogger("ppgan_fom.x").warning("shown")
        assert buf.getvalue().splitlines() == ["WARNING ppgan_fom.x: shown"]
        with pytest.raises(ValueError, match="unknown logging level"):
            ppgan_fom.log_to_stderr("loud")
    finally:
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
