"""The README's results tables are what `noisesparse readme-results` writes from the committed
summaries (regression/quick.json; long's run with the sensitivity ladder,
regression/long+sens_data+sensitivity.json), and the command writes them from hand-built
summaries as stated: claim order, the deciding check, the sensitivity column only where a
summary has that key, a summary from before the `claims` key shown with its verdicts."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from noisesparse.pipeline.cli import main
from noisesparse.errors import ConfigError
from noisesparse.report.summary import regression_file
from noisesparse.report.findings import (NO_VALUE, NOT_CONVERGED_MARK, NOT_RECORDED,
                                         README_PROFILES, SENSITIVITY, fill, ladder_table, markdown_table,
                                         markers, readme_blocks, rows)

REPO = Path(__file__).resolve().parents[1]

SUMMARY = {
    "profile": "quick", "with": [],
    "verdicts": {"claim_10a": "partly", "claim_2": "agrees", "claim_1": "not converged"},
    "claims": {
        "claim_1": {"statement": "Noise | sparsity", "verdict": "not converged",
                    "deciding": {"text": "(a) ratio: not converged [0.2 [0.1, 0.3] <= 0.333]",
                                 "value": 0.2, "low": 0.1, "high": 0.3, "threshold": "<= 0.333"},
                    "gates": "1 not converged", "figures": ["F1", "F2"]},
        "claim_2": {"statement": "Not dead neurons", "verdict": "agrees",
                    "deciding": {"text": "check 1: pass", "value": None, "low": None,
                                 "high": None, "threshold": None},
                    "gates": "passed", "figures": ["F14"]},
        "claim_10a": {"statement": "Robustness", "verdict": "partly",
                      "deciding": {"text": "(b) L2: fail [0.5 [0.4, 0.6] <= 0]", "value": 0.5,
                                   "low": 0.4, "high": 0.6, "threshold": "<= 0"},
                      "gates": "passed", "figures": ["F19"]},
    },
    "studies": {},
}


def _lines(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()]


def test_the_readme_tables_are_what_the_command_writes_from_the_committed_summaries():
    text = (REPO / "README.md").read_text()
    blocks = readme_blocks(REPO)
    assert set(blocks) == {"results:quick", "results:long", "ladder:long"}
    assert fill(text, blocks) == text, "README.md's results differ: run `noisesparse " \
                                       "readme-results`"
    for profile in README_PROFILES:  # every verdict of the summary is in its table
        verdicts = json.loads((REPO / README_PROFILES[profile]).read_text())["verdicts"]
        start, end = markers(f"results:{profile}")
        shown = text[text.index(start):text.index(end)]
        assert shown.count("**") == 2 * len(verdicts)


def test_check_fails_when_the_readme_differs_and_the_command_repairs_it(tmp_path, monkeypatch,
                                                                         capsys):
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    (tmp_path / "regression").mkdir()
    (tmp_path / "regression/quick.json").write_text(json.dumps(SUMMARY))
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    main(["readme-results"])
    readme = tmp_path / "README.md"
    main(["readme-results", "--check"])
    readme.write_text(readme.read_text().replace("**partly**", "**agrees**"))
    with pytest.raises(SystemExit) as e:
        main(["readme-results", "--check"])
    assert e.value.code == 1 and "differ" in capsys.readouterr().err
    main(["readme-results"])
    main(["readme-results", "--check"])
    assert "(b) L2: fail [0.5 [0.4, 0.6] <= 0]" in readme.read_text()


def test_table_rows_in_claim_order_with_the_deciding_check():
    table = _lines(markdown_table(SUMMARY))
    assert table[0] == ["claim", "figures", "verdict",
                        "deciding check, with its 95% interval over seeds"]
    assert [r[0].split(".")[0] for r in table[2:]] == ["1", "2", "10a"]
    assert table[2] == ["1. Noise \\| sparsity", "F1, F2", "**not converged**",
                        "(a) ratio: not converged [0.2 [0.1, 0.3] <= 0.333]"]
    assert [r["claim"] for r in rows(SUMMARY)] == ["1", "2", "10a"]
    assert rows(SUMMARY)[2]["low"] == 0.4 and rows(SUMMARY)[0]["sensitivity"] is None


def test_the_sensitivity_column_is_there_only_when_the_summary_has_it():
    assert SENSITIVITY not in markdown_table(SUMMARY)
    with_sens = copy.deepcopy(SUMMARY)
    with_sens["sensitivity"] = {
        "claim_1": {"conclusion": "holds under every departure", "detail": "lr, width"},
        "claim_10a": {"conclusion": "turns on the learning rate", "detail": "lr 1e-4"}}
    table = _lines(markdown_table(with_sens))
    assert table[0][-1] == SENSITIVITY
    assert [r[-1] for r in table[2:]] == ["holds under every departure", "not analysed",
                                          "turns on the learning rate"]
    assert rows(with_sens)[2]["sensitivity_detail"] == "lr 1e-4"


def test_a_summary_from_before_the_claims_key_shows_its_verdicts_and_says_so():
    old = {k: v for k, v in SUMMARY.items() if k != "claims"}
    table = _lines(markdown_table(old))
    assert table[2] == ["1", "", "**not converged**", NOT_RECORDED]
    assert len(table) == 2 + 3
    start, end = markers("results:quick")
    text = fill(f"a\n{start}\nold\n{end}\nb\n", {"results:quick": "new\n"})
    assert text == f"a\n{start}\nnew\n{end}\nb\n"


def test_missing_markers_are_a_clear_error():
    with pytest.raises(ConfigError, match="results:long:start"):
        fill("no markers here\n", {"results:long": "x\n"})
    with pytest.raises(ConfigError, match="ladder:long:start.*ladder table of profile long"):
        fill("no markers here\n", {"ladder:long": "x\n"})


def test_a_regression_file_is_named_by_its_profile_and_switches():
    """What `noisesparse regress --with` compares with; the README's long table reads the
    file of long with the sensitivity ladder and its latent rung."""
    assert regression_file("quick") == "regression/quick.json" == README_PROFILES["quick"]
    assert regression_file("long", ("sensitivity", "sens_data")) == \
        "regression/long+sens_data+sensitivity.json" == README_PROFILES["long"]


def _rung(order, mean, converged=True):
    return {"order": order, "mean": mean, "seeds": 3, "converged": converged}


LADDER = {"claim_3": {"conclusion": "persists", "detail": "…", "quantities": {
              "(b) spread": {"criterion": "<= 0.5", "conclusion": "persists", "rungs": {
                  "width 128": _rung(0, 1.3), "lr 0.001": _rung(0, 1.3),
                  "width 512": _rung(1, 1.7), "lr 0.0001": _rung(1, 2.25, converged=False)}}}},
          "claim_10a": {"conclusion": "open", "detail": "…", "quantities": {
              "attack": {"criterion": "< 0", "conclusion": "open", "rungs": {
                  "width 128": _rung(0, None, converged=False)}}}},
          "claim_1": {"conclusion": "open", "detail": "no rung measured"}}


def test_the_ladder_table_has_one_row_per_quantity_and_a_column_per_rung():
    """Written from the summary's readings: the stand-in's rung once (whichever axis lists
    it), every other rung its own column, unconverged rungs marked, a rung a quantity does
    not read left empty; no table where no claim has rungs."""
    assert ladder_table(SUMMARY) is None
    assert ladder_table({**SUMMARY, "sensitivity": {"claim_1": LADDER["claim_1"]}}) is None
    table = ladder_table({**SUMMARY, "sensitivity": LADDER})
    lines = _lines(table.split("\n\n")[0])
    assert lines[0] == ["claim", "deciding quantity", "criterion", "conclusion", "stand-in",
                        "width 512", "lr 0.0001"]
    assert lines[2] == ["3", "(b) spread", "<= 0.5", "persists", "1.3", "1.7",
                        f"2.25 {NOT_CONVERGED_MARK}"]
    assert lines[3] == ["10a", "attack", "< 0", "open", NO_VALUE, "", ""]
    assert "not converged" in table.split("\n\n")[1]


def test_only_a_summary_run_with_the_ladder_gets_a_ladder_block(tmp_path):
    """A plain profile's summary reads stand-in rungs too (claims 5, 6, 8, 10a): its
    readings are kept, but the README shows a ladder table only beside a ladder run."""
    (tmp_path / "regression").mkdir()
    plain = {**SUMMARY, "sensitivity": LADDER}
    (tmp_path / README_PROFILES["quick"]).write_text(json.dumps(plain))
    (tmp_path / README_PROFILES["long"]).write_text(
        json.dumps({**plain, "with": ["sens_data", "sensitivity"]}))
    assert set(readme_blocks(tmp_path)) == {"results:quick", "results:long", "ladder:long"}
