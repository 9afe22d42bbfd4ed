"""Lesson 05's exercises: every check cell (run as the notebook has it) says "not attempted"
for the empty answer, accepts the folded reference solution and rejects wrong answers without
raising."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from exercise_solutions import cell_source, lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import distillation as kd
from tinyml_helpers import exercises, sizing

EXERCISES = ("1", "2", "3", "4", "5")


def _check_cell(name: str) -> str:
    return cell_source("05", f"l05-ex{name}-check")


def run_check(name: str, tf, **names):
    """Run exercise ``name``'s check cell with ``names``; return its feedback (the cell's last
    expression, or its ``feedback`` variable when it ends by printing)."""
    namespace = {"np": np, "tf": tf, "kd": kd, "sizing": sizing, "exercises": exercises,
                 **names}
    shown = run_cell(_check_cell(name), namespace)
    return namespace["feedback"] if shown is None else shown


def _given_cell(tf, seed: int = 0) -> dict:
    """Exercise 2's given logits, from the notebook's own cell."""
    namespace = {"np": np, "tf": tf, "seed": seed}
    run_cell(cell_source("05", "l05-ex2-given"), namespace)
    return {k: namespace[k] for k in ("s_ex", "t_ex", "temperatures")}


def _status(feedback) -> list[str]:
    items = feedback if isinstance(feedback, list) else [feedback]
    return [f.status for f in items]


def test_every_exercise_has_a_folded_solution_and_one_check_cell():
    assert set(EXERCISES) <= set(solutions("05"))
    cells = lesson_cells("05")
    for name in EXERCISES:
        assert solutions("05")[name][0] == "python"
        assert f"l05-ex{name}-answer" in cells and f"l05-ex{name}-check" in cells
    code = ["".join(c["source"]) for c in cells.values() if c["cell_type"] == "code"]
    assert all("Solution" not in c for c in code)  # solutions are not run by Run-all


def test_unanswered_exercises_say_not_attempted(tf):
    empty = {"limits": {"T -> 0": None, "T -> infinity": None}, "grad_norms": None,
             "with_t2": None, "widest": None, "dropout_student": None, "verdict": None,
             "helps": {"a": None, "b": None, "c": None}, **_given_cell(tf),
             "accuracy": None, "test_acc": {"d": 0.5}, "distilled_name": "d",
             "x_spiral_test": None, "y_spiral_test": None}
    for name in EXERCISES:
        assert set(_status(run_check(name, tf, **empty))) == {exercises.NOT_ATTEMPTED}, name


def test_exercise_1_temperature_extremes(tf):
    ns = run_python(solutions("05")["1"][1], softmax_t=kd.softmax)
    assert run_check("1", tf, limits=ns["limits"]).correct
    for wrong in ({"T -> 0": "uniform", "T -> infinity": "one-hot"},
                  {"T -> 0": "one-hot", "T -> infinity": None}, {"T -> 0": "hot"}, "uniform"):
        assert run_check("1", tf, limits=wrong).status == exercises.TRY_AGAIN, wrong


def test_exercise_2_t_squared_rule(tf):
    given = _given_cell(tf)
    ns = run_python(solutions("05")["2"][1], tf=tf, kd=kd, **given)
    assert _status(run_check("2", tf, grad_norms=ns["grad_norms"], with_t2=ns["with_t2"],
                             **given)) == [exercises.CORRECT] * 2
    scaled = [T**2 * g for T, g in zip(given["temperatures"], ns["grad_norms"], strict=True)]
    for norms, verdict in ((scaled, "steady"), (ns["grad_norms"][:-1], "steady"),
                           (ns["grad_norms"], "shrinks"), (ns["grad_norms"], "flat")):
        feedback = run_check("2", tf, grad_norms=norms, with_t2=verdict, **given)
        assert exercises.TRY_AGAIN in _status(feedback), verdict


def test_exercise_3_widest_student(tf):
    ns = run_python(solutions("05")["3"][1], kd=kd, sizing=sizing)
    assert ns["widest"] == 30  # 30² + 7·30 + 3 = 1113 <= 4547 / 4
    assert run_check("3", tf, widest=ns["widest"]).correct
    for wrong in (31, 16, "thirty"):
        assert run_check("3", tf, widest=wrong).status == exercises.TRY_AGAIN


def test_exercise_4_dropout_student(tf):
    from tinyml_helpers import models

    rows = {r["name"]: r for r in kd.spiral_distillation_table(seed=0)}
    alone_name, distilled_name = (f"student 2-16-16-3 {way}" for way in ("alone", "distilled"))
    test_acc = {name: rows[name]["test_accuracy"] for name in (alone_name, distilled_name)}
    x_spiral, y_spiral = kd.spiral(seed=0, **kd.SPIRAL)
    x_test, y_test = kd.spiral_test(0)

    def accuracy(model, x, labels):
        return float(np.mean(np.argmax(model(x).numpy(), axis=1) == labels))

    lesson = {"accuracy": accuracy, "test_acc": test_acc, "distilled_name": distilled_name,
              "alone_name": alone_name, "x_spiral_test": x_test, "y_spiral_test": y_test}
    ns = run_python(solutions("05")["4"][1], kd=kd, x_spiral=x_spiral, y_spiral=y_spiral,
                    steps=kd.STEPS, seed=0, **lesson)
    student = ns["dropout_student"]
    assert run_check("4", tf, dropout_student=student, verdict=ns["verdict"], **lesson).correct
    no_dropout = models.mlp(kd.SPIRAL_STUDENT)
    for model, verdict in ((student, "better"), (student, "banana"), (no_dropout, "worse"),
                           (0.73, "worse")):
        feedback = run_check("4", tf, dropout_student=model, verdict=verdict, **lesson)
        assert feedback.status == exercises.TRY_AGAIN, verdict


def test_exercise_5_when_distillation_pays(tf):
    ns = run_python(solutions("05")["5"][1])
    assert run_check("5", tf, helps=ns["helps"]).correct
    for wrong in ({"a": "yes", "b": "no", "c": "yes"}, {"a": "no", "b": "no", "c": "no"},
                  {"a": "no", "b": "no"}):
        assert run_check("5", tf, helps=wrong).status == exercises.TRY_AGAIN, wrong


@pytest.mark.parametrize("name", EXERCISES)
def test_check_cells_show_their_feedback(name):
    """A check cell ends on the feedback (shown by the notebook) or prints it."""
    last = ast.parse(_check_cell(name)).body[-1]
    assert isinstance(last, ast.Expr)
