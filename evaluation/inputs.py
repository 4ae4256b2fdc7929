"""What an evaluation reads: the model's description, the held-out photos, the paintings and the
clips. Every folder comes from the caller: nothing here knows where a developer keeps data."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from evaluation.temporal import list_clips
from rt_style.errors import UserError
from rt_style.imageio import IMAGE_SUFFIXES
from rt_style.videoio import VIDEO_SUFFIXES
from train.data import UNREADABLE, center_crop, find_images


def log(msg: str) -> None:
    click.echo(msg, err=True)


def load_images(folder: Path, count: int, size: int) -> tuple[torch.Tensor, list[Path]]:
    """The first `count` readable images of a folder, centre-cropped to size×size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"image folder not found: {folder} (give --images DIR)")
    paths = find_images(folder)
    if not paths:
        raise UserError(f"no images ({'/'.join(s[1:] for s in sorted(IMAGE_SUFFIXES))}) in "
                        f"{folder}")
    images, used, bad = [], [], 0
    for p in paths:
        if len(images) == count:
            break
        try:
            images.append(center_crop(p, size))
            used.append(p)
        except (*UNREADABLE, SyntaxError, ValueError):
            bad += 1
    if not images:
        raise UserError(f"none of the {len(paths)} images in {folder} could be read")
    if bad:
        log(f"note: skipped {bad} unreadable file(s) in {folder}")
    return torch.stack(images), used


def style_paths(names: list[str], given: tuple) -> list[Path]:
    """One painting per style of the model: the files given, in the model's order, or one
    folder holding NAME.* for each style (as `rtstyle train` names styles after their files)."""
    if not given:
        raise UserError(f"give --style-image PATH once per style of the model "
                        f"({', '.join(names)}), in that order, or a folder holding NAME.* for "
                        "each")
    if len(given) == 1 and Path(given[0]).is_dir():
        folder = Path(given[0])
        paths = []
        for name in names:
            found = sorted(p for p in folder.glob(f"{name}.*")
                           if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UserError(f"no painting found for style {name!r} in {folder}: pass "
                                "--style-image PATH (one per style, in the model's order)")
            paths.append(found[0])
        return paths
    if len(given) != len(names):
        raise UserError(f"the model has {len(names)} style(s) ({', '.join(names)}): give "
                        f"--style-image once per style, in that order ({len(given)} given)")
    paths = [Path(p) for p in given]
    for p in paths:
        if not p.is_file():
            raise UserError(f"style image not found: {p}")
    return paths


def clip_paths(given) -> list[Path]:
    """The clips for the warping error: each --video is a clip, or a folder of clips."""
    paths = []
    for v in map(Path, given):
        if v.is_dir():
            clips = list_clips(v)
            if not clips:
                raise UserError(f"no clips ({'/'.join(s[1:] for s in VIDEO_SUFFIXES)}) in {v}")
            paths += clips
        elif v.is_file():
            paths.append(v)
        else:
            raise UserError(f"video not found: {v}")
    return paths
