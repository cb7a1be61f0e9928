"""Checkpoints read safely, written atomically, checked strictly (no Paddle needed).

A ``.pdparams`` file is a pickle, and ``paddle.load`` would execute any code a malicious
file carries. :func:`load_checkpoint` uses a restricted unpickler that admits only numpy
arrays and dtypes, plain containers, strings and numbers; anything else is refused before
it is called. :func:`validate_state_dict` makes loading strict: PaddleGAN's
``set_state_dict`` silently loads partial matches, here every missing, unexpected or
mis-shaped name is an error that lists them.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Mapping, Sequence, Tuple

import numpy as np

from .errors import WeightsError
from .fsutil import publish

__all__ = ["load_checkpoint", "save_checkpoint", "validate_state_dict", "split_checkpoint"]


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
