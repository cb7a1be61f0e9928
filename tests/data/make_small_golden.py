"""Rebuild tests/data/fom_small64/ from ../shared/golden/fom_small64/ (run from the repo root).

The trimmed file keeps the inputs, the keypoints and the relative/absolute predictions
of PaddleGAN's golden run, so a clone without ../shared can still run a parity test.
"""

import shutil
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "fom_small64"
DST = Path(__file__).resolve().parent / "fom_small64"
KEEP = ["source", "driving", "kp_source/value", "kp_source/jacobian", "kp_driving/value",
        "kp_driving/jacobian", "kp_norm/value", "kp_norm/jacobian", "adapt_movement_scale",
        "relative/predictor/prediction", "relative/original/prediction",
        "absolute/predictor/prediction", "meta/config_json"]

if __name__ == "__main__":
    DST.mkdir(exist_ok=True)
    shutil.copyfile(SRC / "fom_small64_random.pdparams", DST / "fom_small64_random.pdparams")
    g = np.load(SRC / "fom_small64_golden.npz")
    np.savez_compressed(DST / "fom_small64_golden_trimmed.npz", **{k: g[k] for k in KEEP})
