"""FirstOrderPredictor: animate every face of a photo with a driving video.

A thin orchestrator: read -> detect -> crop -> animate -> paste -> write.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from collections import deque
from typing import Deque, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .animator import Animator, SourceState
from .compositing import Box, crop_square, paste_faces
from .config import ModelConfig, load_config
from .errors import InputError, NoFaceError, VideoError
from .options import AnimateOptions
from .media import (VIDEO_SUFFIXES, VideoWriter, ensure_writable_output, probe_video,
                    read_frames, read_image)

logger = logging.getLogger(__name__)

__all__ = ["FirstOrderPredictor", "load_models_for"]


def load_models_for(options: AnimateOptions):
    """(config, Animator) for the options: config resolved, weights resolved and loaded
    strictly, device and threads set."""
    from .engine import make_engine
    from .model import load_fomm
    from .runtime import cpu_threads, setup_device
    from .weights import resolve_weights

    device = setup_device(cpu=options.cpu, threads=options.threads)
    cfg: ModelConfig = load_config(options.config, image_size=options.image_size,
                                   mobile_net=options.mobile_net)
    weights = options.weight_path
    if weights is None:
        weights = cfg.name if cfg.name in ("vox-256", "vox-512", "vox-mobile") else None
        if weights is None:
            raise InputError(f"config {options.config} has no official weights: "
                             f"pass --weight_path")
    path = resolve_weights(str(weights))
    gen, kp = load_fomm(cfg, path, inference=True)
    engine = make_engine(options.engine, gen, kp, cfg.image_size, path, repr(cfg),
                         options.threads or cpu_threads(), device)
    return cfg, Animator(gen, kp, cfg.image_size, options.batch_size, engine=engine)


class FirstOrderPredictor:
    """Drop-in for PaddleGAN's ``ppgan.apps.FirstOrderPredictor``.

    Keywords are :class:`~ppgan_fom.options.AnimateOptions` fields (PaddleGAN's names and
    defaults: ``output='output', weight_path=None, config=None, relative=False,
    adapt_scale=False, find_best_frame=False, best_frame=None, ratio=0.4,
    filename='result.mp4', face_detector=None (embedded BlazeFace; 'sfd' = S3FD),
    multi_person=False, image_size=None (the config's, 256 for presets), batch_size=1,
    mobile_net=False``) plus this project's (``color_match``, ``face_margin``, ``audio``,
    ``auto_crop_driving``, ``allow_partial_video``, ``cpu``, ``threads``).

    The models are loaded by the constructor; ``load_models=False`` defers that to
    their first use, so that :meth:`run` checks the photo, the driving video and the
    output path (and finds the faces) before the user waits for the weights (the
    command line does this).

    Example::

        from ppgan_fom import FirstOrderPredictor
        p = FirstOrderPredictor(relative=True, adapt_scale=True, multi_person=True)
        path = p.run("photo.jpg", "driving.mp4")
    """

    def __init__(self, options: Optional[AnimateOptions] = None, *, detector=None,
                 load_models: bool = True, **kwargs):
        if options is not None and kwargs:
            raise TypeError("pass either options= or keywords, not both")
        self.options = options or AnimateOptions.from_kwargs(**kwargs)
        self._models: Optional[Tuple[ModelConfig, Animator]] = None
        self._detector = detector
        if load_models:
            self._load_models()

    def _load_models(self) -> Tuple[ModelConfig, Animator]:
        if self._models is None:
            self._models = load_models_for(self.options)
        return self._models

    @property
    def config(self) -> ModelConfig:
        """The resolved model config (loads the models on first use)."""
        return self._load_models()[0]

    @property
    def animator(self) -> Animator:
        """The :class:`~ppgan_fom.animator.Animator` (loads the models on first use)."""
        return self._load_models()[1]

    # ------------------------------------------------------------ components
    @property
    def detector(self):
        """The face detector (created on first use)."""
        if self._detector is None:
            import faceutils

            self._detector = faceutils.create_detector(self.options.detector_name)
        return self._detector

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def face_boxes(self, image: np.ndarray, source_name: str = "the source image") -> List[Box]:
        """Square crop boxes of the faces to animate (largest only unless multi_person)."""
        import faceutils

        dets = self.detector.detect(image)
        if len(dets) == 0:
            raise NoFaceError(f"no face found in {source_name}")
        boxes = faceutils.face_crop_boxes(dets, image.shape, margin=self.options.face_margin,
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
        """Lowest level: animate square face crops.

        Args:
            source_faces: F crops, each (S, S, 3) uint8 RGB at the model size.
            driving: iterable of (S, S, 3) uint8 RGB driving frames at the model size.
            kp_initial: keypoints of the reference driving frame (default: the first).

        Yields:
            (F, S, S, 3) uint8 animated faces per driving frame.
        """
        state = self.animator.prepare_sources(list(source_faces))
        yield from self.animator.animate(state, driving, relative=self.options.relative,
                                         adapt_scale=self.options.adapt_scale,
                                         kp_initial=kp_initial)

    def animate(self, source_image: np.ndarray, driving: Iterable[np.ndarray],
                boxes: Optional[Sequence[Box]] = None,
                source_name: str = "the source image") -> Iterator[np.ndarray]:
        """Animate the faces of a photo array; yields full composited frames.

        Args:
            source_image: (H, W, 3) uint8 RGB photo.
            driving: iterable of (S, S, 3) uint8 RGB driving frames (already cropped /
                resized to the model size, e.g. by :func:`ppgan_fom.driving.driving_frames`).
            boxes: face crop boxes (default: detected).

        Yields:
            (H, W, 3) uint8 RGB frames: the photo with every animated face pasted back.
        """
        boxes = list(boxes) if boxes is not None else self.face_boxes(source_image, source_name)
        for faces in self.animate_faces([crop_square(source_image, b, self.image_size)
                                         for b in boxes], driving):
            frame, _ = paste_faces(source_image, list(zip(boxes, faces)),
                                   ratio=self.options.ratio, color_match=self.options.color_match)
            yield frame

    # ------------------------------------------------------------ files
    def output_path(self) -> Path:
        return Path(self.options.output) / self.options.filename

    def run(self, source_image: os.PathLike | str, driving_video: os.PathLike | str) -> str:
        """Animate the photo's faces with the driving video; write ``output/filename``.

        Returns:
            The path of the written video (the driving video's fps and audio; the photo's
            size, padded by a pixel if odd).

        Raises:
            InputError / VideoError / NoFaceError / OutputError: bad photo, driving video
                or output path, found before the models are used; TruncatedVideoError
                for a driving video that decodes short of its header (unless
                ``allow_partial_video``). WeightsError: bad weights. RuntimeFailure: the
                writer failed. Nothing is ever left at the output path on failure
                (see docs/errors.md).
        """
        from tqdm import tqdm

        from . import driving as drv

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
        kp_initial = self._reference_keypoints(state, driving_video, crop)
        frames = drv.crop_frames(read_frames(driving_video, info=info,
                                             allow_partial=opts.allow_partial_video),
                                 crop, self.image_size)
        times: Deque[float] = deque()  # times of frames taken by the animator, not yet out

        def images() -> Iterator[np.ndarray]:
            for f in frames:
                times.append(f.time)
                yield f.image

        h, w = image.shape[:2]
        written = 0
        with VideoWriter(out, (w, h), info.fps, time_base=info.time_base,
                         audio_from=driving_video if opts.audio else None) as writer:
            stream = self.animator.animate(state, images(), relative=opts.relative,
                                           adapt_scale=opts.adapt_scale, kp_initial=kp_initial)
            for faces in tqdm(stream, total=info.n_frames or None, unit="frame",
                              desc="animating", disable=None):
                frame, _ = paste_faces(image, list(zip(boxes, faces)), ratio=opts.ratio,
                                       color_match=opts.color_match)
                writer.write(frame, times.popleft())
                written += 1
        logger.info("wrote %s (%d frames, %.3g fps, %dx%d)", out, written, info.fps, w, h)
        return str(out)

    def _reference_keypoints(self, state: SourceState, driving_video, crop):
        """Keypoints of the reference frame for best_frame / find_best_frame, else None."""
        from . import driving as drv

        opts = self.options
        if opts.best_frame is None and not opts.find_best_frame:
            return None
        frames = drv.driving_frames(driving_video, crop, self.image_size,
                                    allow_partial=opts.allow_partial_video)
        if opts.best_frame is not None:
            for i, frame in enumerate(frames):
                if i == opts.best_frame:
                    logger.info("reference driving frame: %d (best_frame)", i)
                    return self.animator.keypoints([frame])
            raise InputError(f"--best_frame {opts.best_frame} is beyond the end of "
                             f"{driving_video} ({i + 1} frames)")
        src = state.kp["value"][0].numpy()
        best, best_kp = None, None
        offset = 0
        for kp in self.animator.keypoints_of(frames):
            v = kp["value"].numpy()
            idx = drv.best_frame_index(src, v)
            d = _layout_distance(src, v[idx])
            if best is None or d < best[1]:
                best = (offset + idx, d)
                best_kp = {k: t[idx:idx + 1] for k, t in kp.items()}
            offset += v.shape[0]
        if best is None:
            raise VideoError(f"{driving_video}: no frame decoded")
        logger.info("reference driving frame: %d (find_best_frame, keypoint layout distance "
                    "%.4f)", best[0], best[1])
        self.best_frame_found = best[0]
        return best_kp


def _layout_distance(a: np.ndarray, b: np.ndarray) -> float:
    from .driving import normalized_kp_layout

    la, lb = normalized_kp_layout(np.stack([a.reshape(-1, 2), b.reshape(-1, 2)]))
    return float(((la - lb) ** 2).sum())
