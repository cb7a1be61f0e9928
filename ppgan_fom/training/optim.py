"""Adam optimisers, the multi-step LR schedule, and optimiser state as plain arrays.

The learning rate is a pure function of the step (``lr * gamma ** #milestones passed``)
and is set before every step, so resuming needs no scheduler state. Optimiser state is
stored keyed by the parameters' *structured* names (``down_blocks.0.conv.weight``), not
Paddle's process-specific internal names (``conv2d_12.w_0``), as numpy arrays that the
restricted checkpoint unpickler accepts.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, Mapping

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import WeightsError
from .train_config import OptimConfig

logger = logging.getLogger(__name__)

__all__ = ["build_adam", "milestone_steps", "lr_at", "optimizer_state", "load_optimizer_state"]

_ACC = re.compile(r"^[A-Za-z0-9_]+_\d+$")


def build_adam(layer: nn.Layer, lr: float, cfg: OptimConfig) -> paddle.optimizer.Adam:
    """Adam over the layer's trainable parameters (betas from the config)."""
    return paddle.optimizer.Adam(learning_rate=float(lr), beta1=cfg.beta1, beta2=cfg.beta2,
                                 parameters=layer.parameters())


def milestone_steps(cfg: OptimConfig, steps_per_epoch: int) -> tuple:
    """Milestones converted to optimiser steps."""
    mult = steps_per_epoch if cfg.milestone_unit == "epoch" else 1
    return tuple(int(m) * mult for m in cfg.milestones)


def lr_at(base: float, step: int, milestones: tuple, gamma: float) -> float:
    """Learning rate for the 0-based ``step``: ``base * gamma ** #{m <= step}``."""
    return float(base) * float(gamma) ** sum(1 for m in milestones if step >= m)


def _names(layer: nn.Layer) -> Dict[str, str]:
    """internal parameter name -> structured name."""
    return {p.name: n for n, p in layer.named_parameters()}


def optimizer_state(opt: paddle.optimizer.Optimizer, layer: nn.Layer) -> dict:
    """Adam moments / beta powers as ``{structured_param: {accumulator: ndarray}}``."""
    names = _names(layer)
    # longest internal names first, so 'a.w_0' never claims the keys of 'a.w_01'
    internal = sorted(names, key=len, reverse=True)
    out: Dict[str, Dict[str, np.ndarray]] = {}
    for key, value in opt.state_dict().items():
        if not hasattr(value, "numpy"):
            continue  # LR_Scheduler and the like: the schedule is stateless here
        for iname in internal:
            if key.startswith(iname + "_") and _ACC.match(key[len(iname) + 1:]):
                out.setdefault(names[iname], {})[key[len(iname) + 1:]] = np.array(value.numpy())
                break
        else:
            logger.debug("optimizer state key %s matches no parameter; not saved", key)
    return {"state": out}


def load_optimizer_state(opt: paddle.optimizer.Optimizer, layer: nn.Layer, saved: Mapping,
                         what: str = "optimizer") -> None:
    """Restore :func:`optimizer_state` output into ``opt`` (built over ``layer``).

    Raises:
        WeightsError: the saved state names parameters the layer does not have, or
            shapes differ.
    """
    state = saved.get("state", {}) if isinstance(saved, Mapping) else {}
    by_name = {n: p for n, p in layer.named_parameters()}
    unknown = [n for n in state if n not in by_name]
    if unknown:
        raise WeightsError(f"{what}: saved state for parameters the model does not have "
                           f"({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''})")
    flat = {}
    for name, accs in state.items():
        p = by_name[name]
        for acc, arr in accs.items():
            arr = np.asarray(arr)
            if acc.startswith("moment") and tuple(arr.shape) != tuple(p.shape):
                raise WeightsError(f"{what}: state {name}/{acc} has shape {arr.shape}, "
                                   f"parameter has {tuple(p.shape)}")
            flat[f"{p.name}_{acc}"] = paddle.to_tensor(arr)
    opt.set_state_dict(flat)
