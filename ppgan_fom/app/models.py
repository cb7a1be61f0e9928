"""The models of a server process: loaded once at start-up, shared by every job."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from ..anonymize import AnonymizeOptions, FaceAnonymizer
from ..options import AnimateOptions
from ..pipeline import create_detector, load_models
from ..predictor import FirstOrderPredictor

logger = logging.getLogger(__name__)

__all__ = ["AppModels"]


class AppModels:
    """The FOMM (config, animator with its engine), the face enhancer (loaded at start-up
    with ``--face_enhancement``, else once at the first job that asks for it) and the face
    detector, loaded once.

    Weights are resolved as the command lines resolve them (local file, registry name,
    cache, download; offline a one-line :class:`~ppgan_fom.errors.WeightsError`), so a
    server with missing weights stops at start-up, not at its first job.

    ``lock`` serialises everything that runs a model: the page queues jobs one at a
    time as well, the lock keeps that true for any other caller.

    Args:
        options: the server's options; their model, detector and device fields are
            used (the per-job fields are set by each job).
    """

    def __init__(self, options: AnimateOptions):
        start = time.perf_counter()
        self.options = options
        self.models = load_models(options)  # the enhancer too when the server enables it
        self.config, self.animator = self.models.config, self.models.animator
        self.detector = create_detector(options.detector_name)
        self.lock = threading.Lock()
        logger.info("models ready in %.1f s (%s, %d px faces)", time.perf_counter() - start,
                    self.config.name, self.config.image_size)

    def predictor(self, options: AnimateOptions) -> FirstOrderPredictor:
        """A :class:`FirstOrderPredictor` for one job, on the shared models."""
        return FirstOrderPredictor(options, detector=self.detector, models=self.models)

    def anonymizer(self, options: AnonymizeOptions) -> FaceAnonymizer:
        """A :class:`FaceAnonymizer` for one job, on the shared models."""
        return FaceAnonymizer(options, detector=self.detector, models=self.models)

    def describe(self) -> Mapping[str, Any]:
        """What the page shows about the models."""
        return {"config": self.config.name, "image_size": self.config.image_size,
                "detector": self.options.detector_name or "blazeface"}
