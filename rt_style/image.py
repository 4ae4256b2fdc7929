"""`rtstyle image`: stylize still images, or show what α does on one as a sheet.

Every image reaches the model as 8-bit BGR, whatever it was on disk: EXIF orientation applied,
grey and palette images made colour, 16-bit images reduced to 8 bits. A transparent image keeps
its alpha channel in formats that hold one (PNG, WebP, TIFF). Outputs are written atomically.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import click
import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rt_style.errors import UserError
from rt_style.frameops import KeepColors
from rt_style.options import (
    engine_options,
    fixed_alpha,
    frame_sizes,
    keep_colors_option,
    open_engine,
    size_options,
    style_weights,
)
from rt_style.outputs import atomic_output, expand_inputs, plan_outputs
from rt_style.scaling import resize_frames
from rt_style.sheet import random_sheet, sweep_sheet

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
SHEET_LIMIT = 512  # sheets shrink inputs to this longer side unless --size/--scale say otherwise


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


def save_image(path: Path, rgb: Image.Image, alpha: Image.Image | None, icc=None, log=print):
    """Write atomically in the format the suffix names; keep alpha where the format can."""
    fmt = image_format(path)
    if alpha is not None:
        if fmt in ALPHA_FORMATS:
            rgb = rgb.copy()
            rgb.putalpha(alpha)
        else:
            log(f"note: {fmt} cannot hold transparency: {path} drops the alpha channel")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
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


def output_namer(sweep: bool, random: int | None):
    """An output's file name in a folder."""
    def name(path: Path) -> str:
        if sweep:
            return f"{path.stem}_sweep.png"
        if random:
            return f"{path.stem}_random.png"
        known = Image.registered_extensions().get(path.suffix.lower()) in Image.SAVE
        return path.name if known else f"{path.stem}.png"
    return name


@click.command("image")
@click.argument("inputs", nargs=-1, metavar="IN…")
@click.option("-o", "--output", required=True, metavar="OUT",
              help="Output file, or a folder (several inputs, or a folder of inputs).")
@click.option("--sample", is_flag=True, help="Stylize the bundled sample photo instead of IN….")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@engine_options
@click.option("--alpha", metavar="v,v,…|name=v,…",
              help="α (default: the model's); for --sweep, where the other components stay.")
@size_options
@keep_colors_option
@click.option("--sweep", is_flag=True,
              help="A sheet: one row per α component, swept across its range.")
@click.option("--steps", type=click.IntRange(2), default=5, show_default=True,
              help="Columns of a --sweep sheet.")
@click.option("--random", "random_n", type=click.IntRange(1), default=None, metavar="N",
              help="A sheet of N stylizations under random α, each labelled.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")
def image_command(inputs, output, sample, force, engine_name, provider, threads, style, alpha,
                  size, scale, keep_scaled_size, keep_colors, sweep, steps, random_n, seed):
    """Stylize images, or make sheets that show what each α component does.

    Outputs keep the input's size (or --size); --scale stylizes a smaller or larger copy and
    resizes the result back. Sheets show inputs at 512 pixels on the longer side unless --size
    or --scale is given.
    """
    from rt_style import samples

    inputs = samples.inputs_or_sample(inputs, sample, samples.PHOTO)
    if sweep and random_n:
        raise UserError("give --sweep or --random, not both")
    if random_n and alpha:
        raise UserError("--random draws α itself: drop --alpha (or use --sweep)")
    files, from_folder = expand_inputs(inputs, IMAGE_SUFFIXES, "image")
    pairs = plan_outputs(files, output, output_namer(sweep, random_n), force,
                         to_folder=from_folder)
    for _, dst in pairs:
        image_format(dst)
    sheet = sweep or random_n
    limit = SHEET_LIMIT if sheet else None
    for src, _ in pairs:  # every input readable and not too large, before any work
        frame_sizes(*image_size(src), size, scale, keep_scaled_size, limit)
    engine = open_engine(engine_name, provider, threads)
    if keep_colors:  # sheets too
        engine = KeepColors(engine)
    base = fixed_alpha(engine, alpha)
    mixture = style_weights(engine, style)
    for src, dst in pairs:
        rgb, mask, icc = load_image(src)
        out_size, work = frame_sizes(rgb.width, rgb.height, size, scale, keep_scaled_size,
                                     limit)
        if work != rgb.size:
            rgb = rgb.resize(work, Image.Resampling.LANCZOS)
        bgr = to_bgr(rgb)
        if sweep:
            save_image(dst, sweep_sheet(engine, bgr, base, mixture, steps), None)
        elif random_n:
            save_image(dst, random_sheet(engine, bgr, mixture, random_n, seed), None)
        else:
            if mask is not None:
                mask = mask.resize(out_size, Image.Resampling.LANCZOS)
            styled = resize_frames(engine.run(bgr, alpha=base, style=mixture), out_size,
                                   cv2.INTER_CUBIC)
            save_image(dst, from_bgr(styled), mask, icc, log=lambda m: click.echo(m, err=True))
        click.echo(f"{dst}")
