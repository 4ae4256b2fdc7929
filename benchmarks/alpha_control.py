"""Fixed-budget α-control protocol (issues 8, 14): train from scratch, then measure every slider.

Trains the given recipe for a fixed number of steps, then, on held-out photos, sweeps every α
component 0→1 (others at defaults) and reports the drop of its layer's loss, the Spearman ρ of
the sweep, the stylization strength (style loss of the output over the input's), the
picture-side figures of evaluation.picture_side (at --looks-size, 384 px) and a sweep and a
random-α sheet.
Re-running the same command resumes a killed run and re-measures; `--alpha-default` measures
the same network with the sliders starting elsewhere (the start is metadata, not training).

    python benchmarks/alpha_control.py --name paper-recipe -- --alpha-sampling uniform \
        --cond-width 1000 --cond-depth 10 --cond-init normal
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.adjustability import alpha_control  # noqa: E402
from evaluation.picture_side import picture_side, summary_line  # noqa: E402
from rt_style.contract import Component  # noqa: E402
from train import checkpoint as ckpt_io  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.data import center_crop, find_images, load_style  # noqa: E402
from train.losses import style_grams_for  # noqa: E402
from train.sample_sheet import random_alpha_sheet, sample_sheet  # noqa: E402
from train.trainer import Trainer  # noqa: E402
from train.vgg import VGG19  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--runs", default=str(ROOT.parent / "runs" / "alpha_control"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--crop-size", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--style", default=str(DATA / "styles" / "vangogh_starry_night_1889.jpg"))
    ap.add_argument("--eval-images", type=int, default=16)
    ap.add_argument("--eval-size", type=int, default=256)
    ap.add_argument("--looks-size", type=int, default=384)
    ap.add_argument("--alpha-default", type=float, default=None,
                    help="measure with every slider starting here instead of the trained defaults")
    ap.add_argument("overrides", nargs="*", help="extra trainer options as key=value")
    args = ap.parse_args()

    out = Path(args.runs) / args.name
    cfg = TrainConfig(content=str(DATA / "content" / "train"), styles=[args.style], out=str(out),
                      steps=args.steps, crop_size=args.crop_size, batch_size=args.batch_size,
                      sample_every=250, checkpoint_every=50, log_every=10, workers=0,
                      tensorboard=False)
    cfg = cfg.updated(dict(kv.split("=", 1) for kv in args.overrides))
    last = out / "checkpoints" / "last.pt"
    t0 = time.time()
    trainer = Trainer(cfg, resume=str(last) if last.exists() else None)
    if trainer.step < cfg.steps:
        trainer.fit()
    train_s = time.time() - t0

    model, info = ckpt_io.load_model(last)
    tag = ""
    if args.alpha_default is not None:
        info = info.with_defaults([args.alpha_default] * info.num_alpha)
        tag = f"-start{args.alpha_default:g}"
    vgg = VGG19(info.content_layers + info.style_layers)
    paths = find_images(DATA / "content" / "eval")[: args.eval_images]
    images = torch.stack([center_crop(p, args.eval_size) for p in paths])
    with torch.no_grad():
        grams = style_grams_for(vgg, [load_style(args.style, cfg.style_size)], info.style_layers)
    report = alpha_control(model, vgg, images, grams, info)
    looks_images = torch.stack([center_crop(p, args.looks_size) for p in paths])
    looks = picture_side(model, looks_images, info, vgg=vgg, style_grams=grams)
    report.update(name=args.name, steps=info.steps, overrides=args.overrides,
                  train_seconds_this_call=round(train_s), eval_images=len(paths),
                  eval_size=args.eval_size, alpha_defaults=info.alpha_defaults, looks=looks)
    (out / f"alpha_control{tag}.json").write_text(json.dumps(report, indent=1))
    title = f"{args.name} step {info.steps}"
    sheet = sample_sheet(model, list(looks_images[:2]), info.alpha_defaults,
                         info.alpha_names, info.style_names, title=title)
    sheet.save(out / f"sweep{tag}.png")
    random_alpha_sheet(model, list(looks_images[:2]), looks["random_alpha"][:6],
                       info.style_names, title=title).save(out / "random.png")
    comps = report["components"]
    print(f"{args.name}: steps {info.steps}  " + "  ".join(
        f"{Component.parse(n).layer} drop {c['drop']:+.0%} ρ {c['rho']:+.2f}"
        for n, c in comps.items())
        + "  strength " + " ".join(f"{v:.2f}" for v in report["strength"].values()))
    print(f"{args.name}{tag}: looks  " + summary_line(looks))


if __name__ == "__main__":
    main()
