"""Checkers for the lessons' exercises: each looks at a student's answer and says what it sees.

A lesson's exercise is a student cell that starts empty (``answer = None``) and a check cell
that calls a checker here. The checker never raises on a wrong or missing answer, so "Run all"
still works: it returns (and shows) a :class:`Feedback` whose status is ``"not attempted"``,
``"correct"`` or ``"try again"`` with a hint. Reference solutions live in the lessons as
collapsed Markdown; the tests prove that every checker accepts them and rejects wrong ones.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .deploy import boards, c_model, dense, export, firmware, tflm
from .deploy.c_model import CModel

NOT_ATTEMPTED, CORRECT, TRY_AGAIN = "not attempted", "correct", "try again"


@dataclass(frozen=True)
class Feedback:
    """What a checker found: a status and a sentence for the student."""

    status: str
    message: str

    @property
    def correct(self) -> bool:
        """Return True when the answer was accepted."""
        return self.status == CORRECT

    def __str__(self) -> str:
        mark = {CORRECT: "✔ correct", NOT_ATTEMPTED: "… not attempted yet",
                TRY_AGAIN: "✘ try again"}[self.status]
        return f"{mark}: {self.message}" if self.message else mark

    def _repr_pretty_(self, printer, cycle) -> None:  # what a notebook cell shows
        printer.text(str(self))


def _not_attempted(what: str) -> Feedback:
    return Feedback(NOT_ATTEMPTED, f"set {what} in the cell above, then run this cell again")


def _number(answer) -> float | None:
    """Return ``answer`` as a float, or None when it is not a single real number."""
    if isinstance(answer, bool):
        return None
    try:
        value = float(np.asarray(answer).item()) if np.ndim(answer) == 0 else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and math.isfinite(value) else None


def check_number(answer, expected: float, what: str, hint: str, rel: float = 0.01) -> Feedback:
    """Return the feedback for a numeric ``answer`` that should be ``expected`` within
    ``rel`` (relative)."""
    if answer is None:
        return _not_attempted(what)
    value = _number(answer)
    if value is None:
        return Feedback(TRY_AGAIN, f"{what} should be one number, got {answer!r}")
    if math.isclose(value, expected, rel_tol=rel, abs_tol=1e-12):
        return Feedback(CORRECT, f"{what} = {value:,.6g}")
    return Feedback(TRY_AGAIN, f"{what} = {value:,.6g} is not it. {hint}")


def check_choice(answer, expected: str, what: str, choices: dict[str, str],
                 why: str, hint: str = "Look again at the table above.") -> Feedback:
    """Return the feedback for a multiple-choice ``answer`` (one key of ``choices``); a wrong
    choice gets ``hint``."""
    if answer is None:
        return _not_attempted(what)
    key = str(answer).strip().lower()
    if key not in choices:
        return Feedback(TRY_AGAIN, f"answer with one of {', '.join(sorted(choices))}")
    if key == expected:
        return Feedback(CORRECT, why)
    return Feedback(TRY_AGAIN, f"not {key!r} ({choices[key]}). {hint}")


def check_array(answer, expected, what: str, hint: str, atol: float = 1e-6,
                rtol: float = 1e-4) -> Feedback:
    """Return the feedback for an array ``answer`` that should equal ``expected`` (same shape,
    values within ``atol`` + ``rtol``·|expected|)."""
    if answer is None:
        return _not_attempted(what)
    want = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return Feedback(TRY_AGAIN, f"{what} should be numbers, got {type(answer).__name__}")
    if got.shape != want.shape:
        return Feedback(TRY_AGAIN, f"{what} has shape {got.shape}, expected {want.shape}")
    if not np.all(np.isfinite(got)):
        return Feedback(TRY_AGAIN, f"{what} contains NaN or inf")
    far = np.flatnonzero(~np.isclose(got, want, atol=atol, rtol=rtol).ravel())
    if len(far) == 0:
        return Feedback(CORRECT, f"{what}: all {want.size} values agree")
    i = int(far[0])
    return Feedback(TRY_AGAIN, f"{len(far)} of {want.size} values of {what} are off; the first "
                               f"is {got.ravel()[i]:.6g} at position {i}. {hint}")


def check_choices(answers, expected: dict, what: str, choices: dict[str, str],
                  why: str, hint: str = "") -> Feedback:
    """Return the feedback for several multiple-choice answers at once: ``answers`` maps each
    question of ``expected`` to one key of ``choices``.

    A wrong set of answers is told how many are not right yet, and ``hint``, never which ones:
    with two or three choices per question, naming them would give the key away."""
    if answers is None:
        return _not_attempted(what)
    if not isinstance(answers, dict):
        return Feedback(TRY_AGAIN, f"{what} should be a dict like "
                                   f"{ {k: '...' for k in expected} }")
    missing = [q for q in expected if answers.get(q) is None]
    if len(missing) == len(expected):
        return _not_attempted(what)
    if missing:
        return Feedback(TRY_AGAIN, f"still unanswered: {', '.join(map(str, missing))}")
    keys = {q: str(answers[q]).strip().lower() for q in expected}
    bad = [q for q, k in keys.items() if k not in choices]
    if bad:
        return Feedback(TRY_AGAIN, f"answer {', '.join(map(str, bad))} with one of "
                                   f"{', '.join(sorted(choices))}")
    wrong = [q for q in expected if keys[q] != expected[q]]
    if not wrong:
        return Feedback(CORRECT, why)
    return Feedback(TRY_AGAIN, f"{len(wrong)} of {len(expected)} not right yet."
                               + (f" {hint}" if hint else ""))


def check_int8_function(function, model, reference) -> Feedback:
    """Return the feedback for a student's ``function(model, codes) -> output codes``: it must
    equal ``reference`` (the TFLM outputs for all 256 input codes) on every code."""
    if function is None:
        return _not_attempted("your function")
    if not callable(function):
        return Feedback(TRY_AGAIN, f"expected a function, got {type(function).__name__}")
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    try:
        got = np.asarray(function(model, codes))
    except Exception as exc:  # a student's bug: show it, do not stop "Run all"
        return Feedback(TRY_AGAIN, f"your function raised {type(exc).__name__}: {exc}")
    return _compare_codes(got, np.asarray(reference))


def _compare_codes(got: np.ndarray, want: np.ndarray) -> Feedback:
    if got.shape != want.shape:
        return Feedback(TRY_AGAIN, f"expected outputs of shape {want.shape}, got {got.shape}")
    if not np.issubdtype(got.dtype, np.integer):
        return Feedback(TRY_AGAIN, f"expected integer codes, got {got.dtype}")
    wrong = np.flatnonzero(got.astype(np.int64).ravel() != want.astype(np.int64).ravel())
    if len(wrong) == 0:
        return Feedback(CORRECT, f"equal to TFLM on all {want.size} outputs")
    i = int(wrong[0])
    return Feedback(TRY_AGAIN, f"{len(wrong)} of {want.size} outputs differ from TFLM; first "
                               f"at row {i // want.shape[-1]}: yours "
                               f"{int(got.ravel()[i])}, TFLM {int(want.ravel()[i])}. Check the "
                               "zero points, the requantization and the clamp.")


STUDENT_DENSE = "student_dense_int8"
STUDENT_PROTOTYPE = (
    "void student_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, "
    "uint16_t n_out,\n"
    "                        const int8_t *weights, const int32_t *bias, "
    "const int32_t *multiplier,\n"
    "                        const int8_t *shift, int16_t input_offset, "
    "int16_t output_zero_point,\n"
    "                        int8_t act_min, int8_t act_max);\n")

C_HARNESS = """#include <stdint.h>
#include <stdio.h>

#include "{prefix}.h"

int main(void) {{
  for (int code = -128; code < 128; ++code) {{
    int8_t input[1] = {{(int8_t)code}}, output[1];
    {prefix}_invoke(input, output);
    printf("%d\\n", output[0]);
  }}
  return 0;
}}
"""


def with_student_dense(model_files, prefix: str, source: str):
    """Return the generated model (the :class:`~.deploy.c_model.CModel` of
    ``export.plain_c_files``) with every layer calling ``student_dense_int8`` (defined in
    ``source``, saved as ``student_dense.c``) instead of the course's kernel."""
    name = f"{prefix}.c"
    if not isinstance(model_files, CModel) or model_files.prefix != prefix \
            or "tinyml_dense_int8(" not in model_files[name]:
        raise ValueError(f"model_files must be export.plain_c_files(int8 model, {prefix!r})")
    return _with_student_kernel(model_files, "tinyml_dense_int8", STUDENT_DENSE,
                                "tinyml_kernels.h", STUDENT_PROTOTYPE, "student_dense.c", source)


def _with_student_kernel(model: CModel, kernel: str, student: str, header: str,
                         prototype: str, file_name: str, source: str) -> CModel:
    """Return ``model`` with every call of the course's ``kernel`` calling ``student`` instead:
    its ``prototype`` declared after the model's ``#include`` of ``header``, its ``source``
    saved as ``file_name``."""
    name = f"{model.prefix}.c"
    include = f'#include "{header}"\n'
    if include not in model[name]:
        raise ValueError(f"{name} does not include {header}")
    body = model[name].replace(f"{kernel}(", f"{student}(")
    body = body.replace(include, include + "\n" + prototype, 1)
    return model.with_files({name: body, file_name: source})


def check_c_dense(source, model_files: dict[str, str], prefix: str, reference) -> Feedback:
    """Return the feedback for a student's C ``student_dense_int8`` (the int8 Dense layer, with
    the signature of :data:`STUDENT_PROTOTYPE`): the model's generated C calls it for every
    layer, gcc builds it with the course's kernels file (for ``tinyml_requantize``), and its
    outputs on all 256 input codes must equal ``reference`` (TFLM's)."""
    if source is None:
        return _not_attempted("student_c")
    if not isinstance(source, str) or STUDENT_DENSE not in source:
        return Feedback(TRY_AGAIN, f"write a C function named {STUDENT_DENSE}(...) with the "
                                   "signature shown above")
    files = with_student_dense(model_files, prefix, source).all_files()
    files["main.c"] = C_HARNESS.format(prefix=prefix)
    with tempfile.TemporaryDirectory(prefix="exercise-") as tmp:
        folder = Path(tmp)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        sources = sorted(str(p) for p in folder.glob("*.c"))
        build = subprocess.run(["gcc", "-std=gnu99", "-O1", "-I", tmp, "-o",
                                str(folder / "run"), *sources, "-lm"],
                               capture_output=True, text=True, check=False)
        if build.returncode != 0:
            errors = "\n".join(line for line in build.stderr.splitlines() if "error" in line)
            return Feedback(TRY_AGAIN, f"gcc could not compile it:\n{errors[:1500]}")
        try:
            run = subprocess.run([str(folder / "run")], capture_output=True, text=True,
                                 timeout=20, check=False)
        except subprocess.TimeoutExpired:
            return Feedback(TRY_AGAIN, "your code did not finish within 20 s (an endless loop?)")
    if run.returncode != 0:
        return Feedback(TRY_AGAIN, f"your program crashed (exit code {run.returncode})")
    try:
        got = np.array([int(v) for v in run.stdout.split()], dtype=np.int64).reshape(-1, 1)
    except ValueError:
        return Feedback(TRY_AGAIN, "your program printed something that is not a number")
    return _compare_codes(got, np.asarray(reference).reshape(-1, 1))


def check_int8_model(tflite, target, max_mse: float, what: str = "cos_tflite") -> Feedback:
    """Return the feedback for a student's full-int8 .tflite that should approximate
    ``target`` (a NumPy function of x) on [0, 2π]: one input, one output, int8 in and out,
    and an MSE under ``max_mse`` when run by TFLM."""
    if tflite is None:
        return _not_attempted(what)

    try:
        model = dense.layers_from_tflite(tflite)
    except (TypeError, ValueError) as exc:
        return Feedback(TRY_AGAIN, f"{what} is not a model the board can run: {exc}")
    if not isinstance(model, dense.Int8Model):
        return Feedback(TRY_AGAIN, f"{what} is a float model: convert it with full int8 "
                                   "quantization (litert.convert(model, 'int8', representative))")
    if model.n_inputs != 1 or model.n_outputs != 1:
        return Feedback(TRY_AGAIN, f"{what} must take one x and give one y, not "
                                   f"{model.n_inputs} -> {model.n_outputs}")
    x = np.linspace(0, 2 * np.pi, 200, dtype=np.float32).reshape(-1, 1)
    y = model.dequantize(tflm.run(tflite, model.quantize(x)))
    mse = float(np.mean((y - target(x)) ** 2))
    if mse <= max_mse:
        return Feedback(CORRECT, f"int8 model under TFLM: MSE {mse:.4f} on [0, 2π]")
    return Feedback(TRY_AGAIN, f"MSE {mse:.4f} on [0, 2π] is above {max_mse}: train longer, or "
                               "check that the representative data spans 0 to 2π")


# --- lesson 08 ---------------------------------------------------------------------------------

def check_filter_budget(answer, model, d, budget: int, first: int = 8) -> Feedback:
    """Return the feedback for lesson 08's exercise 2: the largest number of conv2 filters that
    ``digits.remove_filters(model, (first, n))`` may keep for the int8 model's C constants to
    stay within ``budget`` bytes. Only the answer and the next count are converted."""
    from . import digits  # the lesson module imports TensorFlow's world; only this check needs it

    if answer is None:
        return _not_attempted("conv2_filters")
    n = _number(answer)
    if n is None or n != int(n):
        return Feedback(TRY_AGAIN, f"conv2_filters must be a whole number, got {answer!r}")
    n = int(n)
    largest = model.get_layer("conv2").filters
    if not 1 <= n <= largest:
        return Feedback(TRY_AGAIN, f"conv2 has {largest} filters: keep between 1 and {largest}")

    def constants(count: int) -> int:
        small = digits.remove_filters(model, (first, count))
        return export.plain_c_files(digits.int8_model(small, d)).constant_bytes

    size = constants(n)
    if size > budget:
        return Feedback(TRY_AGAIN, f"with {n} filters the constants take {size:,} B, over the "
                                   f"{budget:,} B budget: keep fewer")
    if n < largest:
        bigger = constants(n + 1)
        if bigger <= budget:
            return Feedback(TRY_AGAIN, f"{n} filters fit ({size:,} B), but so do {n + 1} "
                                       f"({bigger:,} B): keep as many as fit")
    return Feedback(CORRECT, f"{n} filters: {size:,} B of constants, within {budget:,} B")


STUDENT_CONV = "student_conv_2d"
CONV_KERNELS = c_model.OPS_KERNELS  # the reference kernels a student's conv replaces one of
STUDENT_CONV_PROTOTYPE = (
    "void student_conv_2d(const tinyml_conv_params *params, const int8_t *input,\n"
    "                     const int8_t *filter, const int32_t *bias, int8_t *output);\n")


def with_student_conv(model: CModel, source: str) -> CModel:
    """Return ``model`` (reference-kernel C of an int8 graph) with every CONV_2D calling
    ``student_conv_2d`` (defined in ``source``, saved as ``student_conv.c``)."""
    name = f"{model.prefix}.c"
    if not isinstance(model, CModel) or "tinyml_conv_2d(" not in model[name]:
        raise ValueError("model must be the reference-kernel C of a graph with a CONV_2D")
    return _with_student_kernel(model, "tinyml_conv_2d", STUDENT_CONV, "tinyml_ops.h",
                                STUDENT_CONV_PROTOTYPE, "student_conv.c", source)


def check_c_conv(source, g, codes, reference) -> Feedback:
    """Return the feedback for a student's C ``student_conv_2d`` (lesson 08's exercise 3): the
    graph's reference-kernel C calls it for every CONV_2D, this computer's gcc builds it in the
    firmware harness, and its outputs for every row of ``codes`` must equal ``reference``
    (TFLM's)."""
    if source is None:
        return _not_attempted("student_c")
    if not isinstance(source, str) or STUDENT_CONV not in source:
        return Feedback(TRY_AGAIN, f"write a C function named {STUDENT_CONV}(...) with the "
                                   "signature shown above")
    model = with_student_conv(export.plain_c_files(g, "digits", kernels="reference"), source)
    try:
        with tempfile.TemporaryDirectory(prefix="exercise-") as tmp:
            elf = firmware.build("host", model, codes, build_dir=tmp)
            result = firmware.run("host", elf, timeout_s=20.0)
    except boards.FirmwareError as exc:
        errors = "\n".join(line for line in str(exc).splitlines() if "error" in line)
        shown = (errors or str(exc))[:1500]
        return Feedback(TRY_AGAIN, f"your code did not build or run:\n{shown}")
    return _compare_codes(result.outputs.reshape(len(codes), -1),
                          np.asarray(reference).reshape(len(codes), -1))


def _scores_80hz(fan, with_hum: bool) -> np.ndarray:
    """The per-speed-ellipse scores of ``fan``'s test windows in lesson 07's exercise 2, on the
    12 features or on 15 with the 80 Hz bin of each axis."""
    from . import anomaly, vibration  # lesson modules; only this check needs them

    def features(x):
        f = vibration.features(x)
        if not with_hum:
            return f
        centred = x - x.mean(axis=1, keepdims=True)
        return np.hstack([f, 2 * np.abs(np.fft.rfft(centred, axis=1)[:, 80, :]) / x.shape[1]])

    f_train, f_test = features(fan.x_train), features(fan.x_test)
    scale = anomaly.fit_scaler(f_train)
    return anomaly.fit_mahalanobis_groups(scale(f_train), fan.speed_train).score(scale(f_test))


def _auc_of(scores: np.ndarray, fan, high_only: bool) -> float:
    from . import anomaly

    keep = fan.speed_test == "high" if high_only else np.ones(len(scores), bool)
    return anomaly.auc(scores[keep], fan.y_test[keep])


def _auc_80hz(fan, with_hum: bool, high_only: bool) -> float:
    """The per-speed-ellipse AUC of lesson 07's exercise 2 (12 features, or 15 with the 80 Hz
    bin of each axis), on the high-speed test windows or on all of them."""
    return _auc_of(_scores_80hz(fan, with_hum), fan, high_only)


def check_80hz_feature(answer, fan) -> Feedback:
    """Return the feedback for lesson 07's exercise 2: the high-speed AUC of per-speed ellipses
    on 15 features (the 12 plus the 80 Hz amplitude of each axis)."""
    if answer is None:
        return _not_attempted("auc_80hz")
    value = _number(answer)
    if value is None or not 0.0 <= value <= 1.0:
        return Feedback(TRY_AGAIN, f"auc_80hz should be one AUC between 0 and 1, got {answer!r}")
    with_hum, without = _scores_80hz(fan, True), _scores_80hz(fan, False)  # each fitted once
    expected, before = _auc_of(with_hum, fan, True), _auc_of(without, fan, True)
    if math.isclose(value, expected, abs_tol=1e-6):
        verdict = "higher than" if expected > before + 1e-9 else (
            "lower than" if expected < before - 1e-9 else "the same as")
        return Feedback(CORRECT, f"auc_80hz = {value:.4f}, {verdict} the {before:.4f} of the 12 "
                                 "features at high speed")
    if math.isclose(value, _auc_of(with_hum, fan, False), abs_tol=1e-6):
        return Feedback(TRY_AGAIN, "that is the AUC over every speed: keep only the test windows "
                                   "with fan.speed_test == 'high', normal and coin")
    if math.isclose(value, before, abs_tol=1e-6):
        return Feedback(TRY_AGAIN, "that is the 12-feature detector's AUC: add the 80 Hz "
                                   "amplitude of x, y and z as three more features first")
    return Feedback(TRY_AGAIN, f"auc_80hz = {value:.4f} is not it. Bin 80 of a 200-sample rfft "
                               "at 200 Hz is 80 Hz; take 2|X|/N per axis after removing each "
                               "axis's mean, standardise all 15 features with the training "
                               "windows, and fit one ellipse per speed on them")


def check_micropython_main(source, files: dict, key: str, expected: float, hint: str,
                           rel: float = 0.01) -> Feedback:
    """Return the feedback for a student's MicroPython ``main.py`` (``source``, a str): run it
    on the WebAssembly MicroPython VM with ``files`` importable (the model modules, as a board
    has them beside main.py) and check the number on the last line it prints that starts with
    ``key=``: it should be ``expected`` within ``rel``."""
    from .deploy import micropython_vm

    if source is None:
        return _not_attempted("my_main")
    if not isinstance(source, str):
        return Feedback(TRY_AGAIN, f"my_main should be the text of your main.py (a str), got "
                                   f"{type(source).__name__}")
    if not micropython_vm.available():
        return Feedback(NOT_ATTEMPTED, f"the MicroPython VM is not installed here: "
                                       f"{micropython_vm.INSTALL_HINT}")
    try:
        out = micropython_vm.run(files, source, timeout_s=60.0)
    except micropython_vm.MicroPythonError as exc:
        lines = str(exc).strip().splitlines()
        error = next((line.strip() for line in reversed(lines) if "Error" in line),
                     lines[-1] if lines else "an error")
        return Feedback(TRY_AGAIN, f"your main.py stopped on MicroPython: {error}")
    except RuntimeError as exc:  # the VM trapped or ran out of time
        return Feedback(TRY_AGAIN, f"MicroPython could not finish your main.py: "
                                   f"{str(exc).splitlines()[0]}")
    found = [line.split("=", 1)[1] for line in out.splitlines()
             if line.strip().startswith(f"{key}=")]
    if not found:
        return Feedback(TRY_AGAIN, f"your main.py ran ({len(out.splitlines())} lines) but printed "
                                   f"no line starting with {key}=")
    try:
        value = float(found[-1].strip().split()[0].rstrip(","))
    except (ValueError, IndexError):
        return Feedback(TRY_AGAIN, f"after {key}= your main.py printed {found[-1].strip()!r}, "
                                   "not a number")
    return check_number(value, expected, key, hint, rel)
