"""The training sections of a FOMM YAML: dataset, losses, discriminator, optimiser, schedule.

The model architecture is parsed by :func:`ppgan_fom.config.load_config` (one parser
for inference and training); this module reads everything else from the same file.
Both layouts are understood:

* PaddleGAN (``configs/firstorder_vox_256.yaml``): ``dataset.train`` (``frame_shape``,
  ``id_sampling``, ``num_repeats``, ``time_flip``, ``transforms`` with
  ``PairedRandomHorizontalFlip`` / ``PairedColorJitter``, ``batch_size``),
  ``model.train_params``, ``model.discriminator.discriminator_cfg``, ``lr_scheduler``
  (``lr_*``, ``epoch_milestones`` counted in *iterations*, as PaddleGAN steps its
  scheduler every iteration), ``optimizer`` (Paddle's Adam defaults: beta1 0.9) and
  the top-level ``epochs``;
* first-order-model (``config/vox-256.yaml``): ``dataset_params`` (``augmentation_params``),
  ``model_params.discriminator_params`` and ``train_params`` (``lr_*``, ``batch_size``,
  ``num_repeats``, ``epoch_milestones`` counted in *epochs*; Adam betas (0.5, 0.999)).

Keys this project adds (all optional, under ``train_params``):

* ``loss_weights.pixel_l1``: per-pyramid-scale weights of a pixel L1 reconstruction
  loss (a scalar applies to every scale). It is the reconstruction term when the VGG19
  perceptual loss is off (``loss_weights.perceptual: 0`` or ``--no_perceptual``).
* ``checkpoint_every_steps`` (default 1000), ``grid_every_steps`` (default 500),
  ``log_every_steps`` (default 1).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Tuple

from ..config import ModelConfig, load_config, read_yaml_mapping
from ..errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["ColorJitterConfig", "DatasetConfig", "TransformConfig", "DiscriminatorConfig",
           "LossWeights", "OptimConfig", "TrainConfig", "load_train_config",
           "DEFAULT_PIXEL_L1"]

#: per-scale weight of the pixel L1 pyramid loss that ``--no_perceptual`` switches on
DEFAULT_PIXEL_L1 = 10.0


@dataclass(frozen=True)
class ColorJitterConfig:
    """Maximum jitter amounts (torchvision semantics): factors in [1-x, 1+x], hue shift
    in [-hue, hue] of the colour circle (hue <= 0.5)."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in (self.brightness, self.contrast, self.saturation, self.hue))


@dataclass(frozen=True)
class DatasetConfig:
    """How training pairs are drawn. ``frame_shape`` is (H, W, C) of the network input."""

    frame_shape: Tuple[int, int, int] = (256, 256, 3)
    id_sampling: bool = False
    num_repeats: int = 1
    horizontal_flip: bool = True
    time_flip: bool = True
    jitter: ColorJitterConfig = field(default_factory=ColorJitterConfig)


@dataclass(frozen=True)
class TransformConfig:
    """Random thin-plate-spline transforms of the equivariance losses (FOMM Sec. 3.3).

    ``sigma_affine``: std of the affine part's deviation from the identity;
    ``sigma_tps``, ``points_tps``: std of the TPS weights on a points x points grid of
    control points (``points_tps = 0`` disables the TPS part).
    """

    sigma_affine: float = 0.05
    sigma_tps: float = 0.005
    points_tps: int = 5


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Multi-scale patch discriminator (FOMM's, PaddleGAN's ``discriminator_cfg``)."""

    scales: Tuple[float, ...] = (1.0,)
    block_expansion: int = 32
    max_features: int = 512
    num_blocks: int = 4
    sn: bool = False
    use_kp: bool = False
    kp_variance: float = 0.01


@dataclass(frozen=True)
class LossWeights:
    """Loss weights (FOMM's names). Sequences are per VGG layer (perceptual), per
    discriminator block (feature_matching) or per pyramid scale (pixel_l1)."""

    generator_gan: float = 0.0
    discriminator_gan: float = 1.0
    feature_matching: Tuple[float, ...] = (10.0, 10.0, 10.0, 10.0)
    perceptual: Tuple[float, ...] = (10.0, 10.0, 10.0, 10.0, 10.0)
    pixel_l1: Tuple[float, ...] = ()
    equivariance_value: float = 10.0
    equivariance_jacobian: float = 10.0

    @property
    def use_perceptual(self) -> bool:
        return any(w != 0 for w in self.perceptual)

    @property
    def use_pixel(self) -> bool:
        return any(w != 0 for w in self.pixel_l1)

    @property
    def use_gan(self) -> bool:
        return self.generator_gan != 0


@dataclass(frozen=True)
class OptimConfig:
    """Adam for each network and a multi-step LR decay.

    ``milestones`` are counted in ``milestone_unit`` ('step' or 'epoch'); at each the
    learning rate is multiplied by ``gamma``.
    """

    lr_generator: float = 2.0e-4
    lr_kp_detector: float = 2.0e-4
    lr_discriminator: float = 2.0e-4
    beta1: float = 0.5
    beta2: float = 0.999
    milestones: Tuple[int, ...] = ()
    milestone_unit: str = "step"
    gamma: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Everything training needs; ``model`` is the architecture (shared with inference)."""

    model: ModelConfig
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    transform: TransformConfig = field(default_factory=TransformConfig)
    scales: Tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    batch_size: int = 8
    num_epochs: int = 100
    checkpoint_every: int = 1000
    grid_every: int = 500
    log_every: int = 1
    name: str = "custom"
    source_text: str = ""

    @property
    def image_size(self) -> int:
        return self.model.image_size

    def without_perceptual(self, pixel_weight: float = DEFAULT_PIXEL_L1) -> "TrainConfig":
        """Same config with the VGG19 perceptual term off and, unless the config already
        has ``pixel_l1`` weights, a pixel L1 pyramid loss of ``pixel_weight`` per scale."""
        lw = self.loss_weights
        pixel = lw.pixel_l1 if lw.use_pixel else tuple(float(pixel_weight) for _ in self.scales)
        lw = dataclasses.replace(lw, perceptual=tuple(0.0 for _ in lw.perceptual), pixel_l1=pixel)
        return dataclasses.replace(self, loss_weights=lw)

    def replace(self, **changes: Any) -> "TrainConfig":
        """``dataclasses.replace`` shortcut (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def steps_per_epoch(self, num_items: int, world_size: int = 1) -> int:
        """Optimiser steps per epoch for ``num_items`` videos (or identities):
        ``num_items * num_repeats // (batch_size * world_size)``, at least 1."""
        return max(1, (num_items * self.dataset.num_repeats) // (self.batch_size * world_size))


# ----------------------------------------------------------------------------- parsing
def _floats(value: Any, where: str) -> Tuple[float, ...]:
    if value is None:
        return ()
    if isinstance(value, (int, float)):
        return (float(value),)
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"config key {where}: expected a number or a list of numbers, "
                         f"got {value!r}") from None


def _num(d: Mapping, key: str, default, kind=float, where: str = ""):
    if key not in d or d[key] is None:
        return default
    try:
        return kind(d[key])
    except (TypeError, ValueError):
        raise InputError(f"config key {where}{key}: expected {kind.__name__}, got {d[key]!r}") \
            from None


def _section(d: Any, *keys: str) -> Mapping:
    for k in keys:
        d = d.get(k) if isinstance(d, Mapping) else None
    return d if isinstance(d, Mapping) else {}


def _frame_shape(value: Any, model: ModelConfig) -> Tuple[int, int, int]:
    if value is None:
        return (model.image_size, model.image_size, model.num_channels)
    try:
        shape = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"config key frame_shape: expected [H, W, C], got {value!r}") from None
    if len(shape) == 2:
        shape = (*shape, model.num_channels)
    if len(shape) != 3 or shape[0] != shape[1]:
        raise InputError(f"config key frame_shape: expected a square [S, S, C], got {list(shape)}")
    return shape  # type: ignore[return-value]


def _loss_weights(d: Mapping, where: str) -> LossWeights:
    base = LossWeights()
    pixel = _floats(d.get("pixel_l1"), where + "pixel_l1")
    return LossWeights(
        generator_gan=_num(d, "generator_gan", base.generator_gan, where=where),
        discriminator_gan=_num(d, "discriminator_gan", base.discriminator_gan, where=where),
        feature_matching=_floats(d.get("feature_matching", base.feature_matching),
                                 where + "feature_matching"),
        perceptual=_floats(d.get("perceptual", base.perceptual), where + "perceptual"),
        pixel_l1=pixel,
        equivariance_value=_num(d, "equivariance_value", base.equivariance_value, where=where),
        equivariance_jacobian=_num(d, "equivariance_jacobian", base.equivariance_jacobian,
                                   where=where))


def _transform(d: Mapping) -> TransformConfig:
    base = TransformConfig()
    has_tps = "sigma_tps" in d and "points_tps" in d
    return TransformConfig(
        sigma_affine=_num(d, "sigma_affine", base.sigma_affine, where="transform_params."),
        sigma_tps=_num(d, "sigma_tps", base.sigma_tps, where="transform_params.") if has_tps
        else 0.0,
        points_tps=_num(d, "points_tps", base.points_tps, int, where="transform_params.")
        if has_tps else 0)


def _discriminator(d: Mapping) -> DiscriminatorConfig:
    base = DiscriminatorConfig()
    known = {f.name for f in dataclasses.fields(DiscriminatorConfig)}
    unknown = set(d) - known
    if unknown:
        raise InputError(f"config section discriminator: unknown keys {sorted(unknown)}")
    return DiscriminatorConfig(
        scales=_floats(d.get("scales", base.scales), "discriminator.scales") or base.scales,
        block_expansion=_num(d, "block_expansion", base.block_expansion, int),
        max_features=_num(d, "max_features", base.max_features, int),
        num_blocks=_num(d, "num_blocks", base.num_blocks, int),
        sn=bool(d.get("sn", base.sn)), use_kp=bool(d.get("use_kp", base.use_kp)),
        kp_variance=_num(d, "kp_variance", base.kp_variance))


def _jitter(d: Mapping) -> ColorJitterConfig:
    return ColorJitterConfig(**{k: _num(d, k, 0.0, where="jitter.")
                                for k in ("brightness", "contrast", "saturation", "hue")})


def _steps_keys(tp: Mapping) -> dict:
    out = {}
    for key, name in (("checkpoint_every_steps", "checkpoint_every"),
                      ("grid_every_steps", "grid_every"), ("log_every_steps", "log_every")):
        if tp.get(key) is not None:
            out[name] = _num(tp, key, 0, int, where="train_params.")
    return out


def _from_paddlegan(cfg: Mapping, model: ModelConfig) -> dict:
    m = cfg["model"]
    tp = _section(m, "train_params")
    train = _section(cfg, "dataset", "train")
    jitter, hflip = ColorJitterConfig(), False
    for t in train.get("transforms") or []:
        if not isinstance(t, Mapping):
            continue
        if t.get("name") == "PairedRandomHorizontalFlip":
            hflip = float(t.get("prob", 0.5)) > 0
        elif t.get("name") == "PairedColorJitter":
            jitter = _jitter(t)
    ds = DatasetConfig(frame_shape=_frame_shape(train.get("frame_shape"), model),
                       id_sampling=bool(train.get("id_sampling", False)),
                       num_repeats=_num(train, "num_repeats", 1, int, where="dataset.train."),
                       horizontal_flip=hflip, time_flip=bool(train.get("time_flip", False)),
                       jitter=jitter)
    lr = _section(cfg, "lr_scheduler")
    opt = _section(cfg, "optimizer")
    optim = _optim(lr, opt, beta1=0.9, unit="step")
    epochs = cfg.get("epochs") or tp.get("num_epochs") or 100
    return dict(dataset=ds, optim=optim,
                discriminator=_discriminator(_section(m, "discriminator", "discriminator_cfg")),
                batch_size=_num(train, "batch_size", 8, int, where="dataset.train."),
                num_epochs=int(epochs), tp=tp)


def _optim(lr: Mapping, opt: Mapping, beta1: float, unit: str) -> OptimConfig:
    """Learning rates / schedule from ``lr`` and Adam betas from ``opt`` (PaddleGAN keeps
    them in two sections, the original FOMM in ``train_params``; their beta1 defaults
    differ: 0.9 and 0.5)."""
    base = OptimConfig()
    return OptimConfig(
        lr_generator=_num(lr, "lr_generator", base.lr_generator),
        lr_kp_detector=_num(lr, "lr_kp_detector", base.lr_kp_detector),
        lr_discriminator=_num(lr, "lr_discriminator", base.lr_discriminator),
        beta1=_num(opt, "beta1", beta1), beta2=_num(opt, "beta2", 0.999),
        milestones=tuple(int(v) for v in _floats(lr.get("epoch_milestones"), "epoch_milestones")),
        milestone_unit=unit, gamma=_num(lr, "gamma", 0.1))


def _from_fomm(cfg: Mapping, model: ModelConfig) -> dict:
    tp = _section(cfg, "train_params")
    dp = _section(cfg, "dataset_params")
    flip = _section(dp, "augmentation_params", "flip_param")
    ds = DatasetConfig(frame_shape=_frame_shape(dp.get("frame_shape"), model),
                       id_sampling=bool(dp.get("id_sampling", False)),
                       num_repeats=_num(tp, "num_repeats", 1, int, where="train_params."),
                       horizontal_flip=bool(flip.get("horizontal_flip", False)),
                       time_flip=bool(flip.get("time_flip", False)),
                       jitter=_jitter(_section(dp, "augmentation_params", "jitter_param")))
    optim = _optim(tp, tp, beta1=0.5, unit="epoch")
    return dict(dataset=ds, optim=optim,
                discriminator=_discriminator(_section(cfg, "model_params", "discriminator_params")),
                batch_size=_num(tp, "batch_size", 8, int, where="train_params."),
                num_epochs=_num(tp, "num_epochs", 100, int, where="train_params."), tp=tp)


def train_config_from_dict(cfg: Mapping[str, Any], name: str = "custom",
                           source_text: str = "") -> TrainConfig:
    """Build a :class:`TrainConfig` from a parsed PaddleGAN or first-order-model YAML."""
    model = load_config(cfg)
    model = dataclasses.replace(model, name=name)
    if isinstance(cfg.get("model"), Mapping) and "generator" in cfg["model"]:
        parts = _from_paddlegan(cfg, model)
    else:
        parts = _from_fomm(cfg, model)
    tp = parts.pop("tp")
    ds: DatasetConfig = parts["dataset"]
    if ds.frame_shape[0] != model.image_size:
        model = model.with_image_size(ds.frame_shape[0])
    lw = _loss_weights(_section(tp, "loss_weights"), "train_params.loss_weights.")
    scales = _floats(tp.get("scales"), "train_params.scales") or (1.0, 0.5, 0.25, 0.125)
    if lw.use_pixel and len(lw.pixel_l1) == 1 and len(scales) > 1:
        lw = dataclasses.replace(lw, pixel_l1=lw.pixel_l1 * len(scales))
    if lw.use_pixel and len(lw.pixel_l1) != len(scales):
        raise InputError(f"config key train_params.loss_weights.pixel_l1: {len(lw.pixel_l1)} "
                         f"weights for {len(scales)} pyramid scales")
    if len(lw.perceptual) > 5:
        raise InputError("config key train_params.loss_weights.perceptual: at most 5 weights "
                         "(one per VGG19 block)")
    if len(lw.perceptual) == 1 and lw.perceptual[0] == 0:
        lw = dataclasses.replace(lw, perceptual=(0.0,) * 5)
    for s in scales:
        inv = 1.0 / s if s > 0 else 0.0
        if s <= 0 or s > 1 or abs(inv - round(inv)) > 1e-6:
            raise InputError(f"config key train_params.scales: {s} is not 1/n")
    if parts["batch_size"] < 1:
        raise InputError("config: batch_size must be >= 1")
    tc = TrainConfig(model=model, loss_weights=lw,
                     transform=_transform(_section(tp, "transform_params")),
                     scales=tuple(scales), name=name, source_text=source_text,
                     **parts, **_steps_keys(tp))
    if not (lw.use_perceptual or lw.use_pixel or lw.use_gan):
        logger.warning("config %s has no reconstruction loss (perceptual, pixel_l1 and "
                       "generator_gan are all 0): the generator will not learn", name)
    return tc


def load_train_config(path: str | Path) -> TrainConfig:
    """Read ``path`` (a PaddleGAN or first-order-model YAML) as a :class:`TrainConfig`.

    Raises:
        InputError: missing file, invalid YAML, not a FOMM config, bad values.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: config file not found")
    data, text = read_yaml_mapping(p)
    return train_config_from_dict(data, name=p.stem, source_text=text)


def describe(tc: TrainConfig) -> str:
    """One-line summary for logs."""
    lw = tc.loss_weights
    terms = [t for t, on in (("perceptual", lw.use_perceptual), ("pixel_l1", lw.use_pixel),
                             ("gan", lw.use_gan), ("equivariance",
                                                   lw.equivariance_value + lw.equivariance_jacobian
                                                   != 0)) if on]
    return (f"config {tc.name}: {tc.image_size}x{tc.image_size}, {tc.model.num_kp} keypoints, "
            f"batch {tc.batch_size}, losses {'+'.join(terms) or 'none'}, lr G/KP/D "
            f"{tc.optim.lr_generator:g}/{tc.optim.lr_kp_detector:g}/{tc.optim.lr_discriminator:g}")

