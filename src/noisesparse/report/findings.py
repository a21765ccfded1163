"""What a reader sees first, per claim, read from a results summary (summary.py): the claim,
its statement, verdict, the check that decided it with its interval, gates, figures and,
where the summary has it, the sensitivity analysis's conclusion (its `sensitivity` key).
The README's results tables (`noisesparse readme-results`) and the report's landing
(landing.py) are both written from these rows, never typed in."""

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


def markers(profile: str) -> tuple[str, str]:
    return (f"<!-- results:{profile}:start -->", f"<!-- results:{profile}:end -->")


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
    """`text` with each profile's block between its markers (which must be there, once)."""
    for profile, content in blocks.items():
        start, end = markers(profile)
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise ConfigError(f"the README needs the lines {start} and {end} (once each, in "
                              "that order) for the results table of profile " + profile)
        head, rest = text.split(start)
        text = f"{head}{start}\n{content}{end}{rest.split(end, 1)[1]}"
    return text


def readme_blocks(root: Path) -> dict[str, str]:
    """Each README profile's block, from its committed summary (summary.regression_file)."""
    from . import summary
    return {p: block(p, summary.read(root / f), f) for p, f in README_PROFILES.items()
            if (root / f).exists()}


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
