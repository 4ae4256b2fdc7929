"""Quality against the limit: the network's total loss over that of an optimisation-based
stylization (Gatys et al.) of the same photos, on the trainer's own objective: the same VGG
layers, α weighting and loss normalisation. 1 means the network reaches what per-image
optimisation reaches at that budget."""

from __future__ import annotations

import numpy as np
import torch

from evaluation.adjustability import layer_losses
from evaluation.stylizer import one_hot
from rt_style.contract import ModelInfo
from train.alpha_weights import content_factor, sample_alpha, style_weight
from train.losses import content_loss, style_loss


def loss_weights(info: ModelInfo, alpha) -> np.ndarray:
    """Weight of every loss layer (content first, then style) for α, as the trainer sets it
    (Trainer.loss_weights), from what the model's description records: a fixed content weight
    unless content is in α (then scaled by content_factor), and the slider curve for style."""
    value = {name: float(v) for name, v in zip(info.alpha_names, alpha)}
    cw = float(info.content_weight or 1.0)
    curve, r = info.alpha_curve or "linear", float(info.alpha_range or 100.0)
    top = float(info.style_top or 1.0)
    w = [cw * float(content_factor(value[f"content:{n}"])) if f"content:{n}" in value else cw
         for n in info.content_layers]
    w += [float(style_weight(np.float64(value.get(f"style:{n}", 0.0)), curve, r, top))
          for n in info.style_layers]
    return np.array(w)


@torch.no_grad()
def normaliser_estimate(stylize, vgg, images, grams, info: ModelInfo, styles, per_image: int,
                        seed: int) -> np.ndarray:
    """An estimate of the trainer's loss EMA L̄ (per layer, content first), which the exported
    model does not carry: the mean raw losses of the network's outputs under α drawn the way
    the trainer draws it by default ('extremes': a quarter each uniform, zeros, one-hot, ones),
    over the given images and styles. Uniform α alone underestimates the style layers' L̄ by
    up to 10× (measured on a Starry Night model against its checkpoint's EMA)."""
    cl, sl = info.content_layers, info.style_layers
    rng = np.random.default_rng([seed, 2])
    k_all = info.num_styles
    total = []
    for k in styles:
        g = {n: grams[n][k].expand(per_image, -1, -1) for n in sl}
        for x in images:
            xs = x[None].expand(per_image, -1, -1, -1)
            a = torch.from_numpy(sample_alpha(rng, per_image, info.num_alpha, "extremes"))
            y = stylize(xs, a, one_hot(k_all, k, per_image))
            total.append(layer_losses(vgg, y, xs, cl, sl, g).mean(0).numpy())
    return np.mean(total, axis=0)


def total_loss(vgg, y, x, grams_k, info: ModelInfo, weights, scale, fx=None) -> torch.Tensor:
    """Per-image Σ_l w_l · L_l · (ΣL̄)/L̄_l: the trainer's objective (weighted_total before the
    batch mean) with a fixed normalisation. fx: the photo's content features, if known."""
    cl, sl = info.content_layers, info.style_layers
    fy = vgg(y)
    if fx is None:
        with torch.no_grad():
            fx = vgg(x, cl)
    raw = [content_loss(fy[n], fx[n]) for n in cl]
    raw += [style_loss(fy[n], grams_k[n].expand(len(y), -1, -1)) for n in sl]
    return (torch.stack(raw, 1) * scale * weights).sum(1)


def optimise(vgg, x, grams_k, info: ModelInfo, weights, scale, steps: int, lr: float):
    """Optimisation-based stylization (Gatys et al.) of a batch: Adam on the pixels, started
    from the photo and kept in [0, 1]. Returns (images, mean total loss per step)."""
    y = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    with torch.no_grad():
        fx = vgg(x, info.content_layers)
    history = []
    for _ in range(steps):
        loss = total_loss(vgg, y, x, grams_k, info, weights, scale, fx)
        history.append(float(loss.detach().mean()))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            y.clamp_(0.0, 1.0)
    return y.detach(), history


def quantise(y: torch.Tensor) -> torch.Tensor:
    """Rounded to 8 bits, as every network output is: both sides are compared as images."""
    return (y * 255).round().clamp(0, 255) / 255


def quality(stylize, vgg, images, grams, info: ModelInfo, k: int, scale: np.ndarray,
            steps: int, lr: float) -> dict:
    """Network at the defaults against `steps` of optimisation on the same objective."""
    defaults = info.alpha_defaults
    w = torch.tensor(loss_weights(info, defaults), dtype=torch.float32)
    s = torch.tensor(scale, dtype=torch.float32)
    gk = {n: grams[n][k][None] for n in info.style_layers}
    n = len(images)
    with torch.no_grad():
        y_net = stylize(images, torch.tensor([defaults] * n), one_hot(info.num_styles, k, n))
        net = total_loss(vgg, y_net, images, gk, info, w, s)
    y_opt, history = optimise(vgg, images, gk, info, w, s, steps, lr)
    y_opt = quantise(y_opt)
    with torch.no_grad():
        opt = total_loss(vgg, y_opt, images, gk, info, w, s)
        start = total_loss(vgg, images, images, gk, info, w, s)
    return {"images": n, "steps": steps, "lr": lr, "weights": w.tolist(),
            "normalisation": s.tolist(),
            "network": net.tolist(), "optimised": opt.tolist(), "photo": start.tolist(),
            "ratio": float(net.mean() / opt.mean().clamp_min(1e-12)),
            "ratio_per_image": (net / opt.clamp_min(1e-12)).tolist(),
            "history": history, "_outputs": (y_net, y_opt)}
