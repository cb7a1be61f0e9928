"""ppgan-fom: the First Order Motion Model in PaddlePaddle.

``from ppgan_fom import FirstOrderPredictor`` animates every face in a photo with a
driving video; see the README. Importing the package is cheap: Paddle is loaded when
a model is built.
"""

from .version import __version__

__all__ = ["FirstOrderPredictor", "AnimateOptions", "FaceAnonymizer", "create_detector",
           "log_to_stderr", "__version__"]


def __getattr__(name):  # lazy: keep `import ppgan_fom` light (no Paddle import)
    if name in ("FirstOrderPredictor", "FaceAnonymizer", "create_detector"):
        from .deps import require

        require()  # ImportError naming the install command when Paddle/OpenCV is missing
    if name == "FirstOrderPredictor":
        from .predictor import FirstOrderPredictor

        return FirstOrderPredictor
    if name == "create_detector":
        from .pipeline import create_detector

        return create_detector
    if name == "log_to_stderr":
        from .logs import log_to_stderr

        return log_to_stderr
    if name == "AnimateOptions":
        from .options import AnimateOptions

        return AnimateOptions
    if name == "FaceAnonymizer":
        from .anonymize import FaceAnonymizer

        return FaceAnonymizer
    raise AttributeError(f"module 'ppgan_fom' has no attribute {name!r}")
