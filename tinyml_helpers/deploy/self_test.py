"""Boot-time self-tests for generated sketches: a few model inputs and the outputs the
TensorFlow Lite Micro runtime computes for them, written into the sketch so that a board checks
its own arithmetic once at start.

A board can run other kernels than the ones the course tests (the ESP32's TFLite Micro runs
ESP-NN's), a student can edit a weight, a toolchain can miscompile. Every generated sketch
prints one line at boot, in the same words whatever the language:

    self-test: ok (8/8)
    self-test: FAILED at case 3 of 8, output 0: got -41, expected 12

and after a failure one line (also starting ``self-test:``) saying what to do. :func:`parse`
reads those lines back for the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from . import cgen, tflm
from .dense import Int8Model, int8_reference

DEFAULT_CASES = 8
# Most model inputs a self-test draws codes for: a 96×96 RGB image (27 648) fits, and the
# cases still fit in a board's flash.
MAX_INPUTS = 65_536
# float models: a board's float32 arithmetic differs from the PC's in the last bits (FMA
# contraction, libm); int8 models must match exactly.
FLOAT_TOLERANCE = 1e-4
PREFIX = "self-test:"
_LINE = re.compile(r"self-test: (?:ok \((\d+)/(\d+)\)|FAILED at case (\d+) of (\d+), output "
                   r"(\d+): got (\S+), expected (\S+))")


@dataclass(frozen=True)
class SelfTest:
    """Model inputs and the outputs TFLM gives for them (int8 codes, or float32 values)."""

    inputs: np.ndarray  # (cases, n_inputs)
    outputs: np.ndarray  # (cases, n_outputs)

    def __post_init__(self):
        for name in ("inputs", "outputs"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.ndim != 2 or not len(value):
                raise ValueError(f"{name} must be a non-empty 2-D array (cases, values)")
            if value.dtype not in (np.int8, np.float32):
                raise TypeError(f"{name} must be int8 codes or float32 values, got {value.dtype}")
        if len(self.inputs) != len(self.outputs):
            raise ValueError(f"{len(self.inputs)} input rows but {len(self.outputs)} output rows")

    @property
    def count(self) -> int:
        """Return the number of cases."""
        return len(self.inputs)

    @property
    def int8(self) -> bool:
        """Return True for an int8 model (outputs compared exactly)."""
        return self.outputs.dtype == np.int8

    def ok_line(self) -> str:
        """Return the line a board prints when every case matches."""
        return f"{PREFIX} ok ({self.count}/{self.count})"


def spread_inputs(n_inputs: int, count: int = DEFAULT_CASES, seed: int = 0) -> np.ndarray:
    """Return ``count`` int8 input rows: one input spread evenly over -128..127, several inputs
    drawn from a seeded generator (the same on every computer)."""
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)) or n_inputs < 1:
        raise ValueError(f"n_inputs must be an int >= 1, got {n_inputs!r}")
    if n_inputs > MAX_INPUTS:
        raise ValueError(f"n_inputs must be at most {MAX_INPUTS:,} (the self-test cases go "
                         f"into the board's flash), got {n_inputs:,}")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) \
            or not 1 <= count <= 256:
        raise ValueError(f"count must be an int in 1..256, got {count!r}")
    if n_inputs == 1:
        return np.round(np.linspace(-128, 127, count)).astype(np.int8).reshape(-1, 1)
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(count, n_inputs)).astype(np.int8)


def from_tflm(tflite: bytes, inputs=None, count: int = DEFAULT_CASES) -> SelfTest:
    """Return a :class:`SelfTest` of ``tflite``: ``inputs`` (int8 codes for an int8 model,
    floats for a float one; default :func:`spread_inputs` for an int8 model) and what the TFLM
    runtime computes for them."""
    if inputs is None:
        interp = tflm.interpreter(tflite)
        details = interp.get_input_details(0)
        if details["dtype"] != np.int8:
            raise ValueError("a float model needs explicit inputs (x values)")
        inputs = spread_inputs(int(np.prod(details["shape"])), count)
    outputs = tflm.run(tflite, inputs)
    rows = np.asarray(inputs).reshape(len(outputs), -1)
    dtype = np.int8 if outputs.dtype == np.int8 else np.float32
    return SelfTest(rows.astype(dtype), np.asarray(outputs).astype(dtype))


def check(test: SelfTest, got) -> list[str]:
    """Return the lines a board prints for ``got`` (its outputs, one row per case): the ok line,
    or the first mismatch (int8 exactly, float within :data:`FLOAT_TOLERANCE`)."""
    got = np.asarray(got).reshape(test.outputs.shape)
    for case in range(test.count):
        for out in range(test.outputs.shape[1]):
            a, b = got[case, out], test.outputs[case, out]
            bad = a != b if test.int8 else not abs(float(a) - float(b)) <= FLOAT_TOLERANCE
            if bad:
                fmt = (lambda v: str(int(v))) if test.int8 else (lambda v: f"{float(v):.6f}")
                return [f"{PREFIX} FAILED at case {case + 1} of {test.count}, output {out}: "
                        f"got {fmt(a)}, expected {fmt(b)}"]
    return [test.ok_line()]


@dataclass(frozen=True)
class Result:
    """A self-test line as printed by a board."""

    ok: bool
    passed: int  # cases that matched (all of them when ok; those before the failing one)
    cases: int
    failed_case: int | None = None  # 1-based
    output: int | None = None
    got: str | None = None
    expected: str | None = None
    advice: tuple[str, ...] = ()  # the lines after a failure


def parse(lines) -> Result | None:
    """Return the first self-test result in a board's output lines, or None if none."""
    lines = [str(line).strip() for line in lines]
    for at, line in enumerate(lines):
        match = _LINE.fullmatch(line)
        if not match:
            continue
        if match.group(1) is not None:
            passed, cases = int(match.group(1)), int(match.group(2))
            return Result(passed == cases, passed, cases)
        case, cases = int(match.group(3)), int(match.group(4))
        advice = tuple(rest for rest in lines[at + 1:] if rest.startswith(PREFIX))
        return Result(False, case - 1, cases, case, int(match.group(5)), match.group(6),
                      match.group(7), advice)
    return None


def c_arrays(test: SelfTest, prefix: str, qualifier: str = "") -> str:
    """Return C definitions of the cases: ``<PREFIX>_SELF_TEST_CASES``, ``_INPUTS``,
    ``_OUTPUTS`` (the sizes) and the arrays ``<prefix>_self_test_inputs`` / ``_outputs``.
    ``qualifier`` goes after ``const`` (e.g. ``TINYML_CONST`` to keep them in the Uno's flash)."""
    prefix = cgen.identifier(prefix, "prefix")
    up = prefix.upper()
    ctype, literal = ("int8_t", cgen.int_literal) if test.int8 else ("float", cgen.float_literal)
    qual = f" {qualifier}" if qualifier else ""
    n_in, n_out = test.inputs.shape[1], test.outputs.shape[1]
    lines = [f"/* Self-test: {test.count} inputs and the outputs TensorFlow Lite Micro computes "
             "for them. */",
             f"#define {up}_SELF_TEST_CASES {test.count}",
             f"#define {up}_SELF_TEST_INPUTS {n_in}",
             f"#define {up}_SELF_TEST_OUTPUTS {n_out}",
             f"static const {ctype}{qual} {prefix}_self_test_inputs[{test.count * n_in}] = "
             f"{cgen.initializer(test.inputs.ravel(), literal)};",
             f"static const {ctype}{qual} {prefix}_self_test_outputs[{test.count * n_out}] = "
             f"{cgen.initializer(test.outputs.ravel(), literal)};"]
    return "\n".join(lines) + "\n"


def advice(code: str = "C") -> str:
    """Return the line a board prints after a FAILED line; ``code`` names what the course
    generated ("C" for the sketches, "Python" for MicroPython)."""
    if code not in ("C", "Python"):
        raise ValueError(f"code must be 'C' or 'Python', got {code!r}")
    return (f"{PREFIX} this build computes the model differently from the {code} the course "
            "generated: regenerate the project or undo your edit to the weights")


def c_header(name: str, tests: dict[str, SelfTest]) -> str:
    """Return a generated C header ``name`` holding :func:`c_arrays` of each ``{prefix: test}``
    in flash (``TINYML_CONST`` of tinyml_kernels.h; read them with ``TINYML_READ_I8`` or
    ``TINYML_READ_F32``); a float test also gets ``<PREFIX>_SELF_TEST_TOLERANCE``."""
    name = cgen.file_name(name, "header name", (".h",))
    if not isinstance(tests, dict) or not tests:
        raise TypeError("tests must be a non-empty dict {prefix: SelfTest}")
    guard = cgen.include_guard(name)
    parts = [cgen.banner(name).rstrip("\n"), f"#ifndef {guard}", f"#define {guard}", "",
             "#include <stdint.h>", "",
             '#include "tinyml_kernels.h" /* TINYML_CONST: in flash on AVR boards too */']
    for prefix, test in tests.items():
        if not isinstance(test, SelfTest):
            raise TypeError(f"tests[{prefix!r}] must be a SelfTest, got {type(test).__name__}")
        parts += ["", c_arrays(test, prefix, "TINYML_CONST").rstrip("\n")]
        if not test.int8:
            # repr: the short decimal (0.0001), not the float32 it rounds to
            parts.append(f"#define {prefix.upper()}_SELF_TEST_TOLERANCE {FLOAT_TOLERANCE!r}f")
    parts += ["", f"#endif /* {guard} */"]
    return "\n".join(parts) + "\n"


def altered_weight(model, test: SelfTest):
    """Return (a copy of the int8 ``model`` with one weight changed, (layer, row, column) of
    that weight), choosing the first weight, last layer first, whose change alters an output
    of ``test`` by the TFLM arithmetic (:func:`dense.int8_reference`): an edit the boot
    self-test must catch."""
    if not isinstance(model, Int8Model):
        raise TypeError(f"model must be a dense.Int8Model, got {type(model).__name__}")
    if not isinstance(test, SelfTest) or not test.int8:
        raise TypeError("test must be an int8 SelfTest of the model")
    for k in reversed(range(len(model.layers))):
        layer = model.layers[k]
        for row, col in np.ndindex(*layer.weights.shape):
            weights = layer.weights.copy()
            weights[row, col] = 127 if weights[row, col] < 0 else -128  # the biggest change
            layers = list(model.layers)
            layers[k] = replace(layer, weights=weights)
            altered = replace(model, layers=layers)
            if not np.array_equal(int8_reference(altered, test.inputs), test.outputs):
                return altered, (k, row, col)
    raise ValueError("no single weight change alters any output of the self-test")
