"""Execution engines for FOMM inference.

* :class:`EagerEngine` runs the Paddle layers directly (dynamic graph, float32). It is the
  reference the fast path is checked against.
* :class:`StaticEngine` exports the keypoint detector and the generator (the part that
  runs per driving frame, taking the cached source features) to static graphs once and
  runs them with Paddle Inference: oneDNN kernels on the CPU, measured ~3-4x faster than
  eager convolutions on 2 cores; on a GPU the same graphs run with CUDA, optionally in
  float16 (``PPGAN_FOM_FP16=1``, off by default). For the CPU the graphs are exported with
  exact faster layers (:mod:`.modules.inference_layers`: Winograd bottleneck convolutions,
  BatchNorm folding, one transposed convolution per up-sampling block);
  ``PPGAN_FOM_FAST_LAYERS=0`` exports the layers as they are.

Exports are cached under ``$PPGAN_FOM_HOME/../engines`` (default
``~/.cache/ppgan_fom/engines``), keyed by the weights file, config, input size and
Paddle version, and written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from .errors import RuntimeFailure
from .modules import KPDetector, OcclusionAwareGenerator
from .modules.inference_layers import fast_inference_layers

logger = logging.getLogger(__name__)

KP = Dict[str, paddle.Tensor]

__all__ = ["EagerEngine", "StaticEngine", "make_engine", "engine_cache_dir"]


class EagerEngine:
    """Dynamic-graph execution (the float32 reference)."""

    name = "eager"

    def __init__(self, generator: OcclusionAwareGenerator, kp_detector: KPDetector):
        self.generator = generator
        self.kp_detector = kp_detector

    @paddle.no_grad()
    def keypoints(self, images: paddle.Tensor) -> KP:
        """(B, 3, S, S) in [0, 1] -> value (B, K, 2), jacobian (B, K, 2, 2)."""
        return self.kp_detector(images)

    @paddle.no_grad()
    def encode(self, images: paddle.Tensor) -> paddle.Tensor:
        """(B, 3, S, S) -> source features (B, C, S/4, S/4)."""
        return self.generator.encode(images)

    @paddle.no_grad()
    def generate(self, source: paddle.Tensor, features: paddle.Tensor, kp_driving: KP,
                 kp_source: KP) -> paddle.Tensor:
        """Prediction (B, 3, S, S) in (0, 1) for B (source, driving keypoints) pairs."""
        return self.generator(source, kp_driving=kp_driving, kp_source=kp_source,
                              source_features=features)["prediction"]


class _KPGraph(nn.Layer):
    def __init__(self, kp: KPDetector):
        super().__init__()
        self.kp = kp

    def forward(self, x):
        out = self.kp(x)
        return out["value"], out["jacobian"]


class _GenGraph(nn.Layer):
    def __init__(self, gen: OcclusionAwareGenerator):
        super().__init__()
        self.gen = gen

    def forward(self, source, features, kd_value, kd_jacobian, ks_value, ks_jacobian):
        out = self.gen(source, kp_driving={"value": kd_value, "jacobian": kd_jacobian},
                       kp_source={"value": ks_value, "jacobian": ks_jacobian},
                       source_features=features)
        return out["prediction"]


def engine_cache_dir() -> Path:
    env = os.environ.get("PPGAN_FOM_ENGINE_CACHE")
    if env:
        return Path(env).expanduser()
    from .weights import cache_dir

    return cache_dir().parent / "engines"


def _export(layer: nn.Layer, specs, prefix: Path) -> None:
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    paddle.jit.save(static, str(prefix))


def export_graphs(root: Path, graphs: Dict[str, Tuple[nn.Layer, Sequence]], what: str) -> None:
    """Export each ``name -> (layer, input specs)`` to ``root/name`` for Paddle Inference.

    Written into a temporary directory renamed to ``root`` when complete (with a
    ``done`` marker), so a concurrent or interrupted export never leaves a partial one.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        logger.info("exporting %s graphs for Paddle Inference (once per model) ...", what)
        for name, (layer, specs) in graphs.items():
            _export(layer, specs, tmp / name)
        (tmp / "done").write_text("ok\n")
        try:
            os.replace(tmp, root)
        except OSError:  # another process won the race: use its export
            if not (root / "done").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _model_file(prefix: Path) -> Path:
    for suffix in (".json", ".pdmodel"):
        if prefix.with_suffix(suffix).exists():
            return prefix.with_suffix(suffix)
    raise FileNotFoundError(f"no exported model for {prefix}")


ONEDNN_OPS = {"conv2d", "depthwise_conv2d", "fused_conv2d", "pool2d", "relu",
              "batch_norm", "batch_norm_", "elementwise_add", "add", "concat", "sigmoid",
              "softmax"}


class _Predictor:
    """One Paddle Inference predictor with numpy in/out."""

    def __init__(self, prefix: Path, threads: int, gpu: bool, fp16: bool,
                 onednn_ops: Optional[Iterable[str]] = ONEDNN_OPS,
                 delete_passes: Sequence[str] = ()):
        """``onednn_ops``: the ops given oneDNN kernels on the CPU (None: all that have
        one); ``delete_passes``: graph optimisation passes to skip."""
        from paddle import inference

        cfg = inference.Config(str(_model_file(prefix)), str(prefix.with_suffix(".pdiparams")))
        if gpu:
            precision = inference.PrecisionType.Half if fp16 else inference.PrecisionType.Float32
            cfg.enable_use_gpu(256, 0, precision)
        else:
            cfg.disable_gpu()
            cfg.set_cpu_math_library_num_threads(threads)
            (cfg.enable_onednn if hasattr(cfg, "enable_onednn") else cfg.enable_mkldnn)()
            # oneDNN only where it pays (and is supported: its interpolation kernels
            # cannot take the exported 'scale' attribute); the rest runs on CPU kernels.
            if onednn_ops is not None:
                (cfg.set_onednn_op if hasattr(cfg, "set_onednn_op") else cfg.set_mkldnn_op)(
                    set(onednn_ops))
        for name in delete_passes:
            cfg.delete_pass(name)
        cfg.disable_glog_info()
        self.predictor = inference.create_predictor(cfg)
        self.inputs = [self.predictor.get_input_handle(n) for n in self.predictor.get_input_names()]
        self.outputs = [self.predictor.get_output_handle(n)
                        for n in self.predictor.get_output_names()]

    def __call__(self, *arrays: np.ndarray):
        for handle, arr in zip(self.inputs, arrays):
            handle.reshape(list(arr.shape))
            handle.copy_from_cpu(np.ascontiguousarray(arr, dtype=np.float32))
        self.predictor.run()
        return [h.copy_to_cpu() for h in self.outputs]


class StaticEngine(EagerEngine):
    """Paddle Inference execution of exported graphs (see the module docstring).

    Inputs/outputs are Paddle tensors like :class:`EagerEngine`, so the two are
    interchangeable. ``encode`` (once per face) stays eager. ``fast_layers`` (default: on
    the CPU, unless ``PPGAN_FOM_FAST_LAYERS=0``) exports the exact faster layers.
    """

    name = "static"

    def __init__(self, generator: OcclusionAwareGenerator, kp_detector: KPDetector,
                 image_size: int, cache_key: str, threads: int = 1, gpu: bool = False,
                 fp16: bool = False, fast_layers: Optional[bool] = None):
        super().__init__(generator, kp_detector)
        if fast_layers is None:
            fast_layers = not gpu and os.environ.get("PPGAN_FOM_FAST_LAYERS", "1") != "0"
        self.fast_layers = fast_layers
        self.root = root = engine_cache_dir() / (cache_key + ("-fast" if fast_layers else ""))
        if not (root / "done").exists():
            self._export_all(root, image_size)
        self._kp = _Predictor(root / "kp", threads, gpu, fp16)
        self._gen = _Predictor(root / "gen", threads, gpu, fp16)
        logger.info("inference engine: Paddle Inference (%s), graphs in %s",
                    "GPU" + (" fp16" if fp16 else "") if gpu else f"oneDNN, {threads} threads",
                    root)

    def _export_all(self, root: Path, s: int) -> None:
        from paddle.static import InputSpec

        g, kp = self.generator, self.kp_detector
        k = kp.num_kp
        with paddle.no_grad():
            feats = g.encode(paddle.zeros([1, g.num_channels, s, s]))
        c, fh, fw = feats.shape[1:]
        with fast_inference_layers(g, kp) if self.fast_layers else nullcontext():
            export_graphs(root, {
                "kp": (_KPGraph(kp), [InputSpec([None, 3, s, s], "float32", "image")]),
                "gen": (_GenGraph(g), [
                    InputSpec([None, 3, s, s], "float32", "source"),
                    InputSpec([None, c, fh, fw], "float32", "features"),
                    InputSpec([None, k, 2], "float32", "kd_value"),
                    InputSpec([None, k, 2, 2], "float32", "kd_jacobian"),
                    InputSpec([None, k, 2], "float32", "ks_value"),
                    InputSpec([None, k, 2, 2], "float32", "ks_jacobian")])}, "FOMM")

    def keypoints(self, images: paddle.Tensor) -> KP:
        value, jac = self._kp(images.numpy())
        return {"value": paddle.to_tensor(value), "jacobian": paddle.to_tensor(jac)}

    def generate(self, source, features, kp_driving, kp_source) -> paddle.Tensor:
        (pred,) = self._gen(source.numpy(), features.numpy(), kp_driving["value"].numpy(),
                            kp_driving["jacobian"].numpy(), kp_source["value"].numpy(),
                            kp_source["jacobian"].numpy())
        return paddle.to_tensor(pred)


def _code_digest() -> str:
    """Hash of the network code, so an export is redone when the layers change."""
    h = hashlib.sha1()
    for f in sorted((Path(__file__).parent / "modules").rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def cache_key(weights: os.PathLike | str, cfg_repr: str, image_size: int, inference: bool) -> str:
    """Export cache key: weights identity (path, size, mtime), config, size, Paddle version."""
    p = Path(weights).resolve()
    st = p.stat()
    raw = f"{p}|{st.st_size}|{st.st_mtime_ns}|{cfg_repr}|{image_size}|{inference}|" \
          f"{paddle.__version__}|{_code_digest()}"
    return f"{p.stem}-{image_size}-{hashlib.sha1(raw.encode()).hexdigest()[:16]}"


def make_engine(kind: Optional[str], generator, kp_detector, image_size: int,
                weights: os.PathLike | str, cfg_repr: str, threads: int,
                device: str) -> EagerEngine:
    """``kind``: 'static' (default; Paddle Inference), 'eager' (reference), or None =
    ``$PPGAN_FOM_ENGINE`` or 'static'. Falls back to eager with a warning if the export
    fails, unless ``$PPGAN_FOM_STRICT_ENGINE=1`` (the test suite sets it).

    Raises:
        RuntimeFailure: strict mode and the static engine could not be built.
    """
    kind = kind or os.environ.get("PPGAN_FOM_ENGINE", "static")
    if kind == "eager":
        logger.info("inference engine: eager (dynamic graph)")
        return EagerEngine(generator, kp_detector)
    if kind != "static":
        raise ValueError(f"unknown engine {kind!r} (static or eager)")
    gpu = device.startswith("gpu")
    fp16 = gpu and os.environ.get("PPGAN_FOM_FP16", "") in ("1", "true", "yes")
    try:
        key = cache_key(weights, cfg_repr, image_size, getattr(generator, "inference", True))
        return StaticEngine(generator, kp_detector, image_size, key, threads, gpu, fp16)
    except Exception as exc:  # export or predictor creation failed: stay correct, be slower
        reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if os.environ.get("PPGAN_FOM_STRICT_ENGINE", "") in ("1", "true", "yes"):
            raise RuntimeFailure(f"static inference engine unavailable ({reason}) and "
                                 f"PPGAN_FOM_STRICT_ENGINE is set") from exc
        logger.warning("static inference engine unavailable (%s); using eager mode", reason)
        return EagerEngine(generator, kp_detector)
