"""The static engine's fallback: a warning and the eager engine for users; an error in
strict mode (``PPGAN_FOM_STRICT_ENGINE=1``, which the test suite sets, so that a broken
export cannot pass the tests on the eager path)."""

from __future__ import annotations

import logging

import pytest

from conftest import SMALL
from ppgan_fom.config import load_config
from ppgan_fom.engine import EagerEngine, StaticEngine, make_engine
from ppgan_fom.errors import RuntimeFailure
from ppgan_fom.model import load_fomm

WEIGHTS = SMALL / "fom_small64_random.pdparams"


@pytest.fixture
def broken_export(monkeypatch, tmp_path):
    """A fresh export cache (nothing to reuse) and an export that fails."""
    monkeypatch.setenv("PPGAN_FOM_ENGINE_CACHE", str(tmp_path / "engines"))

    def fail(self, *args):
        raise RuntimeError("graph export broke\nsecond line")

    monkeypatch.setattr(StaticEngine, "_export_all", fail)


def _make(kind="static"):
    cfg = load_config(str(SMALL / "fom_small64.yaml"))
    gen, kp = load_fomm(cfg, WEIGHTS)
    return make_engine(kind, gen, kp, cfg.image_size, WEIGHTS, repr(cfg), 1, "cpu")


def test_suite_runs_strict():
    import os

    assert os.environ.get("PPGAN_FOM_STRICT_ENGINE") == "1"


def test_strict_mode_raises(broken_export, monkeypatch):
    monkeypatch.setenv("PPGAN_FOM_STRICT_ENGINE", "1")
    with pytest.raises(RuntimeFailure) as err:
        _make()
    msg = str(err.value)
    assert "static inference engine unavailable (RuntimeError: graph export broke)" in msg
    assert "PPGAN_FOM_STRICT_ENGINE" in msg and "\n" not in msg


def test_users_get_a_warning_and_the_eager_engine(broken_export, monkeypatch, caplog):
    monkeypatch.delenv("PPGAN_FOM_STRICT_ENGINE", raising=False)
    with caplog.at_level(logging.WARNING, logger="ppgan_fom.engine"):
        engine = _make()
    assert type(engine) is EagerEngine
    assert "static inference engine unavailable (RuntimeError: graph export broke); " \
           "using eager mode" in caplog.text


def test_strict_mode_leaves_working_engines_alone(monkeypatch):
    monkeypatch.setenv("PPGAN_FOM_STRICT_ENGINE", "1")
    assert type(_make("static")) is StaticEngine
    assert type(_make("eager")) is EagerEngine
