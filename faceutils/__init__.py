"""Face detection for ppgan-fom: find every face in a photo or in video frames.

Quick use::

    import faceutils
    detector = faceutils.create_detector()          # embedded BlazeFace, no download
    dets = detector.detect(rgb_uint8)               # (N, 5) [x1, y1, x2, y2, score]
    boxes = faceutils.face_crop_boxes(dets, rgb_uint8.shape)  # square crop boxes

Backends (``faceutils.available_detectors()``):

* ``blazeface`` (default): MediaPipe's BlazeFace back-camera model converted to
  Paddle, weights shipped in ``faceutils/data`` (Apache-2.0), fast on a CPU;
* ``s3fd``: PaddleGAN's S3FD, the same network and post-processing as PaddleGAN;
  needs its 90 MB weights (downloaded through ``ppgan_fom.weights``).

Importing this package does not import Paddle; backends load it on creation.
See ``docs/detection.md``.
"""

from .base import FaceDetector
from ppgan_fom.geometry.boxes import (DEFAULT_MARGIN, dedupe_boxes, face_crop_boxes, order_by_area,
                    square_box)
from .files import detect_file, read_rgb
from .registry import DEFAULT_DETECTOR, available_detectors, create_detector

__all__ = [
    "FaceDetector",
    "DEFAULT_DETECTOR",
    "DEFAULT_MARGIN",
    "available_detectors",
    "create_detector",
    "detect_file",
    "read_rgb",
    "square_box",
    "dedupe_boxes",
    "order_by_area",
    "face_crop_boxes",
]
