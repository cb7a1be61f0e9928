"""Pretrained weights: registry, cache, PaddleGAN-cache reuse, download.

Weights are resolved in this order:

1. an explicit local path (``weight_path=`` / ``--weight_path``) always wins;
2. the cache directory (``$PPGAN_FOM_HOME``, default ``~/.cache/ppgan_fom/weights``);
3. PaddleGAN's own cache, used in place (``~/.cache/ppgan/<name>`` for the FOMM, GPEN and
   VGG19 files, ``~/.cache/paddle/hapi/weights/s3fd_paddle.pdparams`` for S3FD: where
   PaddleGAN's loaders put them), unless ``PPGAN_FOM_REUSE_PADDLEGAN=0``;
4. a download of the registry URL (:mod:`ppgan_fom.download`: retries, resume), unless
   offline mode is on (``PPGAN_FOM_OFFLINE=1``), in which case a one-line error names the
   file to fetch by hand and where to put it.

A download is written to ``<file>.part``, checked (pinned sha256, then read as a
checkpoint with the restricted unpickler) and only then renamed into place. The sha256
of a downloaded file is recorded beside it (``<file>.sha256``) and checked on later
loads; a checksum is *pinned* in the registry only where the bytes were really hashed
(none of the official files could be hashed on the machines this project is developed
on, so none is pinned yet).

Files are read with :mod:`ppgan_fom.checkpoint` (restricted unpickler, strict checks).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

from .checkpoint import load_checkpoint
from .download import DownloadError, directory_lock, http_download, partial_path
from .errors import WeightsError
from .fsutil import publish

logger = logging.getLogger(__name__)

__all__ = [
    "WeightSpec",
    "REGISTRY",
    "cache_dir",
    "paddlegan_cache_path",
    "is_offline",
    "resolve_weights",
    "load_weights",
    "sha256_of",
]

ENV_HOME = "PPGAN_FOM_HOME"
ENV_OFFLINE = "PPGAN_FOM_OFFLINE"
ENV_REUSE_PADDLEGAN = "PPGAN_FOM_REUSE_PADDLEGAN"

#: PaddleGAN's caches, relative to ``~/.cache``: ``ppgan.utils.download.get_path_from_url``
#: (FOMM, GPEN, VGG19) and ``paddle.utils.download.get_weights_path_from_url`` (used by
#: PaddleGAN's S3FD detector). Both name the file after the last part of its URL and
#: read no environment variable.
PPGAN_CACHE = "ppgan"
PADDLE_HAPI_CACHE = "paddle/hapi/weights"

_BCE = "https://paddlegan.bj.bcebos.com"


@dataclass(frozen=True)
class WeightSpec:
    """One downloadable weights file.

    ``sha256`` is set only for files whose bytes were actually hashed.
    ``paddlegan_cache`` is where PaddleGAN keeps the same file, relative to ``~/.cache``
    (``None``: PaddleGAN does not download it).
    """

    name: str
    url: str
    filename: str
    description: str
    sha256: Optional[str] = None
    paddlegan_cache: Optional[str] = PPGAN_CACHE
    path_flag: str = "--weight_path"  # the option that takes a local copy instead


REGISTRY: Dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec("vox-256", f"{_BCE}/applications/first_order_model/vox-cpk.pdparams",
                   "vox-cpk.pdparams", "PaddleGAN FOMM, VoxCeleb, 256x256"),
        WeightSpec("vox-512", f"{_BCE}/applications/first_order_model/vox-cpk-512.pdparams",
                   "vox-cpk-512.pdparams", "PaddleGAN FOMM, VoxCeleb, 512x512"),
        WeightSpec("vox-mobile", f"{_BCE}/applications/first_order_model/vox-mobile.pdparams",
                   "vox-mobile.pdparams", "PaddleGAN lightweight FOMM (mobile_net), 256x256"),
        WeightSpec("s3fd", f"{_BCE}/models/s3fd_paddle.pdparams",
                   "s3fd_paddle.pdparams", "PaddleGAN S3FD face detector",
                   paddlegan_cache=PADDLE_HAPI_CACHE),
        WeightSpec("vgg19", f"{_BCE}/models/vgg19.pdparams",
                   "vgg19.pdparams", "VGG19 ImageNet features (training perceptual loss)"),
        WeightSpec("gpen-512", f"{_BCE}/models/GPEN-512.pdparams", "GPEN-512.pdparams",
                   "PaddleGAN GPEN-512 face enhancer (--face_enhancement)",
                   path_flag="--enhancer_weight_path"),
    )
}

Downloader = Callable[[str, Path], None]


def cache_dir() -> Path:
    """Directory holding downloaded weights (``$PPGAN_FOM_HOME`` or ``~/.cache/ppgan_fom/weights``)."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ppgan_fom" / "weights"


def is_offline() -> bool:
    """True when ``PPGAN_FOM_OFFLINE`` is set to 1/true/yes: no download is attempted."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _manual_hint(spec: WeightSpec, target: Path) -> str:
    return (f"download {spec.url} by hand and save it as {target} "
            f"(or pass its local path with {spec.path_flag})")


def paddlegan_cache_path(spec: WeightSpec) -> Optional[Path]:
    """Where PaddleGAN would have saved ``spec``'s file (``None`` if reuse is off).

    PaddleGAN names the file after the last component of its URL, under
    ``~/.cache/ppgan`` or Paddle's ``~/.cache/paddle/hapi/weights``
    (:attr:`WeightSpec.paddlegan_cache`). ``PPGAN_FOM_REUSE_PADDLEGAN=0`` turns reuse off.
    """
    if spec.paddlegan_cache is None or os.environ.get(ENV_REUSE_PADDLEGAN, "1").strip().lower() \
            in {"0", "false", "no", "off"}:
        return None
    return Path.home() / ".cache" / spec.paddlegan_cache / spec.url.rsplit("/", 1)[-1]


def _cached(spec: WeightSpec, target: Path) -> Optional[Path]:
    """Our cached file, else PaddleGAN's (used in place), checksum-verified; else None."""
    if target.is_file():
        _verify_checksum(spec, target)
        logger.info("weights %s: using cached %s", spec.name, target)
        return target
    theirs = paddlegan_cache_path(spec)
    if theirs is not None and theirs.is_file():
        _verify_checksum(spec, theirs)
        logger.info("weights %s: using PaddleGAN's downloaded %s (not copied)", spec.name, theirs)
        return theirs
    return None


def resolve_weights(name_or_path: str, *, downloader: Optional[Downloader] = None,
                    root: Optional[Path] = None) -> Path:
    """Return a local path for weights given a registry name or a file path.

    Args:
        name_or_path: a registry name (``vox-256``, ``s3fd``, ...) or a path to a file.
        downloader: ``f(url, part_path)`` that writes the complete file to ``part_path``,
            used instead of :func:`ppgan_fom.download.http_download` (tests inject a fake
            or the real one with a tiny backoff).
        root: cache directory override (default :func:`cache_dir`).

    Raises:
        WeightsError: unknown name, missing local file, offline and not cached,
            failed download, a download that is not a checkpoint, or checksum
            mismatch. The message is one line naming the file and URL.
    """
    if name_or_path not in REGISTRY:
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        if path.exists():
            raise WeightsError(f"{path}: is not a file")
        raise WeightsError(f"{path}: weights file not found "
                           f"(known names: {', '.join(sorted(REGISTRY))})")
    spec = REGISTRY[name_or_path]
    target = (root or cache_dir()) / spec.filename
    found = _cached(spec, target)
    if found is not None:
        return found
    if is_offline():
        raise WeightsError(f"offline ({ENV_OFFLINE} is set) and weights '{spec.name}' are not "
                           f"cached: {_manual_hint(spec, target)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with directory_lock(target.parent):
        if target.is_file():  # another process finished it while we waited for the lock
            return _cached(spec, target)
        return _download(spec, target, downloader)


def _download(spec: WeightSpec, target: Path, downloader: Optional[Downloader]) -> Path:
    """Fetch into ``<target>.part``, check it, record its sha256, rename it into place."""
    part = partial_path(target)
    logger.info("downloading %s from %s", spec.filename, spec.url)
    try:
        if downloader is not None:
            downloader(spec.url, part)
        else:
            http_download(spec.url, part, desc=spec.filename)
    except WeightsError:
        raise
    except Exception as exc:  # DownloadError, or whatever an injected downloader raises
        detail = str(exc) if isinstance(exc, DownloadError) else \
            f"{exc.__class__.__name__}: {exc}"
        kept = getattr(exc, "partial", None) or (part if part.is_file() else None)
        resume = (f"{kept.stat().st_size} bytes kept in {kept}, run again to resume; or "
                  if kept is not None and kept.is_file() else "")
        raise WeightsError(f"could not download weights '{spec.name}' from {spec.url} "
                           f"({detail}); {resume}{_manual_hint(spec, target)}") from None
    try:
        digest = sha256_of(part)
        if spec.sha256 and digest != spec.sha256:
            raise WeightsError(f"{target}: download of {spec.url} has sha256 {digest}, "
                               f"expected {spec.sha256}; nothing was saved")
        try:
            load_checkpoint(part)  # an HTML error page or a truncated file stops here
        except WeightsError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise WeightsError(f"{target}: the file downloaded from {spec.url} is not a usable "
                               f"checkpoint ({reason}); nothing was saved; "
                               f"{_manual_hint(spec, target)}") from None
        # the sidecar goes first, so a file at the final path always has its checksum
        _sidecar(target).write_text(digest + "\n")
        publish(part, target)
    finally:
        part.unlink(missing_ok=True)
    logger.info("weights %s saved to %s (sha256 %s)", spec.name, target, digest)
    return target


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _verify_checksum(spec: WeightSpec, path: Path) -> None:
    expected = spec.sha256
    side = _sidecar(path)
    if expected is None and side.is_file():
        expected = side.read_text().split()[0] if side.read_text().strip() else None
    if expected is None:
        return
    digest = sha256_of(path)
    if digest != expected:
        raise WeightsError(f"{path}: sha256 {digest} does not match the recorded {expected}; "
                           f"the file is corrupt or was replaced; delete it to download "
                           f"{spec.url} again")


def load_weights(name_or_path: str) -> dict:
    """Resolve a registry name or a local path (:func:`resolve_weights`, downloading if
    needed) and read it safely (:func:`~ppgan_fom.checkpoint.load_checkpoint`): the
    checkpoint loader handed to the face detectors."""
    return load_checkpoint(resolve_weights(name_or_path))
