"""The product path against PaddleGAN's own: ``FirstOrderPredictor.animate_faces`` with
the default engine, on the inputs and outputs of PaddleGAN's ``make_animation``
(ppgan 2.1.0, small64 random weights; ../shared/golden/README.md section 11, copy in
tests/data/fom_small64/fom_small64_make_animation.npz).

PaddleGAN returns ``prediction * 255`` unrounded; ``animate_faces`` returns rounded
uint8, so every pixel must be within one grey level (0.5 from rounding plus float
noise), 0.25 on average."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import SMALL
from ppgan_fom import FirstOrderPredictor
from ppgan_fom.driving import DrivingCrop, driving_frames
from ppgan_fom.geometry import resize_square
from ppgan_fom.media import read_image
from sample_media import sample_media

GOLDEN = SMALL / "fom_small64_make_animation.npz"
MODES = {  # golden key -> FirstOrderPredictor keywords
    "relative_adapt": dict(relative=True, adapt_scale=True),
    "absolute": dict(relative=False, adapt_scale=False),
}


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


def test_golden_inputs_are_what_the_readers_make(golden):
    """The stored uint8 crops are the FOM source portrait and the first 12 driving frames
    (docs/samples) as this project reads and resizes them: the test below starts where
    a run from files would be."""
    face = resize_square(read_image(sample_media("single_face_fom_source_256x256.png")), 64)
    np.testing.assert_array_equal(face, golden["source_u8"])
    frames = driving_frames(sample_media("driving_fom_dv_256x256_3s.mp4"),
                            DrivingCrop(None, "close-up"), 64)
    np.testing.assert_array_equal(np.stack(list(itertools.islice(frames, 12))),
                                  golden["driving_u8"])


@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("mode", list(MODES))
def test_animate_faces_matches_paddlegan_make_animation(golden, mode, batch_size):
    pred = FirstOrderPredictor(config=str(SMALL / "fom_small64.yaml"),
                               weight_path=str(SMALL / "fom_small64_random.pdparams"),
                               batch_size=batch_size, cpu=True, **MODES[mode])
    assert pred.animator.engine.name == "static"  # the default engine, no fallback
    out = np.stack([faces[0] for faces in pred.animate_faces([golden["source_u8"]],
                                                             list(golden["driving_u8"]))])
    want = golden[f"{mode}/prediction_255"]
    assert out.shape == want.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.float64) - want)
    worst = np.unravel_index(diff.argmax(), diff.shape)
    assert diff.max() < 1.0, f"{mode}: max {diff.max():.3f} grey levels at {worst}"
    # rounding to nearest leaves 0.25 on average (truncating would leave 0.5)
    assert diff.mean() < 0.3, f"{mode}: mean {diff.mean():.3f} grey levels"
