"""Build the FOMM networks from a config and load checkpoints into them, strictly."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, Mapping, Tuple

import numpy as np
import paddle

from .config import ModelConfig
from .modules import KPDetector, OcclusionAwareGenerator
from .checkpoint import load_checkpoint, split_checkpoint, validate_state_dict

logger = logging.getLogger(__name__)

__all__ = ["build_fomm", "load_fomm", "state_shapes", "assign_state"]


def build_fomm(cfg: ModelConfig, inference: bool = True) -> Tuple[OcclusionAwareGenerator, KPDetector]:
    """Fresh (randomly initialised) generator and keypoint detector for ``cfg``."""
    gen = OcclusionAwareGenerator(**cfg.generator_kwargs(inference=inference))
    kp = KPDetector(**cfg.kp_detector_kwargs())
    return gen, kp


def state_shapes(layer: paddle.nn.Layer) -> Dict[str, Tuple[int, ...]]:
    """name -> shape of a layer's state dict (parameters and persistable buffers)."""
    return {k: tuple(v.shape) for k, v in layer.state_dict().items()}


def assign_state(layer: paddle.nn.Layer, state: Mapping[str, np.ndarray], what: str,
                 source: os.PathLike | str) -> None:
    """Validate ``state`` against ``layer`` (exact names and shapes) and load it.

    Raises:
        WeightsError: missing / unexpected keys or shape mismatches, all listed.
    """
    validate_state_dict(state_shapes(layer), state, what, source)
    own = layer.state_dict()
    with paddle.no_grad():
        for name, value in state.items():
            own[name].set_value(np.ascontiguousarray(value, dtype=np.float32))


def load_fomm(cfg: ModelConfig, weight_path: os.PathLike | str,
              inference: bool = True) -> Tuple[OcclusionAwareGenerator, KPDetector]:
    """Generator and keypoint detector with weights from a PaddleGAN-layout ``.pdparams``.

    The file is read with the restricted unpickler and must match ``cfg`` exactly.
    Both networks are returned in eval mode.
    """
    path = Path(weight_path)
    state = load_checkpoint(path)
    gen_state, kp_state = split_checkpoint(state, path)
    gen, kp = build_fomm(cfg, inference=inference)
    assign_state(gen, gen_state, "generator", path)
    assign_state(kp, kp_state, "kp_detector", path)
    gen.eval()
    kp.eval()
    logger.info("loaded FOMM weights %s (config %s, %dx%d)", path, cfg.name,
                cfg.image_size, cfg.image_size)
    return gen, kp
