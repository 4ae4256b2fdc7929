"""`rtstyle train`: every TrainConfig field is an option; a TOML config supplies the rest."""

from __future__ import annotations

from pathlib import Path

import click

from rt_style.errors import UserError
from train.config import TrainConfig

SHORT = {"out": ("-o",), "styles": ("--style", "-s"), "content": ("-c",)}
PATHS, PATH_LISTS = ("content", "out", "init"), ("styles", "sample_images")


def _absolute(values: dict) -> dict:
    """Path options made absolute, from the current folder: config.toml and the checkpoint
    then name the same files from any folder (`--resume`, `--config`)."""
    def absolute(p):
        return str(Path(p).expanduser().absolute()) if str(p).strip() else p

    out = dict(values)
    for k in PATHS:
        if out.get(k):
            out[k] = absolute(out[k])
    for k in PATH_LISTS:
        v = out.get(k)
        if v:
            items = v.split(",") if isinstance(v, str) else v
            out[k] = [absolute(p.strip() if isinstance(p, str) else p) for p in items]
    return out


def _paths(cfg: TrainConfig) -> dict:
    return {k: getattr(cfg, k) for k in PATHS + PATH_LISTS}


def _preset_starts() -> str:
    """What an empty --alpha-default means, from the presets themselves."""
    from collections import Counter

    from train.model import PRESETS

    starts = {name: p.alpha_default for name, p in PRESETS.items()}
    usual = Counter(starts.values()).most_common(1)[0][0]
    return "the preset's start: " + ", ".join(
        [f"{v:g} for {n}" for n, v in starts.items() if v != usual] + [f"{usual:g} for the rest"])


def _options(f):
    defaults = TrainConfig()
    for fld in reversed(TrainConfig.fields()):
        default = getattr(defaults, fld.name)
        flag = f"--{fld.name.replace('_', '-')}"
        names = [flag]
        if fld.name in SHORT:
            names = list(SHORT[fld.name]) + ([] if fld.name == "styles" else [flag])
        if isinstance(default, list):
            shown = ",".join(map(str, default)) or (
                _preset_starts() if fld.name == "alpha_default" else "none")
            f = click.option(*names, fld.name, multiple=True, default=None,
                             help=f"(list; repeat or comma-separate) default: {shown}")(f)
        elif isinstance(default, bool):
            f = click.option(f"{flag}/--no-{fld.name.replace('_', '-')}", fld.name, default=None,
                             help=f"default: {default}")(f)
        else:
            f = click.option(*names, fld.name, type=type(default), default=None,
                             help=f"default: {default}")(f)
    return f


@click.command("train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML file with any of the options below (command line wins).")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None,
              metavar="[CHECKPOINT]",
              help="Continue a run: its checkpoint, or --out's checkpoints/last.pt if empty.")
@_options
def train_command(config_path, resume, **options):
    """Train an α-conditioned style network on a folder of photos and one or more paintings.

    Example: rtstyle train -c photos/ --style starry.jpg -o runs/starry --steps 20000
    """
    from train import checkpoint as ckpt_io

    given = {k: v for k, v in options.items() if v is not None and v != ()}
    for k, v in given.items():
        if isinstance(v, tuple):
            given[k] = ",".join(v)
    given = _absolute(given)
    cfg = TrainConfig()
    if config_path:
        cfg = TrainConfig.from_toml(config_path)
    if resume is not None:
        resume_path = resume or cfg.updated({"out": given.get("out", cfg.out)}).out
        saved = ckpt_io.load(resume_path)["config"]
        cfg = TrainConfig.from_saved(saved)
        cfg = cfg.updated(_absolute(_paths(cfg)))  # runs before absolute paths: from here
        fixed = {"preset", "width", "styles", "style_layers", "content_layers", "alpha_content",
                 "cond_width", "cond_depth", "cond_init", "input_skip"}
        changed = [k for k in given if k in fixed and cfg.updated({k: given[k]}) != cfg]
        if changed:
            raise UserError(f"cannot change {', '.join(changed)} when resuming: "
                            "they define the network; start a new run instead")
    else:
        resume_path = None
    cfg = cfg.updated(given)
    cfg = cfg.updated(_absolute(_paths(cfg)))  # those of a --config file too

    from train.trainer import Trainer

    trainer = Trainer(cfg, resume=resume_path)
    if trainer.step >= cfg.steps:
        raise UserError(f"the run is already at step {trainer.step} of {cfg.steps}: "
                        "raise --steps to train further")
    result = trainer.fit()
    if trainer.is_main:
        click.echo(f"step {result['step']}: checkpoint {result['checkpoint']}, "
                   f"samples in {cfg.out}/samples")
    if result["interrupted"]:
        raise SystemExit(130)
