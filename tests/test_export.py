"""Exported C against trusted references: compiled with the host gcc and run, its int8 outputs
must equal the TFLM runtime's for every input code, its float outputs LiteRT's within 1e-5."""

import shutil
import subprocess

import numpy as np
import pytest
from c_array import read_c_array

from tinyml_helpers.deploy import dense, export, litert, quant, tflm
from tinyml_helpers.deploy.files import write_files

FLOAT_TOLERANCE = 1e-5  # float C vs LiteRT: same sums, possibly in another order / with FMA

HARNESS = """
#include <stdio.h>
#include "{prefix}.h"
/* Reads {n_in} numbers per line from stdin, prints the {n_out} outputs per line. */
int main(void) {{
  {ctype} in[{N}_INPUTS], out[{N}_OUTPUTS];
  for (;;) {{
    for (int i = 0; i < {N}_INPUTS; ++i) {{
      {read}
    }}
    {prefix}_invoke(in, out);
    for (int o = 0; o < {N}_OUTPUTS; ++o) printf({fmt}, out[o]);
    printf("\\n");
  }}
}}
"""
READ_INT8 = "int v; if (scanf(\"%d\", &v) != 1) return 0; in[i] = (signed char)v;"
READ_FLOAT = "if (scanf(\"%a\", &in[i]) != 1) return 0;"

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


def compile_and_run(tmp_path, files, prefix, rows, int8):
    """Build the generated C with gcc -Werror, feed it ``rows``, return its outputs."""
    write_files(tmp_path, {**files, **export.kernel_files()})
    n_in, n_out = rows.shape[1], None
    harness = HARNESS.format(prefix=prefix, N=prefix.upper(), n_in=n_in, n_out="N",
                             ctype="int8_t" if int8 else "float",
                             read=READ_INT8 if int8 else READ_FLOAT,
                             fmt='"%d "' if int8 else '"%.9g "')
    (tmp_path / "main.c").write_text(harness)
    exe = tmp_path / "model"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    "main.c", f"{prefix}.c", "tinyml_kernels.c"], cwd=tmp_path, check=True,
                   capture_output=True)
    text = "\n".join(" ".join(str(int(v)) if int8 else float(v).hex() for v in row)
                     for row in rows) + "\n"
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    values = [line.split() for line in out.stdout.strip().splitlines()]
    del n_out
    return np.array(values, dtype=np.int64 if int8 else np.float64)




@needs_gcc
def test_int8_c_equals_tflm_for_every_input_code(case, tmp_path):
    name, (_, _, int8_tflite) = case
    layers = dense.int8_layers(int8_tflite)
    n_in = layers.layers[0].weights.shape[1]
    rows = dense.all_int8_codes(n_in, extra_random=0 if n_in == 1 else 2000)
    expected = tflm.run(int8_tflite, rows).astype(np.int64)
    got = compile_and_run(tmp_path, export.plain_c_files(layers, f"{name}_int8"),
                          f"{name}_int8", rows, int8=True)
    np.testing.assert_array_equal(got, expected)
    # The NumPy mirror of the kernel agrees too (it is what the lessons show).
    np.testing.assert_array_equal(dense.int8_reference(layers, rows), expected)


@needs_gcc
@pytest.mark.parametrize("source", ["keras", "tflite"])
def test_float_c_matches_litert(case, source, tmp_path):
    name, (model, float_tflite, _) = case
    layers = dense.float_layers(model) if source == "keras" else \
        dense.float_layers_from_tflite(float_tflite)
    n_in = layers[0].weights.shape[1]
    x = np.random.default_rng(2).uniform(-2, 2 * np.pi, size=(300, n_in)).astype(np.float32)
    expected = litert.predict(float_tflite, x)
    got = compile_and_run(tmp_path, export.plain_c_files(layers, f"{name}_float"),
                          f"{name}_float", x, int8=False)
    np.testing.assert_allclose(got, expected, atol=FLOAT_TOLERANCE, rtol=0)
    np.testing.assert_allclose(tflm.run(float_tflite, x), expected, atol=FLOAT_TOLERANCE)


def test_float_layers_from_keras_and_tflite_agree(sine):
    model, float_tflite, _ = sine
    a, b = dense.float_layers(model), dense.float_layers_from_tflite(float_tflite)
    for la, lb in zip(a, b, strict=True):
        np.testing.assert_array_equal(la.weights, lb.weights)
        np.testing.assert_array_equal(la.bias, lb.bias)
        assert la.relu == lb.relu


def test_regenerating_from_the_tflite_is_byte_identical(sine):
    _, float_tflite, int8_tflite = sine
    for tfl, prefix in ((float_tflite, "sine_float"), (int8_tflite, "sine_int8")):
        first = export.plain_c_files(dense.layers_from_tflite(tfl), prefix)
        again = export.plain_c_files(dense.layers_from_tflite(bytes(tfl)), prefix)
        assert first == again


def test_c_array_round_trips_and_carries_the_arena(sine):
    _, _, int8_tflite = sine
    files = export.c_array_files(int8_tflite, arena_size=2192)
    assert set(files) == {"model.h", "model.cpp"}
    assert read_c_array(files["model.cpp"]) == int8_tflite
    assert "alignas(16) const unsigned char g_model[]" in files["model.cpp"]
    assert f"const int g_model_len = {len(int8_tflite)};" in files["model.cpp"]
    assert "constexpr int kTensorArenaSize = 2192;" in files["model.h"]
    for text in files.values():
        assert text.startswith("// ") and "generated by" in text.splitlines()[0]


def test_int8_data_is_small(sine):
    _, _, int8_tflite = sine
    layers = dense.int8_layers(int8_tflite)
    # 288 int8 weights + 33 int32 biases + 33 int32 multipliers + 33 int8 shifts
    assert dense.data_bytes(layers) == 288 + 33 * 4 + 33 * 4 + 33
    assert dense.data_bytes(layers) < len(int8_tflite) / 3


def test_quantize_multiplier_by_hand():
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(0.25) == (1 << 30, -1)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    assert quant.quantize_multiplier(0.0) == (0, 0)
    m, s = quant.quantize_multiplier(0.0123)
    assert abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-11


def test_requantize_rounds_like_gemmlowp():
    # 2^30 is one half in Q31. The high multiply rounds ties upward (2.5 -> 3, -2.5 -> -2:
    # its nudge is 2^30 for positive products, 1 - 2^30 for negative ones) ...
    assert quant.requantize(5, 1 << 30, 0) == 3
    assert quant.requantize(-5, 1 << 30, 0) == -2
    # ... while the division by a power of two rounds ties away from zero.
    assert quant.requantize(100, 1 << 30, -2) == 13  # 50 / 4 = 12.5 -> 13
    assert quant.requantize(-100, 1 << 30, -2) == -13


def test_arena_size_is_the_smallest_that_runs(sine):
    _, _, int8_tflite = sine
    size = tflm.arena_size(int8_tflite)
    assert 1000 < size < 8192
    assert tflm.runs_with_arena(int8_tflite, size)
    assert not tflm.runs_with_arena(int8_tflite, size - 1)


# --- refusals ------------------------------------------------------------------------------

def test_unsupported_keras_layers_and_activations_are_refused(tf):
    conv = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), tf.keras.layers.Conv2D(2, 3)])
    with pytest.raises(TypeError, match="Dense layers only.*Conv2D"):
        dense.float_layers(conv)
    tanh = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(4, "tanh")])
    with pytest.raises(ValueError, match="relu or linear.*tanh"):
        dense.float_layers(tanh)
    with pytest.raises(TypeError, match="expected a Keras model"):
        dense.float_layers("model.h5")


def test_unsupported_tflite_ops_are_named(tf):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3),
                                 tf.keras.layers.Softmax()])
    with pytest.raises(TypeError, match="FULLY_CONNECTED ops only; found SOFTMAX"):
        dense.layers_from_tflite(litert.convert(model, "float32"))


def test_float_model_is_not_taken_for_int8(sine):
    _, float_tflite, _ = sine
    with pytest.raises(ValueError, match="not int8"):
        dense.int8_layers(float_tflite)


def test_bad_inputs_are_refused(sine):
    _, float_tflite, _ = sine
    with pytest.raises(ValueError, match="TFL3"):
        export.c_array_files(b"not a model at all")
    with pytest.raises(TypeError, match="as bytes"):
        export.c_array_files("model.tflite")
    with pytest.raises(ValueError, match="C identifier"):
        export.c_array_files(float_tflite, name="2model")
    with pytest.raises(ValueError, match="prefix"):
        export.plain_c_files(dense.float_layers_from_tflite(float_tflite), "Bad-Name")
    with pytest.raises(TypeError, match="Int8Model"):
        export.plain_c_files([1, 2, 3])
