"""F18: every reference number of the paper beside ours, and a computed verdict per claim."""

from __future__ import annotations

import numpy as np

from ..claims import conclusions, verdicts
from ..claims.replication import active_counts_table, load_reference, reference_table
from . import style as S


def with_conclusions(verdict, concl: dict):
    """F18's verdicts with the sensitivity ladder's conclusion beside each verdict (claims
    the ladder does not read: empty)."""
    if verdict.empty:
        return verdict
    col = verdict["claim"].map(lambda c: concl.get(c, {}).get("conclusion", ""))
    return verdict.assign(conclusion=col)[
        [*verdict.columns[:3], "conclusion", *verdict.columns[3:]]]


def f18_replication(plan, fig_id, title):
    table = reference_table(plan)
    verdict = with_conclusions(verdicts(plan), conclusions(plan))
    curves = list(dict.fromkeys(table["curve"]))
    fig, axes = S.panels(len(curves), nrows=int(np.ceil(len(curves) / 5)), w=2.5, h=2.0,
                         sharey=True)
    for ax, name in zip(axes, curves):
        t = table[table["curve"] == name]
        ax.plot(t["sigma"], t["paper_noisy_inputs"], "^:", color="0.4", label="paper (noisy)")
        ax.plot(t["sigma"], t["ours_noisy_inputs"], "s--", color=S.CATEGORICAL[1],
                label="ours (noisy)")
        ax.plot(t["sigma"], t["ours_clean_inputs"], "o-", color=S.CATEGORICAL[0],
                label="ours (clean held-out)")
        if t["ours_shifted_inputs"].notna().any():  # non-zero-mean noise
            ax.plot(t["sigma"], t["ours_shifted_inputs"], "d-.", color=S.CATEGORICAL[2],
                    label="ours (x + E[noise])")
        ep = t["our_epochs"].dropna()
        epochs = f"epochs: paper {t['paper_epochs'].iloc[0]}" + (
            f", ours {ep.max():,.0f}" if len(ep) and ep.max() >= 10 else
            f", ours {ep.max():.2g}" if len(ep) else "")
        S.sigma_axis(ax, label=False)
        ax.set_title(f"{t['label'].iloc[0]}\n{epochs}", fontsize=6.5)
        if t["ours_clean_inputs"].isna().all():
            ax.text(0.5, 0.5, "not in this\nprofile's grid", transform=ax.transAxes,
                    ha="center", color="0.4", fontsize=7)
    for ax in axes[len(curves):]:
        ax.axis("off")
    axes[0].set_ylabel(S.ACTIVE_LABEL)
    from matplotlib.lines import Line2D
    handles, _ = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], ls="-.", marker="d", color=S.CATEGORICAL[2],
                          label="ours (x + E[noise]), non-zero-mean noise"))
    axes[0].legend(handles=handles, fontsize=5.5)
    counts = verdict["verdict"].value_counts().to_dict()
    ref = load_reference()
    caption = ("Paper reference numbers (config/reference.yaml; " + ref["measured_on"] +
               ") beside this workflow's, measured both the paper's way and on clean held-out "
               "inputs (exponential and Poisson noise also at x + E[noise]); the table gives "
               "dead neurons under both definitions (the authors': no activity on a noisy pass "
               "of the training data; ours: silent on clean data) and each side's epochs "
               "(the paper's epoch: ceil(n_train / batch) steps). Verdicts per claim "
               "(table `verdicts`: verdict, gates, criterion, rule, checks, measured): each "
               "verdict shows its gates (runs not converged, baselines that do not beat the "
               "zero predictor) and, in its checks, every compared quantity's mean with its "
               "95% t interval over seeds and the threshold it is held to ('1 seed: no "
               "interval' where a study has one); claim 10 is judged as 10a (robustness) and "
               "10b (efficiency). "
               + ", ".join(f"{v} {k}" for k, v in counts.items())
               + (". Settings differ from the paper's outside the paper profile (see "
                  "our_setting)." if plan.profile != "paper" else ".")
               + f"\n{S.describe(plan, plan.figures[fig_id]['runs'])}.")
    return S.save(fig_id, fig, table, plan, title, caption,
                  {"verdicts": verdict, "active_counts": active_counts_table(plan)})
