"""Still images: read any Pillow-readable file as an upright RGB uint8 array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..types import PathLike
from .paths import check_input_file

__all__ = ["read_image"]


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert a loaded PIL image of any mode to an (H, W, 3) uint8 RGB array.

    * 16-bit / 32-bit integer greyscale (``I;16*``, ``I``) is scaled from the
      0..65535 range with rounding (``v / 257``), not clipped.
    * Float greyscale (``F``) is taken as 0..255 and clipped.
    * Images with transparency (``RGBA``, ``LA``, ``PA``, palette with a
      transparent index) are composited over **white**.
    * Palette, CMYK, YCbCr, 1-bit, ... go through Pillow's ``convert("RGB")``.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        grey = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.array(img.convert("RGB"), dtype=np.uint8)


def read_image(path: PathLike) -> np.ndarray:
    """Read a still image as an RGB array.

    Args:
        path: image file (anything Pillow reads: JPEG, PNG, BMP, TIFF, WebP, ...).

    Returns:
        ``(H, W, 3)`` ``uint8`` RGB array, values 0..255, in display orientation:
        the EXIF ``Orientation`` tag is applied (so ``H, W`` may be swapped
        relative to the stored pixels). Greyscale is replicated to 3 channels,
        16-bit samples are scaled to 8 bit, alpha is composited over white; only
        the first frame of a multi-frame file is read. The file is opened read-only.

    Raises:
        InputError: one line naming the file, for a missing path, a directory,
            an unreadable file, a file that is not an image or a truncated/corrupt
            image.
    """
    p = Path(path)
    check_input_file(p, InputError, "image")
    try:
        with Image.open(p) as img:
            img.load()  # force full decode so truncation is detected here
            img = ImageOps.exif_transpose(img)
            img.load()
            return _to_rgb_uint8(img)
    except UnidentifiedImageError:
        raise InputError(f"not an image (unrecognised format): {p}") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"image too large to read safely: {p} ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read image {p}: truncated or corrupt ({detail})") from None
