"""The package's shape: few loose modules, dependencies one way between sub-packages, short signatures."""

import ast
import os
import subprocess

from scripts import import_graph

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_POSITIONAL = 6


def test_few_modules_are_loose_in_the_package():
    loose = import_graph.loose_modules()
    assert len(loose) <= import_graph.MAX_LOOSE, loose


def test_sub_packages_import_one_way_without_cycles():
    edges = import_graph.graph()
    assert import_graph.cycles(edges) == []
    assert import_graph.upward(edges) == []


def test_the_checks_can_fail():
    edges = {"gesture_jax.infra": {"gesture_jax.models"}, "gesture_jax.models": {"gesture_jax.infra"}}
    assert import_graph.cycles(edges) == [["gesture_jax.infra", "gesture_jax.models"]]
    assert import_graph.upward(edges) == ["gesture_jax.infra (layer 0) imports gesture_jax.models (layer 3)"]
    assert import_graph.upward({"gesture_jax.new": set()}) == ["gesture_jax.new is in no layer of LAYERS"]


def test_a_deferred_import_counts(tmp_path):
    pkg = tmp_path / "gesture_jax"
    (pkg / "infra").mkdir(parents=True)
    (pkg / "models").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "infra" / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("")
    (pkg / "infra" / "disk.py").write_text("def f():\n    from gesture_jax.models import net\n")
    (pkg / "models" / "net.py").write_text("from gesture_jax.infra import disk\n")
    edges = import_graph.graph(str(pkg))
    assert import_graph.cycles(edges) == [["gesture_jax.infra", "gesture_jax.models"]]


def _python_files():
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], capture_output=True, text=True, cwd=REPO, check=True
    )
    return [f for f in tracked.stdout.split() if not f.startswith("tests/fixtures/")]


def test_no_function_takes_more_than_six_positional_parameters():
    """Beyond six, the arguments are keyword-only: a call then says what each value is."""
    long = []
    for path in _python_files():
        with open(os.path.join(REPO, path)) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args
                names = [a.arg for a in args if a.arg not in ("self", "cls")]
                if len(names) > MAX_POSITIONAL:
                    long.append(f"{path}:{node.lineno} {node.name}({', '.join(names)})")
    assert long == []
