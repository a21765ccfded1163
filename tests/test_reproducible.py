"""Results do not go stale silently: each step depends on the code and config that compute
it, in Snakemake and in DVC alike; rules that run a network ask for a GPU, figure rules stay
local; the default workflow profile is loaded; every metrics.json records its provenance."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from noisesparse.plan import deps
from noisesparse.pipeline.cli import dvc_yaml_dict
from noisesparse.report.landing import LANDING
from noisesparse.plan.registry import build_plan
from test_workflow import BIN, REPO, _dvc_project, _env, _project, _run

SMK = str(BIN / "snakemake")
DVC = str(BIN / "dvc")


def test_training_depends_on_the_code_that_defines_it():
    stages = dvc_yaml_dict("smoke")["stages"]
    shared = {f"src/noisesparse/{m}.py" for m in ("training/noise", "measures/metrics",
                                                   "training/config", "training/loop")}
    mlp = {f"src/noisesparse/training/{m}.py" for m in ("model", "train", "optim")}
    lm = {"src/noisesparse/training/lm/model.py", "src/noisesparse/training/lm/train.py"}
    for name, st in stages.items():
        d = set(st["deps"])
        if name.startswith("train_"):
            assert shared <= d, name
            # each trainer's own code, and only its own: neither imports the other
            if "pydoc_text" in name:
                assert lm <= d and not mlp & d, name
            else:
                assert mlp <= d and not lm & d, name
            assert not any("/data/" in p or "devices" in p or "paths" in p for p in d), name
            assert ("--precision tf32" in st["cmd"]) != ("pydoc_text" in name)
        elif name.startswith("data_"):
            assert "src/noisesparse/training/model.py" not in d and "config/datasets.yaml" in d
    # figures: their module, and reference.yaml where it is read (F1, F5, F18), not elsewhere
    assert "src/noisesparse/figures/weights.py" in stages["figure_F7"]["deps"]
    reads_ref = {n for n, st in stages.items() if deps.REFERENCE in st["deps"]}
    assert {"figure_F1", "figure_F18", "summary"} <= reads_ref
    assert "figure_F7" not in reads_ref and "figure_F10" not in reads_ref


def test_declared_training_code_covers_what_training_imports():
    """The modules the trainer reaches are all declared, except those that change no number."""
    declared = set(deps.train_code("mlp"))
    for mod in ("noisesparse.training.train", "noisesparse.training.model"):
        for m in deps.imports(mod) - deps.NEUTRAL:
            if not m.startswith(("noisesparse.training.lm", "noisesparse.data")):
                assert deps.files([m])[0] in declared, m


def _fake_outputs(root: Path, plan) -> None:
    """Every output of the plan, as if the pipeline had run: in its order, so that each
    step's outputs are newer than its inputs."""
    def write(files):
        for o in files:
            (root / o).parent.mkdir(parents=True, exist_ok=True)
            (root / o).write_text(o)
            os.utime((root / o).parent)  # a run directory's own time: rewritten too
        time.sleep(0.05)
    write(f"data/processed/{d}.pt" for d in plan.datasets)
    write(f"results/runs/{rid}/metrics.json" for rid in plan.runs)
    write(o for info in plan.figures.values() for o in info["outputs"])
    write(["results/summary.json", LANDING])  # the summary step writes both


def _snakemake_todo(root: Path) -> set[str]:
    out = _run([SMK, "-n", "--cores", "2"], root).stdout
    return set(re.findall(r"^(?:local)?rule (\S+):", out, re.M)) - {"all"}


def _dvc_todo(root: Path) -> set[str]:
    out = _run([DVC, "status"], root).stdout
    return set(re.findall(r"^(\S+):\s*$", out, re.M))


def _up_to_date_project(tmp_path: Path):
    """A copy of the project under both engines with every smoke output faked as made, in
    order, and committed to DVC: nothing to do for either engine. Returns (root, plan)."""
    root = _project(tmp_path)
    _dvc_project(root)
    plan = build_plan("smoke")
    time.sleep(1)  # outputs strictly newer than the copied sources
    _fake_outputs(root, plan)
    _run([DVC, "commit", "-f", "-q"], root)
    assert _snakemake_todo(root) == _dvc_todo(root) == set()
    return root, plan


def test_editing_training_code_or_the_reference_makes_both_engines_rerun(tmp_path):
    root, plan = _up_to_date_project(tmp_path)

    model = root / "src/noisesparse/training/model.py"
    model.write_text(model.read_text() + "\n# a change to the model\n")
    later = time.time() + 5
    os.utime(model, (later, later))
    # the one-hidden-layer model: every group but the Transformer's, which has its own
    lm = {f"train_{g}" for g, rids in plan.groups.items()
          if plan.runs[rids[0]].arch == "transformer"}
    trains = {f"train_{g}" for g in plan.groups} - lm
    assert lm and trains
    snake = _snakemake_todo(root)
    assert {re.sub(r"\W", "_", t) for t in trains} <= snake
    assert not {re.sub(r"\W", "_", t) for t in lm} & snake
    assert not any(s.startswith("data") for s in snake)
    dvc = _dvc_todo(root)
    assert trains <= dvc and not lm & dvc and not any(s.startswith("data_") for s in dvc)
    model.write_text(model.read_text().replace("\n# a change to the model\n", ""))
    time.sleep(0.05)
    _fake_outputs(root, plan)  # as if re-run: up to date again for both
    _run([DVC, "commit", "-f", "-q"], root)

    ref = root / "config/reference.yaml"
    ref.write_text(ref.read_text() + "\n# a new reference number\n")
    os.utime(ref, (later + 60, later + 60))
    assert {"figure_F1", "figure_F18", "summary"} <= _dvc_todo(root)
    assert "figure_F7" not in _dvc_todo(root)
    snake = _snakemake_todo(root)
    assert {"figure_F1", "figure_F18", "summary"} <= snake and "figure_F7" not in snake


def test_changing_the_convergence_rule_retrains_nothing(tmp_path):
    """The convergence rule judges results when they are read: a new threshold re-draws
    the figures and the summary that read runs, and re-trains and rebuilds nothing."""
    assert "src/noisesparse/runs/results.py" not in deps.train_code("mlp")
    assert "src/noisesparse/runs/results.py" not in deps.train_code("transformer")
    root, _ = _up_to_date_project(tmp_path)

    rule = root / "src/noisesparse/runs/results.py"
    text = rule.read_text()
    assert text.count("\nREL_TOL = 0.10\n") == 1
    rule.write_text(text.replace("\nREL_TOL = 0.10\n", "\nREL_TOL = 0.05\n"))
    later = time.time() + 5
    os.utime(rule, (later, later))
    for todo in (_snakemake_todo(root), _dvc_todo(root)):
        assert {"figure_F18", "summary"} <= todo, todo
        assert not any(s.startswith(("train", "data")) for s in todo), todo


def test_latents_ask_for_a_gpu_and_figures_are_local_rules(tmp_path):
    root = _project(tmp_path, extras=("latents",))
    out = _run([SMK, "-n", "--cores", "2"], root).stdout
    gpus = {}
    for block in re.split(r"\n(?=\[)|\n\n", out):  # one job per block
        m = re.search(r"output: data/processed/(\w+)\.pt", block)
        if m and re.search(r"^rule data:", block, re.M):
            gpus[m.group(1)] = "gpu=1" in block
    assert gpus["natural_latents"] and not gpus["natural_colour32"] and not gpus["digits"]

    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
            wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                              snakefile=root / "Snakefile")._workflow
            local = set(wf._localrules)  # is_local() says yes to all on one machine
    finally:
        os.chdir(cwd)
    plan = build_plan("smoke")
    assert {f"figure_{f}" for f in plan.figures} | {"summary", "all"} <= local
    assert not any(n.startswith(("train_", "data")) for n in local)


def test_the_default_workflow_profile_is_loaded_and_the_slurm_one_replaces_it(tmp_path):
    prof = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert prof["rerun-incomplete"] is True
    root = _project(tmp_path)
    res = _run([SMK, "-n", "--cores", "2"], root)
    assert "workflow specific profile profiles/default" in res.stdout + res.stderr
    slurm = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    assert slurm["rerun-incomplete"] is True  # named instead of the default: keeps it


@pytest.mark.integration
def test_after_a_kill_unlock_then_the_run_goes_on(tmp_path):
    import signal
    import subprocess
    root = _project(tmp_path)
    target = "data/processed/digits.pt"
    proc = subprocess.Popen([SMK, "--cores", "1", target], cwd=root, env=_env(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while not (root / "results/logs/data/digits.log").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    res = subprocess.run([SMK, "--cores", "1", target], cwd=root, env=_env(root),
                         capture_output=True, text=True)
    assert res.returncode != 0 and "LockException" in res.stdout + res.stderr
    _run([SMK, "--unlock"], root)  # what the README says to run
    _run([SMK, "--cores", "1", target], root)
    assert (root / target).stat().st_size > 0


def test_dvc_refuses_a_profile_its_stages_were_not_generated_for(tmp_path):
    import subprocess
    root = _project(tmp_path)  # params.yaml: smoke
    env = {**_env(root), "DVC_STAGE": "figure_F1"}
    res = subprocess.run([str(BIN / "noisesparse"), "figure", "F1", "--profile", "quick"],
                         cwd=root, env=env, capture_output=True, text=True)
    assert res.returncode == 2
    assert "noisesparse dvc-plan --profile smoke" in res.stderr


@pytest.mark.parametrize("profile", ["paper", "long"])
def test_dvc_plan_for_another_profile_sets_params(tmp_path, profile):
    root = _project(tmp_path)
    _run([str(BIN / "noisesparse"), "dvc-plan", "--profile", profile], root)
    assert yaml.safe_load((root / "params.yaml").read_text())["profile"] == profile
    assert f"--profile {profile}" in (root / "dvc.yaml").read_text()
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    assert all(st.get("params") == ["profile"] for n, st in stages.items()
               if n.startswith(("train_", "figure_")))


def test_metrics_json_records_provenance(tmp_path):
    import torch

    from noisesparse.training.config import make_run_config
    from noisesparse.training.train import GroupTrainer
    cfg = make_run_config({"dataset": "digits", "width": 8, "steps": 2, "batch_size": 16,
                           "eval_size": 32, "log_every": 1})
    g = torch.Generator().manual_seed(0)
    data = {"x_train": torch.rand(64, 5, generator=g), "x_test": torch.rand(32, 5, generator=g),
            "y_train": None, "y_test": None, "meta": {"shape": [5], "n_classes": 0}}
    tr = GroupTrainer([cfg], data, torch.device("cpu"), precision="fp32")
    tr.fit()
    tr.write_results([str(tmp_path / "run")])
    rec = json.loads((tmp_path / "run/metrics.json").read_text())["train"]
    assert rec["precision"] == "fp32" and rec["torch"] == torch.__version__
    assert rec["device_name"] and isinstance(rec["device_name"], str)
    assert re.fullmatch(r"[0-9a-f]{40}", rec["git_commit"])  # the tests run in a checkout
    assert isinstance(rec["git_dirty"], bool)
