"""Shared fixtures and session settings: paths to the test data, the sample media, the
golden weights; optional dependencies CI requires; the skip count at the end."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

import golden_weights
import sample_media

os.environ.setdefault("PPGAN_FOM_OFFLINE", "1")  # tests never download
# ... and never pick up weights from a PaddleGAN cache in the real home directory
os.environ.setdefault("PPGAN_FOM_REUSE_PADDLEGAN", "0")
# exported inference graphs of the test models go to a per-session temp dir (removed at
# the end; a cache the caller names is kept)
_ENGINE_CACHE = None
if "PPGAN_FOM_ENGINE_CACHE" not in os.environ:
    _ENGINE_CACHE = tempfile.mkdtemp(prefix="ppgan_fom_engines-")
    os.environ["PPGAN_FOM_ENGINE_CACHE"] = _ENGINE_CACHE
# the default (static, Paddle Inference) engine must work in tests: a failed export is
# an error here, not the users' warning and eager fallback (subprocesses inherit it)
os.environ.setdefault("PPGAN_FOM_STRICT_ENGINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "fom_small64"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slower tests (still run in CI)")


def pytest_sessionfinish(session, exitstatus):
    sample_media.cleanup()
    golden_weights.cleanup()
    if _ENGINE_CACHE is not None:
        shutil.rmtree(_ENGINE_CACHE, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line CI can read: how many tests skipped (a clone without ../shared must stay
    under 10, docs/testing.md)."""
    terminalreporter.write_line(f"skipped: {len(terminalreporter.stats.get('skipped', []))}")


def required_modules() -> set:
    """Modules named in ``$PPGAN_FOM_REQUIRE`` (comma-separated; CI sets it): tests that
    need them fail instead of skipping when they are missing."""
    return {m.strip() for m in os.environ.get("PPGAN_FOM_REQUIRE", "").split(",") if m.strip()}


def optional_import(module: str, reason: str) -> ModuleType:
    """``pytest.importorskip`` for an optional dependency, except that a module listed in
    ``$PPGAN_FOM_REQUIRE`` must import: its absence fails the test (or the collection of
    the test module) with the reason, so CI cannot go green by skipping."""
    if module.split(".")[0] not in required_modules():
        return pytest.importorskip(module, reason=reason)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        problem = str(exc)
    pytest.fail(f"{module} is required here (PPGAN_FOM_REQUIRE) but cannot be imported: "
                f"{problem} ({reason})", pytrace=False)


def optional_tool(program: str, reason: str) -> str:
    """The path of an external program a test needs (e.g. ``espeak-ng``): skip without it,
    except that a program named in ``$PPGAN_FOM_REQUIRE`` must be there (CI installs it)."""
    import shutil

    exe = shutil.which(program)
    if exe is not None:
        return exe
    if program in required_modules():
        pytest.fail(f"{program} is required here (PPGAN_FOM_REQUIRE) but not installed "
                    f"({reason})", pytrace=False)
    pytest.skip(f"{program} not installed ({reason})")


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason. Only for files too large
    for the repository; small ones are in tests/data (README there) or made by
    tests/sample_media.py."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (../shared holds the golden vectors and sample media; "
                    f"it is beside the checkout in CI)")
    return p


@pytest.fixture(scope="session")
def shared():
    return shared_path


@pytest.fixture(scope="session")
def small_weights() -> Path:
    return SMALL / "fom_small64_random.pdparams"


@pytest.fixture(scope="session")
def small_config_path() -> Path:
    return SMALL / "fom_small64.yaml"
