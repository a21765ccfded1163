"""The report's landing (results/landing.html, an HTML fragment that workflow/report/
workflow.rst puts first): one compact row per claim (claim and statement, verdict by colour
and word, the deciding check's number with its interval and threshold, gates, the claim's
figures as links into the report, and the sensitivity conclusion where the summary has
one), each opening its full criterion, rule, checks and measured values. A row's texts are
cut to a few lines (workflow/report/landing.css: `ns-clip`, the whole text on hover and in
its details), so that every claim's row fits one screen however long a check's text runs.
Written by the summary step from the summary (findings.rows) and F18's verdict rows."""

from __future__ import annotations

import math
from html import escape

from .findings import SENSITIVITY, rows

LANDING = "results/landing.html"
DETAILS = ("criterion", "rule", "checks", "measured")


def _num(v) -> str:
    return f"{v:.3g}" if isinstance(v, (int, float)) and math.isfinite(v) else ""


def deciding_number(r: dict) -> str:
    """'0.2 [0.13, 0.28] <= 0.333' (no interval for one seed), or '' without a number."""
    value = _num(r.get("value"))
    if not value:
        return ""
    lo, hi = _num(r.get("low")), _num(r.get("high"))
    spread = f" [{lo}, {hi}]" if lo and hi and lo != hi else ""
    return f"{value}{spread}" + (f" {r['threshold']}" if r.get("threshold") else "")


def _figure_links(figures: list[str]) -> str:
    """Links that open each figure in Snakemake's report (its own link form for results)."""
    return " ".join(f"<a href=\"javascript:app.showResultInfo('figures/{escape(f)}.png')\">"
                    f"{escape(f)}</a>" for f in figures)


def _details(row: dict, r: dict) -> str:
    """The claim's whole deciding check, its F18 row's DETAILS and the sensitivity detail."""
    items = [("deciding check", r["deciding"])] + [(k, row.get(k, "")) for k in DETAILS]
    items += [(SENSITIVITY, r["sensitivity_detail"])] if r["sensitivity"] is not None else []
    dl = "".join(f"<dt>{k}</dt><dd>{escape(str(v))}</dd>" for k, v in items)
    return f"<details><summary>details</summary><dl>{dl}</dl></details>"


def _clip(html: str, full: str) -> str:
    """`html` in a block cut to a few lines (landing.css), `full` its whole text on hover."""
    return f'<div class="ns-clip" title="{escape(full)}">{html}</div>'


def landing_html(summary: dict, verdict_rows: list[dict]) -> str:
    """The landing fragment: the claims table of `summary` (findings.rows), each claim's
    details from its F18 verdict row (`verdict_rows`: claims.verdicts as records)."""
    full = {str(r["claim"]): r for r in verdict_rows}
    sens = "sensitivity" in summary
    head = ["claim", "verdict", "deciding check, 95% interval over seeds", "gates"]
    head += [SENSITIVITY] if sens else []
    head += ["figures"]
    out = ['<table class="ns-claims">',
           "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows(summary):
        word = r["verdict"]
        cls = "ns-v-" + word.replace(" ", "-")
        number = deciding_number(r)
        cells = [
            '<td class="ns-claim">'
            + _clip(f'<b>{escape(r["claim"])}</b> {escape(r["statement"])}', r["statement"])
            + _details(full.get(r["claim"], {}), r) + "</td>",
            f'<td class="ns-verdict"><span class="{cls}">{escape(word)}</span></td>',
            '<td class="ns-deciding">'
            + _clip((f'<span class="ns-number">{escape(number)}</span> ' if number else "")
                    + f'<span class="ns-check">{escape(r["deciding"])}</span>', r["deciding"])
            + "</td>",
            f'<td class="ns-gates">{_clip(escape(r["gates"]), r["gates"])}</td>',
        ]
        if sens:
            cells.append('<td class="ns-sensitivity">'
                         + _clip(escape(r["sensitivity"]), r["sensitivity_detail"]) + "</td>")
        cells.append(f'<td class="ns-figures">{_figure_links(r["figures"])}</td>')
        out.append(f'<tr data-claim="{escape(r["claim"])}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"
