"""Training: config reading, data, losses, the loop, checkpoints, resume, CLI errors.

Everything runs on tiny 32x32 models and videos made in the test (tmp_path).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("PPGAN_FOM_OFFLINE", "1")

from ppgan_fom.errors import InputError, WeightsError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "fom_small64"

TINY = {
    "model": {
        "common_params": {"num_kp": 4, "num_channels": 3, "estimate_jacobian": True},
        "generator": {
            "kp_detector_cfg": {"temperature": 0.1, "block_expansion": 8, "max_features": 32,
                                "scale_factor": 0.5, "num_blocks": 3},
            "generator_cfg": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 2,
                              "num_bottleneck_blocks": 1, "estimate_occlusion_map": True,
                              "dense_motion_params": {"block_expansion": 8, "max_features": 32,
                                                      "num_blocks": 3, "scale_factor": 0.5}}},
        "discriminator": {"discriminator_cfg": {"scales": [1], "block_expansion": 8,
                                                "max_features": 32, "num_blocks": 3,
                                                "sn": True}},
        "train_params": {
            "scales": [1, 0.5],
            "transform_params": {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5},
            "loss_weights": {"generator_gan": 0, "discriminator_gan": 1,
                             "feature_matching": [10, 10, 10], "perceptual": 0,
                             "pixel_l1": 10, "equivariance_value": 10,
                             "equivariance_jacobian": 10}}},
    "dataset": {"train": {"frame_shape": [32, 32, 3], "batch_size": 2, "num_repeats": 4,
                          "time_flip": True,
                          "transforms": [{"name": "PairedRandomHorizontalFlip", "prob": 0.5},
                                         {"name": "PairedColorJitter", "brightness": 0.1,
                                          "contrast": 0.1, "saturation": 0.1, "hue": 0.1}]}},
    "lr_scheduler": {"lr_generator": 2e-3, "lr_kp_detector": 2e-3, "lr_discriminator": 2e-3,
                     "epoch_milestones": []},
    "optimizer": {"name": "Adam", "beta1": 0.5},
}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    from ppgan_fom.runtime import setup_device

    setup_device(cpu=True, threads=2)


def write_config(tmp_path: Path, gan: bool = False, **loss_weights) -> Path:
    import copy

    cfg = copy.deepcopy(TINY)
    lw = cfg["model"]["train_params"]["loss_weights"]
    lw.update(loss_weights)
    if gan:
        lw["generator_gan"] = 1
    p = tmp_path / ("tiny_gan.yaml" if gan else "tiny.yaml")
    p.write_text(yaml.safe_dump(cfg))
    return p


def blob_frames(n: int, size: int = 48, seed: int = 0, static: bool = False) -> list:
    """A coloured disc moving over a gradient background: (size, size, 3) uint8 frames."""
    import cv2

    rng = np.random.default_rng(seed)
    bg = np.linspace(40, 200, size, dtype=np.float32)
    base = np.stack([np.tile(bg, (size, 1)), np.tile(bg[:, None], (1, size)),
                     np.full((size, size), 90, np.float32)], -1).astype(np.uint8)
    color = tuple(int(c) for c in rng.integers(60, 255, 3))
    frames = []
    for i in range(n):
        img = base.copy()
        t = 0 if static else i
        cx = int(size * 0.3 + (size * 0.4) * ((t * 0.17) % 1.0))
        cy = int(size * 0.5 + size * 0.15 * np.sin(t * 0.9))
        cv2.circle(img, (cx, cy), size // 6, color, -1)
        frames.append(img)
    return frames


def write_frames_folder(folder: Path, frames: list) -> Path:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def write_video(path: Path, frames: list, fps: float = 10.0) -> Path:
    from ppgan_fom.media import VideoWriter

    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=fps, size=(w, h), crf=12, preset="ultrafast") as vw:
        for f in frames:
            vw.write(f)
    return path


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """root/train: two frame folders; root/test: one folder (FOMM layout)."""
    root = tmp_path_factory.mktemp("data")
    write_frames_folder(root / "train" / "a", blob_frames(8, seed=1))
    write_frames_folder(root / "train" / "b", blob_frames(8, seed=2))
    write_frames_folder(root / "test" / "c", blob_frames(6, seed=3))
    return root


def make_trainer(cfg_path: Path, root: Path, out: Path, **opts):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import load_train_config
    from ppgan_fom.training.trainer import Trainer, TrainOptions

    tc = load_train_config(cfg_path)
    ds = PairDataset(VideoSet(root / "train", tc.image_size), tc.dataset)
    defaults = dict(output=out, progress=False, visualdl=False, num_workers=0,
                    grid_every=0, checkpoint_every=0)
    defaults.update(opts)
    return Trainer(tc, ds, TrainOptions(**defaults))


# ----------------------------------------------------------------------------- config
def test_reads_both_yaml_layouts(tmp_path):
    from ppgan_fom.training.train_config import load_train_config, train_config_from_dict

    tc = load_train_config(write_config(tmp_path))
    assert tc.image_size == 32 and tc.model.num_kp == 4 and tc.batch_size == 2
    assert tc.loss_weights.pixel_l1 == (10.0, 10.0) and not tc.loss_weights.use_perceptual
    assert tc.optim.milestone_unit == "step" and tc.optim.beta1 == 0.5
    assert tc.dataset.horizontal_flip and tc.dataset.time_flip and tc.dataset.jitter.hue == 0.1
    assert tc.discriminator.sn and tc.discriminator.num_blocks == 3
    fomm = {"dataset_params": {"frame_shape": [32, 32, 3], "id_sampling": True,
                               "augmentation_params": {"flip_param": {"horizontal_flip": True,
                                                                      "time_flip": True}}},
            "model_params": {"common_params": TINY["model"]["common_params"],
                             "kp_detector_params": TINY["model"]["generator"]["kp_detector_cfg"],
                             "generator_params": TINY["model"]["generator"]["generator_cfg"],
                             "discriminator_params": {"scales": [1], "use_kp": True}},
            "train_params": {"num_epochs": 3, "num_repeats": 7, "epoch_milestones": [2],
                             "batch_size": 5, "lr_generator": 1e-3,
                             "loss_weights": {"generator_gan": 1}}}
    tc2 = train_config_from_dict(fomm)
    assert tc2.optim.milestone_unit == "epoch" and tc2.optim.milestones == (2,)
    assert tc2.optim.beta1 == 0.5 and tc2.optim.lr_generator == 1e-3
    assert tc2.dataset.id_sampling and tc2.dataset.num_repeats == 7 and tc2.batch_size == 5
    assert tc2.discriminator.use_kp and tc2.loss_weights.use_gan
    assert tc2.loss_weights.use_perceptual  # FOMM's default: VGG19 on
    off = tc2.without_perceptual()
    assert not off.loss_weights.use_perceptual and off.loss_weights.pixel_l1 == (10.0,) * 4


def test_bad_config_is_input_error(tmp_path):
    from ppgan_fom.training.train_config import load_train_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(InputError):
        load_train_config(bad)
    bad.write_text(yaml.safe_dump({"something": 1}))
    with pytest.raises(InputError):
        load_train_config(bad)
    with pytest.raises(InputError):
        load_train_config(tmp_path / "missing.yaml")


# ----------------------------------------------------------------------------- data
def test_dataset_pairs_and_skips_corrupt_file(tmp_path, caplog):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import DatasetConfig

    train = tmp_path / "train"
    write_frames_folder(train / "good", blob_frames(5))
    write_video(train / "clip.mp4", blob_frames(6, seed=4))
    (train / "corrupt.mp4").write_bytes(b"\x00not a video" * 50)
    (train / "empty").mkdir()
    with caplog.at_level(logging.WARNING):
        vs = VideoSet(train, 32)
    assert sorted(e.name for e in vs.entries) == ["clip.mp4", "good"]
    text = caplog.text
    assert "corrupt.mp4" in text and "empty" in text
    ds = PairDataset(vs, DatasetConfig(frame_shape=(32, 32, 3), num_repeats=3))
    assert len(ds) == 6
    s = ds.sample(0, np.random.default_rng(0))
    assert s["source"].shape == (3, 32, 32) and s["driving"].dtype == np.float32
    assert 0.0 <= s["source"].min() and s["source"].max() <= 1.0


def test_truncated_video_is_skipped_at_sampling(tmp_path, caplog):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import DatasetConfig

    train = tmp_path / "train"
    write_frames_folder(train / "b_good", blob_frames(4))
    full = write_video(tmp_path / "full.mp4", blob_frames(40, seed=5))
    data = full.read_bytes()
    (train / "a_truncated.mp4").write_bytes(data[: len(data) * 2 // 3])
    vs = VideoSet(train, 32, probe=False)
    ds = PairDataset(vs, DatasetConfig(frame_shape=(32, 32, 3)))
    with caplog.at_level(logging.WARNING):
        names = {ds.sample(i, np.random.default_rng(i))["name"] for i in range(4)}
    assert names == {"b_good"}
    assert "a_truncated.mp4" in caplog.text


def test_id_sampling_groups_by_identity(tmp_path):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import DatasetConfig

    for name in ("id1#a", "id1#b", "id2#a"):
        write_frames_folder(tmp_path / "train" / name, blob_frames(3))
    vs = VideoSet(tmp_path / "train", 32)
    ds = PairDataset(vs, DatasetConfig(frame_shape=(32, 32, 3), id_sampling=True, num_repeats=2))
    assert ds.num_items == 2 and len(ds) == 4
    seen = {ds.sample(0, np.random.default_rng(i))["name"] for i in range(12)}
    assert seen == {"id1#a", "id1#b"}


def test_paired_augmentation_is_paired():
    from ppgan_fom.training.augmentation import PairAugmentation
    from ppgan_fom.training.train_config import ColorJitterConfig, DatasetConfig

    img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    aug = PairAugmentation(DatasetConfig(time_flip=False, jitter=ColorJitterConfig(
        0.3, 0.3, 0.3, 0.2)))
    for seed in range(6):
        a, b = aug([img, img.copy()], np.random.default_rng(seed))
        np.testing.assert_array_equal(a, b)  # same change for both frames
        assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    flipped = PairAugmentation(DatasetConfig(horizontal_flip=False, time_flip=True))
    outs = {tuple(x[0, 0, 0] for x in flipped([img, img * 0], np.random.default_rng(s)))
            for s in range(10)}
    assert len(outs) == 2  # both orders occur


def test_loader_is_deterministic_and_worker_independent(data_root):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.loader import PairLoader
    from ppgan_fom.training.train_config import DatasetConfig

    ds = PairDataset(VideoSet(data_root / "train", 32), DatasetConfig(frame_shape=(32, 32, 3),
                                                                      num_repeats=4))
    a = PairLoader(ds, 3, seed=5)
    b = PairLoader(ds, 3, seed=5, num_workers=2)
    seq_a = [x for _, x in a.iterate(0, 4)]
    seq_b = [x for _, x in b.iterate(0, 4)]
    for x, y in zip(seq_a, seq_b):
        np.testing.assert_array_equal(x["source"], y["source"])
    np.testing.assert_array_equal(a.batch(3)["driving"], seq_a[3]["driving"])
    assert not np.array_equal(seq_a[0]["source"], seq_a[1]["source"])


# ----------------------------------------------------------------------------- losses
def test_tps_jacobian_matches_autograd():
    import paddle

    from ppgan_fom.training.tps import RandomTPS
    from ppgan_fom.training.train_config import TransformConfig

    tps = RandomTPS(3, TransformConfig(0.1, 0.05, 5), np.random.default_rng(1))
    pts = paddle.to_tensor(np.random.default_rng(2).uniform(-0.9, 0.9, (3, 7, 2)).astype("float32"))
    pts.stop_gradient = False
    warped = tps.warp_coordinates(pts)
    gx = paddle.grad(warped[:, :, 0].sum(), pts, retain_graph=True)[0]
    gy = paddle.grad(warped[:, :, 1].sum(), pts)[0]
    auto = paddle.stack([gx, gy], axis=-2).numpy()
    np.testing.assert_allclose(tps.jacobian(pts).numpy(), auto, rtol=1e-4, atol=1e-5)
    ident = RandomTPS(2, TransformConfig(0.0, 0.0, 0), np.random.default_rng(0))
    img = paddle.rand([2, 3, 8, 8])
    np.testing.assert_allclose(ident.transform_frame(img).numpy(), img.numpy(), atol=1e-5)


def test_grid_layout():
    from ppgan_fom.training.visualizer import make_grid

    rng = np.random.default_rng(0)
    vis = {k: rng.random((5, 3, 32, 32)) for k in ("source", "driving", "prediction",
                                                    "deformed", "transformed")}
    vis.update({k: rng.uniform(-1, 1, (5, 4, 2)) for k in ("kp_source", "kp_driving",
                                                           "kp_transformed")})
    vis["occlusion_map"] = rng.random((5, 1, 16, 16))
    vis["mask"] = rng.dirichlet(np.ones(5), (5, 16, 16)).transpose(0, 3, 1, 2)
    grid = make_grid(vis, max_rows=4, min_cell=64)
    assert grid.dtype == np.uint8 and grid.shape == (22 + 4 * 66, 7 * 66, 3)


def test_vgg_weights_offline_is_clear_error(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("PPGAN_FOM_OFFLINE", "1")
    monkeypatch.setenv("PPGAN_FOM_HOME", str(tmp_path / "empty_cache"))
    cfg = write_config(tmp_path, perceptual=[1, 1, 1, 1, 1])
    with pytest.raises(WeightsError) as err:
        make_trainer(cfg, data_root, tmp_path / "out")
    msg = str(err.value)
    assert "vgg19.pdparams" in msg and "https://" in msg and "--no_perceptual" in msg


def test_perceptual_loss_with_local_vgg_weights(tmp_path, data_root):
    from ppgan_fom.training.vgg import VGG19Features, load_vgg19
    from ppgan_fom.checkpoint import save_checkpoint

    ref = VGG19Features(2)
    path = save_checkpoint(tmp_path / "vgg.pdparams",
                           {k: v.numpy() for k, v in ref.state_dict().items()})
    net = load_vgg19(str(path), num_outputs=2)
    assert all(p.stop_gradient for p in net.parameters())
    cfg = write_config(tmp_path, perceptual=[1, 1], pixel_l1=0)
    tr = make_trainer(cfg, data_root, tmp_path / "out", vgg_weights=str(path), max_steps=1)
    losses, _ = tr.train_step(tr.loader.batch(0), 0)
    assert losses["perceptual"] > 0 and "pixel_l1" not in losses


# ----------------------------------------------------------------------------- training
def test_steps_reduce_loss_on_fixed_batch(tmp_path, data_root):
    tr = make_trainer(write_config(tmp_path, equivariance_value=0, equivariance_jacobian=0),
                      data_root, tmp_path / "out")
    batch = tr.loader.batch(0)
    first = tr.train_step(batch, 0)[0]["total"]
    for step in range(1, 6):
        last = tr.train_step(batch, step)[0]["total"]
    assert last < 0.85 * first, (first, last)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, data_root):
    """A 3-step GAN run with a checkpoint and a grid at step 2 (shared by several tests)."""
    tmp = tmp_path_factory.mktemp("run_a")
    cfg = write_config(tmp, gan=True)
    tr = make_trainer(cfg, data_root, tmp / "a", max_steps=3, checkpoint_every=2, grid_every=2)
    return cfg, tmp / "a", tr.fit(), tr


def test_checkpoint_resume_gives_identical_next_step(tmp_path, data_root, run_a):
    from ppgan_fom.training.checkpoint import load_training_checkpoint

    cfg, out, sa, _ = run_a
    ckpt2 = out / "checkpoints" / "step_00000002.pdparams"
    assert ckpt2.is_file() and (out / "checkpoints" / "latest.pdparams").is_file()
    assert (out / "grids" / "step_00000002.png").is_file()
    state = load_training_checkpoint(ckpt2)
    assert state["step"] == 2 and {"generator", "kp_detector", "discriminator",
                                    "optimizer_generator", "optimizer_kp_detector",
                                    "optimizer_discriminator"} <= set(state)
    b = make_trainer(cfg, data_root, tmp_path / "b", max_steps=3, resume=ckpt2)
    assert b.step == 2
    sb = b.fit()
    assert sb.step == 3
    for key in ("total", "pixel_l1", "gen_gan", "disc_gan", "equivariance_jacobian"):
        assert sb.last_losses[key] == sa.last_losses[key], key
    rows = (out / "losses.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    # another seed (other batch, other warp) gives other losses: the comparison can fail
    c = make_trainer(cfg, data_root, tmp_path / "c", max_steps=3, resume=ckpt2, seed=1)
    assert c.fit().last_losses["total"] != sa.last_losses["total"]


def test_checkpoint_loads_in_predictor(tmp_path, run_a):
    from ppgan_fom import FirstOrderPredictor
    from ppgan_fom.model import load_fomm
    from ppgan_fom.training.train_config import load_train_config

    cfg, _, summary, trainer = run_a
    ckpt = summary.checkpoint
    assert ckpt.name == "step_00000003.pdparams"
    gen, _ = load_fomm(load_train_config(cfg).model, ckpt)
    own = trainer.generator.state_dict()
    for k, v in gen.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), own[k].numpy())
    # eager engine: the static one would export graphs into the user's cache
    pred = FirstOrderPredictor(weight_path=str(ckpt), config=str(cfg), cpu=True,
                               engine="eager", output=str(tmp_path / "anim"))
    frames = blob_frames(3, size=32)
    out = list(pred.animate_faces([frames[0]], frames))
    assert len(out) == 3 and out[0].shape == (1, 32, 32, 3) and out[0].dtype == np.uint8


def test_finetune_from_published_layout_weights(tmp_path, data_root):
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import load_train_config
    from ppgan_fom.training.trainer import Trainer, TrainOptions
    from ppgan_fom.checkpoint import load_checkpoint

    weights = SMALL / "fom_small64_random.pdparams"
    tc = load_train_config(SMALL / "fom_small64.yaml").without_perceptual().replace(batch_size=2)
    ds = PairDataset(VideoSet(data_root / "train", tc.image_size), tc.dataset)
    tr = Trainer(tc, ds, TrainOptions(output=tmp_path / "ft", weights=str(weights), max_steps=1,
                                      progress=False, visualdl=False, num_workers=0))
    ref = load_checkpoint(weights)
    own = tr.kp_detector.state_dict()
    for k, v in ref["kp_detector"].items():
        np.testing.assert_array_equal(own[k].numpy(), v)
    assert np.isfinite(tr.fit().last_losses["total"])
    with pytest.raises(WeightsError):  # weights of another architecture
        make_trainer(write_config(tmp_path), data_root, tmp_path / "x", weights=str(weights))


def test_optimizer_state_uses_structured_names(tmp_path, data_root):
    from ppgan_fom.training.optim import load_optimizer_state, optimizer_state

    tr = make_trainer(write_config(tmp_path), data_root, tmp_path / "out")
    tr.train_step(tr.loader.batch(0), 0)
    st = optimizer_state(tr.optimizers["kp_detector"], tr.kp_detector)["state"]
    assert set(st) == {n for n, p in tr.kp_detector.named_parameters() if not p.stop_gradient}
    assert {"moment1_0", "moment2_0"} <= set(next(iter(st.values())))
    bad = {"state": {"no.such.param": {"moment1_0": np.zeros(1, np.float32)}}}
    with pytest.raises(WeightsError):
        load_optimizer_state(tr.optimizers["kp_detector"], tr.kp_detector, bad)


# ----------------------------------------------------------------------------- CLI
def test_train_cli_end_to_end_and_errors(tmp_path, data_root, capsys, monkeypatch):
    from ppgan_fom.cli import train_main

    cfg = write_config(tmp_path)
    out = tmp_path / "run"
    code = train_main(["--config", str(cfg), "--data", str(data_root), "--output", str(out),
                       "--max_steps", "2", "--eval_every", "2", "--no_progress", "--cpu",
                       "--threads", "2", "--quiet", "--no_visualdl"])
    assert code == 0
    assert (out / "checkpoints" / "step_00000002.pdparams").is_file()
    assert (out / "eval.csv").read_text().splitlines()[1].startswith("2,")
    capsys.readouterr()
    assert train_main(["--config", str(cfg), "--data", str(tmp_path / "nope"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "nope" in err[0]
    (tmp_path / "bad.yaml").write_text("just text")
    assert train_main(["--config", str(tmp_path / "bad.yaml"), "--data", str(data_root),
                       "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    vgg_cfg = write_config(tmp_path, perceptual=[1])
    monkeypatch.setenv("PPGAN_FOM_HOME", str(tmp_path / "empty"))
    assert train_main(["--config", str(vgg_cfg), "--data", str(data_root), "--output",
                       str(tmp_path / "v"), "--quiet", "--max_steps", "1"]) == 2
    assert "--no_perceptual" in capsys.readouterr().err


def test_shipped_configs():
    import dataclasses

    from ppgan_fom.config import PRESETS
    from ppgan_fom.training.train_config import load_train_config

    ft = load_train_config(REPO / "ppgan_fom" / "configs" / "vox256_finetune.yaml")
    assert dataclasses.replace(ft.model, name="vox-256") == PRESETS["vox-256"]
    assert ft.loss_weights.use_perceptual and ft.optim.lr_generator == 2e-5
    bench = load_train_config(REPO / "ppgan_fom" / "configs" / "fom_bench64.yaml")
    assert bench.image_size == 64 and bench.model.num_kp == 10
    assert not bench.loss_weights.use_perceptual and bench.loss_weights.use_pixel
