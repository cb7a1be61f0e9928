"""Reconstruction evaluation: exact checks with identity / copy-source models, the CLI,
saved videos, the optional AKD / AED hooks and bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("PPGAN_FOM_OFFLINE", "1")

from test_train import blob_frames, write_config, write_frames_folder, write_video  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _threads():
    from ppgan_fom.runtime import setup_device

    setup_device(cpu=True, threads=2)


class PerfectModel:
    """A "model" that returns the driving frames themselves (identity on the driving)."""

    name = "identity"

    def start(self, source):
        pass

    def predict(self, driving):
        return driving.copy()

    def close(self):
        pass


def test_copy_source_on_static_video_is_exactly_zero(tmp_path, capsys):
    from ppgan_fom.cli import evaluate_main

    root = tmp_path / "static"
    write_frames_folder(root / "test" / "still", blob_frames(6, static=True))
    out = tmp_path / "eval"
    code = evaluate_main(["--data", str(root), "--baseline", "copy-source", "--output",
                          str(out), "--config", "vox-256", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "still" in printed and "overall" in printed
    report = json.loads((out / "reconstruction.json").read_text())
    assert report["l1"] == 0.0 and report["videos"][0]["frames"] == 6
    # the same baseline on a moving video is not 0: the check can fail
    write_frames_folder(tmp_path / "moving" / "test" / "m", blob_frames(6))
    assert evaluate_main(["--data", str(tmp_path / "moving"), "--baseline", "copy-source",
                          "--output", str(out), "--quiet"]) == 0
    assert json.loads((out / "reconstruction.json").read_text())["l1"] > 0.01


def test_identity_model_scores_zero_and_overall_is_frame_weighted(tmp_path):
    from ppgan_fom.training.dataset import VideoSet
    from ppgan_fom.training.evaluator import CopySourceReconstructor, Evaluator

    write_frames_folder(tmp_path / "a_long", blob_frames(9, seed=1))
    write_frames_folder(tmp_path / "b_short", blob_frames(3, seed=2))
    write_video(tmp_path / "c_static.mp4", blob_frames(5, static=True))
    vs = VideoSet(tmp_path, 32)
    ev = Evaluator(vs, batch_size=4)
    assert ev.run(PerfectModel()).l1 == 0.0
    rep = ev.run(CopySourceReconstructor())
    scores = {v.name: v for v in rep.videos}
    assert scores["c_static.mp4"].l1 < 0.01  # lossy codec, static content
    frames = np.array([v.frames for v in rep.videos])
    assert list(frames) == [9, 3, 5]
    expected = sum(v.l1 * v.frames for v in rep.videos) / frames.sum()
    assert rep.l1 == pytest.approx(expected)
    assert rep.l1_video_mean == pytest.approx(np.mean([v.l1 for v in rep.videos]))
    skip = Evaluator(vs, include_source_frame=False, max_videos=1).run(CopySourceReconstructor())
    assert skip.videos[0].frames == 8 and skip.videos[0].l1 > scores["a_long"].l1


def test_evaluate_checkpoint_saves_videos_and_akd_aed(tmp_path, capsys):
    from ppgan_fom.cli import evaluate_main
    from ppgan_fom.training.dataset import PairDataset, VideoSet
    from ppgan_fom.training.train_config import load_train_config
    from ppgan_fom.training.trainer import Trainer, TrainOptions
    from ppgan_fom.media import probe_video

    root = tmp_path / "data"
    write_frames_folder(root / "train" / "t", blob_frames(4))
    write_video(root / "test" / "clip.mp4", blob_frames(7, seed=3))
    (root / "test" / "broken.mp4").write_bytes(b"nope" * 100)
    cfg = write_config(tmp_path)
    tc = load_train_config(cfg)
    tr = Trainer(tc, PairDataset(VideoSet(root / "train", 32), tc.dataset),
                 TrainOptions(output=tmp_path / "run", progress=False, visualdl=False))
    ckpt = tr.save()
    metrics = tmp_path / "metrics.py"
    metrics.write_text(
        "import numpy as np\n"
        "def landmarks(frames):\n"
        "    f = frames.astype(np.float64)\n"
        "    return np.stack([f.mean(axis=(1, 2))[:, :2], f.std(axis=(1, 2))[:, :2]], 1)\n"
        "def embed(frames):\n"
        "    return frames.reshape(len(frames), -1).astype(np.float64).mean(1, keepdims=True)\n")
    out = tmp_path / "eval"
    code = evaluate_main(["--config", str(cfg), "--data", str(root), "--weight_path", str(ckpt),
                          "--output", str(out), "--save_videos", "--batch_size", "3",
                          "--akd_model", f"{metrics}:landmarks", "--aed_model",
                          f"{metrics}:embed", "--cpu", "--threads", "2", "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "reconstruction.json").read_text())
    assert [v["name"] for v in report["videos"]] == ["clip.mp4"]
    assert report["skipped"] == ["broken.mp4"]
    assert 0 < report["l1"] < 1 and report["akd"] > 0 and report["aed"] >= 0
    assert probe_video(out / "videos" / "clip.mp4").n_frames == 7
    printed = capsys.readouterr().out
    assert "AKD" in printed and "AED" in printed


def test_evaluate_cli_bad_input_exit_2(tmp_path, capsys):
    from ppgan_fom.cli import evaluate_main

    assert evaluate_main(["--data", str(tmp_path / "missing"), "--baseline", "copy-source",
                          "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing" in err[0]
    (tmp_path / "root" / "train").mkdir(parents=True)
    assert evaluate_main(["--data", str(tmp_path / "root"), "--baseline", "copy-source",
                          "--quiet"]) == 2
    assert "test" in capsys.readouterr().err
    write_frames_folder(tmp_path / "root" / "test" / "v", blob_frames(3))
    assert evaluate_main(["--data", str(tmp_path / "root"), "--weight_path",
                          str(tmp_path / "no.pdparams"), "--config", "vox-256", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert evaluate_main(["--data", str(tmp_path / "root"), "--baseline", "copy-source",
                          "--akd_model", "not_a_spec", "--quiet"]) == 2
