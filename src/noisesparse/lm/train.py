"""Training and evaluation of the Transformer language model runs.

Same conventions as the MLP trainer: tokens resident on the device, batches sliced by
index, Adam with global gradient-norm clipping, metrics every `log_every` steps, atomic
checkpoints with resume, and a non-finite loss recorded as `diverged`. Runs of a group
train one after another (they differ in sigma and seed only).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from .. import metrics as M
from .. import noise as N
from ..config import RunConfig
from ..devices import acquire
from ..errors import ConfigError
from ..interrupt import Checkpoints
from ..output import fmt, json_number, save_torch, write_text
from ..provenance import environment
from ..seeds import BATCH_ORDER, EVAL_NOISE, TRAIN_NOISE
from .model import TransformerLM
from .text import VOCAB

log = logging.getLogger("noisesparse")
MAX_EVAL_TOKENS = 2_000_000


class LMTrainer:
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
        self.loss_sum, self.loss_n = 0.0, 0
        self.offsets = torch.arange(cfg.context + 1, device=device)

    def sigma_now(self, step: int) -> float:
        c = self.cfg
        return N.sigma_at(step, c.steps, c.sigma, c.schedule, c.sigma_end, c.ramp_start,
                          c.ramp_end)

    def train_step(self):
        c = self.cfg
        starts = torch.randint(0, len(self.train_tokens) - c.context - 1, (c.batch_size,),
                               generator=self.g_data, device=self.device)
        w = self.train_tokens[starts[:, None] + self.offsets].long()
        logits, _ = self.model(w[:, :-1], c.noise, self.sigma_now(self.step), self.g_noise)
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

    def fit(self, ckpt_path=None, ckpt_every=None, progress=True, stop_after=None):
        """Train to cfg.steps, checkpointing as noisesparse.interrupt says."""
        c = self.cfg
        if ckpt_path and Path(ckpt_path).exists():
            try:
                self.load_state(torch.load(ckpt_path, weights_only=True, map_location=self.device))
                log.info("resumed %s from %s at step %d", c.run_id, ckpt_path, self.step)
            except (ConfigError, RuntimeError, KeyError) as e:
                log.warning("ignoring checkpoint %s (%s): starting afresh", ckpt_path, e)
        if not self.history:
            self.log_metrics()
        t0, s0 = time.time(), self.step
        bar = tqdm(total=c.steps, initial=self.step, disable=not progress, unit="step",
                   desc=f"LM sigma={c.sigma:g}", leave=False)
        with Checkpoints(ckpt_path, self.state, self.step, ckpt_every) as ck:
            while self.step < c.steps and self.diverged_at is None:
                self.train_step()
                self.step += 1
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    self.log_metrics()
                if stop_after is not None and self.step >= stop_after:
                    ck.save(self.step)
                    break
                ck.after_step(self.step)
        bar.close()
        if ckpt_path and self.step >= c.steps:
            save_torch(self.state(), ckpt_path)  # kept until the whole group is written
        self.wall_s = time.time() - t0
        self.steps_per_s = (self.step - s0) / self.wall_s if self.wall_s > 0 else float("nan")

    def write_results(self, out_dir: str) -> dict:
        c = self.cfg
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        final = self.evaluate(MAX_EVAL_TOKENS)
        hist = pd.DataFrame(self.history)
        tokens_per_epoch = len(self.train_tokens)
        hist.insert(1, "epoch", hist["step"] * c.batch_size * c.context / tokens_per_epoch)
        write_text(hist.to_csv(index=False), out / "history.csv")
        save_torch({"config": c.to_dict(), "state": self.model.state_dict()}, out / "model.pt")
        status = "ok" if self.diverged_at is None else "diverged"
        rec = {"run_id": c.run_id, "hash": c.hash, "status": status,
               "diverged_at_step": self.diverged_at, "config": c.to_dict(),
               "final": {k: (None if status == "diverged" else json_number(v))
                         for k, v in final.items()},
               "train": {"device": str(self.device), "members": 1, "steps": self.step,
                         "wall_s": round(self.wall_s, 2), "steps_per_s": round(self.steps_per_s, 2),
                         # no precision setting here: float32 unless TF32 was switched on
                         "precision": "tf32" if (self.device.type == "cuda" and
                                                 torch.backends.cuda.matmul.allow_tf32) else "fp32",
                         **environment(self.device)}}
        # Next-token prediction is a classification over the vocabulary: the trivial
        # predictor's all-zero logits score log(VOCAB), on clean and noisy inputs alike.
        rec["loss_zero"] = M.zero_predictor("classification", self.val_tokens[1:1025].long(),
                                            VOCAB)
        write_text(json.dumps(rec, indent=2), out / "metrics.json")
        f = rec["final"]
        log.info("run %s [%s] sigma=%g MLP active=%s (clean) %s (noisy) dead=%s val loss=%s | "
                 "%d steps, %.1f steps/s on %s", c.run_id, status, c.sigma,
                 fmt(f.get("frac_active_clean")), fmt(f.get("frac_active_noisy")),
                 fmt(f.get("frac_dead")), fmt(f.get("loss_clean")), self.step,
                 self.steps_per_s, self.device)
        return rec


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
