"""Lesson 07's exercises: the folded solutions (read from the notebook, so the solution a student
opens is the one tested) pass the lesson's own check cells (also read from the notebook), and
those check cells say "not attempted" for an empty answer and "try again" for wrong ones.

The lesson's variables are recreated cheaply: a confusion matrix stands in for the per-speed
ellipses' (the answers do not depend on its values), and the real recordings are split as the
lesson splits them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from exercise_solutions import cell_source, lesson_cells, run_cell, run_python, solutions

from tinyml_helpers import anomaly, exercises, fan_recordings, vibration

ANSWERS = {"1": "precision_1pc", "2": "auc_80hz", "3": "stopped_fan", "4": "amplitude_80hz"}


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
    """Stand-ins for the lesson's variables: speed_m (its confusion matrix) and the real split."""
    fan = fan_recordings.split(fan_recordings.load())
    speed_m = SimpleNamespace(confusion=np.array([[727, 7], [22, 56]]))
    return {"speed_m": speed_m, "fan": fan}


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
    recall, false_alarms = 56 / 78, 7 / 734
    assert ns["precision_1pc"] == pytest.approx(0.01 * recall / (0.01 * recall
                                                                 + 0.99 * false_alarms))
    # The precision of the 10 % test set, a 50/50 one, and the recall are all wrong here.
    for wrong in (56 / 63, recall / (recall + false_alarms), recall, "low", [0.3]):
        assert _run_check("1", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_2_a_feature_at_80_hz_on_the_real_fan(lesson):
    fan = lesson["fan"]
    f_train, f_test = vibration.features(fan.x_train), vibration.features(fan.x_test)
    scale = anomaly.fit_scaler(f_train)
    per_speed = anomaly.fit_mahalanobis_groups(scale(f_train), fan.speed_train)
    ns = run_python(solutions("07")["2"][1], anomaly=anomaly, vibration=vibration,
                    per_speed=per_speed, z_test=scale(f_test), **lesson)
    feedback = _run_check("2", ns["auc_80hz"], **lesson)
    assert feedback.correct and "the 12 features at high speed" in feedback.message
    from sklearn.metrics import roc_auc_score
    high = fan.speed_test == "high"
    hum = 2 * np.abs(np.fft.rfft(fan.x_test - fan.x_test.mean(axis=1, keepdims=True),
                                 axis=1)[:, 80, :]) / 200
    assert hum.shape == (len(fan.x_test), 3)
    # The 80 Hz amplitude of a window's x axis equals the DFT bin summed by hand (float32 data).
    n = np.arange(200)
    x = fan.x_test[0, :, 0] - fan.x_test[0, :, 0].mean()
    by_hand = 2 * abs(np.sum(x * np.exp(-2j * np.pi * 80 * n / 200))) / 200
    assert hum[0, 0] == pytest.approx(by_hand, rel=1e-5)
    scores_12 = per_speed.score(scale(f_test))
    before = roc_auc_score(fan.y_test[high], scores_12[high])  # the solution's "before"
    assert ns["before"] == pytest.approx(before, abs=1e-12)
    # Wrong answers: every speed at once, the 12-feature AUC, a number out of range.
    all_speeds = exercises._auc_80hz(fan, with_hum=True, high_only=False)
    for wrong, words in ((all_speeds, "every speed"), (before, "12-feature"),
                         (1.5, "between 0 and 1"), ("high", "between 0 and 1"),
                         (0.5, "is not it")):
        got = _run_check("2", wrong, **lesson)
        assert got.status == exercises.TRY_AGAIN and words in got.message, (wrong, got)


def test_exercise_3_coin_on_a_stopped_fan(lesson):
    ns = run_python(solutions("07")["3"][1])
    assert _run_check("3", ns["stopped_fan"], **lesson).correct
    for wrong in ("a", "c", "rises", 2):
        assert _run_check("3", wrong, **lesson).status == exercises.TRY_AGAIN, wrong


def test_exercise_4_goertzel_by_hand(lesson):
    ns = run_python(solutions("07")["4"][1], **lesson)
    assert _run_check("4", ns["amplitude_80hz"], **lesson).correct
    x = lesson["fan"].x_test[-1, :, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x - x.mean())) / len(x)
    # Without the factor 2, the neighbouring bin, the squared magnitude: not the amplitude.
    for wrong in (spectrum[80], 2 * spectrum[79], (2 * spectrum[80]) ** 2):
        assert _run_check("4", wrong, **lesson).status == exercises.TRY_AGAIN, wrong
