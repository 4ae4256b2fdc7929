"""Bundled models: ONNX files shipped in rt_style/models/, addressed by name.

Every front end takes `--engine PATH|NAME`; no value means the bundled default.
`rtstyle models` lists them with what each α component does. $RTSTYLE_MODELS_DIR replaces the
folder (tests, or a user's own collection of models).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from rt_style.errors import UserError

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODELS_ENV = "RTSTYLE_MODELS_DIR"
DEFAULT_MODEL = "classics"
ENGINE_SUFFIXES = (".onnx", ".engine", ".plan")

# What weighting one VGG layer's loss does to a picture, in words a user can act on. Style
# layers: the deeper the layer, the larger the patterns its Gram matrix describes. Content
# layers: the deeper, the more the photo may be repainted while its objects stay.
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
    return next((name for name, path in models.items() if read_meta(path)[0] is not None),
                None)


def read_meta(path: Path) -> tuple[dict | None, str | None]:
    """(the model's metadata, None), or (None, why it cannot be read); cached per file version."""
    st = path.stat()
    return _read_meta(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _read_meta(path: Path, _mtime: int, _size: int) -> tuple[dict | None, str | None]:
    from rt_style.engine import load_engine  # onnxruntime only when needed

    try:
        return load_engine(path, providers="cpu", threads=1).meta, None
    except UserError as e:
        return None, str(e)


def resolve(name_or_path: str | None) -> Path:
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
    if name_or_path in models:
        return models[name_or_path]
    known = ", ".join(models) or "none installed"
    raise UserError(f"no model file or bundled model named {name_or_path!r} (bundled: {known})")


# --------------------------------------------------------------------------- rtstyle models
def effect(component: dict) -> str:
    """What raising one α component does, from its kind and VGG layer."""
    kind, layer = component.get("kind", ""), component.get("layer", "")
    if kind == "content":
        return CONTENT_EFFECTS.get(layer.split("_")[0], f"keeps the photo ({layer})")
    if layer in STYLE_EFFECTS:
        return f"more {STYLE_EFFECTS[layer]}"
    if layer.startswith("relu5"):
        return "more of the painting's largest structures"
    return f"more of the painting's {layer} statistics"


def card_line(model: Path) -> str | None:
    """The first line of the model card (NAME.md beside the model), without markdown heading
    marks, or None when there is no card."""
    card = model.with_suffix(".md")
    try:
        text = card.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return None


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _num(v) -> str:
    return f"{float(v):g}"


def steps_text(meta: dict) -> str:
    """'N training steps at S px', counting the steps behind a warm start (--init) too."""
    before = int(meta.get("init_steps") or 0)
    text = f"{int(meta['steps']) + before} training steps at {meta.get('train_size', '?')} px"
    return f"{text} ({before} of them before a warm start)" if before else text


def describe_model(name: str, path: Path, is_default: bool) -> list[str]:
    """Lines for one model: heading, card, styles, one line per α component."""
    head = f"{name}{'  (default)' if is_default else ''}  —  {_size(path)}"
    meta, why = read_meta(path)
    if meta is None:
        return [head, f"  cannot be read: {why}"]
    facts = [f"{meta.get('preset', '?')} preset"]
    if meta.get("steps") is not None:
        facts.append(steps_text(meta))
    if meta.get("alpha_curve", "linear") != "linear":
        facts.append(f"{meta['alpha_curve']} slider curve")
    lines = [f"{head}, {', '.join(facts)}"]
    card = card_line(path)
    if card:
        lines.append(f"  {card}")
    styles = meta.get("style_names", [])
    blend = "  (blend them: --style a:0.7,b:0.3)" if len(styles) > 1 else ""
    lines.append(f"  styles: {', '.join(styles) or '?'}{blend}")
    comps = meta.get("alpha", [])
    width = max([len(c.get("layer") or c["name"]) for c in comps] + [5])
    lines.append(f"  {'α':<{width}}  {'kind':<7}  default  range   raising it")
    for c in comps:
        low, high = c.get("range", (0.0, 1.0))
        rng = f"{_num(low)}–{_num(high)}"
        lines.append(f"  {c.get('layer') or c['name']:<{width}}  {c.get('kind', '?'):<7}  "
                     f"{float(c['default']):<7.2f}  {rng:<6}  {effect(c)}")
    if not any(c.get("kind") == "content" for c in comps) and meta.get("content_weight"):
        lines.append(f"  content ({', '.join(meta.get('content_layers', []))}): fixed weight "
                     f"{_num(meta['content_weight'])}; all style α at 0 asks for the photo "
                     "itself")
    return lines


@click.command("models")
def models_command():
    """List the bundled models, their styles and what each α component does."""
    folder = models_dir()
    models = bundled()
    if not models:
        click.echo(f"no bundled models in {folder}: pass --engine MODEL.onnx "
                   "(make one with `rtstyle train` and `rtstyle export`)")
        return
    default = default_name(models)
    click.echo(f"bundled models in {folder}:\n")
    for name, path in models.items():
        click.echo("\n".join(describe_model(name, path, name == default)) + "\n")
    if default is None:
        click.echo("none of them can be read: pass --engine MODEL.onnx")
        return
    click.echo(f"use one with --engine NAME (no --engine: {default}); "
               "`rtstyle image PHOTO -o SHEET.png --sweep --engine NAME` shows each α at work")
