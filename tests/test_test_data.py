"""The test data in the repository is what its provenance says (tests/data/README.md):
copies of ../shared/media equal the originals' sha256; the golden weights rebuilt from
their seeds equal the originals bit for bit; and, where ../shared is present (CI), every
trimmed golden copy equals the corresponding slice of the original file."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import golden_weights as gw
import sample_media as sm
from conftest import DATA, SMALL, shared_path
from ppgan_fom.checkpoint import load_checkpoint


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(sm.SHA256))
def test_sample_media_equal_the_shared_originals(name):
    assert _sha256(sm.sample_media(name)) == sm.SHA256[name]


def test_truncated_faststart_clip_is_made_like_the_original():
    """Header says 90 frames; 40 decode (the muxer's header bytes may differ by version)."""
    import av

    path = sm.sample_media("bad_truncated_faststart.mp4")
    assert path.stat().st_size == 31000
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 90


@pytest.mark.parametrize("name", sorted(gw.SETS))
def test_rebuilt_weights_equal_the_originals(name):
    recipe = json.loads((DATA / gw.SETS[name][0]).read_text())
    state = load_checkpoint(gw.weights_file(name))  # what the tests load, read back
    assert gw.state_digest(state) == recipe["sha256"]
    assert list(gw.flatten(state)) == recipe["order"]


def test_copies_equal_the_shared_originals():
    """Every copy against its source in ../shared (one test, so a clone without it
    skips once)."""
    golden = shared_path("golden")
    for name, copy in sm.COPIES.items():
        assert _sha256(copy) == _sha256(golden.parent / "media" / name), name
    for d, frames in (("fom_small64", [0, 1, 2, 3]), ("fom_mobile128", [0, 3])):
        with np.load(DATA / d / f"{d}_golden_trimmed.npz") as mine, \
                np.load(golden / d / f"{d}_golden.npz") as orig:
            assert mine["frames"].tolist() == frames
            for k in mine.files:
                if k == "frames":
                    continue
                want = orig[k]
                if mine[k].shape != want.shape:  # per-frame keys keep the listed frames
                    want = want[frames]
                np.testing.assert_array_equal(mine[k], want, err_msg=f"{d}: {k}")
    with np.load(SMALL / "fom_small64_torch_outputs_trimmed.npz") as mine, \
            np.load(golden / "fom_small64" / "fom_small64_torch_outputs.npz") as orig:
        for k in mine.files:
            np.testing.assert_array_equal(mine[k], orig[k], err_msg=k)
    same = {SMALL / "fom_small64_random.pdparams": "fom_small64/fom_small64_random.pdparams",
            SMALL / "fom_small64_make_animation.npz": "fom_small64/fom_small64_make_animation.npz",
            DATA / "fom" / "fom_vox256_param_list.txt": "fom_vox256_param_list.txt",
            DATA / "fom" / "fom_vox_mobile_param_list.txt": "fom_vox_mobile_param_list.txt",
            DATA / "fom" / "fom_predictor_border_blend.npz": "fom_predictor_border_blend.npz"}
    same.update({DATA / "s3fd" / n: f"s3fd/{n}" for n in
                 ("s3fd_raw_outputs.npz", "s3fd_odd_301x227.npz", "s3fd_postprocess_golden.npz")})
    for copy, orig in same.items():
        assert _sha256(copy) == _sha256(golden / orig), copy.name
    for name, (recipe_rel, _) in gw.SETS.items():
        recipe = json.loads((DATA / recipe_rel).read_text())
        original = golden / recipe["source"].split("golden/", 1)[1]
        assert gw.state_digest(load_checkpoint(original)) == recipe["sha256"], name
