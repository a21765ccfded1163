"""How measurements become a verdict: gates first, an interval over seeds for every compared
quantity, and one stated rule that combines a claim's checks (docs/figures.md, F18).

What every claim module shares. A claim module exposes `CLAIM`, `STATEMENT`, `CRITERION`
and `judge(plan)`, which returns `row(...)`: the criterion stands beside the arithmetic that
applies it. The rule and its parts (the top of this module) are pure functions of numbers and
run tables, so every word a judge can return is reachable on hand-built inputs
(tests/test_verdict.py); below them, the readers of a claim's studies (`sweep`, `study`,
`figure_table`) and its per-sigma views.

- A **check** is one sub-claim: its outcome, whether it is essential, and what was measured.
- **Gates**: a check whose runs have not converged (`converged`, judged when results are
  read: noisesparse.runs.results) is "not converged"; one that compares with a baseline that
  does not beat the zero predictor (`beats_zero_predictor`) is "baseline failed". Neither
  is a pass or a failure.
- **Intervals**: a compared quantity is given per seed; its mean carries a two-sided 95%
  Student-t interval. The check passes when the whole interval is on the passing side of
  its threshold, fails when the whole interval is on the other side, and is "inconclusive"
  when it straddles. One seed has no interval: it is judged on its value and says so.
- **Rule** (RULE, shared by every claim unless its module states its own): below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .. import paths
from ..errors import ConfigError
from ..plan.registry import VERDICT_FIGURE, Plan
from ..runs.results import load_final

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
NOT_CONVERGED, BASELINE_FAILED, NOT_MEASURED = "not converged", "baseline failed", "not measured"
GATES = (BASELINE_FAILED, NOT_CONVERGED)
OUTCOMES = (PASS, FAIL, INCONCLUSIVE, *GATES, NOT_MEASURED)
AGREES, PARTLY, DISAGREES = "agrees", "partly", "disagrees"
# Every word a verdict can be (docs/figures.md, F18).
VERDICTS = (AGREES, PARTLY, DISAGREES, INCONCLUSIVE, NOT_CONVERGED, BASELINE_FAILED, NOT_MEASURED)
LEVEL = 0.95

RULE = ("essential checks decide, the others are reported: agrees when every essential check "
        "passes; disagrees when at least one fails and none passes; partly when some pass and "
        "some fail; with no failure, a gate ('baseline failed', then 'not converged') or an "
        "interval that straddles its threshold ('inconclusive') on an essential check is the "
        "verdict")


@dataclass(frozen=True)
class Check:
    """One sub-claim. `value`, `low`, `high` (the compared mean and its interval over seeds)
    and `threshold` ("<= 0.333") are set by `threshold_check`, for a reader who wants the
    deciding number apart from the text; other checks leave them None."""
    name: str
    outcome: str
    measured: str = ""
    essential: bool = True
    value: float | None = None
    low: float | None = None
    high: float | None = None
    threshold: str | None = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown check outcome {self.outcome!r}; one of {OUTCOMES}")

    def text(self) -> str:
        tag = "" if self.essential else " (reported)"
        return f"{self.name}{tag}: {self.outcome}" + (f" [{self.measured}]" if self.measured
                                                       else "")


def t_quantile(df: int, level: float = LEVEL) -> float:
    """The two-sided Student-t quantile for `df` degrees of freedom (scipy's)."""
    from scipy.stats import t
    return float(t.ppf(0.5 + level / 2, df))


def interval(values, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high) of the values' mean: a two-sided Student-t interval over seeds.
    One value gives low = high = the value (no spread to speak of); none gives NaNs.
    NaNs (runs that did not finish) are left out."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    half = t_quantile(v.size - 1, level) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half


def fmt_interval(values, digits: str = ".3g") -> str:
    """'0.12 [0.10, 0.14] (3 seeds)' or '0.12 (1 seed: no interval)'."""
    v = np.asarray(values, dtype=float)
    n = int(np.isfinite(v).sum())
    m, lo, hi = interval(v)
    if n == 0:
        return "no finished run"
    if n == 1:
        return f"{m:{digits}} (1 seed: no interval)"
    return f"{m:{digits}} [{lo:{digits}}, {hi:{digits}}] ({n} seeds)"


def compare(values, threshold: float, op: str) -> str:
    """The outcome of 'mean(values) OP threshold' for OP '<=' or '>=' (or '<', '>', which
    are treated alike: an interval is never exactly on its threshold in practice): pass when
    the whole interval satisfies it, fail when none of it does, else inconclusive."""
    if op not in ("<=", ">=", "<", ">"):
        raise ValueError(f"unknown comparison {op!r}")
    m, lo, hi = interval(values)
    if not math.isfinite(m) or not math.isfinite(threshold):
        return NOT_MEASURED
    if op in ("<=", "<"):
        return PASS if hi <= threshold else (FAIL if lo > threshold else INCONCLUSIVE)
    return PASS if lo >= threshold else (FAIL if hi < threshold else INCONCLUSIVE)


def threshold_check(name: str, values, threshold: float, op: str, what: str = "",
                    essential: bool = True, digits: str = ".3g") -> Check:
    """A check that a per-seed quantity's mean lies on one side of a threshold, with the
    interval and the threshold in its measured text."""
    measured = f"{what + ' ' if what else ''}{fmt_interval(values, digits)} {op} {threshold:{digits}}"
    m, lo, hi = interval(values)
    return Check(name, compare(values, threshold, op), measured, essential,
                 *(x if math.isfinite(x) else None for x in (m, lo, hi)),
                 f"{op} {threshold:{digits}}")


def paired(a: pd.DataFrame, b: pd.DataFrame, col: str, on: str = "seed") -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """The values of `col` in two run tables matched on `on` (the same seeds on both sides),
    finished runs only: the arrays to compare seed by seed."""
    a = a[a["status"] == "ok"].set_index(on)[col]
    b = b[b["status"] == "ok"].set_index(on)[col]
    common = a.index.intersection(b.index)
    return a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)


def flag(runs: pd.DataFrame, col: str) -> pd.Series:
    """A boolean run flag of a run table (results.load_final judges every run). A table
    without it, or a run whose flag is missing, was not judged: an error, never a pass."""
    if col not in runs:
        raise KeyError(f"the run table has no {col!r}: read runs with results.load_final")
    missing = runs[col].isna()
    if missing.any():
        raise ValueError(f"{int(missing.sum())} run(s) have no {col!r}: not judged")
    return runs[col].astype(bool)


def gate(runs: pd.DataFrame, baseline: pd.DataFrame | None = None) -> tuple[str | None, str]:
    """(gate outcome or None, what the gates saw) for a check that reads `runs` and, if
    given, compares them with `baseline` runs. Only finished runs count; a diverged run is
    counted in the tables, not judged."""
    ok = runs[runs["status"] == "ok"]
    conv = flag(ok, "converged")
    seen = [f"converged {int(conv.sum())}/{len(ok)}"]
    outcome = None
    if baseline is not None:
        bok = baseline[baseline["status"] == "ok"]
        beats = flag(bok, "beats_zero_predictor")
        bconv = flag(bok, "converged")
        seen += [f"baseline beats zero predictor {int(beats.sum())}/{len(bok)}",
                 f"baseline converged {int(bconv.sum())}/{len(bok)}"]
        if len(bok) and not beats.all():
            outcome = BASELINE_FAILED
        elif not bconv.all():
            outcome = NOT_CONVERGED
    if outcome is None and not conv.all():
        outcome = NOT_CONVERGED
    if outcome is None and len(ok) == 0:
        outcome = NOT_MEASURED
    return outcome, ", ".join(seen)


def gated(name: str, runs: pd.DataFrame, decide, baseline: pd.DataFrame | None = None,
          essential: bool = True) -> Check:
    """A check behind its gates: `decide()` -> Check runs only when the runs converged and
    the baseline (if any) beats the zero predictor; otherwise the gate is the outcome. The
    measurement is still reported beside a gate, so a reader sees what was not judged."""
    outcome, seen = gate(runs, baseline)
    if outcome is None:
        c = decide()
        return replace(c, name=name, measured=f"{c.measured}; {seen}" if c.measured else seen,
                       essential=essential)
    try:
        c = decide()
    except Exception:  # a gated measurement may be undefined (no finished run): say the gate
        c = Check(name, outcome)
    return replace(c, name=name, outcome=outcome, essential=essential,
                   measured=f"{c.measured}; {seen}" if c.measured else seen)


def judge_converged(checks: list[Check]) -> list[Check]:
    """Where at least one essential check was judged (pass, fail or inconclusive), the
    essential checks that stopped at 'not converged' become reported ones, renamed to say
    so: a claim compared at several sigmas is judged at those whose runs converged, and the
    others are shown, not counted. With none judged, the gates stand (the verdict is the
    gate). For claims whose criterion says so (claim 7)."""
    judged = any(c.essential and c.outcome in (PASS, FAIL, INCONCLUSIVE) for c in checks)
    if not judged:
        return list(checks)
    return [replace(c, name=f"{c.name} [not converged: reported]", essential=False)
            if c.essential and c.outcome == NOT_CONVERGED else c for c in checks]


def combine(checks: list[Check]) -> str:
    """The verdict under RULE."""
    ess = [c.outcome for c in checks if c.essential and c.outcome != NOT_MEASURED]
    if not ess:
        return NOT_MEASURED
    passed, failed = ess.count(PASS), ess.count(FAIL)
    if failed:
        return PARTLY if passed else DISAGREES
    for word in (*GATES, INCONCLUSIVE):
        if word in ess:
            return word
    return AGREES


# The check outcome that makes each verdict (the gates and "inconclusive" make themselves).
REASON = {AGREES: PASS, PARTLY: FAIL, DISAGREES: FAIL}


def deciding(checks: list[Check]) -> Check | None:
    """The check that decided the verdict under RULE, the one number a reader is shown first:
    the first essential check whose outcome made it (the first failure for 'partly' and
    'disagrees', the first gate or straddling interval for a gate or 'inconclusive', the
    first essential check, the claim's main one, for 'agrees'); with no essential check
    measured, the first essential check (else the first check); None without checks."""
    verdict = combine(checks)
    want = REASON.get(verdict, verdict)
    ess = [c for c in checks if c.essential]
    return next((c for c in ess if c.outcome == want), (ess or list(checks) or [None])[0])


def gate_summary(checks: list[Check]) -> str:
    """What the gates did, for F18's column: how many essential checks each gate stopped."""
    parts = [f"{sum(c.outcome == g for c in checks if c.essential)} {g}" for g in GATES
             if any(c.outcome == g for c in checks if c.essential)]
    return "; ".join(parts) if parts else "passed"


# A claim's verdict row, and reading what a claim measures

def row(claim: int | str, statement: str, criterion: str, measured: str,
        checks: list[Check | bool], rule: str = RULE) -> dict:
    """A claim's F18 verdict row: statement, criterion, the rule that combines its checks,
    what was measured, each check's outcome (gates and intervals included), what the gates
    stopped, the verdict, and the check that decided it (`deciding`: its text, and its
    mean, interval and threshold where it compares a per-seed quantity with one). A plain
    bool is an essential check with no interval (a deterministic quantity, or a profile
    with one seed)."""
    checks = [c if isinstance(c, Check) else Check(f"check {i + 1}", PASS if c else FAIL)
              for i, c in enumerate(checks)]
    d = deciding(checks)
    return {"claim": claim, "statement": statement, "verdict": combine(checks),
            "gates": gate_summary(checks), "criterion": criterion, "rule": rule,
            "checks": "; ".join(c.text() for c in checks) or "no check made",
            "measured": measured, "deciding": d.text() if d else "no check made",
            **{f"deciding_{k}": getattr(d, k, None)
               for k in ("value", "low", "high", "threshold")}}


def by_sigma(df: pd.DataFrame, col: str) -> pd.Series:
    """Mean over seeds of `col` per sigma, runs that finished only."""
    return finished(df).groupby("sigma")[col].mean().sort_index()


def reads(plan: Plan, role: str) -> list[str]:
    """The planned studies the claims read as `role`: F18's (VERDICT_FIGURE's) `studies`
    mapping in config/studies.yaml names them, so no claim names a study."""
    return plan.reads(VERDICT_FIGURE, role)


def sweep(plan: Plan) -> pd.DataFrame:
    """The main sigma sweep's final metrics, which most claims read."""
    return load_final(plan.read_runs(VERDICT_FIGURE, "sweep"))


def study(plan: Plan, role: str) -> pd.DataFrame | None:
    """Final metrics of the studies read as `role`, or None when this profile plans none."""
    runs = plan.read_runs(VERDICT_FIGURE, role)
    return load_final(runs) if runs else None


def figure_table(name: str, claim: int) -> pd.DataFrame:
    """A table a figure step wrote (results/tables/<name>.csv), for a claim judged on what
    that figure measured; the figure's `reads` in config/studies.yaml (F18's) makes it an
    input of the steps that compute verdicts, so it is drawn first."""
    path = paths.root() / f"results/tables/{name}.csv"
    if not path.exists():
        fig = name.split("_")[0]
        raise ConfigError(f"claim {claim} reads {path}: draw it first (`noisesparse figure "
                          f"{fig}`; the workflow does it before F18 and the summary)")
    return pd.read_csv(path)


def finished(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"]


def at_sigma(df: pd.DataFrame, sigma: float) -> tuple[float, pd.DataFrame]:
    """(grid sigma nearest `sigma`, every run there, finished or not: the gates see them)."""
    sig = np.sort(df["sigma"].unique())
    if not len(sig):
        return np.nan, df.iloc[0:0]
    s = float(sig[np.argmin(np.abs(sig - sigma))])
    return s, df[df["sigma"] == s]


def judged_sigma(df: pd.DataFrame, sigma: float) -> tuple[float, pd.DataFrame, str]:
    """Where a claim stated at the paper's noise level `sigma` is judged: the grid sigma
    nearest it when all its runs converged; otherwise the largest sigma above 0 and below it
    whose runs all converged, so that a profile too short for `sigma` still judges the claim
    on converged networks, and says where (the note); with none, `sigma` itself, for the
    gates to stop. (sigma, its runs, note: "" when judged where stated)."""
    s, rows = at_sigma(df, sigma)
    below = [x for x in converged_sigmas(df) if 0 < x <= s]
    if not below or s in below:
        return s, rows, ""
    t = max(below)
    return t, df[df["sigma"] == t], (f"judged at sigma {t:g}, the largest converged sigma "
                                     f"below {s:g} (not converged there)")


def per_seed(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """seed x sigma table of `col` over finished runs (mean where a cell has several)."""
    ok = finished(df)
    if ok.empty or col not in ok:
        return pd.DataFrame()
    return ok.pivot_table(index="seed", columns="sigma", values=col, aggfunc="mean",
                          dropna=False).sort_index(axis=1)


def converged_sigmas(df: pd.DataFrame) -> list[float]:
    """The sigmas whose runs all finished and converged."""
    out = []
    for s, g in df.groupby("sigma"):
        if (g["status"] == "ok").all() and flag(g, "converged").all():
            out.append(float(s))
    return sorted(out)


def seeds_note(df: pd.DataFrame) -> str:
    """'(n seeds)' for a run table: what the intervals stand on."""
    n = finished(df)["seed"].nunique() if "seed" in df else 0
    return f"{n} seed{'s' if n != 1 else ''}"
