"""Preset architectures have exactly PaddleGAN's state-dict names and shapes."""

from __future__ import annotations

import pytest

from conftest import DATA
from ppgan_fom.config import PRESETS
from ppgan_fom.model import build_fomm, state_shapes


def _read_param_list(path):
    want = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape = line.split("\t")[:2]
        want[key] = tuple(int(x) for x in shape.strip("[]").split(",") if x.strip())
    return want


@pytest.mark.parametrize("preset,listing,count", [
    ("vox-256", "fom_vox256_param_list.txt", 234),
    ("vox-512", "fom_vox256_param_list.txt", 234),
    ("vox-mobile", "fom_vox_mobile_param_list.txt", 401),
])
def test_preset_matches_paddlegan(preset, listing, count):
    want = _read_param_list(DATA / "fom" / listing)
    assert len(want) == count
    gen, kp = build_fomm(PRESETS[preset])
    got = {f"generator/{k}": v for k, v in state_shapes(gen).items()}
    got.update({f"kp_detector/{k}": v for k, v in state_shapes(kp).items()})
    assert sorted(set(want) - set(got)) == [], "missing keys"
    assert sorted(set(got) - set(want)) == [], "unexpected keys"
    bad = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert bad == {}
