"""Checkpoints: written atomically (rt_style.atomic), loaded with one-line errors."""

from __future__ import annotations

from pathlib import Path

import torch

from rt_style.atomic import atomic_file
from rt_style.contract import ModelInfo
from rt_style.errors import UserError

FORMAT = "rtstyle-checkpoint-1"


def save_atomic(obj, path) -> None:
    """torch.save through rt_style.atomic: fsynced, then renamed over `path`."""
    with atomic_file(path) as f:
        torch.save(obj, f)


def checkpoint_file(path) -> Path:
    """The checkpoint file a path names: itself, or a run folder's checkpoints/last.pt."""
    path = Path(path)
    return path / "checkpoints" / "last.pt" if path.is_dir() else path


def load(path) -> dict:
    """Load a training checkpoint (a run folder is accepted too: its checkpoints/last.pt; an
    exported .onnx model gives its weights and description, train.onnx_weights)."""
    if Path(path).suffix.lower() == ".onnx" and Path(path).is_file():
        try:
            from train.onnx_weights import checkpoint_from_onnx
        except ImportError:  # onnx comes with the export extra
            raise UserError(f"reading {path} needs the onnx package: pip install -e "
                            "'.[export]'") from None
        return checkpoint_from_onnx(path)
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


def load_model(path) -> tuple:
    """(StyleNet in eval mode, its ModelInfo) from a checkpoint."""
    from train.model import StyleNet

    ckpt = load(path)
    try:
        model = StyleNet.from_architecture(ckpt["architecture"])
    except (ValueError, TypeError) as e:  # a preset gone, or fields from a newer rtstyle
        raise UserError(f"{path}: cannot rebuild its network: {e}") from None
    model.load_state_dict(ckpt["model"])
    return model.eval(), ModelInfo.from_dict(ckpt["meta"])
