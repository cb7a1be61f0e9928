"""Ctrl-C in the command lines: an interrupt that surfaces as another exception (Python
turns a KeyboardInterrupt inside an import into ``ImportError: initialization failed``)
is still reported as an interrupt, not as a bug."""

from __future__ import annotations

import argparse

from ppgan_fom.cli.common import common_flags, run_cli


def _run(body):
    parser = argparse.ArgumentParser(prog="tool")
    common_flags(parser)
    return run_cli(parser, [], body)


def test_ctrl_c_during_an_import_is_reported_as_an_interrupt(capsys):
    def body(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # what a module's import does to it
            raise ImportError("initialization failed")

    assert _run(body) == 1
    assert capsys.readouterr().err.strip() == "error: interrupted; no output was written"


def test_other_bugs_are_still_reported_as_bugs(capsys):
    def body(args):
        raise ImportError("initialization failed")

    assert _run(body) == 1
    assert "unexpected ImportError: initialization failed" in capsys.readouterr().err
