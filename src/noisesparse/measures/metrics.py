"""The paper's metrics as pure functions of tensors (docs/metrics.md).

Every function accepts optional leading (ensemble) dimensions: activations are [..., B, N]
(inputs by neurons), weights [..., N, D], biases [..., N] (or [..., 1] when shared), and
returns one value per leading index.
"""

from __future__ import annotations

import torch

DEAD_THRESHOLD = 1e-5  # summed activity over a full pass below this: the neuron is dead


def active_mask(a: torch.Tensor, activation: str = "relu", threshold: float = 1e-4) -> torch.Tensor:
    """Which units are active: a > 0 for ReLU (exact zeros), |a| > threshold otherwise."""
    if activation == "relu":
        return a > 0
    return a.abs() > threshold


def fraction_active(active: torch.Tensor) -> torch.Tensor:
    """Mean over inputs of the fraction of neurons active: [..., B, N] -> [...]."""
    return active.float().mean(dim=(-2, -1))


def activity_sum(a: torch.Tensor, activation: str = "relu", threshold: float = 1e-4) -> torch.Tensor:
    """Per-neuron activity over inputs [..., B, N] -> [..., N], the authors' accumulator
    (their TrackedActFunc.count_dead_neurons): the summed ReLU output for ReLU, the number of
    inputs with |a| > threshold otherwise (so a GELU or sigmoid unit, never exactly 0, can
    still be dead). Add these over chunks; `dead_mask` thresholds the total."""
    if activation == "relu":
        return a.clamp(min=0).sum(dim=-2)
    return (a.abs() > threshold).float().sum(dim=-2)


def dead_mask(summed_activity: torch.Tensor, threshold: float = DEAD_THRESHOLD) -> torch.Tensor:
    """Neurons whose activity summed over a full pass of the data is below threshold.

    Which pass decides the definition: the authors' (frac_dead) sums over NOISY training
    inputs, ours beside it (frac_silent_clean) over CLEAN training inputs; a unit that
    fires only on noise is living under theirs and silent under ours."""
    return summed_activity < threshold


def fraction_dead(dead: torch.Tensor) -> torch.Tensor:
    return dead.float().mean(dim=-1)


def neuron_active_counts(active: torch.Tensor) -> torch.Tensor:
    """How many inputs each neuron is active for: [..., B, N] -> [..., N] (sums over chunks)."""
    return active.float().sum(dim=-2)


def fraction_active_living(active_counts: torch.Tensor, n_inputs: int,
                           dead: torch.Tensor) -> torch.Tensor:
    """Fraction active among neurons that are not dead: sparse coding, not pruning.

    Mean over inputs of (#active living neurons / #living neurons), from per-neuron active
    counts [..., N] over `n_inputs` inputs and the dead mask [..., N]. NaN if all are dead.
    """
    living = (~dead).float()
    return (active_counts * living).sum(dim=-1) / (n_inputs * living.sum(dim=-1))


def bias_stats(b: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean, standard deviation and fraction negative of the hidden biases [..., N]."""
    return {
        "bias_mean": b.mean(dim=-1),
        "bias_std": b.std(dim=-1, unbiased=False),
        "bias_frac_negative": (b < 0).float().mean(dim=-1),
    }


def weight_norm_stats(w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean and coefficient of variation of the encoder row L2 norms, w [..., N, D]."""
    norms = w.norm(dim=-1)
    mean = norms.mean(dim=-1)
    return {"wnorm_mean": mean, "wnorm_cv": norms.std(dim=-1, unbiased=False) / mean}


def living_spread(b: torch.Tensor, w: torch.Tensor, living: torch.Tensor) -> dict[str, torch.Tensor]:
    """Bias std and weight-norm coefficient of variation over LIVING neurons only (claim
    3: dead units keep their initial or drifting values and would hide the convergence).
    b [..., N], w [..., N, D], living [..., N] bool; NaN where no neuron lives."""
    m = living.float()
    n = m.sum(dim=-1)

    def mean_std(v):
        mu = (v * m).sum(dim=-1) / n
        var = ((v - mu.unsqueeze(-1)).pow(2) * m).sum(dim=-1) / n
        return mu, var.sqrt()

    bmu, bsd = mean_std(b)
    wmu, wsd = mean_std(w.norm(dim=-1))
    return {"bias_mean_living": bmu, "bias_std_living": bsd, "wnorm_mean_living": wmu,
            "wnorm_cv_living": wsd / wmu}


def sign_flips(wx: torch.Tensor, pre: torch.Tensor) -> dict[str, torch.Tensor]:
    """How the bias changes which units fire, from W x [..., B, N] and W x + b [..., B, N].

    off: fraction of units with W x > 0 that the bias turns off;
    on: fraction of units with W x <= 0 that the bias turns on.
    """
    pos = wx > 0
    off = (pos & (pre <= 0)).float().sum(dim=(-2, -1)) / pos.float().sum(dim=(-2, -1))
    on = (~pos & (pre > 0)).float().sum(dim=(-2, -1)) / (~pos).float().sum(dim=(-2, -1))
    return {"flip_off": off, "flip_on": on}


def preactivation_stats(pre: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean and standard deviation of the pre-activations W x + b over inputs and neurons
    ([..., B, N] -> [...]): noise pushes them negative and spreads them (claim 9)."""
    return {"pre_mean": pre.mean(dim=(-2, -1)), "pre_std": pre.std(dim=(-2, -1), unbiased=False)}


def neuron_moments(pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-neuron sum and sum of squares of the pre-activations over inputs, [..., B, N] ->
    ([..., N], [..., N]); add these over chunks, then `neuron_preactivation_summary`."""
    return pre.sum(dim=-2), pre.pow(2).sum(dim=-2)


def neuron_preactivation_summary(total: torch.Tensor, total_sq: torch.Tensor,
                                 n_inputs: int) -> dict[str, torch.Tensor]:
    """Each neuron's pre-activation distribution over the data, summarised (claim 9 is
    about each neuron, not all neurons pooled): the median over neurons of the per-neuron
    mean and of the per-neuron standard deviation, and the share of neurons whose mean is
    negative. total, total_sq [..., N] from `neuron_moments` over n_inputs inputs -> [...]."""
    mean = total / n_inputs
    std = (total_sq / n_inputs - mean.pow(2)).clamp(min=0).sqrt()
    return {"pre_neuron_mean_median": mean.median(dim=-1).values,
            "pre_neuron_std_median": std.median(dim=-1).values,
            "pre_neuron_frac_negative": (mean < 0).float().mean(dim=-1)}


def topk_agreement(drive: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """How Top-K-like the layer is: overlap between the active set and the k units with
    the largest bias-free drive W x, with k = #active, per input.

    With equal biases (and equal weight norms) the bias acts as one threshold and the
    overlap is 1: the k most driven units fire, as under k-winners-take-all. Per-neuron
    biases that differ let less-driven units fire instead. Inputs with no active unit are
    skipped. drive, active: [..., B, N] -> [...].
    """
    k = active.sum(dim=-1, keepdim=True)  # [..., B, 1]
    rank = drive.argsort(dim=-1, descending=True).argsort(dim=-1)  # 0 = largest
    overlap = ((rank < k) & active).float().sum(dim=-1)
    kk = k.squeeze(-1).float()
    per_input = torch.where(kk > 0, overlap / kk.clamp(min=1), torch.nan)
    return per_input.nanmean(dim=-1)


def topk_agreement_corrected(drive: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Top-K agreement corrected for chance, per input (a - k/N) / (1 - k/N), mean over
    inputs: a random choice of k units among N overlaps the k most driven by k/N on
    average, so raw agreement rises as the layer gets denser (a sigma-0 and a sigma-0.8
    network differ about 20-fold in k/N; issue 16). 1: the k most driven units fire; 0:
    no better than chance. Inputs with no unit or every unit active are skipped (no
    choice to agree on). drive, active: [..., B, N] -> [...]."""
    n = active.shape[-1]
    k = active.sum(dim=-1, keepdim=True)
    rank = drive.argsort(dim=-1, descending=True).argsort(dim=-1)
    kk = k.squeeze(-1).float()
    a = ((rank < k) & active).float().sum(dim=-1) / kk.clamp(min=1)
    chance = kk / n
    corrected = (a - chance) / (1 - chance).clamp(min=1e-12)
    return torch.where((kk > 0) & (kk < n), corrected, torch.nan).nanmean(dim=-1)


def drive_spread(drive: torch.Tensor) -> torch.Tensor:
    """The spread of the bias-free drive W x across units: its standard deviation over the
    N units for each input, mean over inputs ([..., B, N] -> [...]). Claim 3 weighs the
    bias spread against it: biases that differ by much less than the drives do act as one
    common threshold."""
    return drive.std(dim=-1, unbiased=False).mean(dim=-1)


def lifetime_sparsity(active_counts: torch.Tensor, n_inputs: int) -> dict[str, torch.Tensor]:
    """Each unit's lifetime activity, the share of the n_inputs inputs it fires on
    (active_counts [..., N] from `neuron_active_counts`), summarised across units: its
    standard deviation, and that spread over the largest it can be at the same mean
    share p, sqrt(p (1 - p)), reached when every unit fires on all inputs or on none.
    Dispersion 0: every unit fires equally often (sparse coding); 1: the sparsity is a
    set of units that never fire beside units that always do (dead neurons). NaN when
    p is 0 or 1 (no sparsity to explain)."""
    share = active_counts / n_inputs
    p = share.mean(dim=-1)
    sd = share.std(dim=-1, unbiased=False)
    top = (p * (1 - p)).sqrt()
    return {"lifetime_share_std": sd,
            "lifetime_dispersion": torch.where(top > 0, sd / top.clamp(min=1e-12), torch.nan)}


def encoder_decoder_cosine(w_enc: torch.Tensor, w_dec: torch.Tensor) -> torch.Tensor:
    """Per-neuron cosine between encoder row W1[i, :] and decoder column W2[:, i].

    w_enc [..., N, D], w_dec [..., D, N] -> [..., N].
    """
    return torch.nn.functional.cosine_similarity(w_enc, w_dec.transpose(-2, -1), dim=-1)


def mse(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error, mean over the batch (the authors' loss): [..., B, D] -> [...]."""
    return (y - x).pow(2).mean(dim=-1).mean(dim=-1)


def error_and_energy(y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed squared error and summed target energy over a batch, [..., B, D] -> [...]
    each. Their ratio (summed over the whole held-out set) is the relative reconstruction
    error: scale-free, so networks with different targets (raw or L2-normalised inputs)
    compare; 1 is no better than predicting zeros."""
    return (y - x).pow(2).sum(dim=(-2, -1)), x.pow(2).sum(dim=(-2, -1))


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; logits [..., B, C], labels [B] or [..., B]."""
    logp = logits.log_softmax(dim=-1)
    labels = labels.expand(logits.shape[:-1])
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(dim=-1)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(dim=-1) == labels.expand(logits.shape[:-1])).float().mean(dim=-1)


def zero_output_mse(target: torch.Tensor) -> torch.Tensor:
    """The loss of the trivial reconstruction that outputs zeros: `mse(0, target)`, the mean
    over inputs of each input's mean squared value, [..., B, D] -> [...]. A reconstruction
    network whose loss is not below it has learned nothing (its `loss_clean_rel` is >= 1)."""
    return mse(torch.zeros_like(target), target)


def zero_logits_cross_entropy(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The loss of the trivial classifier with all-zero logits (uniform over the classes):
    log(n_classes) whatever the labels [..., B]; -> [...]."""
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
    return cross_entropy(torch.zeros(*labels.shape, n_classes, device=labels.device), labels)


def zero_predictor(task: str, targets: torch.Tensor, n_classes: int | None = None) -> float:
    """The trivial predictor's loss on one evaluation set, in the units of `loss_clean`:
    outputs of zeros for a reconstruction (the mean squared target; `targets` [B, D], what
    the network reconstructs), all-zero logits for a classifier (log C; `targets` the
    labels). Measured by the trainer; judged by noisesparse.runs.results."""
    if task == "reconstruction":
        return float(zero_output_mse(targets))
    if n_classes is None:
        raise ValueError("zero_predictor: a classifier's trivial loss needs n_classes")
    return float(zero_logits_cross_entropy(targets, n_classes))
