"""A new user's install: in a fresh virtual environment, the README's set-up command alone
(parsed from the README, not retyped) installs everything the workflow needs, F19's attack
library included, with no conflicting requirement (`pip check`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from test_readme import SETUP, readme_commands
from test_workflow import COPY, copy_project

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What `pip install -e .` reads (pyproject.toml names README.md as the long description),
# besides what the workflow needs.
PROJECT = COPY + ["pyproject.toml", "README.md"]
# One figure of the smoke profile: F19 needs the attack library and the classifier and
# reconstruction runs (the README's own command builds the quick profile's 21 figures).
# The target goes before --config, which takes every word after it as a name=value pair.
SMOKE_F19 = "figures/F19.png --config profile=smoke"


def readme_set_up() -> tuple[list[str], str]:
    """The README's set-up command: its environment set-up parts, and its Snakemake run."""
    cmd = next(c for c in readme_commands((REPO / "README.md").read_text())
               if c.startswith("python3 -m venv"))
    parts = [p.strip() for p in cmd.split("&&")]
    setup = [p for p in parts if SETUP.match(p)]
    rest = [p for p in parts if not SETUP.match(p)]
    assert setup and rest and rest[-1].startswith("snakemake "), parts
    return setup + rest[:-1], rest[-1]


def _fresh_env() -> dict:
    """This shell's environment without the test's own venv: no VIRTUAL_ENV, PYTHONPATH or
    NOISESPARSE_ROOT, and the venv's bin/ off PATH, so `python3` is the system's. pip's
    settings stay (on GitHub, PIP_EXTRA_INDEX_URL: the CPU-only torch wheels)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "NOISESPARSE_ROOT")}
    here = {BIN.resolve(), BIN}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p) not in here and Path(p).resolve() not in here)
    return env


def test_the_readme_set_up_command_is_found():
    setup, run = readme_set_up()
    assert setup[0].startswith("python3 -m venv") and any("pip install" in p for p in setup)
    assert run.startswith("snakemake --cores")
    assert "--no-deps" not in " ".join(setup)  # one install: nothing installed apart


@pytest.mark.integration
def test_a_fresh_venv_with_the_readme_set_up_alone_runs_f19(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    copy_project(PROJECT, root)
    setup, run = readme_set_up()
    cmd = " && ".join(setup + ["pip check", "date +%s > installed", f"{run} {SMOKE_F19}"])
    start = time.time()
    res = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], cwd=root,
                         env=_fresh_env(), capture_output=True, text=True, timeout=2400)
    end = time.time()
    if (root / "installed").exists():
        installed = int((root / "installed").read_text())
        print(f"fresh venv and the README's install: {installed - start:.0f} s; smoke F19: "
              f"{end - installed:.0f} s\nran: {cmd}")
    assert res.returncode == 0, (f"ran: {cmd}\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    assert (root / ".venv/bin/python").exists()
    assert (root / "figures/F19.png").stat().st_size > 0
    table = pd.read_csv(root / "results/tables/F19.csv")
    attacked = table[(table["model"] == "classifier") & table["attack"].str.startswith("pgd")]
    assert len(attacked) and attacked["value_mean"].between(0, 1).all()
