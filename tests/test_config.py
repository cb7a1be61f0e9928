"""Config presets and the PaddleGAN / original-FOMM YAML readers."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from ppgan_fom.config import PRESETS, from_dict, load_config, preset
from ppgan_fom.errors import InputError


def test_presets():
    v = preset("vox-256")
    assert v.image_size == 256 and v.kp_detector.max_features == 1024
    assert v.generator.dense_motion_params.block_expansion == 64
    assert preset("vox-512").image_size == 512
    assert dataclasses.replace(preset("vox-512"), image_size=256, name="vox-256") == v
    m = preset("vox-mobile")
    assert m.kp_detector.mobile_net and m.generator.mobile_net
    with pytest.raises(InputError, match="unknown preset"):
        preset("vox-1024")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.num_kp = 3  # type: ignore[misc]


def test_default_selection_like_paddlegan():
    assert load_config(None).name == "vox-256"
    assert load_config(None, image_size=512).name == "vox-512"
    assert load_config(None, mobile_net=True).name == "vox-mobile"
    assert load_config(None, image_size=384).image_size == 384


def test_paddlegan_yaml_round_trip(tmp_path):
    d = PRESETS["vox-mobile"].to_paddlegan_dict()
    p = tmp_path / "firstorder_vox_mobile_256.yaml"
    p.write_text(yaml.safe_dump(d))
    got = load_config(p)
    assert dataclasses.replace(got, name="vox-mobile") == PRESETS["vox-mobile"]


def test_original_fomm_yaml(tmp_path):
    p = tmp_path / "vox-256.yaml"
    p.write_text(yaml.safe_dump({
        "dataset_params": {"frame_shape": [256, 256, 3]},
        "model_params": {
            "common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
            "kp_detector_params": {"temperature": 0.1, "block_expansion": 32,
                                   "max_features": 1024, "scale_factor": 0.25, "num_blocks": 5},
            "generator_params": {"block_expansion": 64, "max_features": 512, "num_down_blocks": 2,
                                 "num_bottleneck_blocks": 6, "estimate_occlusion_map": True,
                                 "dense_motion_params": {"block_expansion": 64,
                                                         "max_features": 1024, "num_blocks": 5,
                                                         "scale_factor": 0.25}}}}))
    assert dataclasses.replace(load_config(p), name="vox-256") == PRESETS["vox-256"]


def test_small_yaml_in_repo(small_config_path):
    cfg = load_config(small_config_path)
    assert cfg.image_size == 64 and cfg.kp_detector.block_expansion == 8


@pytest.mark.parametrize("size", [0, 100, 250])
def test_unsupported_image_size(size):
    with pytest.raises(InputError, match="not supported"):
        load_config("vox-256", image_size=size)


def test_bad_config_files(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(InputError, match="bad.yaml: not a valid YAML"):
        load_config(bad)
    other = tmp_path / "other.yaml"
    other.write_text("foo: 1\n")
    with pytest.raises(InputError, match="not a FOMM config"):
        load_config(other)
    typo = tmp_path / "typo.yaml"
    d = PRESETS["vox-256"].to_paddlegan_dict()
    d["model"]["generator"]["generator_cfg"]["num_bottleneck_block"] = 3
    typo.write_text(yaml.safe_dump(d))
    with pytest.raises(InputError, match="unknown keys"):
        load_config(typo)
