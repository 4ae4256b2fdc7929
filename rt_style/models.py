"""`rtstyle models`: the bundled models, their styles and what each α component does.

The models themselves, their names and the words for what a component does are
rt_style.registry's; this module only prints them.
"""

from __future__ import annotations

from pathlib import Path

import click

from rt_style.registry import (
    bundled,
    default_name,
    effect,
    info_or_why,
    models_dir,
    steps_text,
)


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


def describe_model(name: str, path: Path, is_default: bool) -> list[str]:
    """Lines for one model: heading, card, styles, one line per α component."""
    head = f"{name}{'  (default)' if is_default else ''}  —  {_size(path)}"
    info, why = info_or_why(path)
    if info is None:
        return [head, f"  cannot be read: {why}"]
    facts = [f"{info.preset or '?'} preset"]
    if info.steps is not None:
        facts.append(steps_text(info))
    if (info.alpha_curve or "linear") != "linear":
        facts.append(f"{info.alpha_curve} slider curve")
    lines = [f"{head}, {', '.join(facts)}"]
    card = card_line(path)
    if card:
        lines.append(f"  {card}")
    styles = info.style_names
    blend = "  (blend them: --style a:0.7,b:0.3)" if len(styles) > 1 else ""
    lines.append(f"  styles: {', '.join(styles) or '?'}{blend}")
    comps = info.components
    width = max([len(c.layer) for c in comps] + [5])
    lines.append(f"  {'α':<{width}}  {'kind':<7}  default  range   raising it")
    for c in comps:
        rng = f"{_num(c.range[0])}–{_num(c.range[1])}"
        lines.append(f"  {c.layer:<{width}}  {c.kind:<7}  {c.default:<7.2f}  {rng:<6}  "
                     f"{effect(c)}")
    if "content" not in info.kinds and info.content_weight:
        lines.append(f"  content ({', '.join(info.content_layers)}): fixed weight "
                     f"{_num(info.content_weight)}; all style α at 0 asks for the photo itself")
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
