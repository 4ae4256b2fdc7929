"""`rtstyle image`: stylize still images, or show what α does on one as a sheet.

Reading and writing images (8-bit BGR in, alpha channel and colour profile kept, atomic writes)
is rt_style.imageio's; sheets are rt_style.sheet's. This module is the command over them.
"""

from __future__ import annotations

from pathlib import Path

import click
import cv2
from PIL import Image

from rt_style.errors import UserError
from rt_style.frameops import KeepColors
from rt_style.imageio import (
    IMAGE_SUFFIXES,
    from_bgr,
    image_format,
    image_size,
    load_image,
    save_image,
    to_bgr,
)
from rt_style.options import (
    engine_options,
    fixed_alpha,
    keep_colors_option,
    open_engine,
    size_options,
    style_weights,
)
from rt_style.outputs import expand_inputs, plan_outputs
from rt_style.scaling import frame_sizes, resize_frames
from rt_style.sheet import random_sheet, sweep_sheet

SHEET_LIMIT = 512  # sheets shrink inputs to this longer side unless --size/--scale say otherwise


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

    inputs = samples.inputs_or_sample(inputs, sample, samples.photo)
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
