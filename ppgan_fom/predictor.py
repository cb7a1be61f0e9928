"""FirstOrderPredictor: animate every face of a photo with a driving video.

A thin orchestrator: read -> detect -> crop -> animate -> paste -> write.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from . import driving as drv
from .animator import Animator, SourceState
from .config import ModelConfig
from .errors import NoFaceError
from .geometry import crop_square, face_crop_boxes, paste_faces
from .media import (VIDEO_SUFFIXES, Frame, ensure_writable_output, probe_video, read_frames,
                    read_image)
from .options import AnimateOptions
from .pipeline import (Models, animate_frames, create_detector, enhance_frames, load_models,
                       reference_keypoints, write_video)
from .predictor_paddlegan import PaddleGANMethods
from .types import Box

logger = logging.getLogger(__name__)

__all__ = ["FirstOrderPredictor"]


class FirstOrderPredictor(PaddleGANMethods):
    """Drop-in for PaddleGAN's ``ppgan.apps.FirstOrderPredictor``.

    Arguments are :class:`~ppgan_fom.options.AnimateOptions` fields: PaddleGAN's names,
    positional order and meaning (``FirstOrderPredictor('output_dir', None, None, True)``
    works) plus this project's (docs/options.md, docs/paddlegan.md); or one
    ``AnimateOptions`` (``options=``). The models load in the constructor;
    ``load_models=False`` defers that to their first use, so that :meth:`run` checks its
    inputs and finds the faces before the user waits for weights. Option values read as
    attributes too (``predictor.ratio``), as PaddleGAN's do. ``models``
    (:func:`~ppgan_fom.pipeline.load_models`) shares models already loaded (the web app
    loads them once per process); the model fields of the options are then not used.

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

    def __getattr__(self, name: str):
        # PaddleGAN's predictor keeps its arguments as attributes (``p.ratio``)
        own = any(name in k.__dict__ for k in type(self).__mro__)  # a property that failed
        if not own and name != "options" and name in AnimateOptions.__dataclass_fields__:
            return getattr(self.options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        return self.config.image_size

    def face_boxes(self, image: np.ndarray, source_name: str = "the source image") -> List[Box]:
        """Square crop boxes of the faces to animate (largest only unless multi_person)."""
        dets = self.detector.detect(image)
        if len(dets) == 0:
            raise NoFaceError(f"no face found in {source_name}")
        boxes = face_crop_boxes(dets, image.shape, margin=self.options.face_margin,
                                largest_only=not self.options.multi_person)
        logger.info("%d face(s) found in %s; animating %d%s", len(dets), source_name,
                    len(boxes), "" if self.options.multi_person else " (the largest; "
                    "use multi_person to animate all)")
        return [tuple(int(v) for v in b) for b in boxes]

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
        """Animate the photo's faces with the driving video; write ``output/filename``.

        With ``face_enhancement`` every animated face goes through GPEN before it is
        pasted (docs/enhancement.md); frames, size and audio are the same as without.

        Returns:
            The path of the written video: frame i at driving frame i's time, with the
            driving video's audio (its offset to the picture kept), the photo's size
            (padded by a pixel if odd; ``.gif`` writes a GIF).

        Raises:
            InputError / VideoError / NoFaceError / OutputError: bad photo, driving video
                or output path, found before the models are used; TruncatedVideoError
                for a driving video that decodes short of its header (unless
                ``allow_partial_video``). WeightsError: bad weights. RuntimeFailure: the
                writer failed. Nothing is ever left at the output path on failure
                (see docs/errors.md).
        """
        opts = self.options
        # cheap checks first: inputs, then the output path (created only for good inputs)
        image = read_image(source_image)
        info = probe_video(driving_video)
        out = ensure_writable_output(self.output_path(), [source_image, driving_video],
                                     suffixes=VIDEO_SUFFIXES)
        boxes = self.face_boxes(image, str(source_image))
        samples = drv.read_sample_frames(driving_video, info, opts.allow_partial_video)
        crop = drv.plan_driving_crop(samples, (info.height, info.width), self.detector,
                                     margin=opts.face_margin, enabled=opts.auto_crop_driving)
        logger.info(crop.reason)
        state = self.prepare(image, boxes)

        def driving() -> Iterator[Frame]:
            return drv.crop_frames(read_frames(driving_video, info=info,
                                               allow_partial=opts.allow_partial_video),
                                   crop, self.image_size)

        kp_initial, self.best_frame_found = reference_keypoints(
            self.animator, state, lambda: (f.image for f in driving()),
            best_frame=opts.best_frame, find_best_frame=opts.find_best_frame,
            video_name=str(driving_video))
        animated = enhance_frames(
            animate_frames(self.animator, state, driving(), relative=opts.relative,
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
