"""Execution engines for FOMM inference.

* :class:`EagerEngine` runs the Paddle layers directly (dynamic graph, float32). It is the
  reference the fast path is checked against.
* :class:`StaticEngine` exports the keypoint detector, the source encoder and the
  generator (the part that runs per driving frame, taking the cached source features) to
  static graphs once and runs them with Paddle Inference: oneDNN kernels on the CPU,
  measured ~3-4x faster than eager convolutions on 2 cores; on a GPU the same graphs run
  with CUDA, optionally in float16 (``PPGAN_FOM_FP16=1``, off by default). For the CPU the
  graphs are exported with exact faster layers (:mod:`.modules.inference_layers`:
  Winograd bottleneck convolutions, BatchNorm folding, one transposed convolution per
  up-sampling block); ``PPGAN_FOM_FAST_LAYERS=0`` exports the layers as they are.

Memory: the static engine holds no eager layer. With a cached export the eager networks
are never built (:func:`make_engine` takes a ``networks`` loader it calls only to export
or to fall back to eager); after an export they are released. The exported graphs hold
the only copy of the weights.

Exports are cached under :func:`~ppgan_fom.static_graphs.engine_cache_dir` (default
``~/.cache/ppgan_fom/engines``), keyed by the weights file, config, input size, Paddle
version and the code that defines the graphs (:func:`cache_key`: the same in every
process), and written atomically; the first export's duration is logged and kept in
``StaticEngine.export_seconds``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from .errors import FomError, RuntimeFailure
from .modules import KPDetector, OcclusionAwareGenerator
from .modules.inference_layers import fast_inference_layers
# re-exported: the GPEN enhancer and the benchmarks import these names from here
from .static_graphs import (ONEDNN_OPS, Predictor, engine_cache_dir, export_graphs,  # noqa: F401
                            export_layer, files_digest, is_exported, model_file,
                            strict_mode)

logger = logging.getLogger(__name__)

KP = Dict[str, paddle.Tensor]
Networks = Callable[[], Tuple[OcclusionAwareGenerator, KPDetector]]

__all__ = ["Engine", "EagerEngine", "StaticEngine", "make_engine", "engine_cache_dir",
           "cache_key"]

#: Bumped when the set or the signature of the exported graphs changes.
EXPORT_FORMAT = 2
# old private names, kept for callers of the previous version
_Predictor = Predictor
_export = export_layer
_model_file = model_file


class Engine:
    """What the :class:`~ppgan_fom.animator.Animator` needs from an engine. Tensors in and
    out are Paddle tensors on the current device."""

    name = "?"

    def keypoints(self, images: paddle.Tensor) -> KP:
        """(B, 3, S, S) in [0, 1] -> value (B, K, 2), jacobian (B, K, 2, 2)."""
        raise NotImplementedError

    def encode(self, images: paddle.Tensor) -> paddle.Tensor:
        """(B, 3, S, S) -> source features (B, C, S/4, S/4)."""
        raise NotImplementedError

    def generate(self, source: paddle.Tensor, features: paddle.Tensor, kp_driving: KP,
                 kp_source: KP) -> paddle.Tensor:
        """Prediction (B, 3, S, S) in (0, 1) for B (source, driving keypoints) pairs."""
        raise NotImplementedError


class EagerEngine(Engine):
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


class _EncGraph(nn.Layer):
    def __init__(self, gen: OcclusionAwareGenerator):
        super().__init__()
        self.gen = gen

    def forward(self, x):
        return self.gen.encode(x)


class _GenGraph(nn.Layer):
    def __init__(self, gen: OcclusionAwareGenerator):
        super().__init__()
        self.gen = gen

    def forward(self, source, features, kd_value, kd_jacobian, ks_value, ks_jacobian):
        out = self.gen(source, kp_driving={"value": kd_value, "jacobian": kd_jacobian},
                       kp_source={"value": ks_value, "jacobian": ks_jacobian},
                       source_features=features)
        return out["prediction"]


def fast_layers_default(gpu: bool) -> bool:
    """Whether the CPU export uses the exact fast layers: on the CPU unless
    ``PPGAN_FOM_FAST_LAYERS=0``; never on a GPU."""
    return not gpu and os.environ.get("PPGAN_FOM_FAST_LAYERS", "1") != "0"


def export_root(cache_key: str, fast_layers: bool) -> Path:
    """The export directory of a cache key (variants with and without the fast layers
    are kept side by side)."""
    return engine_cache_dir() / (cache_key + ("-fast" if fast_layers else ""))


class StaticEngine(Engine):
    """Paddle Inference execution of exported graphs (see the module docstring).

    Inputs/outputs are Paddle tensors like :class:`EagerEngine`, so the two are
    interchangeable. ``fast_layers`` (default: on the CPU, unless
    ``PPGAN_FOM_FAST_LAYERS=0``) exports the exact faster layers.

    Args:
        generator, kp_detector: the eager networks, needed only to export (may be None
            when ``networks`` is given, or when the export is cached); not kept.
        image_size: the crop size S.
        cache_key: :func:`cache_key` of the weights and config.
        threads, gpu, fp16: how the predictors run.
        networks: called to build the eager networks if an export is needed.

    Attributes:
        root: the export directory; export_seconds: how long this engine's export took
        (None when a cached export was reused).
    """

    name = "static"

    def __init__(self, generator: Optional[OcclusionAwareGenerator],
                 kp_detector: Optional[KPDetector], image_size: int, cache_key: str,
                 threads: int = 1, gpu: bool = False, fp16: bool = False,
                 fast_layers: Optional[bool] = None, *, networks: Optional[Networks] = None):
        self.fast_layers = fast_layers_default(gpu) if fast_layers is None else fast_layers
        self.image_size = int(image_size)
        self.root = root = export_root(cache_key, self.fast_layers)
        self.export_seconds: Optional[float] = None
        if not is_exported(root):
            if generator is None:
                if networks is None:
                    raise ValueError(f"no export in {root} and no networks to export")
                generator, kp_detector = networks()
            self.export_seconds = self._export_all(root, generator, kp_detector)
        del generator, kp_detector  # the exported graphs hold the weights from here on
        self._kp = Predictor(root / "kp", threads, gpu, fp16)
        self._enc = Predictor(root / "enc", threads, gpu, fp16)
        self._gen = Predictor(root / "gen", threads, gpu, fp16)
        logger.info("inference engine: Paddle Inference (%s), graphs in %s",
                    "GPU" + (" fp16" if fp16 else "") if gpu else f"oneDNN, {threads} threads",
                    root)

    def _export_all(self, root: Path, g: OcclusionAwareGenerator, kp: KPDetector) -> float:
        """Export the keypoint, encoder and generator graphs (the fast layers swapped in
        while they are traced); returns the seconds taken."""
        from paddle.static import InputSpec

        s, k = self.image_size, kp.num_kp
        with paddle.no_grad():
            feats = g.encode(paddle.zeros([1, g.num_channels, s, s]))
        c, fh, fw = feats.shape[1:]
        image = [InputSpec([None, 3, s, s], "float32", "image")]
        with fast_inference_layers(g, kp) if self.fast_layers else nullcontext():
            return export_graphs(root, {
                "kp": (_KPGraph(kp), image),
                "enc": (_EncGraph(g), image),
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

    def encode(self, images: paddle.Tensor) -> paddle.Tensor:
        (feats,) = self._enc(images.numpy())
        return paddle.to_tensor(feats)

    def generate(self, source, features, kp_driving, kp_source) -> paddle.Tensor:
        (pred,) = self._gen(source.numpy(), features.numpy(), kp_driving["value"].numpy(),
                            kp_driving["jacobian"].numpy(), kp_source["value"].numpy(),
                            kp_source["jacobian"].numpy())
        return paddle.to_tensor(pred)


def _code_digest() -> str:
    """Hash of the code that defines the exported graphs (the networks, this module and
    the export helper), so an export is redone when any of it changes. Stable across
    processes: file contents only, in a fixed order."""
    here = Path(__file__).parent
    files = sorted((here / "modules").rglob("*.py")) + [Path(__file__),
                                                       here / "static_graphs.py"]
    return files_digest(files, extra=f"format {EXPORT_FORMAT}")


def cache_key(weights: os.PathLike | str, cfg_repr: str, image_size: int, inference: bool) -> str:
    """Export cache key: weights identity (resolved path, size, mtime), config, size,
    Paddle version, graph code. Deterministic, so every process finds the same export."""
    p = Path(weights).resolve()
    st = p.stat()
    raw = f"{p}|{st.st_size}|{st.st_mtime_ns}|{cfg_repr}|{image_size}|{inference}|" \
          f"{paddle.__version__}|{_code_digest()}"
    return f"{p.stem}-{image_size}-{hashlib.sha1(raw.encode()).hexdigest()[:16]}"


def make_engine(kind: Optional[str], generator: Optional[OcclusionAwareGenerator],
                kp_detector: Optional[KPDetector], image_size: int,
                weights: os.PathLike | str, cfg_repr: str, threads: int,
                device: str, *, networks: Optional[Networks] = None) -> Engine:
    """``kind``: 'static' (default; Paddle Inference), 'eager' (reference), or None =
    ``$PPGAN_FOM_ENGINE`` or 'static'. Falls back to eager with a warning if the export
    fails, unless ``$PPGAN_FOM_STRICT_ENGINE=1`` (the test suite sets it).

    Either pass the loaded ``generator`` and ``kp_detector``, or None for both and a
    ``networks`` loader returning them: it is called only when they are needed (eager
    engine, an export to make, a fallback), so a cached export never builds them.

    Raises:
        RuntimeFailure: strict mode and the static engine could not be built.
        FomError: from ``networks`` (e.g. WeightsError), whatever the engine.
    """
    if generator is None and networks is None:
        raise ValueError("make_engine needs the networks or a networks loader")

    def nets() -> Tuple[OcclusionAwareGenerator, KPDetector]:
        return (generator, kp_detector) if generator is not None else networks()

    kind = kind or os.environ.get("PPGAN_FOM_ENGINE", "static")
    if kind == "eager":
        logger.info("inference engine: eager (dynamic graph)")
        return EagerEngine(*nets())
    if kind != "static":
        raise ValueError(f"unknown engine {kind!r} (static or eager)")
    gpu = device.startswith("gpu")
    fp16 = gpu and os.environ.get("PPGAN_FOM_FP16", "") in ("1", "true", "yes")
    try:
        key = cache_key(weights, cfg_repr, image_size, getattr(generator, "inference", True))
        return StaticEngine(generator, kp_detector, image_size, key, threads, gpu, fp16,
                            networks=networks)
    except FomError:  # bad weights (from the networks loader): no engine can run them
        raise
    except Exception as exc:  # export or predictor creation failed: stay correct, be slower
        reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if strict_mode():
            raise RuntimeFailure(f"static inference engine unavailable ({reason}) and "
                                 f"PPGAN_FOM_STRICT_ENGINE is set") from exc
        logger.warning("static inference engine unavailable (%s); using eager mode", reason)
        return EagerEngine(*nets())
