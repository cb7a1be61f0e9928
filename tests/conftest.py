"""Shared fixtures: paths to the golden/sample data and small seeded models."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("PPGAN_FOM_OFFLINE", "1")  # tests never download
# ... and never pick up weights from a PaddleGAN cache in the real home directory
os.environ.setdefault("PPGAN_FOM_REUSE_PADDLEGAN", "0")
# exported inference graphs of the test models go to a per-session temp dir
os.environ.setdefault("PPGAN_FOM_ENGINE_CACHE", tempfile.mkdtemp(prefix="ppgan_fom_engines-"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "fom_small64"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slower tests (still run in CI)")


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason."""
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
