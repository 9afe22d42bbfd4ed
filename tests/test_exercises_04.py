"""Lesson 04's exercises, run through the lesson's own cells: every answer cell starts empty
and its check cell says "not attempted"; the folded reference solution (read from the notebook)
passes the check cell; wrong answers get a hint instead of an exception."""

from __future__ import annotations

import numpy as np
import pytest
from exercise_solutions import lesson_cells, run_cell, run_python, solutions, with_imports

from tinyml_helpers import exercises, quantization
from tinyml_helpers.deploy import litert

CELLS = lesson_cells("04")
EXERCISES = {"1": "answers", "2": "answer", "3": "code_5"}  # exercise -> the student's variable


def source(cell_id: str) -> str:
    return "".join(CELLS[cell_id]["source"])


def check(number: str, **names) -> exercises.Feedback:
    """Run exercise ``number``'s check cell with ``names``; return what its last line shows."""
    namespace = with_imports(exercises=exercises, quantization=quantization, **names)
    feedback = run_cell(source(f"l04-ex{number}-check"), namespace)
    assert isinstance(feedback, exercises.Feedback), "a check cell ends with the checker call"
    return feedback


def answer_of(number: str, code: str, **names):
    """Return the student's variable of exercise ``number`` after running ``code``."""
    return run_python(code, quantization=quantization, **names)[EXERCISES[number]]


@pytest.fixture(scope="module")
def half(tf):
    """A 1-16-16-1 int8 model calibrated on inputs below π only, like section 7's ``half``
    (the input code of x depends only on the calibrated range, not on training)."""
    from tinyml_helpers import models

    net = models.mlp((1, 16, 16, 1))
    rng = np.random.default_rng(0)
    net.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in net.get_weights()])
    below_pi = np.linspace(0, 3.1, 200, dtype=np.float32).reshape(-1, 1)
    return litert.convert(net, "int8", below_pi)


def test_every_exercise_has_a_folded_python_solution():
    found = solutions("04")
    assert set(EXERCISES) <= set(found)
    assert all(found[n][0] == "python" for n in EXERCISES)


def test_answer_cells_start_empty_and_the_saved_checks_say_not_attempted(half):
    for number, variable in EXERCISES.items():
        start = answer_of(number, source(f"l04-ex{number}-answer"))
        assert start is None or (isinstance(start, dict)
                                 and all(v is None for v in start.values())), variable
        assert check(number, half=half, **{variable: start}).status == exercises.NOT_ATTEMPTED
        assert check(number, half=half, **{variable: None}).status == exercises.NOT_ATTEMPTED
        saved = "".join("".join(o.get("data", {}).get("text/plain", ""))
                        for o in CELLS[f"l04-ex{number}-check"]["outputs"])
        assert "not attempted yet" in saved, number


def test_exercise_1_why_quantize():
    answers = answer_of("1", solutions("04")["1"][1])
    assert check("1", answers=answers).correct
    flipped = {**answers, "b": "yes"}  # "quantizing always shrinks the file": not here
    for wrong in (flipped, {q: "yes" for q in answers}, {**answers, "d": "maybe"},
                  {**answers, "e": None}, "yes"):
        assert check("1", answers=wrong).status == exercises.TRY_AGAIN, wrong
    hint = check("1", answers=flipped).message  # a hint that teaches, not which one is wrong
    assert "section 6" in hint and "section 9" in hint
    assert not any(f'"{q}"' in hint or f"'{q}'" in hint for q in answers)


def test_exercise_2_scale_zero_point_code():
    answer = answer_of("2", solutions("04")["2"][1])
    assert check("2", answer=answer).correct
    assert answer[1:] == (-64, -32)
    scale = answer[0]
    for wrong in ((scale, 64, 96),  # unsigned codes: right grid, wrong numbering
                  (scale, -64, -33),  # one code off
                  (8 / 256, -64, -32),  # 256 steps instead of 255
                  (scale, -64), "0.03, -64, -32"):
        assert check("2", answer=wrong).status == exercises.TRY_AGAIN, wrong


def test_exercise_3_saturation(half):
    code_5 = answer_of("3", solutions("04")["3"][1], half=half)
    assert code_5 == 127
    assert check("3", half=half, code_5=code_5).correct
    (scale, zero_point), _ = litert.io_quantization(half)
    unclamped = int(quantization.round_half_away(5.0 / scale)) + zero_point
    assert unclamped > 127
    for wrong in (unclamped, -128, 126, "lots", [127, 127]):
        assert check("3", half=half, code_5=wrong).status == exercises.TRY_AGAIN, wrong
