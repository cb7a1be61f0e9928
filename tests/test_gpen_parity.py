"""GPEN against PaddleGAN (ppgan 2.1.0): state-dict layout and golden outputs.

The golden set (tests/data/gpen/, see tests/data/README.md) is PaddleGAN's output for
``GPEN(size=64, style_dim=64, n_mlp=2, channel_multiplier=1)`` with the README's recipe
weights on two real faces. Tolerances: output max abs 2e-3 (issue #15); the encoder
stages and the style vector, which are plain convolutions and one linear layer,
5e-5.
"""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from gpen_helpers import (LIST_512, SMALL_GOLDEN, SMALL_LIST, read_param_list, recipe_weights,
                          small_config)
from ppgan_fom.enhance.enhancer import GPEN_512, build_gpen, load_gpen
from ppgan_fom.model import state_shapes
from ppgan_fom.modules import GPEN


@pytest.fixture(scope="module")
def golden():
    return np.load(SMALL_GOLDEN)


@pytest.fixture(scope="module")
def small_model():
    return load_gpen(recipe_weights(SMALL_LIST), small_config())


def _same_layout(model, listing):
    want = dict(read_param_list(listing))
    got = state_shapes(model)
    assert sorted(set(want) - set(got)) == [], "missing keys"
    assert sorted(set(got) - set(want)) == [], "unexpected keys"
    assert {k: (got[k], want[k]) for k in want if got[k] != want[k]} == {}
    return want


def test_small_layout_matches_paddlegan():
    assert len(_same_layout(build_gpen(small_config()), SMALL_LIST)) == 95


def test_512_layout_matches_paddlegan():
    """GPEN-512 (the published model) has exactly PaddleGAN's 164 names and shapes.
    Built lazily: no 287 MB of parameters are allocated or initialised."""
    with paddle.LazyGuard():
        model = GPEN(GPEN_512.size, GPEN_512.style_dim, GPEN_512.n_mlp,
                     GPEN_512.channel_multiplier)
    assert len(_same_layout(model, LIST_512)) == 164


def test_encoder_and_style_match_golden(small_model, golden):
    with paddle.no_grad():
        feats, style = small_model.encode(paddle.to_tensor(golden["input"]))
    for i in (2, 3, 4):
        want = golden[f"debug/encoder_{i}"]
        assert feats[i].shape == list(want.shape)
        diff = np.abs(feats[i].numpy() - want).max()
        assert diff <= 5e-5, f"encoder_{i}: max abs {diff:.3g}"
    diff = np.abs(style.numpy() - golden["debug/style"]).max()
    assert diff <= 5e-5, f"style: max abs {diff:.3g}"


def test_output_matches_golden(small_model, golden):
    with paddle.no_grad():
        out, latents = small_model(paddle.to_tensor(golden["input"]))
    diff = np.abs(out.numpy() - golden["output"])
    assert out.shape == list(golden["output"].shape)
    assert latents is None
    assert diff.max() <= 2e-3, f"output: max abs {diff.max():.3g}"
    assert diff.mean() <= 1e-4, f"output: mean abs {diff.mean():.3g}"


def test_return_latents(small_model, golden):
    with paddle.no_grad():
        out, latents = small_model(paddle.to_tensor(golden["input"][:1]), return_latents=True)
        _, style = small_model.encode(paddle.to_tensor(golden["input"][:1]))
        w = small_model.generator.style(style)
    n_latent = 2 * 6 - 2  # log2(64) * 2 - 2
    assert latents.shape == [1, n_latent, 64]
    np.testing.assert_allclose(latents.numpy(), np.repeat(w.numpy()[:, None], n_latent, 1))


def test_batch_results_do_not_depend_on_batching(small_model, golden):
    x = paddle.to_tensor(golden["input"])
    with paddle.no_grad():
        both = small_model(x)[0].numpy()
        one = np.concatenate([small_model(x[i:i + 1])[0].numpy() for i in range(2)])
    np.testing.assert_allclose(both, one, atol=1e-5)
