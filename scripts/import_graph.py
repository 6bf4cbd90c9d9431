r"""The package import graph of gesture_jax, its cycles, and the layout rules tests/test_layout.py holds.

    python scripts/import_graph.py            # the graph as lines "package -> packages", then any cycle
    python scripts/import_graph.py --dot      # the same in Graphviz's dot language

A node is a sub-package of `gesture_jax` (``gesture_jax.models``, ``gesture_jax.data``, ...) or ``(top)``
for the modules loose in `gesture_jax/`. Every import counts, those inside functions too: a deferred import
is still a dependency, only a later one.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gesture_jax")
TOP = "(top)"
# Who may import whom: a package imports only packages of a lower layer. Application (the entry points
# and modes) -> evaluators -> the evaluation engine -> the library -> infrastructure.
LAYERS = {
    "gesture_jax.infra": 0,
    "gesture_jax.data": 1,
    "gesture_jax.text": 2,
    "gesture_jax.features": 2,
    "gesture_jax.models": 3,
    "gesture_jax.config_lib": 3,
    "gesture_jax.ports": 4,
    "gesture_jax.analysis": 4,
    "gesture_jax.train": 4,
    "gesture_jax.evaluation": 5,
    "gesture_jax.evaluators": 6,
    "gesture_jax.modes": 7,
    TOP: 8,
}
MAX_LOOSE = 10


def modules(root: str = ROOT) -> dict[str, str]:
    """Dotted module name -> file path, for every .py under `root`."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(root))[: -len(".py")]
                name = rel.replace(os.sep, ".").removesuffix(".__init__")
                out[name] = os.path.join(folder, f)
    return out


def imports(path: str, module: str, known: set[str]) -> set[str]:
    """The gesture_jax modules `path` imports (``from gesture_jax import x`` resolves to the module x where
    x is one, else to the package)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gesture_jax")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = module.split(".")
                is_pkg = path.endswith("__init__.py")
                anchor = parts if is_pkg else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("gesture_jax"):
                continue
            for a in node.names:
                full = f"{base}.{a.name}"
                found.add(full if full in known else base)
    return found


def package_of(module: str, known: set[str]) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP  # gesture_jax/__init__.py
    if len(parts) == 2 and f"{module}" in known and not _is_package(module):
        return TOP
    return ".".join(parts[:2])


def _is_package(module: str) -> bool:
    return os.path.isdir(os.path.join(os.path.dirname(ROOT), *module.split(".")))


def graph(root: str = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        src = package_of(name, known)
        edges.setdefault(src, set())
        for target in imports(path, name, known):
            dst = package_of(target, known)
            if dst != src:
                edges[src].add(dst)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Edges that go against `LAYERS` (to the same or a higher layer), and packages it does not place."""
    out = [f"{p} is in no layer of LAYERS" for p in sorted(edges) if p not in LAYERS]
    for src in sorted(edges):
        for dst in sorted(edges[src]):
            if src in LAYERS and dst in LAYERS and LAYERS[dst] >= LAYERS[src]:
                out.append(f"{src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS[dst]})")
    return out


def loose_modules(root: str = ROOT) -> list[str]:
    return sorted(f for f in os.listdir(root) if f.endswith(".py"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dot", action="store_true")
    args = parser.parse_args()
    edges = graph()
    if args.dot:
        print("digraph gesture_jax {")
        for src in sorted(edges):
            for dst in sorted(edges[src]):
                print(f'  "{src}" -> "{dst}";')
        print("}")
        return
    for src in sorted(edges):
        print(f"{src:28s} -> {', '.join(sorted(edges[src])) or '(nothing)'}")
    loose = loose_modules()
    print(f"\n{len(loose)} modules loose in gesture_jax/: {', '.join(loose)}")
    found = cycles(edges)
    for c in found:
        print("cycle:", " <-> ".join(c))
    print("no package-level cycle" if not found else f"{len(found)} cycles")
    against = upward(edges)
    for line in against:
        print("against the layers:", line)
    sys.exit(1 if found or against or len(loose) > MAX_LOOSE else 0)


if __name__ == "__main__":
    main()
