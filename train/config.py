"""Training configuration: one dataclass, loadable from TOML, every field overridable on the CLI.

The effective configuration is written next to the checkpoints, so a run can always be repeated.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rt_style.contract import component_names
from rt_style.errors import UserError

ALPHA_SAMPLINGS = ("uniform", "extremes", "batch", "fixed")

# Fields added after runs were already saved, with the value that reproduces those runs: a
# checkpoint's config that lacks one means this, not today's default.
LEGACY = {"input_skip": False, "style_top": 1.0, "identity_weight": 0.0,
          "normalize_weights": False, "stability_weight": 0.0, "anchor_weight": 0.0,
          "stability_motion": "affine", "alpha_default": [0.65]}


@dataclass
class TrainConfig:
    # data
    content: str = ""  # folder of content images (searched recursively)
    styles: list = field(default_factory=list)  # one or more style images
    out: str = "runs/rtstyle"  # run folder: config, checkpoints, samples, metrics
    crop_size: int = 256
    scale_jitter: float = 1.5  # crop side is crop_size × s, s log-uniform in [1/j, j]
    style_size: int = 256  # shorter side of the style image(s) for the Gram targets
    sample_images: list = field(default_factory=list)  # fixed sheet images (default: 2 content)
    workers: int = 1
    # model
    preset: str = "fast-sep"
    width: float = 1.0
    cond_width: int = 0  # Λ overrides; 0 / "" keep the preset's
    cond_depth: int = -1
    cond_init: str = ""
    init: str = ""  # warm start from this checkpoint or exported .onnx; step 0
    input_skip: bool = True  # output = sigmoid(T + k(α)·logit(photo)): α = 0 can be the photo
    # loss
    content_layers: list = field(default_factory=lambda: ["relu2_2"])
    style_layers: list = field(default_factory=lambda: ["relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    content_weight: float = 1.0  # fixed weight of the content loss (normalised units)
    alpha_content: bool = False  # also put the content layers into α
    # where the sliders start (one value, or one per component); empty: the preset's start
    # (Preset.alpha_default). validate() writes it in, so a later preset edit never moves a run.
    alpha_default: list = field(default_factory=list)
    # slider → weight: linear (w = top·α) or exp (w = top·(r^α − 1)/(r − 1))
    alpha_curve: str = "exp"
    alpha_range: float = 1000.0  # r of the exp curve: weights span top/r … top
    style_top: float = 10.0  # a style layer's weight at α = 1 (content weighs content_weight)
    alpha_sampling: str = "extremes"  # uniform | extremes | batch | fixed (α-free baseline)
    alpha_repeat: int = 1  # show each crop this many times per batch, each with its own α
    identity_weight: float = 10.0  # pixel MSE to the photo, × Π(1 − α_k)²: α = 0 is the photo
    # each style layer's Gram is also pulled to the photo's own, weighted by the curve at 1 − α_k:
    # a slider then moves its layer from the photo's statistics to the painting's
    anchor_weight: float = 1.0
    # divide each example's loss by its total weight (content + style): an example asking for
    # 40:1 style no longer drowns one asking for 1:3 in the gradient
    normalize_weights: bool = True
    tv_weight: float = 0.0
    # T(warp(x) + noise) ≈ warp(T(x)) for small random warps and noise: less flicker on video.
    # 15 keeps the strokes (50 paints a tinted photo); benchmarks/RESULTS.md, issue 16
    stability_weight: float = 15.0
    stability_motion: str = "shift"  # train/stability.py: whole-pixel shifts, or affine warps
    ema_decay: float = 0.99
    # plain: running batch mean | weighted: scale each layer where it is asked for |
    # fixed: sizes measured once on photo vs painting (train.losses.reference_scales)
    loss_norm: str = "fixed"
    # optimisation
    steps: int = 40000
    batch_size: int = 4
    lr: float = 1e-3
    lr_conditioner: float = 0.0  # 0: same as lr
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision on CUDA
    channels_last: str = "auto"  # auto (on CUDA) | on | off
    # output
    log_every: int = 10
    sample_every: int = 250
    checkpoint_every: int = 250
    tensorboard: bool = True

    # ----------------------------------------------------------------------------------------
    @property
    def num_alpha(self) -> int:
        return len(self.style_layers) + (len(self.content_layers) if self.alpha_content else 0)

    @property
    def alpha_names(self) -> list[str]:
        return component_names(self.style_layers, self.content_layers, self.alpha_content)

    def alpha_defaults(self) -> list[float]:
        d = [float(v) for v in self.alpha_default]
        if not d:
            from train.model import PRESETS

            d = [PRESETS[self.preset].alpha_default]
        return d * self.num_alpha if len(d) == 1 else d

    @classmethod
    def fields(cls):
        return dataclasses.fields(cls)

    @classmethod
    def from_toml(cls, path) -> TrainConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"config file {path} is not valid TOML: {e}") from None
        data = data.get("train", data)
        return cls().updated(data, source=str(path))

    @classmethod
    def from_saved(cls, saved: dict) -> TrainConfig:
        """The configuration a checkpoint was trained with (see LEGACY)."""
        return cls().updated({**LEGACY, **saved}, source="the checkpoint")

    def updated(self, values: dict, source: str = "command line") -> TrainConfig:
        known = {f.name: f for f in self.fields()}
        changes = {}
        for key, value in values.items():
            key = key.replace("-", "_")
            if key not in known:
                raise UserError(f"unknown option {key!r} in {source}; known: {', '.join(known)}")
            changes[key] = _coerce(key, value, getattr(self, key), source)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def validate(self) -> TrainConfig:
        """Checks that need no files; the data loaders check the files themselves."""
        from train.model import PRESETS
        from train.vgg import check_layers

        if not self.content:
            raise UserError("no content folder given: pass --content DIR (a folder of photos)")
        if not self.styles:
            raise UserError("no style image given: pass --style PAINTING.jpg (repeat for several)")
        if self.preset not in PRESETS:
            raise UserError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        check_layers(self.content_layers + self.style_layers)
        if not self.style_layers:
            raise UserError("style_layers is empty: name at least one VGG layer")
        if self.alpha_sampling not in ALPHA_SAMPLINGS:
            raise UserError(f"unknown alpha_sampling {self.alpha_sampling!r}; "
                            f"choose from {', '.join(ALPHA_SAMPLINGS)}")
        n = len(self.alpha_default)
        if n not in (0, 1, self.num_alpha):
            raise UserError(
                f"alpha_default has {n} values but the model has {self.num_alpha} α components "
                f"({', '.join(self.alpha_names)}): give one value or {self.num_alpha}")
        if any(not 0.0 <= v <= 1.0 for v in self.alpha_defaults()):
            raise UserError("alpha_default values must lie in [0, 1]")
        for name in ("crop_size", "steps", "batch_size", "style_size", "log_every",
                     "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.alpha_repeat < 1 or self.batch_size % self.alpha_repeat:
            raise UserError(f"alpha_repeat {self.alpha_repeat} must divide batch_size "
                            f"{self.batch_size}")
        if self.crop_size < 16:
            raise UserError(f"crop_size {self.crop_size} is too small for VGG; use at least 16")
        if self.scale_jitter < 1.0:
            raise UserError("scale_jitter must be ≥ 1 (1 disables it)")
        if self.loss_norm not in ("plain", "weighted", "fixed"):
            raise UserError(f"unknown loss_norm {self.loss_norm!r}; choose plain, weighted or "
                            "fixed")
        if self.alpha_curve not in ("linear", "exp"):
            raise UserError(f"unknown alpha_curve {self.alpha_curve!r}; choose linear or exp")
        if self.alpha_curve == "exp" and self.alpha_range <= 1:
            raise UserError("alpha_range must be > 1 for the exp curve")
        if self.style_top <= 0:
            raise UserError(f"style_top must be > 0 (got {self.style_top})")
        if self.identity_weight < 0 or self.content_weight < 0:
            raise UserError("identity_weight and content_weight must be ≥ 0")
        if self.anchor_weight < 0:
            raise UserError(f"anchor_weight must be ≥ 0 (got {self.anchor_weight})")
        if self.stability_motion not in ("shift", "affine"):
            raise UserError(f"stability_motion must be shift or affine (got "
                            f"{self.stability_motion!r})")
        if self.stability_weight < 0:
            raise UserError(f"stability_weight must be ≥ 0 (got {self.stability_weight})")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise UserError(f"unknown device {self.device!r}; choose auto, cpu, cuda or mps")
        if self.channels_last not in ("auto", "on", "off"):
            raise UserError("channels_last must be auto, on or off")
        # an empty alpha_default becomes the preset's start here, so the saved run records it
        return self if n else dataclasses.replace(self, alpha_default=self.alpha_defaults()[:1])


def _coerce(key, value, default, source):
    """Convert a TOML or CLI value to the type of the field's default."""
    bad = UserError(f"option {key} in {source} should be {type(default).__name__}, got {value!r}")
    if isinstance(default, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (int, float)) and key == "alpha_default":
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise bad
        out = []
        for v in value:
            if key.startswith("alpha"):
                try:
                    out.append(float(v))
                except (TypeError, ValueError):
                    raise bad from None
            else:
                out.append(str(v))
        return out
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false",
                                                        "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        if not isinstance(value, bool):
            raise bad
        return value
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise bad from None
