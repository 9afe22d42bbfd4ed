"""Tests for tinyml_helpers.deploy.esp_nn on CNNs: TFLM as the ESP32's Arduino core builds it,
with ESP-NN's version of every kernel the model runs (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D,
FULLY_CONNECTED, SOFTMAX from ``kernels/esp_nn/``; esp-nn's generic optimizations, what a
classic ESP32 runs), from the vendored esp-tflite-micro 1.3.3 (esp-nn 1.1.0) and 1.4.0 (esp-nn
1.1.2), on this PC and on the Cortex-M4F (QEMU).

Models: lesson 08's digits CNN (three epochs of training) converted with the converter's
default, per-channel Dense, and with ``per_channel=False`` (what the ESP32 TFLM sketch runs),
over the 360 test digits; test_ops's two whole CNNs over random rows. Measured (host and M4
alike): every reference build and 1.4.0 + ESP-NN print the TFLM runtime's codes on every row;
1.3.3 + ESP-NN prints one output for every input with each model whose Dense layers are
per channel, and is right with the per-tensor digits model. Swapping one kernel at a time pins
it on FULLY_CONNECTED: 1.3.3's kernels/esp_nn/fully_connected.cc calls
``esp_nn_fully_connected_s8`` with the per-tensor ``data.output_multiplier`` / ``output_shift``,
which ``CalculateOpDataFullyConnected`` leaves unset for a per-channel layer (it fills only the
per-channel arrays). ESP-NN's CONV_2D and DEPTHWISE_CONV_2D always use the per-channel arrays,
so per-channel convolutions are right in 1.3.3 too.

The first run builds eight TFLM libraries per target into build/tflm, plus the kernel-by-kernel
libraries on this PC. The libraries share their objects through the cache (each source is
compiled once per target, tree and flags), so a new library compiles only its own kernels; later
runs take everything from the cache.
"""

import numpy as np
import pytest
import test_ops

from tinyml_helpers import digits
from tinyml_helpers.deploy import esp_nn, graph, litert, tflm_build
from tinyml_helpers.tooling import paths

VENDOR = paths.esp_vendor()  # ../shared/vendor, built into build/tflm
PER_CHANNEL, PER_TENSOR = "digits per-channel", "digits per-tensor"
ESP_NN_KERNELS = ("conv", "depthwise_conv", "fully_connected", "pooling", "softmax")

if esp_nn.unavailable("host", VENDOR):
    pytest.skip(esp_nn.unavailable("host", VENDOR), allow_module_level=True)


def _needs(target: str):
    reason = esp_nn.unavailable(target, VENDOR)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def data():
    return digits.load(0)


@pytest.fixture(scope="module")
def cnns(tf, data) -> dict[str, bytes]:
    """The digits CNN per channel and per tensor, and test_ops's two whole CNNs (int8)."""
    model = digits.cnn(seed=0)
    digits.train(model, data, epochs=3)
    out = {PER_CHANNEL: litert.convert(model, "int8", data.x_train),
           PER_TENSOR: litert.convert(model, "int8", data.x_train, per_channel=False)}
    for index, case in enumerate(test_ops.CASES):
        if case.op == "CNN":
            out[f"test_ops {case.params.split()[0]}"] = test_ops.models(case, index, tf)["int8"]
    assert len(out) == 4
    return out


@pytest.fixture(scope="module")
def inputs(cnns, data) -> dict[str, np.ndarray]:
    codes = digits.input_codes(graph.read(cnns[PER_CHANNEL]), data.x_test)
    return {PER_CHANNEL: codes, PER_TENSOR: codes}


def _per_channel_dense(tflite: bytes) -> bool:
    g = graph.read(tflite)
    return any(g.tensors[op.inputs[1]].quantization.per_channel for op in g.ops
               if op.kind == "FULLY_CONNECTED")


@pytest.fixture(scope="module")
def tables(cnns, inputs, tmp_path_factory) -> dict:
    out = {}
    for target in tflm_build.TARGETS:
        if esp_nn.unavailable(target, VENDOR) is None:
            rows = esp_nn.kernel_table(cnns, tmp_path_factory.mktemp(f"cnn-{target}"), target,
                                       esp_nn.CNN_BUILDS, VENDOR, inputs, esp_nn.CNN_ARENA)
            out[target] = esp_nn.table_record(rows, target)
    return out


def test_the_swap_takes_every_esp_nn_kernel_the_model_runs(cnns):
    for tflite in cnns.values():
        kernels = tflm_build.kernels_for(tflm_build.model_ops(tflite))
        swap = esp_nn.swap_for(tflite, "1.1.2", VENDOR)
        assert swap.kernels == tuple(k for k in kernels if k in ESP_NN_KERNELS)
        assert "reshape" in kernels and "reshape" not in swap.kernels
        for old, new in swap.replace:
            assert new == old.replace("/kernels/", "/kernels/esp_nn/")
        assert "-DESP_NN=1" in swap.cxx_flags and "-DCONFIG_NN_OPTIMIZED=1" in swap.cxx_flags
        assert swap.int8_registrations == ()  # ESP-NN's kernels have no int8-only versions
    both = esp_nn.swap_for(tuple(cnns.values()), "1.1.0", VENDOR, optimized=False)
    assert both.kernels == ESP_NN_KERNELS and "-DCONFIG_NN_OPTIMIZED=1" not in both.cxx_flags
    assert "ANSI C" in both.label and "esp-nn 1.1.0" in both.label
    # what the ESP32's esp_nn.h maps each function to without S3/P4 assembly: the _opt
    # convolutions and softmax need their sources, as the _ansi kernels do
    names = {p.name for p in both.c_sources}
    assert {"esp_nn_conv_opt.c", "esp_nn_depthwise_conv_opt.c", "esp_nn_softmax_opt.c",
            "esp_nn_max_pool_ansi.c", "esp_nn_fully_connected_ansi.c"} <= names
    assert not any("esp32" in n for n in names)
    # the sine builds' FULLY_CONNECTED-only swap is unchanged (its stored results stand)
    fc = esp_nn.swap("1.1.2", VENDOR)
    assert fc.kernels == ("fully_connected",) and fc.label == "ESP-NN (esp-nn 1.1.2)"
    assert "-DCONFIG_NN_OPTIMIZED=1" not in fc.cxx_flags


@pytest.mark.parametrize("version", list(esp_nn.PAIRS))
def test_the_glue_kernels_are_those_of_the_vendored_trees(version):
    src = esp_nn.tflm_source(version, VENDOR)
    found = tuple(sorted(p.stem for p in (src.root / esp_nn.GLUE_DIR).glob("*.cc")))
    assert found == esp_nn.GLUE_KERNELS


def test_bad_kernel_names_and_builds_are_refused(cnns):
    with pytest.raises(TypeError, match="tuple of TFLM kernel names"):
        esp_nn.swap_kernels("conv", "1.1.2", VENDOR)
    with pytest.raises(ValueError, match="not TFLM kernel names"):
        esp_nn.swap_kernels(("Conv2D",), "1.1.2", VENDOR)
    with pytest.raises(ValueError, match="unknown TFLM kernel"):
        esp_nn.swap_kernels(("conv", "convolution"), "1.1.2", VENDOR)
    with pytest.raises(ValueError, match="none of reshape has an ESP-NN kernel"):
        esp_nn.swap_kernels(("reshape",), "1.1.2", VENDOR)
    with pytest.raises(TypeError, match="optimized must be"):
        esp_nn.swap_kernels(("conv",), "1.1.2", VENDOR, optimized="yes")
    with pytest.raises(ValueError, match="every_kernel needs esp_nn=True"):
        esp_nn.Build("1.4.0", False, True)
    with pytest.raises(ValueError, match="unknown esp-tflite-micro version"):
        esp_nn.Build("1.3.4", True)
    with pytest.raises(ValueError, match="needs the models"):
        esp_nn.CNN_BUILDS[-1].parts(VENDOR)
    with pytest.raises(ValueError, match="inputs for unknown model"):
        esp_nn.kernel_table(cnns, "unused", inputs={"nope": np.zeros((1, 64), np.int8)},
                            vendor=VENDOR)


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_only_1_3_3_with_esp_nn_gets_the_per_channel_dense_cnns_wrong(tables, cnns, target):
    _needs(target)
    record = tables[target]
    print(f"\n{record['target']}:\n{esp_nn.table_markdown(record)}")
    cases = record["cases"]
    assert cases[PER_CHANNEL] == 360 and cases["test_ops 8x8x1"] == 66
    rows = {(r["tflm"], r["kernel"].split(" ")[0]): r for r in record["rows"]}
    assert sorted(rows) == [("1.3.3", "ESP-NN,"), ("1.3.3", "reference"),
                            ("1.4.0", "ESP-NN,"), ("1.4.0", "reference")]
    for (version, kernel), row in rows.items():
        for name, tflite in cnns.items():
            if (version, kernel) == ("1.3.3", "ESP-NN,") and _per_channel_dense(tflite):
                # the bug: a Dense layer requantized with a multiplier and shift never set
                assert row["equal"][name] <= 2 and row["distinct"][name] <= 2, name
            else:
                assert row["equal"][name] == cases[name], (version, kernel, name)
    assert not _per_channel_dense(cnns[PER_TENSOR])
    assert all(_per_channel_dense(t) for n, t in cnns.items() if n != PER_TENSOR)


def test_one_kernel_at_a_time_the_1_3_3_failure_is_fully_connected(cnns, inputs, tmp_path):
    # on this PC only: one library per kernel (five), the per-channel models
    models = {n: t for n, t in cnns.items() if n != PER_TENSOR}
    blame = esp_nn.kernel_by_kernel(models, "1.3.3", tmp_path, "host", VENDOR,
                                    {PER_CHANNEL: inputs[PER_CHANNEL]})
    assert sorted(blame) == list(ESP_NN_KERNELS)
    cases = {n: len(inputs[n]) if n in inputs else 66 for n in models}
    for kernel, equal in blame.items():
        if kernel == "fully_connected":
            assert all(equal[n] <= 2 for n in models), equal
        else:
            assert equal == cases, kernel


def test_esp_nn_s_ansi_c_kernels_compute_the_cnns_right_in_1_4_0(cnns, inputs, tmp_path):
    # menuconfig's "ANSI C" choice: the _ansi convolutions and softmax instead of the _opt ones
    build = esp_nn.Build("1.4.0", True, True, optimized=False)
    assert build.kernel == "ESP-NN, every kernel (esp-nn 1.1.2, ANSI C)"
    (row,) = esp_nn.kernel_table(cnns, tmp_path, "host", (build,), VENDOR, inputs,
                                 esp_nn.CNN_ARENA)
    assert row.equal == row.cases


def test_the_table_record_and_markdown_keep_the_sine_format():
    build = esp_nn.BUILDS[1]
    row = esp_nn.Row(build, {"a": 256}, {"a": 200}, {"a": 256})
    record = esp_nn.table_record([row], "host")
    assert record["cases"] == 256 and "every_kernel" not in record["rows"][0]
    assert "| FULLY_CONNECTED kernel |" in esp_nn.table_markdown(record)
    every = esp_nn.Row(esp_nn.CNN_BUILDS[1], {"a": 3, "b": 66}, {"a": 1, "b": 9},
                       {"a": 360, "b": 66})
    record = esp_nn.table_record([every], "host")
    assert record["cases"] == {"a": 360, "b": 66} and record["rows"][0]["every_kernel"]
    text = esp_nn.table_markdown(record)
    assert "| kernels |" in text and "**3/360** (one output for every input)" in text
    assert "66/66" in text and "**66/66**" not in text
