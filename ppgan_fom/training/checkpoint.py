"""Training checkpoints in the layout the predictor loads.

A checkpoint is one ``.pdparams`` pickle of numpy arrays and plain containers, written
atomically by :func:`ppgan_fom.checkpoint.save_checkpoint`::

    {'generator': {...}, 'kp_detector': {...},        # what FirstOrderPredictor reads
     'discriminator': {...},
     'optimizer_generator': {'state': {param: {acc: array}}},
     'optimizer_kp_detector': {...}, 'optimizer_discriminator': {...},
     'step': N,                                        # optimiser steps completed
     'meta': {'config': <YAML text>, 'config_name': str, 'seed': int, 'image_size': int,
              'format': 'ppgan_fom.training/1'}}

``first-order-demo.py --weight_path CKPT --config YAML`` animates with it directly.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np
import paddle.nn as nn

from ..model import assign_state, state_shapes
from ..checkpoint import load_checkpoint, save_checkpoint, validate_state_dict
from ..errors import WeightsError

logger = logging.getLogger(__name__)

__all__ = ["FORMAT", "layer_state", "save_training_checkpoint", "load_training_checkpoint",
           "load_network", "checkpoint_path", "list_checkpoints", "update_latest",
           "prune_checkpoints"]

FORMAT = "ppgan_fom.training/1"
_STEP_FILE = re.compile(r"^step_(\d+)\.pdparams$")


def layer_state(layer: nn.Layer) -> Dict[str, np.ndarray]:
    """A layer's state dict (parameters and persistable buffers) as numpy arrays."""
    return {k: np.array(v.numpy()) for k, v in layer.state_dict().items()}


def save_training_checkpoint(path: Path, nets: Mapping[str, nn.Layer],
                             optimizers: Mapping[str, dict], step: int, meta: Mapping) -> Path:
    """Write nets (``generator``, ``kp_detector``, ``discriminator``), optimiser states
    (already plain, see :func:`ppgan_fom.training.optim.optimizer_state`), step and meta."""
    state: Dict[str, object] = {name: layer_state(net) for name, net in nets.items()}
    for name, st in optimizers.items():
        state[f"optimizer_{name}"] = st
    state["step"] = int(step)
    state["meta"] = {"format": FORMAT, **dict(meta)}
    return save_checkpoint(path, state)


def load_training_checkpoint(path: os.PathLike | str) -> dict:
    """Read a checkpoint safely (restricted unpickler); must have generator + kp_detector."""
    state = load_checkpoint(Path(path))
    for part in ("generator", "kp_detector"):
        if not isinstance(state.get(part), Mapping):
            raise WeightsError(f"{path}: not a FOMM checkpoint (no '{part}' section)")
    return state


def load_network(layer: nn.Layer, state: Optional[Mapping], what: str, source,
                 strict: bool = True) -> bool:
    """Load ``state`` into ``layer``; with ``strict=False`` a missing / mismatching section
    is reported with a warning and skipped. Returns whether it was loaded."""
    if not isinstance(state, Mapping):
        if strict:
            raise WeightsError(f"{source}: no '{what}' section")
        logger.warning("%s: no '%s' section; %s starts from scratch", source, what, what)
        return False
    if strict:
        assign_state(layer, state, what, source)
        return True
    try:
        validate_state_dict(state_shapes(layer), state, what, source)
    except WeightsError as exc:
        logger.warning("%s; %s starts from scratch", exc, what)
        return False
    assign_state(layer, state, what, source)
    return True


def checkpoint_path(directory: Path, step: int) -> Path:
    return Path(directory) / f"step_{int(step):08d}.pdparams"


def list_checkpoints(directory: Path) -> List[Path]:
    """``step_*.pdparams`` files of a directory, oldest step first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def update_latest(path: Path) -> Path:
    """Point ``latest.pdparams`` (same directory) at ``path``: a hard link when the file
    system allows it, else a copy; replaced atomically."""
    latest = path.with_name("latest.pdparams")
    tmp = path.with_name(f".latest.tmp-{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(path, tmp)
        except OSError:
            import shutil

            shutil.copyfile(path, tmp)
        os.replace(tmp, latest)
    finally:
        tmp.unlink(missing_ok=True)
    return latest


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints (``keep <= 0``: keep all)."""
    if keep <= 0:
        return
    for p in list_checkpoints(directory)[:-keep]:
        try:
            p.unlink()
        except OSError as exc:  # pragma: no cover
            logger.warning("could not delete old checkpoint %s: %s", p, exc)

