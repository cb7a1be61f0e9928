"""Static graphs on Paddle Inference: export a Paddle layer once (cached, written
atomically) and run it with numpy arrays in and out.

Shared by every network that runs on a static engine: the FOMM (:mod:`ppgan_fom.engine`),
GPEN (:mod:`ppgan_fom.enhance`) and the BlazeFace detector (:mod:`faceutils`). It sits in
the bottom layer so that ``faceutils`` may use it; it knows nothing about the networks.

Exports live under :func:`engine_cache_dir`, one directory per export, each published by
an atomic rename with a ``done`` marker, so that any process reuses a finished export and
a concurrent or interrupted one never leaves a partial directory behind.

Memory: Paddle Inference keeps, per distinct set of input shapes, the oneDNN primitives
and the weights reordered for them. Left unbounded that grows with every new batch size a
long-running process sees (measured: +0.2 to +0.35 GB per shape for the vox-256
generator), so predictors run in oneDNN's cache-clearing mode holding at most
:data:`ONEDNN_CACHE_SHAPES` shapes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ENV_ENGINE_CACHE", "ENV_STRICT", "strict_mode", "ONEDNN_OPS", "ONEDNN_CACHE_SHAPES", "engine_cache_dir",
           "export_layer", "export_graphs", "ensure_exported", "is_exported", "model_file",
           "files_digest", "Predictor"]

#: Environment variable overriding where exports are cached.
ENV_ENGINE_CACHE = "PPGAN_FOM_ENGINE_CACHE"
#: Set to 1 to make a failed static engine an error instead of a warning and the eager
#: fallback (the test suite sets it, so that a broken export cannot pass on the eager path).
ENV_STRICT = "PPGAN_FOM_STRICT_ENGINE"
#: Operators given oneDNN kernels on the CPU (the rest run on Paddle's CPU kernels).
ONEDNN_OPS = frozenset({"conv2d", "depthwise_conv2d", "fused_conv2d", "pool2d", "relu",
                        "batch_norm", "batch_norm_", "elementwise_add", "add", "concat",
                        "sigmoid", "softmax"})
#: Distinct input-shape sets whose oneDNN primitives are kept per thread (all
#: predictors of the thread together); beyond that the oldest shape's are dropped.
#: A run alternates between two (driving keypoints, generator; three with face
#: enhancement); one would rebuild the primitives on every call (measured +20-50 % CPU).
ONEDNN_CACHE_SHAPES = 3

Graphs = Dict[str, Tuple[object, Sequence]]


def strict_mode() -> bool:
    """Whether a static engine that cannot be built is an error (``$PPGAN_FOM_STRICT_ENGINE``)."""
    return os.environ.get(ENV_STRICT, "").strip().lower() in ("1", "true", "yes")


def engine_cache_dir() -> Path:
    """Where exports are cached: ``$PPGAN_FOM_ENGINE_CACHE``, else ``engines/`` beside the
    weights cache (``$PPGAN_FOM_HOME/../engines``, default ``~/.cache/ppgan_fom/engines``)."""
    env = os.environ.get(ENV_ENGINE_CACHE)
    if env:
        return Path(env).expanduser()
    # the weights cache is $PPGAN_FOM_HOME or ~/.cache/ppgan_fom/weights (ppgan_fom.weights)
    home = os.environ.get("PPGAN_FOM_HOME")
    weights = Path(home).expanduser() if home else Path.home() / ".cache" / "ppgan_fom" / "weights"
    return weights.parent / "engines"


def files_digest(files: Iterable[Path], extra: str = "") -> str:
    """Short hash of the contents of ``files`` (in the given order) and ``extra``: part of
    an export's cache key, so that changed network code is exported again."""
    h = hashlib.sha1(extra.encode())
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:12]


def export_layer(layer, specs: Sequence, prefix: Path) -> None:
    """Trace ``layer`` (a ``paddle.nn.Layer``) with the ``InputSpec`` list ``specs`` and
    save the static graph and its parameters at ``prefix`` (``.json``/``.pdiparams``)."""
    import paddle

    static = paddle.jit.to_static(layer, input_spec=list(specs), full_graph=True)
    paddle.jit.save(static, str(prefix))


def is_exported(root: Path) -> bool:
    """Whether ``root`` holds a finished export."""
    return (Path(root) / "done").exists()


def export_graphs(root: Path, graphs: Graphs, what: str) -> float:
    """Export each ``name -> (layer, input specs)`` to ``root/name``; return the seconds
    it took (logged).

    Written into a temporary directory renamed to ``root`` when complete (with a ``done``
    marker), so a concurrent or interrupted export never leaves a partial one.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    t0 = time.perf_counter()
    try:
        logger.info("exporting %s graphs for Paddle Inference (once per model) ...", what)
        for name, (layer, specs) in graphs.items():
            export_layer(layer, specs, tmp / name)
        (tmp / "done").write_text("ok\n")
        try:
            os.replace(tmp, root)
        except OSError:  # another process won the race: use its export
            if not is_exported(root):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - t0
    logger.info("exported %s graphs in %.1f s (cached in %s)", what, seconds, root)
    return seconds


def ensure_exported(root: Path, graphs: Callable[[], Graphs], what: str) -> Optional[float]:
    """Export unless ``root`` already holds a finished export. ``graphs`` builds the
    layers only when they are needed (a cached export needs no eager network at all).

    Returns:
        The export's duration in seconds, or None when the cached export was reused.
    """
    if is_exported(root):
        logger.debug("reusing the %s export in %s", what, root)
        return None
    return export_graphs(root, graphs(), what)


def model_file(prefix: Path) -> Path:
    """The graph file of an export (``.json`` with Paddle's PIR, ``.pdmodel`` before)."""
    for suffix in (".json", ".pdmodel"):
        if prefix.with_suffix(suffix).exists():
            return prefix.with_suffix(suffix)
    raise FileNotFoundError(f"no exported model for {prefix}")


class Predictor:
    """One Paddle Inference predictor of an export, numpy arrays in and out.

    Args:
        prefix: the export (``root/name``).
        threads: CPU math threads.
        gpu, fp16: run with CUDA (optionally float16) instead of oneDNN on the CPU.
        onednn_ops: the ops given oneDNN kernels on the CPU (None: all that have one).
        delete_passes: graph optimisation passes to skip.
        onednn_cache_shapes: see :data:`ONEDNN_CACHE_SHAPES` (0: unbounded).
    """

    def __init__(self, prefix: Path, threads: int, gpu: bool = False, fp16: bool = False,
                 onednn_ops: Optional[Iterable[str]] = ONEDNN_OPS,
                 delete_passes: Sequence[str] = (),
                 onednn_cache_shapes: int = ONEDNN_CACHE_SHAPES):
        from paddle import inference

        prefix = Path(prefix)
        cfg = inference.Config(str(model_file(prefix)), str(prefix.with_suffix(".pdiparams")))
        if gpu:
            precision = inference.PrecisionType.Half if fp16 else inference.PrecisionType.Float32
            cfg.enable_use_gpu(256, 0, precision)
        else:
            cfg.disable_gpu()
            cfg.set_cpu_math_library_num_threads(int(threads))
            (cfg.enable_onednn if hasattr(cfg, "enable_onednn") else cfg.enable_mkldnn)()
            # oneDNN only where it pays (and is supported: its interpolation kernels
            # cannot take the exported 'scale' attribute); the rest runs on CPU kernels.
            if onednn_ops is not None:
                (cfg.set_onednn_op if hasattr(cfg, "set_onednn_op") else cfg.set_mkldnn_op)(
                    set(onednn_ops))
            if onednn_cache_shapes > 0:
                (cfg.set_onednn_cache_capacity if hasattr(cfg, "set_onednn_cache_capacity")
                 else cfg.set_mkldnn_cache_capacity)(int(onednn_cache_shapes))
        for name in delete_passes:
            cfg.delete_pass(name)
        cfg.disable_glog_info()
        self.prefix = prefix
        self.predictor = inference.create_predictor(cfg)
        self.inputs = [self.predictor.get_input_handle(n)
                       for n in self.predictor.get_input_names()]
        self.outputs = [self.predictor.get_output_handle(n)
                        for n in self.predictor.get_output_names()]

    def __call__(self, *arrays: np.ndarray) -> List[np.ndarray]:
        """Run on float32 arrays given in the graph's input order; returns its outputs."""
        if len(arrays) != len(self.inputs):
            raise ValueError(f"{self.prefix.name}: {len(self.inputs)} inputs expected, "
                             f"got {len(arrays)}")
        for handle, arr in zip(self.inputs, arrays):
            handle.reshape(list(arr.shape))
            handle.copy_from_cpu(np.ascontiguousarray(arr, dtype=np.float32))
        self.predictor.run()
        return [h.copy_to_cpu() for h in self.outputs]
