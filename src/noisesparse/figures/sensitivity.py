"""F22: the sensitivity ladder. One panel per departing claim: each deciding quantity's
mean with its 95% interval over seeds at every rung, axis by axis from the stand-in toward
the paper, its threshold dashed; unconverged rungs hollow (shown, not counted); the
claim's computed conclusion (claims/sensitivity.py) in the panel's title."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import conclusions, ladder_rungs, ladder_table
from ..claims.sensitivity import RULE
from . import style as S

AXIS_ORDER = ("width", "lr", "batch", "data", "init", "schedule")


def positions(t: pd.DataFrame) -> list[tuple[str, str]]:
    """The x positions of one claim's rungs: (axis, setting), axis by axis (AXIS_ORDER),
    each in the ladder's order: from the stand-in toward the paper (a free axis: the
    stand-in's setting first)."""
    keys = list(dict.fromkeys(zip(t["axis"], t["setting"])))
    rank = {a: i for i, a in enumerate(AXIS_ORDER)}
    return sorted(keys, key=lambda k: rank.get(k[0], len(AXIS_ORDER)))  # stable within axes


def tick(axis: str, setting: str) -> str:
    """A rung's tick label: the axis over its setting, a long setting (a dataset's name)
    broken after each underscore, so that it does not run into its neighbours."""
    return f"{axis}\n" + (setting.replace("_", "_\n") if len(setting) > 8 else setting)


def f22_sensitivity(plan, fig_id, title):
    rungs = ladder_rungs(plan)
    rows = ladder_table(rungs)
    concl = conclusions(plan, rungs)
    summary = pd.DataFrame([{"claim": c, "conclusion": v["conclusion"], "detail": v["detail"]}
                            for c, v in concl.items()])
    claims = list(concl)
    fig, axes = S.panels(len(claims), nrows=int(np.ceil(len(claims) / 3)), w=3.8, h=2.9)
    for ax, claim in zip(axes, claims):
        t = rows[rows["claim"] == claim] if len(rows) else rows
        ax.set_title(f"claim {claim}: {concl[claim]['conclusion']}", fontsize=7.5)
        if t.empty:
            ax.text(0.5, 0.5, "no rung in this profile", transform=ax.transAxes,
                    ha="center", color="0.4", fontsize=7)
            continue
        pos = positions(t)
        x_of = {k: i for i, k in enumerate(pos)}
        quantities = list(dict.fromkeys(t["quantity"]))
        for j, q in enumerate(quantities):
            g = t[t["quantity"] == q]
            colour = S.CATEGORICAL[j % len(S.CATEGORICAL)]
            dx = (j - (len(quantities) - 1) / 2) * 0.12
            x = np.array([x_of[(a, s)] for a, s in zip(g["axis"], g["setting"])]) + dx
            m = g["mean"].to_numpy(float)
            ax.errorbar(x, m, yerr=[m - g["low"].to_numpy(float), g["high"].to_numpy(float) - m],
                        fmt="o", color=colour, ms=3.5, capsize=1.5, lw=0.8,
                        label=f"{q} ({g['op'].iloc[0]} {g['threshold'].iloc[0]:.3g})")
            ax.axhline(g["threshold"].iloc[0], color=colour, ls="--", lw=0.8)
            S.mark_unconverged(ax, x, m, list(g["converged"]), colour=colour)
        ax.set_xticks(range(len(pos)))
        ax.set_xticklabels([tick(a, s) for a, s in pos], fontsize=5)
        for i in range(1, len(pos)):  # a thin line where one axis ends and the next begins
            if pos[i][0] != pos[i - 1][0]:
                ax.axvline(i - 0.5, color="0.8", lw=0.6)
        # headroom above the points for the legend, one line per two entries: a claim
        # read at two sigmas has six quantities, which a legend would otherwise cover
        # (two columns where the labels fit the panel's width side by side)
        ncol = 2 if max(len(q) for q in quantities) <= 42 else 1
        lines = int(np.ceil((len(quantities) + 1) / ncol))
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + (hi - lo) * 0.11 * lines)
        ax.legend(fontsize=4.6, loc="upper center", ncol=ncol, frameon=False,
                  handletextpad=0.3, columnspacing=0.8, borderaxespad=0.2)
    for ax in axes[len(claims):]:
        ax.axis("off")
    caption = ("Each departing claim's deciding quantities (its verdict's own, thresholds "
               "unchanged, dashed; claims 2 and 3 at the paper's sigma 0.8 and at the sigma "
               "their verdict was judged at) re-measured while one stand-in choice at a time moves "
               "toward the paper's setting, the others held at the profile's: mean and 95% t "
               "interval over seeds per rung; hollow: not converged (shown, not counted; at "
               "a smaller learning rate a rung also needs lr x steps as large as the stand-in's, "
               f"so that an early flat stretch does not count). Rule: {RULE}."
               f"\n{S.describe(plan, plan.figures[fig_id]['runs'])}.")
    return S.save(fig_id, fig, summary, plan, title, caption, {"sensitivity": rows})
