"""The HTML report (`snakemake --report report.html`) opens on the verdict table (F18), then
the figures: its landing text renders the verdicts with their criteria, the default profile
gives Snakemake what makes it open on that text rather than on the rule graph, and F18's
results come first in the report's menu. Cheap: the landing text is rendered the way
Snakemake 9 renders it (Jinja2, then docutils), without a workflow run."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import yaml
import yte
from docutils.core import publish_parts

from noisesparse.registry import build_plan

REPO = Path(__file__).resolve().parents[1]
LANDING = REPO / "workflow/report/workflow.rst"
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
    text = env.from_string(LANDING.read_text() + targets).render(
        snakemake=SimpleNamespace(config={"profile": "smoke"}), categories=categories,
        files=files)
    return publish_parts(text, writer_name="html")["html_body"]


def _write_verdicts(root: Path) -> None:
    (root / "results/tables").mkdir(parents=True)
    with (root / VERDICTS).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)


def test_landing_text_is_the_verdict_table_with_its_criteria(tmp_path, monkeypatch):
    categories = _categories()
    monkeypatch.chdir(tmp_path)
    _write_verdicts(tmp_path)
    html = render_landing([VERDICTS], categories)
    assert "system-message" not in html and "problematic" not in html, html
    table = html[html.index("<table"):html.index("</table>")]
    assert html.index("What the replication finds") < html.index("<table")
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)
    assert [re.sub(r"<[^>]+>", "", h).strip() for h in headers] == list(ROWS[0])
    for row in ROWS:  # every cell as written (HTML-escaped), markup characters included
        for value in row.values():
            cell = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(
                ">", "&gt;").replace('"', "&quot;")
            assert re.search(rf"<td>(<p>)?{re.escape(cell)}(</p>)?</td>", table), value


def test_landing_text_says_how_to_get_the_verdicts_before_they_exist(tmp_path, monkeypatch):
    categories = _categories()
    monkeypatch.chdir(tmp_path)
    html = render_landing([], categories)
    assert "<table" not in html and "system-message" not in html
    assert "F18_verdicts.csv" in html


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
