"""Speed benchmarks for benchmarks/RESULTS.md (issue 7), each compared in one run against a
baseline measured alongside it (interleaved call by call, or round by round end to end).

Sections: `graph` (export.optimize's rewrites, one at a time), `presets` (fast vs paper),
`precision` (fp32 vs int8 vs fp16), `threads` (1 vs 2),
`webcam` (the real webcam loop at 640×480), `video` (transcoding at 1280×720, overlapped vs
sequential stages), `train` (training it/s, benchmarks/train_speed.py). Models are exported
from random-init checkpoints unless --checkpoint names trained ones: inference speed does not
depend on the weights' values (the `weights` section checks that when a trained fast model is
given). Exports and clips are cached in --work.

    python benchmarks/speed.py --checkpoint fast=../runs/screen/ext-linear \
        --out benchmarks/results/speed.json       # also writes speed.md, section by section
    python benchmarks/speed.py --prepare   # exports and clips only (needs torch)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rt_style.engine import load_engine  # noqa: E402
from rt_style.scaling import parse_size  # noqa: E402
from rt_style.timing import (  # noqa: E402
    Case,
    cores,
    finish,
    machine,
    run_video,
    run_webcam,
    summary,
    time_interleaved,
)

DATA = ROOT.parent / "shared" / "data"
SECTIONS = ("graph", "presets", "weights", "precision", "threads", "webcam", "video", "train")
CLIP = DATA / "video" / "sam2_02_cups.mp4"  # 1280×720, 29.97 fps, with audio


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ models
def random_checkpoint(preset: str, folder: Path) -> Path:
    """A checkpoint of an untrained network of `preset` (the trainer's own initialisation)."""
    from train.config import TrainConfig
    from train.trainer import Trainer

    last = folder / "checkpoints" / "last.pt"
    if not last.exists():
        cfg = TrainConfig(content=str(DATA / "content" / "eval"),
                          styles=[str(DATA / "styles" / "vangogh_starry_night_1889.jpg")],
                          out=str(folder), preset=preset, steps=1, workers=0, crop_size=64,
                          tensorboard=False)
        Trainer(cfg, log=lambda _: None).save()
    return last


def export(checkpoint: Path, out: Path, fp16=False, int8=False, optimize=True) -> Path:
    """fp32 (and fp16 / int8 variants) next to `out`, unless already there."""
    from export.onnx_export import export_checkpoint, variant_path

    wanted = [out] + [variant_path(out, p) for p, on in (("fp16", fp16), ("int8", int8)) if on]
    if not all(p.exists() for p in wanted):
        export_checkpoint(checkpoint, out, fp16=fp16,
                          int8_dir=str(DATA / "content" / "eval") if int8 else None, log=log,
                          optimize_graph=optimize)
    return out


def models(work: Path, checkpoints: dict) -> dict:
    """name → .onnx path: fast (fp32, fp16, int8) and paper, random-init unless given; and the
    fast model without graph rewrites, and with the first one only (export.optimize)."""
    from export.optimize import optimize_file

    found = {}
    for preset in ("fast", "paper"):
        ckpt = random_checkpoint(preset, work / f"random-{preset}")
        path = export(ckpt, work / f"{preset}-random.onnx", fp16=preset == "fast",
                      int8=preset == "fast")
        found[f"{preset}-random"] = path
        if preset in checkpoints:
            ckpt = Path(checkpoints[preset])
            found[preset] = export(ckpt, work / f"{preset}-trained.onnx",
                                   fp16=preset == "fast", int8=preset == "fast")
        else:
            found[preset] = path
        if preset == "fast":
            name = found["fast"].stem
            found["fast-plain"] = export(ckpt, work / f"{name}-plain.onnx", optimize=False)
            found["fast-gathers"] = work / f"{name}-gathers.onnx"
            if not found["fast-gathers"].exists():
                optimize_file(found["fast-plain"], found["fast-gathers"], passes=("gathers",),
                              log=log)
    return found


def variant(path: Path, precision: str) -> Path:
    from export.onnx_export import variant_path

    return path if precision == "fp32" else variant_path(path, precision)


# ------------------------------------------------------------------------------ clips
def webcam_clip(work: Path, size=(640, 480), frames: int = 150) -> Path:
    """The shared clip's first frames re-encoded at `size`, as a camera would deliver them."""
    import av

    out_path = work / f"camera-{size[0]}x{size[1]}.mp4"
    if out_path.exists():
        return out_path
    with av.open(str(CLIP)) as inp, av.open(str(out_path), "w") as out:
        src = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=src.average_rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.options = {"crf": "20", "preset": "veryfast"}
        for i, frame in enumerate(inp.decode(src)):
            if i >= frames:
                break
            small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            small.pts = None
            out.mux(stream.encode(small))
        out.mux(stream.encode(None))
    return out_path


def video_clip(work: Path, frames: int) -> Path:
    """The first `frames` frames of the shared 1280×720 clip, video and audio stream-copied."""
    import av

    out_path = work / f"clip-720p-{frames}.mp4"
    if out_path.exists():
        return out_path
    with av.open(str(CLIP)) as inp, av.open(str(out_path), "w") as out:
        v = inp.streams.video[0]
        keep = {s.index: out.add_stream_from_template(s) for s in inp.streams
                if s.type in ("video", "audio")}
        end = None
        for i, packet in enumerate(p for p in inp.demux(v) if p.dts is not None):
            if i == frames:
                end = packet.pts * packet.time_base
                break
        inp.seek(0)
        for packet in inp.demux(*[inp.streams[i] for i in keep]):
            if packet.dts is None or (end is not None and packet.pts is not None
                                      and packet.pts * packet.time_base >= end):
                continue
            packet.stream = keep[packet.stream.index]
            out.mux(packet)
    return out_path


# ------------------------------------------------------------------------------ measuring
def interleaved(named: dict, size, frames: int, warmup: int, batch: int = 1) -> list[dict]:
    """Latency of each named engine, interleaved call by call; ratio against the first."""
    cases = [Case(name, engine) for name, engine in named.items()]
    time_interleaved(cases, size, batch, frames, warmup)
    rows = []
    for c in cases:
        s = summary(c.seconds, batch)
        rows.append({"name": c.label, "size": list(size), **s})
    base = rows[0]["median_ms"]
    for r in rows:
        r["speed_vs_first"] = base / r["median_ms"]
    return rows


def rounds(runs: dict, count: int) -> dict:
    """Call each zero-argument runner `count` times, alternating (A B, B A, …); pooled stats."""
    raws = {name: [] for name in runs}
    names = list(runs)
    for i in range(count):
        for name in names if i % 2 == 0 else names[::-1]:
            raws[name].append(runs[name]())
    out = {name: finish(r, r[0].get("batch", 1)) for name, r in raws.items()}
    base = next(iter(out.values()))["median_ms"]
    for r in out.values():
        r["speed_vs_first"] = base / r["median_ms"]
    return out


def md_latency(title: str, rows: list[dict]) -> str:
    lines = [f"**{title}**", "", "| variant | median ms | p90 ms | p99 ms | fps | speed vs first |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['fps']:.1f} | {r['speed_vs_first']:.2f}× |")
    return "\n".join(lines)


def md_e2e(title: str, results: dict) -> str:
    stages = sorted({s for r in results.values() for s in r["stages"]},
                    key=lambda s: list(next(iter(results.values()))["stages"]).index(s)
                    if s in next(iter(results.values()))["stages"] else 99)
    head = " | ".join(f"{s} ms (busy)" for s in stages)
    lines = [f"**{title}**", "", f"| variant | median ms/frame | p90 | fps | overall fps | "
             f"speed vs first | CPU cores used | {head} |",
             "|---|---|---|---|---|---|---|" + "---|" * len(stages)]
    for name, r in results.items():
        cells = " | ".join(
            f"{r['stages'][s]['median_ms']:.1f} ({r['stages'][s]['busy']:.0%})"
            if s in r["stages"] else "–" for s in stages)
        lines.append(f"| {name} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['fps']:.1f} | "
                     f"{r['overall_fps']:.1f} | {r['speed_vs_first']:.2f}× | "
                     f"{r['cpu_cores_used']:.2f} | {cells} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ sections
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma list of sections")
    ap.add_argument("--work", default=str(ROOT.parent / "runs" / "speed"),
                    help="cache of exported models and clips")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="PRESET=PATH",
                    help="a trained checkpoint (or run folder) to use for a preset")
    ap.add_argument("--frames", type=int, default=100, help="timed calls per variant")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=cores())
    ap.add_argument("--size", default="640x480",
                    help="frame size of the graph, precision and threads sections")
    ap.add_argument("--presets-size", default="320x240",
                    help="frame size of the presets and weights sections (paper is slow)")
    ap.add_argument("--rounds", type=int, default=2, help="end-to-end alternating rounds")
    ap.add_argument("--webcam-frames", type=int, default=50, help="timed frames per round")
    ap.add_argument("--video-frames", type=int, default=30, help="timed frames per round")
    ap.add_argument("--train-presets", default="fast,paper")
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--prepare", action="store_true", help="only export models and make clips")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speed.json"))
    args = ap.parse_args()

    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    checkpoints = dict(kv.split("=", 1) for kv in args.checkpoint)
    paths = models(work, checkpoints)
    cam = webcam_clip(work)
    clip = video_clip(work, args.warmup + args.video_frames + 1)
    if args.prepare:
        log("prepared: " + ", ".join(str(p) for p in paths.values()) + f", {cam}, {clip}")
        return
    size = parse_size(args.size, both=True)
    small = parse_size(args.presets_size, both=True)
    t = args.threads
    report = {"machine": machine(), "settings": vars(args),
              "models": {k: str(v) for k, v in paths.items()}, "sections": {}}
    md = [f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
          f"onnxruntime {report['machine']['onnxruntime']}, {report['machine']['os']}."]

    def save():
        """Results so far (a run cut short keeps the sections it finished)."""
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1, default=str) + "\n")
        Path(args.out).with_suffix(".md").write_text("\n\n".join(md) + "\n")

    def engine(path, threads=t):
        return load_engine(path, providers="cpu", threads=threads)

    def latency(name, title, named, at=size):
        start = time.perf_counter()
        rows = interleaved(named, at, args.frames, args.warmup)
        report["sections"][name] = rows
        md.append(md_latency(f"{title} ({at[0]}×{at[1]}, {args.frames} timed calls each, "
                             "interleaved)", rows))
        log(f"{name}: {time.perf_counter() - start:.0f} s")
        save()

    if "graph" in sections:
        latency("graph", f"fast preset fp32 graph rewrites (export.optimize), {t} threads",
                {"as traced": engine(paths["fast-plain"]),
                 "+ gathers outward": engine(paths["fast-gathers"]),
                 "+ sub-pixel upsampling (the export default)": engine(paths["fast"])})
    if "presets" in sections:
        latency("presets", f"fast vs paper preset, fp32, {t} threads",
                {"fast": engine(paths["fast"]), "paper": engine(paths["paper"])}, small)
    if "weights" in sections and paths["fast"] != paths["fast-random"]:
        latency("weights", f"trained vs random-init fast weights, fp32, {t} threads",
                {"fast (trained)": engine(paths["fast"]),
                 "fast (random init)": engine(paths["fast-random"])}, small)
    if "precision" in sections:
        latency("precision", f"fast preset fp32 vs int8 vs fp16, {t} threads",
                {p: engine(variant(paths["fast"], p)) for p in ("fp32", "int8", "fp16")})
    if "threads" in sections:
        latency("threads", "fast preset fp32, 1 vs 2 threads",
                {"1 thread": engine(paths["fast"], 1), "2 threads": engine(paths["fast"], 2)})
    if "webcam" in sections:
        start = time.perf_counter()
        named = {p: engine(variant(paths["fast"], p)) for p in ("fp32", "int8")}
        n, warm = args.webcam_frames, args.warmup
        runs = {f"webcam loop, fast {p}": (lambda e=e: run_webcam(e, cam, (640, 480), n, warm))
                for p, e in named.items()}
        runs["webcam loop, fast fp32, recording"] = lambda: run_webcam(
            named["fp32"], cam, (640, 480), n, warm, sink="record", workdir=work)
        one = engine(paths["fast"], 1)
        runs["webcam loop, fast fp32, 1 thread"] = lambda: run_webcam(one, cam, (640, 480), n,
                                                                      warm)
        runs["webcam loop, fast fp32, --scale 0.75"] = lambda: run_webcam(
            named["fp32"], cam, (640, 480), n, warm, scale=0.75)
        out = rounds(runs, args.rounds)
        report["sections"]["webcam"] = out
        md.append(md_e2e(f"webcam loop end to end, 640×480 from {cam.name} (every frame once, "
                         f"no display), {args.rounds} alternating rounds of {n} frames", out))
        log(f"webcam: {time.perf_counter() - start:.0f} s")
        save()
    if "video" in sections:
        start = time.perf_counter()
        e = engine(paths["fast"])
        runs = {"transcode, overlapped stages": lambda: run_video(e, clip, None, args.warmup,
                                                                  workdir=work),
                "transcode, sequential stages": lambda: run_video(e, clip, None, args.warmup,
                                                                  sequential=True, workdir=work)}
        out = rounds(runs, args.rounds)
        report["sections"]["video"] = out
        md.append(md_e2e(f"video transcoding, 1280×720 ({clip.name}, libx264 defaults), fast "
                         f"fp32, {args.rounds} alternating rounds", out))
        log(f"video: {time.perf_counter() - start:.0f} s")
        save()
    if "train" in sections:
        start = time.perf_counter()
        out_json = work / "train_speed.json"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_speed.py"),
                        "--steps", str(args.train_steps), "--warmup", "1", "--presets",
                        args.train_presets, "--out",
                        str(out_json)], check=True, stdout=sys.stderr)
        train = json.loads(out_json.read_text())
        report["sections"]["train"] = train
        lines = [f"**training it/s** (256² crops, batch {train['batch_size']}, "
                 f"{train['timed_steps']} timed steps, variants interleaved)", "",
                 "| preset | variant | it/s | s/step | speed vs naive |", "|---|---|---|---|---|"]
        lines += [f"| {r['preset']} | {r['variant']} | {r['it_s']:.2f} | {r['s_per_step']:.2f} |"
                  f" {r['speedup_vs_naive']:.2f}× |" for r in train["rows"]]
        md.append("\n".join(lines))
        log(f"train: {time.perf_counter() - start:.0f} s")
        save()
    save()
    print("\n\n".join(md))


if __name__ == "__main__":
    main()
