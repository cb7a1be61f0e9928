"""Both engines against PaddleGAN's golden outputs, and the static ones against eager.

The static engine runs exported graphs with Paddle Inference; on the CPU it exports the
exact fast layers (Winograd bottleneck, folded BatchNorms, transposed-convolution
up-sampling; ``tests/test_winograd.py`` pins each). Here every engine -- eager, static
with the layers as they are, static with the fast layers -- must meet the golden
tolerances of ``tests/test_fom_parity.py`` (keypoints 5e-5; generator fed the golden
keypoints 5e-4), and the static predictions must stay within 2e-4 of the eager float32
reference (the benchmark checks vox-256 against 2e-3).
"""

from __future__ import annotations

import json

import numpy as np
import paddle
import pytest

import golden_weights
from golden_tensors import as_tensor, golden_kp, tile_kp
from conftest import DATA, SMALL
from ppgan_fom.config import from_dict
from ppgan_fom.engine import EagerEngine, StaticEngine, cache_key
from ppgan_fom.model import load_fomm

ENGINES = ["eager", "static-direct", "static-fast"]


def _set(name):
    if name == "small64":  # the trimmed copy in tests/data (runs from a plain clone)
        return (np.load(SMALL / "fom_small64_golden_trimmed.npz"),
                SMALL / "fom_small64_random.pdparams", 64)
    # the trimmed copy and the weights rebuilt from their recipe (tests/data/README.md)
    return (np.load(DATA / "fom_mobile128" / "fom_mobile128_golden_trimmed.npz"),
            golden_weights.weights_file("fom_mobile128"), 128)


_CACHE = {}


def _engines(name):
    if name not in _CACHE:
        g, weights, size = _set(name)
        cfg = from_dict(json.loads(str(g["meta/config_json"])), image_size=size)
        gen, kp = load_fomm(cfg, weights, inference=True)
        key = cache_key(weights, repr(cfg), size, True)
        _CACHE[name] = (g, {
            "eager": EagerEngine(gen, kp),
            "static-direct": StaticEngine(gen, kp, size, key, threads=2, fast_layers=False),
            "static-fast": StaticEngine(gen, kp, size, key, threads=2, fast_layers=True)})
    return _CACHE[name]


def _max_diff(a, b) -> float:
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.abs(a - b).max())


@pytest.mark.parametrize("name", ["small64", "mobile128"])
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_matches_golden(name, engine):
    g, engines = _engines(name)
    eng = engines[engine]
    src, drv = as_tensor(g["source"]), as_tensor(g["driving"])
    n = drv.shape[0]
    ks, kd = eng.keypoints(src), eng.keypoints(drv)
    for part in ("value", "jacobian"):
        assert _max_diff(ks[part].numpy(), g[f"kp_source/{part}"]) <= 5e-5
        assert _max_diff(kd[part].numpy(), g[f"kp_driving/{part}"]) <= 5e-5
    srcs = paddle.tile(src, [n, 1, 1, 1])
    pred = eng.generate(srcs, eng.encode(srcs), golden_kp(g, "kp_norm"),
                        tile_kp(golden_kp(g, "kp_source"), n)).numpy()
    assert _max_diff(pred, g["relative/predictor/prediction"]) <= 5e-4


@pytest.mark.parametrize("name", ["small64", "mobile128"])
@pytest.mark.parametrize("engine", ["static-direct", "static-fast"])
def test_static_matches_eager(name, engine):
    g, engines = _engines(name)
    ref, eng = engines["eager"], engines[engine]
    src, drv = as_tensor(g["source"]), as_tensor(g["driving"])
    n = drv.shape[0]
    srcs = paddle.tile(src, [n, 1, 1, 1])
    feats = ref.encode(srcs)
    ks, kd = tile_kp(ref.keypoints(src), n), ref.keypoints(drv)
    want = ref.generate(srcs, feats, kd, ks).numpy()
    assert _max_diff(eng.generate(srcs, feats, kd, ks).numpy(), want) <= 2e-4
    assert _max_diff(eng.keypoints(drv)["value"].numpy(), kd["value"].numpy()) <= 1e-5


@pytest.mark.parametrize("name", ["small64", "mobile128"])
@pytest.mark.parametrize("engine", ["static-direct", "static-fast"])
def test_static_encoder_matches_eager(name, engine):
    """The source encoder runs as its own exported graph (once per face): its features
    stay within float rounding of the eager encoder's."""
    g, engines = _engines(name)
    ref, eng = engines["eager"], engines[engine]
    srcs = paddle.concat([as_tensor(g["source"]), as_tensor(g["driving"])[:2]])
    want = ref.encode(srcs).numpy()
    got = eng.encode(srcs).numpy()
    assert _max_diff(got, want) <= 1e-5 * float(np.abs(want).max())  # seen: 6e-7, 1.3e-6


def _ops(engine, name="gen") -> str:
    from ppgan_fom.engine import _model_file

    return _model_file(engine.root / name).read_text()


def test_fast_export_holds_the_fast_layers():
    """The exported graphs themselves (not only their outputs) differ as intended:
    small64 has 6 bottleneck blocks (12 Winograd layers, each one 3-D convolution), 2 + 5
    up-sampling blocks in the generator graph and 5 in the keypoint graph. (Op names as
    Paddle 3.3 writes them into the exported JSON program.)"""
    _, engines = _engines("small64")
    fast, direct = engines["static-fast"], engines["static-direct"]
    assert _ops(fast).count("conv3d") == 12 and _ops(direct).count("conv3d") == 0
    assert _ops(fast).count("conv2d_transpose") == 7
    assert _ops(fast, "kp").count("conv2d_transpose") == 5
    # the two warps (source per keypoint, features) are gathers; small64 also resizes the
    # flow and occlusion map (grid_sample with border padding) in both graphs
    assert _ops(direct).count("grid_sample") - _ops(fast).count("grid_sample") == 2


def test_fast_layers_are_used_on_the_cpu_only(monkeypatch):
    """Default: fast layers on the CPU, off on a GPU; PPGAN_FOM_FAST_LAYERS=0 turns them off.
    The variants are cached side by side."""
    _, engines = _engines("small64")
    assert engines["static-fast"].fast_layers and not engines["static-direct"].fast_layers
    import ppgan_fom.engine as E

    seen = []
    monkeypatch.setattr(E.StaticEngine, "_export_all", lambda self, root, g, kp: seen.append(root))
    monkeypatch.setattr(E, "Predictor", lambda *a, **k: None)
    gen, kp = engines["eager"].generator, engines["eager"].kp_detector
    assert E.StaticEngine(gen, kp, 64, "k-cpu", gpu=False).fast_layers
    assert not E.StaticEngine(gen, kp, 64, "k-gpu", gpu=True).fast_layers
    monkeypatch.setenv("PPGAN_FOM_FAST_LAYERS", "0")
    assert not E.StaticEngine(gen, kp, 64, "k-off", gpu=False).fast_layers
    assert [p.name for p in seen] == ["k-cpu-fast", "k-gpu", "k-off"]
