"""Reading and writing photos as the rest of the engine expects them: RGB uint8, H x W x 3.

Every odd-but-usable input is normalised here, once, so no other module has to care:
EXIF orientation is applied, alpha is composited on white, 16-bit and float images are scaled to 8 bits,
grayscale and palette images become RGB, and huge images are reduced so their longer side is at most
``MAX_SIDE`` (a 12000 x 12000 photo would otherwise cost gigabytes in every encoding).
Anything that is not an image raises ImageReadError with a one-line reason.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError
from .fileio import atomic_output

MAX_SIDE = 4096
# PIL refuses images above ~179 MP as "decompression bombs"; we reduce large images ourselves instead.
Image.MAX_IMAGE_PIXELS = 400_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def _to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255) else 255.0
        if mode == "F":
            hi = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))


def load_image(path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Load a photo as RGB uint8 (H, W, 3), upright per EXIF, at most ``max_side`` pixels on its longer side."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if max(img.size) > max_side and img.format == "JPEG":
                    img.draft("RGB", (max_side, max_side))  # decode JPEGs at reduced size: fast, low memory
                img = ImageOps.exif_transpose(img)
                img.load()
                if max(img.size) > max_side:
                    s = max_side / max(img.size)
                    img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                                     Image.Resampling.LANCZOS if img.mode in ("RGB", "RGBA", "L") else
                                     Image.Resampling.NEAREST)
                arr = _to_rgb8(img)
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (or a format that cannot be read)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{path}: damaged or truncated image ({e})") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{path}: image is too large to open") from None
    if arr.ndim != 3 or arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageReadError(f"{path}: image is too small ({arr.shape[1]}x{arr.shape[0]} pixels)")
    return np.ascontiguousarray(arr)


def image_format(path) -> str:
    """PIL's format name for an output path's suffix; ImageReadError for a suffix no writer knows (checked
    before any work, so a long render never ends in "unknown type")."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ImageReadError(f"{path}: unknown image type {path.suffix or '(no suffix)'!r} (use .png or .jpg)")
    return fmt


def save_image(path, image: np.ndarray, quality: int = 95) -> None:
    """Write RGB uint8 as PNG/JPEG/... chosen by suffix, atomically (engine.fileio)."""
    fmt = image_format(path)
    img = Image.fromarray(np.ascontiguousarray(image))
    kw = {"quality": quality} if fmt == "JPEG" else {}
    with atomic_output(path, "image") as tmp:
        img.save(tmp, format=fmt, **kw)
