"""Data-parallel training with 2 CPU processes (``paddle.distributed.launch``, gloo).

Four runs of the real training CLI on a tiny 32x32 GAN config (tests/dist_train_worker.py
wraps it to dump each rank's state):

* A: 2 processes x batch 2, 4 steps (and a held-out evaluation every 2 steps, on rank 0);
  B: 1 process x batch 4 (the same global batch);
* C: A's step-2 checkpoint resumed by 1 process; D: B's step-2 checkpoint resumed by 2.

Checked: both ranks hold bit-identical weights, BatchNorm statistics and Adam state; A
equals B within float noise; only rank 0 writes files or logs below WARNING; a checkpoint
resumes with another process count (same state loaded, same result).

"Within float noise" is measured on the Adam moments (running averages of the gradients
and their squares over the 4 steps) and the BatchNorm running statistics, with a small
learning rate (1e-5). Why not the weights at FOMM's usual rates: Adam steps by about
lr * sign(gradient), so a gradient that is zero in exact arithmetic (a conv bias feeding a
BatchNorm, the keypoint head's bias before its spatial softmax) takes a +-lr step decided
by rounding noise, and after a few steps the runs drift apart chaotically - two
*single-process* runs that only sum the batch in a different order differ by ~15 % in
their weight updates (benchmarks/bench_train_distributed.py prints these figures). At
lr 1e-5 the 4 steps stay linear: the moments of A and B agree to ~5e-3 (relative L2)
while per-process BatchNorm (no SyncBatchNorm) gives ~1.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import yaml

from test_train import TINY, blob_frames, write_frames_folder

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "dist_train_worker.py"
STEPS, LR = 4, 1e-5
NETS = ("generator", "kp_detector", "discriminator")

pytestmark = pytest.mark.slow


def _env(dump: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PADDLE_", "FLAGS_selected", "POD_", "FOM_DIST_"))}
    env.update(FOM_DIST_DUMP=str(dump), PPGAN_FOM_OFFLINE="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _train(work: Path, name: str, procs: int, batch: int, cfg: Path, data: Path,
           *extra: str, env: Optional[dict] = None, timeout: float = 600) -> Path:
    """Run the training CLI in ``procs`` processes; returns the dump directory."""
    dump = work / f"dump_{name}"
    dump.mkdir()
    args = ["--config", str(cfg), "--data", str(data), "--output", str(work / name),
            "--batch_size", str(batch), "--max_steps", str(STEPS), "--checkpoint_every", "2",
            "--grid_every", "2", "--num_workers", "0", "--no_progress", "--threads", "1",
            "--cpu", "--seed", "3", *extra]
    if procs == 1:
        cmd = [sys.executable, str(WORKER), *args]
    else:
        cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node",
               str(procs), "--log_dir", str(work / f"log_{name}"), str(WORKER), *args]
    try:
        res = subprocess.run(cmd, cwd=REPO, env=_env(dump, **(env or {})), capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"run {name} did not finish within {timeout:.0f} s (ranks out of step?)")
    if res.returncode != 0:
        logs = "".join(p.read_text()[-3000:] for p in sorted((work / f"log_{name}").glob(
            "workerlog.*"))) if procs > 1 else ""
        pytest.fail(f"run {name} failed ({res.returncode}):\n{res.stdout[-3000:]}\n"
                    f"{res.stderr[-3000:]}\n{logs}")
    return dump


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("dist")
    data = work / "data"
    for i, name in enumerate("abcdef"):
        write_frames_folder(data / "train" / name, blob_frames(8, seed=i + 1))
    write_frames_folder(data / "test" / "held_out", blob_frames(6, seed=9))
    cfg = copy.deepcopy(TINY)
    cfg["model"]["train_params"]["loss_weights"]["generator_gan"] = 1  # all three nets train
    cfg["lr_scheduler"].update(lr_generator=LR, lr_kp_detector=LR, lr_discriminator=LR)
    cfg_path = work / "tiny_gan.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    # A also runs the held-out evaluation (rank 0 only, while rank 1 waits)
    a = _train(work, "A", 2, 2, cfg_path, data, "--eval_every", "2", "--eval_max_frames", "3")
    b = _train(work, "B", 1, 4, cfg_path, data)
    c = _train(work, "C", 1, 4, cfg_path, data, "--resume",
               str(work / "A" / "checkpoints" / "step_00000002.pdparams"))
    d = _train(work, "D", 2, 2, cfg_path, data, "--resume",
               str(work / "B" / "checkpoints" / "step_00000002.pdparams"))
    return {"work": work, "A": a, "B": b, "C": c, "D": d, "cfg": cfg_path, "data": data}


def _load(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _rel(a: dict, b: dict, keys) -> float:
    keys = list(keys)
    assert keys
    x = np.concatenate([a[k].ravel().astype(np.float64) for k in keys])
    y = np.concatenate([b[k].ravel().astype(np.float64) for k in keys])
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30))


def _assert_same_training(a: dict, b: dict, start: dict, what: str) -> None:
    """Runs ``a`` and ``b`` (both from ``start``) agree within float noise: Adam moments,
    BatchNorm statistics, and (more loosely, see the module doc) the weight updates."""
    assert set(a) == set(b), what
    for net in NETS:
        for acc, tol in (("moment1", 0.1), ("moment2", 0.1)):
            keys = [k for k in a if k.startswith(f"opt_{net}/") and acc in k]
            assert _rel(a, b, keys) < tol, f"{what}: {net} Adam {acc} differ"
    for suffix, tol in (("_mean", 2e-3), ("_variance", 1e-4)):
        keys = [k for k in a if k.split("/")[0] in NETS and k.endswith(suffix)]
        assert _rel(a, b, keys) < tol, f"{what}: BatchNorm running {suffix} differ"
    for net in NETS:  # measured: ~0.07 (as for two 1-process runs), per-process BN ~1.2
        keys = [k for k in a if k.startswith(f"{net}/") and not k.endswith(
            ("_mean", "_variance"))]
        ua = {k: a[k] - start[k] for k in keys}
        ub = {k: b[k] - start[k] for k in keys}
        assert _rel(ua, ub, keys) < 0.3, f"{what}: {net} weight updates differ"


def _assert_identical(a: dict, b: dict, what: str) -> None:
    assert set(a) == set(b), what
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, f"{what}: {len(different)} arrays differ, e.g. {different[:3]}"


def _checkpoint_arrays(path: Path) -> dict:
    """A training checkpoint flattened like the worker's dumps."""
    from ppgan_fom.training.checkpoint import load_training_checkpoint

    state = load_training_checkpoint(path)
    out = {}
    for net in NETS:
        out.update({f"{net}/{k}": np.asarray(v) for k, v in state[net].items()})
        for pname, accs in state[f"optimizer_{net}"]["state"].items():
            out.update({f"opt_{net}/{pname}/{acc}": np.asarray(v) for acc, v in accs.items()})
    return out


# ----------------------------------------------------------------------------- 2 processes
def test_both_ranks_hold_identical_state(runs):
    _assert_identical(_load(runs["A"] / "rank0.npz"), _load(runs["A"] / "rank1.npz"),
                      "A: rank 0 vs rank 1")
    _assert_identical(_load(runs["D"] / "rank0.npz"), _load(runs["D"] / "rank1.npz"),
                      "D: rank 0 vs rank 1")


def test_two_processes_equal_one_process_with_the_global_batch(runs):
    start = _load(runs["B"] / "rank0.start.npz")
    _assert_identical(_load(runs["A"] / "rank0.start.npz"), start, "initial state")
    a, b = _load(runs["A"] / "rank0.npz"), _load(runs["B"] / "rank0.npz")
    _assert_same_training(a, b, start, "2 x 2 vs 1 x 4")
    # the logged losses are those of the global batch
    rows_a = np.genfromtxt(runs["work"] / "A" / "losses.csv", delimiter=",", names=True)
    rows_b = np.genfromtxt(runs["work"] / "B" / "losses.csv", delimiter=",", names=True)
    assert len(rows_a) == len(rows_b) == STEPS
    for col in rows_a.dtype.names:
        if col not in ("seconds",):
            np.testing.assert_allclose(rows_a[col], rows_b[col], rtol=1e-3, err_msg=col)


def test_only_rank_0_writes_and_logs(runs):
    work = runs["work"]
    assert json.loads((runs["A"] / "rank1.writes.json").read_text()) == []
    written = {p for _, p in json.loads((runs["A"] / "rank0.writes.json").read_text())}
    for p in ("losses.csv", "eval.csv", "checkpoints/step_00000002.pdparams",
              "checkpoints/step_00000004.pdparams", "checkpoints/latest.pdparams"):
        assert p in written, p
    out = work / "A"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "latest.pdparams", "step_00000002.pdparams", "step_00000004.pdparams"]
    assert sorted(p.name for p in (out / "grids").iterdir()) == [
        "step_00000002.png", "step_00000004.png"]
    assert [r.split(",")[0] for r in (out / "eval.csv").read_text().splitlines()] == [
        "step", "2", "4"]
    log0 = (work / "log_A" / "workerlog.0").read_text()
    log1 = (work / "log_A" / "workerlog.1").read_text()
    assert "INFO ppgan_fom.training" in log0 and "trained steps 0..4" in log0
    assert "INFO ppgan_fom" not in log1 and "trained steps" not in log1


def test_a_stop_requested_on_rank_0_stops_every_rank(runs):
    """Hooks (e.g. the held-out evaluation) run on rank 0 only; when one asks to stop, the
    other rank must stop at the same step instead of waiting for rank 0 forever."""
    work = runs["work"]
    dump = _train(work, "E", 2, 2, runs["cfg"], runs["data"], env={"FOM_DIST_STOP_AT": "2"},
                  timeout=180)
    r0, r1 = _load(dump / "rank0.npz"), _load(dump / "rank1.npz")
    _assert_identical(r0, r1, "E: rank 0 vs rank 1")
    assert sorted(p.name for p in (work / "E" / "checkpoints").iterdir()) == [
        "latest.pdparams", "step_00000002.pdparams"]
    # and they stopped where an uninterrupted run was at step 2
    _assert_identical(_checkpoint_arrays(work / "E" / "checkpoints" / "latest.pdparams"),
                      _checkpoint_arrays(work / "A" / "checkpoints" / "step_00000002.pdparams"),
                      "E@2 vs A@2")


def test_ctrl_c_on_the_launcher_writes_a_checkpoint(runs):
    """Ctrl-C reaches only the launcher, which sends SIGTERM to the processes: they finish
    the step together and rank 0 writes its checkpoint before exiting."""
    import signal
    import time

    work = runs["work"]
    out, log_dir, dump = work / "F", work / "log_F", work / "dump_F"
    dump.mkdir()
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
           "--log_dir", str(log_dir), str(REPO / "applications" / "tools" / "train.py"),
           "--config", str(runs["cfg"]), "--data", str(runs["data"]), "--output", str(out),
           "--batch_size", "2", "--max_steps", "100000", "--checkpoint_every", "100000",
           "--grid_every", "0", "--num_workers", "0", "--no_progress", "--threads", "1",
           "--cpu"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(dump), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            rows = (out / "losses.csv").read_text().splitlines() if (
                out / "losses.csv").is_file() else []
            if len(rows) >= 3:  # header + 2 steps
                break
            time.sleep(0.5)
        assert proc.poll() is None, "training ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal does
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    steps = [int(r.split(",")[0]) for r in (out / "losses.csv").read_text().splitlines()[1:]]
    saved = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert saved == ["latest.pdparams", f"step_{steps[-1]:08d}.pdparams"], (saved, steps)
    assert f"terminated at step {steps[-1]}" in (log_dir / "workerlog.0").read_text()


# ----------------------------------------------------------------------------- resume
def test_checkpoint_resumes_with_another_process_count(runs):
    work = runs["work"]
    # 2 -> 1: the single process starts from exactly the state the 2 processes saved ...
    saved_by_2 = _checkpoint_arrays(work / "A" / "checkpoints" / "step_00000002.pdparams")
    _assert_identical(_load(runs["C"] / "rank0.start.npz"), saved_by_2, "C start vs A@2")
    # ... and ends where the 2 processes ended
    _assert_same_training(_load(runs["C"] / "rank0.npz"), _load(runs["A"] / "rank0.npz"),
                          saved_by_2, "A@2 resumed by 1 process vs A")
    # 1 -> 2: both ranks start from what the single process saved, end where it ended
    saved_by_1 = _checkpoint_arrays(work / "B" / "checkpoints" / "step_00000002.pdparams")
    for r in (0, 1):
        _assert_identical(_load(runs["D"] / f"rank{r}.start.npz"), saved_by_1,
                          f"D rank {r} start vs B@2")
    _assert_same_training(_load(runs["D"] / "rank0.npz"), _load(runs["B"] / "rank0.npz"),
                          saved_by_1, "B@2 resumed by 2 processes vs B")
    # the checkpoints say how they were trained
    from ppgan_fom.training.checkpoint import load_training_checkpoint

    meta = load_training_checkpoint(work / "A" / "checkpoints" / "latest.pdparams")["meta"]
    assert (meta["batch_size"], meta["world_size"], meta["global_batch"]) == (2, 2, 4)


def test_resume_with_another_global_batch_warns(runs, tmp_path, caplog):
    from ppgan_fom.runtime import setup_device
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import load_train_config
    from ppgan_fom.training.trainer import Trainer, TrainOptions

    setup_device(cpu=True, threads=1)
    work = runs["work"]
    tc = load_train_config(work / "tiny_gan.yaml")  # batch 2, 1 process: global 2, not 4
    ds = PairDataset(VideoSet(work / "data" / "train", tc.image_size), tc.dataset)
    with caplog.at_level(logging.WARNING):
        Trainer(tc, ds, TrainOptions(output=tmp_path, resume=work / "A" / "checkpoints" /
                                     "step_00000002.pdparams", progress=False, visualdl=False))
    assert "global batch of 4 (2 x 2 processes); this run uses 2 (2 x 1)" in caplog.text


# ----------------------------------------------------------------------------- pieces
def test_loader_and_warps_do_not_depend_on_the_process_count(tmp_path):
    """N processes x batch B draw exactly the samples (and warps) of 1 process x N*B."""
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.loader import PairLoader
    from ppgan_fom.training.tps import RandomTPS
    from ppgan_fom.training.train_config import TransformConfig, load_train_config

    for i, name in enumerate("abc"):
        write_frames_folder(tmp_path / "train" / name, blob_frames(6, seed=i))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    tc = load_train_config(cfg)
    ds = PairDataset(VideoSet(tmp_path / "train", tc.image_size), tc.dataset)
    one = PairLoader(ds, 4, seed=5)
    two = [PairLoader(ds, 2, seed=5, rank=r, world_size=2) for r in (0, 1)]
    assert one.steps_per_epoch == two[0].steps_per_epoch
    for step in (0, 1, one.steps_per_epoch + 2):  # also the next epoch
        whole = one.batch(step)
        halves = [ld.batch(step) for ld in two]
        for key in ("source", "driving", "slots"):
            np.testing.assert_array_equal(whole[key], np.concatenate([h[key] for h in halves]))
        assert not np.array_equal(halves[0]["source"], halves[1]["source"])  # distinct shards
    t = TransformConfig(0.05, 0.005, 5)

    def rngs(slots):
        return [np.random.default_rng([9, 1, s]) for s in slots]

    full = RandomTPS(4, t, rngs(range(4)))
    parts = [RandomTPS(2, t, rngs(range(0, 2))), RandomTPS(2, t, rngs(range(2, 4)))]
    np.testing.assert_array_equal(full.theta.numpy(),
                                  np.concatenate([p.theta.numpy() for p in parts]))
    np.testing.assert_array_equal(full.control_params.numpy(),
                                  np.concatenate([p.control_params.numpy() for p in parts]))


def test_cpu_sync_batchnorm_in_one_process_is_batchnorm():
    """Forward, gradients and running statistics of BatchNorm2D; names and tensors kept."""
    import paddle
    import paddle.nn as nn

    from ppgan_fom.training.distributed import CpuSyncBatchNorm, convert_sync_batchnorm

    def build():
        paddle.seed(1)
        net = nn.Sequential(nn.Conv2D(3, 5, 3), nn.BatchNorm2D(5, momentum=0.9), nn.ReLU())
        net[1].weight.set_value(paddle.uniform([5], min=0.5, max=1.5))
        net[1].bias.set_value(paddle.uniform([5], min=-0.5, max=0.5))
        return net

    ref, net = build(), build()
    names = list(net.state_dict())
    weight = net[1].weight
    net = convert_sync_batchnorm(net, "cpu")
    assert isinstance(net[1], CpuSyncBatchNorm) and net[1].weight is weight
    assert list(net.state_dict()) == names
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(4, 3, 9, 9)).astype("float32")
    outs, grads = [], []
    for model in (ref, net):
        model.train()
        xt = paddle.to_tensor(x, stop_gradient=False)
        for _ in range(2):  # two updates of the running statistics
            y = model(xt)
        (y * y).mean().backward()
        outs.append(y.numpy())
        grads.append([xt.grad.numpy()] + [p.grad.numpy() for p in model.parameters()
                                          if p.grad is not None])
        model.eval()
        outs.append(model(paddle.to_tensor(x)).numpy())
    np.testing.assert_allclose(outs[2], outs[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[3], outs[1], rtol=1e-5, atol=1e-5)
    assert len(grads[0]) == len(grads[1])
    for g_ref, g in zip(*grads):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net[1]._mean.numpy(), ref[1]._mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net[1]._variance.numpy(), ref[1]._variance.numpy(), rtol=1e-5)
