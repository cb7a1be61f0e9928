"""Loss wrappers around the shared FOMM networks (one forward = all losses of a step).

:class:`GeneratorFullModel` runs the keypoint detector on source and driving frames, the
generator (``inference=False``, the original FOMM) and returns every generator-side loss;
:class:`DiscriminatorFullModel` returns the discriminator's. Both are plain
``paddle.nn.Layer`` so they can be wrapped in ``paddle.DataParallel`` for multi-GPU.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import paddle
import paddle.nn as nn

from ..modules import KPDetector, OcclusionAwareGenerator
from . import losses as L
from .discriminator import MultiScaleDiscriminator
from .tps import RandomTPS
from .train_config import TrainConfig

__all__ = ["GeneratorFullModel", "DiscriminatorFullModel"]

Losses = Dict[str, paddle.Tensor]


class GeneratorFullModel(nn.Layer):
    """Generator + keypoint detector losses.

    ``forward(source, driving, tps, discriminator)`` with source / driving (B, C, S, S) in
    [0, 1], ``tps`` a :class:`RandomTPS` of batch B (None: no equivariance losses) and the
    discriminator (None: no GAN terms) returns ``(losses, generated)``: losses maps
    ``perceptual``, ``pixel_l1``, ``gen_gan``, ``feature_matching``, ``equivariance_value``,
    ``equivariance_jacobian`` (those switched on) to weighted scalars; generated holds the
    generator outputs plus ``kp_source``, ``kp_driving`` and, with ``tps``,
    ``transformed_frame`` / ``transformed_kp``.
    """

    def __init__(self, kp_detector: KPDetector, generator: OcclusionAwareGenerator,
                 tc: TrainConfig, vgg: Optional[nn.Layer] = None):
        super().__init__()
        self.kp_extractor = kp_detector
        self.generator = generator
        self.tc = tc
        self.weights = tc.loss_weights
        self.pyramid = L.ImagePyramid(tc.scales, tc.model.num_channels)
        if self.weights.use_perceptual and vgg is None:
            raise ValueError("perceptual loss weights are set but no VGG19 was given")
        self.vgg = vgg if self.weights.use_perceptual else None

    def forward(self, source: paddle.Tensor, driving: paddle.Tensor,
                tps: Optional[RandomTPS] = None,
                discriminator: Optional[MultiScaleDiscriminator] = None) -> Tuple[Losses, dict]:
        w = self.weights
        if source.stop_gradient:
            # Paddle's CPU grid_sample backward crashes (segfault, paddle 3.3) when the
            # image does not need a gradient but the grid does; the generator warps
            # ``source`` with a learnt grid, so let it carry a (discarded) gradient.
            source = source.detach()
            source.stop_gradient = False
        kp_source = self.kp_extractor(source)
        kp_driving = self.kp_extractor(driving)
        generated = self.generator(source, kp_driving=kp_driving, kp_source=kp_source)
        generated.update({"kp_source": kp_source, "kp_driving": kp_driving})
        losses: Losses = {}
        pred = self.pyramid(generated["prediction"])
        real = self.pyramid(driving)
        if w.use_perceptual:
            losses["perceptual"] = L.perceptual_pyramid_loss(self.vgg, pred, real, w.perceptual)
        if w.use_pixel:
            losses["pixel_l1"] = L.pixel_pyramid_loss(pred, real, w.pixel_l1)
        if w.use_gan and discriminator is not None:
            kp_d = L.detach_kp(kp_driving)
            fake_maps = discriminator(pred, kp=kp_d)
            real_maps = discriminator(real, kp=kp_d)
            losses["gen_gan"] = L.generator_gan_loss(fake_maps, w.generator_gan)
            if any(w.feature_matching):
                losses["feature_matching"] = L.feature_matching_loss(real_maps, fake_maps,
                                                                     w.feature_matching)
        if tps is not None and (w.equivariance_value or w.equivariance_jacobian):
            transformed = tps.transform_frame(driving)
            kp_t = self.kp_extractor(transformed)
            generated["transformed_frame"] = transformed
            generated["transformed_kp"] = kp_t
            if w.equivariance_value:
                losses["equivariance_value"] = w.equivariance_value * \
                    L.equivariance_value_loss(kp_driving, kp_t, tps)
            if w.equivariance_jacobian and "jacobian" in kp_t:
                losses["equivariance_jacobian"] = w.equivariance_jacobian * \
                    L.equivariance_jacobian_loss(kp_driving, kp_t, tps)
        return losses, generated


class DiscriminatorFullModel(nn.Layer):
    """``forward(driving, prediction, kp_driving)`` -> ``{'disc_gan': weighted LSGAN loss}``;
    the prediction and keypoints are detached here."""

    def __init__(self, discriminator: MultiScaleDiscriminator, tc: TrainConfig):
        super().__init__()
        self.discriminator = discriminator
        self.pyramid = L.ImagePyramid(discriminator.scales, tc.model.num_channels)
        self.weight = tc.loss_weights.discriminator_gan

    def forward(self, driving: paddle.Tensor, prediction: paddle.Tensor,
                kp_driving: Dict[str, paddle.Tensor]) -> Losses:
        kp = L.detach_kp(kp_driving)
        fake_maps = self.discriminator(self.pyramid(prediction.detach()), kp=kp)
        real_maps = self.discriminator(self.pyramid(driving), kp=kp)
        return {"disc_gan": L.discriminator_gan_loss(real_maps, fake_maps, self.weight)}
