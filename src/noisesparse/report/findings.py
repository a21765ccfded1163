"""What a reader sees first, per claim, read from a results summary (summary.py): the claim,
its statement, verdict, the check that decided it with its interval, gates, figures and,
where the summary has it, the sensitivity analysis's conclusion (its `sensitivity` key).
The README's results tables (`noisesparse readme-results`) and the report's landing
(landing.py) are both written from these rows, and the README's ladder table from the
sensitivity key's readings per rung: never typed in."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from ..output import write_text

# The profiles whose summaries are committed under regression/ and shown in the README, each
# with its file (summary.regression_file): `long`'s was run with the sensitivity ladder and
# its latent rung switched on (its verdicts are plain `long`'s, the same runs; its
# `sensitivity` key gives each departing claim's conclusion).
README_PROFILES = {"quick": "regression/quick.json",
                   "long": "regression/long+sens_data+sensitivity.json"}
NOT_RECORDED = "deciding check not recorded in this summary; regenerate it"
SENSITIVITY = "departure (sensitivity)"


def claim_id(key: str) -> str:
    """'claim_10a' -> '10a'."""
    return key.removeprefix("claim_")


def _order(cid: str) -> tuple[int, str]:
    m = re.match(r"(\d+)(.*)", cid)
    return (int(m.group(1)), m.group(2)) if m else (10 ** 6, cid)


def rows(summary: dict) -> list[dict]:
    """One dict per claim in claim order: claim, statement, verdict, deciding (its text, or
    NOT_RECORDED for a summary written before the `claims` key), value/low/high/threshold,
    gates, figures, and `sensitivity` ("conclusion: detail" pieces) where the summary has
    that key (None otherwise)."""
    claims = summary.get("claims")
    sens = summary.get("sensitivity")
    out = []
    for key, verdict in summary.get("verdicts", {}).items():
        c = (claims or {}).get(key, {})
        d = c.get("deciding") or {}
        s = (sens or {}).get(key) or {}
        out.append({
            "claim": claim_id(key), "statement": c.get("statement", ""), "verdict": verdict,
            "deciding": d.get("text", NOT_RECORDED),
            **{k: d.get(k) for k in ("value", "low", "high", "threshold")},
            "gates": c.get("gates", ""), "figures": list(c.get("figures", [])),
            "sensitivity": None if sens is None else s.get("conclusion", "not analysed"),
            "sensitivity_detail": s.get("detail", ""),
        })
    return sorted(out, key=lambda r: _order(r["claim"]))


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(summary: dict) -> str:
    """The README's results table of one summary."""
    rs = rows(summary)
    with_sens = "sensitivity" in summary
    head = ["claim", "figures", "verdict", "deciding check, with its 95% interval over seeds"]
    head += [SENSITIVITY] if with_sens else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        claim = f"{r['claim']}. {r['statement']}" if r["statement"] else r["claim"]
        cells = [claim, ", ".join(r["figures"]), f"**{r['verdict']}**", r["deciding"]]
        cells += [r["sensitivity"]] if with_sens else []
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


NOT_CONVERGED_MARK = "†"
NO_VALUE = "–"  # a rung with no finished run of that quantity (e.g. a study not training it)
STAND_IN_COLUMN = "stand-in"


def ladder_rows(summary: dict) -> list[dict]:
    """One dict per claim and deciding quantity read along the sensitivity ladder, in claim
    order: claim, quantity, criterion, conclusion and its rungs (claims.sensitivity.readings),
    from the summary's `sensitivity` key; empty where no claim has rungs."""
    out = [{"claim": claim_id(key), "quantity": q, **e}
           for key, s in (summary.get("sensitivity") or {}).items()
           for q, e in (s.get("quantities") or {}).items()]
    return sorted(out, key=lambda r: _order(r["claim"]))  # stable: quantities keep their order


def _rung_cell(r: dict | None) -> str:
    if r is None:
        return ""
    if r.get("mean") is None:
        return NO_VALUE
    return f"{r['mean']:.3g}" + ("" if r.get("converged") else f" {NOT_CONVERGED_MARK}")


def ladder_table(summary: dict) -> str | None:
    """The README's ladder table: per claim and deciding quantity, its criterion, conclusion
    and mean at each rung; the stand-in's rung (order 0; the same runs on every ordered
    axis) in one column, then each other rung in the order the summary lists them. None
    where no claim has rungs."""
    rs = ladder_rows(summary)
    if not rs:
        return None
    cols = [STAND_IN_COLUMN]
    for r in rs:
        cols += [label for label, g in r["rungs"].items()
                 if g.get("order") != 0 and label not in cols]
    head = ["claim", "deciding quantity", "criterion", "conclusion", *cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        own = next((g for g in r["rungs"].values() if g.get("order") == 0), None)
        cells = [r["claim"], r["quantity"], r["criterion"], r["conclusion"], _rung_cell(own)]
        cells += [_rung_cell(r["rungs"].get(c)) for c in cols[1:]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + (
        f"\n\nMeans over seeds. {NOT_CONVERGED_MARK}: not converged (shown, not counted); "
        f"{NO_VALUE}: no finished run of that quantity at that rung (its study does not train "
        "it, or none finished); empty: a rung that quantity does not read. Per rung with its "
        "95% interval: `results/tables/F22_sensitivity.csv`.\n")


def markers(name: str) -> tuple[str, str]:
    """A generated block's lines in the README: `name` is "results:<profile>" (the verdicts)
    or "ladder:<profile>" (the sensitivity ladder's readings)."""
    return (f"<!-- {name}:start -->", f"<!-- {name}:end -->")


def block(profile: str, summary: dict, source: str) -> str:
    """What stands between a profile's markers: where it comes from, then its table, and how
    to regenerate a summary written before the `claims` key."""
    old = "" if "claims" in summary else (
        f"\n{source} was written before summaries recorded the deciding check: regenerate it "
        f"from that profile's results (`noisesparse summary --profile {profile} --out "
        f"{source}`, no training), then `noisesparse readme-results`.\n")
    return (f"<!-- written by `noisesparse readme-results` from {source}: edit that, not "
            f"this -->\n\n{markdown_table(summary)}\n{old}")


def fill(text: str, blocks: dict[str, str]) -> str:
    """`text` with each block between its markers (which must be there, once)."""
    for name, content in blocks.items():
        start, end = markers(name)
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise ConfigError(f"the README needs the lines {start} and {end} (once each, in "
                              f"that order) for its {name.replace(':', ' table of profile ')}")
        head, rest = text.split(start)
        text = f"{head}{start}\n{content}{end}{rest.split(end, 1)[1]}"
    return text


def readme_blocks(root: Path) -> dict[str, str]:
    """Each README profile's blocks, from its committed summary (summary.regression_file):
    "results:<profile>", and "ladder:<profile>" where that summary was run with the ladder
    (`with` has `sensitivity`; without it, the claims read only their stand-in rungs)."""
    from . import summary
    out = {}
    for p, f in README_PROFILES.items():
        if not (root / f).exists():
            continue
        s = summary.read(root / f)
        out[f"results:{p}"] = block(p, s, f)
        if "sensitivity" in s.get("with", []) and (ladder := ladder_table(s)) is not None:
            out[f"ladder:{p}"] = (f"<!-- written by `noisesparse readme-results` from {f}: "
                                  f"edit that, not this -->\n\n{ladder}")
    return out


def update_readme(root: Path, check: bool = False) -> bool:
    """Rewrite README.md's results tables; with `check`, only say whether it is up to date.
    True when the README is (or now is) what the summaries give."""
    path = root / "README.md"
    text = path.read_text()
    new = fill(text, readme_blocks(root))
    if check or new == text:
        return new == text
    write_text(new, path)
    return True
