"""The workflow: Snakemake and DVC describe the same pipeline, and the smoke profile runs
end to end through each engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import _browser
from noisesparse.pipeline.cli import dvc_yaml_dict
from noisesparse.plan.registry import build_plan

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The pipeline's files, and src/: a step's result depends on the source that computes it.
COPY = ["Snakefile", "params.yaml", "config", "workflow", "profiles", "src", "environment.yml"]
LANDING_WINDOW = (1400, 1000)  # the browser window the report's landing must fit (issue 25)


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the CLI the engines call
    env["NOISESPARSE_ROOT"] = str(root)
    return env


def copy_project(names, dest: Path) -> None:
    """Copy the project's files and folders `names` into `dest` (no caches, no egg-info)."""
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=_ignore)
        else:
            shutil.copy(src, dest / name)


def _project(tmp: Path, profile: str = "smoke", extras=()) -> Path:
    copy_project(COPY, tmp)
    (tmp / "params.yaml").write_text(f"profile: {profile}\nwith: {list(extras)}\n")
    return tmp


def _run(args, cwd: Path, timeout=900) -> subprocess.CompletedProcess:
    res = subprocess.run(args, cwd=cwd, env=_env(cwd), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{args} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _ignore(src, names):
    return [n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".egg-info")]


def _normalise(cmd: str) -> str:
    """Snakemake adds a thread count and a log tee; the step itself must be identical."""
    cmd = cmd.split(" 2>&1 | tee ")[0]
    return re.sub(r" --threads \d+", "", cmd).strip()


def _snakemake_jobs(root: Path) -> dict[str, tuple[str, ...]]:
    """Shell command -> sorted outputs, from a Snakemake dry run."""
    out = _run([str(BIN / "snakemake"), "-n", "-p", "--cores", "2"], root).stdout
    jobs, outputs = {}, ()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")):
            outputs = ()
        elif line.startswith("output:"):
            outputs = tuple(sorted(o.strip() for o in line[len("output:"):].split(",")))
        elif line.startswith("Shell command:") and outputs:
            jobs[_normalise(line[len("Shell command:"):])] = outputs
    return jobs


def test_committed_dvc_yaml_matches_registry():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    committed = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert committed == dvc_yaml_dict(params["profile"], params.get("with")), \
        "dvc.yaml drifted from the registry: run `noisesparse dvc-plan`"


@pytest.mark.parametrize("extras", [(), ("latents",)])
def test_engines_describe_the_same_pipeline(tmp_path, monkeypatch, extras):
    root = _project(tmp_path, extras=extras)
    monkeypatch.setenv("NOISESPARSE_ROOT", str(root))
    snake = _snakemake_jobs(root)
    dvc = {s["cmd"]: tuple(sorted(s.get("outs", []) + s.get("metrics", [])))
           for s in dvc_yaml_dict("smoke", extras)["stages"].values()}
    assert snake == dvc
    plan = build_plan("smoke", extras)
    assert len(dvc) == len(plan.datasets) + len(plan.groups) + len(plan.figures) + 1  # summary
    # the optional latent study (and its image source) is in both only when switched on
    latents = {"data/processed/natural_latents.pt", "data/processed/natural_colour32.pt"}
    assert (latents <= {o for outs in dvc.values() for o in outs}) == bool(extras)


def test_switching_on_an_optional_study_changes_only_its_steps():
    off = dvc_yaml_dict("smoke")["stages"]
    on = dvc_yaml_dict("smoke", ["latents"])["stages"]
    changed = {k for k in off if on[k] != off[k]}
    # the figures that draw the latents: datasets, norms, noise removal (F9, claim 5),
    # replication table (claims 5, 8), robustness (F19 attacks the latent reconstruction
    # networks too), and the summary
    assert changed == {"figure_F3", "figure_F9", "figure_F17", "figure_F18", "figure_F19",
                       "summary"}
    added = set(on) - set(off)
    assert {"data_natural_latents", "data_natural_colour32"} < added
    assert all("--with latents" in on[k]["cmd"] for k in added if k.startswith("train_"))
    assert not any("--with" in s["cmd"] for k, s in on.items() if k not in added | changed)


def test_paper_profile_plans(tmp_path):
    root = _project(tmp_path, "paper")
    out = _run([str(BIN / "snakemake"), "-n", "--cores", "8", "--resources", "gpu=2"], root)
    assert "train_cifar10_latents_n10000" in out.stdout


def test_long_profile_plans(tmp_path):
    root = _project(tmp_path, "long")
    out = _run([str(BIN / "snakemake"), "-n", "--cores", "2"], root)
    rules = {"train_" + re.sub(r"\W", "_", g) for g in build_plan("long").groups}
    assert rules and all(r in out.stdout for r in rules)


def _check_outputs(root: Path):
    plan = build_plan("smoke")
    for info in plan.figures.values():
        for f in info["outputs"]:
            assert (root / f).stat().st_size > 0, f
    for rid in plan.runs:
        assert (root / "results/runs" / rid / "metrics.json").exists()
    f1 = pd.read_csv(root / "results/tables/F1.csv")
    assert len(f1) > 0


@pytest.fixture(scope="module")
def snakemake_smoke(tmp_path_factory):
    """The smoke profile run once through Snakemake in a DVC project, then its HTML report:
    the one smoke run that the Snakemake test and the report's browser check share."""
    root = _project(tmp_path_factory.mktemp("snakemake"))
    _dvc_project(root)
    _run([str(BIN / "snakemake"), "--cores", "2"], root)
    _run([str(BIN / "snakemake"), "--report", "report.html", "--cores", "1"], root)
    return root


@pytest.mark.integration
def test_smoke_profile_through_snakemake(snakemake_smoke):
    root = snakemake_smoke
    _check_outputs(root)
    # DVC versions what Snakemake made: `dvc commit` records it and the pipeline is clean,
    # for DVC and for Snakemake alike (hardlinked cache: files keep their mtimes).
    _run([str(BIN / "dvc"), "commit", "-f"], root)
    status = _run([str(BIN / "dvc"), "status"], root)
    assert "up to date" in status.stdout.lower(), status.stdout
    again = _run([str(BIN / "snakemake"), "-n", "--cores", "2"], root)
    assert "Nothing to be done" in again.stdout + again.stderr
    # One HTML report with every figure, its table and the registry's caption.
    html = (root / "report.html").read_text()
    plan = build_plan("smoke")
    for fig in plan.figures:
        assert f"{fig}.png" in html, fig
    assert "Made by profile smoke" in html


@pytest.mark.integration
@pytest.mark.skipif(_browser.chromium() is None, reason="no Chromium installed (Debian: "
                    "apt-get install chromium; .ci/browser installs it where it can)")
def test_report_landing_shows_every_verdict_on_one_screen(snakemake_smoke, tmp_path):
    """In a real browser at 1,400 x 1,000 pixels, the report opens on its landing: every
    claim's row, in claim order, inside the window and not under the report's menu, each
    with its verdict; at 1,280 and 1,920 pixels wide no cell is under the menu either. The
    screenshot is kept (CI: an artifact)."""
    report = snakemake_smoke / "report.html"
    png = _browser.screenshot(report, tmp_path / "report_landing.png", LANDING_WINDOW)
    _browser.copy_to(png, os.environ.get("NOISESPARSE_SCREENSHOTS"))
    seen = _browser.layout(report, tmp_path, LANDING_WINDOW)
    summary = json.loads((snakemake_smoke / "results/summary.json").read_text())
    claims = [k.removeprefix("claim_") for k in summary["claims"]]
    rows = seen["rows"]
    assert [r["claim"] for r in rows] == claims  # summary order: claim order
    assert [r["verdict"] for r in rows] == [summary["verdicts"][f"claim_{c}"] for c in claims]
    tops = [r["top"] for r in rows]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one row under the other
    for r in rows:
        assert 0 <= r["left"] and r["right"] <= seen["width"], r
        assert 0 <= r["top"] and r["bottom"] <= seen["height"], r
        assert all(c["seen"] for c in r["cells"]), r  # nothing under the menu
    for width in (1280, 1920):  # narrower and wider windows: still nothing under the menu
        other = _browser.layout(report, tmp_path, (width, LANDING_WINDOW[1]))
        assert len(other["rows"]) == len(rows)
        for r in other["rows"]:
            assert 0 <= r["left"] and r["right"] <= other["width"], (width, r)
            assert all(c["seen"] for c in r["cells"] if c["top"] < other["height"]), (width, r)



@pytest.mark.integration
def test_paper_lite_smoke_form_runs_end_to_end(tmp_path):
    """paper-lite's smoke form (config/profiles/paper-lite-smoke.yaml: paper-lite's studies,
    figures and judges at smoke size) runs through Snakemake to a verdict for each departing
    claim paper-lite measures; the GPU profile's plan differs from it only in scale."""
    lite, small = build_plan("paper-lite"), build_plan("paper-lite-smoke")
    assert set(small.studies) == set(lite.studies) and set(small.figures) == set(lite.figures)
    assert len(small.runs) < len(lite.runs)
    root = _project(tmp_path, "paper-lite-smoke")
    _run([str(BIN / "snakemake"), "--cores", "2"], root)
    for info in small.figures.values():
        for f in info["outputs"]:
            assert (root / f).stat().st_size > 0, f
    summary = json.loads((root / "results/summary.json").read_text())
    assert summary["profile"] == "paper-lite-smoke"
    judged = {k for k, v in summary["verdicts"].items() if v != "not measured"}
    assert {"claim_1", "claim_2", "claim_3", "claim_4", "claim_5", "claim_9",
            "claim_10a"} <= judged

def _dvc_project(root: Path) -> None:
    _run(["git", "init", "-q"], root)
    _run([str(BIN / "dvc"), "init", "-q"], root)
    shutil.copy(REPO / ".dvc/config", root / ".dvc/config")  # the project's cache settings
    _run([str(BIN / "noisesparse"), "dvc-plan"], root)


@pytest.mark.integration
def test_smoke_profile_through_dvc(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    _project(root)
    _dvc_project(root)
    # As DVC's users run it: an experiment on a committed project, then its metrics and plots.
    _run(["git", "add", "-A"], root)
    _run(["git", "-c", "user.name=ci", "-c", "user.email=ci@localhost", "commit", "-qm",
          "project"], root)
    _run([str(BIN / "dvc"), "exp", "run", "-n", "smoke"], root)
    _check_outputs(root)
    metrics = json.loads(_run([str(BIN / "dvc"), "metrics", "show", "--json"], root).stdout)
    summary = next(iter(metrics.values()))["data"]["results/summary.json"]["data"]
    assert summary["profile"] == "smoke"
    assert set(summary["verdicts"]) == ({f"claim_{i}" for i in range(1, 10)}
                                        | {"claim_10a", "claim_10b"})
    assert set(summary["studies"]) == set(build_plan("smoke").studies)
    assert "profile" in _run([str(BIN / "dvc"), "params", "diff", "--all"], root).stdout
    _run([str(BIN / "dvc"), "plots", "show", "-o", "plots"], root)
    html = (root / "plots/index.html").read_text()
    for plot in ("F1_frac_active_clean_mean", "F2_frac_dead_mean", "F14_frac_dead_mean"):
        assert plot in html, plot
    status = _run([str(BIN / "dvc"), "status"], root)
    assert "up to date" in status.stdout.lower(), status.stdout
    # Round trip through a local remote: datasets, checkpoints and figures come back.
    _run([str(BIN / "dvc"), "remote", "add", "-d", "local", str(tmp_path / "remote")], root)
    _run([str(BIN / "dvc"), "push"], root)
    for d in ("data/processed", "results/runs", "figures", ".dvc/cache"):
        shutil.rmtree(root / d)
    _run([str(BIN / "dvc"), "pull"], root)
    _check_outputs(root)
    assert list((root / "data/processed").glob("*.pt"))
    status = _run([str(BIN / "dvc"), "status"], root)
    assert "up to date" in status.stdout.lower(), status.stdout


def test_slurm_profile_requests_a_gpu_per_training_job():
    prof = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert prof["default-resources"]["gpu"] == 0  # data and figure jobs ask for none
    train_rules = (REPO / "workflow/rules/train.smk").read_text()
    assert "gpu=1" in train_rules


def test_both_engines_check_the_config_against_its_schema(tmp_path):
    """Snakemake validates its config with `validate` (config/schemas/params.schema.yaml);
    the CLI, which every DVC stage runs, checks params.yaml and the profile the same way."""
    root = _project(tmp_path)
    bad = subprocess.run([str(BIN / "snakemake"), "-n", "--cores", "1", "--config", "prfile=smoke"],
                         cwd=root, env=_env(root), capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0
    assert "Additional properties are not allowed ('prfile' was unexpected)" in \
        bad.stdout + bad.stderr
    (root / "params.yaml").write_text("profile: smoke\nwith: []\nprfile: quick\n")
    cli = subprocess.run([str(BIN / "noisesparse"), "plan"], cwd=root, env=_env(root),
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0 and "'prfile' (did you mean 'profile'?)" in cli.stderr
    (root / "params.yaml").write_text("profile: smoke\nwith: []\n")
    prof = root / "config/profiles/smoke.yaml"
    prof.write_text(prof.read_text().replace("max_members: 8", "max_members: eight"))
    cli = subprocess.run([str(BIN / "noisesparse"), "plan"], cwd=root, env=_env(root),
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0
    assert "profile smoke: max_members: 'eight' is not of type 'integer'" in cli.stderr
