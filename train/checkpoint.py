"""Checkpoints: written atomically (temp file + rename), loaded with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from rt_style.errors import UserError
from rt_style.outputs import mkstemp_beside

FORMAT = "rtstyle-checkpoint-1"


def save_atomic(obj, path) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path, text: str) -> None:
    path = Path(path)
    fd, tmp = mkstemp_beside(path)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checkpoint_file(path) -> Path:
    """The checkpoint file a path names: itself, or a run folder's checkpoints/last.pt."""
    path = Path(path)
    return path / "checkpoints" / "last.pt" if path.is_dir() else path


def load(path) -> dict:
    """Load a training checkpoint (a run folder is accepted too: its checkpoints/last.pt)."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated/corrupt files
        raise UserError(f"checkpoint {path} is corrupt or not a checkpoint "
                        f"({e.__class__.__name__}); use another one or retrain") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path} is not an rtstyle checkpoint")
    return ckpt


def load_model(path):
    """(StyleNet in eval mode, metadata dict) from a checkpoint."""
    from train.model import StyleNet

    ckpt = load(path)
    try:
        model = StyleNet.from_architecture(ckpt["architecture"])
    except (ValueError, TypeError) as e:  # a preset gone, or fields from a newer rtstyle
        raise UserError(f"{path}: cannot rebuild its network: {e}") from None
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt["meta"]
