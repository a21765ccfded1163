"""Claim 5: removing the noise later leaves the network sparse.

The `noise_removal` study (and `noise_removal_latents` on the latent data, when asked for)
trains every run the same number of steps at the same learning rates and seeds: sigma held
until the fraction active has plateaued, annealed linearly to 0, then a flat stretch at 0.
Its sigma 0 runs, whose schedule is 0 throughout, are the never-noised reference.

Retention, per learning rate and removal sigma: each seed's annealed network's clean
fraction active divided by its never-noised reference's (same seed, lr and steps). The
network stayed sparse when that ratio is at most RETAIN over the seeds' interval. How far
it densified while the noise was removed (after / before removal) is reported, not judged:
the paper's claim is that the network stays sparse, not that it stays exactly as sparse.

Gates (claims/verdict.py): an annealed run counts as converged when its held phase
plateaued before sigma moved (`held_converged`, noisesparse.runs.results) and its
final 20%, in the flat stretch at sigma 0, is flat (`converged`); the reference is the
check's baseline, so it must have converged and beat the zero predictor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..runs.results import load_history
from .ladder import travelled
from .sensitivity import rung
from .verdict import Check, converged_sigmas, flag, gated, row, study, sweep, threshold_check

CLAIM = 5
FIGURES = ("F9",)  # what it reads, drawn (the report links them)
STATEMENT = "Removing the noise later leaves the network sparse"
# "Well below" the never-noised network: at most half its fraction active (the criterion
# this module has used since its first version; the paper gives no number).
RETAIN = 0.5
CRITERION = (f"after sigma is annealed to 0: fraction active (clean) <= {RETAIN:g} x that of "
             "the never-noised network trained as long at the same lr and seed, per lr and "
             "removal sigma, over the seeds' 95% interval; after / before removal reported")
RULE = ("every (data, lr, removal sigma) retention check is essential; verdict.RULE combines "
        "them (all pass: agrees; some fail: partly or disagrees; otherwise the gate or "
        "'inconclusive')")
# F18's roles for the removal studies (config/studies.yaml names them), each with its label.
ROLES = (("removal", ""), ("removal_latents", "latents "))


def _converged_both_phases(runs: pd.DataFrame) -> pd.DataFrame:
    """`converged` for the gate: the held phase plateaued AND the end is flat."""
    return runs.assign(converged=flag(runs, "held_converged") & flag(runs, "converged"))


def checks_for(runs: pd.DataFrame, before: pd.Series | None = None,
               label: str = "") -> tuple[list[Check], list[str]]:
    """The retention checks of one study's final metrics (columns run_id, status, sigma,
    lr, seed, frac_active_clean, and the checks' converged / held_converged /
    beats_zero_predictor), and the measured text per (lr, sigma). `before`: each annealed
    run's clean fraction active at its last held step, by run_id (reported)."""
    ref_all = runs[runs["sigma"] == 0]
    checks, parts = [], []
    for lr in sorted(runs["lr"].unique()):
        ref = ref_all[ref_all["lr"] == lr]
        ann_lr = runs[(runs["sigma"] > 0) & (runs["lr"] == lr)]
        for s in sorted(ann_lr["sigma"].unique()):
            ann = _converged_both_phases(ann_lr[ann_lr["sigma"] == s])
            name = f"{label}lr {lr:g} sigma {s:g} retention"

            def decide(ann=ann, ref=ref, name=name):
                a = ann[ann["status"] == "ok"].set_index("seed")["frac_active_clean"]
                r = ref[ref["status"] == "ok"].set_index("seed")["frac_active_clean"]
                seeds = a.index.intersection(r.index)
                ratio = (a.loc[seeds] / r.loc[seeds]).to_numpy(float)
                return threshold_check(name, ratio, RETAIN, "<=", "annealed / never noised")

            checks.append(gated(name, ann, decide, baseline=ref))
            ok = ann[ann["status"] == "ok"]
            text = (f"{label}lr {lr:g}, sigma {s:g}: {ok['frac_active_clean'].mean():.3f} after "
                    f"removal vs {ref.loc[ref['status'] == 'ok', 'frac_active_clean'].mean():.3f}"
                    " never noised")
            if before is not None and len(ok):
                b = before.reindex(ok["run_id"]).to_numpy(float)
                text += (f", {np.nanmean(b):.3f} before removal (after / before "
                         f"{np.nanmean(ok['frac_active_clean'].to_numpy(float) / b):.2f})")
            parts.append(text)
    return checks, parts


def before_removal(runs: pd.DataFrame) -> pd.Series:
    """Each annealed run's clean fraction active at its last logged step before sigma
    moves (ramp_start x steps), by run_id."""
    ann = runs[(runs["sigma"] > 0) & (runs["status"] == "ok")]
    if ann.empty:
        return pd.Series(dtype=float)
    hist = load_history(list(ann["run_id"]))
    out = {}
    for _, r in ann.iterrows():
        h = hist[(hist["run_id"] == r["run_id"]) & (hist["step"] <= r["ramp_start"] * r["steps"])]
        out[r["run_id"]] = h.sort_values("step")["frac_active_clean"].iloc[-1]
    return pd.Series(out, dtype=float)


def judge_tables(tables: dict[str, pd.DataFrame], befores: dict[str, pd.Series] | None = None,
                 sweep_fa0: float | None = None) -> dict:
    """The verdict row from each removal study's final metrics (role of ROLES -> table, the
    roles whose studies were run), the fraction active before removal per run, and the
    main sweep's sigma 0 value (reported beside the reference trained as long)."""
    checks, parts = [], []
    for role, label in ROLES:
        if role in tables:
            c, p = checks_for(tables[role], (befores or {}).get(role), label)
            checks += c
            parts += p
    measured = "; ".join(parts)
    if sweep_fa0 is not None:
        measured += f"; the sigma sweep's sigma 0 (shorter): {sweep_fa0:.3f}"
    return row(CLAIM, STATEMENT, CRITERION, measured, checks, RULE)


def judge(plan) -> dict | None:
    tables = {role: study(plan, role) for role, _ in ROLES}
    tables = {k: v for k, v in tables.items() if v is not None}
    if "removal_latents" in tables and "removal" in tables and set(
            tables["removal_latents"]["run_id"]) == set(tables["removal"]["run_id"]):
        del tables["removal_latents"]  # the paper's main data are the latents
    if "removal" not in tables:
        return None
    sw = sweep(plan)
    sw0 = sw[(sw["sigma"] == 0) & (sw["status"] == "ok")]["frac_active_clean"]
    return judge_tables(tables, {k: before_removal(v) for k, v in tables.items()},
                        float(sw0.mean()) if len(sw0) else None)


# The ladder's schedule axis: `long`'s removal (Adam 1e-3) as its stand-in, then the same
# 1:1 held/annealed schedule (the paper's GentleAnneal) at Adam 1e-4, steps scaled (the
# `sens_anneal` study, F18's role `ladder_anneal`). Order: by learning rate, largest (the
# stand-in's) first.
LADDER_ROLES = ("removal", "ladder_anneal")


def retention(runs: pd.DataFrame, sigma: float) -> np.ndarray:
    """Per seed, the annealed network's clean fraction active over the never-noised
    reference's (same seed, lr and steps) for removal sigma `sigma`: what decides claim 5."""
    ok = runs[runs["status"] == "ok"]
    a = ok[ok["sigma"] == sigma].set_index("seed")["frac_active_clean"]
    r = ok[ok["sigma"] == 0].set_index("seed")["frac_active_clean"]
    seeds = a.index.intersection(r.index)
    return (a.loc[seeds] / r.loc[seeds]).to_numpy(float)


def rungs(plan) -> list:
    """Claim 5 along the schedule axis, one quantity per removal sigma, one rung per
    learning rate. A rung counts when its annealed runs plateaued before removal and ended
    flat, its reference converged (the verdict's gates), and lr x steps reached the
    stand-in's (ladder.TRAVEL)."""
    base = study(plan, "removal")
    if base is None:
        return []
    runs = pd.concat([t for t in (study(plan, n) for n in LADDER_ROLES) if t is not None],
                     ignore_index=True).drop_duplicates("run_id")
    out = []
    for order, lr in enumerate(sorted(runs["lr"].unique(), reverse=True)):
        g = runs[runs["lr"] == lr]
        conv = set(converged_sigmas(_converged_both_phases(g)))
        for s in sorted(x for x in g["sigma"].unique() if x > 0):
            ok = {0.0, s} <= conv and travelled(g[g["sigma"].isin([0.0, s])], base)
            out.append(rung(f"retention at sigma {s:g}", "schedule", f"Adam {lr:g}", order,
                            retention(g, s), ok, RETAIN, "<="))
    return out
