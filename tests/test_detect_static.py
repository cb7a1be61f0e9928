"""BlazeFace on the static engine (Paddle Inference): the default, the same outputs as the
Paddle layers and the TFLite original, one export reused by every later detector."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import faceutils
from faceutils import blazeface, blazeface_post as post

DATA = Path(__file__).resolve().parent / "data" / "detect"


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PPGAN_FOM_ENGINE_CACHE", str(tmp_path / "engines"))
    return tmp_path / "engines"


def _inputs():
    golden = np.load(DATA / "blazeface_tflite_golden.npz")
    rng = np.random.RandomState(0)
    noise = rng.randint(0, 256, (post.INPUT_SIZE, post.INPUT_SIZE, 3), np.uint8)
    return golden, post.to_network_input([golden["syndics_input_u8"], noise])


def test_static_network_matches_eager_and_tflite():
    golden, x = _inputs()
    static = blazeface.static_runner()
    eager = blazeface._eager_runner(blazeface.load_blazeface_net())
    (rs, cs), (re, ce) = static(x), eager(x)
    assert rs.shape == (2, 896, 16) and cs.shape == (2, 896)
    assert np.abs(rs - re).max() <= 1e-4 * np.abs(re).max()
    assert np.abs(cs - ce).max() <= 1e-4 * np.abs(ce).max()
    # the TFLite original's outputs (the same tolerance as the eager port's parity test)
    np.testing.assert_allclose(rs[0], golden["syndics_regressors"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(cs[0], golden["syndics_logits"], rtol=1e-4, atol=1e-3)


def test_detector_is_static_by_default_and_finds_the_same_faces():
    golden, _ = _inputs()
    photo = golden["syndics_input_u8"]
    static, eager = faceutils.create_detector(), faceutils.create_detector(engine="eager")
    assert (static.engine, eager.engine) == ("static", "eager")
    a, b = static.detect(photo), eager.detect(photo)
    assert len(a) == len(b) >= 3
    assert np.abs(a - b).max() < 1e-2  # pixels and scores


def test_later_detectors_reuse_the_export(fresh_cache, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="ppgan_fom.static_graphs"):
        faceutils.create_detector()
    assert "exported BlazeFace graphs" in caplog.text
    assert len(list(fresh_cache.glob("blazeface-*/done"))) == 1

    def refuse(*a, **k):
        raise AssertionError("the eager network was built although the export is cached")

    monkeypatch.setattr(blazeface, "load_blazeface_net", refuse)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ppgan_fom.static_graphs"):
        det = faceutils.create_detector()
    assert det.engine == "static" and "exported" not in caplog.text


def test_a_failed_export_falls_back_to_eager_with_a_warning(fresh_cache, monkeypatch, caplog):
    """For users; in strict mode (the test suite's) it is an error."""
    from ppgan_fom.errors import RuntimeFailure

    def broken(*a, **k):
        raise RuntimeError("export broke")

    monkeypatch.setattr(blazeface, "static_runner", broken)
    monkeypatch.setenv("PPGAN_FOM_STRICT_ENGINE", "1")
    with pytest.raises(RuntimeFailure, match="static BlazeFace engine unavailable"):
        faceutils.create_detector()
    monkeypatch.delenv("PPGAN_FOM_STRICT_ENGINE")
    with caplog.at_level(logging.WARNING, logger="faceutils.blazeface"):
        det = faceutils.create_detector()
    assert det.engine == "eager" and "static BlazeFace engine unavailable" in caplog.text
    assert len(det.detect(np.zeros((64, 64, 3), np.uint8))) == 0


def test_bad_weights_are_a_weights_error_not_a_fallback(tmp_path):
    from ppgan_fom.errors import WeightsError

    with pytest.raises(WeightsError):
        faceutils.create_detector(weights=tmp_path / "missing.pdparams")
