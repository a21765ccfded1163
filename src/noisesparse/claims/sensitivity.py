"""Whose departure is it? The sensitivity ladder's shared rule: one claim's deciding
quantities re-measured while one stand-in choice at a time moves toward the paper's
setting (issue 22; docs/figures.md, F22), turned into one conclusion.

A **rung** is one setting of one axis: the axis ("width", "lr", "batch", "data", "init",
"schedule"), its setting ("512"), its distance-to-paper `order` (0: `long`'s stand-in,
larger: nearer the paper; None: a choice the paper does not fix, such as initialisation),
the deciding quantity's per-seed values (a 95% Student-t interval over seeds, or one value
judged on its value: verdict.interval), whether its runs converged, and the threshold and
direction the claim's own criterion compares it with (its verdict's, unchanged).

**RULE** (pure; every word reachable on hand-built rungs, tests/test_sensitivity.py):

1. Unconverged rungs are shown, not counted. A counted rung's outcome is verdict.compare's
   (pass, fail, inconclusive) and its *margin* is its mean's distance to the threshold on
   the passing side (positive: passes).
2. Per ordered axis with at least two counted rungs, from its lowest-order counted rung to
   its highest (nearest the paper):
   - *toward*: the nearest rung passes and the first does not; or the margin grows at every
     counted rung and the nearest rung is inconclusive (the departure shrinks);
   - *away*: the nearest rung fails and its margin is at most the first rung's (the
     departure stays or grows);
   - otherwise no trend.
   A free axis (order None) *flips* when one of its counted settings passes and another
   fails.
3. The conclusion of one quantity, first that applies: no counted rung: "open"; every
   counted rung passes: "holds at every rung"; a free axis flips: "sensitive to <axis>";
   some axis toward and none away: "stand-in"; some away and none toward: "persists";
   otherwise "open". "open" names the paper-scale rung that would decide it: each ordered
   axis's paper setting (PAPER) not reached by a counted rung, and the axes with a rung
   nearer the paper whose stand-in rung did not converge (on `long` at sigma 0.8, the
   stand-in has no plateau within 28,000 steps: benchmarks/horizon_2026-12-07.md,
   docs/studies.md).
4. A claim's conclusion over its quantities: the first word in CLAIM_ORDER that any of
   them has ("sensitive to", "persists", "open", "stand-in", "holds at every rung"): a
   claim's departure is the stand-in's only when every quantity says so or holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .verdict import FAIL, INCONCLUSIVE, PASS, compare, interval

HOLDS, STAND_IN, PERSISTS, OPEN = "holds at every rung", "stand-in", "persists", "open"
SENSITIVE = "sensitive to"  # followed by the axis: "sensitive to init"
TOWARD, AWAY, NO_TREND = "toward", "away", "no trend"
CLAIM_ORDER = (SENSITIVE, PERSISTS, OPEN, STAND_IN, HOLDS)
# The paper's setting per ordered axis (spec "The model and its training"): what an "open"
# conclusion names as the rung that would decide it.
PAPER = {"width": "10000", "lr": "0.0001", "batch": "1024", "data": "cifar10_latents",
         "schedule": "Adam 0.0001"}
RULE = ("per quantity: unconverged rungs shown, not counted; all counted rungs pass: holds at "
        "every rung; a choice the paper does not fix flips pass/fail: sensitive to it; an "
        "ordered axis moving toward agreement (nearest-the-paper rung passes, or the margin "
        "grows rung to rung to an inconclusive one) and none away (nearest rung fails, margin "
        "no better than the stand-in's): stand-in; away and none toward: persists; else open, "
        "naming the paper-scale rung that would decide. A claim takes the first of sensitive, "
        "persists, open, stand-in, holds among its quantities")


@dataclass(frozen=True)
class Rung:
    quantity: str  # the deciding quantity's name in its claim module
    axis: str
    setting: str
    order: int | None  # 0: long's stand-in, larger: nearer the paper; None: not fixed by it
    values: tuple[float, ...]  # per seed (or one value)
    converged: bool
    threshold: float
    op: str  # the criterion's direction: "<=" / "<" or ">=" / ">"

    @property
    def outcome(self) -> str:
        return compare(list(self.values), self.threshold, self.op)

    @property
    def margin(self) -> float:
        """The mean's distance to the threshold on the passing side (positive: passes)."""
        m = interval(list(self.values))[0]
        return (self.threshold - m) if self.op in ("<=", "<") else (m - self.threshold)


def rung(quantity: str, axis: str, setting, order: int | None, values, converged: bool,
         threshold: float, op: str) -> Rung:
    """A Rung from loose inputs (an array of per-seed values, a number setting)."""
    vals = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
    s = f"{setting:g}" if isinstance(setting, float) else str(setting)
    return Rung(quantity, axis, s, order, vals, bool(converged), float(threshold), op)


def counted(rungs: list[Rung]) -> list[Rung]:
    """The rungs a conclusion reads: converged, with a finite value."""
    return [r for r in rungs if r.converged and math.isfinite(r.margin)]


def axis_trend(rungs: list[Rung]) -> str:
    """TOWARD, AWAY or NO_TREND for one ordered axis's counted rungs (RULE 2)."""
    rs = sorted(counted(rungs), key=lambda r: r.order)
    if len(rs) < 2:
        return NO_TREND
    first, last = rs[0], rs[-1]
    if last.outcome == PASS and first.outcome != PASS:
        return TOWARD
    margins = [r.margin for r in rs]
    if last.outcome == INCONCLUSIVE and all(b > a for a, b in zip(margins, margins[1:])):
        return TOWARD
    if last.outcome == FAIL and last.margin <= first.margin:
        return AWAY
    return NO_TREND


def flips(rungs: list[Rung]) -> bool:
    """A free axis flips when one counted setting passes and another fails."""
    out = {r.outcome for r in counted(rungs)}
    return PASS in out and FAIL in out


def deciders(rungs: list[Rung]) -> list[str]:
    """The paper-scale rungs not reached by a counted rung, per ordered axis in the table."""
    axes = {r.axis for r in rungs if r.order is not None}
    reached = {(r.axis, r.setting) for r in counted(rungs)}
    return [f"{a} {PAPER[a]}" for a in sorted(axes) if a in PAPER and (a, PAPER[a]) not in reached]


def conclude(rungs: list[Rung]) -> tuple[str, str]:
    """(conclusion, detail) of one quantity's rungs under RULE 3."""
    n_all, cs = len(rungs), counted(rungs)
    by_axis: dict[str, list[Rung]] = {}
    for r in rungs:
        by_axis.setdefault(r.axis, []).append(r)
    trends = {a: axis_trend(g) for a, g in by_axis.items() if g[0].order is not None}
    flipped = [a for a, g in by_axis.items() if g[0].order is None and flips(g)]
    seen = (f"{len(cs)} of {n_all} rungs counted (converged); trends: "
            + (", ".join(f"{a} {t}" for a, t in sorted(trends.items())) or "none")
            + (f"; flips with {', '.join(flipped)}" if flipped else ""))
    toward = [a for a, t in trends.items() if t == TOWARD]
    away = [a for a, t in trends.items() if t == AWAY]
    if not cs:
        word = OPEN
    elif all(r.outcome == PASS for r in cs):
        word = HOLDS
    elif flipped:
        word = f"{SENSITIVE} {flipped[0]}"
    elif toward and not away:
        word = STAND_IN
    elif away and not toward:
        word = PERSISTS
    else:
        word = OPEN
    if word == OPEN:
        need = deciders(rungs)
        seen += "; would be decided by " + (", ".join(need) if need else
                                            "a converged rung nearer the paper")
        if base := unconverged_stand_in(rungs):
            seen += ", or the stand-in's own rung converged (" + ", ".join(base) + ")"
    return word, seen


def unconverged_stand_in(rungs: list[Rung]) -> list[str]:
    """The ordered axes with a measured rung nearer the paper whose stand-in rung (order 0)
    was measured but did not converge: no trend can start from it, whatever those rungs
    show. (An axis with its stand-in rung alone already names the nearer rung that would
    decide; a rung study that did not train a sigma measures nothing there: not listed.)"""
    measured = [r for r in rungs if np.isfinite(r.values).any()]
    beyond = {r.axis for r in measured if r.order is not None and r.order > 0}
    return sorted({r.axis for r in measured
                   if r.order == 0 and not r.converged and r.axis in beyond})


def rank(word: str) -> int:
    return next(i for i, w in enumerate(CLAIM_ORDER) if word.startswith(w))


def conclude_claim(rungs: list[Rung]) -> tuple[str, str]:
    """(conclusion, detail) of a claim over its quantities (RULE 4); no rung at all: open."""
    names = list(dict.fromkeys(r.quantity for r in rungs))
    if not names:
        return OPEN, "no rung measured: would be decided by the sensitivity studies"
    per = {q: conclude([r for r in rungs if r.quantity == q]) for q in names}
    word = min((w for w, _ in per.values()), key=rank)
    return word, "; ".join(f"{q}: {w} ({d})" for q, (w, d) in per.items())


def readings(rungs: list[Rung]) -> dict[str, dict]:
    """What a summary keeps of one claim's rungs, per quantity: its criterion, its conclusion
    (RULE 3) and per rung ("<axis> <setting>") its order, the mean over its finished seeds,
    their standard deviation (two seeds or more), the seed count and whether it converged.
    The README's ladder table is written from this (report/findings.py), never typed in."""
    out: dict[str, dict] = {}
    for q in dict.fromkeys(r.quantity for r in rungs):
        rs = [r for r in rungs if r.quantity == q]
        per = {}
        for r in rs:
            v = np.asarray(r.values, dtype=float)
            v = v[np.isfinite(v)]
            mean = interval(list(r.values))[0]  # F22's table's mean (table below)
            per[f"{r.axis} {r.setting}"] = {
                "order": r.order, "mean": mean if math.isfinite(mean) else None,
                **({"mean_sd": float(v.std(ddof=1))} if v.size >= 2 else {}),
                "seeds": int(v.size), "converged": r.converged}
        out[q] = {"criterion": f"{rs[0].op} {rs[0].threshold:g}",
                  "conclusion": conclude(rs)[0], "rungs": per}
    return out


def table(claim: str, rungs: list[Rung]) -> pd.DataFrame:
    """One row per rung, for F22's table: interval, outcome, whether counted."""
    rows = []
    for r in rungs:
        m, lo, hi = interval(list(r.values))
        rows.append({"claim": claim, "quantity": r.quantity, "axis": r.axis,
                     "setting": r.setting, "order": r.order, "mean": m, "low": lo, "high": hi,
                     "seeds": int(np.isfinite(r.values).sum()), "converged": r.converged,
                     "counted": r in counted([r]), "threshold": r.threshold, "op": r.op,
                     "outcome": r.outcome})
    return pd.DataFrame(rows)
