"""Where things live. Everything is relative to the project root: the current directory,
or $NOISESPARSE_ROOT. Snakemake and DVC both run from the root, so paths agree."""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    return Path(os.environ.get("NOISESPARSE_ROOT", ".")).resolve()


def config_dir() -> Path:
    return root() / "config"


def processed(name: str) -> str:
    # Relative, as the pipeline's steps declare it; code that opens it prefixes root().
    return f"data/processed/{name}.pt"


def run_dir(run_id: str) -> str:
    return f"results/runs/{run_id}"


def partial_ckpt(group_id: str) -> str:
    # Outside any declared output: Snakemake and DVC delete failed outputs, not this.
    return f"results/partial/{group_id}.pt"


def partial_dir(group_id: str) -> str:
    """A language-model group's checkpoints, one per run (its runs train one by one)."""
    return f"results/partial/{group_id}"


def figure_files(fig: str, tables=()) -> list[str]:
    """PNG, PDF, the figure's data (CSV, Markdown), then any further tables it declares."""
    return [f"figures/{fig}.png", f"figures/{fig}.pdf", f"results/tables/{fig}.csv",
            f"results/tables/{fig}.md"] + [f"results/tables/{fig}_{t}.csv" for t in tables]
