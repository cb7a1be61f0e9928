"""The embedded BlazeFace detector: no download, weights ship in ``faceutils/data``.

The network is MediaPipe's BlazeFace *back-camera* model (the one meant for
faces a few metres away, i.e. group photos), converted to Paddle by
``python -m faceutils.convert_tflite`` (Apache-2.0, see
``faceutils/data/LICENSE-blazeface.txt``).

Each image is letterboxed to 256x256. With ``tiles=n`` (n >= 2) the image,
first downscaled so its longer side is at most ``max_side`` (1024), is also cut
into an ``n`` x ``n`` grid of overlapping square-ish tiles, each letterboxed to
256x256, so faces smaller than ~5 % of the image side are found too; all
passes run as one batch and their boxes are merged by weighted NMS.

The network runs on Paddle Inference by default (``engine='static'``): exported once to a
static graph (:mod:`ppgan_fom.static_graphs`, cached under the engines cache, keyed by
the weights, the network code and the Paddle version), about 2x faster than the eager
layers on a CPU, whose per-op overhead dominates this small network. ``engine='eager'``
runs the layers directly (the reference; also the fallback if the export fails).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np

from ppgan_fom.checkpoint import load_checkpoint, validate_state_dict
from ppgan_fom.errors import RuntimeFailure, WeightsError
from ppgan_fom.static_graphs import strict_mode

from . import blazeface_post as post
from ppgan_fom.runtime import ensure_cpu_threads
from .base import FaceDetector, downscale

logger = logging.getLogger(__name__)

__all__ = ["BlazeFaceDetector", "DEFAULT_WEIGHTS", "load_blazeface_net", "static_runner",
           "NETWORK_BATCH"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "data" / "blazeface_back.pdparams"
MAX_SIDE = 1024
TILE_OVERLAP = 0.25
_EDGE = 2.0  # input pixels: a tile box this close to an inner tile edge is a cut-off face
#: Network inputs per forward pass. Per image, batches of 1 to 4 run alike on a CPU and 8
#: is slower (the 128 x 128 x 24 activations of 8 images no longer fit the caches).
NETWORK_BATCH = 4

Runner = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def load_blazeface_net(weights: Union[str, Path, None] = None, fold: bool = True):
    """Build :class:`~faceutils.blazeface_net.BlazeFaceBackNet` with its weights, in eval mode.

    Args:
        weights: a ``.pdparams`` path; default the embedded file.
        fold: fold depthwise biases into the pointwise ones (faster, same outputs).

    Raises:
        WeightsError: missing, unreadable or mismatching weights file.
    """
    import paddle

    from .blazeface_net import BlazeFaceBackNet, fold_depthwise_biases

    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    state = load_checkpoint(path)
    net = BlazeFaceBackNet()
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    validate_state_dict(expected, state, "blazeface", path)
    net.set_state_dict({k: paddle.to_tensor(np.asarray(v, dtype=np.float32))
                        for k, v in state.items()})
    net.eval()
    return fold_depthwise_biases(net) if fold else net


def _eager_runner(net) -> Runner:
    def run(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        import paddle

        with paddle.no_grad():
            reg, cls = net(paddle.to_tensor(x))
        return reg.numpy(), cls.numpy()
    return run


def static_runner(weights: Union[str, Path, None] = None,
                  threads: Optional[int] = None) -> Runner:
    """The BlazeFace network on Paddle Inference: ``(B, 3, 256, 256)`` float32 in [-1, 1]
    -> ``(regressors (B, 896, 16), logits (B, 896))``, like the eager network.

    Exported on first use (the eager network is built only then) to the engines cache,
    under a key made of the weights file's contents, the network code and the Paddle
    version; every later process reuses the export.

    Raises:
        WeightsError: missing or mismatching weights (only when an export is needed).
    """
    import paddle
    from paddle.static import InputSpec

    from ppgan_fom.static_graphs import Predictor, engine_cache_dir, ensure_exported, \
        files_digest

    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        load_blazeface_net(path)  # raises the one-line WeightsError
    here = Path(__file__).resolve().parent
    key = files_digest([path, here / "blazeface_net.py", here / "blazeface.py"],
                       extra=paddle.__version__)
    root = engine_cache_dir() / f"blazeface-{key}"
    spec = [InputSpec([None, 3, post.INPUT_SIZE, post.INPUT_SIZE], "float32", "image")]
    ensure_exported(root, lambda: {"net": (load_blazeface_net(path), spec)}, "BlazeFace")
    gpu = paddle.device.get_device().startswith("gpu")
    predictor = Predictor(root / "net", threads or ensure_cpu_threads(), gpu=gpu)

    def run(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        reg, cls = predictor(x)
        return reg, cls
    return run


def tile_grid(height: int, width: int, tiles: int,
              overlap: float = TILE_OVERLAP) -> List[Tuple[int, int, int, int]]:
    """Overlapping ``tiles`` x ``tiles`` windows ``(x0, y0, x1, y1)`` covering an image.

    Each window is ``1 / (tiles - (tiles - 1) * overlap)`` of the side, so
    neighbours share ``overlap`` of a window.
    """
    def spans(length: int) -> List[Tuple[int, int]]:
        size = int(np.ceil(length / (tiles - (tiles - 1) * overlap)))
        starts = np.linspace(0, length - size, tiles).round().astype(int)
        return [(int(s), int(s) + size) for s in starts]

    return [(x0, y0, x1, y1) for (y0, y1) in spans(height) for (x0, x1) in spans(width)]


class BlazeFaceDetector(FaceDetector):
    """Face detector with embedded BlazeFace back-camera weights (works offline).

    Args:
        weights: ``.pdparams`` path; default the embedded ``blazeface_back.pdparams``.
        score_threshold: minimum face score in (0, 1); default 0.5.
        nms_iou: IoU above which boxes are merged (weighted NMS); default 0.3.
        tiles: 1 (default) = one whole-image pass; n >= 2 adds an n x n tile pass
            for small faces in large group photos (n*n + 1 network passes). The
            grid is made coarser where tiles would be smaller than 256 px (after
            the ``max_side`` downscale), so small images get no tile pass.
        max_side: longest side of the image the tiles are cut from (default 1024).
        batch_size: network inputs per forward pass (default :data:`NETWORK_BATCH`).
        engine: ``'static'`` (Paddle Inference, the default), ``'eager'`` (the Paddle
            layers), or None = ``$PPGAN_FOM_ENGINE`` or ``'static'``. If the static
            export fails the detector warns and runs eagerly (``engine`` says which runs).
    """

    name = "blazeface"

    def __init__(self, weights: Union[str, Path, None] = None, score_threshold: float = 0.5,
                 nms_iou: float = 0.3, tiles: int = 1, max_side: int = MAX_SIDE,
                 batch_size: int = NETWORK_BATCH, engine: Optional[str] = None) -> None:
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
        if int(tiles) < 1:
            raise ValueError(f"tiles must be >= 1, got {tiles}")
        kind = engine or os.environ.get("PPGAN_FOM_ENGINE", "static")
        if kind not in ("static", "eager"):
            raise ValueError(f"unknown engine {kind!r} (static or eager)")
        ensure_cpu_threads()
        self.engine = "eager"
        self._net: Optional[Runner] = None
        if kind == "static":
            try:
                self._net = static_runner(weights)
                self.engine = "static"
            except Exception as exc:  # export failed: stay correct, be slower
                if isinstance(exc, WeightsError):
                    raise
                reason = f"{exc.__class__.__name__}: " \
                         f"{str(exc).splitlines()[0] if str(exc) else ''}"
                if strict_mode():
                    raise RuntimeFailure(f"static BlazeFace engine unavailable ({reason}) and "
                                         f"PPGAN_FOM_STRICT_ENGINE is set") from exc
                logger.warning("static BlazeFace engine unavailable (%s); using eager mode",
                               reason)
        if self._net is None:
            self._net = _eager_runner(load_blazeface_net(weights))
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.tiles = int(tiles)
        self.max_side = int(max_side) if self.tiles > 1 else post.INPUT_SIZE
        self.batch_size = max(1, int(batch_size))
        self.anchors = post.ssd_anchors()

    # one "view" = (square input, placement, window offset in source px, source scale,
    #               inner-edge flags (left, top, right, bottom) or None for the whole image)
    def _views(self, image: np.ndarray):
        square, place = post.letterbox(image)
        views = [(square, place, (0.0, 0.0), 1.0, None)]
        if self.tiles > 1:
            small, factor = downscale(image, self.max_side)
            h, w = small.shape[:2]
            n = self.tiles  # tiles are never upscaled: that adds no detail, only false alarms
            while n > 1 and max(h, w) / (n - (n - 1) * TILE_OVERLAP) < post.INPUT_SIZE:
                n -= 1
            for x0, y0, x1, y1 in (tile_grid(h, w, n) if n > 1 else []):
                tile_sq, tile_place = post.letterbox(small[y0:y1, x0:x1])
                inner = (x0 > 0, y0 > 0, x1 < w, y1 < h)
                views.append((tile_sq, tile_place, (x0, y0), factor, inner))
        return views

    def _run(self, squares: List[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        regs, logits = [], []
        for i in range(0, len(squares), self.batch_size):
            reg, cls = self._net(post.to_network_input(squares[i:i + self.batch_size]))
            regs.append(reg)
            logits.append(cls)
        return np.concatenate(regs), np.concatenate(logits)

    def _view_boxes(self, reg: np.ndarray, logit: np.ndarray, view) -> np.ndarray:
        _, place, (ox, oy), factor, inner = view
        boxes, scores = post.decode(reg, logit, self.anchors, self.score_threshold)
        if inner is not None and len(boxes):  # drop faces cut by an inner tile edge
            lo_x, lo_y = place.pad_x + _EDGE, place.pad_y + _EDGE
            hi_x = post.INPUT_SIZE - place.pad_x - _EDGE
            hi_y = post.INPUT_SIZE - place.pad_y - _EDGE
            cut = ((inner[0] & (boxes[:, 0] < lo_x)) | (inner[1] & (boxes[:, 1] < lo_y))
                   | (inner[2] & (boxes[:, 2] > hi_x)) | (inner[3] & (boxes[:, 3] > hi_y)))
            boxes, scores = boxes[~cut], scores[~cut]
        src = place.to_source(boxes)
        src[:, [0, 2]] = (src[:, [0, 2]] + ox) / factor
        src[:, [1, 3]] = (src[:, [1, 3]] + oy) / factor
        return np.concatenate([src, scores[:, None]], axis=1)

    def _detect_many(self, images: List[np.ndarray]) -> List[np.ndarray]:
        results: List[np.ndarray] = []
        pending: List[list] = []  # views of images not yet run, at most ~batch_size of them
        for k, image in enumerate(images):
            pending.append(self._views(image))
            if sum(map(len, pending)) >= self.batch_size or k == len(images) - 1:
                results += self._finish(pending)
                pending = []
        return results

    def _finish(self, views_per_image: List[list]) -> List[np.ndarray]:
        flat = [v for views in views_per_image for v in views]
        regs, logits = self._run([v[0] for v in flat])
        results, k = [], 0
        for views in views_per_image:
            rows = np.concatenate([self._view_boxes(regs[k + j], logits[k + j], v)
                                   for j, v in enumerate(views)])
            k += len(views)
            results.append(post.weighted_nms(rows[:, :4], rows[:, 4], self.nms_iou))
        return results
