"""Rebuild the small copies in tests/data/ from ../shared (run from the repo root).

    python tests/data/make_golden_copies.py

What it writes, and why each piece is small, is in tests/data/README.md. In short:

* FOMM golden outputs: only the keys the parity tests read; mobile128 keeps driving
  frames 0 and 3 (frame 0 is the relative-motion reference; every frame is an
  independent batch element, so a subset checks the same thing);
* FOMM mobile128 and S3FD weights: a recipe that rebuilds the random part from the seed
  (tests/golden_weights.py) plus every tensor that is not a plain draw, and the sha256 of
  the original state dict, so the rebuild is checked bit for bit;
* S3FD raw maps and post-processing goldens, parameter lists, border-blend masks,
  PaddleGAN's make_animation output and the PyTorch outputs: copied (the last trimmed
  to the keys the tests read);
* three photos of ../shared/media that docs/samples does not hold: copied byte for byte.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
SHARED = TESTS.parent.parent / "shared"
GOLDEN = SHARED / "golden"
sys.path.insert(0, str(TESTS))

import golden_weights as gw  # noqa: E402  (tests/ on the path first)

#: keys of a FOMM golden set the parity tests read
FOMM_KEYS = ["source", "driving", "adapt_movement_scale", "meta/config_json", "meta/seed"]
FOMM_KEYS += [f"{kp}/{part}" for kp in ("kp_source", "kp_driving", "kp_norm", "kp_norm_noadapt")
              for part in ("value", "jacobian")]
FOMM_KEYS += [f"{mode}/{variant}/{k}" for mode in ("relative", "absolute")
              for variant in ("predictor", "original")
              for k in ("prediction", "deformed", "occlusion_map")]
FOMM_KEYS += [f"{mode}/dense/{k}" for mode in ("relative", "absolute")
              for k in ("mask", "deformation", "sparse_deformed")]
#: keys with one entry per driving frame (first axis)
PER_FRAME = ("driving", "kp_driving/", "kp_norm", "relative/", "absolute/")
#: keys of the PyTorch outputs the parity test reads
TORCH_KEYS = [f"{kp}/{part}" for kp in ("kp_source", "kp_driving")
              for part in ("value", "jacobian")]
TORCH_KEYS += ["kp_norm/value"]
TORCH_KEYS += [f"{mode}/{k}" for mode in ("relative", "absolute")
               for k in ("original/prediction", "dense/mask", "dense/deformation",
                         "dense/occlusion_map")]
MEDIA = ["multi_face_two_people_1126x661.jpg", "single_face_astronaut_512x512.png",
         "no_face_grass_780x519.jpg"]


def trim_fomm(src: Path, dst: Path, frames) -> None:
    with np.load(src) as g:
        out = {}
        for k in FOMM_KEYS:
            a = g[k]
            out[k] = a[list(frames)] if k.startswith(PER_FRAME) else a
    np.savez_compressed(dst, frames=np.asarray(frames), **out)


def save_recipe(name: str, seed: int, steps, original: Path, state: dict) -> None:
    """Write the recipe and the rest, then check that they rebuild ``state`` exactly."""
    recipe_rel, rest_rel = gw.SETS[name]
    flat = gw.flatten(state)
    drawn = {s["name"] for s in steps if s.get("name")}
    np.savez_compressed(HERE / rest_rel, **{k: v for k, v in flat.items() if k not in drawn})
    (HERE / recipe_rel).write_text(json.dumps({
        "source": f"../shared/golden/{original.relative_to(GOLDEN)}",
        "seed": seed, "sha256": gw.state_digest(state), "order": list(flat),
        "steps": steps}, indent=1) + "\n")
    rebuilt = gw.rebuild(name)  # asserts the digest
    print(f"{name}: {len(drawn)} tensors drawn from seed {seed}, "
          f"{len(flat) - len(drawn)} stored; rebuild ok ({len(gw.flatten(rebuilt))} tensors)")


def mobile128_steps(flat: dict, seed: int):
    """Find the creation order of the mobile128 conv weights: after ``paddle.seed``, at
    each step, the next draw equals exactly one stored weight (Conv2D default init or
    KaimingUniform). Weights never matched (rescaled or re-randomised heads) are stored."""
    import paddle

    todo = {k: v for k, v in flat.items() if v.ndim == 4 and not k.endswith("down.weight")}
    steps = []
    paddle.seed(seed)
    while todo:
        state = paddle.get_rng_state()
        hit = None
        for key, ref in todo.items():
            for init in ("conv_default", "kaiming_uniform"):
                paddle.set_rng_state(state)
                step = {"name": key, "shape": list(ref.shape), "init": init}
                if np.array_equal(gw.draw_step(step), ref):
                    hit = step
                    break
            if hit:
                break
        if not hit:
            break
        steps.append(hit)
        del todo[hit["name"]]
    print(f"fom_mobile128: not drawn (stored): {sorted(todo)}")
    return steps


def s3fd_steps():
    """The S3FD recipe of ../shared/golden/s3fd/README.md: PaddleGAN's ``s3fd()`` built
    after ``paddle.seed(42)`` (VGG trunk and extra layers, then three L2Norm parameters
    drawn by ``create_parameter`` and overwritten, then the heads), conv1_1 x 0.01 and
    every confidence head x 5; biases and L2Norm scales are stored."""
    from faceutils.s3fd_net import param_shapes

    shapes = param_shapes()
    convs = [k[:-len(".weight")] for k in shapes if k.endswith(".weight")
             and len(shapes[k]) == 4 and "mbox" not in k]
    heads = [k[:-len(".weight")] for k in shapes if "mbox" in k and k.endswith(".weight")]
    steps = [{"name": f"{c}.weight", "shape": list(shapes[f"{c}.weight"]), "init": "conv_default",
              "scale": 0.01 if c == "conv1_1" else None} for c in convs]
    steps += [{"name": None, "shape": [n], "init": "create_parameter"} for n in (256, 512, 512)]
    steps += [{"name": f"{h}.weight", "shape": list(shapes[f"{h}.weight"]), "init": "conv_default",
               "scale": 5.0 if h.endswith("mbox_conf") else None} for h in heads]
    return steps


def main() -> None:
    from ppgan_fom.checkpoint import load_checkpoint

    # FOMM small64: weights as they are (0.7 MB), outputs trimmed to the tested keys
    small = HERE / "fom_small64"
    shutil.copyfile(GOLDEN / "fom_small64" / "fom_small64_random.pdparams",
                    small / "fom_small64_random.pdparams")
    trim_fomm(GOLDEN / "fom_small64" / "fom_small64_golden.npz",
              small / "fom_small64_golden_trimmed.npz", range(4))
    with np.load(GOLDEN / "fom_small64" / "fom_small64_torch_outputs.npz") as t:
        np.savez_compressed(small / "fom_small64_torch_outputs_trimmed.npz",
                            **{k: t[k] for k in TORCH_KEYS})
    shutil.copyfile(GOLDEN / "fom_small64" / "fom_small64_make_animation.npz",
                    small / "fom_small64_make_animation.npz")

    # FOMM mobile128: outputs of frames 0 and 3; weights rebuilt from the seed
    mob = HERE / "fom_mobile128"
    mob.mkdir(exist_ok=True)
    src = GOLDEN / "fom_mobile128" / "fom_mobile128_golden.npz"
    trim_fomm(src, mob / "fom_mobile128_golden_trimmed.npz", (0, 3))
    with np.load(src) as g:
        seed = int(g["meta/seed"])
    original = GOLDEN / "fom_mobile128" / "fom_mobile128_random.pdparams"
    state = load_checkpoint(original)
    save_recipe("fom_mobile128", seed, mobile128_steps(gw.flatten(state), seed), original, state)

    # S3FD: raw maps and post-processing copied; weights rebuilt from the seed
    s3 = HERE / "s3fd"
    s3.mkdir(exist_ok=True)
    for name in ("s3fd_raw_outputs.npz", "s3fd_odd_301x227.npz", "s3fd_postprocess_golden.npz"):
        shutil.copyfile(GOLDEN / "s3fd" / name, s3 / name)
    original = GOLDEN / "s3fd" / "s3fd_random_seed42.pdparams"
    save_recipe("s3fd", 42, s3fd_steps(), original, load_checkpoint(original))

    # small reference files, as they are
    fom = HERE / "fom"
    fom.mkdir(exist_ok=True)
    for name in ("fom_vox256_param_list.txt", "fom_vox_mobile_param_list.txt",
                 "fom_predictor_border_blend.npz"):
        shutil.copyfile(GOLDEN / name, fom / name)

    media = HERE / "media"
    media.mkdir(exist_ok=True)
    for name in MEDIA:
        shutil.copyfile(SHARED / "media" / name, media / name)


if __name__ == "__main__":
    main()
