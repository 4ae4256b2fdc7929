"""Where the fast preset spends its time in ONNX Runtime, and which no-retraining settings help.

`profile`: ONNX Runtime's own profiler (SessionOptions.enable_profiling), time per operator
type. `ab`: session-option variants against the runtime's own session (rt_style.engine, which
turns spinning off since issue 7: compare "spinning (ONNX Runtime's default)" with it), each
in its own session, taking turns through Engine.run (rt_style.timing.time_interleaved) so that
other load falls on all alike; speed relative to the runtime's in the same run.
`interference`: whether interleaved sessions slow each other down. `webcam`: the webcam loop
with variants' engines, alternating round by round.

    python benchmarks/ort_tuning.py --model ../runs/speed/fast-trained.onnx profile
    python benchmarks/ort_tuning.py --model ../runs/speed/fast-trained.onnx ab
    python benchmarks/ort_tuning.py --model ../runs/speed/fast-trained.onnx interference
    python benchmarks/ort_tuning.py --model ../runs/speed/fast-trained.onnx webcam \
        --clip ../runs/speed/camera-640x480.mp4 --only spinning --frames 50
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rt_style.contract import IMAGE, STYLIZED  # noqa: E402
from rt_style.engine import OrtEngine, load_engine, session_info  # noqa: E402
from rt_style.scaling import parse_size  # noqa: E402
from rt_style.timing import Case, cores, frames_for, summary, time_interleaved  # noqa: E402


def session(path: Path, threads: int, configure=None) -> OrtEngine:
    """An engine over a plain CPU session (ONNX Runtime's defaults, `threads` intra-op
    threads), with `configure`'s changes."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if configure:
        configure(options)
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OrtEngine(s, session_info(s, path), path)


class BoundEngine(OrtEngine):
    """IO binding: inputs bound from the caller's arrays, output into one preallocated array."""

    def _infer(self, feeds):
        image = feeds[IMAGE]
        if getattr(self, "_shape", None) != image.shape:
            self._shape, self._out = image.shape, np.empty(image.shape, np.uint8)
            self._binding = self.session.io_binding()
        b = self._binding
        for name, value in feeds.items():
            b.bind_cpu_input(name, value)
        b.bind_output(STYLIZED, "cpu", 0, np.uint8, self._out.shape,
                      self._out.__array_interface__["data"][0])
        self.session.run_with_iobinding(b)
        return self._out


def config(**entries):
    def apply(options):
        for k, v in entries.items():
            options.add_session_config_entry(k, v)
    return apply


def attrs(**values):
    def apply(options):
        for k, v in values.items():
            setattr(options, k, v)
    return apply


def variants(path: Path, threads: int) -> dict:
    opt = ort.GraphOptimizationLevel
    v = {
        "runtime (load_engine)": lambda: load_engine(path, providers="cpu", threads=threads),
        "ONNX Runtime's default threads (pinned)": lambda: load_engine(path, providers="cpu"),
        "spinning (ONNX Runtime's default)": lambda: session(path, threads, config(
            **{"session.intra_op.allow_spinning": "1"})),
        "no spinning": lambda: session(path, threads, config(
            **{"session.intra_op.allow_spinning": "0"})),
        "graph opt: extended (no NCHWc layout)": lambda: session(
            path, threads, attrs(graph_optimization_level=opt.ORT_ENABLE_EXTENDED)),
        "graph opt: basic": lambda: session(
            path, threads, attrs(graph_optimization_level=opt.ORT_ENABLE_BASIC)),
        "parallel execution mode": lambda: session(
            path, threads, attrs(execution_mode=ort.ExecutionMode.ORT_PARALLEL,
                                 inter_op_num_threads=threads)),
        "denormals as zero": lambda: session(path, threads, config(
            **{"session.set_denormal_as_zero": "1"})),
        "dynamic block base 4": lambda: session(path, threads, config(
            **{"session.dynamic_block_base": "4"})),
        "io binding, preallocated output": lambda: _bound(path, threads),
    }
    if threads > 1:
        v["thread affinity (pinned)"] = lambda: session(path, threads, config(
            **{"session.intra_op_thread_affinities": ";".join(
                str(i + 2) for i in range(threads - 1))}))
    return v


def _selected(names: dict, only: str | None) -> dict:
    """The baseline (first) and the variants whose names contain one of `only`'s words."""
    if not only:
        return names
    keep = [w.strip() for w in only.split(",")]
    return {k: v for i, (k, v) in enumerate(names.items()) if i == 0 or any(w in k for w in keep)}


def _bound(path, threads):
    e = session(path, threads)
    return BoundEngine(e.session, e.info, e.path)


def profile(path: Path, threads: int, size, runs: int) -> dict:
    """Share of the run time per operator type (ONNX Runtime's profiler)."""
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        e = OrtEngine(s, session_info(s, path), path)
        image = frames_for(size, 1)[0]
        for _ in range(runs):
            e.run(image)
        trace = json.loads(Path(s.end_profiling()).read_text())
    by_type, nodes, total = defaultdict(float), defaultdict(float), 0.0
    runs_us = [ev["dur"] for ev in trace if ev.get("cat") == "Session"
               and ev.get("name") == "model_run"]
    for ev in trace:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            op = ev["args"].get("op_name", "?")
            by_type[op] += ev["dur"]
            nodes[ev["name"][: -len("_kernel_time")]] += ev["dur"]
            total += ev["dur"]
    share = {k: v / total for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])}
    top = sorted(nodes.items(), key=lambda kv: -kv[1])[:12]
    return {"runs": runs, "median_run_ms": float(np.median(runs_us[1:] or runs_us)) / 1e3,
            "kernel_ms_per_run": total / runs / 1e3, "op_share": share,
            "top_nodes_ms": {k: v / runs / 1e3 for k, v in top}}


def interference(path: Path, threads: int, size, frames: int, warmup: int,
                 gaps=(0.0, 0.002, 0.01, 0.05)) -> dict:
    """Does interleaving sessions slow them down (a pool's threads spin after each run)?
    One session timed alone, then alternating call by call with a second one, with a pause
    of `gap` seconds before each call."""
    import time

    a, b = session(path, threads), session(path, threads)
    image = frames_for(size, 1)[0]

    def timed(engine):
        start = time.perf_counter()
        engine.run(image)
        return time.perf_counter() - start

    out = {}
    for gap in gaps:
        for label, others in (("alone", []), ("interleaved", [b])):
            times = []
            for i in range(warmup + frames):
                for other in others:
                    time.sleep(gap)
                    other.run(image)
                time.sleep(gap)
                t = timed(a)
                if i >= warmup:
                    times.append(t)
            out[f"{label}, gap {gap * 1e3:g} ms"] = summary(times)
    return out


def webcam(path: Path, threads: int, names: dict, clip: Path, frames: int, warmup: int,
           count: int) -> dict:
    """The webcam loop (rt_style.timing.run_webcam) with each variant's engine, alternating
    round by round (A B, B A, …)."""
    from rt_style.timing import finish, run_webcam

    engines = {name: make() for name, make in names.items()}
    raws = {name: [] for name in engines}
    order = list(engines)
    for i in range(count):
        for name in order if i % 2 == 0 else order[::-1]:
            raws[name].append(run_webcam(engines[name], clip, None, frames, warmup))
    return {name: finish(r) for name, r in raws.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["profile", "ab", "interference", "webcam"])
    ap.add_argument("--clip", help="webcam: the video to read (e.g. ../runs/speed/camera-640x480"
                                   ".mp4)")
    ap.add_argument("--rounds", type=int, default=4, help="webcam: alternating rounds")
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--threads", type=int, default=cores())
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--only", help="comma list of variant names (substrings) to A/B")
    ap.add_argument("--out", help="JSON results file")
    args = ap.parse_args()
    path = Path(args.model)
    size = parse_size(args.size, both=True)
    if args.what == "profile":
        result = profile(path, args.threads, size, args.frames)
        print(f"median run {result['median_run_ms']:.1f} ms, kernels "
              f"{result['kernel_ms_per_run']:.1f} ms per run")
        for op, share in result["op_share"].items():
            print(f"  {op:28s} {share:6.1%}")
        print("slowest nodes (ms per run):")
        for node, ms in result["top_nodes_ms"].items():
            print(f"  {node:60s} {ms:6.2f}")
    elif args.what == "interference":
        result = interference(path, args.threads, size, args.frames, args.warmup)
        print("| session A's calls | median ms | p90 ms |\n|---|---|---|")
        for name, r in result.items():
            print(f"| {name} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} |")
    elif args.what == "webcam":
        names = _selected(variants(path, args.threads), args.only)
        result = webcam(path, args.threads, names, Path(args.clip), args.frames, args.warmup,
                        args.rounds)
        base = None
        print(f"| webcam loop variant ({args.rounds} alternating rounds of {args.frames} frames)"
              " | median ms/frame | fps | overall fps | stylize ms | capture ms | "
              "speed vs runtime |")
        print("|---|---|---|---|---|---|---|")
        for name, r in result.items():
            base = base or r["median_ms"]
            r["speed_vs_runtime"] = base / r["median_ms"]
            st = r["stages"]
            print(f"| {name} | {r['median_ms']:.1f} | {r['fps']:.1f} | {r['overall_fps']:.1f} | "
                  f"{st['stylize']['median_ms']:.1f} | {st['capture']['median_ms']:.1f} | "
                  f"{r['speed_vs_runtime']:.3f}× |")
    else:
        names = _selected(variants(path, args.threads), args.only)
        cases = [Case(name, make()) for name, make in names.items()]
        time_interleaved(cases, size, 1, args.frames, args.warmup)
        base = None
        result = {}
        print(f"| variant ({size[0]}×{size[1]}, {args.threads} threads, {args.frames} calls, "
              "interleaved) | median ms | p90 ms | speed vs runtime |")
        print("|---|---|---|---|")
        for c in cases:
            s = summary(c.seconds)
            base = base or s["median_ms"]
            s["speed_vs_runtime"] = base / s["median_ms"]
            result[c.label] = s
            print(f"| {c.label} | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | "
                  f"{s['speed_vs_runtime']:.3f}× |")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
