"""Samples, so the first command works without any data of one's own: a photo shipped with the
package, and a 4-second clip with a sound track that make_samples.py draws and synthesises on
first use (the repository keeps no videos), then keeps in the cache."""

from __future__ import annotations

import sys
from pathlib import Path

from rt_style.errors import UserError

FOLDER = Path(__file__).resolve().parent
PHOTO = FOLDER / "sample.jpg"


def clip() -> Path:
    """The sample clip, made once into the cache (atomically: a killed run leaves none)."""
    from rt_style.atomic import atomic_output
    from rt_style.engine import cache_dir
    from rt_style.samples.make_samples import write_clip

    path = cache_dir() / "samples" / "sample.mp4"
    if not path.is_file():
        print(f"note: making the sample clip once, into {path}", file=sys.stderr, flush=True)
        with atomic_output(path) as tmp:
            write_clip(tmp, preset="fast")
    return path


def photo() -> Path:
    if not PHOTO.is_file():
        raise UserError(f"the bundled sample {PHOTO} is missing: reinstall rtstyle, or run "
                        "python -m rt_style.samples.make_samples")
    return PHOTO


def inputs_or_sample(inputs: tuple, sample: bool, find) -> tuple:
    """The command's inputs, or the sample that `find()` gives for --sample."""
    if sample and inputs:
        raise UserError("give input files or --sample, not both")
    if sample:
        return (str(find()),)
    if not inputs:
        raise UserError("no input given: name files or folders, or try --sample")
    return inputs
