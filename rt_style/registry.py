"""Bundled models: ONNX files shipped in rt_style/models/, addressed by name, and what their α
components do in words a user can act on.

Every front end takes `--engine PATH|NAME`; `resolve` turns that into a file before
rt_style.engine opens it (no value means the bundled default). $RTSTYLE_MODELS_DIR replaces the
folder (tests, or a user's own collection of models).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from rt_style.contract import Component, ModelInfo
from rt_style.engine import TRT_SUFFIXES, read_info
from rt_style.errors import UserError

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODELS_ENV = "RTSTYLE_MODELS_DIR"
DEFAULT_MODEL = "classics"
ENGINE_SUFFIXES = (".onnx", *TRT_SUFFIXES)  # what --engine opens as a file

# What weighting one VGG layer's loss does to a picture. Style layers: the deeper the layer, the
# larger the patterns its Gram matrix describes. Content layers: the deeper, the more the photo
# may be repainted while its objects stay.
STYLE_EFFECTS = {
    "relu1_1": "fine colour and grain", "relu1_2": "colour and fine grain",
    "relu2_1": "small brush texture", "relu2_2": "brush texture",
    "relu3_1": "strokes and patterns", "relu3_2": "strokes and patterns",
    "relu3_3": "larger patterns", "relu3_4": "larger patterns",
    "relu4_1": "large motifs and structure", "relu4_2": "large motifs and structure",
    "relu4_3": "large motifs", "relu4_4": "large motifs",
}
CONTENT_EFFECTS = {
    "relu1": "keeps the photo's exact colours and edges",
    "relu2": "keeps the photo's edges and fine detail",
    "relu3": "keeps the photo's shapes",
    "relu4": "keeps objects and layout, lets the surface be repainted",
    "relu5": "keeps only the scene's gist",
}


def models_dir() -> Path:
    """The folder of bundled models: $RTSTYLE_MODELS_DIR when set, else the package's own."""
    return Path(os.environ.get(MODELS_ENV) or MODELS_DIR)


def bundled() -> dict[str, Path]:
    """name → path of every bundled model."""
    return {p.stem: p for p in sorted(models_dir().glob("*.onnx"))}


def default_name(models: dict[str, Path]) -> str | None:
    """The model that no --engine means: DEFAULT_MODEL if bundled, else the first by name that
    can be read (a damaged file must not become everyone's default)."""
    if DEFAULT_MODEL in models:
        return DEFAULT_MODEL
    return next((name for name, path in models.items() if info_or_why(path)[0] is not None),
                None)


def info_or_why(path: Path) -> tuple[ModelInfo | None, str | None]:
    """(the model's description, None), or (None, why it cannot be read); cached per file
    version."""
    st = path.stat()
    return _info_or_why(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _info_or_why(path: Path, _mtime: int, _size: int) -> tuple[ModelInfo | None, str | None]:
    try:
        return read_info(path), None
    except UserError as e:
        return None, str(e)


def resolve(name_or_path: str | Path | None) -> Path:
    """A model file from a path, a bundled model's name, or None for the default."""
    models = bundled()
    if name_or_path is None:
        default = default_name(models)
        if default:
            return models[default]
        if models:
            raise UserError(f"none of the models in {models_dir()} can be read: pass --engine "
                            "MODEL.onnx (`rtstyle models` says what is wrong with each)")
        raise UserError("no bundled model is installed: pass --engine MODEL.onnx "
                        "(make one with `rtstyle train` and `rtstyle export`)")
    path = Path(name_or_path)
    if path.suffix.lower() in ENGINE_SUFFIXES or path.exists():
        if not path.is_file():
            raise UserError(f"model not found: {path}")
        return path
    name = str(name_or_path)
    if name in models:
        return models[name]
    known = ", ".join(models) or "none installed"
    raise UserError(f"no model file or bundled model named {name!r} (bundled: {known})")


def effect(component: Component | dict) -> str:
    """What raising one α component does, from its kind and VGG layer."""
    if isinstance(component, dict):
        kind, layer = component.get("kind", ""), component.get("layer", "")
    else:
        kind, layer = component.kind, component.layer
    if kind == "content":
        return CONTENT_EFFECTS.get(layer.split("_")[0], f"keeps the photo ({layer})")
    if layer in STYLE_EFFECTS:
        return f"more {STYLE_EFFECTS[layer]}"
    if layer.startswith("relu5"):
        return "more of the painting's largest structures"
    return f"more of the painting's {layer} statistics"


def steps_text(info: ModelInfo | dict) -> str:
    """'N training steps at S px', counting the steps behind a warm start (--init) too.
    (A dict: any mapping with those keys, such as an eval report's model entry.)"""
    get = info.get if isinstance(info, dict) else lambda key: getattr(info, key)
    before = int(get("init_steps") or 0)
    text = f"{int(get('steps')) + before} training steps at {get('train_size') or '?'} px"
    return f"{text} ({before} of them before a warm start)" if before else text
