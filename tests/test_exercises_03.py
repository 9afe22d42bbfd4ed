"""Lesson 03's exercises: each check cell starts "not attempted", and each checker accepts the
reference solution folded into the notebook (read from the notebook itself) and rejects wrong
answers without raising."""

from __future__ import annotations

import json

import numpy as np
import pytest
from exercise_solutions import lesson_cells, run_cell, run_python, solutions, with_imports

from tinyml_helpers import exercises, models, pruning

EXPECTED_1 = {"hurt": "yes", "one_shot": "no", "small_layers": "no", "middle": "yes"}
YES_NO = {"yes": "yes", "no": "no"}


def _cells() -> dict[str, str]:
    """Return {cell id: source} of lesson 03, and each code cell's text output under id + ':out'."""
    found = {}
    for cell_id, cell in lesson_cells("03").items():
        found[cell_id] = "".join(cell["source"])
        if cell["cell_type"] == "code":
            found[cell_id + ":out"] = "".join(
                "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                for o in cell["outputs"])
    return found


def test_lesson_03_has_three_folded_solutions_and_unanswered_checks():
    assert {"1", "2", "3"} <= set(solutions("03"))
    cells = _cells()
    checks = [k for k in cells if k.startswith("l03-ex") and k.endswith("-check")]
    assert len(checks) == 3
    for key in checks:  # as committed, Run-all leaves every exercise "not attempted"
        assert "not attempted yet" in cells[key + ":out"], key
    # The check cell grades against the answers this test holds the solution to.
    assert json.dumps(EXPECTED_1) in cells["l03-ex1-check"]


def test_exercise_1_could_pruning_hurt():
    ns = run_python(solutions("03")["1"][1])
    feedback = exercises.check_choices(ns["answers"], EXPECTED_1, "answers", YES_NO, "why")
    assert feedback.correct and feedback.message == "why"
    template = run_python(_cells()["l03-ex1-answer"])["answers"]
    for unanswered in (None, template):
        assert exercises.check_choices(unanswered, EXPECTED_1, "answers", YES_NO,
                                       "").status == exercises.NOT_ATTEMPTED
    for wrong in ({**EXPECTED_1, "hurt": "no"}, {**EXPECTED_1, "middle": "maybe"},
                  {**EXPECTED_1, "one_shot": None}, "yes"):
        feedback = exercises.check_choices(wrong, EXPECTED_1, "answers", YES_NO, "")
        assert feedback.status == exercises.TRY_AGAIN, wrong


@pytest.fixture(scope="module")
def sine_untrained(tf):
    """The lesson's 1-16-16-1 architecture; the answer (bytes saved) does not need training.
    Non-zero biases: the converter would leave an all-zero bias vector out of the file."""
    from tinyml_helpers.deploy import env
    env.set_seed(0)
    model = models.sine_model()
    rng = np.random.default_rng(0)
    model.set_weights([w if w.ndim == 2 else rng.normal(0, 0.1, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def test_exercise_2_pruned_float_tflite_is_not_smaller(sine_untrained):
    model = sine_untrained
    dense_tflite = pruning.tflite_bytes(model)
    ns = run_python(solutions("03")["2"][1], model=model, dense_tflite=dense_tflite,
                    pruning=pruning)
    # What the check cell computes:
    expected = len(dense_tflite) - len(pruning.tflite_bytes(
        pruning.prune_weights(model, 0.9, layers=["dense_2"])))
    assert expected == 0  # the lesson's point: a float zero still takes 4 bytes
    assert exercises.check_number(ns["saved_bytes"], expected, "saved_bytes", "").correct
    assert exercises.check_number(None, expected, "saved_bytes",
                                  "").status == exercises.NOT_ATTEMPTED
    zeros = round(0.9 * 256)
    for wrong in (zeros * 4, zeros, "none", [0, 0]):  # 4 bytes per zero saved: a common guess
        feedback = exercises.check_number(wrong, expected, "saved_bytes", "")
        assert feedback.status == exercises.TRY_AGAIN, wrong


def _floor_mask(W, sparsity):
    """A near miss: int() instead of round() for the number of weights removed."""
    order = np.argsort(np.abs(W).ravel(), kind="stable")
    keep = np.ones(W.size, dtype=bool)
    keep[order[:int(sparsity * W.size)]] = False
    return keep.reshape(W.shape)


def _largest_removed(W, sparsity):
    """A wrong rank: removes the largest |w| instead of the smallest."""
    return ~pruning.magnitude_mask(W, 1 - sparsity) if sparsity > 0 else np.ones(W.shape, bool)


def test_exercise_3_my_magnitude_mask():
    mine = run_python(solutions("03")["3"][1])["my_magnitude_mask"]
    rng = np.random.default_rng(3)
    W2 = rng.normal(0, 0.5, (16, 16)).astype(np.float32)
    for W in (W2, rng.normal(size=(1, 16)), rng.normal(size=(16, 1))):
        for sparsity in (0.0, 0.3, 0.6, 0.9):
            feedback = exercises.check_array(mine(W, sparsity), pruning.magnitude_mask(W, sparsity),
                                             "my_magnitude_mask", "", atol=0)
            assert feedback.correct, (W.shape, sparsity, feedback)
    expected = pruning.magnitude_mask(W2, 0.6)
    template = run_python(_cells()["l03-ex3-answer"])["my_magnitude_mask"]
    assert exercises.check_array(template(W2, 0.6), expected, "my_magnitude_mask", "",
                                 atol=0).status == exercises.NOT_ATTEMPTED
    for wrong in (_floor_mask(W2, 0.6), _largest_removed(W2, 0.6), expected.ravel(), "an error"):
        feedback = exercises.check_array(wrong, expected, "my_magnitude_mask", "", atol=0)
        assert feedback.status == exercises.TRY_AGAIN


def _run_check(exercise: str, **names) -> exercises.Feedback:
    """Run lesson 03's own check cell of ``exercise`` with ``names`` as the lesson's variables."""
    namespace = with_imports(exercises=exercises, pruning=pruning, **names)
    feedback = run_cell(_cells()[f"l03-ex{exercise}-check"], namespace)
    assert isinstance(feedback, exercises.Feedback), "a check cell ends with the checker call"
    return feedback


def test_check_cells_2_and_3_run_as_the_notebook_has_them(sine_untrained, capsys):
    model = sine_untrained
    lesson = {"model": model, "dense_tflite": pruning.tflite_bytes(model)}
    saved = run_python(solutions("03")["2"][1], pruning=pruning, **lesson)["saved_bytes"]
    assert _run_check("2", saved_bytes=saved, **lesson).correct
    assert _run_check("2", saved_bytes=None, **lesson).status == exercises.NOT_ATTEMPTED
    assert _run_check("2", saved_bytes=round(0.9 * 256) * 4, **lesson).status == \
        exercises.TRY_AGAIN

    W2 = np.random.default_rng(3).normal(0, 0.5, (16, 16)).astype(np.float32)
    mine = run_python(solutions("03")["3"][1])["my_magnitude_mask"]
    template = run_python(_cells()["l03-ex3-answer"])["my_magnitude_mask"]
    assert _run_check("3", W2=W2, my_magnitude_mask=mine).correct
    assert _run_check("3", W2=W2, my_magnitude_mask=template).status == exercises.NOT_ATTEMPTED
    assert _run_check("3", W2=W2, my_magnitude_mask=_floor_mask).status == exercises.TRY_AGAIN

    def broken(W, sparsity):
        raise IndexError("off by one")

    assert _run_check("3", W2=W2, my_magnitude_mask=broken).status == exercises.TRY_AGAIN
    assert "your function raised IndexError: off by one" in capsys.readouterr().out
