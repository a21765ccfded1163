"""The HTML report (`snakemake --report report.html`) opens on its landing, then the figures:
one compact row per claim (results/landing.html, noisesparse/landing.py) with its details
one click away, the default profile gives Snakemake what makes it open on that text rather
than on the rule graph, and F18's results come first in the report's menu. Cheap: the
landing text is rendered the way Snakemake 9 renders it (Jinja2, then docutils), without a
workflow run; a real browser looks at the smoke report in tests/test_workflow.py."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import yaml
import yte
from docutils.core import publish_parts

from noisesparse.report.landing import LANDING, deciding_number, landing_html
from noisesparse.plan.registry import build_plan

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "workflow/report/workflow.rst"
VERDICTS = "results/tables/F18_verdicts.csv"
# Claims' own text as it may come: reStructuredText markup in it must show as written.
ROWS = [
    {"claim": 1, "statement": "Noise makes it sparse", "verdict": "partly", "gates": "passed",
     "criterion": "fraction <= 1/3 of sigma 0", "rule": "essential checks decide",
     "checks": "ratio: pass [0.1 [0.08, 0.12] (3 seeds) <= 0.333]",
     "measured": "bias std 0.086 (relative to |mean|: 3.54); a*b, pgd_linf_ and `x`; c:\\d"},
    {"claim": 3, "statement": "1. Biases converge", "verdict": "not converged",
     "gates": "1 not converged", "criterion": "(a) >= 90% of biases negative",
     "rule": "agrees when every essential check passes", "checks": "a: not converged",
     "measured": '- negative biases 45% -> 52%, "quoted", #. [1]_ :x: y::'},
]


def _workflow_helpers() -> dict:
    """workflow/rules/common.smk's functions, with Snakemake's report() flag as a record."""
    namespace = {"report": lambda path, **flags: SimpleNamespace(path=path, **flags)}
    exec(compile((REPO / "workflow/rules/common.smk").read_text(), "common.smk", "exec"),
         namespace)
    return namespace


def _categories() -> dict[str, list[str]]:
    """Report category -> files, for every figure output of the smoke plan."""
    helpers, plan = _workflow_helpers(), build_plan("smoke")
    out: dict[str, list[str]] = {}
    for fig, info in plan.figures.items():
        for path in info["outputs"]:
            flagged = helpers["_output"](path, fig)
            if not isinstance(flagged, str):
                out.setdefault(flagged.category, []).append(flagged.path)
    return out


def render_landing(reported: list[str], categories) -> str:
    """workflow.rst as Snakemake 9's auto_report renders the workflow description: Jinja2
    (trim_blocks, lstrip_blocks) with `snakemake.config`, `categories` and `files` (the
    reported files, each with `target` its name and `path`), link targets for the
    categories appended, then docutils to HTML; paths are read from the working directory."""
    targets = "".join(f"\n.. _{c}: javascript:app.showCategory('{c}')\n" for c in categories)
    files = [SimpleNamespace(target=Path(p).name, path=Path(p)) for p in reported]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string(TEMPLATE.read_text() + targets).render(
        snakemake=SimpleNamespace(config={"profile": "smoke"}), categories=categories,
        files=files)
    return publish_parts(text, writer_name="html")["html_body"]


def _write_verdicts(root: Path) -> None:
    (root / "results/tables").mkdir(parents=True)
    with (root / VERDICTS).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)


SUMMARY = {
    "verdicts": {"claim_3": "not converged", "claim_1": "partly"},
    "claims": {
        "claim_1": {"statement": "Noise makes it sparse", "verdict": "partly",
                    "deciding": {"text": "(b) rise: fail [0.1 [0.08, 0.12] (3 seeds) <= 0.01]",
                                 "value": 0.1, "low": 0.08, "high": 0.12,
                                 "threshold": "<= 0.01"},
                    "gates": "passed", "figures": ["F1", "F2"]},
        "claim_3": {"statement": "1. Biases converge", "verdict": "not converged",
                    "deciding": {"text": "a: not converged", "value": 0.45, "low": 0.45,
                                 "high": 0.45, "threshold": ">= 0.9"},
                    "gates": "1 not converged", "figures": ["F7"]}},
}


def _cells(html: str, cls: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(rf'<td class="{cls}"[^>]*>(.*?)</td>', html, re.S)]


def test_deciding_number_shows_the_interval_where_there_is_one():
    assert deciding_number({"value": 0.1234, "low": 0.1, "high": 0.15,
                            "threshold": "<= 0.2"}) == "0.123 [0.1, 0.15] <= 0.2"
    assert deciding_number({"value": 0.45, "low": 0.45, "high": 0.45,
                            "threshold": ">= 0.9"}) == "0.45 >= 0.9"  # one seed
    assert deciding_number({"value": None}) == ""


def test_landing_is_one_row_per_claim_in_order_with_its_details(tmp_path, monkeypatch):
    categories = _categories()
    monkeypatch.chdir(tmp_path)
    _write_verdicts(tmp_path)
    (tmp_path / LANDING).write_text(landing_html(SUMMARY, ROWS))
    html = render_landing([VERDICTS], categories)
    assert "system-message" not in html and "problematic" not in html, html
    assert html.index("What the replication finds") < html.index('<table class="ns-claims"')
    headers = re.findall(r"<th>(.*?)</th>", html)
    assert headers == ["claim", "verdict", "deciding check, 95% interval over seeds", "gates",
                       "figures"]
    assert re.findall(r'<tr data-claim="(\w+)">', html) == ["1", "3"]
    assert _cells(html, "ns-verdict") == ["partly", "not converged"]
    assert '<span class="ns-v-not-converged">' in html
    assert _cells(html, "ns-deciding")[0] == \
        "0.1 [0.08, 0.12] <= 0.01 (b) rise: fail [0.1 [0.08, 0.12] (3 seeds) <= 0.01]".replace(
            "<", "&lt;")
    assert "javascript:app.showResultInfo('figures/F7.png')" in html
    for row in ROWS:  # every detail as written (HTML-escaped), markup characters included
        for key in ("criterion", "rule", "checks", "measured"):
            cell = str(row[key]).replace("&", "&amp;").replace("<", "&lt;").replace(
                ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")
            assert f"<dd>{cell}</dd>" in html, row[key]
    assert html.count("<details>") == 2
    # the row's texts are cut to fit a screen: each whole in its details and on hover
    deciding = SUMMARY["claims"]["claim_1"]["deciding"]["text"].replace("<", "&lt;")
    assert f"<dt>deciding check</dt><dd>{deciding}</dd>" in html
    assert f'<div class="ns-clip" title="{deciding}">' in html


def test_landing_shows_the_sensitivity_column_when_the_summary_has_it():
    assert "sensitivity" not in landing_html(SUMMARY, ROWS)
    with_sens = {**SUMMARY, "sensitivity": {
        "claim_3": {"conclusion": "turns on the learning rate", "detail": "lr 1e-4: agrees"}}}
    html = landing_html(with_sens, ROWS)
    assert "<th>departure (sensitivity)</th>" in html
    assert _cells(html, "ns-sensitivity") == ["not analysed", "turns on the learning rate"]
    assert "<dt>departure (sensitivity)</dt><dd>lr 1e-4: agrees</dd>" in html
    assert 'title="lr 1e-4: agrees"' in html


def test_landing_text_says_how_to_get_the_verdicts_before_they_exist(tmp_path, monkeypatch):
    categories = _categories()
    monkeypatch.chdir(tmp_path)
    html = render_landing([], categories)
    assert "<table" not in html and "system-message" not in html
    assert "landing.html" in html
    _write_verdicts(tmp_path)  # F18 drawn, the summary step not yet run
    html = render_landing([VERDICTS], categories)
    assert "<table" not in html and "landing.html" in html


def test_verdicts_come_first_in_the_report_menu_then_the_figures():
    cats = _categories()
    first = min(cats, key=str.casefold)  # the menu sorts categories by name
    assert VERDICTS in cats[first] and all("F18" in Path(p).name for p in cats[first])
    assert sorted(cats, key=str.casefold)[1] == "Figures"
    assert VERDICTS in build_plan("smoke").figures["F18"]["outputs"]
    assert re.search(r'^report:\s*"workflow/report/workflow.rst"', (REPO / "Snakefile")
                     .read_text(), re.M)


def test_default_profile_opens_the_report_on_its_landing_text(tmp_path, monkeypatch):
    """Snakemake 9's report opens on the rule graph unless it has metadata; the default
    profile gives it the verdict counts (numbers: a text entry shows as docutils parts)."""
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    for key in ("report-metadata", "report-stylesheet"):
        assert (REPO / profile[key]).is_file(), key
    template = (REPO / profile["report-metadata"]).read_text()
    monkeypatch.chdir(tmp_path)
    assert yte.process_yaml(template) == {}  # before any run: the rule graph, as before
    _write_verdicts(tmp_path)
    assert yte.process_yaml(template) == {"partly": 1, "not converged": 1}
