"""One look for every figure, and one way to save a figure with its data table.

Every figure is drawn from a pandas table computed from run results; `save` writes the
PNG and PDF beside that table as CSV and Markdown, with a caption naming the profile, data
and scale that made it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .. import paths  # noqa: E402
from ..output import write_with  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 150, "savefig.dpi": 150, "font.size": 8.5, "axes.titlesize": 9,
    "axes.labelsize": 8.5, "legend.fontsize": 7, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.25, "lines.linewidth": 1.4, "lines.markersize": 3.5,
})

SIGMA_LABEL = "noise σ (input units)"
ACTIVE_LABEL = "fraction of neurons active"
CLEAN = "clean held-out inputs"
NOISY = "noisy inputs (paper convention)"
CATEGORICAL = plt.get_cmap("tab10").colors


def sigma_colours(sigmas) -> dict[float, tuple]:
    """A colour per noise level, ordered dark (no noise) to bright (most noise)."""
    sigmas = sorted(set(float(s) for s in sigmas))
    cmap = plt.get_cmap("viridis")
    return {s: cmap(i / max(len(sigmas) - 1, 1) * 0.92) for i, s in enumerate(sigmas)}


def legend_on_top(ax, share: float = 0.35, **kw):
    """The legend in a band above the data, which best-placed legends sat on: the y range
    grows (on a log axis in decades) so that the top `share` of the panel holds nothing else."""
    lo, hi = ax.get_ylim()
    grow = share / (1 - share)
    if ax.get_yscale() == "log":
        ax.set_ylim(lo, hi * (hi / lo) ** grow)
    else:
        ax.set_ylim(lo, hi + grow * (hi - lo))
    return ax.legend(loc="upper center", **kw)


def panels(n: int, nrows: int = 1, w: float = 3.2, h: float = 2.6, **kw):
    fig, axes = plt.subplots(nrows, int(np.ceil(n / nrows)), figsize=(w * np.ceil(n / nrows),
                             h * nrows + 0.45), squeeze=False, **kw)
    return fig, axes.ravel()


def sigma_axis(ax, label: bool = True) -> None:
    """σ on a symmetric-log axis so σ = 0 sits on the plot beside 0.05 ... 10."""
    from matplotlib.ticker import FormatStrFormatter, NullLocator
    ax.set_xscale("symlog", linthresh=0.05, linscale=0.4)
    x1 = ax.dataLim.x1
    hi = max(x1 * 1.2 if np.isfinite(x1) else 0.0, 0.1)
    ax.set_xticks([t for t in (0, 0.1, 0.3, 1, 3, 10, 30) if t <= hi * 1.05])
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(-0.01, hi)
    if label:
        ax.set_xlabel(SIGMA_LABEL)


def summarise(df: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Mean, min and max over seeds of each metric per group; runs that diverged are counted,
    not averaged. Where the table has `converged` (every run table from results.load_final,
    noisesparse.runs.results): `unconverged`, how many finished seeds had not converged, and
    `converged`, true when none. A table without it (not one of runs) marks nothing."""
    ok = df[df["status"] == "ok"]
    g = ok.groupby(by, dropna=False)[metrics]
    out = g.mean().add_suffix("_mean").join(g.min().add_suffix("_min")).join(
        g.max().add_suffix("_max"))
    out["seeds"] = ok.groupby(by, dropna=False).size()
    if "converged" in df:
        unconv = ok.assign(_u=ok["converged"].eq(False))
        out["unconverged"] = unconv.groupby(by, dropna=False)["_u"].sum()
    out = out.reset_index()
    div = df[df["status"] != "ok"].groupby(by, dropna=False).size().rename("diverged")
    out = out.merge(div.reset_index(), on=by, how="outer") if len(div) else out.assign(diverged=0)
    out["diverged"] = out["diverged"].fillna(0).astype(int)
    out["seeds"] = out["seeds"].fillna(0).astype(int)
    if "unconverged" in out:
        out["unconverged"] = out["unconverged"].fillna(0).astype(int)
        out["converged"] = (out["unconverged"] == 0) & (out["seeds"] > 0)
    return out.sort_values(by).reset_index(drop=True)


UNCONVERGED_GID = "unconverged"
UNCONVERGED_LABEL = "open: not converged"
UNCONVERGED_NOTE = ("Open markers (a ring around an x): not converged "
                    "(noisesparse.runs.results: a fraction active or the clean loss "
                    "still moved "
                    "by more than 10% over the last 20% of training); a mean over seeds is open "
                    "when any of its seeds is.")


def mark_unconverged(ax, x, y, converged, marker="o", colour=None, size=None) -> None:
    """Redraw the points of unconverged runs (or seed means) hollow: white face, edge in the
    point's colour (`colour`: one, or a list of one per point). `converged` may be None (a
    table without it: nothing marked). The legend of this axis gets one entry saying so, after the curves."""
    if converged is None:
        return
    bad = pd.Series(list(converged), dtype=object).eq(False).to_numpy()
    x, y = np.asarray(x, float), np.asarray(y, float)
    bad = bad & np.isfinite(x) & np.isfinite(y)
    if not bad.any():
        return
    edge = [c for c, b in zip(colour, bad) if b] if isinstance(colour, list) else (
        colour if colour is not None else "0.3")
    size = size or plt.rcParams["lines.markersize"]
    if marker in Line2D.filled_markers:
        ax.scatter(x[bad], y[bad], s=(size + 1) ** 2, marker=marker, facecolors="white",
                   edgecolors=edge, linewidths=1.0, zorder=4, gid=UNCONVERGED_GID)
    else:  # an x or + has no face to empty: an open ring around it instead
        ax.scatter(x[bad], y[bad], s=(size + 4) ** 2, marker="o", facecolors="none",
                   edgecolors=edge, linewidths=0.8, zorder=4, gid=UNCONVERGED_GID)
    for line in ax.lines:  # one legend entry per axis, kept after the curves drawn so far
        if line.get_gid() == UNCONVERGED_GID:
            line.remove()
    ax.plot([], [], ls="", marker="o", mfc="white", mec="0.3", color="0.3",
            label=UNCONVERGED_LABEL, gid=UNCONVERGED_GID)


def has_unconverged(fig) -> bool:
    return any(a.get_gid() == UNCONVERGED_GID for ax in fig.axes for a in ax.get_children())


def curve(ax, x, mean, lo=None, hi=None, colour=None, label=None, marker="o", ls="-",
          converged=None):
    """A line with a shaded min-max band over seeds (when there is more than one); points
    whose `converged` is False drawn hollow (mark_unconverged)."""
    x, mean = np.asarray(x, float), np.asarray(mean, float)
    line, = ax.plot(x, mean, marker=marker, ls=ls, color=colour, label=label)
    if lo is not None and hi is not None and not np.allclose(lo, hi, equal_nan=True):
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if marker:
        mark_unconverged(ax, x, mean, converged, marker, line.get_color(),
                         line.get_markersize())
    return line


def sigma_curves(ax, table: pd.DataFrame, by: str | None, metric: str, colours=None,
                 fmt=str, ls="-", marker="o", suffix="") -> None:
    """One curve per value of `by` (or a single curve) of `metric` vs σ from a summary table."""
    groups = table.groupby(by, sort=False) if by else [(None, table)]
    for i, (value, g) in enumerate(groups):
        g = g.sort_values("sigma")
        colour = (colours or {}).get(value, CATEGORICAL[i % 10])
        curve(ax, g["sigma"], g[f"{metric}_mean"], g[f"{metric}_min"], g[f"{metric}_max"],
              colour=colour, label=(fmt(value) if by else None) if not suffix
              else f"{fmt(value)} {suffix}", ls=ls, marker=marker,
              converged=g.get("converged"))
        bad = g[g["seeds"] == 0]
        if len(bad):  # every seed diverged at this sigma: mark it on the axis
            ax.plot(bad["sigma"], np.zeros(len(bad)), "x", color=colour, ms=6)
    sigma_axis(ax)


def describe(plan, run_ids) -> str:
    return plan.describe(run_ids)


def save(fig_id: str, fig, table: pd.DataFrame, plan, title: str, caption: str,
         extra_tables: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """Write figures/<id>.png/.pdf and results/tables/<id>.csv/.md (plus any extra tables as
    results/tables/<id>_<name>.csv, also included in the Markdown)."""
    root = paths.root()
    if has_unconverged(fig):
        caption = caption.replace("\n", f" {UNCONVERGED_NOTE}\n", 1) if "\n" in caption \
            else f"{caption} {UNCONVERGED_NOTE}"
    fig.suptitle(f"{fig_id}. {title}", fontsize=10, x=0.01, ha="left")
    text = _wrap(caption, int(fig.get_figwidth() * 19))
    fig.text(0.01, 0.005, text, fontsize=6.5, color="0.35", va="bottom")
    # Leave room at the bottom for the caption's lines (about 0.13 inch each).
    bottom = (text.count("\n") + 1) * 0.13 / fig.get_figheight() + 0.01
    fig.tight_layout(rect=(0, bottom, 1, 1 - 0.3 / fig.get_figheight()))
    declared = plan.figures[fig_id].get("tables", [])
    if sorted(extra_tables or {}) != sorted(declared):
        raise ValueError(f"{fig_id} writes tables {sorted(extra_tables or {})} but the registry "
                         f"declares {declared} (config/studies.yaml)")
    outs = paths.figure_files(fig_id)
    png, pdf, csv, md = (root / o for o in outs[:4])
    write_with(png, lambda p: fig.savefig(p, format="png"))
    write_with(pdf, lambda p: fig.savefig(p, format="pdf"))
    plt.close(fig)
    write_with(csv, lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    text = [f"# {fig_id}. {title}", "", caption, "", _markdown(table)]
    for name, t in (extra_tables or {}).items():
        write_with(root / f"results/tables/{fig_id}_{name}.csv",
                      lambda p, t=t: t.to_csv(p, index=False, float_format="%.6g"))
        outs.append(f"results/tables/{fig_id}_{name}.csv")
        text += ["", f"## {name}", "", _markdown(t)]
    write_with(md, lambda p: p.write_text("\n".join(text) + "\n"))
    return outs


def _markdown(t: pd.DataFrame) -> str:
    return t.to_markdown(index=False, floatfmt=".4g")


def _wrap(text: str, width: int) -> str:
    import textwrap
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))
