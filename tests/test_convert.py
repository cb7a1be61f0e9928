"""Original PyTorch checkpoint -> .pdparams conversion (round trip through the golden weights)."""

from __future__ import annotations

import json

import numpy as np
import paddle
import pytest

from conftest import SMALL, optional_import
from ppgan_fom.checkpoint import load_checkpoint
from ppgan_fom.cli import convert_main as main
from ppgan_fom.convert import paddle_name_to_torch, torch_name_to_paddle
from ppgan_fom.config import from_dict
from ppgan_fom.errors import WeightsError
from ppgan_fom.model import load_fomm
from ppgan_fom.motion import normalize_kp


@pytest.fixture(scope="module")
def torch():
    """The optional converter dependency: skipped without it, failed where CI requires it
    (PPGAN_FOM_REQUIRE)."""
    return optional_import("torch", reason="torch is the optional converter dependency")


def test_name_mapping():
    assert torch_name_to_paddle("a.norm.running_mean") == "a.norm._mean"
    assert torch_name_to_paddle("a.norm.running_var") == "a.norm._variance"
    assert torch_name_to_paddle("a.norm.num_batches_tracked") is None
    assert torch_name_to_paddle("a.conv.weight") == "a.conv.weight"
    assert paddle_name_to_torch("x._variance") == "x.running_var"


def _torch_ckpt_from_golden(torch, path, extra=True):
    state = load_checkpoint(SMALL / "fom_small64_random.pdparams")  # the golden weights
    ck = {"generator": {}, "kp_detector": {}}
    for part, params in state.items():
        for name, value in params.items():
            tname = paddle_name_to_torch(name)
            ck[part][tname] = torch.from_numpy(np.array(value))
            if tname.endswith("running_var"):
                ck[part][tname[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(5)
    if extra:
        ck["epoch"] = 3
        ck["optimizer_generator"] = {"state": {}, "param_groups": [{"lr": 2e-4}]}
    torch.save(ck, path)


def test_round_trip_reproduces_golden(torch, tmp_path):
    src, dst = tmp_path / "vox-small.pth.tar", tmp_path / "vox-small.pdparams"
    _torch_ckpt_from_golden(torch, src)
    g = np.load(SMALL / "fom_small64_golden_trimmed.npz")
    cfg_path = tmp_path / "small.yaml"
    import yaml

    cfg_dict = json.loads(str(g["meta/config_json"]))
    cfg_dict["dataset"] = {"train": {"frame_shape": [64, 64, 3]}}
    cfg_path.write_text(yaml.safe_dump(cfg_dict))
    assert main([str(src), str(dst), "--config", str(cfg_path)]) == 0
    gen, kp = load_fomm(from_dict(cfg_dict), dst, inference=False)
    src_t, drv = paddle.to_tensor(g["source"]), paddle.to_tensor(g["driving"])
    n = drv.shape[0]
    with paddle.no_grad():
        ks, kd = kp(src_t), kp(drv)
        kn = normalize_kp(ks, kd, {k: v[0:1] for k, v in kd.items()}, True, True, True)
        out = gen(src_t.tile([n, 1, 1, 1]), kp_driving=kn,
                  kp_source={k: v.tile([n] + [1] * (v.ndim - 1)) for k, v in ks.items()})
    diff = np.abs(out["prediction"].numpy() - g["relative/original/prediction"])
    assert diff.max() < 5e-3 and diff.mean() < 1e-4


def test_wrong_config_and_bad_file(torch, tmp_path, capsys):
    src = tmp_path / "small.pth.tar"
    _torch_ckpt_from_golden(torch, src, extra=False)
    assert main([str(src), str(tmp_path / "o.pdparams"), "--config", "vox-256"]) == 2
    assert "do not match the model architecture" in capsys.readouterr().err
    assert not (tmp_path / "o.pdparams").exists()
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"not a zip or pickle")
    with pytest.raises(WeightsError, match="junk.pth.tar: cannot be read"):
        from ppgan_fom.convert import read_torch_checkpoint
        read_torch_checkpoint(junk)


def test_code_carrying_torch_checkpoint_is_refused(torch, tmp_path):
    import os

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pth.tar"
    torch.save({"generator": {"w": Evil()}, "kp_detector": {}}, bad)
    assert main([str(bad), str(tmp_path / "o.pdparams")]) == 2
    assert not marker.exists()
