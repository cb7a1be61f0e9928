"""Install ppgan-fom: the ``ppgan_fom`` and ``faceutils`` packages."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _version() -> str:
    text = (HERE / "ppgan_fom" / "version.py").read_text()
    return text.split('__version__ = "', 1)[1].split('"', 1)[0]


def _requirements() -> list:
    """Core requirements: requirements.txt without comments (no Paddle, no OpenCV)."""
    lines = (HERE / "requirements.txt").read_text().splitlines()
    reqs = [ln.split("#", 1)[0].strip() for ln in lines]
    return [r for r in reqs if r]


# Paddle and OpenCV come in several builds providing the same module; the core install
# requires none of them so that it never installs one over the build a machine has
# (paddlepaddle-gpu on AI Studio, a conda/system OpenCV, ...). A fresh CPU machine
# installs them with the `cpu` extra; GPU users install paddlepaddle-gpu themselves.
# docs/install.md explains the choice.
CPU_RUNTIME = ["paddlepaddle>=3.0,<4", "opencv-python-headless>=4.8"]


setup(
    name="ppgan-fom",
    version=_version(),
    description="First Order Motion Model in PaddlePaddle: animate every face in a photo, "
    "anonymize faces in videos.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["ppgan_fom", "ppgan_fom.*", "faceutils", "faceutils.*"]),
    package_data={"faceutils": ["data/*"], "ppgan_fom": ["configs/*.yaml"]},
    install_requires=_requirements(),
    extras_require={
        # everything a fresh CPU-only machine needs: the README's first command
        "cpu": CPU_RUNTIME,
        # converting original PyTorch FOMM checkpoints (python -m ppgan_fom.convert)
        "torch": ["torch>=2.0"],
        # running the tests and the notebooks: imageio-ffmpeg makes some test videos,
        # setuptools builds the project's wheel in tests/test_install.py, ipywidgets draws the
        # notebooks' progress bars, playwright drives Debian's chromium in the web app's
        # browser tests, librosa and webrtcvad-wheels serve the speaker encoder of the voice
        # tests (resemblyzer: installed with --no-deps, see .ci/run and docs/testing.md)
        "test": ["pytest>=7", "hypothesis>=6", "nbclient>=0.7", "nbformat>=5", "ipykernel>=6",
                 "ipywidgets>=8", "imageio-ffmpeg>=0.5", "setuptools>=70.1",
                 "playwright>=1.40", "librosa>=0.10", "webrtcvad-wheels>=2.0.14"],
        # training logs in VisualDL
        "train": ["visualdl>=2.4"],
        # anonymizing a folder on Ray, on this machine or a cluster (docs/scale.md);
        # [default] brings the cluster launcher, the job CLI and the dashboard
        "ray": ["ray[default]>=2.9"],
        # rebuilding the embedded BlazeFace weights from the TFLite models
        "convert-tflite": ["tflite>=2.10", "flatbuffers>=2.0"],
        # the web app (applications/tools/app.py, ppgan-fom-app); its browser tests also
        # need playwright and Debian's chromium (docs/app.md)
        "app": ["gradio>=6.0,<7"],
    },
    entry_points={
        "console_scripts": [
            "ppgan-fom-demo=ppgan_fom.cli:demo_main",
            "ppgan-fom-anonymize=ppgan_fom.cli:anonymize_main",
            "ppgan-fom-train=ppgan_fom.cli:train_main",
            "ppgan-fom-evaluate=ppgan_fom.cli:evaluate_main",
            "ppgan-fom-app=ppgan_fom.cli.app:app_main",
        ]
    },
)
