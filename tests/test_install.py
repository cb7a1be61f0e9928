"""Installs respect the user's environment; missing Paddle/OpenCV is a one-line error.

* every third-party module the code imports is declared (core or an extra), Paddle and
  OpenCV only in the ``cpu`` extra, and no core requirement is unused;
* in a fresh venv (no system site-packages) with stand-in ``paddlepaddle-gpu`` and
  ``opencv-python`` distributions, ``pip install ppgan-fom`` leaves them exactly as they
  were and installs neither ``paddlepaddle`` nor ``opencv-python-headless``, while on a
  fresh venv ``ppgan-fom[cpu]`` brings both. pip never touches the network: the project's
  wheel is built from this checkout and every requirement is a tiny local wheel (made here)
  whose version satisfies the declared range, so a requirement on ``paddlepaddle`` would
  really be installed - and seen;
* with ``paddle`` / ``cv2`` hidden, the command-line tools print one line with the install
  command and the API raises an ImportError saying the same.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ppgan_fom", "faceutils")

#: import name -> distribution declaring it (Paddle/OpenCV: the `cpu` extra's builds)
MODULE_DIST = {
    "numpy": "numpy", "scipy": "scipy", "PIL": "pillow", "av": "av",
    "imageio_ffmpeg": "imageio-ffmpeg", "tqdm": "tqdm", "yaml": "pyyaml", "ray": "ray",
    "paddle": "paddlepaddle", "cv2": "opencv-python-headless",
    "torch": "torch", "visualdl": "visualdl", "tflite": "tflite", "flatbuffers": "flatbuffers",
    "gradio": "gradio",
}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> Dict[str, List[str]]:
    """``{'core': [...], '<extra>': [...]}`` as setup.py declares them."""
    import setuptools

    captured = {}
    orig = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        runpy.run_path(str(REPO / "setup.py"), run_name="not_main")
    finally:
        setuptools.setup = orig
    return {"core": captured["install_requires"], **captured["extras_require"]}


def _req_name(req: str) -> str:
    from packaging.requirements import Requirement

    return _canon(Requirement(req).name)


def _third_party_imports() -> Dict[str, List[str]]:
    """Top-level module -> files importing it, for every non-stdlib, non-local import."""
    found: Dict[str, List[str]] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES or top == "__future__":
                        continue
                    found.setdefault(top, []).append(str(path.relative_to(REPO)))
    return found


def test_every_import_is_declared_and_paddle_opencv_are_optional():
    declared = _declared()
    core = {_req_name(r) for r in declared["core"]}
    everywhere = {_req_name(r) for reqs in declared.values() for r in reqs}
    imports = _third_party_imports()
    unknown = sorted(set(imports) - set(MODULE_DIST))
    assert not unknown, f"add these imports to MODULE_DIST and declare them: {unknown}"
    undeclared = {m: imports[m] for m in imports if MODULE_DIST[m] not in everywhere}
    assert not undeclared, f"imported but not declared in setup.py/requirements.txt: {undeclared}"
    # the core never names a Paddle or OpenCV build; the cpu extra brings one of each
    assert not {d for d in core if d.startswith(("paddle", "opencv"))}, core
    assert {_req_name(r) for r in declared["cpu"]} == {"paddlepaddle", "opencv-python-headless"}
    used = {MODULE_DIST[m] for m in imports}
    stale = core - used
    assert not stale, f"core requirements nothing imports: {sorted(stale)}"


# --------------------------------------------------------------------- the venv test

def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(where: Path, dist: str, version: str, module: str) -> Path:
    """A minimal pure-Python wheel for ``dist`` providing ``module`` (with a MARKER)."""
    stem = f"{re.sub(r'[-_.]+', '_', dist)}-{version}"
    files = {
        f"{module}/__init__.py": f'MARKER = "{dist} {version}"\n'.encode(),
        f"{stem}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
        f"{stem}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: ppgan-fom-tests\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{stem}.dist-info/RECORD,,"]
    path = where / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{stem}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def _satisfying_version(req: str) -> str:
    from packaging.requirements import Requirement

    spec = Requirement(req).specifier
    candidates = [s.version for s in spec if s.operator in (">=", "==", "~=", "===")]
    for v in candidates + ["1.0", "99.0"]:
        if spec.contains(v, prereleases=True):
            return v
    raise AssertionError(f"no stand-in version satisfies {req}")


def _pip(venv_py: Path, *args: str, cwd: Path) -> str:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1",
               PIP_CONFIG_FILE=os.devnull)
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PYTHONPATH"):
        env.pop(key, None)
    r = subprocess.run([str(venv_py), "-m", "pip", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"pip {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


_SNAPSHOT = textwrap.dedent("""
    import hashlib, importlib.metadata as md, json, sys
    out = {}
    for d in md.distributions():
        files = {str(f): hashlib.sha256(f.read_binary()).hexdigest()
                 for f in (d.files or []) if not str(f).endswith(".pyc")
                 and f.locate().is_file() and ".dist-info/" not in str(f)}
        out[d.metadata["Name"].lower().replace("_", "-")] = [d.version, files]
    import paddle, cv2
    out["__modules__"] = [paddle.MARKER, cv2.MARKER]
    json.dump(out, sys.stdout)
""")


def _snapshot(venv_py: Path, cwd: Path) -> dict:
    r = subprocess.run([str(venv_py), "-c", _SNAPSHOT], cwd=cwd, capture_output=True,
                       text=True, timeout=120, env={k: v for k, v in os.environ.items()
                                                    if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _planned(report: Path) -> Dict[str, str]:
    """name -> version of what a ``pip install --dry-run --report`` would install."""
    items = json.loads(report.read_text())["install"]
    return {_canon(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


@pytest.mark.slow
def test_core_install_keeps_the_users_paddle_and_opencv(tmp_path):
    # the project's wheel, built from a copy of this checkout (no build files in the repo)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "requirements.txt", "README.md"):
        shutil.copy(REPO / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "-w", str(wheels), str(src)], check=True,
                   capture_output=True, timeout=600, cwd=tmp_path)
    assert len(list(wheels.glob("ppgan_fom-*.whl"))) == 1

    # a local "index": a stand-in for every declared requirement, for both CPU builds
    # the cpu extra names, and for the user's own GPU Paddle and full OpenCV
    declared = _declared()
    for req in declared["core"] + declared["cpu"]:
        name = _req_name(req)
        module = {"paddlepaddle": "paddle", "opencv-python-headless": "cv2"}.get(
            name, "_standin_" + name.replace("-", "_"))
        make_wheel(wheels, name, _satisfying_version(req), module)
    make_wheel(wheels, "paddlepaddle-gpu", "3.0.0", "paddle")
    make_wheel(wheels, "opencv-python", "4.9.0.80", "cv2")
    local = ["--no-index", "--find-links", str(wheels)]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    # a fresh machine: the README's first command brings a Paddle and an OpenCV
    _pip(py, "install", "--dry-run", "--report", str(tmp_path / "fresh.json"), *local,
         "ppgan-fom[cpu]", cwd=tmp_path)
    fresh = _planned(tmp_path / "fresh.json")
    assert {"ppgan-fom", "paddlepaddle", "opencv-python-headless"} <= set(fresh)

    # a machine with its own GPU Paddle and full OpenCV
    _pip(py, "install", *local, "paddlepaddle-gpu", "opencv-python", cwd=tmp_path)
    before = _snapshot(py, tmp_path)
    assert before["__modules__"] == ["paddlepaddle-gpu 3.0.0", "opencv-python 4.9.0.80"]
    _pip(py, "install", *local, "ppgan-fom", cwd=tmp_path)
    after = _snapshot(py, tmp_path)
    assert "ppgan-fom" in after
    for dist in ("paddlepaddle-gpu", "opencv-python"):
        assert after[dist] == before[dist], f"{dist} was changed by the install"
    assert after["__modules__"] == before["__modules__"]  # paddle/cv2 files are the user's
    assert not {"paddlepaddle", "opencv-python-headless", "opencv-contrib-python"} & set(after)
    _pip(py, "check", cwd=tmp_path)  # and the environment is consistent

    # the one-line hint's command adds the CPU builds to an installed ppgan-fom
    _pip(py, "install", "--dry-run", "--report", str(tmp_path / "hint.json"), *local,
         "ppgan-fom[cpu]", cwd=tmp_path)
    assert {"paddlepaddle", "opencv-python-headless"} <= set(_planned(tmp_path / "hint.json"))


# --------------------------------------------------------------- missing Paddle / OpenCV

_HIDE = textwrap.dedent("""
    import sys

    class Hide:
        '''Make {hidden} look not installed, as in an environment without it.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {hidden}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    for m in list(sys.modules):
        if m.split(".")[0] in {hidden}:
            del sys.modules[m]
""")


def _run_hidden(hidden: set, code: str) -> subprocess.CompletedProcess:
    script = _HIDE.format(hidden=sorted(hidden)) + textwrap.dedent(code)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("hidden, expected", [
    ({"paddle"}, 'PaddlePaddle is not installed (no module named \'paddle\'); install it '
                 'with: pip install "ppgan-fom[cpu]"'),
    ({"cv2"}, "OpenCV is not installed (no module named 'cv2'); install it with: "
              "pip install opencv-python-headless"),
])
def test_missing_runtime_is_one_line_from_the_command_lines(hidden, expected):
    r = _run_hidden(hidden, """
        from ppgan_fom.cli import anonymize_main, demo_main
        from faceutils.__main__ import main as faces_main
        codes = [demo_main(["--source_image", "a.jpg", "--driving_video", "b.mp4"]),
                 anonymize_main(["--video", "v.mp4", "--target_face", "f.png",
                                 "--output", "o.mp4"]),
                 faces_main(["a.jpg"])]
        print(codes)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[1, 1, 1]"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3 and len(set(lines)) == 1, r.stderr  # one line from each tool
    assert lines[0].startswith(f"error: {expected}"), r.stderr
    assert "Traceback" not in r.stderr


def test_missing_paddle_is_a_clear_importerror_from_the_api():
    r = _run_hidden({"paddle"}, """
        import ppgan_fom                        # importing the package stays cheap and works
        try:
            from ppgan_fom import FirstOrderPredictor
        except ImportError as e:
            print(type(e).__name__, e.name, "|", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("MissingDependencyError paddle | PaddlePaddle is not installed")
    assert 'pip install "ppgan-fom[cpu]"' in r.stdout and "paddlepaddle-gpu" in r.stdout
