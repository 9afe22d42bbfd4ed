"""The lessons' exercises: every check cell starts "not attempted", every checker accepts the
reference solution folded into the lesson (read from the notebook itself, so the solution a
student opens is the one tested) and rejects wrong answers without raising."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from exercise_solutions import cell_source, run_cell, run_python, solutions, with_imports

from tinyml_helpers import exercises, measurements
from tinyml_helpers.deploy import dense, export, tflm

NEEDS_GCC = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


ALL_CODES = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)


def test_lesson_06_has_folded_solutions():
    assert {"1", "2", "3a", "3b"} <= set(solutions("06"))


def test_unanswered_exercises_say_not_attempted(sine):
    _, float_tflite, int8_tflite = sine
    files = export.plain_c_files(dense.int8_layers(int8_tflite), "sine_int8")
    results = [exercises.check_number(None, 1.0, "ratio", "hint"),
               exercises.check_choice(None, "a", "answer", {"a": "A", "b": "B"}, "why"),
               exercises.check_int8_model(None, np.cos, 0.02),
               exercises.check_c_dense(None, files, "sine_int8", tflm.run(int8_tflite, ALL_CODES))]
    assert all(r.status == exercises.NOT_ATTEMPTED for r in results)
    assert "not attempted yet" in str(results[0])


def test_exercise_1_ratio(sine):
    _, float_tflite, int8_tflite = sine
    ns = run_python(solutions("06")["1"][1], float_tflite=float_tflite, int8_tflite=int8_tflite)
    expected = dense.data_bytes(dense.float_layers_from_tflite(float_tflite)) / \
        dense.data_bytes(dense.int8_layers(int8_tflite))
    assert exercises.check_number(ns["ratio"], expected, "ratio", "").correct
    for wrong in (4, expected * 1.5, "many", [1, 2], float("nan")):
        assert exercises.check_number(wrong, expected, "ratio", "").status == exercises.TRY_AGAIN


def test_exercise_3a_cosine_model(sine):
    _, float_tflite, int8_tflite = sine
    rep = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    ns = run_python(solutions("06")["3a"][1], seed=0, representative=rep)
    assert exercises.check_int8_model(ns["cos_tflite"], np.cos, 0.02).correct
    # The sine model is a fine int8 model, but not of cos; a float model cannot go on the Uno.
    assert exercises.check_int8_model(int8_tflite, np.cos, 0.02).status == exercises.TRY_AGAIN
    assert "float model" in exercises.check_int8_model(float_tflite, np.cos, 0.02).message
    assert exercises.check_int8_model(b"junk", np.cos, 0.02).status == exercises.TRY_AGAIN


@NEEDS_GCC
def test_exercise_3b_c_dense_layer(sine):
    _, _, int8_tflite = sine
    files = export.plain_c_files(dense.int8_layers(int8_tflite), "sine_int8")
    reference = tflm.run(int8_tflite, ALL_CODES)
    language, source = solutions("06")["3b"]
    assert language == "c"
    assert exercises.check_c_dense(source, files, "sine_int8", reference).correct
    no_clamp = source.replace("if (y < act_min) y = act_min;", "")
    no_offset = source.replace("input[i] + input_offset", "input[i]")
    for wrong in (no_clamp, no_offset, "void student_dense_int8(void) { oops", "int main;"):
        feedback = exercises.check_c_dense(wrong, files, "sine_int8", reference)
        assert feedback.status == exercises.TRY_AGAIN, wrong[:40]


SKETCH_ARENA = measurements.sketch_arena()[0]


def _ram_left(arena: int = SKETCH_ARENA, stack: bool = True) -> int:
    """Exercise 2's answer from the stored measurement (and two wrong ones a student may make)."""
    cost = measurements.load()["TFLM"]
    return 16 * 1024 - 13_500 - cost["static_ram"] - arena - (cost["stack"] if stack else 0)


def test_exercise_2_ram_budget():
    ns = run_python(solutions("06")["2"][1], measurements=measurements, sketch_arena=SKETCH_ARENA)
    assert ns["ram_left"] == _ram_left() < 0  # TFLM does not fit in what the firmware leaves
    assert _ram_left(arena=measurements.board_arena()[0]) < 0  # not even with the least arena


def test_check_array():
    want = np.array([[0.5, 1.0], [2.0, 3.0]])
    assert exercises.check_array(None, want, "w", "").status == exercises.NOT_ATTEMPTED
    assert exercises.check_array(want.tolist(), want, "w", "").correct
    for wrong in (want.T, want + 0.1, "abc", [1, 2], np.full((2, 2), np.nan)):
        feedback = exercises.check_array(wrong, want, "w", "hint")
        assert feedback.status == exercises.TRY_AGAIN, wrong


def test_check_choices():
    choices = {"yes": "it does", "no": "it does not"}
    expected = {"a": "yes", "b": "no"}
    assert exercises.check_choices(None, expected, "q", choices, "").status == \
        exercises.NOT_ATTEMPTED
    assert exercises.check_choices({"a": None, "b": None}, expected, "q", choices, "").status == \
        exercises.NOT_ATTEMPTED
    assert exercises.check_choices({"a": "Yes ", "b": "no"}, expected, "q", choices, "").correct
    for wrong in ({"a": "yes"}, {"a": "no", "b": "no"}, {"a": "maybe", "b": "no"}, ["yes"]):
        feedback = exercises.check_choices(wrong, expected, "q", choices, "")
        assert feedback.status == exercises.TRY_AGAIN, wrong
    # A wrong answer is told how many are off and the hint, never which ones (with two choices
    # per question that would be the key).
    feedback = exercises.check_choices({"a": "no", "b": "no"}, expected, "q", choices, "",
                                       hint="Think about b.")
    assert feedback.message == "1 of 2 not right yet. Think about b."


def _lesson_06_check(cell_id: str, sine, **answers) -> exercises.Feedback:
    """Run one of lesson 06's own check cells with the lesson's variables and ``answers``."""
    _, float_tflite, int8_tflite = sine
    namespace = with_imports(exercises=exercises, measurements=measurements, export=export,
                             tflm=tflm, float_tflite=float_tflite, int8_tflite=int8_tflite,
                             int8_model=dense.int8_layers(int8_tflite), all_codes=ALL_CODES,
                             **answers)
    feedback = run_cell(cell_source("06", cell_id), namespace)
    assert isinstance(feedback, exercises.Feedback), "a check cell ends with the checker call"
    return feedback


def test_lesson_06_check_cells_run_as_the_notebook_has_them(sine):
    """The notebook's check cells (not only the checkers): empty answers are not attempted,
    the folded solutions pass, wrong answers get a hint."""
    _, float_tflite, int8_tflite = sine
    empty = {"ratio": None, "ram_left": None, "cos_tflite": None, "student_c": None}
    for cell_id in ("l06-058", "l06-062", "l06-066"):
        assert _lesson_06_check(cell_id, sine, **empty).status == exercises.NOT_ATTEMPTED
    ratio = run_python(solutions("06")["1"][1], float_tflite=float_tflite,
                       int8_tflite=int8_tflite)["ratio"]
    assert _lesson_06_check("l06-058", sine, ratio=ratio).correct
    assert _lesson_06_check("l06-058", sine, ratio=4).status == exercises.TRY_AGAIN
    ram_left = run_python(solutions("06")["2"][1], measurements=measurements,
                          sketch_arena=SKETCH_ARENA)["ram_left"]
    assert _lesson_06_check("l06-062", sine, ram_left=ram_left).correct
    # The smallest arena instead of the declared one, the stack forgotten, the sign dropped, a
    # word: each gets the hint, which never states the answer.
    for wrong in (_ram_left(arena=measurements.board_arena()[0]), _ram_left(stack=False),
                  -ram_left, "not enough"):
        feedback = _lesson_06_check("l06-062", sine, ram_left=wrong)
        assert feedback.status == exercises.TRY_AGAIN, wrong
        hint = feedback.message.split(" is not it. ", 1)[-1]  # after the echo of the answer
        assert str(abs(ram_left)) not in hint.replace(",", ""), hint
    assert _lesson_06_check("l06-066", sine, cos_tflite=int8_tflite).status == \
        exercises.TRY_AGAIN  # the sine model is no cosine


@NEEDS_GCC
def test_lesson_06_check_cell_3b_grades_the_c_layer_on_the_sine_model(sine):
    """Without a cosine model the 3b check cell tests the student's layer inside the sine
    model's C code."""
    _, _, int8_tflite = sine
    source = solutions("06")["3b"][1]
    assert _lesson_06_check("l06-070", sine, cos_tflite=None, student_c=source).correct
    no_clamp = source.replace("if (y < act_min) y = act_min;", "")
    assert _lesson_06_check("l06-070", sine, cos_tflite=None, student_c=no_clamp).status == \
        exercises.TRY_AGAIN
    assert _lesson_06_check("l06-070", sine, cos_tflite=None, student_c=None).status == \
        exercises.NOT_ATTEMPTED
