"""Pretrained weights: registry, cache, download, safe loading and validation.

Weights are resolved in this order:

1. an explicit local path (``weight_path=`` / ``--weight_path``) always wins;
2. the cache directory (``$PPGAN_FOM_HOME``, default ``~/.cache/ppgan_fom/weights``);
3. a download of the registry URL, unless offline mode is on
   (``PPGAN_FOM_OFFLINE=1``), in which case a one-line error names the file to
   fetch by hand and where to put it.

Downloads go to a temporary file that is renamed into place. The sha256 of a
downloaded file is recorded beside it (``<file>.sha256``) and checked on later
loads; a checksum is *pinned* in the registry only where the bytes were really
hashed (none of the official files could be hashed on the machines this project
is developed on, so none is pinned yet).

Checkpoints are read with a restricted unpickler that admits only numpy arrays,
plain containers, strings and numbers: a ``.pdparams`` file is a pickle, and
``paddle.load`` would execute any code a malicious file carries.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .errors import WeightsError
from .fsutil import publish

logger = logging.getLogger(__name__)

__all__ = [
    "WeightSpec",
    "REGISTRY",
    "cache_dir",
    "is_offline",
    "resolve_weights",
    "load_checkpoint",
    "save_checkpoint",
    "validate_state_dict",
    "sha256_of",
]

ENV_HOME = "PPGAN_FOM_HOME"
ENV_OFFLINE = "PPGAN_FOM_OFFLINE"

_BCE = "https://paddlegan.bj.bcebos.com"


@dataclass(frozen=True)
class WeightSpec:
    """One downloadable weights file.

    ``sha256`` is set only for files whose bytes were actually hashed.
    """

    name: str
    url: str
    filename: str
    description: str
    sha256: Optional[str] = None
    path_flag: str = "--weight_path"  # the option that takes a local copy instead


REGISTRY: Dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec("vox-256", f"{_BCE}/applications/first_order_model/vox-cpk.pdparams",
                   "vox-cpk.pdparams", "PaddleGAN FOMM, VoxCeleb, 256x256"),
        WeightSpec("vox-512", f"{_BCE}/applications/first_order_model/vox-cpk-512.pdparams",
                   "vox-cpk-512.pdparams", "PaddleGAN FOMM, VoxCeleb, 512x512"),
        WeightSpec("vox-mobile", f"{_BCE}/applications/first_order_model/vox-mobile.pdparams",
                   "vox-mobile.pdparams", "PaddleGAN lightweight FOMM (mobile_net), 256x256"),
        WeightSpec("s3fd", f"{_BCE}/models/s3fd_paddle.pdparams",
                   "s3fd_paddle.pdparams", "PaddleGAN S3FD face detector"),
        WeightSpec("vgg19", f"{_BCE}/models/vgg19.pdparams",
                   "vgg19.pdparams", "VGG19 ImageNet features (training perceptual loss)"),
        WeightSpec("gpen-512", f"{_BCE}/models/GPEN-512.pdparams", "GPEN-512.pdparams",
                   "PaddleGAN GPEN-512 face enhancer (--face_enhancement)",
                   path_flag="--enhancer_weight_path"),
    )
}

Downloader = Callable[[str, Path], None]


def cache_dir() -> Path:
    """Directory holding downloaded weights (``$PPGAN_FOM_HOME`` or ``~/.cache/ppgan_fom/weights``)."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ppgan_fom" / "weights"


def is_offline() -> bool:
    """True when ``PPGAN_FOM_OFFLINE`` is set to 1/true/yes: no download is attempted."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _http_download(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest`` with a tqdm bar."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (fixed https registry URLs)
        total = int(resp.headers.get("Content-Length") or 0) or None
        with open(dest, "wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                           desc=dest.name.split(".tmp")[0]) as bar:
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                bar.update(len(block))


def _manual_hint(spec: WeightSpec, target: Path) -> str:
    return (f"download {spec.url} by hand and save it as {target} "
            f"(or pass its local path with {spec.path_flag})")


def resolve_weights(name_or_path: str, *, downloader: Optional[Downloader] = None,
                    root: Optional[Path] = None) -> Path:
    """Return a local path for weights given a registry name or a file path.

    Args:
        name_or_path: a registry name (``vox-256``, ``s3fd``, ...) or a path to a file.
        downloader: ``f(url, dest_path)`` used instead of HTTP (tests inject a fake).
        root: cache directory override (default :func:`cache_dir`).

    Raises:
        WeightsError: unknown name, missing local file, offline and not cached,
            failed download, or checksum mismatch. The message names the file and URL.
    """
    if name_or_path not in REGISTRY:
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        if path.exists():
            raise WeightsError(f"{path}: is not a file")
        raise WeightsError(f"{path}: weights file not found "
                           f"(known names: {', '.join(sorted(REGISTRY))})")
    spec = REGISTRY[name_or_path]
    target = (root or cache_dir()) / spec.filename
    if target.is_file():
        _verify_checksum(spec, target)
        logger.info("weights %s: using cached %s", spec.name, target)
        return target
    if is_offline():
        raise WeightsError(f"offline ({ENV_OFFLINE} is set) and weights '{spec.name}' are not "
                           f"cached: {_manual_hint(spec, target)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.tmp-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        logger.info("downloading %s from %s", spec.filename, spec.url)
        (downloader or _http_download)(spec.url, tmp)
        digest = sha256_of(tmp)
        if spec.sha256 and digest != spec.sha256:
            raise WeightsError(f"{target}: download of {spec.url} has sha256 {digest}, "
                               f"expected {spec.sha256}")
        publish(tmp, target)
    except WeightsError:
        raise
    except Exception as exc:  # network errors of every kind end the same way
        raise WeightsError(f"could not download weights '{spec.name}' ({exc.__class__.__name__}: "
                           f"{exc}); {_manual_hint(spec, target)}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    _sidecar(target).write_text(digest + "\n")
    logger.info("weights %s saved to %s (sha256 %s)", spec.name, target, digest)
    return target


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _verify_checksum(spec: WeightSpec, path: Path) -> None:
    expected = spec.sha256
    side = _sidecar(path)
    if expected is None and side.is_file():
        expected = side.read_text().split()[0] if side.read_text().strip() else None
    if expected is None:
        return
    digest = sha256_of(path)
    if digest != expected:
        raise WeightsError(f"{path}: sha256 {digest} does not match the recorded {expected}; "
                           f"the file is corrupt or was replaced; delete it to download "
                           f"{spec.url} again")


# --------------------------------------------------------------------------- loading

_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "int"), ("builtins", "float"), ("builtins", "str"),
    ("builtins", "bytes"), ("builtins", "bool"), ("builtins", "complex"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}

_PADDLE_META_KEYS = ("StructuredToParameterName@@",)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except numpy arrays and plain containers."""

    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.startswith("numpy") and name.startswith("dtype"):  # numpy 2 dtype classes
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _plain(value):
    """PaddleGAN saves ``name -> (internal_name, ndarray)``; paddle 2+/3 saves arrays."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) \
            and isinstance(value[1], np.ndarray):
        return value[1]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k not in _PADDLE_META_KEYS}
    return value


def load_checkpoint(path: os.PathLike) -> dict:
    """Read a ``.pdparams`` checkpoint safely into nested dicts of numpy arrays.

    Accepts PaddleGAN's layout (``{'generator': {...}, 'kp_detector': {...}}``), a
    flat state dict (S3FD), and the tuple-valued form older Paddle releases wrote.

    Raises:
        WeightsError: missing file, truncated / non-pickle file, or a pickle that
            references anything but arrays and containers (never executed).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    data = path.read_bytes()
    if not data:
        raise WeightsError(f"{path}: empty file, not a checkpoint")
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refused global"):
            raise WeightsError(f"{path}: refused to load: the file {exc} (only arrays and "
                               f"plain containers are allowed; it may carry code)") from None
        raise WeightsError(f"{path}: truncated or not a Paddle checkpoint ({exc})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError, OverflowError) as exc:
        raise WeightsError(f"{path}: truncated or not a Paddle checkpoint "
                           f"({exc.__class__.__name__}: {exc})") from None
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path}: not a checkpoint (top level is {type(obj).__name__}, "
                           f"expected a dict)")
    return _plain(obj)


def save_checkpoint(path: os.PathLike, state: Mapping) -> Path:
    """Write nested dicts of arrays as a ``.pdparams`` pickle, atomically.

    The file is loadable by :func:`load_checkpoint` and by ``paddle.load``.
    Values that are Paddle tensors are converted with ``.numpy()``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def to_np(v):
        if isinstance(v, Mapping):
            return {k: to_np(x) for k, x in v.items()}
        if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
            return np.asarray(v.numpy())
        return v

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(to_np(state), f, protocol=4)
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def validate_state_dict(expected: Mapping[str, Sequence[int]], got: Mapping[str, np.ndarray],
                        what: str, source: os.PathLike | str,
                        hint: str = "check --config / --image_size / --mobile_net") -> None:
    """Check that ``got`` has exactly the names and shapes of ``expected``.

    Args:
        expected: name -> shape of the model's state dict.
        got: name -> array read from the checkpoint.
        what: which sub-model (``generator``, ``kp_detector``, ``s3fd``), for the message.
        source: the checkpoint path, for the message.
        hint: what to check, ending the message.

    Raises:
        WeightsError: listing missing keys, unexpected keys and shape mismatches.
    """
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    mismatched = [f"{k} {tuple(np.shape(got[k]))} != {tuple(expected[k])}"
                  for k in expected if k in got and tuple(np.shape(got[k])) != tuple(expected[k])]
    if not (missing or unexpected or mismatched):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected),
                         ("shape mismatch", mismatched)):
        if items:
            shown = ", ".join(items[:5]) + (f", ... ({len(items)} in all)" if len(items) > 5 else "")
            parts.append(f"{label}: {shown}")
    raise WeightsError(f"{source}: {what} weights do not match the model architecture "
                       f"({'; '.join(parts)}); {hint}")


def split_checkpoint(state: Mapping, path: os.PathLike | str,
                     parts: Tuple[str, ...] = ("generator", "kp_detector")) -> Tuple[dict, ...]:
    """Return the named sub-dicts of a FOMM checkpoint or raise a clear error."""
    absent = [p for p in parts if not isinstance(state.get(p), Mapping)]
    if absent:
        raise WeightsError(f"{path}: not a FOMM checkpoint: no {', '.join(absent)} section "
                           f"(found: {', '.join(map(str, list(state)[:6])) or 'nothing'})")
    return tuple(state[p] for p in parts)
