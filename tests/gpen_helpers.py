"""GPEN test data: param lists, the golden-vector weight recipe, small configs.

The recipe (from ../shared/golden/gpen/README.md, re-implemented here): the i-th entry
(0-based, comment lines skipped) of a param list with shape S gets
``RandomState(seed + i).standard_normal(S) * scale + offset`` as float32, with scale and
offset chosen by the first matching rule of :func:`_scale_offset`; blur-kernel buffers
(``upsample.kernel``) are not drawn (the layer's own value is kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

GPEN_DATA = Path(__file__).resolve().parent / "data" / "gpen"
SMALL_GOLDEN = GPEN_DATA / "gpen_small64_golden.npz"
SMALL_LIST = GPEN_DATA / "gpen_small64_param_list.txt"
LIST_512 = GPEN_DATA / "gpen_512_param_list.txt"
GOLDEN_SEED = 20261129


def read_param_list(path: Path) -> List[Tuple[str, Tuple[int, ...]]]:
    """[(name, shape)] in file order from lines ``name [d0, d1, ...]`` ('#' lines skipped)."""
    entries = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, dims = line.split(maxsplit=1)
        dims = dims.strip().strip("[]").split(",")
        entries.append((name, tuple(int(d) for d in dims if d.strip())))
    return entries


def _scale_offset(name: str) -> Optional[Tuple[float, float]]:
    if "upsample.kernel" in name:
        return None
    if "modulation.bias" in name:
        return 0.1, 1.0
    if "noise.weight" in name:
        return 0.1, 0.0
    if name.startswith("generator.style."):
        return (0.1, 0.0) if name.endswith("bias") else (100.0, 0.0)
    if "bias" in name:
        return 0.1, 0.0
    return 1.0, 0.0


def recipe_weights(param_list: Path, seed: int = GOLDEN_SEED) -> Dict[str, np.ndarray]:
    """name -> float32 array for every recipe-drawn entry of ``param_list``."""
    out = {}
    for i, (name, shape) in enumerate(read_param_list(param_list)):
        rule = _scale_offset(name)
        if rule is None:
            continue
        draw = np.random.RandomState(seed + i).standard_normal(shape)
        out[name] = (draw * rule[0] + rule[1]).astype(np.float32)
    return out


def small_config():
    """The golden set's GPEN config (size 64, style_dim 64, n_mlp 2, channel multiplier 1)."""
    import json

    from ppgan_fom.enhance.enhancer import GPENConfig

    meta = json.loads(str(np.load(SMALL_GOLDEN)["meta/config_json"]))
    return GPENConfig(size=meta["size"], style_dim=meta["style_dim"], n_mlp=meta["n_mlp"],
                      channel_multiplier=meta["channel_multiplier"],
                      blur_kernel=tuple(meta["blur_kernel"]), lr_mlp=meta["lr_mlp"],
                      is_concat=meta["is_concat"])
