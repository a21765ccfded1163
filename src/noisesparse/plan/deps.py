"""What each pipeline step's result depends on, besides its data: the source files that
compute it and the config files it reads. Snakemake (inputs) and DVC (deps) both track
these, so editing the code that defines training re-runs the training steps, and editing
a figure's module or config/reference.yaml redraws the figures that read it.

The source files are found by reading imports (statically: no torch or matplotlib is
imported to plan), following `noisesparse` imports transitively, lazy ones included.
Modules that do not change a number are left out (NEUTRAL), so that moving a lock or
rewording an error message retrains nothing.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PKG = Path(__file__).resolve().parents[1]  # the package (this module is in pipeline/)
SRC = "src/noisesparse"  # where the package's source lives in the project
# Where and how, not what: paths, error types, device choice and locks, provenance records,
# this module, the CLI, the package marker, the config schemas' checker (a config either
# passes it unchanged or stops the plan). A change there cannot change a result.
# noisesparse.output too: it writes files atomically and puts each value into JSON as
# the float it is (NaN and infinities as null, JSON having no number for them), so every
# step's code reaches it but none of its numbers depend on it (tests/test_output.py holds
# it to that); tracking it would retrain everything for a change to how a file is renamed.
# noisesparse.training.interrupt likewise: when a trainer checkpoints and how it stops on
# SIGTERM, never what it computes (a resumed run equals an uninterrupted one bit for bit:
# tests/test_interrupt.py). The subpackages' markers are empty.
NEUTRAL = {"noisesparse", "noisesparse.paths", "noisesparse.errors",
           "noisesparse.devices", "noisesparse.provenance",
           "noisesparse.plan.deps", "noisesparse.pipeline.cli", "noisesparse.__main__",
           "noisesparse.output", "noisesparse.plan.schema",
           "noisesparse.training.interrupt", "noisesparse.training", "noisesparse.measures",
           "noisesparse.runs", "noisesparse.pipeline", "noisesparse.report",
           "noisesparse.plan"}
REFERENCE = "config/reference.yaml"


def _module_file(mod: str) -> Path | None:
    rel = Path(*mod.split(".")[1:])
    if rel == Path():  # the package itself
        return PKG / "__init__.py"
    for p in (PKG / rel.with_suffix(".py"), PKG / rel / "__init__.py"):
        if p.exists():
            return p
    return None


def imports(mod: str) -> set[str]:
    """noisesparse modules that `mod` imports anywhere in its source, function-level
    (lazy) imports included."""
    path = _module_file(mod)
    if path is None:
        return set()
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("noisesparse")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("noisesparse"):
                continue
            # `from . import metrics` names a module; `from .model import X` names a symbol
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.add(sub if _module_file(sub) is not None else target)
    return {m for m in found if _module_file(m) is not None}


def modules() -> list[str]:
    """Every module of the package, by dotted name (a package by its __init__)."""
    names = []
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(PKG).with_suffix("").parts
        names.append(".".join(("noisesparse",) + (parts[:-1] if parts[-1] == "__init__"
                                                  else parts)))
    return names


@functools.cache
def closure(*modules: str, stop: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The modules given and every noisesparse module they import, transitively, less
    the neutral ones and any under a `stop` prefix (steps whose output this one reads)."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m in seen or m.startswith(stop):
            continue
        seen.add(m)
        todo.extend(imports(m))
    return tuple(sorted(seen - NEUTRAL))


def files(modules) -> list[str]:
    """Project paths of modules' source files."""
    return [f"{SRC}/{_module_file(m).relative_to(PKG).as_posix()}" for m in modules]


def train_code(arch: str) -> list[str]:
    """Source files that define a training group's results: the trainer, model, noise,
    optimiser, evaluation and metrics (the language model's own for a Transformer)."""
    # Training reads the built dataset (the data step's output), not the code that built
    # it. The CLI picks the trainer by architecture; neither imports the other.
    trainer = ("noisesparse.training.lm.train" if arch == "transformer"
               else "noisesparse.training.train")
    return files(closure(trainer, stop=("noisesparse.data",)))


def data_code(kind: str) -> list[str]:
    """The catalog and the module that builds a dataset of this kind (and what it uses)."""
    entry = {"natural_patches": "noisesparse.data.embedded",
             "digits": "noisesparse.data.embedded", "text": "noisesparse.data.corpus",
             "image_folder": "noisesparse.data.folder"}.get(kind, "noisesparse.data.downloaded")
    # the catalog's own file and the store that writes what it builds, not every builder
    # the catalog dispatches to
    return files(sorted({"noisesparse.data.catalog", "noisesparse.data.store",
                         *closure(entry, stop=("noisesparse.data.catalog",))}))


@functools.cache
def _figure_modules() -> dict[str, str]:
    """Figure id -> the figures module that draws it, read from figures/__init__.py's DRAW."""
    tree = ast.parse((PKG / "figures" / "__init__.py").read_text())
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DRAW"
                                                 for t in node.targets)):
            return {k.value: f"noisesparse.figures.{v.value.id}"
                    for k, v in zip(node.value.keys, node.value.values)}
    raise RuntimeError("figures/__init__.py has no DRAW table")


def figure_code(fig: str) -> list[str]:
    """A figure's module and what it imports, plus config/reference.yaml where the module
    reads the paper's reference numbers (through noisesparse.claims.replication)."""
    mods = closure(_figure_modules()[fig], stop=("noisesparse.data",))
    return files(mods) + ([REFERENCE] if "noisesparse.claims.replication" in mods else [])


def summary_code() -> list[str]:
    mods = closure("noisesparse.report.summary", stop=("noisesparse.data",))
    return files(mods) + [REFERENCE]
