"""Tests for tinyml_helpers.deploy.self_test: the boot self-test's cases (from the TFLM runtime),
the lines a board prints and how they are read back, the C header the sketches include, and bad
input refused with a clear message. The boards themselves run it in tests/test_projects.py,
tests/test_micropython.py and tests/test_fan_detector.py."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers.deploy import dense, export, self_test, tflm, toolchains

PLAIN = Path(__file__).resolve().parents[1] / "arduino" / "hello_world_plain"


@pytest.fixture(scope="module")
def sine_files() -> tuple[bytes, bytes]:
    """(float .tflite, int8 .tflite) of the committed sine sketch."""
    return (PLAIN / "sine_float.tflite").read_bytes(), (PLAIN / "sine_int8.tflite").read_bytes()


def _int8_test() -> self_test.SelfTest:
    inputs = np.array([[-128], [0], [127]], dtype=np.int8)
    return self_test.SelfTest(inputs, np.array([[4], [-7], [12]], dtype=np.int8))


# --- cases from the TFLM runtime ----------------------------------------------------------------

def test_from_tflm_spreads_int8_inputs_and_runs_tflm(sine_files):
    _, int8_tflite = sine_files
    test = self_test.from_tflm(int8_tflite)
    assert test.int8 and test.count == self_test.DEFAULT_CASES
    np.testing.assert_array_equal(test.inputs[:, 0], self_test.spread_inputs(1)[:, 0])
    assert test.inputs[0, 0] == -128 and test.inputs[-1, 0] == 127
    np.testing.assert_array_equal(test.outputs, tflm.run(int8_tflite, test.inputs))
    # the course's reference arithmetic (what the generated C computes) agrees exactly
    np.testing.assert_array_equal(test.outputs, dense.int8_reference(
        dense.int8_layers(int8_tflite), test.inputs))


def test_from_tflm_float_model_takes_explicit_x(sine_files):
    float_tflite, _ = sine_files
    with pytest.raises(ValueError, match="float model needs explicit inputs"):
        self_test.from_tflm(float_tflite)
    x = np.linspace(0, 6, 5, dtype=np.float32).reshape(-1, 1)
    test = self_test.from_tflm(float_tflite, inputs=x)
    assert not test.int8 and test.outputs.dtype == np.float32
    np.testing.assert_array_equal(test.inputs, x)
    np.testing.assert_allclose(test.outputs, dense.float_reference(
        dense.layers_from_tflite(float_tflite), x), atol=self_test.FLOAT_TOLERANCE)


def test_spread_inputs_are_the_same_on_every_computer():
    rows = self_test.spread_inputs(12, count=4)
    assert rows.shape == (4, 12) and rows.dtype == np.int8
    np.testing.assert_array_equal(rows, self_test.spread_inputs(12, count=4))
    assert not np.array_equal(rows, self_test.spread_inputs(12, count=4, seed=1))


@pytest.mark.parametrize("args, words", [
    ((0,), "n_inputs must be an int >= 1"), ((True,), "n_inputs must be an int"),
    ((2.5,), "n_inputs must be an int"), ((1, 0), "count must be an int in 1..256"),
    ((1, 257), "count must be an int in 1..256"), ((1, False), "count must be an int"),
])
def test_spread_inputs_refuse_bad_sizes(args, words):
    with pytest.raises(ValueError, match=words):
        self_test.spread_inputs(*args)


def test_self_test_refuses_bad_arrays():
    codes = np.zeros((2, 1), np.int8)
    with pytest.raises(ValueError, match="inputs must be a non-empty 2-D array"):
        self_test.SelfTest(np.zeros(2, np.int8), codes)
    with pytest.raises(ValueError, match="outputs must be a non-empty 2-D array"):
        self_test.SelfTest(codes, np.zeros((0, 1), np.int8))
    with pytest.raises(ValueError, match="inputs must be a non-empty 2-D array"):
        self_test.SelfTest([[1], [2]], codes)
    with pytest.raises(TypeError, match="int8 codes or float32 values, got float64"):
        self_test.SelfTest(codes.astype(np.float64), codes)
    with pytest.raises(TypeError, match="got int32"):
        self_test.SelfTest(codes, codes.astype(np.int32))
    with pytest.raises(ValueError, match="2 input rows but 3 output rows"):
        self_test.SelfTest(codes, np.zeros((3, 1), np.int8))


# --- the printed lines, and reading them back ----------------------------------------------------

def test_ok_line_round_trip():
    test = _int8_test()
    lines = self_test.check(test, test.outputs)
    assert lines == ["self-test: ok (3/3)"] == [test.ok_line()]
    result = self_test.parse(["banner", *lines, "x=0.000, y=0.074"])
    assert result == self_test.Result(True, 3, 3)


def test_int8_failure_round_trip_with_advice():
    test = _int8_test()
    got = test.outputs.copy()
    got[1, 0] = -41
    lines = self_test.check(test, got)
    assert lines == ["self-test: FAILED at case 2 of 3, output 0: got -41, expected -7"]
    advice = self_test.advice("C")
    assert advice.startswith(self_test.PREFIX) and "regenerate the project" in advice
    result = self_test.parse(["sketch: int8 model", *lines, advice, "x=0.000, y=0.074"])
    assert result == self_test.Result(False, 1, 3, 2, 0, "-41", "-7", (advice,))
    assert self_test.advice("Python") != advice and "the Python" in self_test.advice("Python")


def test_check_reports_the_first_difference_only():
    test = self_test.SelfTest(np.zeros((2, 3), np.int8), np.arange(6, dtype=np.int8).reshape(2, 3))
    got = test.outputs.copy()
    got[0, 2], got[1, 0] = 9, 9
    assert self_test.check(test, got) == [
        "self-test: FAILED at case 1 of 2, output 2: got 9, expected 2"]
    assert self_test.check(test, got.ravel())[0].startswith("self-test: FAILED at case 1")


def test_float_cases_compare_within_the_tolerance():
    test = self_test.SelfTest(np.float32([[0.0], [1.0]]), np.float32([[0.5], [-0.25]]))
    near = test.outputs + np.float32(self_test.FLOAT_TOLERANCE / 2)
    assert self_test.check(test, near) == ["self-test: ok (2/2)"]
    far = test.outputs.copy()
    far[1, 0] = -0.2
    lines = self_test.check(test, far)
    assert lines == ["self-test: FAILED at case 2 of 2, output 0: got -0.200000, expected "
                     "-0.250000"]
    assert self_test.parse(lines).got == "-0.200000"
    nan = test.outputs.copy()
    nan[0, 0] = np.nan  # a board printing nan must fail, not pass a <= comparison
    assert self_test.check(test, nan)[0].endswith("got nan, expected 0.500000")


def test_parse_finds_nothing_without_a_self_test_line():
    assert self_test.parse([]) is None
    assert self_test.parse(["x=0.000", "self-test: maybe", "done"]) is None


def test_check_refuses_outputs_of_another_shape():
    with pytest.raises(ValueError):
        self_test.check(_int8_test(), np.zeros((2, 1)))


# --- C -------------------------------------------------------------------------------------------

def test_c_header_refuses_bad_arguments():
    test = _int8_test()
    with pytest.raises(TypeError, match="non-empty dict"):
        self_test.c_header("t.h", {})
    with pytest.raises(TypeError, match="non-empty dict"):
        self_test.c_header("t.h", [test])
    with pytest.raises(TypeError, match=r"tests\['m'\] must be a SelfTest"):
        self_test.c_header("t.h", {"m": "cases"})
    with pytest.raises(ValueError, match="must end with .h"):
        self_test.c_header("t.c", {"m": test})
    with pytest.raises(ValueError, match="plain ASCII file name"):
        self_test.c_header("../t.h", {"m": test})
    with pytest.raises(ValueError, match="keyword"):
        self_test.c_header("t.h", {"int": test})
    with pytest.raises(ValueError, match="code must be 'C' or 'Python'"):
        self_test.advice("Rust")


def test_altered_weight_changes_an_output(sine_files):
    _, int8_tflite = sine_files
    model, test = dense.int8_layers(int8_tflite), self_test.from_tflm(int8_tflite)
    altered, (k, row, col) = self_test.altered_weight(model, test)
    changed = [(i, r, c) for i, (a, b) in enumerate(zip(model.layers, altered.layers, strict=True))
               for r, c in zip(*np.nonzero(a.weights != b.weights), strict=True)]
    assert changed == [(k, row, col)]
    assert self_test.check(test, dense.int8_reference(altered, test.inputs)) != [test.ok_line()]
    with pytest.raises(TypeError, match="Int8Model"):
        self_test.altered_weight(dense.layers_from_tflite(sine_files[0]), test)
    with pytest.raises(TypeError, match="int8 SelfTest"):
        self_test.altered_weight(model, "cases")


# Prints every array of the header, one value a line.
C_PROGRAM = """
#include <stdio.h>
#include "cases.h"
int main(void) {
  for (int i = 0; i < Q_SELF_TEST_CASES * Q_SELF_TEST_INPUTS; ++i)
    printf("%d\\n", TINYML_READ_I8(&q_self_test_inputs[i]));
  for (int i = 0; i < Q_SELF_TEST_CASES * Q_SELF_TEST_OUTPUTS; ++i)
    printf("%d\\n", TINYML_READ_I8(&q_self_test_outputs[i]));
  for (int i = 0; i < F_SELF_TEST_CASES * F_SELF_TEST_INPUTS; ++i)
    printf("%.9g\\n", TINYML_READ_F32(&f_self_test_inputs[i]));
  for (int i = 0; i < F_SELF_TEST_CASES * F_SELF_TEST_OUTPUTS; ++i)
    printf("%.9g\\n", TINYML_READ_F32(&f_self_test_outputs[i]));
  printf("%.9g\\n", F_SELF_TEST_TOLERANCE);
  return 0;
}
"""


@pytest.mark.skipif(not toolchains.have("gcc"), reason="gcc not installed")
def test_c_header_compiles_and_holds_the_cases(tmp_path):
    int8 = self_test.SelfTest(self_test.spread_inputs(3, count=4),
                              np.arange(-8, 8, dtype=np.int8).reshape(4, 4))
    floats = self_test.SelfTest(np.float32([[0.1], [2.5]]), np.float32([[1 / 3, -7e-8],
                                                                        [1e6, -0.0]]))
    header = self_test.c_header("cases.h", {"q": int8, "f": floats})
    assert header.splitlines()[0].startswith("// cases.h: generated by tinyml_helpers")
    for name, text in {"cases.h": header, "main.c": C_PROGRAM, **export.kernel_files()}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    exe = tmp_path / "cases"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
                    str(tmp_path / "main.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    ints = [int(v) for v in out[:28]]
    assert ints == [*int8.inputs.ravel().tolist(), *int8.outputs.ravel().tolist()]
    got = np.float32([float(v) for v in out[28:]])
    want = np.concatenate([floats.inputs.ravel(), floats.outputs.ravel(),
                           np.float32([self_test.FLOAT_TOLERANCE])])
    np.testing.assert_array_equal(got, want)
