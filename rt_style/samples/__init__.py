"""Samples shipped with the package, so the first command works without any data of one's own:
a 4-second clip with a sound track and a photo, drawn and synthesised by make_samples.py."""

from __future__ import annotations

from pathlib import Path

from rt_style.errors import UserError

FOLDER = Path(__file__).resolve().parent
CLIP = FOLDER / "sample.mp4"
PHOTO = FOLDER / "sample.jpg"


def inputs_or_sample(inputs: tuple, sample: bool, path: Path) -> tuple:
    """The command's inputs, or the bundled sample for --sample."""
    if sample and inputs:
        raise UserError("give input files or --sample, not both")
    if sample:
        if not path.is_file():
            raise UserError(f"the bundled sample {path} is missing: reinstall rtstyle, or run "
                            "python -m rt_style.samples.make_samples")
        return (str(path),)
    if not inputs:
        raise UserError("no input given: name files or folders, or try --sample")
    return inputs
