"""Weights registry, cache, offline mode, checksums and strict/safe checkpoint loading."""

from __future__ import annotations

import logging
import os
import pickle
import shutil

import numpy as np
import pytest

from ppgan_fom import checkpoint as CK
from ppgan_fom import weights as W
from ppgan_fom.config import load_config
from ppgan_fom.errors import WeightsError
from ppgan_fom.model import load_fomm


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real PaddleGAN cache
    monkeypatch.delenv(W.ENV_OFFLINE, raising=False)
    monkeypatch.delenv(W.ENV_REUSE_PADDLEGAN, raising=False)
    return tmp_path / "cache"


def _ckpt(tmp_path, name="c.pdparams", n=4) -> bytes:
    """Bytes of a small valid checkpoint (downloads are checked as checkpoints)."""
    state = {"generator": {"w": np.arange(n, dtype=np.float32)}, "kp_detector": {}}
    return CK.save_checkpoint(tmp_path / "src" / name, state).read_bytes()


def _fake_downloader(payload: bytes, calls: list):
    def dl(url, dest):
        calls.append(url)
        dest.write_bytes(payload)
    return dl


def test_local_path_wins(tmp_path, cache):
    f = tmp_path / "mine.pdparams"
    f.write_bytes(b"x")
    calls = []
    assert W.resolve_weights(str(f), downloader=_fake_downloader(b"", calls)) == f
    assert calls == []


def test_missing_local_path_names_it(tmp_path):
    with pytest.raises(WeightsError, match="nope.pdparams: weights file not found"):
        W.resolve_weights(str(tmp_path / "nope.pdparams"))


def test_download_then_cache_hit_records_sha256(cache, tmp_path):
    calls = []
    payload = _ckpt(tmp_path)
    dl = _fake_downloader(payload, calls)
    p = W.resolve_weights("vox-256", downloader=dl)
    assert p == cache / "vox-cpk.pdparams" and p.read_bytes() == payload
    assert calls == [W.REGISTRY["vox-256"].url]
    side = p.with_name(p.name + ".sha256")
    assert side.read_text().strip() == W.sha256_of(p)
    assert sorted(x.name for x in cache.iterdir()) == ["vox-cpk.pdparams",
                                                       "vox-cpk.pdparams.sha256"]
    assert W.resolve_weights("vox-256", downloader=dl) == p
    assert len(calls) == 1  # cache hit: no second download


def test_sha256_mismatch_is_detected(cache, tmp_path):
    p = W.resolve_weights("s3fd", downloader=_fake_downloader(_ckpt(tmp_path), []))
    p.write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="does not match the recorded"):
        W.resolve_weights("s3fd")


def test_pinned_checksum_is_enforced_on_download(cache, monkeypatch):
    spec = W.WeightSpec("pinned", "https://example.invalid/p.pdparams", "p.pdparams", "t",
                        sha256="0" * 64)
    monkeypatch.setitem(W.REGISTRY, "pinned", spec)
    with pytest.raises(WeightsError, match="expected 0000"):
        W.resolve_weights("pinned", downloader=_fake_downloader(b"abc", []))
    assert not (cache / "p.pdparams").exists()


def test_offline_error_names_file_and_url(cache, monkeypatch):
    monkeypatch.setenv(W.ENV_OFFLINE, "1")
    with pytest.raises(WeightsError) as e:
        W.resolve_weights("vox-256", downloader=_fake_downloader(b"", []))
    msg = str(e.value)
    assert "\n" not in msg
    assert W.REGISTRY["vox-256"].url in msg and str(cache / "vox-cpk.pdparams") in msg


def test_failed_download_names_url_and_keeps_only_the_part_file(cache):
    def broken(url, dest):
        dest.write_bytes(b"partial")
        raise ConnectionError("network unreachable")
    with pytest.raises(WeightsError, match="could not download.*ConnectionError: network "
                                           "unreachable.*vox-cpk-512.pdparams.part, run again "
                                           "to resume.*by hand"):
        W.resolve_weights("vox-512", downloader=broken)
    assert [x.name for x in cache.iterdir()] == ["vox-cpk-512.pdparams.part"]  # never final


# ----------------------------------------------------------------- PaddleGAN's cache

def _put(path, payload: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def test_paddlegan_cache_is_used_in_place(cache, tmp_path, caplog):
    theirs = _put(tmp_path / "home" / ".cache" / "ppgan" / "vox-cpk-512.pdparams",
                  _ckpt(tmp_path))
    calls = []
    with caplog.at_level(logging.INFO, logger="ppgan_fom.weights"):
        p = W.resolve_weights("vox-512", downloader=_fake_downloader(b"", calls))
    assert p == theirs and calls == []
    assert not cache.exists() or list(cache.iterdir()) == []  # not copied
    assert any("PaddleGAN" in r.getMessage() and str(theirs) in r.getMessage()
               and r.levelno == logging.INFO for r in caplog.records)


def test_paddlegan_s3fd_comes_from_paddles_weights_cache(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_OFFLINE, "1")
    # PaddleGAN's S3FD loader uses paddle.utils.download: ~/.cache/paddle/hapi/weights
    hapi = _put(tmp_path / "home" / ".cache" / "paddle" / "hapi" / "weights"
                / "s3fd_paddle.pdparams", _ckpt(tmp_path))
    assert W.resolve_weights("s3fd") == hapi
    # the FOMM files come from ~/.cache/ppgan, named after the URL
    vox = _put(tmp_path / "home" / ".cache" / "ppgan" / "vox-mobile.pdparams", _ckpt(tmp_path))
    assert W.resolve_weights("vox-mobile") == vox


def test_own_cache_wins_and_reuse_can_be_turned_off(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_OFFLINE, "1")
    theirs = _put(tmp_path / "home" / ".cache" / "ppgan" / "vox-cpk.pdparams", _ckpt(tmp_path))
    monkeypatch.setenv(W.ENV_REUSE_PADDLEGAN, "0")
    with pytest.raises(WeightsError, match="are not cached"):
        W.resolve_weights("vox-256")
    monkeypatch.delenv(W.ENV_REUSE_PADDLEGAN)
    assert W.resolve_weights("vox-256") == theirs
    ours = _put(cache / "vox-cpk.pdparams", _ckpt(tmp_path))
    assert W.resolve_weights("vox-256") == ours


def test_paddlegan_file_is_verified(cache, tmp_path, monkeypatch, small_weights,
                                    small_config_path):
    theirs = _put(tmp_path / "home" / ".cache" / "ppgan" / "vox-cpk.pdparams",
                  small_weights.read_bytes())
    # a pinned checksum is checked on PaddleGAN's file too
    spec = W.REGISTRY["vox-256"]
    monkeypatch.setitem(W.REGISTRY, "vox-256", W.WeightSpec(
        spec.name, spec.url, spec.filename, spec.description, sha256="1" * 64))
    with pytest.raises(WeightsError, match=f"{theirs}: sha256 .* does not match"):
        W.resolve_weights("vox-256")
    monkeypatch.setitem(W.REGISTRY, "vox-256", spec)
    # without a checksum the safe, strict load still applies: a small-model file in
    # PaddleGAN's place is refused for the vox-256 architecture, naming that file
    with pytest.raises(WeightsError, match=f"{theirs}: generator weights do not match"):
        load_fomm(load_config("vox-256"), W.resolve_weights("vox-256"))
    # and it loads for the architecture it was made for
    load_fomm(load_config(small_config_path), W.resolve_weights("vox-256"))


def test_golden_checkpoint_loads_with_safe_unpickler(small_weights):
    state = CK.load_checkpoint(small_weights)
    assert set(state) == {"generator", "kp_detector"}
    v = state["kp_detector"]["kp.weight"]
    assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (10, 11, 7, 7)


def test_structure_mismatch_lists_keys(tmp_path, small_weights, small_config_path):
    state = CK.load_checkpoint(small_weights)
    del state["generator"]["final.bias"]
    state["generator"]["extra.weight"] = np.zeros(3, np.float32)
    state["kp_detector"]["kp.weight"] = np.zeros((10, 11, 5, 5), np.float32)
    bad = CK.save_checkpoint(tmp_path / "bad.pdparams", state)
    cfg = load_config(small_config_path)
    with pytest.raises(WeightsError) as e:
        load_fomm(cfg, bad)
    msg = str(e.value)
    assert "missing: final.bias" in msg and "unexpected: extra.weight" in msg
    state["generator"]["final.bias"] = np.zeros(3, np.float32)
    del state["generator"]["extra.weight"]
    CK.save_checkpoint(tmp_path / "bad2.pdparams", state)
    with pytest.raises(WeightsError, match=r"kp.weight \(10, 11, 5, 5\) != \(10, 11, 7, 7\)"):
        load_fomm(cfg, tmp_path / "bad2.pdparams")


def test_wrong_architecture_is_a_clear_error(small_weights):
    with pytest.raises(WeightsError, match="do not match the model architecture"):
        load_fomm(load_config("vox-256"), small_weights)


def test_truncated_and_non_checkpoint_files(tmp_path, small_weights):
    trunc = tmp_path / "trunc.pdparams"
    trunc.write_bytes(small_weights.read_bytes()[:5000])
    with pytest.raises(WeightsError, match="trunc.pdparams: truncated or not a Paddle checkpoint"):
        CK.load_checkpoint(trunc)
    text = tmp_path / "text.pdparams"
    text.write_text("hello, I am not a checkpoint")
    with pytest.raises(WeightsError, match="text.pdparams: .*not a Paddle checkpoint"):
        CK.load_checkpoint(text)
    empty = tmp_path / "empty.pdparams"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty file"):
        CK.load_checkpoint(empty)
    lst = tmp_path / "list.pdparams"
    lst.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(WeightsError, match="top level is list"):
        CK.load_checkpoint(lst)
    noparts = tmp_path / "flat.pdparams"
    CK.save_checkpoint(noparts, {"a": np.zeros(2, np.float32)})
    with pytest.raises(WeightsError, match="no generator, kp_detector section"):
        load_fomm(load_config("vox-256"), noparts)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"generator": {"w": _Evil(marker)}}, protocol=4))
    # sanity: the plain pickle module WOULD execute it
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Evil(probe)))
    assert probe.exists()
    with pytest.raises(WeightsError, match="refused to load.*(posix|os).system"):
        CK.load_checkpoint(evil)
    assert not marker.exists()


def test_save_checkpoint_is_atomic_and_round_trips(tmp_path):
    state = {"generator": {"a": np.arange(4, dtype=np.float32)}, "kp_detector": {}}
    p = CK.save_checkpoint(tmp_path / "x.pdparams", state)
    np.testing.assert_array_equal(CK.load_checkpoint(p)["generator"]["a"], state["generator"]["a"])
    assert [x.name for x in tmp_path.iterdir()] == ["x.pdparams"]
    import paddle  # the file is a normal Paddle checkpoint too

    assert paddle.load(str(p))["generator"]["a"].shape == [4]


def test_concurrent_download_waits_for_the_lock_and_uses_the_finished_file(cache, tmp_path):
    import threading
    import time

    from ppgan_fom.download import directory_lock

    cache.mkdir(parents=True)
    calls, results = [], []
    worker = threading.Thread(target=lambda: results.append(
        W.resolve_weights("vox-256", downloader=_fake_downloader(b"", calls))))
    with directory_lock(cache):  # "another process" is downloading into the cache
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive() and calls == []  # waiting, not downloading beside it
        (cache / "vox-cpk.pdparams").write_bytes(_ckpt(tmp_path))  # ... and it finished
    worker.join(10)
    assert results == [cache / "vox-cpk.pdparams"] and calls == []
