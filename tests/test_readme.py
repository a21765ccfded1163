"""The commands of the README and of docs/ work as written.

Every command of every ```bash block (continuation lines joined, comments dropped) of
README.md, then of each docs/*.md in alphabetical order (`documents()`), runs in that order
in a temporary copy of the project whose params.yaml selects the smoke profile, so one smoke
run serves them all: the README's first command makes the runs that the later documents'
DVC and report commands reuse. The documents are parsed generically: a command added to any
of them, or a new docs/*.md, is run by this test without any change here. Only these are
not run as written, and why:

- environment set-up (`python3 -m venv`, `. .venv/bin/activate`, `pip install`): needs PyPI
  and a fresh environment; the test runs in the installed one, so those parts of a `&&`
  chain are dropped and the rest runs (tests/test_install.py runs the set-up command itself,
  in a fresh venv);
- CI's scripts: the test suite (`pytest`, `.ci/run`), which holds this test, and
  `.ci/smoke`, which `.ci/run` runs after it;
- GPU commands (`--resources gpu=N`, `profile=paper`): need GPUs and the paper profile's
  downloads; a Snakemake command among them runs as a dry run (`-n`), which still checks
  its options and builds the whole plan;
- the SLURM profile (`--workflow-profile .../slurm`): needs a SLURM cluster and the executor
  plugin; a dry run where the plugin and `sbatch` exist, else skipped; its pre-flight
  (`noisesparse slurm-check`) runs where `sinfo` reaches a cluster, else is skipped;
- placeholders: `/path/to/convmixer_imagenet32_state_dict.pt` becomes a local copy of the
  weights (skipped without one), `/mnt/shared/...` a temporary folder;
- `noisesparse bench`: its defaults time a 10,000-neuron model for minutes; it runs with
  small sizes appended (the options it documents stay as written);
- before the first `dvc` command, `dvc commit -f` records the Snakemake run
  (docs/workflow.md's "Ran the workflow with Snakemake instead?"), so `dvc repro` reuses it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_workflow import COPY as WORKFLOW_COPY
from test_workflow import _ignore

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WEIGHTS = os.environ.get("NOISESPARSE_CONVMIXER_WEIGHTS") or \
    "/work/shared/data/convmixer_imagenet32_state_dict.pt"
# What the engines need (test_workflow.COPY: src/ too, a step depends on its code), and what
# the documented DVC and bench commands read.
COPY = WORKFLOW_COPY + ["benchmarks", "dvc.yaml", ".dvcignore"]

SETUP = re.compile(r"^(python3? -m venv\b|\.\s+\S*\.venv/bin/activate$|source\s+\S*activate$|"
                   r"pip3? install\b)")
TEST_SUITE = re.compile(r"\bpytest\b|(^|\s)\.ci/(run|smoke)\b")
GPU = re.compile(r"--resources\s+\S*gpu=|profile=paper\b")
SLURM = re.compile(r"--workflow-profile\s+\S*slurm")
SLURM_CHECK = re.compile(r"\bnoisesparse slurm-check\b")
BENCH_SMALL = {  # appended to `noisesparse bench ...` so it takes seconds, not minutes
    "--precision-check": "--check-steps 20",
    "": "--width 64 --steps 2 --members 1 2 --batch 64",
}


def _strip_comment(line: str) -> str:
    """Drop a shell comment (a # at a word start, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def documents(root: Path = REPO) -> list[Path]:
    """The documents whose commands run, in the order they run: the README, whose first
    command makes the runs, then docs/*.md in alphabetical order."""
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def readme_commands(text: str) -> list[str]:
    """Each command line of a document's ```bash blocks (also indented ones in lists)."""
    out = []
    for block in re.findall(r"^([ \t]*)```bash[ \t]*\n(.*?)^[ \t]*```", text, re.M | re.S):
        body = textwrap.dedent(block[1])
        body = re.sub(r"\\\n[ \t]*", " ", body)  # continuation lines
        for line in body.splitlines():
            line = " ".join(_strip_comment(line).split())
            if line:
                out.append(line)
    return out


def plan_command(cmd: str, tmp: Path) -> tuple[str | None, str]:
    """(the command to run, or None to skip; what was changed and why)."""
    if TEST_SUITE.search(cmd):
        return None, "skipped: CI's own scripts (the test suite, which holds this test, and .ci/smoke, which CI runs after it)"
    parts = [p.strip() for p in cmd.split("&&")]
    kept = [p for p in parts if not SETUP.match(p)]
    notes = ["environment set-up dropped (the installed environment runs it)"] \
        if len(kept) < len(parts) else []
    if not kept:
        return None, "skipped: environment set-up only (needs PyPI and a fresh venv)"
    cmd = " && ".join(kept)
    if "/path/to/convmixer_imagenet32_state_dict.pt" in cmd:
        if not Path(WEIGHTS).is_file():
            return None, "skipped: needs the ConvMixer weights ($NOISESPARSE_CONVMIXER_WEIGHTS)"
        cmd = cmd.replace("/path/to/convmixer_imagenet32_state_dict.pt", WEIGHTS)
        notes.append("local copy of the ConvMixer weights")
    if "/mnt/shared/" in cmd:
        cmd = re.sub(r"/mnt/shared/\S+", str(tmp / "remote"), cmd)
        notes.append("/mnt/shared/... -> a temporary folder")
    if SLURM_CHECK.search(cmd):
        sinfo = shutil.which("sinfo") and subprocess.run(
            ["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0
        if not sinfo:
            return None, "skipped: needs a SLURM cluster (sinfo)"
        return cmd, "a SLURM cluster answers"
    if SLURM.search(cmd):
        plugin = subprocess.run([sys.executable, "-c", "import snakemake_executor_plugin_slurm"],
                                capture_output=True).returncode == 0
        if not (plugin and shutil.which("sbatch")):
            return None, "skipped: needs SLURM (sbatch) and snakemake-executor-plugin-slurm"
        return cmd.replace("snakemake ", "snakemake -n ", 1), "dry run: a SLURM cluster"
    if GPU.search(cmd):
        if "snakemake " in cmd:
            return cmd.replace("snakemake ", "snakemake -n ", 1), \
                "dry run: needs GPUs and the paper profile's downloads"
        return None, "skipped: needs GPUs and the paper profile's downloads"
    m = re.search(r"\bnoisesparse bench\b([^&|;]*)", cmd)
    if m:
        extra = BENCH_SMALL["--precision-check" if "--precision-check" in m.group(1) else ""]
        cmd = cmd[:m.end()].rstrip() + f" {extra}" + cmd[m.end():]
        notes.append(f"small sizes appended ({extra})")
    return cmd, "; ".join(notes) or "as written"


def _project(tmp: Path) -> Path:
    root = tmp / "project"
    root.mkdir()
    for name in COPY:
        src = REPO / name
        if not src.exists():
            continue
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=_ignore)
        else:
            shutil.copy(src, root / name)
    (root / "params.yaml").write_text("profile: smoke\nwith: []\n")
    return root


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["NOISESPARSE_ROOT"] = str(root)
    env.pop("NOISESPARSE_CONVMIXER_WEIGHTS", None)  # only where a document sets it
    return env


def _sh(cmd: str, root: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], cwd=root, env=_env(root),
                          capture_output=True, text=True, timeout=timeout)


def documented_commands(root: Path = REPO) -> list[tuple[str, str]]:
    """(document, command) for every command of `documents()`, in running order."""
    return [(doc.relative_to(root).as_posix(), cmd) for doc in documents(root)
            for cmd in readme_commands(doc.read_text())]


def test_readme_commands_are_found_and_each_has_a_plan(tmp_path):
    """Fast: the parser finds the documents' commands (joined continuation lines, comments
    dropped, indented blocks), and each command is run, dry-run or skipped with a reason."""
    sample = textwrap.dedent("""\
        ```bash
        a --x 1   # comment
        b "q # not a comment" \\
          --y 2
        ```
        - item:

          ```bash
          NAME=v c --z
          ```
        ```python
        not_a_command()
        ```
        """)
    assert readme_commands(sample) == ['a --x 1', 'b "q # not a comment" --y 2', "NAME=v c --z"]
    # The README opens on the install-and-run command, then the tests; the first makes the
    # runs every later command reuses.
    readme = readme_commands((REPO / "README.md").read_text())
    assert 'pip install -e ".[dev]"' in readme[0] and readme[0].endswith("snakemake --cores 2")
    assert "pytest" in readme[1]
    found = documented_commands()
    assert [d for d, _ in found][:len(readme)] == ["README.md"] * len(readme)
    assert {d for d, _ in found} > {"README.md"}, "docs/ holds commands too"
    commands = [c for _, c in found]
    assert any("--report" in c for c in commands)
    for cmd in commands:
        run, why = plan_command(cmd, tmp_path)
        assert run or why.startswith("skipped: "), (cmd, why)
        if run:  # what remains names programs that exist here
            for part in run.split("&&"):
                words = [w for w in part.split() if not re.match(r"^\w+=", w)]
                assert words and (shutil.which(words[0], path=f"{BIN}:{os.environ['PATH']}")
                                  or words[0] in (".", "source", "cd")), (cmd, words)


@pytest.mark.integration
def test_every_readme_command_runs_on_the_smoke_profile(tmp_path):
    root = _project(tmp_path)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    for setup in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"]):
        subprocess.run(setup, cwd=root, env=_env(root), check=True, capture_output=True)
    if (REPO / ".dvc/config").exists():
        shutil.copy(REPO / ".dvc/config", root / ".dvc/config")
    # `dvc exp run` needs a commit to branch its experiment from, as in a clone
    subprocess.run("git add -A && git -c user.name=t -c user.email=t@t commit -qm project",
                   shell=True, cwd=root, env=_env(root), check=True, capture_output=True)
    outcomes, dvc_committed = [], False
    for doc, cmd in documented_commands():
        run, why = plan_command(cmd, tmp_path)
        if run is None:
            outcomes.append((doc, cmd, why))
            continue
        if re.search(r"(^|&&\s*)dvc\b", run) and not dvc_committed and \
                (root / "results/runs").exists():
            res = _sh("noisesparse dvc-plan && dvc commit -f", root)
            assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
            dvc_committed = True
        res = _sh(run, root)
        assert res.returncode == 0, (f"{doc} command failed: {cmd}\nran: {run} ({why})\n"
                                     f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        outcomes.append((doc, cmd, why))
    print("\n".join(f"{why:>60} | {doc}: {cmd}" for doc, cmd, why in outcomes))
    ran = [c for _, c, why in outcomes if not why.startswith("skipped")]
    assert any("--report" in c for c in ran) and (root / "report.html").stat().st_size > 0
    assert list((root / "figures").glob("*.png"))
