"""Diversity: how different the outputs under random α are, measured against how far their
losses stray from those at the defaults (a model could be diverse by being wrong)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from evaluation.adjustability import layer_losses
from evaluation.stylizer import one_hot
from rt_style.contract import ModelInfo


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ over the mean of ‖a‖ and ‖b‖: 0 for equal features, scale-free across layers."""
    return float((a - b).norm() / ((a.norm() + b.norm()) / 2).clamp_min(1e-12))


@torch.no_grad()
def diversity(stylize, vgg, images, grams, info: ModelInfo, k: int, alphas: np.ndarray) -> dict:
    """Outputs under each row of `alphas` for every image: how far apart they are, and how
    their per-layer losses compare with the output at the defaults."""
    cl, sl = info.content_layers, info.style_layers
    layers = cl + sl
    r = len(alphas)
    defaults = torch.tensor([info.alpha_defaults])
    a = torch.from_numpy(alphas.astype(np.float32))
    pix, feat, ref_pix, ref_feat, ratios = [], [], [], [], []
    for x in images:
        xs = x[None].expand(r, -1, -1, -1)
        y = stylize(xs, a, one_hot(info.num_styles, k, r))
        y0 = stylize(x[None], defaults, one_hot(info.num_styles, k))
        f, f0, fx = vgg(y, sl), vgg(y0, sl), vgg(x[None], sl)
        for i, j in combinations(range(r), 2):
            pix.append(float((y[i] - y[j]).pow(2).mean().sqrt()) * 255)
            feat.append(float(np.mean([_rel(f[n][i], f[n][j]) for n in sl])))
        ref_pix.append(float((y0 - x).pow(2).mean().sqrt()) * 255)
        ref_feat.append(float(np.mean([_rel(f0[n][0], fx[n][0]) for n in sl])))
        g = {n: grams[n][k].expand(r, -1, -1) for n in sl}
        lrand = layer_losses(vgg, y, xs, cl, sl, g)
        l0 = layer_losses(vgg, y0, x[None], cl, sl, {n: grams[n][k][None] for n in sl})
        ratios.append((lrand / l0.clamp_min(1e-12)).numpy())
    ratios = np.concatenate(ratios)
    return {
        "images": len(images), "random_alpha": alphas.tolist(),
        "pixel_distance": float(np.mean(pix)) if pix else 0.0,
        "vgg_distance": float(np.mean(feat)) if feat else 0.0,
        "pixel_distance_default_vs_input": float(np.mean(ref_pix)),
        "vgg_distance_default_vs_input": float(np.mean(ref_feat)),
        "loss_ratio": {n: {"median": float(np.median(ratios[:, i])),
                           "p10": float(np.percentile(ratios[:, i], 10)),
                           "p90": float(np.percentile(ratios[:, i], 90))}
                       for i, n in enumerate(layers)},
    }
