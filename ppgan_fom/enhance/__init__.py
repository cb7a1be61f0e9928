"""Face enhancement (``--face_enhancement``): PaddleGAN's GPEN-512 blind face restorer on
every animated face, with PaddleGAN's exact pre- and post-processing (docs/enhancement.md).

:mod:`.step` is the numpy/OpenCV part (resize to 512, normalise, blend with the blurred
rectangle mask); :mod:`.enhancer` loads GPEN and runs it on the static engine.
"""

from .enhancer import GPEN_512, FaceEnhancer, GPENConfig, build_gpen, load_gpen
from .step import ENHANCE_SIZE, enhance_faces, to_crop_size

__all__ = ["FaceEnhancer", "GPENConfig", "GPEN_512", "build_gpen", "load_gpen",
           "ENHANCE_SIZE", "enhance_faces", "to_crop_size"]
