"""FOMM architecture configuration: frozen dataclasses, presets and YAML readers.

Two YAML layouts are understood:

* PaddleGAN (``configs/firstorder_vox_256.yaml``): ``model.common_params``,
  ``model.generator.kp_detector_cfg``, ``model.generator.generator_cfg``; the input
  size comes from ``dataset.*.frame_shape`` when present.
* the original first-order-model (``config/vox-256.yaml``): ``model_params.common_params``,
  ``model_params.kp_detector_params``, ``model_params.generator_params`` and
  ``dataset_params.frame_shape``.

The dict that PaddleGAN's ``FirstOrderPredictor`` takes as ``config=`` (``{'model': {...}}``)
is the PaddleGAN layout too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from .errors import InputError

__all__ = ["KPDetectorConfig", "DenseMotionConfig", "GeneratorConfig", "ModelConfig",
           "PRESETS", "preset", "load_config"]


@dataclass(frozen=True)
class KPDetectorConfig:
    """Keypoint detector hyper-parameters (PaddleGAN ``kp_detector_cfg``)."""

    temperature: float = 0.1
    block_expansion: int = 32
    max_features: int = 1024
    scale_factor: float = 0.25
    num_blocks: int = 5
    single_jacobian_map: bool = False
    pad: int = 0
    mobile_net: bool = False


@dataclass(frozen=True)
class DenseMotionConfig:
    """Dense motion network hyper-parameters (``dense_motion_params``)."""

    block_expansion: int = 64
    max_features: int = 1024
    num_blocks: int = 5
    scale_factor: float = 0.25
    kp_variance: float = 0.01


@dataclass(frozen=True)
class GeneratorConfig:
    """Occlusion-aware generator hyper-parameters (PaddleGAN ``generator_cfg``)."""

    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    estimate_occlusion_map: bool = True
    dense_motion_params: Optional[DenseMotionConfig] = field(default_factory=DenseMotionConfig)
    mobile_net: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """A whole FOMM: common params, both sub-networks and the input size (pixels)."""

    num_kp: int = 10
    num_channels: int = 3
    estimate_jacobian: bool = True
    kp_detector: KPDetectorConfig = field(default_factory=KPDetectorConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    image_size: int = 256
    name: str = "custom"

    # ----------------------------------------------------------------- constructors kwargs
    def common_kwargs(self) -> Dict[str, Any]:
        return {"num_kp": self.num_kp, "num_channels": self.num_channels,
                "estimate_jacobian": self.estimate_jacobian}

    def kp_detector_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for :class:`ppgan_fom.modules.KPDetector`."""
        return {**dataclasses.asdict(self.kp_detector), **self.common_kwargs()}

    def generator_kwargs(self, inference: bool = True) -> Dict[str, Any]:
        """Keyword arguments for :class:`ppgan_fom.modules.OcclusionAwareGenerator`."""
        g = dataclasses.asdict(self.generator)
        return {**g, **self.common_kwargs(), "inference": inference}

    def to_paddlegan_dict(self) -> Dict[str, Any]:
        """The ``{'model': ...}`` dict PaddleGAN's FirstOrderPredictor accepts as ``config``."""
        kp = dataclasses.asdict(self.kp_detector)
        gen = dataclasses.asdict(self.generator)
        for d in (kp, gen):
            if not d.get("mobile_net"):
                d.pop("mobile_net", None)
        return {"model": {"common_params": self.common_kwargs(),
                          "generator": {"kp_detector_cfg": kp, "generator_cfg": gen}},
                "dataset": {"train": {"frame_shape": [self.image_size, self.image_size,
                                                      self.num_channels]}}}

    def with_image_size(self, size: int) -> "ModelConfig":
        """Same architecture at another input size (checked by :func:`validate_image_size`)."""
        validate_image_size(self, size)
        return dataclasses.replace(self, image_size=int(size))


def validate_image_size(cfg: ModelConfig, size: int) -> None:
    """Raise :class:`InputError` if ``size`` cannot be processed by ``cfg``.

    Every down-sampling stage halves the map with ``AvgPool2D(2)`` and each decoder
    stage doubles it, so the size seen by each hourglass must divide by ``2**num_blocks``.
    """
    def need(scale: float, blocks: int) -> int:
        return int(round((1 / scale))) * (2 ** blocks)

    reqs = [need(cfg.kp_detector.scale_factor, cfg.kp_detector.num_blocks),
            2 ** cfg.generator.num_down_blocks]
    if cfg.generator.dense_motion_params is not None:
        dm = cfg.generator.dense_motion_params
        reqs.append(need(dm.scale_factor, dm.num_blocks))
    import math
    step = 1
    for r in reqs:
        step = step * r // math.gcd(step, r)
    if size <= 0 or size % step:
        raise InputError(f"image_size {size} is not supported by config '{cfg.name}': "
                         f"it must be a positive multiple of {step}")


def _kp_from(d: Mapping[str, Any]) -> KPDetectorConfig:
    return KPDetectorConfig(**_known(KPDetectorConfig, d, "kp_detector_cfg"))


def _gen_from(d: Mapping[str, Any]) -> GeneratorConfig:
    d = dict(d)
    dm = d.pop("dense_motion_params", None)
    dmc = DenseMotionConfig(**_known(DenseMotionConfig, dm, "dense_motion_params")) \
        if dm is not None else None
    return GeneratorConfig(dense_motion_params=dmc, **_known(GeneratorConfig, d, "generator_cfg"))


def _known(cls, d: Mapping[str, Any], where: str) -> Dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - {"dense_motion_params"}
    unknown = set(d) - names - {"dense_motion_params"}
    if unknown:
        raise InputError(f"config section {where}: unknown keys {sorted(unknown)}")
    return {k: v for k, v in d.items() if k in names}


def from_dict(cfg: Mapping[str, Any], name: str = "custom",
              image_size: Optional[int] = None) -> ModelConfig:
    """Build a :class:`ModelConfig` from a PaddleGAN or original-FOMM config dict."""
    try:
        if "model" in cfg and "generator" in cfg["model"]:
            m = cfg["model"]
            common = dict(m["common_params"])
            kp = dict(m["generator"]["kp_detector_cfg"])
            gen = dict(m["generator"]["generator_cfg"])
            shape = _first_frame_shape(cfg.get("dataset", {}))
        elif "model_params" in cfg:
            m = cfg["model_params"]
            common = dict(m["common_params"])
            kp = dict(m["kp_detector_params"])
            gen = dict(m["generator_params"])
            shape = (cfg.get("dataset_params") or {}).get("frame_shape")
        else:
            raise KeyError("neither 'model.generator' (PaddleGAN) nor 'model_params' (FOMM)")
    except (KeyError, TypeError) as exc:
        raise InputError(f"config '{name}': not a FOMM config ({exc})") from None
    # PaddleGAN passes mobile_net separately to the kp detector and the generator.
    size = image_size if image_size is not None else (int(shape[0]) if shape else 256)
    out = ModelConfig(num_kp=int(common.get("num_kp", 10)),
                      num_channels=int(common.get("num_channels", 3)),
                      estimate_jacobian=bool(common.get("estimate_jacobian", False)),
                      kp_detector=_kp_from(kp), generator=_gen_from(gen),
                      image_size=size, name=name)
    validate_image_size(out, size)
    return out


def _first_frame_shape(dataset: Mapping[str, Any]):
    if not isinstance(dataset, Mapping):
        return None
    for part in dataset.values():
        if isinstance(part, Mapping) and part.get("frame_shape"):
            return part["frame_shape"]
    return None


def load_config(path_or_name: str | Path | Mapping[str, Any] | ModelConfig | None,
                image_size: Optional[int] = None, mobile_net: bool = False) -> ModelConfig:
    """Resolve ``--config`` into a :class:`ModelConfig`.

    Args:
        path_or_name: ``None`` (pick the preset from ``image_size``/``mobile_net``, as
            PaddleGAN does), a preset name, a YAML path, a config dict or a ModelConfig.
        image_size: input size in pixels; overrides the size in the config.
        mobile_net: with ``None``, choose ``vox-mobile``.
    """
    if isinstance(path_or_name, ModelConfig):
        return path_or_name.with_image_size(image_size) if image_size is not None else path_or_name
    if path_or_name is None:
        if mobile_net:
            name = "vox-mobile"
        else:
            name = "vox-512" if image_size == 512 else "vox-256"
        cfg = PRESETS[name]
        return cfg.with_image_size(image_size) if image_size is not None else cfg
    if isinstance(path_or_name, Mapping):
        return from_dict(path_or_name, image_size=image_size)
    if str(path_or_name) in PRESETS:
        cfg = PRESETS[str(path_or_name)]
        return cfg.with_image_size(image_size) if image_size is not None else cfg
    path = Path(path_or_name)
    if not path.is_file():
        raise InputError(f"{path}: config file not found (presets: {', '.join(PRESETS)})")
    data, _ = read_yaml_mapping(path)
    return from_dict(data, name=path.stem, image_size=image_size)


def read_yaml_mapping(path: Path) -> Tuple[Mapping[str, Any], str]:
    """(parsed top-level mapping, raw text) of a YAML config, or a one-line InputError."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid YAML file ({exc.__class__.__name__})") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: not a FOMM config (top level is not a mapping)")
    return data, text


def preset(name: str) -> ModelConfig:
    """Return the preset named ``vox-256``, ``vox-512`` or ``vox-mobile``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})") from None


_VOX = ModelConfig(name="vox-256")
_MOBILE_KP = KPDetectorConfig(block_expansion=32, max_features=256, mobile_net=True)
_MOBILE_GEN = GeneratorConfig(block_expansion=32, max_features=256, mobile_net=True,
                              dense_motion_params=DenseMotionConfig(block_expansion=32,
                                                                    max_features=256))

PRESETS: Dict[str, ModelConfig] = {
    "vox-256": _VOX,
    "vox-512": dataclasses.replace(_VOX, image_size=512, name="vox-512"),
    "vox-mobile": ModelConfig(kp_detector=_MOBILE_KP, generator=_MOBILE_GEN, name="vox-mobile"),
}
