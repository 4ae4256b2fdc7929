"""Multiply-adds of every preset per frame: convolutions counted with forward hooks on a real
forward pass at the frame size (so the reflected margin and the padding to the stride count
too), split by the resolution each convolution runs at. Λ, instance norm and the elementwise
ops are left out: a few MFLOP together, but their memory traffic shows only in timings.

    python benchmarks/macs.py                         # every preset at 640×480
    python benchmarks/macs.py --presets fast,mobile --size 1280x720 --json macs.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from rt_style.scaling import parse_size  # noqa: E402
from train.model import PRESETS, ConvCIN, StyleNet  # noqa: E402


def conv_macs(model: StyleNet, width: int = 640, height: int = 480) -> dict:
    """{'total': MACs, 'by_scale': {'1/1': …, '1/2': …}, 'params': transform parameters} of one
    frame through `model` (eval mode, no gradients)."""
    by_scale: dict[str, int] = {}
    hooks = []

    def hook(conv: nn.Conv2d, _inputs, output):
        _, cout, h, w = output.shape
        k = conv.kernel_size[0] * conv.kernel_size[1]
        macs = h * w * cout * (conv.in_channels // conv.groups) * k
        scale = f"1/{round(padded_w / w)}"
        by_scale[scale] = by_scale.get(scale, 0) + macs

    # The fixed blur before a strided stem conv runs in the exported graph as its own depthwise
    # conv, so it counts; the fixed bilinear kernel does not (export folds it into the next conv).
    def blur_hook(layer: ConvCIN, inputs, _output):
        _, c, h, w = inputs[0].shape
        scale = f"1/{round(padded_w / w)}"
        by_scale[scale] = by_scale.get(scale, 0) + h * w * c * layer.blur_kernel[0].numel()

    for m in model.transform.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(hook))
        if isinstance(m, ConvCIN) and m.blur_kernel is not None:
            hooks.append(m.register_forward_hook(blur_hook))
    m = model.frame_margin
    s = model.frame_stride
    padded_w = width + 2 * m + (-(width + 2 * m)) % s  # the frame's scale: 1/1 is full size
    try:
        with torch.no_grad():
            model.eval()(torch.rand(1, 3, height, width), torch.rand(1, model.num_alpha))
    finally:
        for h in hooks:
            h.remove()
    order = sorted(by_scale, key=lambda k: int(k.split("/")[1]))
    return {"total": sum(by_scale.values()), "by_scale": {k: by_scale[k] for k in order},
            "params": sum(p.numel() for p in model.transform.parameters()),
            "cin_layers": len(model.transform.layers)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help="comma-separated presets (default: all)")
    parser.add_argument("--size", default="640x480", help="frame W×H (default 640x480)")
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    w, h = parse_size(args.size, both=True)
    rows = {}
    for name in [p.strip() for p in args.presets.split(",") if p.strip()]:
        if name not in PRESETS:
            sys.exit(f"error: unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        rows[name] = conv_macs(StyleNet(name, width=args.width, input_skip=True), w, h)
    scales = sorted({s for r in rows.values() for s in r["by_scale"]},
                    key=lambda k: int(k.split("/")[1]))
    print(f"conv GMAC per {w}×{h} frame (width {args.width:g})")
    print(f"{'preset':<14}{'GMAC':>7}  " + "".join(f"{s:>7}" for s in scales)
          + f"{'CIN layers':>12}{'params':>9}")
    for name, r in rows.items():
        print(f"{name:<14}{r['total'] / 1e9:>7.3f}  "
              + "".join(f"{r['by_scale'].get(s, 0) / 1e9:>7.3f}" for s in scales)
              + f"{r['cin_layers']:>12}{r['params']:>9}")
    if args.json:
        Path(args.json).write_text(json.dumps({"size": [w, h], "width": args.width,
                                               "presets": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
