"""Bad inputs to every public function of the deploy core get a clear error from the package.

Each case names the exception type *and* a fragment of its message: a ValueError, TypeError or
FileNotFoundError that says which argument is wrong and how, never an error from deep inside
NumPy, struct, flatbuffers or a runtime, and never a silently wrong result. The class sweeps
at the end feed damaged .tflite files (every truncation, byte flips, structural damage made
with the schema) through every function that takes one; TFLM cases run in a child process,
so even a crash of the runtime would be caught as a failure instead of killing the tests.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from c_array import read_c_array

from tinyml_helpers import fan_detector, sine_projects
from tinyml_helpers.deploy import (
    cgen,
    dense,
    env,
    export,
    files,
    firmware,
    litert,
    quant,
    tflite_file,
    tflm,
    toolchains,
    wokwi,
)
from tinyml_helpers.deploy import (
    projects as deploy_projects,
)

# --- the models: a tiny 1-4-1 network, float and full-int8 ------------------------------------


def _mutate(data: bytes, change) -> bytes:
    """Return ``data`` unpacked with the schema, changed by ``change(model)``, packed again."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    change(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def m(tf, tmp_path_factory):
    """Everything the cases need: models, layers, generated C, a scratch folder."""
    tf.keras.utils.set_random_seed(0)
    keras = tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    rep = np.linspace(0, 2 * np.pi, 64, dtype=np.float32).reshape(-1, 1)
    # per-tensor Dense: the kind the TFLM projects accept (sine_projects.load_models)
    f, q = litert.convert(keras, "float32"), litert.convert(keras, "int8", rep, per_channel=False)
    nan_keras = tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                     tf.keras.layers.Dense(2, name="bad_layer")])
    nan_keras.layers[0].set_weights([np.full((1, 2), np.nan, np.float32), np.zeros(2)])
    tanh_keras = tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                      tf.keras.layers.Dense(2, activation="tanh")])
    tmp = tmp_path_factory.mktemp("bad_input")
    layers, int8 = dense.float_layers_from_tflite(f), dense.int8_layers(q)
    (tmp / "a_file.txt").write_text("x")
    (tmp / "fake.elf").write_bytes(b"\x7fELF")
    (tmp / "latin1.json").write_bytes(b'{"author": "\xe9"}')
    return SimpleNamespace(
        keras=keras, f=f, q=q, trunc=q[:len(q) // 2], nan_keras=nan_keras,
        tanh_keras=tanh_keras, layers=layers, int8=int8, tmp=tmp,
        int8_files=export.plain_c_files(int8, "m8"),
        models=sine_projects.load_models(f, q, 2000),
        x=np.linspace(0, 6, 5, dtype=np.float32)[:, None],
        codes=np.arange(-2, 3, dtype=np.int8)[:, None])


def _nan_layers(m):
    w = m.layers[0].weights.copy()
    w[0, 0] = np.nan
    return [replace(m.layers[0], weights=w), *m.layers[1:]]


def _wide_int8(m):
    lay = m.int8.layers[0]
    return replace(m.int8, layers=[replace(lay, weights=np.full(lay.weights.shape, 300)),
                                   *m.int8.layers[1:]])


def _project(**change):
    fields = {"tree": "arduino", "folder": "p", "files": {"d.c": "int d;"}}
    fields.update(change)
    return deploy_projects.Project(**fields)


NAN, INF = float("nan"), float("inf")

# (id, call(m), exception type, message fragment)
CASES = [
    # cgen: identifiers, file names, literals ------------------------------------------------
    ("cgen-id-keyword-int", lambda m: cgen.identifier("int"), ValueError, "keyword"),
    ("cgen-id-keyword-class", lambda m: cgen.identifier("class"), ValueError, "keyword"),
    ("cgen-id-non-ascii", lambda m: cgen.identifier("modèle"), ValueError, "ASCII C identifier"),
    ("cgen-id-space", lambda m: cgen.identifier("a b"), ValueError, "ASCII C identifier"),
    ("cgen-id-newline", lambda m: cgen.identifier("a\nint x"), ValueError, "ASCII C identifier"),
    ("cgen-id-reserved", lambda m: cgen.identifier("__x"), ValueError, "reserved"),
    ("cgen-id-not-str", lambda m: cgen.identifier(5), TypeError, "must be a str"),
    ("cgen-file-parent", lambda m: cgen.file_name("../escape.h"), ValueError, "plain ASCII"),
    ("cgen-file-absolute", lambda m: cgen.file_name("/etc/x.h"), ValueError, "plain ASCII"),
    ("cgen-file-folder", lambda m: cgen.file_name("a/b.h"), ValueError, "without folders"),
    ("cgen-file-suffix", lambda m: cgen.file_name("m.c", suffixes=(".h",)), ValueError,
     "must end with .h"),
    ("cgen-int-bool", lambda m: cgen.int_literal(True), TypeError, "expected an integer"),
    ("cgen-int-float", lambda m: cgen.int_literal(1.5), TypeError, "expected an integer"),
    ("cgen-float-nan", lambda m: cgen.float_literal(NAN), ValueError, "not finite"),
    ("cgen-float-overflow", lambda m: cgen.float_literal(1e39), ValueError, "float32"),
    ("cgen-float-str", lambda m: cgen.float_literal("1"), TypeError, "expected a real number"),
    ("cgen-init-empty", lambda m: cgen.initializer([]), ValueError, "at least one value"),
    ("cgen-init-per-line", lambda m: cgen.initializer([1], per_line=0), ValueError, "per_line"),
    ("cgen-banner-newline", lambda m: cgen.banner("x\n#include <y>"), ValueError, "one line"),
    ("cgen-banner-style", lambda m: cgen.banner("x", style="/*"), ValueError, "banner style"),
    ("cgen-banner-type", lambda m: cgen.banner(3), TypeError, "must be a str"),
    ("cgen-guard-parent", lambda m: cgen.include_guard("../x.h"), ValueError, "plain ASCII"),
    ("cgen-render-missing", lambda m: cgen.render(m.tmp / "none.c"), FileNotFoundError,
     "no template"),
    # export --------------------------------------------------------------------------------
    ("export-header-injection", lambda m: export.c_array_files(
        m.q, header="model.h\nint x = 1; //"), ValueError, "plain ASCII file name"),
    ("export-header-escape", lambda m: export.c_array_files(m.q, header="../escape.h"),
     ValueError, "without folders"),
    ("export-header-suffix", lambda m: export.c_array_files(m.q, header="model.c"),
     ValueError, "must end with .h"),
    ("export-name-keyword", lambda m: export.c_array_files(m.q, name="int"), ValueError,
     "keyword"),
    ("export-name-injection", lambda m: export.c_array_files(m.q, name="g[1]; int y"),
     ValueError, "C identifier"),
    ("export-name-non-ascii", lambda m: export.c_array_files(m.q, name="g_modèle"),
     ValueError, "ASCII"),
    ("export-arena-injection", lambda m: export.c_array_files(
        m.q, arena_size="1;\nint y = 2"), TypeError, "arena_size must be an int"),
    ("export-arena-bool", lambda m: export.c_array_files(m.q, arena_size=True), TypeError,
     "arena_size must be an int"),
    ("export-arena-float", lambda m: export.c_array_files(m.q, arena_size=1.5), TypeError,
     "arena_size must be an int"),
    ("export-arena-zero", lambda m: export.c_array_files(m.q, arena_size=0), ValueError,
     "arena_size must be in"),
    ("export-arena-negative", lambda m: export.c_array_files(m.q, arena_size=-5), ValueError,
     "arena_size must be in"),
    ("export-tflite-str", lambda m: export.c_array_files("model.tflite"), TypeError,
     "as bytes"),
    ("export-tflite-empty", lambda m: export.c_array_files(b""), ValueError, "TFL3"),
    ("export-tflite-truncated", lambda m: export.c_array_files(m.trunc), ValueError,
     "corrupt"),
    ("export-prefix-keyword", lambda m: export.plain_c_files(m.layers, "class"), ValueError,
     "keyword"),
    ("export-prefix-upper", lambda m: export.plain_c_files(m.layers, "Model"), ValueError,
     "lower-case"),
    ("export-prefix-non-ascii", lambda m: export.plain_c_files(m.layers, "modèle"),
     ValueError, "ASCII"),
    ("export-plain-nan", lambda m: export.plain_c_files(_nan_layers(m)), ValueError,
     "layer 1: its weights contain NaN"),
    ("export-plain-no-chain", lambda m: export.plain_c_files([m.layers[0], m.layers[0]]),
     ValueError, "do not chain"),
    ("export-plain-str", lambda m: export.plain_c_files("model"), TypeError, "Int8Model"),
    ("export-plain-empty", lambda m: export.plain_c_files([]), TypeError, "Int8Model"),
    ("export-plain-int8-range", lambda m: export.plain_c_files(_wide_int8(m)), ValueError,
     "-128..127"),
    ("export-plain-1d-weights", lambda m: export.plain_c_files(
        [replace(m.layers[0], weights=np.zeros(4, np.float32))]), ValueError, "2-D"),
    ("export-plain-mixed", lambda m: export.plain_c_files(
        replace(m.int8, layers=m.layers)), TypeError, "not a Int8Dense"),
    ("export-kernels-str", lambda m: export.kernel_files("tinyml_kernels.h"), TypeError,
     "names must be"),
    ("export-kernels-escape", lambda m: export.kernel_files(["../x.c"]), ValueError,
     "plain ASCII"),
    ("export-kernels-missing", lambda m: export.kernel_files(["nope.c"]), FileNotFoundError,
     "no hand-written C file"),
    ("export-kernels-folder", lambda m: export.kernel_files(folder=m.tmp / "none"),
     FileNotFoundError, "does not exist"),
    # dense ---------------------------------------------------------------------------------
    ("dense-keras-str", lambda m: dense.float_layers("model"), TypeError,
     "expected a Keras model"),
    ("dense-keras-nan", lambda m: dense.float_layers(m.nan_keras), ValueError, "bad_layer"),
    ("dense-keras-tanh", lambda m: dense.float_layers(m.tanh_keras), ValueError,
     "relu or linear"),
    ("dense-tflite-str", lambda m: dense.layers_from_tflite("m.tflite"), TypeError,
     "as bytes"),
    ("dense-tflite-truncated", lambda m: dense.layers_from_tflite(m.trunc), ValueError,
     "corrupt"),
    ("dense-int8-of-float", lambda m: dense.int8_layers(m.f), ValueError, "not int8"),
    ("dense-float-of-int8", lambda m: dense.float_layers_from_tflite(m.q), ValueError,
     "not float32"),
    ("dense-ref-not-model", lambda m: dense.int8_reference(m.layers, m.codes), TypeError,
     "Int8Model"),
    ("dense-ref-code-range", lambda m: dense.int8_reference(m.int8, [[300]]), ValueError,
     "[-128, 127]"),
    ("dense-ref-floats", lambda m: dense.int8_reference(m.int8, m.x), TypeError, "int8 codes"),
    ("dense-ref-shape", lambda m: dense.int8_reference(m.int8, np.zeros((3, 2), np.int8)),
     ValueError, "shape (n, 1)"),
    ("dense-ref-empty", lambda m: dense.int8_reference(m.int8, np.zeros((0, 1), np.int8)),
     ValueError, "empty"),
    ("dense-ref-str", lambda m: dense.int8_reference(m.int8, "12"), TypeError, "numbers"),
    ("dense-float-ref-nan", lambda m: dense.float_reference(m.layers, [[NAN]]), ValueError,
     "NaN"),
    ("dense-float-ref-not-layers", lambda m: dense.float_reference("x", m.x), TypeError,
     "FloatDense"),
    ("dense-float-ref-shape", lambda m: dense.float_reference(m.layers, np.zeros((2, 3))),
     ValueError, "shape (n, 1)"),
    ("dense-float-ref-nan-layer", lambda m: dense.float_reference(_nan_layers(m), m.x),
     ValueError, "layer 1"),
    ("dense-codes-zero", lambda m: dense.all_int8_codes(0), ValueError, "n_inputs must be >="),
    ("dense-codes-float", lambda m: dense.all_int8_codes(1.5), TypeError, "n_inputs"),
    ("dense-codes-bool", lambda m: dense.all_int8_codes(True), TypeError, "n_inputs"),
    ("dense-codes-negative-extra", lambda m: dense.all_int8_codes(1, -1), ValueError,
     "extra_random"),
    ("dense-pairs-empty", lambda m: dense.from_pairs([]), TypeError, "non-empty list"),
    ("dense-pairs-nan", lambda m: dense.from_pairs([(np.full((1, 2), NAN), np.zeros(2))]),
     ValueError, "pairs[0] W contains NaN"),
    ("dense-pairs-chain", lambda m: dense.from_pairs(
        [(np.zeros((1, 2)), np.zeros(2)), (np.zeros((3, 1)), np.zeros(1))]), ValueError,
     "do not chain"),
    ("dense-data-bytes", lambda m: dense.data_bytes("model"), TypeError, "Int8Model"),
    ("dense-dequantize-float", lambda m: m.int8.dequantize(1.5), TypeError, "int8 codes"),
    ("dense-dequantize-range", lambda m: m.int8.dequantize([200]), ValueError, "[-128, 127]"),
    ("dense-quantize-nan", lambda m: m.int8.quantize([NAN]), ValueError, "NaN"),
    # quant ---------------------------------------------------------------------------------
    ("quant-scale-zero", lambda m: quant.quantize([1.0], 0, 0), ValueError, "scale must be > 0"),
    ("quant-x-nan", lambda m: quant.quantize([NAN], 0.1, 0), ValueError, "x contains NaN"),
    ("quant-x-inf", lambda m: quant.quantize([INF], 0.1, 0), ValueError, "x contains NaN"),
    ("quant-zp-range", lambda m: quant.quantize([1.0], 0.1, 200, signed=True), ValueError,
     "zero_point must be an integer in"),
    ("quant-zp-fraction", lambda m: quant.quantize([1.0], 0.1, 0.5), ValueError,
     "zero_point must be an integer"),
    ("quant-bits-range", lambda m: quant.quantize([1.0], 0.1, 0, bits=1), ValueError,
     "bits must be in"),
    ("quant-bits-float", lambda m: quant.quantize([1.0], 0.1, 0, bits=8.0), TypeError,
     "bits must be an int"),
    ("quant-bits-bool", lambda m: quant.quantize([1.0], 0.1, 0, bits=True), TypeError,
     "bits must be an int"),
    ("quant-x-str", lambda m: quant.quantize("1.0", 0.1, 0), TypeError, "x must be real"),
    ("quant-scale-shape", lambda m: quant.quantize([1.0, 2.0, 3.0], [0.1, 0.2], 0),
     ValueError, "does not fit"),
    ("quant-signed-str", lambda m: quant.quantize([1.0], 0.1, 0, signed="yes"), TypeError,
     "signed must be True or False"),
    ("quant-dequantize-float", lambda m: quant.dequantize([1.5], 0.1, 0), TypeError,
     "integer codes"),
    ("quant-dequantize-scale", lambda m: quant.dequantize([1], -0.1, 0), ValueError,
     "scale must be > 0"),
    ("quant-affine-order", lambda m: quant.affine_params(2.0, 1.0), ValueError,
     "xmin must be <= xmax"),
    ("quant-affine-inf", lambda m: quant.affine_params(0.0, INF), ValueError, "NaN or inf"),
    ("quant-affine-symmetric-unsigned", lambda m: quant.affine_params(
        0.0, 1.0, symmetric=True, signed=False), ValueError, "needs signed"),
    ("quant-multiplier-nan", lambda m: quant.quantize_multiplier(NAN), ValueError, "finite"),
    ("quant-multiplier-negative", lambda m: quant.quantize_multiplier(-1.0), ValueError,
     ">= 0"),
    ("quant-multiplier-str", lambda m: quant.quantize_multiplier("0.5"), TypeError,
     "must be a number"),
    ("quant-multiplier-huge", lambda m: quant.quantize_multiplier(1e12), ValueError,
     "too large"),
    ("quant-requantize-float", lambda m: quant.requantize([1.5], 1 << 30, 0), TypeError,
     "acc must be integers"),
    ("quant-requantize-multiplier", lambda m: quant.requantize([1], 1 << 31, 0), ValueError,
     "multiplier"),
    ("quant-requantize-shift", lambda m: quant.requantize([1], 1 << 30, 40), ValueError,
     "shift must lie"),
    ("quant-round-str", lambda m: quant.round_half_away("x"), TypeError, "real numbers"),
    # tflite_file ---------------------------------------------------------------------------
    ("tflite-none", lambda m: tflite_file.read(None), TypeError, "as bytes"),
    ("tflite-str", lambda m: tflite_file.read("model"), TypeError, "as bytes"),
    ("tflite-root", lambda m: tflite_file.read(b"\xff\xff\x00\x00TFL3"), ValueError,
     "root table offset"),
    ("tflite-names-truncated", lambda m: tflite_file.op_names(m.trunc), ValueError, "corrupt"),
    ("tflite-count-bytes-type", lambda m: tflite_file.tensor_count(123), TypeError,
     "as bytes"),
    # litert --------------------------------------------------------------------------------
    ("litert-mode", lambda m: litert.convert(m.keras, "int4"), ValueError, "unknown mode"),
    ("litert-mode-list", lambda m: litert.convert(m.keras, ["int8"]), ValueError,
     "unknown mode"),
    ("litert-model-str", lambda m: litert.convert("model"), TypeError, "Keras model"),
    ("litert-rep-missing", lambda m: litert.convert(m.keras, "int8"), ValueError,
     "representative data"),
    ("litert-rep-shape", lambda m: litert.convert(m.keras, "int8", np.zeros((5, 3))),
     ValueError, "shape (n, 1)"),
    ("litert-rep-str", lambda m: litert.convert(m.keras, "int8", [["a"]]), TypeError,
     "real numbers"),
    ("litert-rep-nan", lambda m: litert.convert(m.keras, "int8", [[NAN]]), ValueError, "NaN"),
    ("litert-predict-nan", lambda m: litert.predict(m.f, [[NAN]]), ValueError, "NaN"),
    ("litert-predict-str", lambda m: litert.predict(m.f, "1.0"), TypeError, "numbers"),
    ("litert-predict-bool", lambda m: litert.predict(m.f, [[True]]), TypeError, "real numbers"),
    ("litert-predict-shape", lambda m: litert.predict(m.f, np.zeros((3, 2))), ValueError,
     "shape (n, 1)"),
    ("litert-predict-empty", lambda m: litert.predict(m.f, np.zeros((0, 1))), ValueError,
     "empty"),
    ("litert-predict-overflow", lambda m: litert.predict(m.f, [[1e300]]), ValueError,
     "too large for float32"),
    ("litert-predict-model-str", lambda m: litert.predict("m.tflite", m.x), TypeError,
     "as bytes"),
    ("litert-codes-float", lambda m: litert.predict_int8_codes(m.q, m.x), TypeError, "int8"),
    ("litert-codes-float-model", lambda m: litert.predict_int8_codes(m.f, m.codes),
     ValueError, "int8 input and output"),
    ("litert-codes-shape", lambda m: litert.predict_int8_codes(m.q, np.zeros((2, 3), np.int8)),
     ValueError, "shape (n, 1)"),
    ("litert-interpreter-junk", lambda m: litert.interpreter(b"junk"), ValueError, "TFL3"),
    ("litert-summary-int", lambda m: litert.tensor_summary(123), TypeError, "as bytes"),
    ("litert-weights-truncated", lambda m: litert.weight_bytes(m.trunc), ValueError, "corrupt"),
    ("litert-dtypes-truncated", lambda m: litert.dtypes(m.trunc), ValueError, "corrupt"),
    ("litert-ioq-truncated", lambda m: litert.io_quantization(m.trunc), ValueError, "corrupt"),
    ("litert-save-no-folder", lambda m: litert.save(m.q, m.tmp / "none" / "m.tflite"),
     FileNotFoundError, "does not exist"),
    ("litert-save-folder", lambda m: litert.save(m.q, m.tmp), ValueError, "is a folder"),
    ("litert-save-path-int", lambda m: litert.save(m.q, 5), TypeError, "path"),
    ("litert-save-truncated", lambda m: litert.save(m.trunc, m.tmp / "t.tflite"), ValueError,
     "corrupt"),
    # tflm ----------------------------------------------------------------------------------
    ("tflm-code-300", lambda m: tflm.run(m.q, np.array([[300]])), ValueError,
     "[-128, 127]"),
    ("tflm-code-floats", lambda m: tflm.run(m.q, m.x), TypeError, "codes"),
    ("tflm-code-shape", lambda m: tflm.run(m.q, np.zeros((3, 2), np.int8)), ValueError,
     "shape (n, 1)"),
    ("tflm-code-empty", lambda m: tflm.run(m.q, np.zeros((0, 1), np.int8)), ValueError,
     "empty"),
    ("tflm-code-bool", lambda m: tflm.run(m.q, [[True]]), TypeError, "real numbers"),
    ("tflm-code-str", lambda m: tflm.run(m.q, [["1"]]), TypeError, "real numbers"),
    ("tflm-float-nan", lambda m: tflm.run(m.f, [[NAN]]), ValueError, "NaN"),
    ("tflm-float-inf", lambda m: tflm.run(m.f, [[INF]]), ValueError, "NaN or inf"),
    ("tflm-model-str", lambda m: tflm.run("m.tflite", m.codes), TypeError, "as bytes"),
    ("tflm-model-truncated", lambda m: tflm.run(m.trunc, m.codes), ValueError, "corrupt"),
    ("tflm-arena-zero", lambda m: tflm.interpreter(m.q, arena_size=0), ValueError,
     "arena_size must be in"),
    ("tflm-arena-str", lambda m: tflm.interpreter(m.q, arena_size="1"), TypeError,
     "arena_size must be an int"),
    ("tflm-arena-too-small", lambda m: tflm.interpreter(m.q, arena_size=16), ValueError,
     "cannot run the .tflite with a 16-byte arena"),
    ("tflm-upper-zero", lambda m: tflm.arena_size(m.q, upper=0), ValueError, "upper"),
    ("tflm-upper-tiny", lambda m: tflm.arena_size(m.q, upper=8), ValueError,
     "does not run even"),
    ("tflm-runs-negative", lambda m: tflm.runs_with_arena(m.q, -1), ValueError, "size"),
    ("tflm-runs-float", lambda m: tflm.runs_with_arena(m.q, 1.5), TypeError, "size"),
    ("tflm-arena-truncated", lambda m: tflm.arena_size(m.trunc), ValueError, "corrupt"),
    # files ---------------------------------------------------------------------------------
    ("files-no-folder", lambda m: files.write_atomic(m.tmp / "none" / "x", "a"),
     FileNotFoundError, "does not exist"),
    ("files-content-int", lambda m: files.write_atomic(m.tmp / "x", 5), TypeError, "content"),
    ("files-path-int", lambda m: files.write_atomic(5, "a"), TypeError, "path"),
    ("files-path-folder", lambda m: files.write_atomic(m.tmp, "a"), ValueError, "is a folder"),
    ("files-set-escape", lambda m: files.write_files(m.tmp, {"../x.h": "a"}), ValueError,
     "plain ASCII"),
    ("files-set-empty", lambda m: files.write_files(m.tmp, {}), TypeError, "non-empty"),
    ("files-set-content", lambda m: files.write_files(m.tmp, {"a.h": 1}), TypeError,
     "content of a.h"),
    ("files-set-into-file", lambda m: files.write_files(m.tmp / "a_file.txt", {"a": "x"}),
     ValueError, "is a file"),
    ("files-set-dir-none", lambda m: files.write_files(None, {"a": "x"}), TypeError,
     "directory"),
    # firmware ------------------------------------------------------------------------------
    ("fw-target-unknown", lambda m: firmware.get_target("esp32"), ValueError, "unknown target"),
    ("fw-target-list", lambda m: firmware.get_target(["uno"]), ValueError, "unknown target"),
    ("fw-build-files-empty", lambda m: firmware.build("host", {}, m.codes), TypeError,
     "CModel"),
    ("fw-build-inputs-str", lambda m: firmware.build("host", m.int8_files, [["a"]]), TypeError,
     "real numbers"),
    ("fw-build-code-range", lambda m: firmware.build("host", m.int8_files, [[300]]), ValueError,
     "[-128, 127]"),
    ("fw-build-floats", lambda m: firmware.build("host", m.int8_files, m.x), TypeError,
     "int8 codes"),
    ("fw-build-empty", lambda m: firmware.build("host", m.int8_files, np.zeros((0, 1), int)),
     ValueError, "shape (cases, 1)"),
    ("fw-build-kind", lambda m: firmware.build("host", m.int8_files, m.codes, "double"),
     ValueError, "kind must be one of"),
    ("fw-build-prefix-harness", lambda m: export.plain_c_files(m.int8, "harness_empty"),
     ValueError, "belong to the course's kernels and firmware harness"),
    ("fw-build-prefix-kernels", lambda m: export.plain_c_files(m.int8, "tinyml_ops"),
     ValueError, "starts with 'tinyml'"),
    ("fw-build-file-escape", lambda m: m.int8_files.with_files({"../m8.h": "x"}), ValueError,
     "plain ASCII"),
    ("fw-build-harness-file", lambda m: firmware.build(
        "host", m.int8_files.with_files({"harness.c": "x"}), m.codes), ValueError,
     "harness's own files"),
    ("fw-build-uno-flash", lambda m: firmware.check_fits(
        "uno", m.int8_files, np.zeros((40_000, 1), np.int8)), ValueError,
     "32,256 B of flash of the Arduino Uno"),
    ("fw-build-baseline-str", lambda m: firmware.build("host", m.int8_files, m.codes,
                                                        baseline="yes"), TypeError, "baseline"),
    ("fw-run-missing", lambda m: firmware.run("host", m.tmp / "none.elf"), FileNotFoundError,
     "no firmware"),
    ("fw-run-timeout-zero", lambda m: firmware.run("host", m.tmp / "fake.elf", 0), ValueError,
     "timeout_s must be > 0"),
    ("fw-run-timeout-nan", lambda m: firmware.run("host", m.tmp / "fake.elf", NAN),
     ValueError, "timeout_s"),
    ("fw-run-timeout-str", lambda m: firmware.run("host", m.tmp / "fake.elf", "5"), TypeError,
     "timeout_s"),
    ("fw-run-target", lambda m: firmware.run("pc", m.tmp / "fake.elf"), ValueError,
     "unknown target"),
    ("fw-parse-str", lambda m: firmware.parse_output("BEGIN int8 1 1 1 none"), TypeError,
     "lines"),
    ("fw-parse-empty", lambda m: firmware.parse_output(["hello"]), firmware.FirmwareError,
     "no BEGIN"),
    ("fw-measure-timeout", lambda m: firmware.measure("host", m.int8_files, m.codes,
                                                       timeout_s=-1), ValueError, "timeout_s"),
    ("fw-sizes-missing", lambda m: firmware.sizes("host", m.tmp / "none.elf"),
     FileNotFoundError, "no firmware"),
    ("fw-callgrind-invoke", lambda m: firmware.host_instructions(m.tmp / "fake.elf",
                                                                  "x; rm -rf"), ValueError,
     "C identifier"),
    # toolchains ----------------------------------------------------------------------------
    ("tc-have-empty", lambda m: toolchains.have(""), ValueError, "non-empty executable"),
    ("tc-have-int", lambda m: toolchains.have(5), ValueError, "non-empty executable"),
    ("tc-install-str", lambda m: toolchains.install_command("gcc-avr"), TypeError,
     "list or tuple"),
    ("tc-install-bad-name", lambda m: toolchains.install_command(["gcc; rm"]), ValueError,
     "package names"),
    ("tc-compile-missing", lambda m: toolchains.compile_uno(m.tmp / "none", m.tmp / "b"),
     FileNotFoundError, "does not exist"),
    ("tc-compile-int", lambda m: toolchains.compile_uno(5, m.tmp), TypeError, "sketch_dir"),
    ("tc-define-injection", lambda m: toolchains.compile_uno(
        _sketch(m), m.tmp / "b", {"X": "1 -DEVIL"}), ValueError, "without spaces"),
    ("tc-define-name", lambda m: toolchains.compile_uno(_sketch(m), m.tmp / "b", {"a b": 1}),
     ValueError, "C identifier"),
    ("tc-run-command-str", lambda m: toolchains.run_program("ls", 5), TypeError, "command"),
    ("tc-run-timeout", lambda m: toolchains.run_program(["true"], 0), ValueError, "timeout_s"),
    ("tc-run-uno-missing", lambda m: toolchains.run_uno(m.tmp / "none.elf"),
     FileNotFoundError, "no firmware"),
    ("tc-sizes-missing", lambda m: toolchains.read_sizes(m.tmp / "none.elf"),
     FileNotFoundError, "no firmware"),
    ("tc-sizes-tool", lambda m: toolchains.read_sizes(m.tmp / "fake.elf", "rm"), ValueError,
     "size_tool"),
    # projects ------------------------------------------------------------------------------
    ("proj-swapped", lambda m: sine_projects.load_models(m.q, m.q, 100), TypeError,
     "float_tflite is an int8 model"),
    ("proj-two-float", lambda m: sine_projects.load_models(m.f, m.f, 100), TypeError,
     "int8_tflite is a float model"),
    ("proj-arena-zero", lambda m: sine_projects.load_models(m.f, m.q, 0), ValueError,
     "arena_size must be"),
    ("proj-arena-str", lambda m: sine_projects.load_models(m.f, m.q, "100"), TypeError,
     "arena_size must be"),
    ("proj-arena-bool", lambda m: sine_projects.load_models(m.f, m.q, True), TypeError,
     "arena_size"),
    ("proj-truncated", lambda m: sine_projects.load_models(m.f, m.trunc, 100), ValueError,
     "corrupt"),
    ("proj-str-model", lambda m: sine_projects.load_models("f.tflite", m.q, 100), TypeError,
     "as bytes"),
    ("proj-same-folder", lambda m: sine_projects.generate(m.f, m.q, m.tmp / "p", m.tmp / "p", 100),
     ValueError, "a folder of its own"),
    ("proj-nested-folder", lambda m: sine_projects.generate(m.f, m.q, m.tmp / "p",
                                                            m.tmp / "p" / "w", 100),
     ValueError, "lies inside"),
    ("proj-compile-str", lambda m: sine_projects.generate(m.f, m.q, m.tmp / "a", m.tmp / "w", 100,
                                                          compile_uno="no"), TypeError,
     "compile_uno"),
    ("proj-dir-int", lambda m: sine_projects.generate(m.f, m.q, 5, m.tmp / "w", 100), TypeError,
     "arduino folder must be a path"),
    ("proj-dir-file", lambda m: sine_projects.generate(m.f, m.q, m.tmp / "a_file.txt",
                                                       m.tmp / "w", 100), ValueError, "is a file"),
    ("proj-fan-str", lambda m: sine_projects.generate(m.f, m.q, m.tmp / "a", m.tmp / "w", 100,
                                                      fan="fan"), TypeError,
     "fan_detector.projects"),
    ("proj-sketch-x-zero", lambda m: sine_projects.sketch_x(0), ValueError, "steps must be in"),
    ("proj-sketch-x-float", lambda m: sine_projects.sketch_x(2.5), TypeError,
     "steps must be an int"),
    ("proj-predictions-nan", lambda m: sine_projects.int8_predictions(m.int8, [NAN]), ValueError,
     "NaN"),
    ("proj-predictions-model", lambda m: sine_projects.int8_predictions(m.layers, [1.0]), TypeError,
     "Int8Model"),
    ("proj-expected-lines", lambda m: sine_projects.expected_output(m.models, 0), ValueError,
     "lines must be in"),
    ("proj-file-escape", lambda m: _project(files={"../d.c": ""}), ValueError, "plain ASCII"),
    ("proj-files-type", lambda m: _project(files="d.c"), TypeError, "files must be"),
    ("proj-file-content", lambda m: _project(files={"m.tflite": 5}), TypeError,
     "str or bytes"),
    ("proj-tree", lambda m: _project(tree="garden"), ValueError, "tree must be one of"),
    ("proj-uno-arduino", lambda m: _project(uno_firmware=True), ValueError,
     "only a Wokwi project"),
    ("proj-facts", lambda m: _project(facts={"N": 5}), TypeError, "facts must map"),
    ("proj-write-twice", lambda m: deploy_projects.write(
        [_project(), _project()], {"arduino": m.tmp / "twice"}, {"arduino": ""}), ValueError,
     "two projects share a folder"),
    ("proj-write-no-root", lambda m: deploy_projects.write(
        [_project(tree="wokwi")], {"arduino": m.tmp / "tree"}, {"arduino": ""}), ValueError,
     "have no folder in roots"),
    ("proj-fan-projects", lambda m: fan_detector.projects("fan"), TypeError,
     "fan_detector.Detector"),
    ("proj-render-escape", lambda m: sine_projects.render("../README.md"), ValueError,
     "plain ASCII"),
    # wokwi ---------------------------------------------------------------------------------
    ("wokwi-part-type", lambda m: wokwi.part("wokwi-lcd", "x"), ValueError,
     "unknown part type"),
    ("wokwi-part-type-list", lambda m: wokwi.part(["wokwi-led"], "x"), ValueError,
     "unknown part type"),
    ("wokwi-part-id", lambda m: wokwi.part("wokwi-led", "a:b"), ValueError, "part id"),
    ("wokwi-part-top-nan", lambda m: wokwi.part("wokwi-led", "led", top=NAN), TypeError,
     "finite number"),
    ("wokwi-part-top-str", lambda m: wokwi.part("wokwi-led", "led", top="1"), TypeError,
     "finite number"),
    ("wokwi-wire-endpoint", lambda m: wokwi.wire("led1", "r1:1"), ValueError, "part_id:pin"),
    ("wokwi-wire-path", lambda m: wokwi.wire("led1:A", "r1:1", path="h9"), ValueError,
     "path must be"),
    ("wokwi-wire-color", lambda m: wokwi.wire("led1:A", "r1:1", color=5), TypeError, "color"),
    ("wokwi-board", lambda m: wokwi.led_diagram("nano", "2"), ValueError, "board must be"),
    ("wokwi-pin-int", lambda m: wokwi.led_diagram("esp32", 2), TypeError, "led_pin"),
    ("wokwi-pin-unknown", lambda m: wokwi.led_diagram("esp32", "D99"), ValueError,
     "has no pin 'D99'"),
    ("wokwi-dumps-str", lambda m: wokwi.dumps("{}"), TypeError, "diagram dict"),
    ("wokwi-dumps-nan", lambda m: wokwi.dumps({"version": NAN}), ValueError, "JSON"),
    ("wokwi-missing-file", lambda m: wokwi.validate(m.tmp / "none.json"), FileNotFoundError,
     "cannot read"),
    ("wokwi-not-utf8", lambda m: wokwi.validate(m.tmp / "latin1.json"), ValueError,
     "not UTF-8"),
    ("wokwi-int", lambda m: wokwi.validate(42), TypeError, "diagram dict or a path"),
    ("wokwi-version-bool", lambda m: wokwi.validate(
        {**wokwi.led_diagram("uno", "11"), "version": True}), ValueError, "'version' must be 1"),
    ("wokwi-author-int", lambda m: wokwi.diagram([], [], author=5), TypeError, "author"),
    # ragged nested lists, everywhere arrays are taken ------------------------------------------
    ("ragged-tflm", lambda m: tflm.run(m.q, [[1], [1, 2]]), ValueError, "regular array"),
    ("ragged-litert", lambda m: litert.predict(m.f, [[1.0], [1.0, 2.0]]), ValueError,
     "regular array"),
    ("ragged-dense", lambda m: dense.int8_reference(m.int8, [[1], [1, 2]]), ValueError,
     "regular array"),
    ("ragged-firmware", lambda m: firmware.build("host", m.int8_files, [[1], [1, 2]]),
     ValueError, "regular array"),
    ("ragged-quant", lambda m: quant.quantize([[1.0], [1.0, 2.0]], 0.1, 0), ValueError,
     "regular array"),
    ("dense-ref-no-chain", lambda m: dense.int8_reference(
        replace(m.int8, layers=[m.int8.layers[0], m.int8.layers[0]]), m.codes), ValueError,
     "do not chain"),
    ("proj-arduino-models", lambda m: sine_projects.arduino_projects("models"), TypeError,
     "sine_projects.Models"),
    ("proj-wokwi-models", lambda m: sine_projects.wokwi_projects(None), TypeError,
     "sine_projects.Models"),
    ("fw-cases-kind", lambda m: firmware.cases_header("int4", np.zeros((1, 1)), 1, "m"),
     ValueError, "kind must be one of"),
    ("fw-cases-rows", lambda m: firmware.cases_header("int8", [1], 1, "m"), ValueError,
     "rows must be"),
    ("fw-run-not-executable", lambda m: firmware.run("host", m.tmp / "fake.elf"), ValueError,
     "cannot run"),
    ("tc-uart-bytes", lambda m: toolchains.uart_lines(b"x"), TypeError, "stderr"),
    # env -----------------------------------------------------------------------------------
    ("env-seed-negative", lambda m: env.setup(-1), ValueError, "seed must be"),
    ("env-seed-huge", lambda m: env.set_seed(2**40), ValueError, "below 2**32"),
    ("env-seed-str", lambda m: env.set_seed("1"), ValueError, "seed must be"),
    ("env-tensorflow-str", lambda m: env.setup(0, tensorflow="yes"), TypeError, "tensorflow"),
]


def _sketch(m) -> Path:
    folder = m.tmp / "sketch"
    folder.mkdir(exist_ok=True)
    (folder / "sketch.ino").write_text("void setup() {}\nvoid loop() {}\n")
    return folder


def test_the_table_is_large_and_its_ids_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) >= 110 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("call, error, fragment", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_gets_a_clear_error(m, call, error, fragment):
    with pytest.raises(error) as info:
        call(m)
    assert fragment in str(info.value), f"{type(info.value).__name__}: {info.value}"


def test_no_files_were_written_by_failed_calls(m):
    left = {p.name for p in m.tmp.iterdir()}
    assert not {"p", "a", "w", "t.tflite", "x"} & left, left


# --- class sweeps: damaged .tflite files through every function that takes one ----------------

def _takers(m):
    """{name: function of the model bytes} for every in-process function taking a .tflite."""
    return {
        "tflite_file.read": tflite_file.read,
        "tflite_file.op_names": tflite_file.op_names,
        "tflite_file.quantization_param_bytes": tflite_file.quantization_param_bytes,
        "litert.interpreter": litert.interpreter,
        "litert.predict": lambda t: litert.predict(t, m.x),
        "litert.predict_int8_codes": lambda t: litert.predict_int8_codes(t, m.codes),
        "litert.tensor_summary": litert.tensor_summary,
        "litert.weight_bytes": litert.weight_bytes,
        "litert.dtypes": litert.dtypes,
        "litert.io_quantization": litert.io_quantization,
        "litert.save": lambda t: litert.save(t, m.tmp / "sweep.tflite"),
        "dense.layers_from_tflite": dense.layers_from_tflite,
        "dense.int8_layers": dense.int8_layers,
        "dense.float_layers_from_tflite": dense.float_layers_from_tflite,
        "export.c_array_files": export.c_array_files,
        "export.plain_c_files(layers_from_tflite)": lambda t: export.plain_c_files(
            dense.layers_from_tflite(t)),
        "sine_projects.load_models(int8)": lambda t: sine_projects.load_models(m.f, t, 2000),
        "sine_projects.load_models(float)": lambda t: sine_projects.load_models(t, m.q, 2000),
    }


def _check_outcome(name: str, call, data: bytes, what: str) -> None:
    """Assert ``call(data)`` returns or raises ValueError/TypeError(plain-C refusal) only."""
    try:
        call(data)
    except ValueError:
        pass
    except TypeError as exc:  # a model that is valid but not made of Dense layers
        assert "FULLY_CONNECTED" in str(exc) or "int8 model" in str(exc) \
            or "float model" in str(exc), f"{name} on {what}: TypeError {exc}"
    except Exception as exc:  # noqa: BLE001 - anything else is the bug this test looks for
        pytest.fail(f"{name} on {what}: {type(exc).__name__}: {exc}")


def test_every_truncation_is_refused_by_read(m):
    for n in range(len(m.q)):
        with pytest.raises(ValueError, match="TFL3|corrupt|truncated"):
            tflite_file.read(m.q[:n])


@pytest.mark.parametrize("model", ["f", "q"])
def test_truncations_through_every_function(m, model):
    data = getattr(m, model)
    for n in range(0, len(data), 41):
        for call in _takers(m).values():
            with pytest.raises(ValueError, match="TFL3|corrupt|truncated"):
                call(data[:n])


def _flips(data: bytes, step: int):
    for i in range(0, len(data), step):
        for value in (0x00, 0xFF, 0x80):
            if data[i] != value:
                flipped = bytearray(data)
                flipped[i] = value
                yield f"byte {i} = 0x{value:02x}", bytes(flipped)


@pytest.mark.parametrize("model", ["f", "q"])
def test_byte_flips_through_every_function(m, model):
    data = getattr(m, model)
    for what, flipped in _flips(data, 5):
        try:
            tflite_file.read(flipped)
        except ValueError:
            continue  # refused up front: every function refuses it the same way
        for name, call in _takers(m).items():
            _check_outcome(name, call, flipped, what)


# Structural damage the checks must catch, made with the schema's object API.
def _set(path: str, value):
    def change(model):
        target = model
        *parts, last = path.split(".")
        if last.isdigit():
            parent = model
            for part in parts:
                parent = parent[int(part)] if part.isdigit() else getattr(parent, part)
            values = np.array(parent)  # the unpacked arrays are read-only views
            values[int(last)] = value
            return _set(".".join(parts), values)(model)
        for part in parts:
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        setattr(target, last, value)
    return change


_Q0 = "subgraphs.0.tensors.0.quantization."


def _i32(values) -> np.ndarray:
    return np.array(values, np.int32)


DAMAGE = [
    ("op-input-index", _set("subgraphs.0.operators.0.inputs.1", 99), "out of range"),
    ("op-output-index", _set("subgraphs.0.operators.0.outputs.0", -1), "out of range"),
    ("op-no-outputs", _set("subgraphs.0.operators.0.outputs", None), "no input or no output"),
    ("opcode-index", _set("subgraphs.0.operators.0.opcodeIndex", 7), "opcode index"),
    ("tensor-buffer", _set("subgraphs.0.tensors.1.buffer", 99), "buffer = 99"),
    ("tensor-negative-dim", _set("subgraphs.0.tensors.0.shape", _i32([-1, 1])),
     "negative dimension"),
    ("tensor-huge-shape", _set("subgraphs.0.tensors.0.shape", _i32([1 << 20, 1 << 20])),
     "bytes"),
    ("tensor-type", _set("subgraphs.0.tensors.0.type", 77), "unknown type code"),
    ("tensor-name", _set("subgraphs.0.tensors.0.name", b"\xff\xfe"), "not UTF-8"),
    ("output-shape", _set("subgraphs.0.tensors.4.shape", _i32([32513, 1])), "do not fit"),
    ("weights-bytes", lambda model: setattr(model.buffers[2], "data",
                                            model.buffers[2].data[:-1]), "stores"),
    ("scale-nan", _set(_Q0 + "scale", np.array([np.nan], np.float32)), "NaN or inf"),
    ("scale-negative", _set(_Q0 + "scale", np.array([-0.1], np.float32)), "negative"),
    ("zero-point-range", _set(_Q0 + "zeroPoint", np.array([300], np.int64)),
     "zero point outside"),
    ("zero-point-count", _set(_Q0 + "zeroPoint", np.array([0, 0], np.int64)), "zero points"),
    ("opcode-unknown", _set("operatorCodes.0.builtinCode", 5000), "unknown operator code"),
    ("opcode-wrong-options", lambda model: (_set("operatorCodes.0.builtinCode", 0)(model),
                                            _set("operatorCodes.0.deprecatedBuiltinCode",
                                                 0)(model)),
     "options of another operator"),
    ("no-subgraph", _set("subgraphs", []), "no subgraph"),
    ("no-graph-input", _set("subgraphs.0.inputs", np.array([], np.int32)), "no input"),
    ("graph-input-index", _set("subgraphs.0.inputs", np.array([42], np.int32)), "out of range"),
]


@pytest.mark.parametrize("change, fragment", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_structural_damage_is_refused_everywhere(m, change, fragment):
    damaged = _mutate(m.q, change)
    for name, call in _takers(m).items():
        with pytest.raises(ValueError) as info:
            call(damaged)
        assert fragment in str(info.value), f"{name}: {info.value}"


def test_generate_refuses_damaged_models_before_writing(m, tmp_path):
    damaged = [m.trunc, *(_mutate(m.q, change) for _, change, _ in DAMAGE[::4])]
    for data in damaged:
        for pair in ((m.f, data), (data, m.q)):
            with pytest.raises(ValueError, match="corrupt|TFL3|no input"):
                sine_projects.generate(*pair, tmp_path / "a", tmp_path / "w", 2000,
                                       compile_uno=False)
    assert list(tmp_path.iterdir()) == []


# --- TFLM in a child process: a crash of the runtime fails the test, not the session ---------

_CHILD = r"""
import json, sys
import numpy as np
from tinyml_helpers.deploy import tflm
cases = json.load(open(sys.argv[1]))
for label, hexdata, kind in cases:
    data = bytes.fromhex(hexdata)
    for name, call in (("run", lambda: tflm.run(data, np.zeros((2, 1), np.int8 if kind == "q"
                                                                   else np.float32))),
                       ("interpreter", lambda: tflm.interpreter(data))):
        try:
            call()
            outcome = "ok"
        except ValueError:
            outcome = "ValueError"
        except Exception as exc:
            outcome = f"BAD {type(exc).__name__}: {exc}"
        print(json.dumps([label, name, outcome]), flush=True)
print("END", flush=True)
"""


def test_damaged_models_under_tflm_in_a_child_process(m, tmp_path):
    cases = [(f"{kind} truncated to {n}", getattr(m, kind)[:n].hex(), kind)
             for kind in ("f", "q") for n in range(0, len(getattr(m, kind)), 97)]
    cases += [(f"q {label}", _mutate(m.q, change).hex(), "q")
              for label, change, _ in DAMAGE]
    flips = [(f"{kind} {what}", data) for kind in ("f", "q")
             for what, data in _flips(getattr(m, kind), 71)]
    cases += [(label, data.hex(), label[0]) for label, data in flips]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=300, check=False)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines and lines[-1] == "END", (
        f"the child died (code {done.returncode}) after {lines[-1:]}:\n{done.stderr[-2000:]}")
    results = [json.loads(line) for line in lines[:-1]]
    assert len(results) == 2 * len(cases)
    bad = [r for r in results if r[2] not in ("ok", "ValueError")]
    assert not bad, bad[:5]
    assert sum(r[2] == "ValueError" for r in results) > len(results) // 2


def test_tflm_run_refuses_what_it_used_to_wrap(m):
    # 300 used to become 44 silently; -129 would have become 127.
    for codes in ([[300]], [[-129]], np.array([[128]], np.int16)):
        with pytest.raises(ValueError, match=r"\[-128, 127\]"):
            tflm.run(m.q, codes)
    np.testing.assert_array_equal(tflm.run(m.q, m.codes), dense.int8_reference(m.int8, m.codes))
    # Any integer dtype holding valid codes is fine, and so is a 1-D column of codes.
    np.testing.assert_array_equal(tflm.run(m.q, m.codes[:, 0].astype(np.int64)),
                                  tflm.run(m.q, m.codes))


def test_firmware_cli_reports_a_corrupt_model(m, tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(m.q[: len(m.q) // 3])
    done = subprocess.run([sys.executable, "-m", "tinyml_helpers.deploy.firmware", "run", "host",
                           "--model", str(bad), "--build-dir", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (1, 2), done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr, done.stderr


# --- what must keep working -------------------------------------------------------------------

def test_use_bias_false_dense_exports(tf):
    model = tf.keras.Sequential([tf.keras.layers.Input((2,)),
                                 tf.keras.layers.Dense(3, use_bias=False, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    layers = dense.float_layers(model)
    assert np.all(layers[0].bias == 0) and layers[0].bias.shape == (3,)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(dense.float_reference(layers, x), model(x).numpy(), atol=1e-6)
    assert set(export.plain_c_files(layers, "nobias")) == {"nobias.h", "nobias.c"}


def test_writes_keep_the_umask_mode_and_are_atomic_as_a_set(tmp_path):
    import os
    mask = os.umask(0o022)
    os.umask(mask)
    path = files.write_atomic(tmp_path / "one.txt", "a")
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    files.write_files(tmp_path, {"a.h": "old a", "b.h": "old b"})
    with pytest.raises(TypeError):
        files.write_files(tmp_path, {"a.h": "new a", "b.h": 5})
    assert (tmp_path / "a.h").read_text() == "old a"
    for p in files.write_files(tmp_path, {"a.h": "new a", "b.h": b"new b"}):
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_generated_c_holds_only_checked_text(m):
    h = export.c_array_files(m.q, name="g_model", arena_size=2000)["model.h"]
    assert "constexpr int kTensorArenaSize = 2000;" in h
    c = export.plain_c_files(m.layers, "sine")["sine.c"]
    assert "nan" not in c.lower() and "inf" not in c.replace("inference", "").lower()
    assert math.isfinite(sum(read_c_array(export.c_array_files(m.q)["model.cpp"])))


# --- class sweep: every argument of the cheap public functions, replaced by junk -------------

JUNK = [None, "x", b"x", -1, 1.5, NAN, INF, True, [], {}, object(), np.zeros(0), "../x",
        np.array([[NAN]]), [[1], [1, 2]]]
ALLOWED = (ValueError, TypeError, FileNotFoundError, firmware.FirmwareError)


def _scratch(tmp_path: Path) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def _signatures(m):
    """(function, valid keyword arguments) of the public functions cheap enough to sweep."""
    out = m.tmp / "sweep"
    out.mkdir(exist_ok=True)
    return [
        (cgen.identifier, {"name": "g_model"}), (cgen.file_name, {"name": "a.h"}),
        (cgen.float_literal, {"value": 1.0}), (cgen.int_literal, {"value": 1}),
        (cgen.initializer, {"values": [1, 2]}), (cgen.banner, {"name": "a.h"}),
        (cgen.include_guard, {"header": "a.h"}),
        (export.c_array_files, {"tflite": m.q, "name": "g", "arena_size": 100,
                                "header": "m.h"}),
        (export.plain_c_files, {"model": m.int8, "prefix": "p"}),
        (export.kernel_files, {}),
        (dense.layers_from_tflite, {"tflite": m.q}), (dense.int8_layers, {"tflite": m.q}),
        (dense.float_layers_from_tflite, {"tflite": m.f}),
        (dense.int8_reference, {"model": m.int8, "codes": m.codes}),
        (dense.float_reference, {"layers": m.layers, "x": m.x}),
        (dense.all_int8_codes, {"n_inputs": 1, "extra_random": 2}),
        (dense.from_pairs, {"pairs": [(np.ones((1, 2)), np.ones(2))]}),
        (dense.data_bytes, {"model": m.int8}),
        (quant.quantize, {"x": [1.0], "scale": 0.1, "zero_point": 0, "bits": 8,
                          "signed": True}),
        (quant.dequantize, {"q": [1], "scale": 0.1, "zero_point": 0}),
        (quant.affine_params, {"xmin": 0.0, "xmax": 1.0, "bits": 8}),
        (quant.quantize_multiplier, {"real": 0.5}),
        (quant.requantize, {"acc": [5], "multiplier": 1 << 30, "shift": 0}),
        (quant.round_half_away, {"x": [0.5]}), (quant.qrange, {"bits": 8, "signed": True}),
        (tflite_file.read, {"tflite": m.q}), (tflite_file.op_names, {"tflite": m.q}),
        (litert.predict, {"tflite_bytes": m.f, "x": m.x}),
        (litert.predict_int8_codes, {"tflite_bytes": m.q, "codes": m.codes}),
        (litert.tensor_summary, {"tflite_bytes": m.q}),
        (litert.save, {"tflite_bytes": m.q, "path": out / "m.tflite"}),
        (tflm.run, {"tflite": m.q, "inputs": m.codes}),
        (tflm.interpreter, {"tflite": m.q, "arena_size": 4000}),
        (files.write_atomic, {"path": out / "a.txt", "content": "a"}),
        (files.write_files, {"directory": out, "files": {"b.txt": "b"}}),
        (firmware.get_target, {"name": "host"}),
        (firmware.parse_output, {"lines": ["x"]}),
        (firmware.run, {"target": "host", "elf": m.tmp / "fake.elf", "timeout_s": 5}),
        (firmware.cases_header, {"kind": "int8", "rows": np.zeros((1, 1), np.int8),
                                 "n_out": 1, "prefix": "p"}),
        (toolchains.have, {"tool": "sh"}), (toolchains.install_command, {"packages": ["gcc"]}),
        (toolchains.run_program, {"command": ["true"], "timeout_s": 5}),
        (toolchains.read_sizes, {"elf": m.tmp / "fake.elf", "size_tool": "size"}),
        (toolchains.uart_lines, {"stderr": "x"}),
        (sine_projects.load_models, {"float_tflite": m.f, "int8_tflite": m.q, "arena_size": 100}),
        (sine_projects.sketch_x, {"steps": 4}),
        (sine_projects.int8_predictions, {"model": m.int8, "x": [1.0]}),
        (sine_projects.expected_output, {"models": m.models, "lines": 2}),
        (sine_projects.render, {"template": "arduino_index.md"}),
        (deploy_projects.Project, {"tree": "arduino", "folder": "p", "files": {"a.c": "x"},
                                   "facts": {}, "uno_firmware": False}),
        (wokwi.part, {"type_": "wokwi-led", "id_": "l", "top": 0, "left": 0}),
        (wokwi.wire, {"start": "a:1", "end": "b:2", "color": "", "path": []}),
        (wokwi.led_diagram, {"board": "uno", "led_pin": "11", "author": ""}),
        (wokwi.dumps, {"doc": {"version": 1}}), (wokwi.problems, {"doc": {"version": 1}}),
        (env.set_seed, {"seed": 0}),
    ]


def test_junk_in_any_argument_gets_a_package_error(m, tmp_path, monkeypatch):
    """Each argument in turn is replaced by junk: the call returns or raises one of the
    package's error types, never an AttributeError, IndexError, OverflowError, ... ."""
    monkeypatch.chdir(_scratch(tmp_path))  # "x" and "../x" given as paths land in tmp_path
    failures = []
    for fn, kwargs in _signatures(m):
        for name in kwargs:
            for junk in JUNK:
                try:
                    fn(**{**kwargs, name: junk})
                except ALLOWED:
                    pass
                except Exception as exc:  # noqa: BLE001 - what this test looks for
                    failures.append(f"{fn.__module__}.{fn.__name__}({name}={junk!r:.30}): "
                                    f"{type(exc).__name__}: {exc}"[:200])
    assert not failures, "\n".join(failures[:20])
