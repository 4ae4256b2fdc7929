"""Training data: random crops from a folder of photos, and the style image(s).

Every batch is a pure function of (seed, step, rank): the crop positions, scales and flips come
from a generator seeded with those numbers. Resuming at step k therefore sees exactly the batches
an uninterrupted run would have seen, with no loader state to save.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from rt_style.errors import UserError
from rt_style.imageio import IMAGE_SUFFIXES  # one list for every reader of photos

# What reading a bad image file raises: PIL's decompression-bomb guard (a header claiming
# billions of pixels) is not an OSError.
UNREADABLE = (UnidentifiedImageError, OSError, Image.DecompressionBombError)


def find_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"content folder not found: {folder}")
    if not folder.is_dir():
        raise UserError(f"content path is not a folder: {folder}")
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_rgb(path) -> Image.Image:
    """Open an image as RGB with its EXIF orientation applied."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL RGB → 3×H×W float in [0, 1]."""
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0


def load_style(path, size: int) -> torch.Tensor:
    """Style image resized so that its shorter side is `size`: 1×3×H×W in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"style image not found: {path}")
    try:
        im = load_rgb(path)
    except UNREADABLE as e:
        raise UserError(f"cannot read style image {path}: {e.__class__.__name__}; "
                        "give a JPEG/PNG/WebP painting") from None
    scale = size / min(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                   Image.Resampling.LANCZOS)
    return to_tensor(im)[None]


def center_crop(path, size: int) -> torch.Tensor:
    """Fixed sheet image: shorter side resized to `size`, centre square: 3×size×size."""
    im = ImageOps.fit(load_rgb(path), (size, size), Image.Resampling.LANCZOS)
    return to_tensor(im)


def random_crops(image: torch.Tensor, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """n random size×size crops of a 1×3×H×W image (upscaled first if it is smaller)."""
    h, w = image.shape[-2:]
    if min(h, w) < size:
        f = size / min(h, w)
        image = torch.nn.functional.interpolate(image, (max(size, round(h * f)),
                                                        max(size, round(w * f))),
                                                mode="bilinear", align_corners=False)
        h, w = image.shape[-2:]
    tops = torch.randint(0, h - size + 1, (n,), generator=gen).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=gen).tolist()
    return torch.cat([image[..., t:t + size, left:left + size] for t, left in zip(tops, lefts)])


class ContentCrops(torch.utils.data.Dataset):
    """Index = training step; item = that step's batch of random crops (B×3×S×S in [0, 1])."""

    def __init__(self, folder, crop_size: int, batch_size: int, scale_jitter: float = 1.5,
                 seed: int = 0, rank: int = 0, log=print):
        self.crop_size, self.batch_size = crop_size, batch_size
        self.scale_jitter, self.seed, self.rank = scale_jitter, seed, rank
        paths = find_images(folder)
        if not paths:
            raise UserError(f"no images (jpg/png/webp) found in content folder {folder}")
        self.paths, self.sizes = [], []
        unreadable = small = 0
        for p in paths:
            try:
                with Image.open(p) as im:
                    w, h = im.size
                    if _orientation(im) in (5, 6, 7, 8):  # rotated by 90°: swap
                        w, h = h, w
            except UNREADABLE:
                unreadable += 1
                continue
            if min(w, h) < crop_size:
                small += 1
                continue
            self.paths.append(p)
            self.sizes.append((w, h))
        if not self.paths:
            if small:
                raise UserError(f"crop size {crop_size} is larger than every image in {folder} "
                                f"({small} too small, {unreadable} unreadable): lower --crop-size")
            raise UserError(f"none of the {len(paths)} files in {folder} could be read as an image")
        self.skipped_unreadable, self.skipped_small = unreadable, small
        if unreadable or small:
            log(f"content: using {len(self.paths)} images; skipped {unreadable} unreadable and "
                f"{small} smaller than the crop size {crop_size}")

    def __len__(self):
        return 1 << 62

    def __getitem__(self, step: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, step, self.rank])
        crops = []
        for _ in range(self.batch_size):
            i = int(rng.integers(len(self.paths)))
            crops.append(self._crop(i, rng))
        return torch.stack(crops)

    def _crop(self, i: int, rng) -> torch.Tensor:
        w, h = self.sizes[i]
        j = math.log(self.scale_jitter)
        side = self.crop_size * math.exp(rng.uniform(-j, j)) if j > 0 else self.crop_size
        side = int(min(max(side, 8), w, h))
        x0 = int(rng.integers(w - side + 1))
        y0 = int(rng.integers(h - side + 1))
        flip = bool(rng.integers(2))
        try:
            im = load_rgb(self.paths[i])
        except UNREADABLE:  # file changed under us: use a neighbour
            return self._crop((i + 1) % len(self.paths), rng)
        im = im.crop((x0, y0, x0 + side, y0 + side))
        if side != self.crop_size:
            im = im.resize((self.crop_size, self.crop_size), Image.Resampling.BILINEAR,
                           reducing_gap=None)
        if flip:
            im = ImageOps.mirror(im)
        return to_tensor(im)


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1
