"""Load a script of benchmarks/ as a module, for tests that call its functions (the scripts are
not a package: they run as `.venv/bin/python benchmarks/<name>.py`)."""

from __future__ import annotations

import importlib.util

from tinyml_helpers.tooling.course import ROOT


def load(name: str):
    """Return ``benchmarks/<name>.py`` imported as a module named ``name``."""
    path = ROOT / "benchmarks" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
