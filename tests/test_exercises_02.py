"""Lesson 02's exercises: each check cell, run exactly as the notebook has it, says "not
attempted" for the empty answer cell, accepts the folded reference solution (read from the
notebook, so the solution a student opens is the one tested) and rejects wrong answers."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from exercise_solutions import cell_source, run_cell, run_python, solutions

from tinyml_helpers import exercises, sizing

LESSON = "02"
EXERCISES = ["1", "2", "3", "4", "5"]


@pytest.fixture(scope="module")
def lesson(tf):
    """The lesson variables the check cells use (recreated cheaply: no MobileNet build)."""
    return {"np": np, "tf": tf, "sizing": sizing, "exercises": exercises,
            "uno": sizing.BOARDS["uno"], "nano": sizing.BOARDS["nano33ble"],
            "params": 4_253_864}  # the full MobileNet's count, printed in section 6


def run_check(exercise: str, lesson: dict, **answers) -> list[exercises.Feedback]:
    """Run exercise ``exercise``'s check cell with ``answers``; return every Feedback it
    printed or showed (its last expression), in order."""
    shown: list = []
    namespace = {**lesson, **answers, "print": lambda *args, **kwargs: shown.extend(args)}
    shown.append(run_cell(cell_source(LESSON, f"l02-ex{exercise}-check"), namespace))
    return [f for f in shown if isinstance(f, exercises.Feedback)]


def answer_names(exercise: str) -> list[str]:
    """Return the names the exercise's answer cell sets (all to None)."""
    tree = ast.parse(cell_source(LESSON, f"l02-ex{exercise}-answer"))
    names = [node.targets[0].id for node in tree.body]
    assert all(node.value.value is None for node in tree.body)  # the cell starts empty
    return names


def statuses(feedback: list[exercises.Feedback]) -> set[str]:
    return {f.status for f in feedback}


def reference(exercise: str, lesson: dict) -> dict:
    """Run the folded solution; return the answer variables it sets."""
    language, code = solutions(LESSON)[exercise]
    assert language == "python"
    namespace = run_python(code, sizing=sizing, tf=lesson["tf"], print=lambda *a, **k: None)
    return {name: namespace[name] for name in answer_names(exercise)}


def test_lesson_02_has_five_folded_solutions():
    assert set(EXERCISES) <= set(solutions(LESSON))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_empty_answers_say_not_attempted(exercise, lesson):
    feedback = run_check(exercise, lesson, **dict.fromkeys(answer_names(exercise)))
    assert feedback and statuses(feedback) == {exercises.NOT_ATTEMPTED}


@pytest.mark.parametrize("exercise", EXERCISES)
def test_reference_solution_is_correct(exercise, lesson):
    feedback = run_check(exercise, lesson, **reference(exercise, lesson))
    assert feedback and statuses(feedback) == {exercises.CORRECT}, [str(f) for f in feedback]


def test_exercise_1_values_and_wrong_answers(lesson):
    ref = reference("1", lesson)
    assert ref == {"n_params": 1153, "bytes_float32": 4612, "bytes_int8": 1348}
    # int8 counted without the int32 biases, float32 counted as 2 bytes, an off-by-one
    for key, wrong in [("bytes_int8", 1153), ("bytes_float32", 2306), ("n_params", 1152),
                       ("n_params", "many")]:
        feedback = run_check("1", lesson, **{**ref, key: wrong})
        assert [f.status for f in feedback].count(exercises.TRY_AGAIN) == 1, (key, wrong)


def test_exercise_2_wrong_answers(lesson):
    assert reference("2", lesson)["fits_uno"] == {"float32": "no", "int8": "yes"}
    for wrong in ({"float32": "yes", "int8": "yes"}, {"float32": "no", "int8": "no"},
                  {"float32": "maybe", "int8": "yes"}, {"float32": "no"}, "no"):
        assert statuses(run_check("2", lesson, fits_uno=wrong)) == {exercises.TRY_AGAIN}


def test_exercise_2_hints_without_naming_the_wrong_answer(lesson):
    # Two questions of yes / no: naming the wrong one, or quoting the bytes against the Uno's
    # limits, would give the key away. The hint says how to work it out instead.
    for wrong in ({"float32": "yes", "int8": "yes"}, {"float32": "no", "int8": "no"},
                  {"float32": "yes", "int8": "no"}):
        (feedback,) = run_check("2", lesson, fits_uno=wrong)
        assert "flash" in feedback.message and "RAM" in feedback.message, feedback
        assert not any(word in feedback.message for word in ("float32", "int8", "B of")), feedback


def test_exercise_3_wrong_answers(lesson):
    assert reference("3", lesson)["smaller"] == "same"
    for wrong in ("first", "second", "both"):
        feedback = run_check("3", lesson, smaller=wrong)
        assert statuses(feedback) == {exercises.TRY_AGAIN}, wrong


def test_exercise_4_wrong_answers(lesson):
    assert reference("4", lesson)["widest"] == 20
    for wrong in (21, 19, 22.5, [20]):
        assert statuses(run_check("4", lesson, widest=wrong)) == {exercises.TRY_AGAIN}


def test_exercise_5_wrong_answers(lesson):
    ref = reference("5", lesson)
    assert ref["small_int8_bytes"] == 219_058
    # float32 bytes, and the count of a grayscale (1-channel) input
    for wrong in (4 * ref["small_int8_bytes"], 218_914):
        assert statuses(run_check("5", lesson, small_int8_bytes=wrong)) == {exercises.TRY_AGAIN}
