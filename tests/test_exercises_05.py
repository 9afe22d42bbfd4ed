"""Lesson 05's exercises: every check cell (run as the notebook has it) says "not attempted"
for the empty answer, accepts the folded reference solution and rejects wrong answers without
raising."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from exercise_solutions import cell_source, lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import distillation as kd
from tinyml_helpers import exercises, models, sizing
from tinyml_helpers.deploy import env

EXERCISES = ("1", "2", "3", "4", "5")
STUDENT = "student " + "-".join(map(str, kd.SPIRAL_STUDENT))
ALONE, DISTILLED = f"{STUDENT} alone", f"{STUDENT} distilled"


def _check_cell(name: str) -> str:
    return cell_source("05", f"l05-ex{name}-check")


def run_check(name: str, tf, **names):
    """Run exercise ``name``'s check cell with ``names``; return its feedback (the cell's last
    expression, or its ``feedback`` variable when it ends by printing)."""
    namespace = {"np": np, "tf": tf, "kd": kd, "sizing": sizing, "exercises": exercises,
                 "models": models, "env": env, **names}
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


def accuracy(model, x, labels):
    return float(np.mean(np.argmax(model(x).numpy(), axis=1) == labels))


@pytest.fixture(scope="module")
def spiral_lesson(tf):
    """Section 5 of lesson 05 for seed 0: the data, the trained teacher, the two students'
    test accuracies, and the lesson's own seeds-table helpers (from its cell)."""
    seed, steps = 0, kd.STEPS
    x, y = kd.spiral(seed=seed, **kd.SPIRAL)
    x_test, y_test = kd.spiral_test(seed)
    env.set_seed(seed)
    teacher = kd.jittered_mlp(kd.SPIRAL_TEACHER, kd.SPIRAL_TEACHER_NOISE, name="teacher")
    kd.train_student(teacher, x, y, task="classification", steps=steps, seed=seed)
    test_acc = {}
    for name, kwargs in ((ALONE, {}), (DISTILLED, {"teacher": teacher, "alpha": kd.SPIRAL_ALPHA,
                                                   "temperature": kd.SPIRAL_TEMPERATURE})):
        env.set_seed(seed)
        student = models.mlp(kd.SPIRAL_STUDENT, name="student")
        kd.train_student(student, x, y, task="classification", steps=steps, seed=seed, **kwargs)
        test_acc[name] = accuracy(student, x_test, y_test)

    def dashed(widths):
        return "-".join(str(w) for w in widths)

    helpers = {"np": np, "kd": kd, "dashed": dashed, "print": lambda *a, **k: None}
    run_cell(cell_source("05", "l05-seeds-sine"), helpers)
    return {"seed": seed, "steps": steps, "alpha": kd.SPIRAL_ALPHA,
            "temperature": kd.SPIRAL_TEMPERATURE, "x_spiral": x, "y_spiral": y,
            "x_spiral_test": x_test, "y_spiral_test": y_test, "spiral_teacher": teacher,
            "test_acc": test_acc, "alone_name": ALONE, "distilled_name": DISTILLED,
            "accuracy": accuracy, "dashed": dashed,
            **{k: helpers[k] for k in ("stored_column", "seeds_line")}}


def test_every_exercise_has_a_folded_solution_and_one_check_cell():
    assert set(EXERCISES) <= set(solutions("05"))
    cells = lesson_cells("05")
    for name in EXERCISES:
        assert solutions("05")[name][0] == "python"
        assert f"l05-ex{name}-answer" in cells and f"l05-ex{name}-check" in cells
    code = ["".join(c["source"]) for c in cells.values() if c["cell_type"] == "code"]
    assert all("Solution" not in c for c in code)  # solutions are not run by Run-all


def test_no_answer_is_stated_before_its_exercise():
    """Exercise 2 asks what T² does to the soft term's gradient: the lesson must not say it
    before (it used to, in the cell that introduces the loss)."""
    cells = list(lesson_cells("05").values())
    first = next(i for i, c in enumerate(cells) if c["id"] == "l05-ex1-answer")
    before = " ".join("".join(c["source"]) for c in cells[:first]
                      if c["cell_type"] == "markdown")
    for giveaway in ("1/T²", "in balance whatever T", "shrinks as 1/T"):
        assert giveaway not in before, giveaway


def test_unanswered_exercises_say_not_attempted(tf):
    empty = {"limits": {"T -> 0": None, "T -> infinity": None}, "grad_norms": None,
             "with_t2": None, "knob_accuracy": {"t=1": None, "alpha=0": None}, "best": None,
             "jittered_student": None, "verdict": None,
             "helps": {"a": None, "b": None, "c": None}, **_given_cell(tf),
             "accuracy": None, "test_acc": {"d": 0.5}, "distilled_name": "d",
             "alone_name": "a", "x_spiral_test": None, "y_spiral_test": None,
             "seed": 0, "steps": 10, "alpha": 0.5, "temperature": 4.0}
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


def test_exercise_3_temperature_and_alpha(tf, spiral_lesson):
    ns = run_python(solutions("05")["3"][1], kd=kd, **spiral_lesson)
    knobs, best = ns["knob_accuracy"], ns["best"]
    assert set(knobs) == {"t=1", "alpha=0"}
    assert knobs["t=1"] != knobs["alpha=0"]  # two different students
    assert _status(run_check("3", tf, knob_accuracy=knobs, best=best, **spiral_lesson)) == [
        exercises.CORRECT] * 3
    swapped = {"t=1": knobs["alpha=0"], "alpha=0": knobs["t=1"]}
    other = next(k for k in ("t=1", "alpha=0", "section 5", "alone") if k != best)
    feedback = run_check("3", tf, knob_accuracy=swapped, best=other, **spiral_lesson)
    assert _status(feedback) == [exercises.TRY_AGAIN] * 3
    for f, key in zip(feedback, ("t=1", "alpha=0"), strict=False):  # no key in the hints
        assert f"{knobs[key]:.6g}" not in str(f), key
    feedback = run_check("3", tf, knob_accuracy={"t=1": knobs["t=1"], "alpha=0": None},
                         best="banana", **spiral_lesson)
    assert _status(feedback) == [exercises.CORRECT, exercises.NOT_ATTEMPTED,
                                 exercises.TRY_AGAIN]


def test_exercise_4_the_teachers_jitter(tf, spiral_lesson):
    ns = run_python(solutions("05")["4"][1], kd=kd, **spiral_lesson)
    student, verdict = ns["jittered_student"], ns["verdict"]
    assert run_check("4", tf, jittered_student=student, verdict=verdict,
                     **spiral_lesson).correct
    env.set_seed(0)
    untrained = kd.jittered_mlp(kd.SPIRAL_STUDENT, kd.SPIRAL_TEACHER_NOISE, name="student")
    no_jitter = models.mlp(kd.SPIRAL_STUDENT)
    wrong_verdict = next(v for v in ("better", "same", "worse") if v != verdict)
    for model, answer in ((student, wrong_verdict), (student, "banana"), (untrained, verdict),
                          (no_jitter, verdict), (0.73, verdict)):
        feedback = run_check("4", tf, jittered_student=model, verdict=answer, **spiral_lesson)
        assert feedback.status == exercises.TRY_AGAIN, (model, answer)
    # an untrained model is refused for not being trained, whatever the verdict
    feedback = run_check("4", tf, jittered_student=untrained, verdict=verdict, **spiral_lesson)
    assert "train" in feedback.message


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
