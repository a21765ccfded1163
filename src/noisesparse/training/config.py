"""The resolved configuration of one training run, and its validation.

A run is fully described by a `RunConfig`; its content hash identifies it, so identical
runs requested by two studies are trained once.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from dataclasses import dataclass, field

from ..errors import ConfigError

ACTIVATIONS = ("relu", "gelu", "sigmoid", "tanh", "elu")
TASKS = ("reconstruction", "classification", "language_model")
ARCHS = ("mlp", "transformer")
BIAS_MODES = ("neuron", "shared")
NOISES = ("gaussian", "laplace", "exponential", "poisson")
SCHEDULES = ("constant", "linear")
OPTIMIZERS = ("adam", "sgd")
TOPK_SCHEDULES = ("fixed", "linear", "exponential")
TOPK_MODES = ("mask", "subtract")
UNIT_NORMS = ("none", "encoder", "decoder", "both")
INHIB = ("none", "all_to_all", "interneuron")
# Initialisation: PyTorch's nn.Linear default (the authors'), or weights N(0, 1/fan_in) with
# zero biases (a choice the paper does not fix; the sensitivity ladder's init axis).
INITS = ("torch", "normal")
# Fields added after runs were trained: left out of the hash at their default, so that every
# run planned before they existed keeps its id.
LATE_DEFAULTS = {"init": "torch"}

# Fields that may differ between members of one batched ensemble; every other field
# must be equal, since it fixes shapes, data or the training loop.
MEMBER_FIELDS = ("sigma", "sigma_end", "seed", "lr", "bias_lr", "l1", "grad_clip")


@dataclass(frozen=True)
class RunConfig:
    """One training run. Defaults are the authors'."""

    dataset: str = "cifar10_latents"
    task: str = "reconstruction"
    arch: str = "mlp"  # "transformer": language model; width = MLP hidden units per block
    n_layers: int = 4
    d_model: int = 128
    n_heads: int = 4
    context: int = 128
    width: int = 10_000
    activation: str = "relu"
    act_threshold: float = 1e-4  # |a| above this counts as active for non-ReLU units
    bias: str = "neuron"
    normalize: bool = False  # cosine pre-activation: encoder rows and inputs L2-normalised
    # Sparse coding's constraint: encoder rows and/or decoder columns (the dictionary) kept at
    # unit L2 norm (projected after every step), so an L1 penalty cannot shrink the code by
    # growing the weights
    unit_norm: str = "none"
    topk: int = 0  # explicit Top-K activation keeping the k largest (0: off)
    topk_schedule: str = "fixed"  # or k decays from width to topk over topk_decay of steps
    topk_decay: float = 0.5
    topk_mode: str = "mask"  # "subtract": relu(pre - (k+1)-th largest)
    inhib: str = "none"  # inhibitory circuit: all_to_all (N x N) or one interneuron
    inhib_steps: int = 1
    inhib_eta: float = 1.0
    noise: str = "gaussian"
    sigma: float = 0.0
    schedule: str = "constant"  # "linear": sigma until ramp_start, then linearly to sigma_end
    sigma_end: float = 0.0
    ramp_start: float = 0.5  # fractions of `steps`
    ramp_end: float = 1.0
    l1: float = 0.0  # L1 activation penalty: l1 * mean_b sum_i |z_bi|
    optimizer: str = "adam"
    lr: float = 1e-4
    bias_lr: float | None = None  # separate learning rate for all biases (SGD ablation)
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 1024
    steps: int = 49_000  # 1,000 epochs of 49 steps on 50,000 images
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 490
    eval_size: int = 2048  # held-out inputs used for the metric history
    init: str = "torch"  # INITS

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        d = {k: v for k, v in self.to_dict().items()
             if not (k in LATE_DEFAULTS and v == LATE_DEFAULTS[k])}
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def run_id(self) -> str:
        """Readable id: what a person scans for, plus the content hash that makes it unique."""
        if self.arch == "transformer":
            parts = [self.dataset, "lm", f"L{self.n_layers}d{self.d_model}ff{self.width}"]
        else:
            parts = [self.dataset, self.task[:5], f"n{self.width}", self.activation]
        if self.bias != "neuron":
            parts.append(f"{self.bias}bias")
        if self.normalize:
            parts.append("cos")
        if self.unit_norm != "none":
            parts.append(f"unit{self.unit_norm[:3]}")
        if self.topk:
            parts.append(f"top{self.topk}" + ("" if self.topk_schedule == "fixed"
                                              else self.topk_schedule[:3]))
        if self.init != "torch":
            parts.append(f"init{self.init}")
        if self.inhib != "none":
            parts.append(f"inhib{self.inhib[:3]}{self.inhib_steps}")
        parts.append(f"{self.noise[:5]}{_num(self.sigma)}")
        if self.schedule != "constant":
            parts.append(f"to{_num(self.sigma_end)}")
        if self.l1:
            parts.append(f"l1{_num(self.l1)}")
        parts.append(f"s{self.seed}")
        return "-".join(parts) + "-" + self.hash

    def group_key(self) -> str:
        """Hash of the fields shared by an ensemble (everything but MEMBER_FIELDS)."""
        shared = {k: v for k, v in self.to_dict().items() if k not in MEMBER_FIELDS}
        return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:12]


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


def _num(x: float) -> str:
    return f"{x:g}"


def _choice(name, value, options):
    if value not in options:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(options)}")


def validate(c: RunConfig) -> None:
    # Every real-valued field must be a finite number: NaN compares false with everything
    # and inf (YAML .inf, or 1e400) would pass the range checks below, then poison training.
    # grad_clip = 0 already means "no clipping", so no field needs an infinite value.
    for f in dataclasses.fields(c):
        if f.type not in ("float", "float | None"):
            continue
        value = getattr(c, f.name)
        if value is None and f.type == "float | None":
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise ConfigError(f"{f.name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{f.name} must be finite, got {value!r}")
    _choice("task", c.task, TASKS)
    _choice("activation", c.activation, ACTIVATIONS)
    _choice("bias", c.bias, BIAS_MODES)
    _choice("noise", c.noise, NOISES)
    _choice("schedule", c.schedule, SCHEDULES)
    _choice("optimizer", c.optimizer, OPTIMIZERS)
    _choice("arch", c.arch, ARCHS)
    _choice("init", c.init, INITS)
    if c.init != "torch" and c.arch == "transformer":
        raise ConfigError("init: the Transformer keeps PyTorch's defaults (init=torch only)")
    if (c.arch == "transformer") != (c.task == "language_model"):
        raise ConfigError("task language_model goes with arch transformer, and only with it")
    if c.arch == "transformer":
        if c.activation != "relu" or c.bias != "neuron" or c.topk or c.inhib != "none" \
                or c.normalize or c.l1 or c.unit_norm != "none":
            raise ConfigError("the Transformer has ReLU MLPs with per-neuron biases; the MLP "
                              "ablation options (topk, inhib, normalize, unit_norm, l1, bias) "
                              "do not apply")
        for name in ("n_layers", "d_model", "n_heads", "context"):
            v = getattr(c, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if c.d_model % c.n_heads:
            raise ConfigError(f"d_model {c.d_model} must be divisible by n_heads {c.n_heads}")
    _choice("topk_schedule", c.topk_schedule, TOPK_SCHEDULES)
    _choice("topk_mode", c.topk_mode, TOPK_MODES)
    _choice("inhib", c.inhib, INHIB)
    _choice("unit_norm", c.unit_norm, UNIT_NORMS)
    if c.unit_norm in ("decoder", "both") and c.task != "reconstruction":
        raise ConfigError("unit_norm decoder/both constrains a dictionary: reconstruction only")
    if not isinstance(c.normalize, bool):
        raise ConfigError(f"normalize must be true or false, got {c.normalize!r}")
    if not isinstance(c.topk, int) or isinstance(c.topk, bool) or not 0 <= c.topk <= c.width:
        raise ConfigError(f"topk must be an integer in [0, width={c.width}], got {c.topk!r}")
    if c.topk and c.inhib != "none":
        raise ConfigError("choose either an explicit Top-K activation or an inhibitory circuit")
    if (c.topk or c.inhib != "none") and c.activation != "relu":
        raise ConfigError("Top-K and the inhibitory circuit are defined on ReLU units")
    if not 0 < c.topk_decay <= 1:
        raise ConfigError(f"topk_decay must lie in (0, 1], got {c.topk_decay}")
    if not isinstance(c.inhib_steps, int) or c.inhib_steps < 1 or not c.inhib_eta > 0:
        raise ConfigError("inhib_steps must be a positive integer and inhib_eta > 0")
    for name in ("sigma", "sigma_end", "l1", "lr", "grad_clip", "momentum", "act_threshold"):
        value = getattr(c, name)
        if value < 0:
            raise ConfigError(f"{name} must be >= 0, got {value}")
    if c.lr == 0:
        raise ConfigError("lr must be > 0")
    if c.bias_lr is not None and not c.bias_lr > 0:
        raise ConfigError(f"bias_lr must be > 0 or null, got {c.bias_lr}")
    for name in ("width", "batch_size", "steps", "log_every", "eval_size"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(c.seed, int) or isinstance(c.seed, bool) or c.seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {c.seed!r}")
    if not 0 <= c.ramp_start <= c.ramp_end <= 1:
        raise ConfigError("need 0 <= ramp_start <= ramp_end <= 1 (fractions of steps)")
    if not 0 <= c.beta1 < 1 or not 0 <= c.beta2 < 1:
        raise ConfigError("beta1 and beta2 must lie in [0, 1)")


def check_keys(keys, allowed, where: str) -> None:
    """Unknown keys are the commonest config mistake: name them and suggest the closest."""
    unknown = [k for k in keys if k not in allowed]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(allowed), n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"unknown key(s) in {where}: {', '.join(hints)}; "
                          f"allowed: {', '.join(sorted(allowed))}")


# A noise schedule written in steps: `ramp_start_step: 4000` is `ramp_start: 4000 / steps`,
# the fraction a run holds (and hashes), so a schedule reads as the steps it means.
RAMP_STEPS = {"ramp_start_step": "ramp_start", "ramp_end_step": "ramp_end"}


def _ramp_fractions(values: dict, where: str) -> dict:
    values = dict(values)
    for key, frac in RAMP_STEPS.items():
        if key not in values:
            continue
        if frac in values:
            raise ConfigError(f"{where}: give {frac} (a fraction of steps) or {key}, not both")
        step, steps = values.pop(key), values.get("steps", FIELDS["steps"].default)
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= steps:
            raise ConfigError(f"{where}: {key} must be a step between 0 and steps ({steps}), "
                              f"got {step!r}")
        values[frac] = step / steps
    return values


def make_run_config(values: dict, where: str = "run config") -> RunConfig:
    values = _ramp_fractions(values, where)
    check_keys(values, FIELDS, where)
    coerced = {}
    for k, v in values.items():
        # YAML reads 1e-4 as a string; accept numbers written either way.
        if FIELDS[k].type in ("float", "float | None") and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise ConfigError(f"{where}: {k} must be a number, got {v!r}") from None
        if FIELDS[k].type == "float" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        coerced[k] = v
    try:
        return RunConfig(**coerced)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
