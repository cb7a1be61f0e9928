"""Loading the models a run needs, once: the FOMM (with its execution engine) and the
face detector (with the weights registry handed to it)."""

from __future__ import annotations

import logging
from typing import Any, Optional, Tuple

from ..config import ModelConfig, load_config
from ..errors import InputError
from ..options import AnimateOptions

logger = logging.getLogger(__name__)

__all__ = ["load_animator", "create_detector", "OFFICIAL_CONFIGS"]

#: Configs with official PaddleGAN weights of the same name in the registry.
OFFICIAL_CONFIGS = ("vox-256", "vox-512", "vox-mobile")


def load_animator(options: AnimateOptions) -> Tuple[ModelConfig, "Animator"]:
    """The resolved config and a ready :class:`~ppgan_fom.animator.Animator`: device and
    threads set, weights resolved (downloaded if needed) and loaded strictly, the engine
    (static graphs or eager) built.

    Raises:
        InputError: a custom config without ``weight_path``.
        WeightsError: weights missing (offline), corrupt or not matching the config.
    """
    from ..animator import Animator
    from ..engine import make_engine
    from ..model import load_fomm
    from ..runtime import resolve_threads, setup_device
    from ..weights import resolve_weights

    device = setup_device(cpu=options.cpu, threads=options.threads)
    cfg = load_config(options.config, image_size=options.image_size,
                      mobile_net=options.mobile_net)
    weights = options.weight_path
    if weights is None:
        if cfg.name not in OFFICIAL_CONFIGS:
            raise InputError(f"config {options.config} has no official weights: "
                             f"pass --weight_path")
        weights = cfg.name
    path = resolve_weights(str(weights))
    gen, kp = load_fomm(cfg, path, inference=True)
    engine = make_engine(options.engine, gen, kp, cfg.image_size, path, repr(cfg),
                         resolve_threads(options.threads), device)
    return cfg, Animator(gen, kp, cfg.image_size, options.batch_size, engine=engine)


def create_detector(name: Optional[str] = None, **options: Any):
    """:func:`faceutils.create_detector` with this project's weights registry handed to
    it, so that ``'s3fd'`` is fetched (cache, PaddleGAN's cache, download) like the FOMM
    weights. Options as for ``faceutils``."""
    import faceutils

    from ..weights import load_weights

    if (name or faceutils.DEFAULT_DETECTOR).strip().lower() in ("s3fd", "sfd"):
        options.setdefault("load_checkpoint", load_weights)
        name = "s3fd"
    return faceutils.create_detector(name, **options)
