"""CI: the GitHub workflow runs the same commands as .ci/run, and the checks it makes pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# .ci/run's own environment set-up; the workflow sets up Python its own way
SETUP = ("python3 -m venv", ". .venv/bin/activate", "pip install", "set -", "cd ")


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_github_workflow_runs_the_commands_of_ci_run():
    wf = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    steps = wf["jobs"]["smoke"]["steps"]
    runs = [c for s in steps if "run" in s for c in _commands(s["run"])]
    wanted = [c for c in _commands((REPO / ".ci/run").read_text()) if not c.startswith(SETUP)]
    assert wanted, "no commands in .ci/run"
    for cmd in wanted:
        assert any(r == cmd or r.startswith(cmd + " ") for r in runs), cmd
    assert any("upload-artifact" in s.get("uses", "") for s in steps)
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
