"""`rtstyle video`: stylize video files with α fixed, keyframed or wandering over time.

Decoding, inference and encoding overlap in three threads (rt_style.pipeline). Output goes to a
hidden temporary file beside the target and is renamed when finished, so the target is never a
half-written file. Ctrl-C / SIGTERM finish the frames in flight and close the file properly: the
output then holds every frame done so far, with the other streams cut at the same time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from rt_style.alpha import Keyframes, RandomWalk
from rt_style.atomic import atomic_output
from rt_style.errors import UserError
from rt_style.frameops import KeepColors, keep_colors
from rt_style.options import (
    engine_options,
    fixed_alpha,
    keep_colors_option,
    open_engine,
    size_options,
    style_weights,
)
from rt_style.outputs import expand_inputs, plan_outputs
from rt_style.pipeline import run_stages
from rt_style.scaling import frame_sizes, resize_frames
from rt_style.stabilizer import Stabilizer, stabilize_option
from rt_style.stopping import graceful_stop
from rt_style.videoio import (
    VIDEO_SUFFIXES,
    DecodeError,
    Encoding,
    VideoReader,
    VideoWriter,
    container_format,
    main_video_stream,
    open_input,
    output_name,
)


def log(message: str):
    tqdm.write(message, file=sys.stderr)


def alpha_schedule(engine, alpha=None, keyframes=None, random_walk=False, seed=None,
                   period=8.0):
    """α as a function of time: fixed (--alpha or the model's defaults), interpolated
    keyframes, or a smooth random walk. Returns f(times) → N×A."""
    if sum(map(bool, (alpha, keyframes, random_walk))) > 1:
        raise UserError("give one of --alpha, --alpha-keyframes and --random-walk")
    if seed is not None and not random_walk:
        raise UserError("--seed goes with --random-walk")
    if keyframes:
        path = Keyframes.parse(keyframes, engine.alpha_names, engine.alpha_defaults,
                               engine.alpha_ranges.tolist())
    elif random_walk:
        ranges = engine.alpha_ranges
        path = RandomWalk(engine.num_alpha, seed or 0, period, ranges[:, 0], ranges[:, 1])
    else:
        a = fixed_alpha(engine, alpha)
        return lambda times: np.broadcast_to(a, (len(times), a.size))
    return lambda times: np.stack([path.at(t) for t in times])


@dataclass
class Outcome:
    frames: int
    expected: int | None
    seconds: float
    complete: bool


def transcode(src: Path, dst: Path, engine, schedule, style, encoding: Encoding, stop,
              batch: int = 1, size=None, scale=None, sequential: bool = False,
              timer=None, keep_scaled: bool = False, stabilize: float = 0.0) -> Outcome:
    """Stylize one video into `dst`. Raises DecodeError after writing the frames before it.

    timer: a pipeline.StageTimer that records decode, stylize and encode times (`rtstyle bench`).
    stabilize: blend strength of the steady picture (rt_style.stabilizer), 0: off.
    """
    steady = Stabilizer(stabilize) if stabilize else None
    kept = isinstance(engine, KeepColors)  # the frame's colours go on last, after the blend
    net = engine.engine if kept else engine
    reader = VideoReader(src, batch, size, scale, encoding.pix_fmt, log=log,
                         keep_scaled=keep_scaled)
    expected = reader.expected_frames
    bar = tqdm(total=expected, unit="frame", desc=src.name, leave=False, dynamic_ncols=True,
               file=sys.stderr, disable=None)  # None: no bar when stderr is not a terminal
    start = time.perf_counter()

    def stylize(chunk):
        if chunk.frames is not None:
            out = net.run(chunk.frames, alpha=schedule(chunk.times), style=style)
            if reader.resize_back:  # --scale: stylized smaller (or larger), shown at full size
                out = resize_frames(out, (reader.first.width, reader.first.height))
            if steady is not None:  # in order, frame after frame (stylize runs in one thread)
                out = np.stack([steady(x, y) for x, y in zip(chunk.frames, out)])
            if kept:
                out = keep_colors(resize_frames(chunk.frames, out.shape[-2:-4:-1]), out)
            chunk.frames = out
        return chunk

    try:
        with atomic_output(dst) as tmp:
            writer = VideoWriter(tmp, container_format(dst), encoding, name=dst, log=log)

            def write(chunk):
                if writer.out is None:
                    writer.open(reader)
                writer.write(chunk)
                bar.update(0 if chunk.frames is None else len(chunk.frames))

            broken = None
            try:
                run_stages(reader.chunks(), stylize, write, stop, sequential=sequential,
                           timer=timer)
            except DecodeError as e:
                broken = e
            except BaseException:
                writer.abort()
                raise
            if writer.frames == 0:  # nothing worth keeping: leave no file at all
                writer.abort()
                raise broken or KeyboardInterrupt
            complete = broken is None and not stop.is_set()
            writer.finish(complete)
    finally:
        bar.close()
        reader.close()
    if broken:
        raise UserError(f"{broken}; {dst} holds the {writer.frames} frames before it")
    return Outcome(writer.frames, expected, time.perf_counter() - start, complete)


@click.command("video")
@click.argument("inputs", nargs=-1, metavar="IN…")
@click.option("-o", "--output", required=True, metavar="OUT",
              help="Output file, or a folder (several inputs, or a folder of inputs).")
@click.option("--sample", is_flag=True,
              help="Stylize the bundled 4-second sample clip (with sound) instead of IN….")
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@engine_options
@click.option("--alpha", metavar="v,v,…|name=v,…", help="Fixed α (default: the model's).")
@click.option("--alpha-keyframes", metavar="T:v,…;T:v,…",
              help="α at times T (seconds), interpolated between them.")
@click.option("--random-walk", is_flag=True, help="α wanders smoothly through its range.")
@click.option("--seed", type=int, default=None, help="Random-walk seed (default 0).")
@click.option("--walk-period", type=click.FloatRange(0, min_open=True), default=8.0,
              show_default=True, help="Random-walk time scale in seconds.")
@size_options
@keep_colors_option
@stabilize_option
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Frames per inference call.")
@click.option("--codec", default="libx264", show_default=True,
              help="Video encoder: libx264, h264_nvenc (alias nvenc), libvpx-vp9, …")
@click.option("--crf", type=click.FloatRange(0, 63), default=None,
              help="Constant quality (x264: 0 lossless … 51; default 23; NVENC: cq).")
@click.option("--bitrate", default=None, help="Target bitrate instead of --crf, e.g. 4M.")
@click.option("--preset", default=None, help="Encoder preset (x264: ultrafast … veryslow).")
@click.option("--pix-fmt", default="yuv420p", show_default=True,
              help="Output pixel format; yuv420p plays everywhere but needs even sides.")
@click.option("--sequential", is_flag=True,
              help="Decode, stylize and encode in turn instead of overlapping (to measure).")
def video_command(inputs, output, sample, force, engine_name, provider, threads, style, alpha,
                  alpha_keyframes, random_walk, seed, walk_period, size, scale,
                  keep_scaled_size, keep_colors, stabilize, batch, codec, crf, bitrate, preset,
                  pix_fmt, sequential):
    """Stylize video files: audio and other streams are copied, timing is kept.

    Outputs keep the input's size (or --size); --scale stylizes smaller (or larger) frames and
    resizes them back. Ctrl-C (or SIGTERM) stops early and keeps a playable OUT with the frames
    done so far; a second Ctrl-C abandons the current file, leaving nothing.
    """
    from rt_style import samples

    inputs = samples.inputs_or_sample(inputs, sample, samples.clip)
    files, from_folder = expand_inputs(inputs, VIDEO_SUFFIXES, "video")
    pairs = plan_outputs(files, output, output_name, force, to_folder=from_folder)
    encoding = Encoding(codec, crf, bitrate, preset, pix_fmt)
    for src, dst in pairs:  # every input readable and not too large, before any work
        container_format(dst)
        with open_input(src) as container:
            cc = main_video_stream(container).codec_context
            if cc.width and cc.height:  # from the header; the first frame has the last word
                frame_sizes(cc.width, cc.height, size, scale, keep_scaled_size)
    engine = open_engine(engine_name, provider, threads)
    if keep_colors:
        engine = KeepColors(engine)
    schedule = alpha_schedule(engine, alpha, alpha_keyframes, random_walk, seed, walk_period)
    mixture = style_weights(engine, style)
    failed = 0
    with graceful_stop() as stop:
        for src, dst in pairs:
            try:
                r = transcode(src, dst, engine, schedule, mixture, encoding, stop, batch, size,
                              scale, sequential, keep_scaled=keep_scaled_size,
                              stabilize=stabilize)
            except UserError as e:
                if len(pairs) == 1:
                    raise
                click.echo(f"error: {e}", err=True)
                failed += 1
                continue
            fps = r.frames / r.seconds if r.seconds else 0.0
            if not r.complete:
                of = f" of {r.expected}" if r.expected else ""
                click.echo(f"interrupted: {dst} holds the first {r.frames}{of} frames", err=True)
                sys.exit(130)
            click.echo(f"{dst}: {r.frames} frames in {r.seconds:.1f} s ({fps:.1f} fps)")
    if failed:
        raise UserError(f"{failed} of {len(pairs)} videos failed")
