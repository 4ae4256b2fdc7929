"""Per-example content and style losses, their normalisation and α weighting.

Content: mean squared distance of VGG features; style: squared distance of Gram matrices. Layer
losses differ by orders of magnitude, so each is divided by a running estimate of its own size
(or by fixed scales) before α weights it: the weights alone then set the balance."""

from __future__ import annotations

import torch
import torch.nn as nn


def gram(f: torch.Tensor) -> torch.Tensor:
    """N×C×H×W → N×C×C, normalised by C·H·W (computed in float32 even under autocast)."""
    n, c, h, w = f.shape
    f = f.float().reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def content_loss(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-example mean squared feature distance: N."""
    return (f.float() - target.float()).pow(2).flatten(1).mean(1)


def style_loss(f: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Per-example mean squared Gram distance: N. target_gram: N×C×C (one per example)."""
    return (gram(f) - target_gram).pow(2).flatten(1).mean(1)


def style_grams_for(vgg, styles, style_layers) -> dict:
    """The target Gram matrices: layer → K×C×C, one per painting (each 1×3×H×W in [0, 1])."""
    feats = [vgg(s, style_layers) for s in styles]
    return {n: torch.cat([gram(f[n]) for f in feats]) for n in style_layers}


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per-example mean absolute neighbour difference: N."""
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().flatten(1).mean(1)
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).mean(1)
    return dh + dw


class LossNormalizer(nn.Module):
    """Keeps an EMA L̄_l of each layer's batch-mean loss and rescales L_l to L_l·(Σ_i L̄_i)/L̄_l.

    After this every layer contributes on a comparable scale, so the weights alone set the balance.
    The averages are buffers, hence part of the checkpoint. Under DDP the batch means are averaged
    over ranks first so that every rank normalises identically. A layer whose batch carried no
    weight (`valid` false) keeps its average.
    """

    def __init__(self, num_layers: int, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("ema", torch.zeros(num_layers))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, batch_means: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        batch_means = batch_means.detach().float()
        valid = torch.ones_like(batch_means, dtype=torch.bool) if valid is None else valid
        fresh = valid & (self.ema == 0) & ~self.initialized  # a layer's first batch sets it
        blended = self.ema * self.decay + batch_means * (1.0 - self.decay)
        self.ema.copy_(torch.where(fresh, batch_means, torch.where(valid, blended, self.ema)))
        self.initialized.fill_(bool(self.initialized) or bool((self.ema != 0).all()))

    def factors(self) -> torch.Tensor:
        """L: what each layer's raw loss is multiplied by, (Σ_i L̄_i) / L̄_l."""
        ema = self.ema.clamp_min(1e-12)
        return ema.sum() / ema

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        """losses: N×L raw per-example per-layer losses → N×L normalised (EMA must be updated)."""
        return losses * self.factors()


@torch.no_grad()
def reference_scales(vgg, photos: torch.Tensor, painting: torch.Tensor, target_grams: dict,
                     content_layers: list, style_layers: list) -> torch.Tensor:
    """Per-layer loss sizes for `loss_norm=fixed` (content layers first, then style): L.

    A style layer's size is its loss on the photos themselves (the distance stylization has to
    cover); a content layer's is the content loss of painting crops against the photos (the
    distance a pure texture would stray). Both ends of the trade-off then weigh 1, the balance is
    the same at every α and in every run, and the α-free baseline trained on it is like for like.
    photos, painting: N×3×H×W in [0, 1]; target_grams: layer → 1×C×C of one style.
    """
    fp = vgg(photos)
    fs = vgg(painting, content_layers)
    sizes = [content_loss(fs[n], fp[n]).mean() for n in content_layers]
    sizes += [style_loss(fp[n], target_grams[n].expand(len(photos), -1, -1)).mean()
              for n in style_layers]
    return torch.stack(sizes).clamp_min(1e-12)


def reference_weights(weights: torch.Tensor, num_content: int) -> torch.Tensor:
    """How much each example counts towards a layer's loss scale under `loss_norm=weighted`.

    A style layer's scale is taken where that layer is asked for (its own weight); a content
    layer's where the example is asked to be stylized at all (its mean style weight). So the
    α = 0 corner, whose output is the photo, no longer inflates the style scales and deflates the
    content scale, which would weaken the style at every α. With every α equal (the α-free
    baseline) this is the plain batch mean.
    """
    style = weights[:, num_content:]
    content = style.mean(1, keepdim=True).expand(-1, num_content)
    return torch.cat([content, style], dim=1)


def weighted_total(normalised: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-example weighted sum Σ_l w_{n,l}·L̃_{n,l}, averaged over the batch."""
    return (normalised * weights).sum(1).mean()
