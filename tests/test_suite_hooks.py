"""The suite's own machinery (tests/conftest.py): the skip count CI prints, and
``PPGAN_FOM_REQUIRE`` turning a missing optional dependency from a skip into a failure.

Each case runs pytest in a subprocess on a small test file, with tests/conftest.py
loaded as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CASES = textwrap.dedent("""
    import pytest
    from conftest import optional_import

    def test_needs_a_missing_module():
        optional_import("ppgan_fom_no_such_module", reason="an optional extra")

    def test_needs_json():
        assert optional_import("json", reason="always there").dumps(1) == "1"

    @pytest.mark.skip(reason="plain skip")
    def test_skipped():
        pass
""")


def _pytest(tmp_path: Path, require: str):
    case = tmp_path / "test_cases.py"
    case.write_text(CASES)
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("PPGAN_FOM_REQUIRE", None)
    if require:
        env["PPGAN_FOM_REQUIRE"] = require
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "conftest", "-rs", "-c", os.devnull, "--rootdir", str(tmp_path),
                           str(case)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)


def test_optional_dependency_skips_and_the_count_is_printed(tmp_path):
    r = _pytest(tmp_path, "")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 2 skipped" in r.stdout
    assert "an optional extra" in r.stdout  # the skip says why
    assert "\nskipped: 2\n" in r.stdout


def test_required_dependency_fails_instead_of_skipping(tmp_path):
    r = _pytest(tmp_path, "torch, ppgan_fom_no_such_module")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 1 passed, 1 skipped" in r.stdout
    assert "ppgan_fom_no_such_module is required here (PPGAN_FOM_REQUIRE)" in r.stdout
    assert "\nskipped: 1\n" in r.stdout
