"""A model is read once: every .tflite is unpacked from its flatbuffer once per build, then
handed on as a graph.Graph, and the generated C carries its own facts.

The count is taken at the one place the package unpacks a flatbuffer
(``tflite_file._unpack``); the TFLM runtime's own parsing is not ours and not counted.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers import sine_projects
from tinyml_helpers.deploy import export, firmware, graph, tflite_file

REPO = Path(__file__).resolve().parents[1]
PLAIN = REPO / "arduino" / "hello_world_plain"
TFLM = REPO / "arduino" / "hello_world_tflm"
PACKAGE = REPO / "tinyml_helpers"


@pytest.fixture
def parses(monkeypatch):
    """Return a Counter of unpacked flatbuffers by size, filled while the test runs."""
    seen: Counter = Counter()
    unpack = tflite_file._unpack

    def counting(data: bytes):
        seen[len(data)] += 1
        return unpack(data)

    monkeypatch.setattr(tflite_file, "_unpack", counting)
    return seen


def test_generate_reads_each_model_once(parses, tmp_path):
    float_tflite = (PLAIN / sine_projects.FLOAT_NAME).read_bytes()
    int8_tflite = (PLAIN / sine_projects.INT8_NAME).read_bytes()
    tflm_tflite = (TFLM / sine_projects.TFLM_NAME).read_bytes()
    sine_projects.generate(float_tflite, int8_tflite, tmp_path / "arduino", tmp_path / "wokwi",
                           arena_size=1344, compile_uno=False, tflm_tflite=tflm_tflite)
    sizes = {len(float_tflite), len(int8_tflite), len(tflm_tflite)}
    assert len(sizes) == 3, "the three models must differ in size for this count"
    assert parses == Counter({size: 1 for size in sizes})


def test_a_graph_is_not_read_again_downstream(parses, tmp_path):
    """From one graph: the C export, its facts, the harness build and the C array."""
    int8_tflite = (PLAIN / sine_projects.INT8_NAME).read_bytes()
    g = graph.read(int8_tflite)
    model = export.plain_c_files(g, "sine_int8")
    assert (model.prefix, model.kind, model.n_inputs, model.n_outputs) == ("sine_int8", "int8",
                                                                          1, 1)
    export.c_array_files(g)
    assert graph.read(g) is g and tflite_file.read(g) is g.tflite
    if not firmware.missing_tools("host"):
        firmware.build("host", model, np.zeros((2, 1), np.int8), build_dir=tmp_path)
    assert parses == Counter({len(int8_tflite): 1})


# Regular expressions that read what a *tool* printed, not generated C: (module, function).
TOOL_OUTPUT = {("firmware.py", "host_instructions")}  # callgrind's "summary:" line


def _regex_calls(path: Path) -> list[str]:
    """Return the ``re.<function>(...)`` calls in a Python file as 'function, line: source'."""
    text = path.read_text(encoding="utf-8")
    source = text.splitlines()
    calls = []
    for function in ast.walk(ast.parse(text)):
        if not isinstance(function, ast.FunctionDef) or (path.name, function.name) in TOOL_OUTPUT:
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
                calls.append(f"{function.name}, {node.lineno}: {source[node.lineno - 1].strip()}")
    return calls


def test_the_exporters_and_the_harness_parse_no_generated_c():
    """The modules that write or build generated C use no regular expression on it: what they
    need to know about the C comes with the value that made it (a CModel)."""
    for path in [*(PACKAGE / "deploy" / name for name in ("c_model.py", "export.py",
                                                           "graph_c.py", "firmware.py",
                                                           "projects.py")),
                 PACKAGE / "sine_projects.py"]:
        assert _regex_calls(path) == [], path.name
