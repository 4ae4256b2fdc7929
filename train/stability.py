"""Temporal stability trained in, without video (issue 16): T(warp(x) + noise) ≈ warp(T(x)).

Between two frames of a video the picture moves a little and the sensor noise is drawn afresh.
A network whose strokes are anchored to the frame instead of the scene, or that turns noise into
texture, flickers. This term asks the stylization of a slightly moved, noisy copy of the photo to
be the moved stylization of the photo, with Gaussian noise, the same α and style for both passes,
compared only where the moved copy has a source pixel. The motion is either a shift by whole
pixels (`shift`, the default), which moves the output exactly, or a small affine warp (rotation,
scale, translation; `affine`), which resamples the output bilinearly: at sub-pixel offsets that
blurs fine strokes, so the term then also punishes texture that follows the scene perfectly
(at weight 50 either motion still costs most of the strokes: benchmarks/RESULTS.md, issue 16).
Like every random draw of the trainer, the warps and the noise are a pure function of (seed,
step, rank), so a resumed run stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MAX_ROTATION = 2.0  # degrees
MAX_SHIFT = 0.02  # of the side: ±5 px on a 256 px crop, about a frame's motion in a video
MAX_SCALE = 0.03  # ±3 %
MAX_NOISE = 0.02  # σ of the noise, uniform in [0, this] per example (0–5 levels of 255)
MOTIONS = ("shift", "affine")
RNG_TAG = 4  # the trainer's other draws use (seed, step, rank) and (seed, step, rank, 1)


@dataclass
class Motion:
    """One step's perturbations: theta N×2×3 (output → input coordinates, as affine_grid
    takes them), sigma N (noise level), and the seed of the noise field."""

    theta: torch.Tensor
    sigma: torch.Tensor
    noise_seed: int
    whole_pixels: bool = False  # round the translation to whole pixels of the image it moves

    def theta_for(self, shape) -> torch.Tensor:
        """theta for an image of `shape` (N×C×H×W); a whole-pixel shift moves it exactly."""
        if not self.whole_pixels:
            return self.theta
        theta = self.theta.clone()
        for axis, side in ((0, shape[-1]), (1, shape[-2])):  # normalised units span 2 / side
            theta[:, axis, 2] = torch.round(theta[:, axis, 2] * side / 2) * 2 / side
        return theta

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """Gaussian noise shaped like `like`, drawn on the CPU so that it is the same on every
        device, times each example's σ."""
        gen = torch.Generator().manual_seed(self.noise_seed)
        z = torch.randn(like.shape, generator=gen, dtype=torch.float32)
        return (z * self.sigma.view(-1, 1, 1, 1)).to(like.device)


def draw(seed: int, step: int, rank: int, n: int, max_rotation: float = MAX_ROTATION,
         max_shift: float = MAX_SHIFT, max_scale: float = MAX_SCALE,
         max_noise: float = MAX_NOISE, motion: str = "affine") -> Motion:
    """The perturbations of one step: a pure function of (seed, step, rank). motion `shift`:
    translation only, by whole pixels (the same random draws, rotation and scale dropped)."""
    if motion not in MOTIONS:
        raise ValueError(f"unknown stability motion {motion!r}: {' or '.join(MOTIONS)}")
    rng = np.random.default_rng([seed, step, rank, RNG_TAG])
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    scale = np.exp(rng.uniform(-np.log1p(max_scale), np.log1p(max_scale), n))
    shift = rng.uniform(-max_shift, max_shift, (n, 2)) * 2  # normalised coordinates span 2
    sigma = rng.uniform(0.0, max_noise, n)
    if motion == "shift":
        angle, scale = np.zeros(n), np.ones(n)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    theta = np.stack([np.stack([cos, -sin, shift[:, 0]], 1),
                      np.stack([sin, cos, shift[:, 1]], 1)], 1)
    return Motion(torch.from_numpy(theta.astype(np.float32)),
                  torch.from_numpy(sigma.astype(np.float32)), int(rng.integers(2 ** 62)),
                  whole_pixels=motion == "shift")


def warp(img: torch.Tensor, theta: torch.Tensor, padding: str = "reflection") -> torch.Tensor:
    """img resampled through the affine map theta (bilinear)."""
    grid = F.affine_grid(theta.to(img.device, torch.float32), list(img.shape),
                         align_corners=False)
    return F.grid_sample(img.float(), grid, mode="bilinear", padding_mode=padding,
                         align_corners=False)


def valid_mask(theta: torch.Tensor, shape) -> torch.Tensor:
    """N×1×H×W: 1 where the warp's source lies wholly inside the image (no padding mixed in)."""
    n, _, h, w = shape
    ones = torch.ones(n, 1, h, w, device=theta.device)
    return (warp(ones, theta, padding="zeros") > 0.999).float()


def stability_loss(net, x: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor,
                   styles: torch.Tensor, num_styles: int, motion: Motion) -> torch.Tensor:
    """Per example (N): masked mean squared difference between T(warp(x) + noise) and warp(y),
    where y = T(x) with the same α and style. The moved input is reflected at the borders, as
    a camera would show more of the scene; those pixels are left out of the comparison."""
    theta = motion.theta_for(x.shape).to(x.device)
    mix = F.one_hot(styles, num_styles).float() if num_styles > 1 else None
    moved = (warp(x, theta) + motion.noise(x)).clamp(0.0, 1.0).to(x.dtype)
    y_moved = net(moved, alpha, mix).float()
    mask = valid_mask(theta, x.shape)
    sq = (y_moved - warp(y, theta)).pow(2).mean(1, keepdim=True) * mask
    return sq.flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1.0)
