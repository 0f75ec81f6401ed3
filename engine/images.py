"""Reading and writing photos as the rest of the engine expects them: RGB uint8, H x W x 3.

Every odd-but-usable input is normalised here, once, so no other module has to care:
EXIF orientation is applied, alpha is composited on white, 16-bit and float images are scaled to 8 bits,
grayscale and palette images become RGB, and huge images are reduced so their longer side is at most
``MAX_SIDE`` (a 12000 x 12000 photo would otherwise cost gigabytes in every encoding).
Anything that is not an image raises ImageReadError with a one-line reason.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from .errors import ImageReadError
from .fileio import atomic_output, open_input

MAX_SIDE = 4096
# The most pixels an image may decode to, checked from its header before any pixel is decoded: a 1 MB PNG can
# claim 20000 x 20000, and decoding it took 3.5 GB. A JPEG is decoded already reduced (by 2 to 8, so a 200 MP
# phone photo decodes to 50 MP or less, 0.4 GB at the peak); other formats decode whole, and a 196 MP PNG peaks
# at 1.1 GB (RGB) or 1.8 GB (RGBA: Pillow resizes it premultiplied, a second copy). The largest camera sensors
# (150 MP medium format) stay under the bound.
MAX_DECODE_PIXELS = 200_000_000
# Pillow's own bomb check (a warning, then a refusal at twice its limit) would be a second, vaguer rule than
# MAX_DECODE_PIXELS, which load_image applies to every image this project opens.
Image.MAX_IMAGE_PIXELS = None
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
# EXIF orientation -> the transpose that shows the picture upright (as PIL.ImageOps.exif_transpose)
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


# rows converted at a time when a photo is not stored as 8-bit RGB: the float arithmetic of a 16-bit photo and the
# alpha composite of an RGBA one cover a band, never the whole picture (an 8000 x 6000 16-bit photo held eight
# full-size copies at once when it was converted whole)
_BAND_ROWS = 256
_WIDE_GREY = ("I;16", "I;16B", "I;16L", "I", "F")


def _rgb(img: Image.Image) -> Image.Image:
    """``img`` as an 8-bit RGB PIL image: itself when it is one already, else one new RGB image filled a band of
    rows at a time (so a full-size photo costs one copy more, not several). 16-bit and float are scaled to 8 bits
    (by 65535 or 255, and a float image by 1 when it is at most 1), alpha is composited on white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _WIDE_GREY:
        if mode == "F":
            # numpy's maximum, band by band: NaN anywhere makes it NaN (and the scale 255), as it did when the
            # whole picture was one array; Pillow's getextrema skips a NaN or not depending on where it is
            top = np.max([np.asarray(band).max() for _, band in _bands(img)] or [0])
            hi = 1.0 if top <= 1.0 else 255.0
        else:
            top = (img.getextrema() or (0, 0))[1] if mode == "I" and img.width and img.height else 0
            hi = 65535.0 if mode.startswith("I;16") or top > 255 else 255.0

        def band_rgb(band):  # the grey band as L; paste turns it into RGB (each channel the grey)
            a = np.asarray(band, dtype=np.float64)
            return Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        def band_rgb(band):
            rgba = band.convert("RGBA")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    else:
        return img.convert("RGB")  # 8-bit grey, palette, CMYK...: Pillow converts them to one new copy
    out = Image.new("RGB", img.size)
    for y, band in _bands(img):
        out.paste(band_rgb(band), (0, y))
    return out


def _bands(img: Image.Image):
    """(top row, the image's rows from there) for each band of ``_BAND_ROWS`` rows, top to bottom."""
    w, h = img.size
    for y in range(0, h, _BAND_ROWS):
        yield y, img.crop((0, y, w, min(h, y + _BAND_ROWS)))


@contextlib.contextmanager
def _reading(path: Path):
    """The file opened as a PIL image (not yet decoded); any failure to read it, here or in the ``with`` body
    (where the pixels are decoded), becomes an ImageReadError with a one-line reason."""
    from .detect import native_stderr_silenced

    f = open_input(path, ImageReadError, "image")
    try:
        # a damaged file makes Pillow warn (corrupt EXIF) and libtiff print to fd 2 before the error: the
        # error is the one line. The process's stderr is silenced for TIFFs only (libtiff's is the only native
        # printer here): while it is, another thread's messages are lost too (the app decodes in a worker)
        head = f.read(4)
        if not head:  # said plainly: "not an image file" sent people looking for a format problem
            f.close()
            raise ImageReadError(f"{path}: the file is empty (0 bytes), not an image")
        tiff = head in (b"II*\0", b"MM\0*")
        f.seek(0)
        with f, warnings.catch_warnings(), native_stderr_silenced() if tiff else contextlib.nullcontext():
            warnings.simplefilter("ignore")
            yield Image.open(f)
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (or a format that cannot be read)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{path}: damaged or truncated image ({e})") from None


def load_image(path, max_side: int | None = None) -> np.ndarray:
    """Load a photo as RGB uint8 (H, W, 3), upright per EXIF, at most ``max_side`` pixels on its longer side
    (MAX_SIDE, the app's working size, unless told)."""
    path = Path(path)
    with _reading(path) as img:
        size = img.size  # as the file has it: a 1x20000 strip, reduced to the working size, was said as 1x4096
        arr = np.asarray(_rgb(_decoded(img, path, max_side or MAX_SIDE)))
    if arr.ndim != 3 or arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageReadError(f"{path}: image is too small ({size[0]}x{size[1]} pixels; at least 8 a side)")
    return np.ascontiguousarray(arr)


def load_full_size(path) -> Image.Image:
    """The photo at its own resolution, upright and RGB exactly as load_image reads it (the same orientation,
    alpha and bit-depth rules), but as a PIL image: one copy of the pixels, which the caller may change in
    place (a full-size export pastes the edit into it; a numpy array of Pillow's pixels is read-only, and a
    writable copy of an 8000 x 6000 photo is 144 MB more). A photo stored otherwise (16-bit, float, alpha,
    grey, palette) is converted into one new RGB image, a band of rows at a time: the decoded file and that
    copy are held, no more."""
    path = Path(path)
    with _reading(path) as img:
        return _rgb(_decoded(img, path, 1 << 62))


def upright_size(path) -> tuple[int, int]:
    """(width, height) of the photo as load_image turns it upright, from the file's header (no pixel is
    decoded)."""
    path = Path(path)
    with _reading(path) as img:
        w, h = img.size
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _decoded(img: Image.Image, path: Path, max_side: int) -> Image.Image:
    """``img`` decoded at most ``max_side`` on its longer side and upright. Reduced before it is turned
    upright, so only the reduced picture is ever copied."""
    w, h = img.size
    if max(w, h) > max_side:
        s = max_side / max(w, h)
        img.draft("RGB", (max(1, int(w * s)), max(1, int(h * s))))  # JPEG decodes reduced; others ignore it
    if img.width * img.height > MAX_DECODE_PIXELS:
        fmt = img.format or "this"
        raise ImageReadError(f"{path}: {w}x{h} pixels ({w * h / 1e6:.0f} MP) is more than the "
                             f"{MAX_DECODE_PIXELS // 1_000_000} MP PoseEditor opens in a {fmt} file; reduce it"
                             + ("" if fmt == "JPEG" else " or save it as JPEG (which opens reduced)"))
    img.load()
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    if max(img.size) > max_side:
        s = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                         Image.Resampling.LANCZOS if img.mode in ("RGB", "RGBA", "L") else Image.Resampling.NEAREST)
    method = _UPRIGHT.get(orientation)
    return img if method is None else img.transpose(method)


def image_format(path) -> str:
    """PIL's format name for an output path's suffix; ImageReadError for a suffix no writer knows (checked
    before any work, so a long render never ends in "unknown type")."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ImageReadError(f"{path}: unknown image type {path.suffix or '(no suffix)'!r} (use .png or .jpg)")
    if not _writes_colour(fmt):  # .xbm is black and white only: it failed after the render, not before
        raise ImageReadError(f"{path}: a {path.suffix} image cannot hold a colour picture (use .png or .jpg)")
    return fmt


@functools.lru_cache(maxsize=None)
def _writes_colour(fmt: str) -> bool:
    """Whether PIL writes an RGB picture in ``fmt`` (a 1x1 one, into memory)."""
    import io

    try:
        Image.new("RGB", (1, 1)).save(io.BytesIO(), format=fmt)
    except Exception:  # noqa: BLE001 - any refusal of the writer means no
        return False
    return True


def save_image(path, image: np.ndarray | Image.Image, quality: int = 95) -> None:
    """Write RGB uint8 (or an RGB PIL image) as PNG/JPEG/... chosen by suffix, atomically (engine.fileio)."""
    fmt = image_format(path)
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
    kw = {"quality": quality} if fmt == "JPEG" else {}
    with atomic_output(path, "image") as tmp:
        img.save(tmp, format=fmt, **kw)
