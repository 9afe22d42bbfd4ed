"""Lesson 07's exercises: the folded solutions (read from the notebook, so the solution a student
opens is the one tested) pass the lesson's own check cells (also read from the notebook), and
those check cells say "not attempted" for an empty answer and "try again" for wrong ones.

The lesson's variables are recreated cheaply: a confusion matrix and scores stand in for the
trained autoencoder's, whose values the answers do not depend on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from exercise_solutions import cell_source, lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import anomaly, exercises, vibration

ANSWERS = {"1": "precision_1pc", "2": "auc_per_speed", "3": "stopped_fan", "4": "amplitude_4hz"}


def _check_cell(exercise: str) -> str:
    """Return the source of the check cell of an exercise (the cell after its answer cell)."""
    ids = list(lesson_cells("07"))
    assert ids[ids.index(f"l07-ex{exercise}-answer") + 1] == f"l07-ex{exercise}-check"
    return cell_source("07", f"l07-ex{exercise}-check")


def _run_check(exercise: str, answer, **names) -> exercises.Feedback:
    """Run an exercise's check cell with ``answer`` and the lesson's variables; return what it
    shows (the value of its last expression)."""
    namespace = {"np": np, "anomaly": anomaly, "exercises": exercises,
                 ANSWERS[exercise]: answer, **names}
    feedback = run_cell(_check_cell(exercise), namespace)
    assert isinstance(feedback, exercises.Feedback), "a check cell ends with the checker call"
    return feedback


@pytest.fixture(scope="module")
def lesson():
    """Stand-ins for the lesson's variables: ae_cm, ae_test and a small fan test set."""
    rng = np.random.default_rng(0)
    speeds = np.array(["off"] * 20 + ["low"] * 20 + ["medium"] * 20 + ["high"] * 20
                      + ["low"] * 5 + ["medium"] * 5 + ["high"] * 5)
    y = np.r_[np.zeros(80, np.int64), np.ones(15, np.int64)]
    scores = rng.gamma(2.0, 0.05, len(y)) + y * rng.uniform(0.0, 0.4, len(y))
    x_test = vibration.windows("high", 2, imbalance=True, seed=0)
    fan = SimpleNamespace(y_test=y, speed_test=speeds, x_test=x_test)
    return {"ae_cm": np.array([[1055, 25], [13, 107]]), "ae_test": scores, "fan": fan}


def test_the_lesson_has_four_folded_solutions():
    assert set(solutions("07")) == set(ANSWERS)
    assert all(language == "python" for language, _ in solutions("07").values())


@pytest.mark.parametrize("exercise", sorted(ANSWERS))
def test_empty_answers_say_not_attempted(exercise, lesson):
    feedback = _run_check(exercise, None, **lesson)
    assert feedback.status == exercises.NOT_ATTEMPTED
    assert ANSWERS[exercise] in feedback.message


def test_exercise_1_precision_when_coins_are_rarer(lesson):
    ns = run_python(solutions("07")["1"][1], **lesson)
    assert _run_check("1", ns["precision_1pc"], **lesson).correct
    recall, false_alarms = 107 / 120, 25 / 1080
    assert ns["precision_1pc"] == pytest.approx(0.01 * recall / (0.01 * recall
                                                                 + 0.99 * false_alarms))
    # The precision of the 10 % test set, a 50/50 one, and the recall are all wrong here.
    for wrong in (107 / 132, recall / (recall + false_alarms), recall, "low", [0.3]):
        assert _run_check("1", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_2_auc_per_speed(lesson):
    ns = run_python(solutions("07")["2"][1], anomaly=anomaly, **lesson)
    assert _run_check("2", ns["auc_per_speed"], **lesson).correct
    fan = lesson["fan"]
    overall = anomaly.auc(lesson["ae_test"], fan.y_test)
    for wrong in ([overall] * 3, ns["auc_per_speed"][::-1], ns["auc_per_speed"][:2], "high"):
        assert _run_check("2", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_3_coin_on_a_stopped_fan(lesson):
    ns = run_python(solutions("07")["3"][1])
    assert _run_check("3", ns["stopped_fan"], **lesson).correct
    for wrong in ("a", "c", "rises", 2):
        assert _run_check("3", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_4_goertzel_by_hand(lesson):
    ns = run_python(solutions("07")["4"][1], **lesson)
    assert _run_check("4", ns["amplitude_4hz"], **lesson).correct
    x = lesson["fan"].x_test[-1, :, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x - x.mean())) / len(x)
    # Without the factor 2, the neighbouring bin, the squared magnitude: not the amplitude.
    for wrong in (spectrum[4], 2 * spectrum[5], (2 * spectrum[4]) ** 2):
        assert _run_check("4", wrong, **lesson).status == exercises.TRY_AGAIN, wrong
