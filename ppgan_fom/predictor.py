"""FirstOrderPredictor: animate every face of a photo with a driving video.

A thin orchestrator: read -> detect -> crop -> animate -> paste -> write.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from .animator import Animator, SourceState
from .config import ModelConfig
from .driving import open_driving
from .geometry import crop_square, paste_faces
from .media import VIDEO_SUFFIXES, Frame, ensure_writable_output, probe_video, read_image
from .options import AnimateOptions
from .pipeline import (Models, animate_frames, create_detector, enhance_frames, find_faces,
                       load_models, reference_keypoints, resolve_config,
                       write_video)
from .predictor_paddlegan import PaddleGANMethods
from .types import Box

logger = logging.getLogger(__name__)

__all__ = ["FirstOrderPredictor"]


class FirstOrderPredictor(PaddleGANMethods):
    """Drop-in for PaddleGAN's ``ppgan.apps.FirstOrderPredictor``.

    Arguments are :class:`~ppgan_fom.options.AnimateOptions` fields in PaddleGAN's
    positional order (``FirstOrderPredictor('output_dir', None, None, True)``), or one
    ``AnimateOptions`` (docs/options.md, docs/paddlegan.md); values read back as attributes.
    Models load in the constructor; ``load_models=False`` defers them until :meth:`run` has
    checked its inputs; ``models`` (:func:`~ppgan_fom.pipeline.load_models`) shares loaded
    ones (the web app loads them once per process).

    Example::

        from ppgan_fom import FirstOrderPredictor
        p = FirstOrderPredictor(relative=True, adapt_scale=True, multi_person=True)
        path = p.run("photo.jpg", "driving.mp4")
    """

    def __init__(self, *args, options: Optional[AnimateOptions] = None, detector=None,
                 models: Optional[Models] = None,
                 load_models: bool = True, **kwargs):
        if args and isinstance(args[0], AnimateOptions):  # FirstOrderPredictor(options)
            if options is not None or len(args) > 1:
                raise TypeError("pass one AnimateOptions, or PaddleGAN's arguments")
            options, args = args[0], ()
        if options is not None and kwargs:
            raise TypeError("pass either options= or keywords, not both")
        self.options = options or AnimateOptions.from_kwargs(*args, **kwargs)
        self._models: Optional[Models] = models
        self._detector = detector
        if load_models:
            self._load_models()

    def _load_models(self) -> Models:
        if self._models is None:
            self._models = load_models(self.options)
        return self._models.with_enhancer(self.options)

    @property
    def config(self) -> ModelConfig:
        """The resolved model config (loads the models on first use)."""
        return self._load_models().config

    @property
    def animator(self) -> Animator:
        """The :class:`~ppgan_fom.animator.Animator` (loads the models on first use)."""
        return self._load_models().animator

    @property
    def enhancer(self):
        """The :class:`~ppgan_fom.enhance.FaceEnhancer` (``face_enhancement``; loads the
        models on first use), or None."""
        return self._load_models().enhancer

    @property
    def detector(self):
        """The face detector (created on first use)."""
        if self._detector is None:
            self._detector = create_detector(self.options.detector_name)
        return self._detector

    @property
    def image_size(self) -> int:
        """The model's square input side; read from the config alone when the models are
        not loaded yet, so :meth:`run` can check the driving video before loading them."""
        if self._models is None:
            return resolve_config(self.options).image_size
        return self.config.image_size

    def face_boxes(self, image: np.ndarray, source_name: str = "the source image") -> List[Box]:
        """Square crop boxes of the faces to animate (largest only unless multi_person)."""
        return find_faces(self.detector, image, source_name, self.options.face_margin,
                          largest_only=not self.options.multi_person,
                          hint=" (multi_person animates all)")

    def prepare(self, image: np.ndarray, boxes: Sequence[Box]) -> SourceState:
        crops = [crop_square(image, b, self.image_size) for b in boxes]
        return self.animator.prepare_sources(crops)

    # ------------------------------------------------------------ array API
    def animate_faces(self, source_faces: Sequence[np.ndarray], driving: Iterable[np.ndarray],
                      kp_initial=None) -> Iterator[np.ndarray]:
        """Animate F square face crops ``(S, S, 3)`` uint8 with driving frames ``(S, S, 3)``
        uint8 (reference: ``kp_initial``, default the first); yields ``(F, S, S, 3)`` uint8
        per driving frame (enhanced with ``face_enhancement``)."""
        state = self.animator.prepare_sources(list(source_faces))
        faces = self.animator.animate(state, driving, relative=self.options.relative,
                                      adapt_scale=self.options.adapt_scale,
                                      kp_initial=kp_initial)
        for _, f in enhance_frames(((None, f) for f in faces), self.enhancer,
                                   self.options.batch_size):
            yield f

    def animate(self, source_image: np.ndarray, driving: Iterable[np.ndarray],
                boxes: Optional[Sequence[Box]] = None,
                source_name: str = "the source image") -> Iterator[np.ndarray]:
        """Animate the faces (``boxes``, default detected) of an ``(H, W, 3)`` uint8 photo
        with ``(S, S, 3)`` uint8 driving inputs (:func:`ppgan_fom.driving.driving_frames`);
        yields ``(H, W, 3)`` uint8 frames with every animated face pasted back."""
        boxes = list(boxes) if boxes is not None else self.face_boxes(source_image, source_name)
        for faces in self.animate_faces([crop_square(source_image, b, self.image_size)
                                         for b in boxes], driving):
            yield self._paste(source_image, boxes, faces)

    def _paste(self, image: np.ndarray, boxes: Sequence[Box], faces: np.ndarray) -> np.ndarray:
        return paste_faces(image, list(zip(boxes, faces)), ratio=self.options.ratio,
                           color_match=self.options.color_match)[0]

    # ------------------------------------------------------------ files
    def output_path(self) -> Path:
        return Path(self.options.output) / self.options.filename

    def run(self, source_image: os.PathLike | str, driving_video: os.PathLike | str) -> str:
        """Animate the photo's faces with the driving video; write ``output/filename`` and
        return its path: frame i at driving frame i's time, the driving video's audio (its
        offset to the picture kept), the photo's size (padded by a pixel if odd; ``.gif``
        writes a GIF); with ``face_enhancement`` each face goes through GPEN first.

        Raises the typed errors of docs/errors.md (bad photo, video or output path before
        any model loads; bad weights; writer failures); nothing is left at the output path
        on failure.
        """
        opts = self.options
        # cheap checks first: inputs, then the output path (created only for good inputs)
        image = read_image(source_image)
        info = probe_video(driving_video)
        out = ensure_writable_output(self.output_path(), [source_image, driving_video],
                                     suffixes=VIDEO_SUFFIXES)
        boxes = self.face_boxes(image, str(source_image))
        driving = open_driving(driving_video, info, self.detector, self.image_size,
                               opts.face_margin, opts.auto_crop_driving,
                               opts.allow_partial_video)
        state = self.prepare(image, boxes)
        kp_initial, self.best_frame_found = reference_keypoints(
            self.animator, state, lambda: (f.image for f in driving.frames()),
            best_frame=opts.best_frame, find_best_frame=opts.find_best_frame,
            video_name=str(driving_video))
        animated = enhance_frames(
            animate_frames(self.animator, state, driving.frames(), relative=opts.relative,
                           adapt_scale=opts.adapt_scale, kp_initial=kp_initial),
            self.enhancer, opts.batch_size)
        composited = (Frame(f.index, self._paste(image, boxes, faces), f.time)
                      for f, faces in animated)
        h, w = image.shape[:2]
        n = write_video(out, composited, (w, h), fps=info.fps, time_base=info.time_base,
                        audio_from=driving_video if opts.audio else None,
                        total=info.n_frames, desc="animating")
        logger.info("wrote %s (%d frames, %dx%d)", out, n, w, h)
        return str(out)
