"""The package's layers hold: the deploy core imports no lesson module and no tooling, lesson
modules import no tooling, no import cycle anywhere, and no module imports TensorFlow when it
is itself imported. Read from the source (every import statement, also those inside
functions), so a lazy import cannot hide an arrow that runs back up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinyml_helpers"
HEAVY = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "ai_edge_litert",
         "tflite_micro")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Return (package modules imported anywhere in ``path``, third-party roots imported at
    module level)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside, top_level = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module or ""
            targets = [root] + [f"{root}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        inside |= {t for t in targets if t.startswith("tinyml_helpers")}
    for node in tree.body:  # module level only
        if isinstance(node, ast.Import):
            top_level |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            top_level.add(node.module.split(".")[0])
    return inside, top_level


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {t for t in _imports(path)[0] if t in MODULES and t != name}
         for name, path in MODULES.items()}


def _layer(name: str) -> str:
    if name.startswith("tinyml_helpers.deploy"):
        return "deploy"
    if name.startswith("tinyml_helpers.tooling"):
        return "tooling"
    return "lesson"


def test_the_three_layers_are_all_there():
    layers = {_layer(name) for name in MODULES}
    assert layers == {"deploy", "lesson", "tooling"}
    assert sum(_layer(n) == "deploy" for n in MODULES) >= 10


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "deploy"))
def test_deploy_core_never_imports_lessons_or_tooling(name):
    upward = sorted(t for t in GRAPH[name] if _layer(t) != "deploy")
    assert not upward, f"{name} imports {upward}: the deploy core must be handed what it needs"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n) == "lesson"))
def test_lesson_modules_never_import_tooling(name):
    upward = sorted(t for t in GRAPH[name] if _layer(t) == "tooling")
    assert not upward, f"{name} imports {upward}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_graph_reader_sees_real_arrows():
    # A check that cannot fail is no check: the reader must find arrows we know exist.
    assert "tinyml_helpers.deploy.dense" in GRAPH["tinyml_helpers.deploy.export"]
    assert "tinyml_helpers.deploy.projects" in GRAPH["tinyml_helpers.fan_detector"]
    assert "tinyml_helpers.fan_detector" in GRAPH["tinyml_helpers.tooling.build"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_tensorflow_at_import_time(name):
    heavy = sorted(_imports(MODULES[name])[1] & set(HEAVY))
    assert not heavy, f"{name} imports {heavy} at module level; import inside the function"


def test_importing_every_module_loads_no_tensorflow():
    code = ("import sys, importlib\n"
            f"for m in {sorted(MODULES)!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]"
