"""Bundled models: ONNX files shipped in rt_style/models/, addressed by name.

Every front end takes `--engine PATH|NAME`; no value means the bundled default.
"""

from __future__ import annotations

from pathlib import Path

from rt_style.errors import UserError

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "starry"
ENGINE_SUFFIXES = (".onnx", ".engine", ".plan")


def bundled() -> dict[str, Path]:
    """name → path of every bundled model."""
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.onnx"))}


def resolve(name_or_path: str | None) -> Path:
    """A model file from a path, a bundled model's name, or None for the default."""
    models = bundled()
    if name_or_path is None:
        if DEFAULT_MODEL in models:
            return models[DEFAULT_MODEL]
        if models:
            return next(iter(models.values()))
        raise UserError("no bundled model is installed: pass --engine MODEL.onnx "
                        "(make one with `rtstyle train` and `rtstyle export`)")
    path = Path(name_or_path)
    if path.suffix.lower() in ENGINE_SUFFIXES or path.exists():
        if not path.is_file():
            raise UserError(f"model not found: {path}")
        return path
    if name_or_path in models:
        return models[name_or_path]
    known = ", ".join(models) or "none installed"
    raise UserError(f"no model file or bundled model named {name_or_path!r} (bundled: {known})")
