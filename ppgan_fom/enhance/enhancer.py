"""GPEN face enhancement (``--face_enhancement``): weights, execution engines, batching.

:class:`FaceEnhancer` runs PaddleGAN's enhancement step (:mod:`ppgan_fom.enhance.step`)
with a :class:`~ppgan_fom.modules.GPEN` network loaded strictly from PaddleGAN's
``GPEN-512.pdparams`` (registry name ``gpen-512``):

    enhancer = FaceEnhancer()                    # gpen-512, static engine (oneDNN)
    crops = enhancer.enhance(crops_u8)           # (N, S, S, 3) uint8 -> same shape, enhanced

The network runs on sub-batches of ``batch_size`` faces (GPEN-512 keeps ~0.3 GB of
activations per face). The default engine exports GPEN once to a static graph and runs
it with Paddle Inference (:mod:`ppgan_fom.engine`); ``engine='eager'`` is the reference.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Tuple

import numpy as np
import paddle

from ..engine import ONEDNN_OPS, _Predictor, cache_key, engine_cache_dir, export_graphs
from .step import enhance_faces, to_crop_size
from ..model import assign_state, state_shapes
from ..modules import GPEN
from ..checkpoint import load_checkpoint, validate_state_dict
from ..weights import resolve_weights

logger = logging.getLogger(__name__)

__all__ = ["GPENConfig", "GPEN_512", "build_gpen", "load_gpen", "FaceEnhancer"]

#: oneDNN kernels for GPEN's graph: the FOMM's set plus the transposed (up-sampling)
#: convolutions and the activation.
GPEN_ONEDNN_OPS = frozenset(ONEDNN_OPS | {"conv2d_transpose", "leaky_relu"})
#: Paddle 3.3's oneDNN fusions of a conv / matmul (with bias) and a following leaky ReLU
#: crash (segfault) while the predictor is built; GPEN keeps them unfused.
GPEN_SKIP_PASSES = ("conv_activation_onednn_fuse_pass", "matmul_activation_fuse_pass")


@dataclass(frozen=True)
class GPENConfig:
    """Constructor arguments of :class:`~ppgan_fom.modules.GPEN` (PaddleGAN's names)."""

    size: int = 512
    style_dim: int = 512
    n_mlp: int = 8
    channel_multiplier: int = 2
    blur_kernel: Tuple[int, ...] = (1, 3, 3, 1)
    lr_mlp: float = 0.01
    is_concat: bool = True


#: PaddleGAN's ``GPEN(size=512, style_dim=512, n_mlp=8)``, the ``GPEN-512.pdparams`` model.
GPEN_512 = GPENConfig()

def _optional_key(name: str) -> bool:
    """Buffers a checkpoint may omit: the up-sampling FIR kernels are fixed by the layer,
    and the StyleGAN2 noise maps are never read (GPEN feeds its encoder features)."""
    return name.endswith("upsample.kernel") or name.startswith("generator.noises.")


def build_gpen(cfg: GPENConfig = GPEN_512) -> GPEN:
    """A fresh (randomly initialised) GPEN for ``cfg``, in eval mode."""
    kw = dataclasses.asdict(cfg)
    kw["blur_kernel"] = list(kw["blur_kernel"])
    model = GPEN(**kw)
    model.eval()
    return model


def load_gpen(source: os.PathLike | str | Mapping[str, np.ndarray],
              cfg: GPENConfig = GPEN_512) -> GPEN:
    """GPEN for ``cfg`` with weights from a flat PaddleGAN state dict.

    Args:
        source: a ``.pdparams`` path (read with the restricted unpickler) or an
            in-memory ``name -> array`` dict.
        cfg: the architecture; the weights must match it exactly (names and shapes),
            except that the fixed up-sampling kernels and the unused noise buffers
            may be absent.

    Raises:
        WeightsError: unreadable file, or missing / unexpected / mis-shaped weights.
    """
    if isinstance(source, Mapping):
        state, where = dict(source), "<state dict>"
    else:
        where = str(source)
        state = load_checkpoint(Path(source))
    model = build_gpen(cfg)
    shapes = state_shapes(model)
    expected = {k: v for k, v in shapes.items() if k in state or not _optional_key(k)}
    validate_state_dict(expected, state, "GPEN", where,
                        hint=f"expected PaddleGAN's GPEN(size={cfg.size}, "
                             f"style_dim={cfg.style_dim}, n_mlp={cfg.n_mlp}, "
                             f"channel_multiplier={cfg.channel_multiplier}) layout")
    own = model.state_dict()
    full = {k: own[k].numpy() for k in shapes if k not in state}
    full.update(state)
    assign_state(model, full, "GPEN", where)
    return model


class _ImageOnly(paddle.nn.Layer):
    """GPEN's image output alone (the exported graph's single output)."""

    def __init__(self, model: GPEN):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[0]


def _eager_runner(model: GPEN) -> Callable[[np.ndarray], np.ndarray]:
    def run(x: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return model(paddle.to_tensor(x))[0].numpy()
    return run


def _static_runner(model: GPEN, cfg: GPENConfig, weights: Path, threads: int,
                   device: str) -> Callable[[np.ndarray], np.ndarray]:
    """Export GPEN once (cached by weights, config, code and Paddle version) and return a
    Paddle Inference runner (oneDNN on CPU; CUDA, fp16 with ``PPGAN_FOM_FP16=1``, on GPU)."""
    from paddle.static import InputSpec

    gpu = device.startswith("gpu")
    fp16 = gpu and os.environ.get("PPGAN_FOM_FP16", "") in ("1", "true", "yes")
    root = engine_cache_dir() / cache_key(weights, repr(cfg), cfg.size, True)
    if not (root / "done").exists():
        s = cfg.size
        export_graphs(root, {"gpen": (_ImageOnly(model),
                                      [InputSpec([None, 3, s, s], "float32", "image")])}, "GPEN")
    predictor = _Predictor(root / "gpen", threads, gpu, fp16, onednn_ops=GPEN_ONEDNN_OPS,
                           delete_passes=GPEN_SKIP_PASSES)
    logger.info("GPEN engine: Paddle Inference (%s), graph in %s",
                "GPU" + (" fp16" if fp16 else "") if gpu else f"oneDNN, {threads} threads", root)
    return lambda x: predictor(x)[0]


class FaceEnhancer:
    """PaddleGAN's ``--face_enhancement`` step on batches of face crops.

    Args:
        weights: registry name (``'gpen-512'``, downloaded and cached, or a one-line
            error offline) or a ``.pdparams`` path.
        cfg: the GPEN architecture (default GPEN-512); its ``size`` is the working
            resolution faces are resized to.
        engine: ``'static'`` (default; Paddle Inference), ``'eager'`` (reference), or
            None = ``$PPGAN_FOM_ENGINE`` or ``'static'``. If the static export fails the
            enhancer warns and runs eagerly (``engine_name`` says which runs).
        batch_size: faces per network call (memory: ~0.3 GB of activations per face
            at 512 px).
        threads: CPU threads for the static engine (default: all available cores).
        device: ``'cpu'`` or ``'gpu:N'`` (default: Paddle's current device).
        downloader: test hook passed to :func:`ppgan_fom.weights.resolve_weights`.

    Attributes:
        engine_name: ``'static'`` or ``'eager'``, the engine that runs.
        weights: the resolved weights file.
        model: the eager :class:`~ppgan_fom.modules.GPEN` (None with the static engine).

    Raises:
        WeightsError: weights missing (offline), unreadable or not GPEN's layout.
    """

    def __init__(self, weights: os.PathLike | str = "gpen-512", cfg: GPENConfig = GPEN_512, *,
                 engine: Optional[str] = None, batch_size: int = 1,
                 threads: Optional[int] = None, device: Optional[str] = None,
                 downloader=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.cfg = cfg
        self.batch_size = batch_size
        self.weights = resolve_weights(str(weights), downloader=downloader)
        self.model = load_gpen(self.weights, cfg)
        logger.info("loaded GPEN weights %s (%d px)", self.weights, cfg.size)
        kind = engine or os.environ.get("PPGAN_FOM_ENGINE", "static")
        if kind not in ("static", "eager"):
            raise ValueError(f"unknown engine {kind!r} (static or eager)")
        self.engine_name = "eager"
        self._net = _eager_runner(self.model)
        if kind == "static":
            from ..runtime import resolve_threads

            try:
                self._net = _static_runner(self.model, cfg, self.weights,
                                           resolve_threads(threads),
                                           device or paddle.device.get_device())
                self.engine_name = "static"
                self.model = None  # the exported graph holds the weights: free ~0.3 GB
            except Exception as exc:  # export failed: stay correct, be slower
                logger.warning("static GPEN engine unavailable (%s: %s); using eager mode",
                               exc.__class__.__name__,
                               str(exc).splitlines()[0] if str(exc) else "")

    @property
    def size(self) -> int:
        """The working resolution (512 for GPEN-512)."""
        return self.cfg.size

    def network(self, x: np.ndarray) -> np.ndarray:
        """GPEN on (N, 3, size, size) float32 in [-1, 1] -> (N, 3, size, size), unclipped,
        in batches of at most ``batch_size``."""
        outs = [self._net(np.ascontiguousarray(x[i:i + self.batch_size], np.float32))
                for i in range(0, len(x), self.batch_size)]
        return np.concatenate(outs) if outs else np.zeros_like(x)

    def enhance_full(self, faces: np.ndarray) -> np.ndarray:
        """PaddleGAN's ``enhance_from_batch``: (N, S, S, 3) uint8 or float 0..255 ->
        (N, size, size, 3) float32 0..255 (resize, GPEN, truncating uint8, mask blend)."""
        return enhance_faces(faces, self.network, self.size)

    def enhance(self, faces: np.ndarray) -> np.ndarray:
        """Enhanced faces at their input size, ready for the compositor:
        (N, S, S, 3) uint8 or float 0..255 -> (N, S, S, 3) uint8
        (:meth:`enhance_full`, then resized back to S and rounded)."""
        faces = np.asarray(faces)
        return to_crop_size(self.enhance_full(faces), faces.shape[1])
