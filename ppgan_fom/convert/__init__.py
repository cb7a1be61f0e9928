"""Convert original first-order-model PyTorch checkpoints to PaddleGAN ``.pdparams``.

Usage::

    python -m ppgan_fom.convert vox-cpk.pth.tar vox-cpk.pdparams [--config vox-256]

The original checkpoints (``vox-cpk.pth.tar``, ``vox-adv-cpk.pth.tar``) are dicts with
``generator``, ``kp_detector`` (and discriminator / optimiser states, which are not
needed for inference and are dropped). Names map one to one except BatchNorm's
``running_mean``/``running_var`` (Paddle: ``_mean``/``_variance``); ``num_batches_tracked``
is dropped. No transposes are needed (FOMM has no linear layers). The result is checked
against the model built from ``--config`` before it is written (atomically).

The checkpoint is read with ``torch.load(weights_only=True)``, which refuses pickles
that carry code. torch is an optional dependency (``pip install ppgan-fom[torch]``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Mapping

import numpy as np

from ..errors import FomError, InputError, WeightsError

logger = logging.getLogger(__name__)

_RENAMES = ((".running_mean", "._mean"), (".running_var", "._variance"))


def torch_name_to_paddle(name: str) -> str | None:
    """Paddle state-dict name for a torch one, or ``None`` for entries to drop."""
    if name.endswith(".num_batches_tracked"):
        return None
    for old, new in _RENAMES:
        if name.endswith(old):
            return name[: -len(old)] + new
    return name


def paddle_name_to_torch(name: str) -> str:
    """Inverse of :func:`torch_name_to_paddle` (for tests and export)."""
    for old, new in _RENAMES:
        if name.endswith(new):
            return name[: -len(new)] + old
    return name


def convert_state(torch_state: Mapping[str, object]) -> Dict[str, np.ndarray]:
    """torch state dict (tensors) -> Paddle names and float32 numpy arrays."""
    out = {}
    for name, value in torch_state.items():
        new = torch_name_to_paddle(name)
        if new is None:
            continue
        arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        out[new] = np.ascontiguousarray(arr, dtype=np.float32)
    return out


def read_torch_checkpoint(path: Path) -> Mapping:
    """Load a ``.pth.tar`` with torch's weights-only unpickler."""
    try:
        import torch
    except ImportError:
        raise FomError("converting PyTorch checkpoints needs torch: "
                       "pip install 'ppgan-fom[torch]' (CPU build is enough)") from None
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad / unsafe files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise WeightsError(f"{path}: cannot be read as a weights-only PyTorch checkpoint "
                           f"({first[:200]})") from None
    if not isinstance(ckpt, Mapping):
        raise WeightsError(f"{path}: not a FOMM checkpoint (top level is {type(ckpt).__name__})")
    return ckpt


def convert_checkpoint(src: Path, dst: Path, config="vox-256") -> Path:
    """Convert ``src`` (.pth.tar) into ``dst`` (.pdparams) after checking it fits ``config``."""
    from ..config import load_config
    from ..model import build_fomm, state_shapes
    from ..checkpoint import save_checkpoint, split_checkpoint, validate_state_dict

    ckpt = read_torch_checkpoint(src)
    gen_t, kp_t = split_checkpoint(ckpt, src)
    state = {"generator": convert_state(gen_t), "kp_detector": convert_state(kp_t)}
    cfg = load_config(config)
    gen, kp = build_fomm(cfg)
    validate_state_dict(state_shapes(gen), state["generator"], "generator", src)
    validate_state_dict(state_shapes(kp), state["kp_detector"], "kp_detector", src)
    dropped = sorted(k for k in ckpt if k not in ("generator", "kp_detector"))
    if dropped:
        logger.info("not converted (not needed for inference): %s", ", ".join(dropped))
    save_checkpoint(dst, state)
    logger.info("wrote %s (%d generator + %d kp_detector tensors)", dst,
                len(state["generator"]), len(state["kp_detector"]))
    return dst
