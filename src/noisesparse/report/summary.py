"""The results in one small JSON file: the verdict per claim (claims.verdicts), per claim
what a reader sees first (`claims`: statement, verdict, the check that decided it with its
interval, gates, figures; what the README's results tables and the report's landing are
written from), and key numbers per study (final metrics averaged over seeds, per setting
the study varies).

It is the pipeline's DVC metrics file (`dvc metrics show / diff`), and the results
regression: CI regenerates it for the smoke profile and compares it with the committed
regression/smoke.json under the tolerances of regression/tolerances.yaml, so a refactor
that silently changes the science fails, and an intended change updates the committed file.
"""

from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path

import yaml

from ..errors import ConfigError, MissingResults
from ..output import write_text

SUMMARY = "results/summary.json"
TOLERANCES = "regression/tolerances.yaml"


def regression_file(profile: str, extras=()) -> str:
    """The committed summary of `profile` run with the optional studies `extras` switched on:
    regression/<profile>.json, or regression/<profile>+<switch>+....json (switches sorted)."""
    return "regression/" + "+".join([profile, *sorted(extras)]) + ".json"


# The numbers kept per setting: sparsity (clean held-out inputs), dead neurons, loss.
KEY_METRICS = ("frac_active_clean", "frac_dead", "loss_clean")
SD = "_sd"  # suffix of a metric's standard deviation over the seeds of a setting
DIGITS = 6  # significant digits kept: enough for any tolerance, stable to read
# Counts of finished runs that fail a check (noisesparse.runs.results), by the
# check's column.
CHECK_COUNTS = {"converged": "unconverged", "beats_zero_predictor": "no_better_than_zero"}


def _round(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return float(f"{float(v):.{DIGITS}g}")


def _round_all(obj):
    """Every float of a nested dict rounded (_round); other values as they are."""
    if isinstance(obj, dict):
        return {k: _round_all(v) for k, v in obj.items()}
    return _round(obj) if isinstance(obj, float) else obj


def _setting(row, varying: list[str]) -> str:
    return ",".join(f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}"
                    for k in varying) or "all"


def _count_false(g, column: str) -> dict:
    """{column's summary key: how many runs have it False} (noisesparse.runs.results)."""
    return {CHECK_COUNTS[column]: int(g[column].eq(False).sum())}


def study_numbers(df) -> dict:
    """Runs, diverged runs, of the finished ones how many had not converged and how many
    do not beat the zero predictor (noisesparse.runs.results), and per setting (the config
    fields the study varies, seeds averaged) the mean of KEY_METRICS over the runs that
    finished and how many of them had not converged."""
    from ..training.config import RunConfig
    fields = [f for f in RunConfig.__dataclass_fields__ if f != "seed" and f in df.columns]
    varying = [f for f in fields if df[f].astype(str).nunique() > 1]
    out = {"runs": int(len(df)), "diverged": int((df["status"] == "diverged").sum())}
    ok = df[df["status"] == "ok"]
    for column in CHECK_COUNTS:
        out.update(_count_false(ok, column))
    for key, g in (ok.groupby(varying, sort=True, dropna=False) if varying else [((), ok)]):
        name = _setting(g.iloc[0], varying)
        out[name] = {m: _round(g[m].mean()) for m in KEY_METRICS if m in g.columns}
        if len(g) >= 2:  # the spread over seeds: what a tolerance `sd: k` scales with
            out[name].update({f"{m}{SD}": _round(g[m].std(ddof=1)) for m in KEY_METRICS
                              if m in g.columns})
        out[name].update(_count_false(g, "converged"))
    return out


def claim_entry(r: dict) -> dict:
    """One F18 verdict row (claims.verdict.row, with its figures) as the summary keeps it."""
    threshold = r.get("deciding_threshold")
    return {"statement": r["statement"], "verdict": r["verdict"],
            "deciding": {"text": r["deciding"],
                         **{k: _round(r.get(f"deciding_{k}")) for k in ("value", "low", "high")},
                         "threshold": threshold if isinstance(threshold, str) else None},
            "gates": r["gates"], "figures": str(r.get("figures") or "").split()}


def summarise(plan, table=None) -> dict:
    """The summary of a plan's results; `table`: its verdicts (claims.verdicts), when the
    caller has them already."""
    from ..claims import conclusions, verdicts
    from ..runs.results import load_final
    rows = (verdicts(plan) if table is None else table).to_dict("records")
    return {
        "profile": plan.profile,
        "with": list(plan.extras),
        "verdicts": {f"claim_{r['claim']}": r["verdict"] for r in rows},
        "claims": {f"claim_{r['claim']}": claim_entry(r) for r in rows},
        # the sensitivity ladder's conclusion per departing claim (claims/sensitivity.py),
        # keyed as `verdicts` and `claims` are: {"claim_<id>": {"conclusion", "detail",
        # "quantities" (each deciding quantity's rungs, where it has any)}}
        "sensitivity": {f"claim_{c}": _round_all(v) for c, v in conclusions(plan).items()},
        "studies": {name: study_numbers(load_final(rids)) for name, rids in plan.studies.items()},
    }


def write(summary: dict, path: str | Path) -> Path:
    return write_text(json.dumps(summary, indent=1, sort_keys=False) + "\n", path)


def read(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise MissingResults(f"summary {path} not found: make it with `noisesparse summary` "
                          "(after the pipeline ran)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise MissingResults(f"summary {path} is not valid JSON ({e}): regenerate it with "
                          "`noisesparse summary`") from None


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def load_tolerances(path: str | Path) -> list[tuple[str, dict]]:
    """(key pattern, rule) pairs in file order; the first pattern matching a key applies.
    A rule is `exact`, `reported` (shown, not compared: present or not, any value passes), or
    a mapping with `abs`, `rel` and/or `sd` (allowed difference: the largest of abs, rel x
    |committed value| and sd x the committed spread over seeds, `seed_spread`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"tolerances {path} not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of key pattern -> tolerance")
    rules = []
    for pattern, rule in raw.items():
        if rule == "exact":
            rule = {"abs": 0.0, "rel": 0.0, "exact": True}
        elif rule == "reported":
            rule = {"reported": True}
        elif not (isinstance(rule, dict) and set(rule) <= {"abs", "rel", "sd"} and rule
                  and all(isinstance(v, (int, float)) and v >= 0 for v in rule.values())):
            raise ConfigError(f"{path}: {pattern}: a tolerance is `exact`, `reported` or a "
                              "mapping with `abs`, `rel` and/or `sd` (non-negative numbers), "
                              f"got {rule!r}")
        rules.append((pattern, rule))
    return rules


def _rule(key: str, rules) -> dict | None:
    for pattern, rule in rules:
        if fnmatch.fnmatchcase(key, pattern):
            return rule
    return None


def relative_spreads(flat: dict) -> dict[str, float]:
    """Per metric, the median over settings with seeds of its spread over seeds relative
    to its mean: the spread a setting run with one seed is given."""
    rel: dict[str, list[float]] = {}
    for key, sd in flat.items():
        if not key.endswith(SD) or not isinstance(sd, (int, float)):
            continue
        mean = flat.get(key[:-len(SD)])
        if isinstance(mean, (int, float)) and mean:
            rel.setdefault(key[:-len(SD)].rsplit("/", 1)[-1], []).append(abs(sd / mean))
    return {m: float(sorted(v)[len(v) // 2]) for m, v in rel.items()}


def seed_spread(key: str, flat: dict, rel: dict[str, float]) -> float:
    """A number's spread over seeds in the committed summary: its own `<key>_sd` where its
    setting had seeds, else its metric's median relative spread (`relative_spreads`) x
    |value|; 0 when neither is known."""
    sd = flat.get(key + SD)
    if isinstance(sd, (int, float)):
        return abs(float(sd))
    v = flat.get(key)
    return rel.get(key.rsplit("/", 1)[-1], 0.0) * abs(v) if isinstance(v, (int, float)) else 0.0


def compare(current: dict, expected: dict, rules) -> list[str]:
    """Every difference beyond tolerance, one line each; empty when the results agree.
    A key present on one side only, or with no tolerance declared, is a failure too; a key
    whose rule is `reported` is not compared."""
    cur, exp = flatten(current), flatten(expected)
    rel = relative_spreads(exp)
    problems = []
    for key in sorted(set(cur) | set(exp)):
        if (_rule(key, rules) or {}).get("reported"):
            continue
        if key not in cur:
            problems.append(f"{key}: missing now (expected {exp[key]!r})")
            continue
        if key not in exp:
            problems.append(f"{key}: new ({cur[key]!r}), not in the committed summary")
            continue
        a, b = cur[key], exp[key]
        rule = _rule(key, rules)
        if rule is None:
            problems.append(f"{key}: no tolerance declared for it")
            continue
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if rule.get("exact") or not numeric:
            if a != b:
                problems.append(f"{key}: {b!r} -> {a!r} (must not change)")
            continue
        allowed = max(rule.get("abs", 0.0), rule.get("rel", 0.0) * abs(b),
                      rule.get("sd", 0.0) * seed_spread(key, exp, rel))
        if abs(a - b) > allowed:
            problems.append(f"{key}: {b!r} -> {a!r} (|diff| {abs(a - b):.3g} > {allowed:.3g})")
    return problems
