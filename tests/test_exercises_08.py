"""Lesson 08's exercises: the folded solutions (read from the notebook) pass the lesson's own
check cells (also read from the notebook), which say "not attempted" for an empty answer and
"try again" for wrong ones. A briefly trained CNN stands in for the lesson's: the answers are
computed from whatever model the cells are given."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from exercise_solutions import cell_source, lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import digits, exercises
from tinyml_helpers.deploy import export, graph, litert, tflm

ANSWERS = {"1": "conv_cost", "2": "conv2_filters", "3": "student_c"}


def _check_cell(exercise: str) -> str:
    ids = list(lesson_cells("08"))
    assert ids[ids.index(f"l08-ex{exercise}-answer") + 1] == f"l08-ex{exercise}-check"
    return cell_source("08", f"l08-ex{exercise}-check")


def _run_check(exercise: str, answer, **names) -> exercises.Feedback:
    namespace = {"np": np, "exercises": exercises, "digits": digits, ANSWERS[exercise]: answer,
                 **names}
    feedback = run_cell(_check_cell(exercise), namespace)
    assert isinstance(feedback, exercises.Feedback), "a check cell ends with the checker call"
    return feedback


@pytest.fixture(scope="module")
def lesson(tf):
    d = digits.load(0)
    model = digits.cnn()
    digits.train(model, d, epochs=3)
    g = graph.read(litert.convert(model, "int8", d.x_train))
    test_codes = digits.input_codes(g, d.x_test[:40])
    return {"model": model, "d": d, "g": g, "test_codes": test_codes,
            "tflm_outputs": tflm.run(g, test_codes)}


def test_the_lesson_has_three_folded_solutions():
    assert set(solutions("08")) == set(ANSWERS)


@pytest.mark.parametrize("exercise", sorted(ANSWERS))
def test_empty_answers_say_not_attempted(exercise, lesson):
    feedback = _run_check(exercise, None, **lesson)
    assert feedback.status == exercises.NOT_ATTEMPTED
    assert ANSWERS[exercise] in feedback.message


def test_exercise_1_conv_cost(lesson):
    ns = run_python(solutions("08")["1"][1])
    assert _run_check("1", ns["conv_cost"], **lesson).correct
    assert ns["conv_cost"] == [18432, 384]
    for wrong in ([18432, 2 * 384], [4 * 4 * 16 * 9, 384], [384, 18432], 18432, "a lot"):
        assert _run_check("1", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_2_filters_within_the_budget(lesson):
    ns = run_python(solutions("08")["2"][1], digits=digits, export=export, **lesson)
    answer = ns["conv2_filters"]
    assert _run_check("2", answer, **lesson).correct
    for wrong in (answer - 1, answer + 1, 0, 17, 2.5, "eight"):
        assert _run_check("2", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_exercise_3_the_int8_convolution_in_c(lesson):
    source = run_python(solutions("08")["3"][1])["student_c"]
    assert _run_check("3", source, **lesson).correct
    # forgetting the input zero point, a compile error, the wrong name
    forgot = source.replace("(x + p.input_offset) * w", "x * w")
    broken = source.replace("acc += (x + p.input_offset) * w;", "acc += undefined_name;")
    for wrong in (forgot, broken, "void conv(void) {}", 42):
        feedback = _run_check("3", wrong, **lesson)
        assert feedback.status == exercises.TRY_AGAIN, wrong
    assert "differ from TFLM" in _run_check("3", forgot, **lesson).message
