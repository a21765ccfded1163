"""Training and evaluation of the Transformer language model runs.

Same conventions as the MLP trainer: tokens resident on the device, batches sliced by
index, Adam with global gradient-norm clipping, metrics every `log_every` steps, atomic
checkpoints with resume, and a non-finite loss recorded as `diverged`. Runs of a group
train one after another (they differ in sigma and seed only).
"""

from __future__ import annotations

import logging
import math
import os

import pandas as pd
import torch
from torch.nn import functional as F

from ...data.text import VOCAB
from ...devices import acquire
from ...errors import ConfigError
from ...measures import metrics as M
from ...output import save_torch
from ...seeds import BATCH_ORDER, EVAL_NOISE, TRAIN_NOISE
from .. import noise as N
from ..config import RunConfig
from ..loop import TrainingLoop, write_run
from .model import TransformerLM

log = logging.getLogger("noisesparse")
MAX_EVAL_TOKENS = 2_000_000
HEADLINE = ("MLP active={frac_active_clean} (clean) {frac_active_noisy} (noisy) dead={frac_dead} "
            "val loss={loss_clean}")  # a finished run's log line (loop.write_run)


class LMTrainer(TrainingLoop):
    """One Transformer run: its step, evaluation and state; the loop is
    loop.TrainingLoop's. A diverged run stops training."""

    def __init__(self, cfg: RunConfig, data: dict, device: torch.device):
        if data["meta"].get("kind") != "text":
            raise ConfigError(f"dataset {data['meta']['name']!r} is not a text corpus: "
                              "the Transformer needs a text dataset")
        self.cfg, self.device = cfg, device
        self.train_tokens = data["x_train"].to(device)
        self.val_tokens = data["x_test"].to(device)
        if len(self.train_tokens) <= cfg.context + 1 or len(self.val_tokens) <= cfg.context + 1:
            raise ConfigError(f"context {cfg.context} is longer than the corpus split")
        self.model = TransformerLM(VOCAB, cfg.context, cfg.n_layers, cfg.d_model, cfg.n_heads,
                                   cfg.width, cfg.seed).to(device)
        biases = [p for n, p in self.model.named_parameters() if n.endswith("bias")]
        others = [p for n, p in self.model.named_parameters() if not n.endswith("bias")]
        groups = [{"params": others, "lr": cfg.lr},
                  {"params": biases, "lr": cfg.bias_lr or cfg.lr}]
        if cfg.optimizer == "adam":
            self.opt = torch.optim.Adam(groups, betas=(cfg.beta1, cfg.beta2))
        else:
            self.opt = torch.optim.SGD(groups, momentum=cfg.momentum)
        self.g_data = torch.Generator(device=device).manual_seed(BATCH_ORDER + cfg.seed)
        self.g_noise = torch.Generator(device=device).manual_seed(TRAIN_NOISE + cfg.seed)
        self.step, self.history, self.diverged_at = 0, [], None
        self.steps, self.log_every = cfg.steps, cfg.log_every
        self.label, self.desc = cfg.run_id, f"LM sigma={cfg.sigma:g}"
        self.loss_sum, self.loss_n = 0.0, 0
        self.offsets = torch.arange(cfg.context + 1, device=device)

    def sigma_now(self, step: int) -> float:
        c = self.cfg
        return N.sigma_at(step, c.steps, c.sigma, c.schedule, c.sigma_end, c.ramp_start,
                          c.ramp_end)

    def train_step(self, step: int):
        c = self.cfg
        starts = torch.randint(0, len(self.train_tokens) - c.context - 1, (c.batch_size,),
                               generator=self.g_data, device=self.device)
        w = self.train_tokens[starts[:, None] + self.offsets].long()
        logits, _ = self.model(w[:, :-1], c.noise, self.sigma_now(step), self.g_noise)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), w[:, 1:].reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.opt.step()
        self.loss_sum = self.loss_sum + loss.detach()
        self.loss_n += 1

    @torch.no_grad()
    def evaluate(self, max_tokens: int) -> dict[str, float]:
        """Per-layer sparsity of the MLP units on validation windows, clean and noisy."""
        c, model = self.cfg, self.model
        n_win = max(1, min(max_tokens, len(self.val_tokens) - 1) // c.context)
        n_win = min(n_win, (len(self.val_tokens) - 1) // c.context)
        gen = torch.Generator(device=self.device).manual_seed(EVAL_NOISE + c.seed)
        sigma = self.sigma_now(self.step)
        L, n_tok = c.n_layers, 0
        acc = {k: 0.0 for k in ("loss_clean", "loss_noisy")}
        frac = {k: torch.zeros(L, device=self.device) for k in ("clean", "noisy")}
        activity = {k: torch.zeros(L, c.width, device=self.device) for k in ("clean", "noisy")}
        counts = torch.zeros(L, c.width, device=self.device)
        was_training = model.training
        model.eval()
        for i in range(0, n_win, 16):
            starts = torch.arange(i, min(i + 16, n_win), device=self.device) * c.context
            w = self.val_tokens[starts[:, None] + self.offsets].long()
            x, y = w[:, :-1], w[:, 1:].reshape(-1)
            for kind, sig in (("clean", 0.0), ("noisy", sigma)):
                logits, acts = model(x, c.noise, sig, gen)
                acc[f"loss_{kind}"] += F.cross_entropy(logits.reshape(-1, VOCAB), y,
                                                       reduction="sum").item()
                z = torch.stack([a.reshape(-1, c.width) for a in acts])  # [L, tokens, ff]
                active = M.active_mask(z)
                frac[kind] += M.fraction_active(active) * z.shape[1]
                activity[kind] += M.activity_sum(z)
                if kind == "clean":
                    counts += M.neuron_active_counts(active)
            n_tok += y.numel()
        model.train(was_training)
        # Dead units, the authors' definition: no activity over a noisy pass (here the
        # validation windows with the run's noise); ours beside it: silent on the clean pass.
        dead, silent = M.dead_mask(activity["noisy"]), M.dead_mask(activity["clean"])
        per_layer = {
            "frac_active_clean": frac["clean"] / n_tok, "frac_active_noisy": frac["noisy"] / n_tok,
            "frac_dead": M.fraction_dead(dead),
            "frac_active_living": M.fraction_active_living(counts, n_tok, dead),
            "frac_silent_clean": M.fraction_dead(silent),
            "frac_active_nonsilent": M.fraction_active_living(counts, n_tok, silent),
        }
        w1 = torch.stack([b.fc1.weight for b in model.blocks])
        b1 = torch.stack([b.fc1.bias for b in model.blocks])
        per_layer.update(M.bias_stats(b1))
        per_layer.update(M.weight_norm_stats(w1))
        out = {"loss_clean": acc["loss_clean"] / n_tok, "loss_noisy": acc["loss_noisy"] / n_tok}
        out["ppl_clean"] = math.exp(min(out["loss_clean"], 50))
        for name, v in per_layer.items():
            v = v.float().cpu()
            out[name] = float(v.nanmean()) if name.startswith("frac") else float(v.mean())
            for layer in range(L):
                out[f"{name}_L{layer}"] = float(v[layer])
        return out

    def log_metrics(self):
        ev = self.evaluate(self.cfg.eval_size)
        train_loss = (float(self.loss_sum) / self.loss_n) if self.loss_n else ev["loss_noisy"]
        self.loss_sum, self.loss_n = 0.0, 0
        row = {"step": self.step, "sigma": self.sigma_now(self.step), "train_loss": train_loss, **ev}
        self.history.append(row)
        if not (math.isfinite(train_loss) and math.isfinite(ev["loss_clean"])):
            self.diverged_at = self.step
            log.warning("run %s diverged at step %d (loss not finite)", self.cfg.run_id, self.step)

    def state(self):
        return {"hash": self.cfg.hash, "step": self.step, "model": self.model.state_dict(),
                "opt": self.opt.state_dict(), "history": self.history,
                "diverged_at": self.diverged_at, "g_data": self.g_data.get_state(),
                "g_noise": self.g_noise.get_state()}

    def load_state(self, st):
        if st["hash"] != self.cfg.hash:
            raise ConfigError("checkpoint belongs to another run")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.step, self.history, self.diverged_at = st["step"], st["history"], st["diverged_at"]
        self.g_data.set_state(st["g_data"])
        self.g_noise.set_state(st["g_noise"])

    def stopped(self) -> bool:
        return self.diverged_at is not None

    def write_results(self, out_dir: str) -> dict:
        c = self.cfg
        final = self.evaluate(MAX_EVAL_TOKENS)
        hist = pd.DataFrame(self.history)
        tokens_per_epoch = len(self.train_tokens)
        hist.insert(1, "epoch", hist["step"] * c.batch_size * c.context / tokens_per_epoch)
        # Next-token prediction is a classification over the vocabulary: the trivial
        # predictor's all-zero logits score log(VOCAB), on clean and noisy inputs alike.
        loss_zero = M.zero_predictor("classification", self.val_tokens[1:1025].long(), VOCAB)
        # no precision setting here: float32 unless TF32 was switched on
        precision = "tf32" if (self.device.type == "cuda"
                               and torch.backends.cuda.matmul.allow_tf32) else "fp32"
        return write_run(out_dir, c, hist, self.model.state_dict(), final, self.diverged_at,
                         loss_zero, self.train_record(1, precision), HEADLINE)


def train_lm_group(configs, data, out_dirs, partial_dir: str,
                   device: str | torch.device = "auto", progress: bool = True,
                   ckpt_every: str | None = None) -> list[dict]:
    """Train a group's runs one after another, each checkpointed in partial_dir, and write
    each run's results; returns the records."""
    records, ckpts = [], []
    lease = acquire(str(device))
    try:
        for cfg, out in zip(configs, out_dirs):
            ckpt = os.path.join(partial_dir, f"{cfg.run_id}.pt")
            ckpts.append(ckpt)
            tr = LMTrainer(cfg, data, lease.device)
            tr.fit(ckpt, ckpt_every=ckpt_every, progress=progress)
            if tr.step >= cfg.steps:  # kept until the whole group is written
                save_torch(tr.state(), ckpt)
            records.append(tr.write_results(out))
    finally:
        lease.release()
    for ckpt in ckpts:  # the group is complete: its run directories hold everything
        if os.path.exists(ckpt):
            os.remove(ckpt)
    try:  # and its folder of checkpoints goes too (only when empty: nothing else is lost)
        os.rmdir(partial_dir)
    except OSError:
        pass
    return records
