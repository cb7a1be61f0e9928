"""What the orchestrators (photo animation, video anonymization, the web app, batch
workers) share: model loading (the FOMM, the face enhancer), the detector with the weights
registry handed to it, the reference-frame search, and the one frame loop that writes a
video."""

from .faces import find_faces
from .frames import animate_frames, enhance_frames, write_video
from .models import (Models, create_detector, enhancer_weights, load_animator, load_enhancer,
                     load_models, official_weights, resolve_config)
from .reference import reference_keypoints

__all__ = ["find_faces", "animate_frames", "enhance_frames", "write_video", "Models", "load_models",
           "resolve_config", "create_detector",
           "enhancer_weights", "load_animator", "load_enhancer", "official_weights",
           "reference_keypoints"]
