"""Loading the models a run needs, once: the FOMM (with its execution engine), the face
enhancer (``face_enhancement``) and the face detector (with the weights registry handed
to it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple

from ..config import PRESETS, ModelConfig, load_config
from ..errors import InputError, WeightsError
from ..options import AnimateOptions

if TYPE_CHECKING:  # the networks load lazily (the command lines import this module)
    from ..animator import Animator

logger = logging.getLogger(__name__)

__all__ = ["Models", "load_models", "load_animator", "load_enhancer", "enhancer_weights", "official_weights",
           "create_detector", "OFFICIAL_CONFIGS", "ENHANCER_WEIGHTS"]

#: Configs with official PaddleGAN weights of the same name in the registry.
OFFICIAL_CONFIGS = ("vox-256", "vox-512", "vox-mobile")
#: The registry name of the default face-enhancer weights (PaddleGAN's GPEN-512).
ENHANCER_WEIGHTS = "gpen-512"


def official_weights(options: AnimateOptions) -> str:
    """The registry name of the official weights used when ``weight_path`` is not given.

    A preset (named, or chosen by ``config=None``) uses its own weights. A YAML file or a
    config dict gets what PaddleGAN's ``FirstOrderPredictor`` downloads whatever the
    config: ``vox-mobile`` with ``mobile_net``, ``vox-512`` with ``image_size`` 512, else
    ``vox-256``.
    """
    cfg = options.config
    if cfg is None:
        return "vox-mobile" if options.mobile_net else \
            "vox-512" if options.image_size == 512 else "vox-256"
    if isinstance(cfg, str) and cfg in PRESETS:
        return cfg
    if isinstance(cfg, ModelConfig) and cfg.name in OFFICIAL_CONFIGS:
        return cfg.name
    return "vox-mobile" if options.mobile_net else \
        "vox-512" if options.image_size == 512 else "vox-256"


def resolve_config(options: AnimateOptions) -> ModelConfig:
    """The model config the options ask for (a preset, a YAML file or a dict, with the
    ``image_size`` / ``mobile_net`` overrides), read without loading any weights."""
    return load_config(options.config, image_size=options.image_size,
                       mobile_net=options.mobile_net)


def load_animator(options: AnimateOptions) -> Tuple[ModelConfig, "Animator"]:
    """The resolved config and a ready :class:`~ppgan_fom.animator.Animator`: device and
    threads set, weights resolved (downloaded if needed) and loaded strictly, the engine
    (static graphs or eager) built.

    Without ``weight_path`` the official weights are chosen as PaddleGAN does
    (:func:`official_weights`).

    Raises:
        InputError: the device asked for is not available; ``engine='static'`` on a
            device the static engine does not run on.
        WeightsError: weights missing (offline), corrupt or not matching the config.
    """
    from ..animator import Animator
    from ..engine import make_engine
    from ..model import load_fomm
    from ..runtime import resolve_threads, setup_device
    from ..weights import resolve_weights

    device = setup_device(threads=options.threads, device=options.requested_device)
    engine_kind = _engine_kind(options, device)
    cfg = resolve_config(options)
    chosen = options.weight_path is None
    weights = official_weights(options) if chosen else options.weight_path
    path = resolve_weights(str(weights))

    def networks():
        try:
            return load_fomm(cfg, path, inference=True)
        except WeightsError as exc:
            if not chosen or cfg.name in OFFICIAL_CONFIGS:
                raise
            raise WeightsError(f"{exc} (config {cfg.name} got the official weights "
                               f"'{weights}', chosen as PaddleGAN does from --mobile_net and "
                               f"--image_size; pass --weight_path with weights for this "
                               f"config)") from None

    # the networks are built only if needed: a cached static export runs without them
    engine = make_engine(engine_kind, None, None, cfg.image_size, path, repr(cfg),
                         resolve_threads(options.threads), device, networks=networks)
    return cfg, Animator(image_size=cfg.image_size, batch_size=options.batch_size,
                         engine=engine, networks=networks)


def _engine_kind(options: AnimateOptions, device: str) -> Optional[str]:
    """The engine for ``device``: as asked on the CPU and GPUs; eager elsewhere (XPU...),
    where Paddle Inference's static engine does not run here."""
    from ..runtime import supports_static_engine

    if supports_static_engine(device):
        return options.engine
    if options.engine == "static":
        raise InputError(f"--engine static runs on the CPU and GPUs only, not on {device}; "
                         f"drop --engine (the eager engine runs there)")
    logger.info("%s: using the eager engine (the static engine runs on CPU and GPU)", device)
    return "eager"


def enhancer_weights(options: AnimateOptions) -> Path:
    """The face enhancer's weights file (``enhancer_weight_path`` or the official
    ``gpen-512``, from the cache, PaddleGAN's cache or a download), resolved before any
    network is built so that a missing file fails at once.

    Raises:
        WeightsError: missing (offline: one line naming ``GPEN-512.pdparams``, its URL and
            ``--enhancer_weight_path``) or failed download.
    """
    from ..weights import resolve_weights

    return resolve_weights(str(options.enhancer_weight_path or ENHANCER_WEIGHTS))


def load_enhancer(options: AnimateOptions):
    """The :class:`~ppgan_fom.enhance.FaceEnhancer` of ``face_enhancement``, or None.

    The GPEN architecture is GPEN-512 for the registry file and read from the weights
    for a local file (:func:`~ppgan_fom.enhance.layout.gpen_config_from_shapes`), so any
    GPEN checkpoint in PaddleGAN's layout works. It runs on the device and engine of the
    FOMM, ``batch_size`` faces per network call like PaddleGAN's.

    Raises:
        InputError / WeightsError: as :func:`load_animator` and :func:`enhancer_weights`.
    """
    if not options.face_enhancement:
        if options.enhancer_weight_path:
            logger.warning("--enhancer_weight_path is ignored without --face_enhancement")
        return None
    from ..checkpoint import load_checkpoint
    from ..enhance import GPEN_512, FaceEnhancer
    from ..enhance.layout import gpen_config_from_shapes
    from ..runtime import setup_device

    path = enhancer_weights(options)
    device = setup_device(threads=options.threads, device=options.requested_device)
    if (options.enhancer_weight_path or ENHANCER_WEIGHTS) == ENHANCER_WEIGHTS:
        cfg = GPEN_512
    else:  # read once more by the enhancer: the shapes are only known from the file
        shapes = {k: getattr(v, "shape", ()) for k, v in load_checkpoint(path).items()}
        cfg = gpen_config_from_shapes(shapes, str(path))
    enhancer = FaceEnhancer(path, cfg, engine=_engine_kind(options, device),
                            batch_size=options.batch_size, threads=options.threads,
                            device=device)
    logger.info("face enhancement: GPEN %d px (%s), %s engine", cfg.size, path,
                enhancer.engine_name)
    return enhancer


@dataclass
class Models:
    """The models of a run, loaded once and shareable between runs (the web app loads
    them once per process): the resolved config, the :class:`~ppgan_fom.animator.Animator`
    (FOMM + engine) and the face enhancer (``face_enhancement``) or None."""

    config: ModelConfig
    animator: "Animator"
    enhancer: Any = None

    def with_enhancer(self, options: AnimateOptions) -> "Models":
        """The models one run with ``options`` uses: with ``face_enhancement`` these
        models, the enhancer loaded into them if it is not yet (once per process for
        shared models); without it, the same FOMM and no enhancer, even when shared
        models hold one for other runs."""
        if not options.face_enhancement:
            return self if self.enhancer is None else replace(self, enhancer=None)
        if self.enhancer is None:
            self.enhancer = load_enhancer(options)
        return self


def load_models(options: AnimateOptions) -> Models:
    """Everything ``options`` need: the FOMM (:func:`load_animator`) and, with
    ``face_enhancement``, GPEN (:func:`load_enhancer`). A missing enhancer file fails
    before any network is built."""
    if options.face_enhancement:
        enhancer_weights(options)
    config, animator = load_animator(options)
    return Models(config, animator, load_enhancer(options))


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
