"""The package reads top-down: no module of noisesparse imports, directly or through
others, a module that imports it back. Lazy (function-level) imports count: they hide a
circle from Python at import time, not from a reader. Imports are read statically, by the
same reader that plans the pipeline's dependencies (deps.imports)."""

from __future__ import annotations

from collections import deque

from noisesparse import deps


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
    # train_code reads the trainer's lazy imports too: evaluate is imported at module level,
    # the dataset builders of the catalog inside functions.
    assert "noisesparse.evaluate" in deps.imports("noisesparse.train")
    assert "noisesparse.data.folder" in deps.imports("noisesparse.data.catalog")
    assert {"noisesparse.train", "noisesparse.data.catalog", "noisesparse.lm.train",
            "noisesparse.data", "noisesparse"} <= set(deps.modules())


def test_no_import_cycles_in_the_package():
    graph = {m: deps.imports(m) for m in deps.modules()}
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in noisesparse:\n" + "\n".join(
        " -> ".join(c) for c in cycles)
