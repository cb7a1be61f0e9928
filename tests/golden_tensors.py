"""Golden-file arrays as Paddle tensors, shared by the parity tests of both engines."""

from __future__ import annotations

import numpy as np
import paddle


def as_tensor(a) -> paddle.Tensor:
    """A float32 Paddle tensor of ``a``."""
    return paddle.to_tensor(np.asarray(a, np.float32))


def golden_kp(g, prefix: str) -> dict:
    """The keypoints ``{value, jacobian}`` stored under ``prefix`` in a golden npz."""
    return {"value": as_tensor(g[f"{prefix}/value"]),
            "jacobian": as_tensor(g[f"{prefix}/jacobian"])}


def tile_kp(kp: dict, n: int) -> dict:
    """Each keypoint tensor repeated ``n`` times along the batch axis."""
    return {k: paddle.tile(v, [n] + [1] * (v.ndim - 1)) for k, v in kp.items()}
