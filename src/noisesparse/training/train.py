"""Training of one batched ensemble: data on the device, index-slice batches, no host
syncs in the step loop except at log steps, atomic checkpoints, resume, divergence.

Each member has its own init seed, batch order, noise stream, learning rate and gradient
clipping, so member k trains exactly as it would alone.

Evaluation (the end of this module) measures every metric (docs/metrics.md) per member, in
chunks so memory stays bounded at any width: means over inputs are averaged over chunks
weighted by chunk size, per-neuron quantities (activity sums, active counts) summed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import torch

from ..devices import acquire, free_bytes
from ..errors import ConfigError
from ..measures import implicit
from ..measures import metrics as M
from ..output import save_torch
from ..seeds import BATCH_ORDER, DEAD_PASS_NOISE, EVAL_NOISE, TRAIN_NOISE
from . import noise as N
from .config import MEMBER_FIELDS, RunConfig
from .loop import TrainingLoop, write_run
from .model import SparseNet
from .optim import EnsembleOptimizer

log = logging.getLogger("noisesparse")
CKPT_VERSION = 1
# A finished run's log line (loop.write_run fills it from its final metrics)
HEADLINE = ("active={frac_active_clean} (clean) {frac_active_noisy} (noisy) dead={frac_dead} "
            "(noisy pass) silent={frac_silent_clean} (clean pass) loss={loss_clean}")


def check_group(configs: list[RunConfig]) -> None:
    keys = {c.group_key() for c in configs}
    if len(keys) != 1:
        raise ConfigError("an ensemble's runs must share every field except "
                          + ", ".join(MEMBER_FIELDS))


PRECISIONS = ("fp32", "tf32", "bf16")


def set_precision(precision: str, device: torch.device) -> str:
    """fp32: exact float32 matmuls; tf32 (default): TensorFloat-32 matmuls on GPUs that have
    them (no effect on CPU); bf16: also autocast the forward pass to bfloat16."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
        torch.backends.cudnn.allow_tf32 = precision != "fp32"
    return precision


class GroupTrainer(TrainingLoop):
    """Trains configs (one ensemble) on a processed dataset dict: its step, evaluation and
    state; the loop is loop.TrainingLoop's. A member that diverges stops updating (its
    learning rate masked) while the others go on."""

    def __init__(self, configs: list[RunConfig], data: dict, device: torch.device,
                 precision: str = "tf32", compile: bool = False):
        check_group(configs)
        self.configs, self.c0, self.device = configs, configs[0], device
        self.precision = set_precision(precision, device)
        c0 = self.c0
        self.x = data["x_train"].to(device)
        self.x_test = data["x_test"].to(device)
        self.y = self.y_test = None
        if c0.task == "classification":
            if data["y_train"] is None:
                raise ConfigError(f"dataset {data['meta']['name']!r} has no labels: "
                                  "classification needs a labelled dataset")
            self.y, self.y_test = data["y_train"].to(device), data["y_test"].to(device)
            out_dim = data["meta"]["n_classes"]
        else:
            out_dim = self.x.shape[1]
        self.m = len(self.x)
        if c0.batch_size > self.m:
            raise ConfigError(f"batch_size {c0.batch_size} exceeds the {self.m} training inputs")
        self.steps_per_epoch = self.m // c0.batch_size  # one shuffle: full batches only
        # The paper's epoch keeps the partial batch: ceil(50,000 / 1,024) = 49 steps. The
        # epoch axis of history.csv (F1, F7, F9) counts epochs that way.
        self.paper_epoch_steps = paper_epoch_steps(self.m, c0.batch_size)
        K = len(configs)
        self.model = SparseNet(configs, self.x.shape[1], out_dim).to(device)
        vec = lambda name: torch.tensor([float(getattr(c, name)) for c in configs], device=device)
        self.sigma0, self.sigma1, self.l1 = vec("sigma"), vec("sigma_end"), vec("l1")
        self.clip = vec("grad_clip") if any(c.grad_clip > 0 for c in configs) else None
        self.use_l1 = any(c.l1 > 0 for c in configs)
        self.noisy = [c.sigma > 0 or (c.schedule != "constant" and c.sigma_end > 0) for c in configs]
        self.opt = EnsembleOptimizer(
            self.model.parameters(), self.model.bias_params(), c0.optimizer,
            lr=[c.lr for c in configs], bias_lr=[c.bias_lr or c.lr for c in configs],
            betas=(c0.beta1, c0.beta2), momentum=c0.momentum, compile=compile)
        self.g_data = [torch.Generator(device=device).manual_seed(BATCH_ORDER + c.seed)
                       for c in configs]
        self.g_noise = [torch.Generator(device=device).manual_seed(TRAIN_NOISE + c.seed)
                        for c in configs]
        self.perms = None
        self.step, self.steps, self.log_every = 0, c0.steps, c0.log_every
        self.history: list[dict] = []
        self.label = f"{K} run(s)"
        self.desc = f"{K} run(s) {c0.dataset} n={c0.width}"
        self.diverged_at = [None] * K
        self.loss_acc = torch.zeros(K, device=device)
        self.loss_n = 0
        # torch.compile fuses the forward pass and loss (and their backward) into fewer
        # kernels, and each parameter's clip + optimizer update into one. A decaying Top-K
        # changes k, an int the graph is specialised on, every few steps: it would recompile
        # each time, so that schedule's forward pass stays eager (its update is compiled).
        self.compiled = compile and not (c0.topk and c0.topk_schedule != "fixed")
        if compile and not self.compiled:
            log.info("torch.compile covers the update only: a Top-K schedule changes k during "
                     "training, so the forward pass stays eager")
        self._loss_fn = torch.compile(self._loss) if self.compiled else self._loss
        self._first_compiled_step = compile  # compilation happens (or fails) there
        self.implicit = implicit.applies(c0) is None  # claim 9's loss terms describe it

    # -- schedule -----------------------------------------------------------------------
    def sigma_now(self, step: int) -> torch.Tensor:
        c = self.c0
        return N.sigma_at(step, c.steps, self.sigma0, c.schedule, self.sigma1,
                          c.ramp_start, c.ramp_end)

    def k_at(self, step: int) -> int:
        """Top-K schedule: k decays from the width to topk over topk_decay of training."""
        c = self.c0
        if not c.topk or c.topk_schedule == "fixed":
            return c.topk
        t = min(step / max(c.topk_decay * c.steps, 1), 1.0)
        if c.topk_schedule == "linear":
            return max(c.topk, round(c.width - (c.width - c.topk) * t))
        return max(c.topk, round(c.width * (c.topk / c.width) ** t))

    # -- one step -----------------------------------------------------------------------
    def _batch_indices(self, step: int) -> torch.Tensor:
        i = step % self.steps_per_epoch
        if i == 0 or self.perms is None:
            self.perms = torch.stack([torch.randperm(self.m, generator=g, device=self.device)
                                      for g in self.g_data])
        b = self.c0.batch_size
        return self.perms[:, i * b:(i + 1) * b]

    def train_step(self, step: int) -> None:
        c0, model = self.c0, self.model
        idx = self._batch_indices(step)  # [K, B]
        xb = self.x[idx]  # [K, B, D]
        sig = self.sigma_now(step)
        model.k = self.k_at(step)
        noise = [N.sample(c0.noise, sig[k], xb.shape[1:], g, self.device, check=False) if noisy
                 else torch.zeros(xb.shape[1:], device=self.device)
                 for k, (g, noisy) in enumerate(zip(self.g_noise, self.noisy))]
        loss, total = self._loss_fn(xb + torch.stack(noise), xb, idx)
        for p in model.parameters():
            p.grad = None
        total.sum().backward()  # members are independent: d(sum)/d(member) = member grad
        self.opt.step(max_norm=self.clip)  # per-member clipping, fused into the update
        model.renormalize_()  # cosine model, sparse coding: unit rows/columns after every step
        self.loss_acc += loss.detach()
        self.loss_n += 1

    def one_step(self, step: int) -> None:
        """The loop's step: the first one compiles, where torch.compile is on."""
        if self._first_compiled_step:
            self.compiled_step_or_eager(step)
        else:
            self.train_step(step)

    def compiled_step_or_eager(self, step: int) -> None:
        """The first step compiles. Should compilation fail (no C++ compiler, a GPU Triton
        does not support), train eagerly instead, from the same state and random streams."""
        self._first_compiled_step = False
        saved = ([g.get_state() for g in self.g_data], [g.get_state() for g in self.g_noise],
                 self.perms)
        try:
            self.train_step(step)
        except Exception as e:  # noqa: BLE001 - any compiler failure; a real bug recurs eagerly
            log.warning("torch.compile failed (%s: %s): training %s eagerly", type(e).__name__,
                        str(e).strip().splitlines()[0][:200] if str(e).strip() else "",
                        self.c0.run_id if len(self.configs) == 1 else
                        f"the {len(self.configs)} runs")
            for g, st in zip(self.g_data + self.g_noise, saved[0] + saved[1]):
                g.set_state(st)
            self.perms, self.compiled, self._loss_fn = saved[2], False, self._loss
            self.opt.use_eager()
            self.train_step(step)

    def _loss(self, x_in: torch.Tensor, xb: torch.Tensor, idx: torch.Tensor):
        """Per-member loss of one batch, and the loss plus any L1 penalty (the objective)."""
        model = self.model
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            pre, z, out = model(x_in)
        out, z = out.float(), z.float()
        if self.c0.task == "reconstruction":
            loss = M.mse(out, model.target(xb))  # the CLEAN input: a denoising autoencoder
        else:
            loss = M.cross_entropy(out, self.y[idx])
        if not self.use_l1:  # skipped when no member has a penalty: |z| and its backward cost ~20%
            return loss, loss
        return loss, loss + self.l1 * z.abs().sum(dim=-1).mean(dim=-1)

    # -- logging ------------------------------------------------------------------------
    def log_metrics(self) -> None:
        c0 = self.c0
        sig = self.sigma_now(self.step)
        self.model.k = self.k_at(self.step)
        ev = evaluate(self.model, self.x_test[:c0.eval_size],
                      None if self.y_test is None else self.y_test[:c0.eval_size], sig,
                      c0.noise, [c.seed for c in self.configs], c0.act_threshold)
        if self.implicit:  # claim 9's implicit loss terms, few inputs and draws (cheap)
            x = self.x_test[:min(c0.eval_size, implicit.HISTORY_INPUTS)]
            ev.update(implicit.measure(self.model, x, sig, [c.seed for c in self.configs],
                                       implicit.HISTORY_PAIRS))
        train_loss = self.loss_acc / max(self.loss_n, 1) if self.loss_n else ev["loss_noisy"]
        self.loss_acc.zero_()
        self.loss_n = 0
        row = {"step": torch.full_like(sig, self.step), "sigma": sig, "train_loss": train_loss, **ev}
        if c0.topk:
            row["topk_k"] = torch.full_like(sig, self.model.k)
        host = {k: v.detach().float().cpu() for k, v in row.items()}  # one sync per log step
        finite = torch.isfinite(host["train_loss"]) & torch.isfinite(host["loss_clean"])
        for k in range(len(self.configs)):
            if not finite[k] and self.diverged_at[k] is None:
                self.diverged_at[k] = self.step
                log.warning("run %s diverged at step %d (loss not finite); the other members "
                            "go on", self.configs[k].run_id, self.step)
        self.opt.active = torch.tensor([d is None for d in self.diverged_at],
                                       dtype=torch.float32, device=self.device)
        self.history.append({k: v.tolist() for k, v in host.items()})

    # -- checkpoints --------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "version": CKPT_VERSION, "hashes": [c.hash for c in self.configs], "step": self.step,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "opt": self.opt.state_dict(), "history": self.history, "diverged_at": self.diverged_at,
            "g_data": [g.get_state() for g in self.g_data],
            "g_noise": [g.get_state() for g in self.g_noise],
            "perms": None if self.perms is None else self.perms.cpu(),
            "loss_acc": self.loss_acc.cpu(), "loss_n": self.loss_n,
        }

    def load_state(self, st: dict) -> None:
        if st.get("version") != CKPT_VERSION or st["hashes"] != [c.hash for c in self.configs]:
            raise ConfigError("checkpoint belongs to other runs")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.step, self.history, self.diverged_at = st["step"], st["history"], st["diverged_at"]
        for g, s in zip(self.g_data, st["g_data"]):
            g.set_state(s)
        for g, s in zip(self.g_noise, st["g_noise"]):
            g.set_state(s)
        self.perms = None if st["perms"] is None else st["perms"].to(self.device)
        self.loss_acc, self.loss_n = st["loss_acc"].to(self.device), st["loss_n"]

    # -- results ------------------------------------------------------------------------
    def final_metrics(self) -> dict[str, torch.Tensor]:
        """Full held-out set, clean and noisy. Dead neurons from two full passes over the
        training data: noisy at the final sigma with the run's noise (the authors'
        definition, frac_dead) and clean (ours, frac_silent_clean)."""
        c0 = self.c0
        self.model.k = self.k_at(c0.steps)
        sigma, seeds = self.sigma_now(c0.steps), [c.seed for c in self.configs]
        dead = M.dead_mask(activity_sums(self.model, self.x, c0.act_threshold, c0.noise,
                                         sigma, seeds))
        silent = M.dead_mask(activity_sums(self.model, self.x, c0.act_threshold))
        res = evaluate(self.model, self.x_test, self.y_test, sigma, c0.noise, seeds,
                       c0.act_threshold, dead=dead, silent=silent)
        if self.implicit:  # claim 9's implicit loss terms at the final sigma (NaN at 0)
            res.update(implicit.measure(self.model, self.x_test[:implicit.FINAL_INPUTS], sigma,
                                        seeds, implicit.FINAL_PAIRS))
        return res

    def zero_predictor_loss(self) -> float:
        """The trivial predictor's loss on the held-out inputs, which noisesparse.runs.results
        judges the run against when its results are read. The noisy loss has the same target
        (the clean input, or the label), so it is also its value on noisy inputs."""
        recon = self.c0.task == "reconstruction"
        return M.zero_predictor(self.c0.task, self.model.target(self.x_test) if recon
                              else self.y_test, None if recon else self.model.w2.shape[1])

    def write_results(self, out_dirs: list[str]) -> list[dict]:
        final = {k: v.detach().float().cpu() for k, v in self.final_metrics().items()}
        loss_zero = self.zero_predictor_loss()
        train = self.train_record(len(self.configs), self.precision, compiled=self.compiled)
        records = []
        for k, (cfg, out) in enumerate(zip(self.configs, out_dirs)):
            hist = pd.DataFrame({name: [row[name][k] for row in self.history]
                                 for name in self.history[0]})
            hist["step"] = hist["step"].astype(int)
            hist.insert(1, "epoch", hist["step"] / self.paper_epoch_steps)
            records.append(write_run(out, cfg, hist, self.model.member_state(k),
                                     {name: v[k] for name, v in final.items()},
                                     self.diverged_at[k], loss_zero, train, HEADLINE))
        return records


def paper_epoch_steps(n_train: int, batch_size: int) -> int:
    """Steps in one of the paper's epochs: ceil(n_train / batch), the partial batch kept
    (49 steps of batch 1,024 on CIFAR-10's 50,000 training images)."""
    return -(-n_train // batch_size)


def member_bytes(c: RunConfig, in_dim: int, out_dim: int, n_train: int) -> int:
    """Memory one member of an ensemble needs while it trains (an upper estimate, fp32):
    its parameters with their gradients and two optimizer moments, a batch's (or an
    evaluation chunk's) activations with their gradients, and its shuffle permutation."""
    w = c.width
    params = w * (in_dim + out_dim) + w + out_dim + (w * w if c.inhib == "all_to_all" else 0)
    rows = max(c.batch_size, 1024)
    activations = rows * (6 * w + 4 * (in_dim + out_dim))
    return 4 * (4 * params + activations) + 8 * n_train


def members_per_pass(configs: list[RunConfig], data: dict, free: int, on_device: bool,
                     headroom: float = 0.7) -> int:
    """How many members train at once: all of them when they fit in `headroom` of the
    free memory (after the data, when it still has to move there), else as many as do."""
    c0, x = configs[0], data["x_train"]
    out_dim = data["meta"]["n_classes"] if c0.task == "classification" else x.shape[1]
    per = member_bytes(c0, x.shape[1], out_dim, len(x))
    data_bytes = x.nbytes + data["x_test"].nbytes if on_device else 0
    return max(1, min(len(configs), int((headroom * free - data_bytes) // per)))


def train_group(configs: list[RunConfig], data: dict, out_dirs: list[str],
                ckpt_path: str | None = None, device: str = "auto",
                progress: bool = True, ckpt_every: str | None = None,
                precision: str = "tf32", compile: bool = False) -> list[dict]:
    """Train an ensemble to completion and write each run's results; returns the records."""
    if configs[0].arch != "mlp":  # the language model has its own trainer
        raise ConfigError(f"train_group trains one-hidden-layer networks; {configs[0].run_id} "
                          f"is a {configs[0].arch}: train it with lm.train.train_lm_group")
    lease = acquire(device)
    try:
        dev = lease.device
        per_pass = members_per_pass(configs, data, free_bytes(dev), dev.type == "cuda")
        passes = [slice(i, i + per_pass) for i in range(0, len(configs), per_pass)]
        ckpts = [ckpt_path] if len(passes) == 1 else [
            ckpt_path and f"{ckpt_path}.pass{i}" for i in range(len(passes))]
        if len(passes) > 1:
            log.info("%d runs do not fit in %s's free memory at once: training them in %d "
                     "passes of up to %d members", len(configs), dev, len(passes), per_pass)
        records = []
        for part, ckpt in zip(passes, ckpts):
            trainer = GroupTrainer(configs[part], data, dev, precision, compile)
            trainer.fit(ckpt, ckpt_every=ckpt_every, progress=progress)
            records += trainer.write_results(out_dirs[part])
            if len(passes) > 1 and ckpt:  # a finished pass is not trained again on resume
                save_torch(trainer.state(), ckpt)
            del trainer
    finally:
        lease.release()
    for ckpt in ckpts:
        if ckpt and Path(ckpt).exists():
            os.remove(ckpt)  # complete: the run directories now hold everything
    return records


# Evaluation of an ensemble on a set of inputs: every metric, per member.

def _noise(kind: str, sigma: torch.Tensor, shape, gens, dev) -> torch.Tensor:
    """[K, *shape]: member k's noise at its own sigma[k] from its own generator."""
    return torch.stack([N.sample(kind, sigma[k], shape, gens[k], dev) for k in range(len(gens))])


@torch.no_grad()
def activity_sums(model: SparseNet, x: torch.Tensor, act_threshold: float = 1e-4,
                  noise_kind: str | None = None, sigma: torch.Tensor | None = None,
                  seeds: list[int] | None = None, chunk: int = 1024) -> torch.Tensor:
    """Per-neuron activity (metrics.activity_sum) over one full pass of x [M, D] -> [K, N].

    Clean when `noise_kind` is None (our silent-on-clean definition). With noise, each
    member sees x plus fresh noise of its own kind at its sigma [K] (the authors' dead
    neurons: their TrackedActFunc summed activity over the noisy training batches of an
    epoch, in training mode, after the noise layer). Ours is one extra pass over the whole
    training set after training, at the final sigma, so it scores the final weights rather
    than weights that change during the epoch; its noise comes from its own generators,
    seeded by `seeds`, not from the training stream."""
    total = torch.zeros(model.members, model.w1.shape[1], device=x.device)
    gens = None if noise_kind is None else [
        torch.Generator(device=x.device).manual_seed(DEAD_PASS_NOISE + s) for s in seeds]
    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk]
        if gens is not None:
            xc = xc.unsqueeze(0) + _noise(noise_kind, sigma, xc.shape, gens, x.device)
        _, z = model.encode(xc)
        total += M.activity_sum(z, model.activation, act_threshold)
    return total


@torch.no_grad()
def evaluate(model: SparseNet, x: torch.Tensor, y: torch.Tensor | None, sigma: torch.Tensor,
             noise_kind: str, seeds: list[int], act_threshold: float,
             dead: torch.Tensor | None = None, silent: torch.Tensor | None = None,
             chunk: int = 512) -> dict[str, torch.Tensor]:
    """Metrics on clean inputs x [E, D] and on the same inputs with fresh noise at `sigma` [K].

    Noise for evaluation comes from generators seeded by `seeds`, independent of the
    training stream, so evaluating never changes what a run trains on. `dead` (the
    authors' definition, a noisy pass) and `silent` (ours, a clean pass) are [K, N] masks
    from full passes over the training data; when None, the noisy and clean passes over
    these inputs define them (the cheap version logged in the history).
    """
    K, dev = model.members, x.device
    gens = [torch.Generator(device=dev).manual_seed(EVAL_NOISE + s) for s in seeds]
    sums: dict[str, torch.Tensor] = {}
    counts = torch.zeros(K, model.w1.shape[1], device=dev)
    activity = torch.zeros_like(counts)  # clean pass: silent-on-clean
    activity_noisy = torch.zeros_like(counts)  # noisy pass: the authors' dead neurons
    pre_sum, pre_sq = torch.zeros_like(counts), torch.zeros_like(counts)  # clean inputs
    pre_sum_n, pre_sq_n = torch.zeros_like(counts), torch.zeros_like(counts)  # noisy inputs
    b = model.hidden_bias()
    # Non-zero-mean noise (exponential, Poisson) shifts every input by E[noise]; the network
    # is trained on that shifted distribution, so its sparsity is also measured at x + E.
    shift = None if N.is_zero_mean(noise_kind) else N.expected_value(noise_kind, sigma)

    def add(name, value, weight):
        sums[name] = sums.get(name, 0) + value * weight

    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk]
        n = len(xc)
        pre, z = model.encode(xc)
        act = M.active_mask(z, model.activation, act_threshold)
        add("frac_active_clean", M.fraction_active(act), n)
        wx = pre - b.unsqueeze(1)
        add("topk_agreement", M.topk_agreement(wx, act), n)
        add("topk_agreement_corrected", M.topk_agreement_corrected(wx, act), n)
        add("drive_std", M.drive_spread(wx), n)
        for k, v in M.preactivation_stats(pre).items():
            add(k, v, n)
        for k, v in M.sign_flips(wx, pre).items():
            add(k, v, n)
        s1, s2 = M.neuron_moments(pre)
        pre_sum += s1
        pre_sq += s2
        counts += M.neuron_active_counts(act)
        activity += M.activity_sum(z, model.activation, act_threshold)
        out = model.decode(z)
        noise = _noise(noise_kind, sigma, xc.shape, gens, dev)
        pre_n, zn = model.encode(xc.unsqueeze(0) + noise)
        s1, s2 = M.neuron_moments(pre_n)
        pre_sum_n += s1
        pre_sq_n += s2
        add("frac_active_noisy", M.fraction_active(M.active_mask(zn, model.activation,
                                                                 act_threshold)), n)
        activity_noisy += M.activity_sum(zn, model.activation, act_threshold)
        if shift is not None:
            _, zs = model.encode(xc.unsqueeze(0) + shift.view(K, 1, 1))
            add("frac_active_shifted", M.fraction_active(M.active_mask(zs, model.activation,
                                                                       act_threshold)), n)
        out_noisy = model.decode(zn)
        if model.task == "reconstruction":
            tc = model.target(xc)
            add("loss_clean", M.mse(out, tc), n)
            add("loss_noisy", M.mse(out_noisy, tc), n)
            err2, energy = M.error_and_energy(out, tc)
            add("_err2", err2, 1)
            add("_energy", energy, 1)
        else:
            yc = y[i:i + chunk]
            add("loss_clean", M.cross_entropy(out, yc), n)
            add("loss_noisy", M.cross_entropy(out_noisy, yc), n)
            add("accuracy_clean", M.accuracy(out, yc), n)
            add("accuracy_noisy", M.accuracy(out_noisy, yc), n)
    res = {k: v / len(x) for k, v in sums.items() if not k.startswith("_")}
    if "_err2" in sums:  # relative error over the whole held-out set, not a mean of chunks
        res["loss_clean_rel"] = sums["_err2"] / sums["_energy"].clamp(min=1e-12)
    dead = M.dead_mask(activity_noisy) if dead is None else dead
    silent = M.dead_mask(activity) if silent is None else silent
    # Both definitions, and the clean held-out fraction active among the living under each.
    res["frac_dead"] = M.fraction_dead(dead)
    res["frac_active_living"] = M.fraction_active_living(counts, len(x), dead)
    res["frac_silent_clean"] = M.fraction_dead(silent)
    res["frac_active_nonsilent"] = M.fraction_active_living(counts, len(x), silent)
    res.update(M.lifetime_sparsity(counts, len(x)))  # claim 2: every unit, or a few?
    res.update(M.neuron_preactivation_summary(pre_sum, pre_sq, len(x)))
    res.update({f"{k}_noisy": v for k, v in
                M.neuron_preactivation_summary(pre_sum_n, pre_sq_n, len(x)).items()})
    res.update(M.bias_stats(b))
    res.update(M.living_spread(b, model.w1, ~dead))
    if model.bias_mode == "shared":
        res["bias_shared"] = model.b1[:, 0]
    res.update(M.weight_norm_stats(model.w1))
    if model.task == "reconstruction":
        res["encdec_cosine"] = M.encoder_decoder_cosine(model.w1, model.w2).mean(dim=-1)
    return res
