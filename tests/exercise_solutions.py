"""Read a lesson notebook the way the exercise tests need it: its cells by id, its folded
reference solutions (so that the solution a student opens is the one the tests run), and a
runner for a cell's code that returns what the notebook would show."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"<summary><b>Solution to exercise (\w+)</b>.*?```(\w+)\n(.*?)```",
                      re.DOTALL)


def lesson_cells(lesson: str) -> dict[str, dict]:
    """Return {cell id: cell} of a lesson notebook (``lesson`` is its number, e.g. "05"), in
    notebook order."""
    path = next(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
    return {cell["id"]: cell for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]}


def cell_source(lesson: str, cell_id: str) -> str:
    """Return the source of cell ``cell_id`` of a lesson."""
    cells = lesson_cells(lesson)
    if cell_id not in cells:
        raise KeyError(f"lesson {lesson} has no cell {cell_id!r}")
    return "".join(cells[cell_id]["source"])


def run_cell(source: str, namespace: dict):
    """Run a cell's code in ``namespace`` (updated in place); return the value of its last
    line when that is an expression, as the notebook would show it, else None."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307


def solutions(lesson: str) -> dict[str, tuple[str, str]]:
    """Return {exercise: (language, code)} of the folded solutions in a lesson."""
    found = {}
    for cell in lesson_cells(lesson).values():
        if cell["cell_type"] == "markdown":
            for name, language, code in SOLUTION.findall("".join(cell["source"])):
                found[name] = (language, code)
    return found


def with_imports(**names) -> dict:
    """Return a namespace with the imports a lesson has made (np, the course's helpers) and
    ``names``, the lesson's variables."""
    import numpy as np

    import tinyml_helpers
    from tinyml_helpers import data, models
    from tinyml_helpers.deploy import dense, env, litert

    return {"np": np, "dense": dense, "data": data, "models": models, "env": env,
            "litert": litert, "tinyml_helpers": tinyml_helpers, **names}


def run_python(code: str, **names) -> dict:
    """Execute a solution with the lesson's variables (and the usual imports); return its
    namespace."""
    namespace = with_imports(**names)
    exec(compile(code, "<solution>", "exec"), namespace)
    return namespace
