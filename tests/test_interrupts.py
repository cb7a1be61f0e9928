"""Ctrl-C while Paddle Inference runs takes effect when the graph run ends (no
KeyboardInterrupt inside native code; see ``static_graphs.interrupts_deferred``)."""

from __future__ import annotations

import signal
import threading

import pytest

from ppgan_fom.static_graphs import Predictor, interrupts_deferred


def test_interrupt_inside_the_block_is_raised_when_it_ends():
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            signal.raise_signal(signal.SIGINT)  # Ctrl-C "during" the native call
            reached.append("after the signal")  # the block still runs to its end
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_custom_handler_is_called_once_afterwards(monkeypatch):
    calls = []
    previous = signal.signal(signal.SIGINT, lambda sig, frame: calls.append(sig))
    try:
        with interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            assert calls == []
        assert calls == [signal.SIGINT]
        with interrupts_deferred():  # nothing pending: nothing called
            pass
        assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_other_threads_run_the_block_unchanged():
    seen = []

    def work():
        with interrupts_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.getsignal(signal.SIGINT)]


class _Run:
    """Stands in for Paddle's predictor: Ctrl-C arrives in the middle of run()."""

    def __init__(self):
        self.finished = False

    def run(self):
        signal.raise_signal(signal.SIGINT)
        self.finished = True


def test_graph_runs_are_not_interrupted_midway():
    pred = object.__new__(Predictor)  # the real __call__, no export needed
    pred.inputs, pred.outputs, pred.predictor = [], [], _Run()
    with pytest.raises(KeyboardInterrupt):
        pred()
    assert pred.predictor.finished  # the run completed before the interrupt took effect


def _run(body):
    import argparse

    from ppgan_fom.cli.common import common_flags, run_cli

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
