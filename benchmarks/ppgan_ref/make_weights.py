"""Make full-size random (but non-degenerate) FOMM weights with ppgan 2.1.0.

Run inside the venv made by setup_env.sh::

    $VENV/bin/python benchmarks/ppgan_ref/make_weights.py [--out PATH] [--seed 20240601]

The file is written in FirstOrderPredictor's checkpoint format,
``paddle.save({'generator': gen.state_dict(), 'kp_detector': kp.state_dict()})``,
so both ppgan (runner.py) and the project's own implementation load the very
same weights.  If ``--out`` already exists nothing is done (``--force`` to
rebuild).  A ``<out>.json`` sidecar records the seed, the config and a few
statistics of the resulting network.

Recipe (everything is drawn from ``np.random.RandomState(seed)`` in the order
listed, calibration images from ``RandomState(seed + 1)``):

1. ``paddle.seed(seed)``; build ``OcclusionAwareGenerator(**generator_cfg,
   **common_params, inference=True)`` then ``KPDetector(...)`` with ppgan's
   own initialisation; both in eval mode.
2. Add N(0, 0.02) to every conv bias (generator sub-layers first, then the KP
   detector, each in ``named_sublayers`` order), except the KP ``jacobian``
   conv whose bias stays ppgan's [1, 0, 0, 1] per keypoint.
3. Calibration images: 5 smooth synthetic RGB images in [0, 1] (a random
   low-frequency colour field plus weaker mid-frequency detail, size S+32);
   image 0 is the centre SxS crop (the "source"), images 1-4 are crops shifted
   by up to +-12 px (the "driving" frames).
4. KP detector BatchNorms, calibrated in execution order during one forward
   pass over the 5 images (a forward-pre-hook sees each BN's real input):
   with per-channel input mean mu and variance var (+1e-4),
   ``_mean = mu + 0.2*sqrt(var)*N(0,1)``, ``_variance = var*exp(0.3*N(0,1))``,
   ``weight ~ U(0.75, 1.25)``, ``bias ~ N(0, 0.1)``.
5. Rescale the KP ``kp`` conv (weight and bias) so that the spatial std of its
   logits, averaged over images and keypoints, is 0.35 (0.35/temperature 0.1
   = 3.5: the heatmap softmax is neither argmax-like nor flat).
6. KP ``jacobian`` conv weight ~ N(0, 1), rescaled so that the std of the
   jacobian map minus its bias is 0.15 (ppgan initialises it to zero, which
   would make every jacobian the identity).
7. Generator BatchNorms, calibrated like step 4 during one relative-mode
   forward pass (what runner.py times): source tiled 4x, kp_source tiled,
   ``normalize_kp(relative, adapt_scale)`` of the 4 driving images.
8. ``paddle.save`` to ``<out>.tmp``, reload, check (state-dict keys and shapes,
   and, for vox-256, the golden parameter list if present), rename to ``<out>``.

Only the non-mobile architecture is supported.
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ppgan_common as pc  # noqa: E402

log = pc.log

GOLDEN_PARAM_LIST = "/work/shared/golden/fom_vox256_param_list.txt"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None,
                   help="output .pdparams (default for vox-256: %s)" % pc.DEFAULT_WEIGHTS)
    p.add_argument("--seed", type=int, default=pc.DEFAULT_SEED)
    p.add_argument("--config", default="vox-256", help="vox-256 | small64 | <yaml/json>")
    p.add_argument("--size", type=int, default=None, help="calibration image size (default: preset's)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true", help="rebuild even if --out exists")
    p.add_argument("--param-list", default=None,
                   help="golden '<part>/<name>\\t[shape]\\tdtype' list to check against "
                        "(default for vox-256: %s if present)" % GOLDEN_PARAM_LIST)
    return p.parse_args(argv)


def calibration_images(seed, size, np, cv2):
    """5 float32 images (5,3,S,S) in [0,1]; see the module docstring, step 3."""
    rng = np.random.RandomState(seed + 1)
    big = size + 32
    coarse = cv2.resize(rng.uniform(0.1, 0.9, (6, 6, 3)).astype(np.float32), (big, big),
                        interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.uniform(-1, 1, (big // 8, big // 8, 3)).astype(np.float32),
                      (big, big), interpolation=cv2.INTER_CUBIC)
    base = np.clip(coarse + 0.15 * fine, 0.0, 1.0)
    offsets = [(0, 0)] + [tuple(rng.randint(-12, 13, size=2)) for _ in range(4)]
    imgs = []
    for dy, dx in offsets:
        y0, x0 = 16 + dy, 16 + dx
        imgs.append(base[y0:y0 + size, x0:x0 + size].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(imgs), dtype=np.float32), offsets


def is_bn(layer, nn):
    return isinstance(layer, (nn.BatchNorm, nn.layer.norm._BatchNormBase)) \
        and hasattr(layer, "_mean") and hasattr(layer, "_variance")


def calibrate_bns(paddle, nn, np, root, rng, run_forward):
    """Set every BN of ``root`` from the statistics of its real input (step 4/7)."""
    handles, count = [], [0]

    def hook(layer, inputs):
        x = inputs[0].numpy().astype(np.float64)
        mu = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3)) + 1e-4
        c = mu.shape[0]
        layer._mean.set_value((mu + 0.2 * np.sqrt(var) * rng.randn(c)).astype(np.float32))
        layer._variance.set_value((var * np.exp(0.3 * rng.randn(c))).astype(np.float32))
        layer.weight.set_value(rng.uniform(0.75, 1.25, c).astype(np.float32))
        layer.bias.set_value((0.1 * rng.randn(c)).astype(np.float32))
        count[0] += 1
        return None

    for _, layer in root.named_sublayers():
        if is_bn(layer, nn):
            handles.append(layer.register_forward_pre_hook(hook))
    try:
        with paddle.no_grad():
            run_forward()
    finally:
        for h in handles:
            h.remove()
    n_bn = len(handles)
    if count[0] != n_bn:
        raise RuntimeError("calibrated %d of %d BatchNorms (a BN ran twice or never)"
                           % (count[0], n_bn))
    return n_bn


def capture_output(paddle, layer, run_forward):
    box = {}

    def hook(lyr, inputs, output):
        box["out"] = output.numpy()

    h = layer.register_forward_post_hook(hook)
    try:
        with paddle.no_grad():
            run_forward()
    finally:
        h.remove()
    return box["out"]


def check_param_list(state, path):
    """Compare {'generator': sd, 'kp_detector': sd} with a golden param list file."""
    want = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, shape = line.split("\t")[:2]
            want[key] = json.loads(shape)
    have = {"%s/%s" % (part, k): list(v.shape) for part, sd in state.items() for k, v in sd.items()}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    bad = sorted(k for k in want if k in have and have[k] != want[k])
    if missing or extra or bad:
        raise SystemExit("param list mismatch vs %s: missing %s extra %s shape %s"
                         % (path, missing[:5], extra[:5], bad[:5]))
    return len(want)


def main(argv=None):
    pc.setup_logging()
    args = parse_args(argv)
    cfg, preset_size, label = pc.load_config(args.config)
    size = args.size or preset_size or 256
    out = args.out
    if out is None:
        if label != "vox-256" or args.seed != pc.DEFAULT_SEED:
            out = os.path.join(pc.DEFAULT_CACHE, "bench",
                               "%s_random_seed%d.pdparams" % (label.replace("-", ""), args.seed))
        else:
            out = pc.DEFAULT_WEIGHTS
    out = os.path.abspath(os.path.expanduser(out))
    if os.path.exists(out) and not args.force:
        log.info("exists, nothing to do: %s", out)
        print(out)
        return 0

    pc.ensure_thread_env(args.threads)
    t_start = time.perf_counter()
    mods = pc.import_ppgan()
    paddle = mods["paddle"]
    nn = paddle.nn
    import numpy as np
    import cv2

    if cfg["model"]["generator"]["generator_cfg"].get("mobile_net") or \
            cfg["model"]["generator"]["kp_detector_cfg"].get("mobile_net"):
        raise SystemExit("make_weights.py supports only the non-mobile architecture")

    # 1. build with ppgan's init
    paddle.seed(args.seed)
    rng = np.random.RandomState(args.seed)
    gen, kp = pc.build_models(mods, cfg)
    gen.eval()
    kp.eval()
    if not isinstance(kp.kp, nn.Conv2D) or not isinstance(getattr(kp, "jacobian", None), nn.Conv2D):
        raise SystemExit("expected KPDetector.kp and .jacobian to be single Conv2D layers")

    # 2. conv biases
    n_bias = 0
    for root in (gen, kp):
        for name, layer in root.named_sublayers():
            if isinstance(layer, nn.Conv2D) and layer.bias is not None and layer is not kp.jacobian:
                b = layer.bias.numpy()
                layer.bias.set_value((b + 0.02 * rng.randn(*b.shape)).astype(np.float32))
                n_bias += 1
    log.info("perturbed %d conv biases", n_bias)

    # 3. calibration images
    imgs_np, offsets = calibration_images(args.seed, size, np, cv2)
    imgs = paddle.to_tensor(imgs_np)
    log.info("calibration images %s, driving offsets %s", imgs_np.shape, offsets[1:])

    # 4. KP detector BNs
    n = calibrate_bns(paddle, nn, np, kp, rng, lambda: kp(imgs))
    log.info("calibrated %d KP-detector BatchNorms", n)

    # 5. kp logits scale
    logits = capture_output(paddle, kp.kp, lambda: kp(imgs))
    k = logits.reshape(logits.shape[0], logits.shape[1], -1).std(axis=2).mean()
    kscale = 0.35 / float(k)
    kp.kp.weight.set_value((kp.kp.weight.numpy() * kscale).astype(np.float32))
    kp.kp.bias.set_value((kp.kp.bias.numpy() * kscale).astype(np.float32))
    log.info("kp conv rescaled by %.4f (logit spatial std %.4f -> 0.35)", kscale, k)

    # 6. jacobian conv
    jw_shape = kp.jacobian.weight.shape
    kp.jacobian.weight.set_value(rng.randn(*jw_shape).astype(np.float32))
    jmap = capture_output(paddle, kp.jacobian, lambda: kp(imgs))
    jbias = kp.jacobian.bias.numpy().reshape(1, -1, 1, 1)
    jstd = float((jmap - jbias).std())
    kp.jacobian.weight.set_value((kp.jacobian.weight.numpy() * (0.15 / jstd)).astype(np.float32))
    log.info("jacobian conv weight ~N(0,1) rescaled by %.4g (map std %.4g -> 0.15)", 0.15 / jstd, jstd)

    # 7. generator BNs on a relative-mode pass
    normalize_kp = mods["normalize_kp"]
    with paddle.no_grad():
        kp_all = kp(imgs)
    kp_source = {k_: v[0:1] for k_, v in kp_all.items()}
    kp_driving = {k_: v[1:] for k_, v in kp_all.items()}
    kp_init = {k_: v[1:2] for k_, v in kp_all.items()}
    nd = imgs_np.shape[0] - 1
    kp_norm = normalize_kp(kp_source=kp_source, kp_driving=kp_driving, kp_driving_initial=kp_init,
                           use_relative_movement=True, use_relative_jacobian=True,
                           adapt_movement_scale=True)
    kp_src_t = {"value": paddle.tile(kp_source["value"], [nd, 1, 1]),
                "jacobian": paddle.tile(kp_source["jacobian"], [nd, 1, 1, 1])}
    src_t = paddle.tile(imgs[0:1], [nd, 1, 1, 1])

    def gen_forward():
        return gen(src_t, kp_source=kp_src_t, kp_driving=kp_norm)

    n = calibrate_bns(paddle, nn, np, gen, rng, gen_forward)
    log.info("calibrated %d generator BatchNorms", n)

    with paddle.no_grad():
        outd = gen_forward()
    pred = outd["prediction"].numpy()
    kv = kp_all["value"].numpy()
    jac = kp_all["jacobian"].numpy()
    src_kv = kv[0]
    dists = np.sqrt(((src_kv[:, None] - src_kv[None]) ** 2).sum(-1))[np.triu_indices(len(src_kv), 1)]
    stats = {
        "kp_value_std": float(kv.std()),
        "kp_min_pairwise_dist_source": float(dists.min()),
        "jacobian_max_abs_minus_identity": float(np.abs(jac - np.eye(2)).max()),
        "jacobian_det_range": [float(np.linalg.det(jac).min()), float(np.linalg.det(jac).max())],
        "driving_kp_max_move": float(np.abs(kv[2:] - kv[1:2]).max()),
        "prediction_range": [float(pred.min()), float(pred.max())],
        "prediction_std": float(pred.std()),
        "prediction_mean_frame_to_frame_abs_diff": float(np.abs(np.diff(pred, axis=0)).mean()),
        "occlusion_range": [float(outd["occlusion_map"].numpy().min()),
                            float(outd["occlusion_map"].numpy().max())],
        "kp_logit_scale": kscale,
    }
    log.info("stats: %s", json.dumps(stats))
    if stats["prediction_std"] < 0.02 or stats["kp_min_pairwise_dist_source"] < 1e-3:
        log.warning("weights look degenerate: %s", stats)

    # 8. save, reload, check, rename
    state = {"generator": gen.state_dict(), "kp_detector": kp.state_dict()}
    n_keys = sum(len(v) for v in state.values())
    n_elem = int(sum(int(np.prod(t.shape)) for sd in state.values() for t in sd.values()))
    param_list = args.param_list
    if param_list is None and label == "vox-256" and os.path.isfile(GOLDEN_PARAM_LIST):
        param_list = GOLDEN_PARAM_LIST
    if param_list:
        log.info("checked %d keys against %s", check_param_list(state, param_list), param_list)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    paddle.save(state, tmp)
    back = paddle.load(tmp)
    for part, sd in state.items():
        for k_, v in sd.items():
            if not np.array_equal(back[part][k_].numpy(), v.numpy()):
                raise SystemExit("reload mismatch at %s/%s" % (part, k_))
    os.replace(tmp, out)
    meta = {
        "file": out, "seed": args.seed, "config_label": label, "config": cfg,
        "calibration_size": size, "keys": n_keys, "elements": n_elem,
        "paddle_version": paddle.__version__, "ppgan_version": mods["ppgan"].__version__,
        "stats": stats, "seconds": round(time.perf_counter() - t_start, 1),
    }
    with open(out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    log.info("saved %s (%d keys, %d elements) in %.1fs", out, n_keys, n_elem, meta["seconds"])
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
