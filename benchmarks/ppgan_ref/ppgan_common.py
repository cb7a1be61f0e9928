"""Helpers shared by runner.py and make_weights.py.

These scripts run inside the isolated ppgan venv created by setup_env.sh
(paddlepaddle 2.6.2 + ppgan 2.1.0), never in the project's own environment.
Nothing here imports paddle at module import time: thread settings must be
in the environment before paddle is loaded (see ``ensure_thread_env``).
"""
import copy
import json
import logging
import os
import sys

log = logging.getLogger("ppgan_ref")

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "ppgan-fom")
DEFAULT_SEED = 20240601
DEFAULT_WEIGHTS = os.path.join(DEFAULT_CACHE, "bench",
                               "vox256_random_seed%d.pdparams" % DEFAULT_SEED)

THREAD_VARS = ("FLAGS_paddle_num_threads", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_REEXEC_GUARD = "PPGAN_REF_REEXECED"


def _model_cfg(kp_be, kp_mf, kp_scale, g_be, g_mf, dm_be, dm_mf, dm_scale):
    """FirstOrderPredictor-style config dict ({'model': {...}})."""
    return {
        "model": {
            "common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
            "generator": {
                "kp_detector_cfg": {
                    "temperature": 0.1, "block_expansion": kp_be, "max_features": kp_mf,
                    "scale_factor": kp_scale, "num_blocks": 5,
                },
                "generator_cfg": {
                    "block_expansion": g_be, "max_features": g_mf, "num_down_blocks": 2,
                    "num_bottleneck_blocks": 6, "estimate_occlusion_map": True,
                    "dense_motion_params": {
                        "block_expansion": dm_be, "max_features": dm_mf, "num_blocks": 5,
                        "scale_factor": dm_scale,
                    },
                },
            },
        }
    }


# Presets (golden README section 3).  "vox-256" is the dict FirstOrderPredictor
# builds when config=None.
PRESETS = {
    "vox-256": (_model_cfg(32, 1024, 0.25, 64, 512, 64, 1024, 0.25), 256),
    "small64": (_model_cfg(8, 16, 0.5, 8, 16, 8, 16, 0.5), 64),
}
PRESET_ALIASES = {"vox256": "vox-256", "vox": "vox-256", "small-64": "small64"}


def load_config(name_or_path):
    """Return (config_dict, default_image_size_or_None, label).

    ``name_or_path`` is a preset name (vox-256, small64) or a YAML/JSON file
    holding a FirstOrderPredictor config ({'model': {'common_params': ...,
    'generator': {'kp_detector_cfg': ..., 'generator_cfg': ...}}}), e.g.
    PaddleGAN's configs/firstorder_vox_256.yaml.  Extra keys (``name``,
    training options) are ignored, as FirstOrderPredictor ignores them.
    """
    key = PRESET_ALIASES.get(name_or_path, name_or_path)
    if key in PRESETS:
        cfg, size = PRESETS[key]
        return copy.deepcopy(cfg), size, key
    if not os.path.isfile(name_or_path):
        raise SystemExit("unknown --config %r: not a preset (%s) and not a file"
                         % (name_or_path, ", ".join(sorted(PRESETS))))
    with open(name_or_path) as f:
        text = f.read()
    try:
        cfg = json.loads(text)
    except ValueError:
        import yaml
        cfg = yaml.safe_load(text)
    try:
        model = cfg["model"]
        model["common_params"]
        model["generator"]["kp_detector_cfg"]
        model["generator"]["generator_cfg"]
    except (KeyError, TypeError):
        raise SystemExit("config %s lacks model.common_params / model.generator."
                         "{kp_detector_cfg,generator_cfg}" % name_or_path)
    return cfg, None, os.path.basename(name_or_path)


def ensure_thread_env(threads):
    """Make sure the paddle/OpenMP/MKL thread variables equal ``threads``.

    They are read when paddle's shared libraries are loaded, so they must be
    in the process environment before ``import paddle``.  If any differs,
    set them and re-exec the same command line (once); a caller that already
    exports them (all three = threads) avoids the re-exec.
    """
    want = str(int(threads))
    if all(os.environ.get(v) == want for v in THREAD_VARS):
        return
    if os.environ.get(_REEXEC_GUARD) == "1":
        raise SystemExit("thread environment still wrong after re-exec: %s"
                         % {v: os.environ.get(v) for v in THREAD_VARS})
    if "paddle" in sys.modules:
        log.warning("paddle already imported; re-exec to apply threads=%s", want)
    for v in THREAD_VARS:
        os.environ[v] = want
    os.environ[_REEXEC_GUARD] = "1"
    log.info("re-exec with %s", " ".join("%s=%s" % (v, want) for v in THREAD_VARS))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable] + sys.argv)


def import_ppgan():
    """Import paddle + the fluid stand-in + the ppgan FOMM modules.

    Returns a dict with the modules / callables the scripts need.
    """
    import zlib  # noqa: F401  -- must come before paddle (golden README 9.3)
    import paddle

    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import fluid_shim
    fluid_shim.install()

    import ppgan
    from ppgan.models.generators.occlusion_aware import OcclusionAwareGenerator
    from ppgan.modules.keypoint_detector import KPDetector
    from ppgan.utils.animate import normalize_kp

    paddle.set_device("cpu")
    return {
        "paddle": paddle,
        "ppgan": ppgan,
        "OcclusionAwareGenerator": OcclusionAwareGenerator,
        "KPDetector": KPDetector,
        "normalize_kp": normalize_kp,
    }


def build_models(mods, cfg):
    """Build (generator, kp_detector) exactly as FirstOrderPredictor.load_checkpoints."""
    model = cfg["model"]
    generator = mods["OcclusionAwareGenerator"](
        **model["generator"]["generator_cfg"], **model["common_params"], inference=True)
    kp_detector = mods["KPDetector"](
        **model["generator"]["kp_detector_cfg"], **model["common_params"])
    return generator, kp_detector


def load_weights(mods, generator, kp_detector, path, strict=True):
    """paddle.load + set_state_dict (as FirstOrderPredictor), then eval().

    Unlike ppgan (which only warns), a missing / unexpected key or a shape
    mismatch raises when ``strict``.
    """
    paddle = mods["paddle"]
    ckpt = paddle.load(path)
    problems = []
    for part, layer in (("generator", generator), ("kp_detector", kp_detector)):
        if part not in ckpt:
            problems.append("checkpoint has no %r entry" % part)
            continue
        have = ckpt[part]
        want = layer.state_dict()
        missing = sorted(set(want) - set(have))
        unexpected = sorted(set(have) - set(want))
        shapes = [k for k in want if k in have
                  and list(have[k].shape) != list(want[k].shape)]
        if missing:
            problems.append("%s: %d missing keys, e.g. %s" % (part, len(missing), missing[:3]))
        if unexpected:
            problems.append("%s: %d unexpected keys, e.g. %s"
                            % (part, len(unexpected), unexpected[:3]))
        if shapes:
            problems.append("%s: shape mismatch for %s" % (part, shapes[:3]))
    if problems:
        msg = "weights %s do not match the model: %s" % (path, "; ".join(problems))
        if strict:
            raise SystemExit(msg)
        log.warning(msg)
    generator.set_state_dict(ckpt["generator"])
    kp_detector.set_state_dict(ckpt["kp_detector"])
    generator.eval()
    kp_detector.eval()
    return ckpt


def setup_logging(verbose=False):
    """stderr logging on the 'ppgan_ref' logger only (paddle/ppgan reconfigure the root logger)."""
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("[ppgan_ref %(asctime)s] %(message)s", "%H:%M:%S"))
        log.addHandler(h)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
