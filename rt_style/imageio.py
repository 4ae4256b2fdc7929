"""Still images in and out: every image reaches the model as 8-bit BGR, whatever it was on disk.

EXIF orientation applied, grey and palette images made colour, 16-bit images reduced to 8 bits.
A transparent image keeps its alpha channel in formats that hold one (PNG, WebP, TIFF). Outputs
are written atomically. The library under `rtstyle image` (rt_style.image) and evaluation.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rt_style.atomic import atomic_output
from rt_style.errors import UserError
from rt_style.scaling import frame_sizes

# What the readers take (PIL's formats that photos come in), here and in training's data.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")


@contextlib.contextmanager
def _reading(path: Path):
    """PIL's failures while opening or decoding `path` as one-line errors."""
    try:
        with warnings.catch_warnings():  # between PIL's two limits it only warns, in 3 lines
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError as e:
        raise UserError(f"cannot read {path}: it claims more pixels than PIL opens ({e}); if "
                        "it is genuine, shrink it with another tool first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        why = "not an image PIL can read" if isinstance(e, UnidentifiedImageError) else str(e)
        raise UserError(f"cannot read {path}: {why}") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed, from the header alone: inputs are checked before any work."""
    with _reading(path), Image.open(path) as im:
        w, h = im.size
        try:
            turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        except Exception:  # a damaged EXIF block: load_image says what is wrong, if anything
            turned = False
    return (h, w) if turned else (w, h)


def load_image(path: Path) -> tuple[Image.Image, Image.Image | None, bytes | None]:
    """(upright 8-bit RGB image, its alpha channel or None, ICC profile or None)."""
    with _reading(path), Image.open(path) as im:
        im.load()
        # An ICC profile describes the stored colours: keep it unless they change model.
        icc = im.info.get("icc_profile") if im.mode in ("RGB", "RGBA", "P") else None
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit (or deeper) grey
        a = np.asarray(im, np.float64)
        peak = 1.0 if im.mode == "F" and a.max() <= 1 else 255.0 if im.mode == "F" else 65535.0
        im = Image.fromarray(np.clip(a / peak * 255 + 0.5, 0, 255).astype(np.uint8))
    transparent = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info)
    if transparent:
        im = im.convert("RGBA")
        return im.convert("RGB"), im.getchannel("A"), icc
    return im.convert("RGB"), None, icc


def image_format(path: Path) -> str:
    """The PIL format that writes `path`, from its suffix."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise UserError(f"cannot write an image to {path}: use .png, .jpg, .webp or .tif")
    return fmt


def save_image(path: Path, rgb: Image.Image, alpha: Image.Image | None, icc=None, log=print,
               quality: int = 95):
    """Write atomically in the format the suffix names; keep alpha where the format can.
    `quality`: JPEG and WebP only."""
    fmt = image_format(path)
    if alpha is not None:
        if fmt in ALPHA_FORMATS:
            rgb = rgb.copy()
            rgb.putalpha(alpha)
        else:
            log(f"note: {fmt} cannot hold transparency: {path} drops the alpha channel")
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if icc:
        options["icc_profile"] = icc
    with atomic_output(path) as tmp:
        try:
            rgb.save(tmp, format=fmt, **options)
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"cannot write {path} as {fmt}: {e}") from None


def to_bgr(rgb: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(rgb)[..., ::-1])


def from_bgr(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))


def resized(im: Image.Image, size, scale, limit=None) -> Image.Image:
    """The image at the size to stylize it at (for sheets: the size of their tiles)."""
    _, work = frame_sizes(im.width, im.height, size, scale, limit=limit)
    return im if work == im.size else im.resize(work, Image.Resampling.LANCZOS)
