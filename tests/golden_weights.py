"""Rebuild the golden sets' random weights from their seeds, so the repository carries
only the part that is not random.

The mobile128 FOMM weights (7 MB) and the S3FD weights (90 MB) of ``../shared/golden``
are Paddle's default initialisation under a fixed seed, plus recorded adjustments
(biases, batch-norm statistics, rescaled heads). Paddle's CPU generator is
deterministic: creating the same layers in the same order after ``paddle.seed(seed)``
gives the same float32 numbers bit for bit (checked with paddlepaddle 3.3.1 against files
made with 2.6.2). ``tests/data/<set>/*_weights_recipe.json`` lists, in creation order,
each drawn tensor (name, shape, initializer, scale); ``*_weights_rest.npz`` holds every
other tensor exactly; ``sha256`` is the digest of the full state dict read from the
``../shared`` file (:func:`state_digest`), so a rebuild that differs by one bit fails
loudly (:func:`rebuild`).

``tests/data/make_golden_copies.py`` writes the recipe and the rest; the tests call
:func:`weights_file`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

#: set name -> (recipe json, rest npz), relative to tests/data
SETS = {
    "fom_mobile128": ("fom_mobile128/fom_mobile128_weights_recipe.json",
                      "fom_mobile128/fom_mobile128_weights_rest.npz"),
    "s3fd": ("s3fd/s3fd_weights_recipe.json", "s3fd/s3fd_weights_rest.npz"),
}


def flatten(state: Mapping) -> Dict[str, np.ndarray]:
    """``{'a': {'b': arr}}`` -> ``{'a/b': arr}`` (one level of nesting, as in FOMM
    checkpoints; flat state dicts are returned as they are)."""
    out: Dict[str, np.ndarray] = {}
    for key, value in state.items():
        if isinstance(value, Mapping):
            out.update({f"{key}/{k}": np.asarray(v) for k, v in value.items()})
        else:
            out[key] = np.asarray(value)
    return out


def nest(flat: Mapping[str, np.ndarray]) -> dict:
    """Inverse of :func:`flatten` for keys with one '/' (FOMM); flat keys stay flat."""
    out: dict = {}
    for key, value in flat.items():
        if "/" in key:
            part, name = key.split("/", 1)
            out.setdefault(part, {})[name] = value
        else:
            out[key] = value
    return out


def state_digest(state: Mapping) -> str:
    """sha256 over the names, dtypes, shapes and bytes of a state dict, in name order."""
    h = hashlib.sha256()
    for key, arr in sorted(flatten(state).items()):
        arr = np.ascontiguousarray(arr)
        h.update(f"{key}|{arr.dtype.str}|{arr.shape}\n".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def draw_step(step: dict) -> np.ndarray:
    """One draw of the recipe from Paddle's current generator state: a Conv2D weight
    (default init, or KaimingUniform as its weight_attr) or a ``create_parameter``
    default, scaled by ``step['scale']`` if given."""
    import paddle
    import paddle.nn as nn

    shape, init = step["shape"], step["init"]
    if init == "create_parameter":
        value = paddle.create_parameter(shape, "float32").numpy()
    else:
        cout, cin_per_group, kh, kw = shape
        groups = cout if cin_per_group == 1 and cout > 1 else 1  # depthwise
        attr = (paddle.ParamAttr(initializer=nn.initializer.KaimingUniform())
                if init == "kaiming_uniform" else None)
        value = nn.Conv2D(cin_per_group * groups, cout, (kh, kw), groups=groups,
                          weight_attr=attr).weight.numpy()
    if step.get("scale") is not None:
        value = value * np.float32(step["scale"])
    return value


def draw(steps: List[dict], seed: int) -> Dict[str, np.ndarray]:
    """Replay the recipe's draws on the CPU after ``paddle.seed(seed)``; returns the named
    tensors. Paddle's device and generator state are restored afterwards."""
    import paddle

    device = paddle.device.get_device()
    paddle.device.set_device("cpu")  # the CPU generator made the originals
    saved = paddle.get_rng_state()
    out: Dict[str, np.ndarray] = {}
    try:
        paddle.seed(seed)
        for step in steps:
            value = draw_step(step)
            if step.get("name"):
                out[step["name"]] = value
    finally:
        paddle.set_rng_state(saved)
        paddle.device.set_device(device)
    return out


def rebuild(name: str) -> dict:
    """The full state dict of golden set ``name`` (nested like the original file).

    Raises:
        AssertionError: the rebuilt state's digest is not the one recorded from the
            original file (a different Paddle random generator, or a changed recipe).
    """
    recipe_rel, rest_rel = SETS[name]
    recipe = json.loads((DATA / recipe_rel).read_text())
    flat = dict(draw(recipe["steps"], recipe["seed"]))
    with np.load(DATA / rest_rel) as rest:
        flat.update({k: rest[k] for k in rest.files})
    ordered = {k: flat[k] for k in recipe["order"]}  # the original file's key order
    state = nest(ordered)
    got = state_digest(state)
    assert got == recipe["sha256"], (
        f"{name}: rebuilt weights differ from {recipe['source']} (sha256 {got} != "
        f"{recipe['sha256']}): Paddle's random generator or the recipe changed")
    return state


_FILES: Dict[str, Path] = {}
_dir: Optional[Path] = None


def weights_file(name: str) -> Path:
    """A ``.pdparams`` with the golden set's weights, rebuilt once per test session."""
    global _dir
    if name not in _FILES:
        from ppgan_fom.checkpoint import save_checkpoint

        if _dir is None:
            _dir = Path(tempfile.mkdtemp(prefix="ppgan_fom_golden_weights-"))
        _FILES[name] = save_checkpoint(_dir / f"{name}_random.pdparams", rebuild(name))
    return _FILES[name]


def cleanup() -> None:
    """Remove the rebuilt files (the S3FD one is 90 MB); called when the session ends."""
    global _dir
    if _dir is not None:
        shutil.rmtree(_dir, ignore_errors=True)
        _dir = None
        _FILES.clear()
