"""Check that the runtime's own builds (PaddlePaddle, OpenCV) are installed.

The core install (``pip install ppgan-fom`` / ``pip install -e .``) deliberately does not
require Paddle or OpenCV: there are several builds of each (``paddlepaddle``,
``paddlepaddle-gpu``, ...; ``opencv-python``, ``opencv-python-headless``,
``opencv-contrib-python``, ...) that all provide the same module, and requiring one would
make pip install it next to (or over) the build the user already has. The ``[cpu]`` extra
brings the CPU Paddle and headless OpenCV on a fresh machine. When one is missing, the
command-line tools print one line with the install command and the Python API raises
:class:`MissingDependencyError` (an :class:`ImportError`) with the same text.
"""

from __future__ import annotations

import importlib.util
from typing import Dict, Iterable, Tuple

from .errors import FomError

__all__ = ["MissingDependencyError", "RUNTIME_MODULES", "require", "install_hint"]

#: import name -> (what it is, how to install it)
_HINTS: Dict[str, Tuple[str, str]] = {
    "paddle": ("PaddlePaddle",
               'pip install "ppgan-fom[cpu]" (CPU build), or install the paddlepaddle-gpu '
               "build for your CUDA (README, GPU section)"),
    "cv2": ("OpenCV", "pip install opencv-python-headless (any OpenCV build providing cv2 "
                      "works)"),
}

#: modules every model-running entry point needs and the core install does not bring
RUNTIME_MODULES: Tuple[str, ...] = ("paddle", "cv2")


class MissingDependencyError(FomError, ImportError):
    """A required module is not installed; ``str(e)`` is one line with the install command.

    Both an :class:`ImportError` (for API users) and a :class:`FomError` (so the command
    line prints it as ``error: ...`` and exits with 1).
    """

    exit_code = 1


def install_hint(module: str) -> str:
    """One line: ``<what> is not installed (no module '<module>'); install it with: ...``."""
    what, how = _HINTS.get(module, (module, f"pip install {module}"))
    return f"{what} is not installed (no module named '{module}'); install it with: {how}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder may refuse the name outright
        return False


def require(modules: Iterable[str] = RUNTIME_MODULES) -> None:
    """Raise :class:`MissingDependencyError` for the first of ``modules`` not installed.

    Looks the modules up without importing them (importing Paddle takes seconds).
    """
    for module in modules:
        if not _installed(module):
            raise MissingDependencyError(install_hint(module), name=module)
