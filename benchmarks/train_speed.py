"""Training throughput: iterations/s of one training step for each preset on this machine.

Compares the optimised step (no-grad content targets, Style Grams computed once, VGG truncated at
the deepest loss layer) against a naive one (content targets with autograd, style Grams recomputed
every step, the whole VGG-19 run), and channels-last on/off. Results go to a JSON file with the
machine description; run on an otherwise idle machine.

    python benchmarks/train_speed.py --out benchmarks/results/train_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train.config import TrainConfig  # noqa: E402
from train.losses import style_grams_for  # noqa: E402
from train.trainer import Trainer  # noqa: E402
from train.vgg import LAYERS, VGG19  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


class NaiveTrainer(Trainer):
    """The same step without the shortcuts: whole VGG-19 on the output, style Grams per step."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.vgg = VGG19(LAYERS).to(self.device)

    def losses(self, x, alpha, styles):
        styles_dev = [s.to(self.device) for s in self.style_images]
        self.style_grams = style_grams_for(self.vgg, styles_dev, self.cfg.style_layers)
        return super().losses(x, alpha, styles)


def time_interleaved(trainers: dict, warmup: int, steps: int) -> dict:
    """Median seconds per step of each trainer, timed round-robin so that any other load on
    the machine hits every variant alike and their ratios stay meaningful."""
    times = {name: [] for name in trainers}
    for i in range(warmup + steps):
        for name, trainer in trainers.items():
            x = trainer.data[i]
            t0 = time.perf_counter()
            trainer.train_step(x)
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="fast,paper")
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_speed.json"))
    args = ap.parse_args()

    rows = []
    for preset in args.presets.split(","):
        trainers = {}
        for variant, cls, channels_last in (("optimised", Trainer, "off"),
                                            ("optimised+channels-last", Trainer, "on"),
                                            ("naive", NaiveTrainer, "off")):
            cfg = TrainConfig(content=str(DATA / "content" / "train"),
                              styles=[str(DATA / "styles" / "vangogh_starry_night_1889.jpg")],
                              out="/tmp/rtstyle-train-speed", preset=preset, workers=0,
                              crop_size=args.crop_size, batch_size=args.batch_size,
                              channels_last=channels_last, tensorboard=False)
            trainers[variant] = cls(cfg, log=lambda _: None)
        medians = time_interleaved(trainers, args.warmup, args.steps)
        for variant, s in medians.items():
            ratio = medians["naive"] / s
            rows.append({"preset": preset, "variant": variant, "s_per_step": s, "it_s": 1 / s,
                         "speedup_vs_naive": ratio})
            print(f"{preset:6s} {variant:24s} {1 / s:6.2f} it/s  ({s:.2f} s/step, "
                  f"{ratio:.2f}× naive)", flush=True)
    result = {"machine": machine(), "crop_size": args.crop_size, "batch_size": args.batch_size,
              "timed_steps": args.steps, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
