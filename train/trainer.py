"""The training loop: T and Λ trained end to end on α-weighted, normalised VGG losses.

Every batch and every α is a pure function of (seed, step, rank), and the checkpoint holds the
model, Λ, optimiser, EMA state and step, so a run killed at any moment and resumed from its last
checkpoint produces the same losses as one that was never interrupted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from rt_style import __version__
from rt_style.atomic import atomic_output, write_text
from rt_style.contract import Component, ModelInfo
from rt_style.errors import UserError
from train import checkpoint as ckpt_io
from train import stability
from train.alpha_weights import (
    content_factor,
    identity_factor,
    sample_alpha,
    sample_styles,
    style_weight,
)
from train.config import TrainConfig
from train.data import ContentCrops, center_crop, load_style, random_crops
from train.losses import (
    LossNormalizer,
    content_loss,
    gram,
    reference_scales,
    reference_weights,
    style_grams_for,
    style_loss,
    total_variation,
)
from train.model import PRESETS, ConditionerSpec, StyleNet
from train.sample_sheet import sample_sheet
from train.vgg import VGG19


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def _ignore_stop_signals(_worker_id):
    """Ctrl-C and a kill of the whole process group reach the loader workers too; the main
    process decides when to stop (after a checkpoint), and the workers end with it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def steps_behind(ck: dict) -> int:
    """Training steps a checkpoint embodies: its own and those of its warm starts."""
    return int(ck["step"]) + int(ck["meta"].get("init_steps") or 0)


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: str | None = None, log=None):
        self.cfg = cfg.validate()
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.rank = int(os.environ.get("RANK", 0))
        self.is_main = self.rank == 0
        self._log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
        self.device = pick_device(cfg.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.out = Path(cfg.out)
        if self.is_main:
            self._check_out()
        self.style_names = [Path(s).stem for s in cfg.styles]
        self.style_images = [load_style(s, cfg.style_size) for s in cfg.styles]
        self.data = ContentCrops(cfg.content, cfg.crop_size, cfg.batch_size // cfg.alpha_repeat,
                                 cfg.scale_jitter, cfg.seed, self.rank, log=self.log)
        sample_paths = cfg.sample_images or [str(p) for p in self.data.paths[:2]]
        self.samples = [center_crop(p, min(cfg.crop_size, 192)) for p in sample_paths]
        if self.is_main:  # only once the inputs are known to be good
            self._prepare_out()

        torch.manual_seed(cfg.seed)
        p = PRESETS[cfg.preset].conditioner
        cond = ConditionerSpec(width=cfg.cond_width or p.width,
                               depth=p.depth if cfg.cond_depth < 0 else cfg.cond_depth,
                               init=cfg.cond_init or p.init)
        self.model = StyleNet(cfg.preset, cfg.num_alpha, len(cfg.styles), cfg.width, cond,
                              input_skip=cfg.input_skip)
        self.layers = list(cfg.content_layers) + list(cfg.style_layers)
        self.vgg = VGG19(self.layers).to(self.device)
        self.normalizer = LossNormalizer(len(self.layers), cfg.ema_decay).to(self.device)
        with torch.no_grad():  # style targets never change: compute their Grams once
            self.style_grams = style_grams_for(
                self.vgg, [s.to(self.device) for s in self.style_images], cfg.style_layers)
        # loss_norm=fixed: each style's per-layer loss sizes, measured once (style × layer)
        self.ref_scales = torch.zeros(len(cfg.styles), len(self.layers), device=self.device)

        self.channels_last = cfg.channels_last == "on" or (
            cfg.channels_last == "auto" and self.device.type == "cuda")
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
            self.vgg.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam([
            {"params": self.model.transform.parameters()},
            {"params": self.model.conditioner.parameters()},
        ], betas=(0.9, 0.999))
        self._set_lr()
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.step = self.init_steps = 0
        if resume is not None:
            self._load(resume)
        elif cfg.init:
            self._init_from(cfg.init)
        if cfg.loss_norm == "fixed" and not bool((self.ref_scales > 0).all()):
            self._measure_scales()
        self.net = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.stop_requested = False
        self.writer = self._tensorboard() if self.is_main and cfg.tensorboard else None

    # ------------------------------------------------------------------------------ utilities
    def log(self, msg: str) -> None:
        if self.is_main:
            self._log(msg)

    def _check_out(self) -> None:
        """Fail before any slow loading if the run folder cannot be created or written."""
        existing = self.out
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            why = "not a folder" if existing.exists() and not existing.is_dir() else "not writable"
            raise UserError(f"cannot write to output folder {self.out} ({existing} is {why}): "
                            "choose another --out")

    def _prepare_out(self) -> None:
        try:
            (self.out / "checkpoints").mkdir(parents=True, exist_ok=True)
            (self.out / "samples").mkdir(exist_ok=True)
            probe = self.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UserError(f"cannot write to output folder {self.out} ({e.strerror}): "
                            "choose another --out") from None

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    @property
    def info(self) -> ModelInfo:
        """The model's description as the checkpoint carries it (export adds the graph's)."""
        cfg = self.cfg
        return ModelInfo(
            components=[Component.parse(n, v) for n, v in zip(cfg.alpha_names,
                                                               cfg.alpha_defaults())],
            style_names=list(self.style_names),
            content_layers=list(cfg.content_layers),
            style_layers=list(cfg.style_layers),
            content_weight=cfg.content_weight,
            alpha_curve=cfg.alpha_curve,
            alpha_range=cfg.alpha_range,
            style_top=cfg.style_top,
            identity_weight=cfg.identity_weight,
            anchor_weight=cfg.anchor_weight,
            stability_weight=cfg.stability_weight,
            stability_motion=cfg.stability_motion if cfg.stability_weight > 0 else None,
            loss_norm=cfg.loss_norm,  # with `fixed`, the divisors (style × layer) travel along
            loss_scales=self.ref_scales.tolist() if cfg.loss_norm == "fixed" else None,
            preset=cfg.preset,
            train_size=cfg.crop_size,
            steps=self.step,
            init_steps=self.init_steps,  # the steps behind a --init warm start
            trained_with=__version__,
            version=__version__,
        )

    # --------------------------------------------------------------------------- checkpoints
    def state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": ckpt_io.FORMAT,
            "step": self.step,
            "config": self.cfg.to_dict(),
            "architecture": self.model.architecture(),
            "meta": self.info.to_dict(),
            "model": self.model.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "ref_scales": self.ref_scales,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
        }

    def save(self) -> Path | None:
        if not self.is_main:
            return None
        path = self.out / "checkpoints" / "last.pt"
        ckpt_io.save_atomic(self.state(), path)
        return path

    def _set_lr(self) -> None:
        transform, conditioner = self.optimizer.param_groups
        transform["lr"] = self.cfg.lr
        conditioner["lr"] = self.cfg.lr_conditioner or self.cfg.lr

    def _load(self, path) -> None:
        ck = ckpt_io.load(path)
        if StyleNet.complete_architecture(ck["architecture"]) != self.model.architecture():
            raise UserError("the checkpoint's network differs from this configuration "
                            "(preset, width, α or styles changed): resume with the saved config")
        self.model.load_state_dict(ck["model"])
        self.normalizer.load_state_dict(ck["normalizer"])
        if "ref_scales" in ck:  # older checkpoints have none: measured afresh if needed
            self.ref_scales.copy_(ck["ref_scales"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self._set_lr()  # the saved state carries the old rates: --resume --lr 3e-4 must win
        self.scaler.load_state_dict(ck["scaler"])
        torch.set_rng_state(ck["rng"]["torch"])
        if "cuda" in ck["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        self.step = int(ck["step"])
        self.init_steps = ck["meta"].get("init_steps")
        if self.init_steps is None:  # saved before the count was kept: ask the --init run
            init = self.cfg.init and Path(self.cfg.init)
            self.init_steps = steps_behind(ckpt_io.load(init)) if init and init.exists() else 0
        if self.is_main:
            self._truncate_metrics(self.step)
        self.log(f"resumed from {path} at step {self.step}")

    def _init_from(self, path) -> None:
        """Warm start: copy every weight the checkpoint shares with this network. Where a shape
        differs (Λ's input grows when styles are added) the overlap is copied and the rest is
        zeroed, so the new inputs start with no effect and the old behaviour is kept."""
        ck = ckpt_io.load(path)
        self.init_steps = steps_behind(ck)
        src, state = ck["model"], self.model.state_dict()
        arch = StyleNet.complete_architecture(ck["architecture"])
        mine = self.model.architecture()
        if any(arch[k] != mine[k]
               for k in ("preset", "width", "conditioner", "input_skip", "transform")):
            raise UserError(f"{path} holds a different kind of network (preset {arch['preset']!r}, "
                            f"width {arch['width']}, input skip {arch.get('input_skip', False)}): "
                            "pick a checkpoint of the same kind, or leave out --init")
        with torch.no_grad():
            for key, old in src.items():
                new = state[key]
                if new.dim() != old.dim():
                    raise UserError(f"{path}: weight {key} does not fit this network")
                overlap = tuple(slice(0, min(a, b)) for a, b in zip(new.shape, old.shape))
                if new.shape != old.shape:
                    new.zero_()
                new[overlap] = old[overlap]
        self.log(f"initialised from {path}")

    def _truncate_metrics(self, step: int) -> None:
        """Drop metric lines a killed run wrote after its last checkpoint."""
        path = self.out / "metrics.jsonl"
        if not path.exists():
            return
        keep = [ln for ln in path.read_text().splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= step]
        write_text(path, "".join(ln + "\n" for ln in keep))

    # ------------------------------------------------------------------------------ training
    @torch.no_grad()
    def _measure_scales(self, batches: int = 8) -> None:
        """loss_norm=fixed: every style's per-layer loss sizes, once, from the first training
        batches and random crops of the painting (identical on every rank)."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        for k, painting in enumerate(self.style_images):
            grams = {n: self.style_grams[n][k:k + 1] for n in cfg.style_layers}
            sizes = []
            for i in range(batches):
                photos = self.data[i].to(self.device)
                crops = random_crops(painting, len(photos), photos.shape[-1], gen).to(self.device)
                sizes.append(reference_scales(self.vgg, photos, crops, grams,
                                              cfg.content_layers, cfg.style_layers))
            self.ref_scales[k] = torch.stack(sizes).mean(0)
        if self.world > 1:
            dist.all_reduce(self.ref_scales)
            self.ref_scales /= self.world
        for name, row in zip(self.style_names, self.ref_scales.tolist()):
            self.log(f"fixed loss scales for {name}: " + ", ".join(
                f"{n} {v:.3g}" for n, v in zip(self.layers, row)))

    def batch_conditioning(self, step: int, n: int):
        """α (n×A) and style indices (n) for one step: a pure function of (seed, step, rank)."""
        rng = np.random.default_rng([self.cfg.seed, step, self.rank, 1])
        if self.cfg.alpha_sampling == "fixed":  # the α-free baseline: always the defaults
            alpha = np.tile(np.float32(self.cfg.alpha_defaults()), (n, 1))
        else:
            alpha = sample_alpha(rng, n, self.cfg.num_alpha, self.cfg.alpha_sampling)
        styles = sample_styles(rng, n, len(self.style_names))
        return torch.from_numpy(alpha), torch.from_numpy(styles)

    def loss_weights(self, alpha: torch.Tensor) -> torch.Tensor:
        """Per-example weight of every loss layer (content first, then style)."""
        cfg = self.cfg
        n_c = len(cfg.content_layers)
        if cfg.alpha_content:
            content = cfg.content_weight * content_factor(alpha[:, :n_c])
            style = alpha[:, n_c:]
        else:
            content = torch.full((alpha.shape[0], n_c), cfg.content_weight, device=alpha.device)
            style = alpha
        return torch.cat([content, style_weight(style, cfg.alpha_curve, cfg.alpha_range,
                                                cfg.style_top)], dim=1)

    def identity_weights(self, alpha: torch.Tensor) -> torch.Tensor:
        """Per-example weight of the pixel term that makes α = 0 the photo: N."""
        style = alpha[:, len(self.cfg.content_layers):] if self.cfg.alpha_content else alpha
        return self.cfg.identity_weight * identity_factor(style)

    def anchor_weights(self, alpha: torch.Tensor) -> torch.Tensor:
        """Per-example weight of each style layer's pull to the photo's own Gram: N×S, the
        slider curve read from the other end (w(1 − α_k)), so α_k = 0.5 sits half way."""
        cfg = self.cfg
        style = alpha[:, len(cfg.content_layers):] if cfg.alpha_content else alpha
        return cfg.anchor_weight * style_weight(1.0 - style, cfg.alpha_curve, cfg.alpha_range,
                                                cfg.style_top)

    def losses(self, x, alpha, styles):
        """Raw per-example per-layer losses (N×L), the output image, and with anchor_weight the
        raw Gram distances of the output to the photo at every style layer (N×S, else None)."""
        cfg = self.cfg
        k = len(self.style_names)
        mix = torch.nn.functional.one_hot(styles, k).float() if k > 1 else None
        y = self.net(x, alpha, mix)
        anchored = cfg.anchor_weight > 0
        with torch.no_grad():
            fc = self.vgg(x, cfg.content_layers + (cfg.style_layers if anchored else []))
        fy = self.vgg(y)
        raw = [content_loss(fy[n], fc[n]) for n in cfg.content_layers]
        raw += [style_loss(fy[n], self.style_grams[n][styles]) for n in cfg.style_layers]
        anchor = (torch.stack([style_loss(fy[n], gram(fc[n])) for n in cfg.style_layers], 1)
                  if anchored else None)
        return torch.stack(raw, dim=1), y, anchor

    def objective(self, norm, weights, y, x, alpha, anchor=None) -> torch.Tensor:
        """Per-example loss: the weighted normalised layer losses, plus the identity pixel term
        and the photo anchor (normalised like its style layer), over the example's total weight
        with normalize_weights (every α then counts alike in the gradient, and α sets only the
        balance)."""
        per_example = (norm * weights).sum(1)
        total = weights.sum(1)
        if self.cfg.identity_weight > 0:
            pixel = (y.float() - x.float()).pow(2).flatten(1).mean(1)
            per_example = per_example + self.identity_weights(alpha) * pixel
        if anchor is not None:
            a_weights = self.anchor_weights(alpha)
            per_example = per_example + (anchor * a_weights).sum(1)
            total = total + a_weights.sum(1)
        if self.cfg.normalize_weights:
            per_example = per_example / total.clamp_min(1e-6)
        return per_example

    def batch_scales(self, raw: torch.Tensor, weights: torch.Tensor):
        """This batch's per-layer loss scale for the normaliser (averaged over DDP ranks)."""
        if self.cfg.loss_norm == "weighted":
            ref = reference_weights(weights, len(self.cfg.content_layers))
        else:
            ref = torch.ones_like(raw)
        sums = torch.stack([(raw * ref).sum(0), ref.sum(0)])
        if self.world > 1:
            dist.all_reduce(sums)
        return sums[0] / sums[1].clamp_min(1e-12), sums[1] > 0

    def train_step(self, x: torch.Tensor) -> dict:
        if self.cfg.alpha_repeat > 1:  # same crops under different α: the α effect stands out
            x = x.repeat(self.cfg.alpha_repeat, 1, 1, 1)
        alpha, styles = self.batch_conditioning(self.step, x.shape[0])
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        alpha, styles = alpha.to(self.device), styles.to(self.device)
        autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype)
                    if self.amp_dtype else nullcontext())
        with autocast:
            raw, y, anchor = self.losses(x, alpha, styles)
        raw = raw.float()
        weights = self.loss_weights(alpha)
        self.normalizer.update(*self.batch_scales(raw.detach(), weights))  # also logged
        if self.cfg.loss_norm == "fixed":
            factor = self.ref_scales[styles].reciprocal()
        else:
            factor = self.normalizer.factors().expand_as(raw)
        norm = raw * factor
        extra = {}
        if anchor is not None:  # on the scale of the style layer it anchors
            anchor = anchor.float() * factor[:, len(self.cfg.content_layers):]
            extra["anchor"] = anchor.detach().mean().item()
        loss = self.objective(norm, weights, y, x, alpha, anchor).mean()
        if self.cfg.tv_weight > 0:
            loss = loss + self.cfg.tv_weight * total_variation(y.float()).mean()
        if self.cfg.stability_weight > 0:  # T(warp(x) + noise) ≈ warp(T(x)): no flicker
            motion = stability.draw(self.cfg.seed, self.step, self.rank, x.shape[0],
                                    motion=self.cfg.stability_motion)
            with autocast:  # the unwrapped model: one DDP forward per backward
                term = stability.stability_loss(self.model, x, y, alpha, styles,
                                                len(self.style_names), motion).mean()
            loss = loss + self.cfg.stability_weight * term
            extra["stability"] = term.item()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        if not math.isfinite(loss.item()):
            raise UserError(f"the loss became {loss.item()} at step {self.step}: "
                            "lower --lr or resume from an earlier checkpoint")
        return {"loss": loss.item(), "raw": dict(zip(self.layers, raw.detach().mean(0).tolist())),
                "ema": dict(zip(self.layers, self.normalizer.ema.tolist())), **extra}

    def write_sheet(self) -> Path | None:
        if not self.is_main:
            return None
        self.model.eval()
        sheet = sample_sheet(self.model, [s.to(self.device) for s in self.samples],
                             self.cfg.alpha_defaults(), self.cfg.alpha_names, self.style_names,
                             title=f"step {self.step}")
        self.model.train()
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        with atomic_output(path) as tmp:
            sheet.save(tmp)
        return path

    def _request_stop(self, signum, _frame):
        if self.stop_requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop_requested = True
        self.log(f"{signal.Signals(signum).name}: saving a checkpoint after this step "
                 "(press Ctrl-C again to abort at once)")

    def _should_stop(self) -> bool:
        if self.world > 1:  # every rank must leave the loop at the same step
            flag = torch.tensor([float(self.stop_requested)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self.stop_requested = bool(flag.item())
        return self.stop_requested

    def fit(self) -> dict:
        cfg = self.cfg
        if self.is_main:
            write_text(self.out / "config.toml", cfg.to_toml())
        loader = torch.utils.data.DataLoader(
            self.data, batch_size=None, sampler=range(self.step, cfg.steps),
            num_workers=cfg.workers, worker_init_fn=_ignore_stop_signals if cfg.workers else None,
            pin_memory=self.device.type == "cuda", persistent_workers=False)
        old = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        quiet = {} if self.is_main else {"disable": True}  # TQDM_DISABLE=1 silences rank 0 too
        bar = tqdm(total=cfg.steps, initial=self.step, dynamic_ncols=True, unit="step",
                   desc="train", **quiet)
        metrics_file = open(self.out / "metrics.jsonl", "a") if self.is_main else None
        t_last, s_last, stats = time.perf_counter(), self.step, {}
        try:
            for x in loader:
                stats = self.train_step(x)
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3g}",
                                **{k: f"{v:.3g}" for k, v in list(stats["raw"].items())[:3]})
                if self.is_main and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                    now = time.perf_counter()
                    rec = {"step": self.step, "loss": stats["loss"], "raw": stats["raw"],
                           "ema": stats["ema"], "it_s": (self.step - s_last) / (now - t_last),
                           "time": time.time()}
                    if "stability" in stats:
                        rec["stability"] = stats["stability"]
                    t_last, s_last = now, self.step
                    metrics_file.write(json.dumps(rec) + "\n")
                    metrics_file.flush()
                    if self.writer:
                        self.writer.add_scalar("loss", stats["loss"], self.step)
                        for k, v in stats["raw"].items():
                            self.writer.add_scalar(f"raw/{k}", v, self.step)
                if self.step % cfg.sample_every == 0:
                    self.write_sheet()
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if self._should_stop():
                    break
        finally:
            bar.close()
            for s, h in old.items():
                signal.signal(s, h)
            if metrics_file:
                metrics_file.close()
        path = self.save()
        if self.step % cfg.sample_every:
            self.write_sheet()
        checksum = self.sync_check()
        if self.writer:
            self.writer.close()
        if self.stop_requested:
            self.log(f"stopped at step {self.step}; checkpoint {path}; continue with --resume")
        return {"step": self.step, "checkpoint": str(path) if path else None,
                "checksum": checksum, "interrupted": self.stop_requested, **stats}

    def sync_check(self) -> str:
        """Hash of the parameters; under DDP verify that every rank holds the same ones."""
        h = hashlib.sha256()
        for t in self.model.state_dict().values():
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        digest = h.hexdigest()[:16]
        if self.world > 1:
            digests = [None] * self.world
            dist.all_gather_object(digests, digest)
            if len(set(digests)) != 1:
                raise RuntimeError(f"ranks diverged: parameter hashes {digests}")
            self.log(f"{self.world} ranks in sync: parameter hash {digest}")
        return digest
