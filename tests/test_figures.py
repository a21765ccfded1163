"""Figures are drawn from run results: every figure of the smoke plan is produced, its table
follows the results (change a result, the table changes), and F18 states a verdict per claim."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from noisesparse.pipeline.cli import main
from noisesparse.errors import ConfigError
from noisesparse.plan.registry import build_plan

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    """A project with every smoke run trained once (about half a minute on 2 cores)."""
    root = tmp_path_factory.mktemp("figs")
    shutil.copytree(REPO / "config", root / "config")
    mp = pytest.MonkeyPatch()
    mp.setenv("NOISESPARSE_ROOT", str(root))
    mp.chdir(root)
    plan = build_plan("smoke")
    for name in plan.datasets:
        main(["data", name])
    for gid in plan.groups:
        main(["train", "--profile", "smoke", "--group", gid, "--no-progress", "--threads", "2"])
    yield root
    mp.undo()


@pytest.fixture
def plan(smoke_root, monkeypatch):
    monkeypatch.setenv("NOISESPARSE_ROOT", str(smoke_root))
    return build_plan("smoke")


def test_every_figure_is_drawn_with_its_tables(plan, smoke_root):
    from noisesparse.figures import DRAW, draw
    assert set(plan.figures) <= set(DRAW)
    for fig, info in plan.figures.items():
        outs = draw(fig, plan)
        assert sorted(outs) == sorted(info["outputs"]), fig
        for out in outs:
            assert (smoke_root / out).stat().st_size > 0, out
        assert len(pd.read_csv(smoke_root / f"results/tables/{fig}.csv")) > 0, fig
        md = (smoke_root / f"results/tables/{fig}.md").read_text()
        assert md.startswith(f"# {fig}.") and "profile smoke" in md


def _edit_final(smoke_root, run_id, **values):
    path = smoke_root / "results/runs" / run_id / "metrics.json"
    rec = json.loads(path.read_text())
    rec["final"].update(values)
    path.write_text(json.dumps(rec))


def test_changing_a_result_changes_the_table(plan, smoke_root):
    from noisesparse.figures import draw
    run = next(r for r in plan.studies["sigma_sweep"]
               if plan.runs[r].sigma == 0 and plan.runs[r].seed == 0)
    others = [r for r in plan.studies["sigma_sweep"]
              if plan.runs[r].sigma == 0 and r != run]
    draw("F14", plan)
    _edit_final(smoke_root, run, frac_dead=0.5, frac_active_living=0.123)
    draw("F14", plan)
    row = pd.read_csv(smoke_root / "results/tables/F14.csv").iloc[0]
    other_dead = [json.loads((smoke_root / "results/runs" / r / "metrics.json").read_text())
                  ["final"]["frac_dead"] for r in others]
    expected = (0.5 + sum(other_dead)) / (1 + len(other_dead))
    assert row["sigma"] == 0
    assert row["frac_dead_mean"] == pytest.approx(expected, rel=1e-5)
    assert row["frac_dead_max"] == pytest.approx(max([0.5] + other_dead), rel=1e-5)


def test_a_diverged_run_is_counted_not_averaged(plan, smoke_root):
    from noisesparse.figures import draw
    run = next(r for r in plan.studies["width"] if plan.runs[r].sigma > 0)
    path = smoke_root / "results/runs" / run / "metrics.json"
    rec = json.loads(path.read_text())
    rec["status"], rec["final"] = "diverged", {k: None for k in rec["final"]}
    path.write_text(json.dumps(rec))
    draw("F2", plan)
    t = pd.read_csv(smoke_root / "results/tables/F2.csv")
    row = t[(t["width"] == plan.runs[run].width) & (t["sigma"] == plan.runs[run].sigma)].iloc[0]
    assert row["diverged"] == 1 and row["seeds"] == 0


def _draw_with_reads(fig: str, plan) -> None:
    """Draw `fig` after the figures whose tables it reads (F18: F10, F19, F20), so that a
    test drawing it stands alone, in any order."""
    from noisesparse.figures import draw
    read = set(plan.figures[fig]["inputs"])
    for other in [f for f, info in plan.figures.items() if read & set(info["outputs"])]:
        draw(other, plan)
    draw(fig, plan)


def _checks(text: str) -> list[str]:
    """The checks of a verdict row's `checks` text: split at "; " outside the brackets that
    hold each check's measurement (which has its own "; " and brackets)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if depth == 0 and text.startswith("; ", i):
            parts.append(text[start:i])
            start = i + 2
    return parts + [text[start:]]


def test_replication_table_has_a_verdict_per_claim(plan, smoke_root):
    _draw_with_reads("F18", plan)
    verdicts = pd.read_csv(smoke_root / "results/tables/F18_verdicts.csv", dtype={"claim": str})
    assert list(verdicts["claim"]) == [str(i) for i in range(1, 10)] + ["10a", "10b"]
    from noisesparse.claims import CLAIMS
    from noisesparse.claims import robustness_efficiency as C10
    from noisesparse.claims.verdict import OUTCOMES, RULE, VERDICTS
    assert set(verdicts["verdict"]) <= set(VERDICTS)
    # each row carries its own claim's criterion and rule, not another's
    stated = {str(m.CLAIM): (m.CRITERION, getattr(m, "RULE", RULE)) for m in CLAIMS
              if m is not C10} | {"10a": (C10.CRITERION_A, RULE), "10b": (C10.CRITERION_B, RULE)}
    for claim, (criterion, rule) in stated.items():
        row = verdicts.set_index("claim").loc[claim]
        assert (row["criterion"], row["rule"]) == (criterion, rule), claim
    # every check is named with one of the outcomes a check can have
    outcome = re.compile(r"^[^;]*?: (" + "|".join(map(re.escape, OUTCOMES)) + r")( \[|$)")
    for claim, text in zip(verdicts["claim"], verdicts["checks"]):
        assert text == "no check made" or all(outcome.match(p) for p in _checks(text)), \
            (claim, text)
    assert verdicts["gates"].notna().all()
    # the check that decided each verdict is one of its checks; its figures are drawn here
    assert all(d in c for d, c in zip(verdicts["deciding"], verdicts["checks"]))
    assert set(" ".join(verdicts["figures"].fillna("")).split()) <= set(plan.figures)
    assert verdicts.set_index("claim").loc["10b", "figures"] == "F20"
    ref = pd.read_csv(smoke_root / "results/tables/F18.csv")
    # Every reference number of the data file appears beside ours.
    from noisesparse.claims.replication import load_reference
    n_ref = sum(len(c["values"]) for c in load_reference()["curves"])
    assert len(ref) == n_ref
    assert ref["paper_noisy_inputs"].notna().all()
    assert ref["ours_clean_inputs"].notna().any()
    # both dead-neuron definitions, and each side's training length
    for col in ("ours_dead_paper", "ours_silent_on_clean", "paper_epochs", "our_epochs"):
        assert col in ref, col
    assert ref["ours_silent_on_clean"].notna().any()
    assert not ref["same_setting_as_paper"].any()  # smoke: stand-in data, 40 steps
    assert (ref.loc[ref["curve"] == "exponential", "paper_epochs"] == "2,800").all()
    # exponential and Poisson curves are also measured at x + E[noise]
    shifted = ref.dropna(subset=["ours_shifted_inputs"])
    assert set(shifted["curve"]) == {"exponential", "poisson"}
    # the paper's per-image active counts beside the receptive-field runs'
    counts = pd.read_csv(smoke_root / "results/tables/F18_active_counts.csv")
    assert counts["paper_active_3000_epochs"].notna().sum() == 6
    assert counts["ours_fraction_3_images"].notna().any()
    assert counts["ours_fraction_3_images"].dropna().between(0, 1).all()
    v = verdicts.set_index("claim")
    assert "silent on clean data" in v.loc["2", "measured"]
    assert "sigma 5" in v.loc["9", "measured"] and "median neuron" in v.loc["9", "measured"]
    assert "lm_sigma/transformer" in v.loc["8", "measured"] and "0-" in \
        v.loc["8", "measured"].split("lm_sigma/transformer")[1]


def test_dead_neurons_are_shown_under_both_definitions(plan, smoke_root):
    from noisesparse.figures import draw
    for fig in ("F2", "F5_layers", "F6", "F14"):
        draw(fig, plan)
        cols = pd.read_csv(smoke_root / f"results/tables/{fig}.csv").columns
        assert any(c.startswith("frac_dead") for c in cols), fig
        assert any(c.startswith("frac_silent_clean") for c in cols), fig
    rec = json.loads((smoke_root / "results/runs" / plan.studies["sigma_sweep"][0] /
                      "metrics.json").read_text())["final"]
    for name in ("frac_dead", "frac_silent_clean", "frac_active_living",
                 "frac_active_nonsilent", "bias_std_living", "wnorm_cv_living",
                 "pre_neuron_mean_median"):
        assert rec[name] is not None, name


def test_unknown_figure_is_a_clear_error(plan):
    from noisesparse.figures import draw
    with pytest.raises(ConfigError, match="F99"):
        draw("F99", plan)
    with pytest.raises(SystemExit) as e:
        main(["figure", "F99", "--profile", "smoke"])
    assert e.value.code == 2


def test_the_optional_latent_study_joins_its_figures(smoke_root, monkeypatch):
    """Switched on, the latent study's runs reach F3, F17 and F18's claims 2 and 8. The
    latents here are random 256-d vectors written in the processed format (the ConvMixer
    itself is tested in test_datasets.py), so no weights are needed."""
    import torch
    from noisesparse import paths
    from noisesparse.data import store
    from noisesparse.figures import draw
    monkeypatch.setenv("NOISESPARSE_ROOT", str(smoke_root))
    plan = build_plan("smoke", ["latents"])
    g = torch.Generator().manual_seed(0)
    store.save({"x_train": torch.randn(512, 256, generator=g) * 0.17,
                "x_test": torch.randn(128, 256, generator=g) * 0.17,
                "y_train": None, "y_test": None,
                "meta": {"name": "natural_latents", "kind": "convmixer_latents",
                         "description": "test stand-in", "shape": [256], "n_classes": 0}},
               paths.processed("natural_latents"))  # with its checksum, as a build writes
    latent_groups = [gid for gid, m in plan.groups.items() if m[0] in plan.optional_runs]
    assert latent_groups
    for gid in latent_groups:
        main(["train", "--profile", "smoke", "--with", "latents", "--group", gid,
              "--no-progress", "--threads", "2"])
    for fig in ("F3", "F17"):
        draw(fig, plan)
    _draw_with_reads("F18", plan)
    f3 = pd.read_csv(smoke_root / "results/tables/F3.csv")
    assert "natural_latents" in set(f3["dataset"])
    verdicts = pd.read_csv(smoke_root / "results/tables/F18_verdicts.csv",
                           dtype={"claim": str}).set_index("claim")
    assert "latents/natural_latents" in verdicts.loc["2", "measured"]
    assert "latents/natural_latents" in verdicts.loc["8", "measured"]
    # without `--with latents`, the latent groups are not in the plan
    with pytest.raises(SystemExit):
        main(["train", "--profile", "smoke", "--group", latent_groups[0], "--no-progress"])


def test_the_sensitivity_ladder_draws_f22_and_its_conclusions(smoke_root, monkeypatch):
    """Switched on, the ladder's rung studies train (seconds-sized), F22 draws one panel
    per departing claim with its table, F18 shows the conclusion beside each verdict, and
    the summary carries them under `sensitivity` in the shape the README generator reads."""
    from noisesparse.claims import LADDER
    from noisesparse.report.summary import summarise
    monkeypatch.setenv("NOISESPARSE_ROOT", str(smoke_root))
    assert "F22" not in build_plan("smoke").figures  # drawn only beside the ladder
    plan = build_plan("smoke", ["sensitivity"])
    for gid in [g for g, m in plan.groups.items() if any(r in plan.optional_runs for r in m)]:
        main(["train", "--profile", "smoke", "--with", "sensitivity", "--group", gid,
              "--no-progress", "--threads", "2"])
    _draw_with_reads("F22", plan)
    concl = pd.read_csv(smoke_root / "results/tables/F22.csv", dtype={"claim": str})
    assert list(concl["claim"]) == list(LADDER)
    rungs = pd.read_csv(smoke_root / "results/tables/F22_sensitivity.csv",
                        dtype={"claim": str, "setting": str})
    width = rungs[(rungs["claim"] == "1") & (rungs["axis"] == "width")]
    assert list(width["setting"]) == ["64", "128"] and list(width["order"]) == [0, 1]
    assert set(rungs["axis"]) >= {"width", "lr", "batch", "init", "schedule"}
    assert (smoke_root / "figures/F22.png").stat().st_size > 0
    _draw_with_reads("F18", plan)  # its reads too (F19, F20): the test stands alone
    v = pd.read_csv(smoke_root / "results/tables/F18_verdicts.csv", dtype={"claim": str})
    assert list(v.columns[:4]) == ["claim", "statement", "verdict", "conclusion"]
    assert v.set_index("claim").loc["1", "conclusion"] == concl.set_index("claim").loc[
        "1", "conclusion"]
    sens = summarise(plan)["sensitivity"]
    assert list(sens) == [f"claim_{c}" for c in LADDER]  # keyed as the summary's verdicts
    assert set(sens) <= set(summarise(plan)["verdicts"])
    assert all(set(c) <= {"conclusion", "detail", "quantities"}
               and isinstance(c["conclusion"], str) for c in sens.values())
    # each rung's mean as F22's table has it, rounded for the summary (the README's ladder)
    one = sens["claim_1"]["quantities"]
    q = next(iter(one))
    row = width[width["quantity"] == q].set_index("setting").loc["128"]
    assert one[q]["rungs"]["width 128"]["mean"] == pytest.approx(row["mean"], rel=1e-5)


def test_f22_ticks_break_a_long_setting_and_keep_a_short_one():
    from noisesparse.figures.sensitivity import tick
    assert tick("width", "512") == "width\n512"
    assert tick("data", "natural_latents") == "data\nnatural_\nlatents"
