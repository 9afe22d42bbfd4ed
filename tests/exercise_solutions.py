"""Read the folded reference solutions out of a lesson notebook, so that the solution a student
opens is the one the tests run."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"<summary><b>Solution to exercise (\w+)</b>.*?```(\w+)\n(.*?)```",
                      re.DOTALL)


def solutions(lesson: str) -> dict[str, tuple[str, str]]:
    """Return {exercise: (language, code)} of the folded solutions in a lesson."""
    path = next(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
    found = {}
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for name, language, code in SOLUTION.findall("".join(cell["source"])):
                found[name] = (language, code)
    return found


def run_python(code: str, **names) -> dict:
    """Execute a solution with the lesson's variables (and the usual imports); return its
    namespace."""
    import numpy as np

    import tinyml_helpers
    from tinyml_helpers import data, models
    from tinyml_helpers.deploy import dense, env, litert

    namespace = {"np": np, "dense": dense, "data": data, "models": models, "env": env,
                 "litert": litert, "tinyml_helpers": tinyml_helpers, **names}
    exec(compile(code, "<solution>", "exec"), namespace)
    return namespace
