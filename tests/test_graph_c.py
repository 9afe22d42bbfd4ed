"""The generated C of whole int8 graphs (graph_c over c/tinyml_ops.c, or over the fast kernels
of c/tinyml_ops_fast.c) on the host, Uno and M4.

For a subset of the case table of tests/test_ops.py (every operator and every kind of
parameter at least once, and both small CNNs) the graph becomes C over each kernel set, the C
runs in the firmware harness on each target with many random int8 rows in one build, and every
output code must equal the TFLM runtime's (the trusted reference) and ops.run's. Then the
choice of kernels: graph_c.generate's and export.plain_c_files' ``kernels``, and what they
refuse.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_ops

from tinyml_helpers.deploy import c_model, dense, export, firmware, graph, graph_c, ops, tflm

TARGETS = ("host", "uno", "m4")
N_ROWS = 48  # random input rows per case, all in one firmware run
UNO_INPUT_FLASH = 12_000  # bytes of embedded input rows that leave room in the Uno's 32 KB
# The Uno's 2 KB of RAM also holds the harness (input, two outputs, a 96-byte line), its stack
# and ours (about 450 bytes measured for the strided CNN): what the activations may take.
UNO_RAM = 2048
UNO_RESERVED = 96 + 700

# One or more cases per operator and per parameter kind: strides, SAME / VALID, dilation,
# RELU / RELU6 / none, groups of input channels, depth multiplier, window sizes, softmax, the
# Conv1D's EXPAND_DIMS / RESHAPE, and the whole CNNs.
CASE_NAMES = (
    "CONV_2D k1x1 s1 d1 same None 1->2",
    "CONV_2D k3x3 s2 d1 valid relu6 3->4",
    "CONV_2D k5x3 s2 d1 same relu 1->4",
    "CONV_2D k3x3 s1 d2 valid relu 2->2",
    "DEPTHWISE_CONV_2D k3x3 s2 d1 valid relu c3 x2",
    "DEPTHWISE_CONV_2D k5x3 s1 d1 same relu6 c1 x2",
    "DEPTHWISE_CONV_2D k3x3 s1 d2 valid relu c2 x2",
    "MAX_POOL_2D pool3 s2 same",
    "MAX_POOL_2D pool2 s1 valid",
    "AVERAGE_POOL_2D pool3 s1 same",
    "AVERAGE_POOL_2D pool2 s2 valid",
    "FULLY_CONNECTED flatten->5 None",
    "FULLY_CONNECTED flatten->3 relu6",
    "SOFTMAX dense(normal init)->softmax 10",
    "Conv1D k3 s1 same relu6 +MaxPool1D",
    "CNN 8x8x1 conv-pool-dw-pool-dense-softmax",
    "CNN 12x10x2 strided conv-dw-pool-conv1x1-dense-dense-softmax",
)
INDEX = {case.name: i for i, case in enumerate(test_ops.CASES)}


@pytest.fixture(scope="module")
def cases(tf):
    """Return {name: (int8 .tflite, graph, {kernels: GraphC}, rows, TFLM outputs)} for
    CASE_NAMES, the C over each kernel set of graph_c.KERNEL_SETS."""
    built = {}
    for name in CASE_NAMES:
        index = INDEX[name]
        tflite = test_ops.models(test_ops.CASES[index], index, tf)["int8"]
        g = graph.read(tflite)
        rows = test_ops.random_inputs(g, N_ROWS, seed=3000 + index).reshape(N_ROWS, -1)
        built[name] = (tflite, g, {k: graph_c.generate(g, "net", k) for k in graph_c.KERNEL_SETS},
                       rows, tflm.run(tflite, rows).reshape(N_ROWS, -1))
    return built


def _uno_skip(c: graph_c.GraphC) -> str | None:
    """Return why a model cannot run in the Uno harness (from its sizes), or None."""
    need = c.activation_bytes + c.n_inputs + 2 * c.n_outputs
    if need > UNO_RAM - UNO_RESERVED:
        return (f"needs {need} B of RAM for activations and harness buffers; the Uno has "
                f"{UNO_RAM - UNO_RESERVED} B left after the harness and stacks")
    return None


@pytest.mark.parametrize("kernels", graph_c.KERNEL_SETS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_generated_c_equals_tflm(cases, name, target, kernels, tmp_path):
    """Every output code of every row equals TFLM's and ops.run's, on each target, over the
    reference kernels and over the fast ones."""
    if firmware.missing_tools(target):
        pytest.skip(f"{target}: {', '.join(firmware.missing_tools(target))} not installed")
    tflite, g, codes, rows, expected = cases[name]
    c = codes[kernels]
    if target == "uno":
        if _uno_skip(c):
            pytest.skip(f"{name}: {_uno_skip(c)}")
        rows = rows[:max(1, UNO_INPUT_FLASH // c.n_inputs)]  # the rows live in flash
        expected = expected[:len(rows)]
    assert np.array_equal(ops.run(g, rows).reshape(len(rows), -1), expected)
    # Outputs wider than one UART line of simavr come in several OUT lines of the same case.
    outputs = firmware.run(target, firmware.build(target, c, rows, build_dir=tmp_path)).outputs
    assert outputs.shape == expected.shape
    differ = np.flatnonzero((outputs != expected).any(axis=1))
    assert differ.size == 0, (f"{name} on {target} ({kernels} kernels): {differ.size} of "
                              f"{len(rows)} rows differ from TFLM, first row {differ[:1]}")


def test_the_subset_covers_every_op(cases):
    """The chosen cases hold every operator kind graph.read accepts."""
    seen = {op.kind for _, g, *_ in cases.values() for op in g.ops}
    assert seen == set(graph.SUPPORTED_OPS)


def test_buffers_hold_the_largest_tensor_of_each_side(cases):
    """The 8x8 CNN ping-pongs 6x6x4 | 3x3x4 | 3x3x8 | 2x2x8 | 6: buffers of 144 and 36 B."""
    _, g, codes, _, _ = cases["CNN 8x8x1 conv-pool-dw-pool-dense-softmax"]
    c = codes["reference"]
    sizes = [g.tensors[op.outputs[0]].size for op in g.ops]
    assert sizes == [144, 36, 72, 32, 32, 6, 6]
    assert c.buffers == (144, 36) and c.activation_bytes == 180
    assert (c.n_inputs, c.n_outputs) == (64, 6)
    source = c.files["net.c"]
    assert "static int8_t buf0[144];" in source and "static int8_t buf1[36];" in source
    assert "leaves the codes where they are" in source  # the Flatten costs nothing
    one_op = cases["CONV_2D k1x1 s1 d1 same None 1->2"][2]["reference"]
    assert one_op.buffers == (0, 0) and "buf0" not in one_op.files["net.c"]


def test_files_have_the_shape_the_harness_reads(cases):
    """The header defines NET_INPUTS / NET_OUTPUTS and net_invoke; the kernels come along."""
    c = cases["CNN 12x10x2 strided conv-dw-pool-conv1x1-dense-dense-softmax"][2]["reference"]
    assert sorted(c.files) == ["net.c", "net.h"] and c.kernels == c_model.OPS_KERNELS
    assert sorted(c.all_files()) == ["net.c", "net.h", "tinyml_kernels.c", "tinyml_kernels.h",
                                     "tinyml_ops.c", "tinyml_ops.h"]
    assert (c.prefix, c.kind, c.n_inputs, c.n_outputs) == ("net", "int8", 240, 3)
    header = c.files["net.h"]
    assert "#define NET_INPUTS 240" in header and "#define NET_OUTPUTS 3" in header
    assert "void net_invoke(const int8_t *input, int8_t *output);" in header
    assert "TINYML_CONST" in c.files["net.c"] and c.constant_bytes > 0


def test_refuses_what_it_cannot_write(cases, tf):
    """A float graph, a non-graph, a graph that is not a chain, a bad prefix: clear errors."""
    index = INDEX[CASE_NAMES[0]]
    float_tflite = test_ops.models(test_ops.CASES[index], index, tf)["float32"]
    with pytest.raises(ValueError, match="full-int8 graphs only; this one is float32"):
        graph_c.generate(graph.read(float_tflite))
    tflite, g, *_ = cases["CNN 8x8x1 conv-pool-dw-pool-dense-softmax"]
    with pytest.raises(TypeError, match="graph.Graph"):
        graph_c.generate(tflite)
    shuffled = graph.Graph(g.tensors, g.ops[1:] + g.ops[:1], g.inputs, g.outputs, g.tflite)
    with pytest.raises(ValueError, match="only chains of operators"):
        graph_c.generate(shuffled)
    for prefix in ("Net", "int", "9net", "tinyml_net", "harness", "platform_uno"):
        with pytest.raises(ValueError, match="prefix"):
            graph_c.generate(g, prefix)


# ---- the two kernel sets ---------------------------------------------------------------------

def test_fast_files_call_the_fast_kernels(cases):
    """The fast C of the 8x8 CNN calls the fast kernels (and the reference softmax), ships
    tinyml_ops_fast.c/.h with the others, and adds one window buffer: 36 B for
    the 3x3 depthwise over 4 channels, the largest window copied (the 3x3 VALID convolution's
    is 9 B). The reference C is what graph_c.generate writes by default."""
    _, g, codes, _, _ = cases["CNN 8x8x1 conv-pool-dw-pool-dense-softmax"]
    fast, reference = codes["fast"], codes["reference"]
    assert fast.kernels == c_model.FAST_OPS_KERNELS
    assert sorted(fast.all_files()) == sorted(
        ["net.c", "net.h", "tinyml_kernels.c", "tinyml_kernels.h", "tinyml_ops.c",
         "tinyml_ops.h", "tinyml_ops_fast.c", "tinyml_ops_fast.h"])
    source = fast.files["net.c"]
    assert '#include "tinyml_ops_fast.h"' in source
    for kernel in ("tinyml_conv_2d_fast(", "tinyml_depthwise_conv_2d_fast(",
                   "tinyml_fully_connected_fast(", "tinyml_max_pool_2d_fast(",
                   "tinyml_average_pool_2d_fast(", "tinyml_softmax("):
        assert kernel in source
    for kernel in ("tinyml_conv_2d(", "tinyml_max_pool_2d(", "tinyml_fully_connected("):
        assert kernel not in source
    assert "op0_folded_bias" in source and "op0_bias" not in source
    assert (fast.scratch, reference.scratch) == (36, 0)
    assert "static int8_t scratch[36];" in source
    assert fast.activation_bytes == reference.activation_bytes + 36 == 216
    assert fast.files["net.h"] == reference.files["net.h"]
    assert graph_c.generate(g, "net").files == reference.files


def test_fast_reads_in_place_without_scratch(cases):
    """A 1x1 convolution reads each input pixel where it lies: no window buffer, NULL."""
    c = cases["CONV_2D k1x1 s1 d1 same None 1->2"][2]["fast"]
    assert c.scratch == 0 and "scratch" not in c.files["net.c"]
    assert "tinyml_conv_2d_fast(&op0_params, input, op0_filter, op0_folded_bias, NULL, " \
        "output);" in c.files["net.c"]


def test_folded_bias_wraps_like_int32():
    """bias + input_offset * (the sum of a channel's weights), wrapped to int32 as the
    kernels' sums wrap; no bias is a bias of 0."""
    w = np.array([[127, 127, 127], [-128, -128, -128]], dtype=np.int8)
    bias = np.array([2**31 - 100, -(2**31) + 5], dtype=np.int32)
    folded = graph_c._folded(w, bias, 128, (1,))
    exact = bias.astype(np.int64) + 128 * w.astype(np.int64).sum(axis=1)
    assert folded.dtype == np.int32
    assert ((folded.astype(np.int64) - exact) % 2**32 == 0).all()
    assert folded.tolist() == [-(2**31) + 48668, 2**31 - 49147]
    assert graph_c._folded(w, None, -3, (1,)).tolist() == [-1143, 1152]


BAD_KERNELS = ("Fast", "cmsis", "", None, 1, ("fast",))


@pytest.mark.parametrize("bad", BAD_KERNELS, ids=repr)
def test_kernels_must_name_a_kernel_set(cases, bad):
    """Any other value of kernels is a ValueError that names the two choices."""
    _, g, *_ = cases["CNN 8x8x1 conv-pool-dw-pool-dense-softmax"]
    for write in (graph_c.generate, export.plain_c_files):
        with pytest.raises(ValueError, match="kernels must be one of 'reference', 'fast'"):
            write(g, "net", bad)


def test_plain_c_files_chooses_the_kernels(cases, wide):
    """plain_c_files: "fast" (the default) keeps the Dense kernels for a Dense chain (the same
    files as before) and sends a CNN to graph_c's fast kernels; "reference" sends every int8
    graph to graph_c's reference kernels, and refuses what is not a full-int8 graph."""
    _, g, codes, _, _ = cases["CNN 8x8x1 conv-pool-dw-pool-dense-softmax"]
    assert export.plain_c_files(g, "net").files == codes["fast"].files
    assert export.plain_c_files(g, "net", "reference").files == codes["reference"].files
    _, float_tflite, int8_tflite = wide
    chain = graph.read(int8_tflite)
    fast = export.plain_c_files(chain, "net")
    assert fast.kernels == c_model.DENSE_KERNELS
    assert fast.files == export.plain_c_files(dense.int8_layers(chain), "net").files
    assert export.plain_c_files(chain, "net", "fast").files == fast.files
    reference = export.plain_c_files(chain, "net", "reference")
    assert reference.kernels == c_model.OPS_KERNELS
    assert reference.files == graph_c.generate(chain, "net").files
    for model, what in ((dense.int8_layers(chain), "an Int8Model"),
                        (dense.float_layers_from_tflite(float_tflite), "a list"),
                        (float_tflite, "float32")):
        with pytest.raises(ValueError, match=f"kernels='reference'.*{what}"):
            export.plain_c_files(model, "net", "reference")


@pytest.mark.skipif(bool(firmware.missing_tools("host")), reason="host gcc not installed")
def test_dense_chain_over_both_kernel_sets_equals_tflm(wide, tmp_path):
    """A Dense chain written over the reference kernels (and over graph_c's fast ones) gives
    TFLM's codes, like the Dense kernels it takes by default."""
    int8_tflite = wide[2]
    chain = graph.read(int8_tflite)
    rows = np.random.default_rng(5).integers(-128, 128, size=(64, 3)).astype(np.int8)
    expected = tflm.run(int8_tflite, rows).reshape(len(rows), -1)
    for c in (export.plain_c_files(chain, "net", "reference"), export.plain_c_files(chain, "net"),
              graph_c.generate(chain, "net", "fast")):
        got = firmware.run("host", firmware.build("host", c, rows,
                                                  build_dir=tmp_path / "-".join(c.kernels)))
        assert np.array_equal(got.outputs, expected), c.kernels


def test_c_model_knows_the_kernel_sets():
    """A CModel's kernels are one of the three sets of hand-written files."""
    files = {"m.h": "", "m.c": ""}
    for kernels in c_model.KERNEL_SETS:
        assert c_model.CModel("m", "int8", 1, 1, files, kernels, 0, 0).kernels == kernels
    with pytest.raises(ValueError, match="kernels must be one of"):
        c_model.CModel("m", "int8", 1, 1, files, ("tinyml_ops_fast.c",), 0, 0)
