"""CI: the GitHub workflow runs the same commands as .ci/run, and the checks it makes pass."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# .ci/run's own environment set-up; the workflow sets up Python its own way (setup-python)
SETUP = ("python3 -m venv", ". .venv/bin/activate", "set -", "cd ")
INSTALL = ".ci/install"  # the one install, for .ci/run and every job of the workflow
TORCH_INDEX = "PIP_EXTRA_INDEX_URL"  # the CPU-only torch wheels, set by the workflow only


def _commands(text: str) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", text)  # continuation lines
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _workflow() -> dict:
    return yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())


def _pip_install_args(cmd: str) -> list[str]:
    """A `pip install` command's requirements and options, without --quiet."""
    return [w for w in shlex.split(cmd)[2:] if w not in ("--quiet", "-q")]


def test_github_workflow_runs_the_commands_of_ci_run():
    wf = _workflow()
    steps = wf["jobs"]["smoke"]["steps"]
    runs = [c for s in steps if "run" in s for c in _commands(s["run"])]
    wanted = [c for c in _commands((REPO / ".ci/run").read_text()) if not c.startswith(SETUP)]
    assert wanted, "no commands in .ci/run"
    for cmd in wanted:
        assert any(r == cmd or r.startswith(cmd + " ") for r in runs), cmd
    assert any("upload-artifact" in s.get("uses", "") for s in steps)
    # the report landing's screenshot (tests/test_workflow.py) is kept as an artifact
    shots = next(s for s in steps if s.get("run") == "python -m pytest -q")["env"][
        "NOISESPARSE_SCREENSHOTS"]
    assert any(s.get("with", {}).get("path", "").strip().rstrip("/") == shots
               and "upload-artifact" in s["uses"] for s in steps if "uses" in s)
    quick = wf["jobs"]["quick"]
    assert "schedule" in quick["if"] and "workflow_dispatch" in quick["if"]
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as True
    assert "schedule" in on and "workflow_dispatch" in on


def test_snakefmt_and_lint_are_clean():
    subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/"], cwd=REPO,
                   check=True, capture_output=True)
    res = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr


def test_ci_run_and_every_workflow_job_install_the_same_way():
    """One install script for both; no other pip install anywhere; only the workflow names
    the CPU-only torch index (.ci/run keeps pip's configured index); pip's cache is keyed on
    pyproject.toml, where the dependencies are."""
    run = _commands((REPO / ".ci/run").read_text())
    assert INSTALL in run and not any(c.startswith("pip") for c in run)
    assert TORCH_INDEX not in (REPO / ".ci/run").read_text()
    for name, job in _workflow()["jobs"].items():
        steps = job["steps"]
        runs = [c for s in steps if "run" in s for c in _commands(s["run"])]
        assert INSTALL in runs, name
        assert not any(re.match(r"(python -m )?pip3? ", c) for c in runs), name
        assert job["env"][TORCH_INDEX].startswith("https://"), name  # every pip of the job
        py = next(s for s in steps if "setup-python" in s.get("uses", ""))["with"]
        assert py["cache"] == "pip" and py["cache-dependency-path"] == "pyproject.toml", name
        checkout = next(s for s in steps if "checkout" in s.get("uses", ""))
        assert checkout["with"]["persist-credentials"] is False, name


def test_the_install_script_is_the_readme_set_up_install():
    from test_readme import SETUP as README_SETUP
    from test_readme import readme_commands
    setup = next(c for c in readme_commands((REPO / "README.md").read_text())
                 if c.startswith("python3 -m venv"))
    readme = [_pip_install_args(p.strip()) for p in setup.split("&&")
              if README_SETUP.match(p.strip()) and p.strip().startswith("pip")]
    script = [_pip_install_args(c) for c in _commands((REPO / INSTALL).read_text())
              if c.startswith("pip install") and "--upgrade pip" not in c]
    assert readme == script == [["-e", ".[dev]"]]


def test_the_workflow_file_passes_its_schema_and_zizmor():
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run(["bash", ".ci/lint"], cwd=REPO, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No findings to report" in res.stdout + res.stderr


def test_the_slurm_job_runs_ci_slurm_which_runs_the_documented_cluster_command():
    """.ci/slurm stays out of .ci/run; the workflow's `slurm` job runs it (as root) and
    uploads files it writes; it runs the README's cluster command on the smoke profile,
    sized only with settings docs/workflow.md documents, and pre-flights it."""
    script = (REPO / ".ci/slurm").read_text()
    cmds = _commands(script)
    assert ".ci/slurm" not in (REPO / ".ci/run").read_text()
    job = _workflow()["jobs"]["slurm"]
    runs = [c for s in job["steps"] if "run" in s for c in _commands(s["run"])]
    assert any(re.fullmatch(r"sudo -E env \"PATH=\$PATH\" \.ci/slurm (\S+)", c) for c in runs)
    out = next(c for c in runs if c.endswith(".ci/slurm ci-slurm")).split()[-1]
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    for path in upload["with"]["path"].split():
        rel = path.removeprefix(out + "/").rstrip("/")
        assert rel.split("/")[-1] in script or rel in script, path  # the script writes it
    readme = (REPO / "README.md").read_text()
    cluster = next(line.split("#")[0].strip() for line in readme.splitlines()
                   if "--workflow-profile workflow/profiles/slurm" in line)
    assert any(c.startswith(cluster.replace("profile=paper", "profile=smoke")) for c in cmds)
    assert "noisesparse slurm-check" in cmds
    docs = (REPO / "docs/workflow.md").read_text()
    used = set(re.findall(r"\b(NOISESPARSE_[A-Z_]+)=", script)) - {"NOISESPARSE_ROOT"}
    assert used and all(f"`{v}" in docs for v in used), used - {
        v for v in used if f"`{v}" in docs}
    pin = re.search(r'"snakemake-executor-plugin-slurm==([\d.]+)"',
                    (REPO / "pyproject.toml").read_text()).group(1)
    assert f"up to {pin}" in docs  # the version whose handling of a cancelled job it states
