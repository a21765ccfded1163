"""The package reads top-down: no module of noisesparse imports, directly or through
others, a module that imports it back. Lazy (function-level) imports count: they hide a
circle from Python at import time, not from a reader. Imports are read statically, by the
same reader that plans the pipeline's dependencies (deps.imports)."""

from __future__ import annotations

from collections import deque

from noisesparse.plan import deps


def cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A shortest import path from `start` back to itself (start first and last), or None."""
    parent = {m: start for m in graph.get(start, ())}
    queue = deque(parent)
    while queue:
        m = queue.popleft()
        if m == start:
            path = [start]
            while path[-1] != start or len(path) == 1:
                path.append(parent[path[-1]])
            return path[::-1]
        for n in graph.get(m, ()):
            if n not in parent:
                parent[n] = m
                queue.append(n)
    return None


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per set of modules caught in a circle."""
    cycles, seen = [], set()
    for m in sorted(graph):
        c = cycle_through(m, graph)
        if c and not set(c) <= seen:
            cycles.append(c)
            seen |= set(c)
    return cycles


def test_cycle_finder_on_a_hand_built_graph():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert cycle_through("a", graph) == ["a", "b", "c", "a"]
    assert cycle_through("e", graph) == ["e", "e"]
    assert cycle_through("d", graph) is None and cycle_through("f", graph) is None
    assert import_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_reader_sees_lazy_and_relative_imports():
    # train_code reads the trainer's lazy imports too: the optimiser is imported at module level
    # and relatively, the dataset builders of the catalog inside functions.
    assert "noisesparse.training.optim" in deps.imports("noisesparse.training.train")
    assert "noisesparse.data.folder" in deps.imports("noisesparse.data.catalog")
    assert {"noisesparse.training.train", "noisesparse.data.catalog", "noisesparse.training.lm.train",
            "noisesparse.data", "noisesparse"} <= set(deps.modules())


def test_no_import_cycles_in_the_package():
    graph = {m: deps.imports(m) for m in deps.modules()}
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in noisesparse:\n" + "\n".join(
        " -> ".join(c) for c in cycles)


# The package's layers, bottom first (docs/layout.md): the modules on the package's own floor
# (paths, errors, output, provenance, seeds, devices) are the base every layer may use.
LAYERS = ["data", "measures", "training", "plan", "runs", "claims", "figures", "report",
          "pipeline"]


def layer_of(mod: str) -> int:
    """A module's layer by its folder; -1 for the base floor (and the package itself)."""
    parts = mod.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) \
        else -1


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a layer into one above it (the entry point, __main__, excepted)."""
    return sorted((m, n) for m, ns in graph.items() for n in ns
                  if layer_of(n) > layer_of(m) and not m.endswith("__main__"))


def test_layer_check_on_hand_built_graphs():
    assert layer_of("noisesparse.paths") == -1 and layer_of("noisesparse.data") == 0
    assert layer_of("noisesparse.training.lm.train") == 2
    ok = {"noisesparse.claims.x": {"noisesparse.training.train", "noisesparse.paths"}}
    bad = {"noisesparse.training.train": {"noisesparse.claims.verdict"},
           "noisesparse.output": {"noisesparse.data.store"}}
    assert upward_imports(ok) == []
    assert upward_imports(bad) == [("noisesparse.output", "noisesparse.data.store"),
                                   ("noisesparse.training.train", "noisesparse.claims.verdict")]


def test_each_layer_imports_only_the_layers_below_it():
    graph = {m: deps.imports(m) for m in deps.modules()}
    assert upward_imports(graph) == []
