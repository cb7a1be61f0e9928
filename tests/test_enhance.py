"""The face-enhancement step (PaddleGAN's semantics), FaceEnhancer engines and weights."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from gpen_helpers import SMALL_GOLDEN, SMALL_LIST, recipe_weights, small_config
from ppgan_fom import weights as W
from ppgan_fom.checkpoint import save_checkpoint
from ppgan_fom.enhance.step import (blend_mask, enhance_faces, from_network_output,
                                   to_crop_size, to_network_input)
from ppgan_fom.enhance.enhancer import FaceEnhancer, build_gpen, load_gpen
from ppgan_fom.errors import WeightsError


# ----------------------------------------------------------------- numpy semantics
@pytest.fixture(scope="module")
def golden():
    return np.load(SMALL_GOLDEN)


def independent_mask_512():
    """PaddleGAN's mask rebuilt without OpenCV: the rectangle (26, 26)-(486, 486) with
    both corners inside, blurred twice by a 101-tap sigma-11 Gaussian (reflect-101 border)."""
    m = np.zeros((512, 512))
    m[26:487, 26:487] = 1.0
    for _ in range(2):
        m = gaussian_filter(m, 11, mode="mirror", truncate=50 / 11)
    return m


def test_blend_mask_is_paddlegans():
    mask = blend_mask(512)
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    np.testing.assert_allclose(mask, independent_mask_512(), atol=2e-6)
    assert mask[256, 256] > 0.9999 and mask[0, 0] < 0.02
    assert not mask.flags.writeable  # cached: callers cannot corrupt it


def test_network_io_conventions():
    img = np.array([[[[0, 127.5, 255]]]], np.float32)
    np.testing.assert_allclose(to_network_input(img)[0, :, 0, 0], [-1, 0, 1])
    # 254.99... truncates to 254 (PaddleGAN casts, it does not round); clipped outside [-1, 1]
    y = np.array([(254.99 / 255 - 0.5) / 0.5, 2.0, -3.0], np.float32).reshape(1, 3, 1, 1)
    assert from_network_output(y)[0, 0, 0].tolist() == [254, 255, 0]


def test_normalisation_matches_the_golden_input(golden):
    """PaddleGAN's ``(img / 255 - 0.5) / 0.5`` of the golden uint8 faces is its input."""
    x = to_network_input(golden["input_u8"].astype(np.float32))
    np.testing.assert_allclose(x, golden["input"], atol=1e-6)


def fake_network(x):
    return np.tanh(1.5 * x + 0.1).astype(np.float32)


def test_enhance_faces_reproduces_paddlegan_at_512():
    faces = np.random.RandomState(0).randint(0, 256, (2, 100, 100, 3), dtype=np.uint8)
    got = enhance_faces(faces, fake_network, 512)
    mask = independent_mask_512()[None, :, :, None]
    for i, face in enumerate(faces):
        img = cv2.resize(face.astype(np.float32), (512, 512), interpolation=cv2.INTER_AREA)
        x = (img / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
        y = fake_network(x.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
        out = np.floor(np.clip(y * 0.5 + 0.5, 0, 1) * 255)
        want = out * mask[0] + (1 - mask[0]) * img
        diff = np.abs(got[i] - want)
        assert got.shape == (2, 512, 512, 3) and got.dtype == np.float32
        assert diff.max() <= 1.0 and np.mean(diff > 1e-3) < 1e-3, diff.max()


def test_enhance_faces_accepts_float_and_empty_batches():
    faces = np.random.RandomState(1).rand(1, 32, 32, 3).astype(np.float32) * 255
    assert enhance_faces(faces, fake_network, 64).shape == (1, 64, 64, 3)
    empty = np.zeros((0, 32, 32, 3), np.uint8)
    assert enhance_faces(empty, fake_network, 64).shape == (0, 64, 64, 3)
    with pytest.raises(ValueError, match="faces must be"):
        enhance_faces(np.zeros((32, 32, 3), np.uint8), fake_network, 64)


def test_to_crop_size():
    big = np.random.RandomState(2).rand(2, 64, 64, 3).astype(np.float32) * 300 - 20
    small = to_crop_size(big, 32)
    assert small.shape == (2, 32, 32, 3) and small.dtype == np.uint8
    want = np.clip(np.rint(cv2.resize(big[1], (32, 32), interpolation=cv2.INTER_AREA)), 0, 255)
    np.testing.assert_array_equal(small[1], want)


# ----------------------------------------------------------------- FaceEnhancer
@pytest.fixture(scope="module")
def small_weights(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("gpen") / "gpen_small64_recipe.pdparams",
                             recipe_weights(SMALL_LIST))


@pytest.fixture(scope="module")
def eager(small_weights):
    return FaceEnhancer(small_weights, small_config(), engine="eager")


@pytest.fixture(scope="module")
def static(small_weights):
    fe = FaceEnhancer(small_weights, small_config(), engine="static", batch_size=2)
    assert fe.engine_name == "static", "the static engine fell back to eager"
    return fe


@pytest.mark.parametrize("which", ["eager", "static"])
def test_enhancer_network_matches_golden(which, request, golden):
    fe = request.getfixturevalue(which)
    diff = np.abs(fe.network(golden["input"]) - golden["output"])
    assert diff.max() <= 2e-3, f"{which}: max abs {diff.max():.3g}"


def test_static_matches_eager(eager, static, golden):
    faces = np.concatenate([golden["input_u8"], golden["input_u8"][::-1, ::-1]])  # 4 faces
    x = to_network_input(faces.astype(np.float32))
    diff = np.abs(static.network(x) - eager.network(x))
    assert diff.max() <= 1e-4, f"static vs eager: max abs {diff.max():.3g}"
    a, b = static.enhance(faces).astype(int), eager.enhance(faces).astype(int)
    assert np.abs(a - b).max() <= 1


def test_enhance_full_is_the_paddlegan_step_on_the_golden_faces(eager, golden):
    """Independent computation from PaddleGAN's own network output (the golden)."""
    faces = golden["input_u8"]
    got = eager.enhance_full(faces)
    y = golden["output"].transpose(0, 2, 3, 1)
    out = np.floor(np.clip(y * 0.5 + 0.5, 0, 1) * 255)
    m = blend_mask(64)[None, :, :, None]
    want = out * m + (1 - m) * faces
    diff = np.abs(got - want)
    assert diff.max() <= 1.0 and np.mean(diff > 1e-3) < 1e-3


def test_enhance_returns_faces_at_their_size(static, golden):
    faces = golden["input_u8"]
    out = static.enhance(faces)
    assert out.shape == faces.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.clip(np.rint(static.enhance_full(faces)), 0, 255))
    big = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_CUBIC) for f in faces])
    assert static.enhance(big).shape == (2, 96, 96, 3)


def test_last_batch_smaller_than_batch_size(static, eager, golden):
    """3 faces with batch_size 2 (ppgan's tiled mask fails on such a last batch)."""
    faces = np.concatenate([golden["input_u8"], golden["input_u8"][:1, ::-1]])
    out = static.enhance_full(faces)
    one_by_one = np.concatenate([eager.enhance_full(f[None]) for f in faces])
    assert out.shape == (3, 64, 64, 3)
    assert np.abs(out - one_by_one).max() <= 1.0


# ----------------------------------------------------------------- weights
def test_registry_entry():
    spec = W.REGISTRY["gpen-512"]
    assert spec.url == "https://paddlegan.bj.bcebos.com/models/GPEN-512.pdparams"
    assert spec.filename == "GPEN-512.pdparams"


def test_offline_error_names_file_url_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path))
    monkeypatch.setenv(W.ENV_OFFLINE, "1")
    with pytest.raises(WeightsError) as e:
        FaceEnhancer("gpen-512", engine="eager")
    msg = str(e.value)
    assert "\n" not in msg and e.value.exit_code == 2
    assert W.REGISTRY["gpen-512"].url in msg and str(tmp_path / "GPEN-512.pdparams") in msg
    assert "--enhancer_weight_path" in msg


def test_strict_loading_lists_what_is_wrong():
    state = recipe_weights(SMALL_LIST)
    cfg = small_config()
    missing = {k: v for k, v in state.items() if k != "ecd1.0.1.weight"}
    with pytest.raises(WeightsError, match=r"missing: ecd1\.0\.1\.weight.*GPEN\(size=64"):
        load_gpen(missing, cfg)
    with pytest.raises(WeightsError, match=r"unexpected: generator\.extra"):
        load_gpen({**state, "generator.extra": np.zeros(1, np.float32)}, cfg)
    bad = dict(state, **{"final_linear.0.bias": np.zeros(3, np.float32)})
    with pytest.raises(WeightsError, match=r"shape mismatch: final_linear\.0\.bias \(3,\)"):
        load_gpen(bad, cfg)


def test_fixed_buffers_are_optional_but_loaded_when_present():
    cfg = small_config()
    state = recipe_weights(SMALL_LIST)  # no upsample kernels (the recipe skips them)
    no_noise = {k: v for k, v in state.items() if not k.startswith("generator.noises.")}
    load_gpen(no_noise, cfg)
    kernel = np.full((4, 4), 0.25, np.float32)
    model = load_gpen({**state, "generator.to_rgbs.0.upsample.kernel": kernel}, cfg)
    np.testing.assert_array_equal(model.generator.to_rgbs[0].upsample.kernel.numpy(), kernel)
    with pytest.raises(WeightsError, match="upsample.kernel"):
        load_gpen({**state, "generator.to_rgbs.0.upsample.kernel": np.ones(3, np.float32)}, cfg)


def test_full_state_dict_round_trips(tmp_path):
    model = build_gpen(small_config())
    path = save_checkpoint(tmp_path / "full.pdparams",
                             {k: v.numpy() for k, v in model.state_dict().items()})
    again = load_gpen(path, small_config())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k].numpy(), v.numpy())


def test_non_gpen_and_malicious_files(tmp_path):
    fomm = save_checkpoint(tmp_path / "fomm.pdparams", {"generator": {"a": np.zeros(1)},
                                                          "kp_detector": {}})
    with pytest.raises(WeightsError, match=r"fomm\.pdparams: GPEN weights do not match"):
        load_gpen(fomm, small_config())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(WeightsError, match="refused to load"):
        FaceEnhancer(evil, small_config(), engine="eager")
