"""Lesson 01's exercises: each answer cell starts empty and its check cell says "not attempted",
each check cell (run from the notebook itself) accepts the folded reference solution and
rejects wrong answers without raising."""

from __future__ import annotations

import numpy as np
import pytest
from exercise_solutions import lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import data, exercises, models
from tinyml_helpers.deploy import env

CELLS = {cell_id: "".join(cell["source"]) for cell_id, cell in lesson_cells("01").items()}


def check(exercise: str, answer_name: str, answer, lesson: dict) -> exercises.Feedback:
    """Return what exercise ``exercise``'s check cell says about ``answer``."""
    namespace = {**lesson, answer_name: answer}
    return run_cell(CELLS[f"l01-ex{exercise}-check"], namespace)


@pytest.fixture(scope="module")
def lesson(tf):
    """The lesson's variables the exercises use: the one-neuron problem of section 5 (its
    cell, run as is), the data split, and section 8's ``plain`` model (spread bends, constant
    learning rate, no revival), trained briefly: the exercises do not depend on how well."""
    namespace = {"np": np, "tf": tf, "exercises": exercises}
    run_cell(CELLS["cell-14"], namespace)  # X, Y, mse, gradient_descent (and the tape check)
    split = data.split(*data.sine_samples(1000, noise=0.1, seed=0), fractions=(0.6, 0.2, 0.2))
    env.set_seed(0)
    plain = models.sine_model(seed=0)
    models.fit(plain, split, epochs=150, progress=False)
    namespace.update(split=split, noise=0.1, plain=plain, relu=lambda z: np.maximum(0.0, z))
    return namespace


def test_every_exercise_has_an_empty_answer_a_check_and_a_folded_solution():
    assert set(solutions("01")) == {"1", "2", "3", "4"}
    for n in "1234":
        assert f"l01-ex{n}-answer" in CELLS and f"l01-ex{n}-check" in CELLS
        assert "None" in CELLS[f"l01-ex{n}-answer"]
    # Solutions are folded Markdown, not code that Run-all executes.
    code = [CELLS[i] for i, cell in lesson_cells("01").items() if cell["cell_type"] == "code"]
    assert not any("solution" in source.lower() for source in code)


@pytest.mark.parametrize("n, name", [("1", "benefits"), ("2", "perfect_mse"), ("3", "lr_max"),
                                     ("4", "dead_neurons")])
def test_the_answer_cells_as_given_are_not_attempted(lesson, n, name):
    namespace = dict(lesson)
    run_cell(CELLS[f"l01-ex{n}-answer"], namespace)
    feedback = check(n, name, namespace[name], lesson)
    assert feedback.status == exercises.NOT_ATTEMPTED
    assert "not attempted yet" in str(feedback)


def test_exercise_1_why_on_the_device(lesson):
    answer = run_python(solutions("01")["1"][1])["benefits"]
    assert check("1", "benefits", answer, lesson).correct
    for wrong in ({**answer, "a": "energy", "b": "privacy"}, {**answer, "c": "speed"},
                  {**answer, "d": None}, ["privacy", "energy", "latency", "bandwidth"]):
        assert check("1", "benefits", wrong, lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_2_noise_floor(lesson):
    ns = run_python(solutions("01")["2"][1], mse=lesson["mse"], split=lesson["split"])
    assert check("2", "perfect_mse", ns["perfect_mse"], lesson).correct
    # The noise variance is only the average: on this test set the floor differs from it.
    assert abs(ns["perfect_mse"] / 0.1**2 - 1) > 0.02
    for wrong in (0.1**2, 0.1, 0.0, "low"):
        assert check("2", "perfect_mse", wrong, lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_3_largest_stable_learning_rate(lesson):
    ns = run_python(solutions("01")["3"][1], X=lesson["X"], Y=lesson["Y"],
                    gradient_descent=lesson["gradient_descent"])
    assert check("3", "lr_max", ns["lr_max"], lesson).correct
    assert ns["below"][-1] < 1e-6 and ns["above"][-1] > 1e6  # converges, then diverges
    for wrong in (0.2, 0.19, 2 * ns["lr_max"], [ns["lr_max"]] * 2):
        assert check("3", "lr_max", wrong, lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_4_dead_neurons(lesson):
    ns = run_python(solutions("01")["4"][1], relu=lesson["relu"], split=lesson["split"],
                    plain=lesson["plain"])
    dead = ns["dead_neurons"]
    assert check("4", "dead_neurons", dead, lesson).correct
    assert 0 < len(dead) < 16  # trained without the aids, it lost some neurons, not all
    live = [i for i in range(16) if i not in set(dead)]
    for wrong in (live, list(dead[:-1]), list(range(16)), [int(dead[0]) + 0.5]):
        assert check("4", "dead_neurons", wrong, lesson).status == exercises.TRY_AGAIN, wrong
    # The same solution finds Keras' dead start: every neuron with a negative weight.
    keras_start = models.mlp((1, 16, 16, 1))  # biases 0, as Keras starts them
    W1 = keras_start.get_layer("dense_1").get_weights()[0]
    at_start = run_python(solutions("01")["4"][1], relu=lesson["relu"], split=lesson["split"],
                          plain=keras_start)["dead_neurons"]
    assert list(at_start) == list(np.flatnonzero(W1[0] < 0))
    assert check("4", "dead_neurons", at_start, {**lesson, "plain": keras_start}).correct


def test_the_trained_course_model_has_no_dead_neuron(lesson):
    """The solution's lines on the course's trained model (both aids) find none."""
    model, _ = models.trained_sine_model(seed=0, epochs=150)
    ns = run_python(solutions("01")["4"][1], relu=lesson["relu"], split=lesson["split"],
                    plain=model)
    assert list(ns["dead_neurons"]) == []
