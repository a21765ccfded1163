"""How measurements become a verdict: gates first, an interval over seeds for every compared
quantity, and one stated rule that combines a claim's checks (docs/figures.md, F18).

Pure functions of numbers and run tables, so every word a judge can return is reachable on
hand-built inputs (tests/test_verdict.py).

- A **check** is one sub-claim: its outcome, whether it is essential, and what was measured.
- **Gates**: a check whose runs have not converged (`converged`, judged when results are
  read: noisesparse.measures.convergence) is "not converged"; one that compares with a baseline that
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
