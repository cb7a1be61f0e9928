"""S3FD parity with PaddleGAN's golden vectors (../shared/golden/s3fd; the raw maps and
post-processing goldens are copied to tests/data/s3fd, the 90 MB random weights are
rebuilt from their seed by tests/golden_weights.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from faceutils import s3fd_post
from ppgan_fom.errors import WeightsError

import golden_weights

GOLDEN = Path(__file__).resolve().parent / "data" / "s3fd"
REPO = Path(__file__).resolve().parents[1]


def golden(name: str) -> Path:
    """A golden file of ../shared/golden/s3fd: the copy in tests/data, or for the weights
    the file rebuilt from the seed (checked against the original's sha256)."""
    if name == "s3fd_random_seed42.pdparams":
        return golden_weights.weights_file("s3fd")
    return GOLDEN / name


def raw_outputs(npz) -> list:
    return [npz[f"{kind}{i}"] for i in range(1, 7) for kind in ("cls", "reg")]


@pytest.fixture(scope="module")
def raw():
    return np.load(golden("s3fd_raw_outputs.npz"))


@pytest.fixture(scope="module")
def post():
    return np.load(golden("s3fd_postprocess_golden.npz"))


# ----------------------------------------------------------------- pure numpy post-processing

def test_post_module_does_not_import_paddle():
    tree = ast.parse((REPO / "faceutils" / "s3fd_post.py").read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom)}
    assert "paddle" not in names


def test_face_probability_matches_golden(raw, post):
    for i in range(1, 7):
        np.testing.assert_allclose(s3fd_post.face_probability(raw[f"cls{i}"]), post[f"prob{i}"],
                                   rtol=0, atol=1e-6)


def test_decode_candidates_match_golden(raw, post):
    cands, where = s3fd_post.decode_candidates(raw_outputs(raw))
    assert cands.shape == post["candidates_thr0p05"].shape == (3135, 5)
    np.testing.assert_array_equal(where, post["candidates_level_h_w"])
    np.testing.assert_allclose(cands[:, :4], post["candidates_thr0p05"][:, :4], rtol=0, atol=1e-4)
    np.testing.assert_allclose(cands[:, 4], post["candidates_thr0p05"][:, 4], rtol=0, atol=1e-6)


def test_nms_keep_indices_identical(raw, post):
    keep_golden_input = s3fd_post.nms_plus1(post["candidates_thr0p05"], 0.3)
    np.testing.assert_array_equal(keep_golden_input, post["nms_keep_idx_iou0p3"])
    cands, _ = s3fd_post.decode_candidates(raw_outputs(raw))
    np.testing.assert_array_equal(s3fd_post.nms_plus1(cands, 0.3), post["nms_keep_idx_iou0p3"])


def test_final_boxes_from_stored_raw_maps(raw, post):
    for thr, key in ((0.5, "final_score_gt0p5"), (0.3, "final_score_gt0p3")):
        final = s3fd_post.postprocess(raw_outputs(raw), score_threshold=thr)
        assert final.shape == post[key].shape
        np.testing.assert_allclose(final, post[key], rtol=0, atol=1e-4)


def test_final_boxes_odd_size_input():
    odd = np.load(golden("s3fd_odd_301x227.npz"))
    final = s3fd_post.postprocess(raw_outputs(odd))
    assert final.shape == odd["final_score_gt0p5"].shape == (95, 5)
    np.testing.assert_allclose(final, odd["final_score_gt0p5"], rtol=0, atol=1e-4)


def test_decode_geometry_single_anchor():
    """One confident anchor at level 2 (stride 8), cell (h=3, w=5), known offsets."""
    outputs = []
    for _ in range(6):
        cls = np.zeros((1, 2, 8, 8), np.float32)
        cls[:, 0] = 10.0  # background everywhere
        outputs += [cls, np.zeros((1, 4, 8, 8), np.float32)]
    outputs[2][0, :, 3, 5] = [0.0, 4.0]  # face logit
    outputs[3][0, :, 3, 5] = [1.0, -0.5, np.log(2.0) / 0.2, 0.0]
    cands, where = s3fd_post.decode_candidates(outputs)
    assert where.tolist() == [[1, 3, 5]]
    stride, anchor = 8, 32
    cx = stride / 2 + 5 * stride + 1.0 * 0.1 * anchor
    cy = stride / 2 + 3 * stride - 0.5 * 0.1 * anchor
    expect = [cx - anchor, cy - anchor / 2, cx + anchor, cy + anchor / 2]
    np.testing.assert_allclose(cands[0, :4], expect, atol=1e-4)
    np.testing.assert_allclose(cands[0, 4], 1 / (1 + np.exp(-4.0)), atol=1e-6)


def test_nms_plus1_convention():
    # IoU with +1 areas: boxes 0..9 and 3..12 -> inter 7x10=70, union 100+100-70 -> 0.538
    dets = np.array([[0, 0, 9, 9, 0.9], [3, 0, 12, 9, 0.8], [20, 20, 29, 29, 0.7]], float)
    assert s3fd_post.nms_plus1(dets, 0.3).tolist() == [0, 2]
    assert s3fd_post.nms_plus1(dets, 0.6).tolist() == [0, 1, 2]
    # boxes sharing the edge x=9 overlap by one pixel column under the +1 convention:
    # 10 / (100 + 100 - 10) = 0.0526
    touch = np.array([[0, 0, 9, 9, 0.9], [9, 0, 18, 9, 0.8]], float)
    assert s3fd_post.nms_plus1(touch, 0.053).tolist() == [0, 1]
    assert s3fd_post.nms_plus1(touch, 0.052).tolist() == [0]
    assert s3fd_post.nms_plus1(np.zeros((0, 5))).shape == (0,)


def test_postprocess_nothing_found_is_empty():
    outputs = []
    for _ in range(6):
        cls = np.zeros((1, 2, 2, 2), np.float32)
        cls[:, 0] = 10.0
        outputs += [cls, np.zeros((1, 4, 2, 2), np.float32)]
    assert s3fd_post.postprocess(outputs).shape == (0, 5)


# ----------------------------------------------------------------- the Paddle network

@pytest.fixture(scope="module")
def net():
    from faceutils.s3fd import load_s3fd_net

    return load_s3fd_net(golden("s3fd_random_seed42.pdparams"))


@pytest.fixture(scope="module")
def run1(net, raw):
    """Outputs (and the level-1 pre-max-out map) for the first golden input, run once."""
    from faceutils.s3fd import preprocess

    x = preprocess([raw["input_rgb_uint8_hwc"]])
    captured = {}

    def keep(layer, inputs, output):  # returning None leaves the output unchanged
        captured["pre"] = output.numpy()

    hook = net.conv3_3_norm_mbox_conf.register_forward_post_hook(keep)
    try:
        outputs = _run(net, x)
    finally:
        hook.remove()
    return x, outputs, captured["pre"]


def test_paddlegan_pdparams_loads_by_name(net):
    from faceutils.s3fd_net import param_shapes
    from ppgan_fom.checkpoint import load_checkpoint, validate_state_dict

    expected = param_shapes()
    assert expected == {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert len(expected) == 65
    assert sum(int(np.prod(s)) for s in expected.values()) == 22_459_110
    state = load_checkpoint(golden("s3fd_random_seed42.pdparams"))
    assert set(state) == set(expected)  # no missing / unexpected keys
    validate_state_dict(expected, state, "s3fd", "golden")
    for key in ("conv1_1.weight", "conv3_3_norm.weight", "conv7_2_mbox_loc.bias"):
        np.testing.assert_array_equal(net.state_dict()[key].numpy(), state[key])
    del state["conv3_3_norm.weight"]
    state["extra.weight"] = np.zeros(1, np.float32)
    with pytest.raises(WeightsError, match="missing: conv3_3_norm.weight.*unexpected: extra"):
        validate_state_dict(expected, state, "s3fd", "golden")


def _check_maps(outputs, data):
    for got, key in zip(outputs, [f"{k}{i}" for i in range(1, 7) for k in ("cls", "reg")]):
        assert got.shape == data[key].shape, key
        np.testing.assert_allclose(got, data[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_raw_maps_match_golden_input1(run1, raw):
    x, outputs, pre = run1
    np.testing.assert_array_equal(x, raw["input_bgr_minus_mean_nchw"])
    _check_maps(outputs, raw)
    np.testing.assert_allclose(pre, raw["cls1_premaxout"], rtol=1e-4, atol=1e-4)


def test_raw_maps_match_golden_odd_input(net):
    from faceutils.s3fd import preprocess

    data = np.load(golden("s3fd_odd_301x227.npz"))
    x = preprocess([data["input_rgb_uint8_hwc"]])
    np.testing.assert_array_equal(x, data["input_bgr_minus_mean_nchw"])
    _check_maps(_run(net, x), data)


def test_end_to_end_boxes_match_paddlegan(run1, post):
    _, outputs, _ = run1
    boxes = s3fd_post.postprocess(outputs)
    assert boxes.shape == (88, 5)
    np.testing.assert_allclose(boxes, post["final_score_gt0p5"], rtol=0, atol=1e-3)


def test_detector_downscales_and_maps_back(net, post):
    """A 640x480 nearest-neighbour 2x upscale of the golden input, max_side 320: the
    area downscale restores the input exactly, so boxes are the golden ones x 2."""
    from faceutils.s3fd import S3FDDetector

    rgb = np.load(golden("s3fd_raw_outputs.npz"))["input_rgb_uint8_hwc"]
    big = np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)
    det = S3FDDetector.from_net(net, max_side=320)
    got = det.detect(big)
    want = post["final_score_gt0p5"].astype(np.float64)
    want[:, :4] *= 2.0
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3)


def test_detect_batch_groups_same_sized_images(net):
    from faceutils.s3fd import S3FDDetector

    rgb = np.load(golden("s3fd_raw_outputs.npz"))["input_rgb_uint8_hwc"]
    a, b = np.ascontiguousarray(rgb[:64, :96]), np.ascontiguousarray(rgb[100:164, 150:246])
    c = np.ascontiguousarray(rgb[:48, :64])
    det = S3FDDetector.from_net(net, score_threshold=0.3)
    batch = det.detect_batch([a, b, c, a])
    singles = [det.detect(x) for x in (a, b, c)]
    assert any(len(s) for s in singles)
    for got, want in zip(batch, singles + singles[:1]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)


def test_offline_without_cache_names_file_and_url(tmp_path, monkeypatch):
    from ppgan_fom import create_detector

    monkeypatch.setenv("PPGAN_FOM_OFFLINE", "1")
    monkeypatch.setenv("PPGAN_FOM_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as err:
        create_detector("s3fd")  # ppgan_fom hands faceutils its weights registry
    msg = str(err.value)
    assert "s3fd_paddle.pdparams" in msg and "https://" in msg and "\n" not in msg


def test_faceutils_alone_reads_local_weights_only(tmp_path, monkeypatch):
    """Detection does no IO of its own: without a handed loader, a name is an error."""
    import faceutils

    monkeypatch.setenv("PPGAN_FOM_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as err:
        faceutils.create_detector("s3fd")
    msg = str(err.value)
    assert msg.startswith("s3fd: S3FD weights are not a local file") and "\n" not in msg
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or created


def test_wrong_checkpoint_is_rejected(tmp_path):
    from faceutils.s3fd import load_s3fd_net
    from ppgan_fom.checkpoint import save_checkpoint

    bad = save_checkpoint(tmp_path / "bad.pdparams", {"conv1_1.weight": np.zeros((64, 3, 3, 3))})
    with pytest.raises(WeightsError, match="missing"):
        load_s3fd_net(bad)


def _run(net, x):
    import paddle

    with paddle.no_grad():
        return [o.numpy() for o in net(paddle.to_tensor(x))]
