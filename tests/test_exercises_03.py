"""Lesson 03's exercises: each check cell starts "not attempted", and each checker accepts the
reference solution folded into the notebook (read from the notebook itself) and rejects wrong
answers without raising."""

from __future__ import annotations

import json

import numpy as np
import pytest
from exercise_solutions import lesson_cells, run_cell, run_python, solutions, with_imports

from tinyml_helpers import data, exercises, models, pruning

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


@pytest.fixture(scope="module")
def sine_split():
    """A sine data set: neuron_prune ranks neurons on it (the file size does not depend on
    which neurons go)."""
    return data.sine_dataset(200, noise=0.1, seed=0)


def _saving(model, split, n: int) -> int:
    """Bytes the float .tflite loses when n neurons of layer 2 go (TensorFlow's converter)."""
    smaller = pruning.neuron_prune(model, (16, 16 - n), x=split.x_train)
    return len(pruning.tflite_bytes(model)) - len(pruning.tflite_bytes(smaller))


def test_exercise_2_neurons_for_a_500_byte_saving(sine_untrained, sine_split):
    model, split = sine_untrained, sine_split
    ns = run_python(solutions("03")["2"][1])
    answer = ns["neurons_removed"]
    # The converted files agree with the solution's count: 18 parameters of 4 bytes a neuron,
    # so n neurons save 72 n bytes, and the smallest n reaching 500 B is the answer.
    one, before, at = (_saving(model, split, n) for n in (1, answer - 1, answer))
    assert one == ns["per_neuron"] == (16 + 1 + 1) * 4
    assert (before, at) == ((answer - 1) * one, answer * one)
    assert before < 500 <= at
    # The lesson's 'zeros save nothing', which the exercise now builds on.
    zeros = pruning.prune_weights(model, 0.9, layers=["dense_2"])
    assert len(pruning.tflite_bytes(zeros)) == len(pruning.tflite_bytes(model))


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


def _run_check(exercise: str, **names) -> tuple[exercises.Feedback, list]:
    """Run lesson 03's own check cell of ``exercise`` with ``names`` as the lesson's variables;
    return its one Feedback and everything it printed or showed, in order."""
    shown: list = []
    namespace = with_imports(exercises=exercises, pruning=pruning, **names,
                             print=lambda *args, **kwargs: shown.extend(args))
    shown.append(run_cell(_cells()[f"l03-ex{exercise}-check"], namespace))
    found = [f for f in shown if isinstance(f, exercises.Feedback)]
    assert len(found) == 1, "a check cell gives one verdict"
    return found[0], [x for x in shown if x is not None]


def _ex1_lesson() -> dict:
    """Stand-ins for the lesson's measurements that exercise 1's check cell quotes."""
    return {"uniform_rows": [{"sparsity": 0.9, "test_mse_vs_sin": 0.5}], "reference": 0.0005,
            "kind_mse": {"weight": 0.06}, "dense_mse": 0.001,
            "best": {"overall_sparsity": 0.71}, "times": lambda v, r: f"{v / r:.2g}x"}


def test_check_cell_1_hints_without_naming_the_wrong_answers():
    lesson = _ex1_lesson()
    feedback, _ = _run_check("1", answers=EXPECTED_1, **lesson)
    assert feedback.correct
    for wrong in ({**EXPECTED_1, "hurt": "no"}, {**EXPECTED_1, "middle": "no", "one_shot": "yes"}):
        feedback, _ = _run_check("1", answers=wrong, **lesson)
        assert feedback.status == exercises.TRY_AGAIN
        assert "measurement" in feedback.message  # the hint points back at the lesson
        assert not any(question in feedback.message for question in EXPECTED_1), feedback


def test_check_cells_2_and_3_run_as_the_notebook_has_them(sine_untrained, sine_split):
    model, split = sine_untrained, sine_split
    lesson = {"model": model, "split": split, "dense_tflite": pruning.tflite_bytes(model),
              "live": pruning.live_neurons(model, split.x_train)}
    answer = run_python(solutions("03")["2"][1])["neurons_removed"]
    feedback, shown = _run_check("2", neurons_removed=answer, **lesson)
    assert feedback.correct
    assert f"the file is {answer * (16 + 1 + 1) * 4} B smaller" in str(shown[-1])
    feedback, _ = _run_check("2", neurons_removed=None, **lesson)
    assert feedback.status == exercises.NOT_ATTEMPTED
    # one neuron short of the budget, one too many, the bytes instead of the neurons
    for wrong in (answer - 1, answer + 1, 504):
        feedback, _ = _run_check("2", neurons_removed=wrong, **lesson)
        assert feedback.status == exercises.TRY_AGAIN, wrong
        assert str(answer) not in feedback.message.replace(str(wrong), ""), feedback

    W2 = np.random.default_rng(3).normal(0, 0.5, (16, 16)).astype(np.float32)
    mine = run_python(solutions("03")["3"][1])["my_magnitude_mask"]
    template = run_python(_cells()["l03-ex3-answer"])["my_magnitude_mask"]
    assert _run_check("3", W2=W2, my_magnitude_mask=mine)[0].correct
    assert _run_check("3", W2=W2, my_magnitude_mask=template)[0].status == \
        exercises.NOT_ATTEMPTED
    assert _run_check("3", W2=W2, my_magnitude_mask=_floor_mask)[0].status == \
        exercises.TRY_AGAIN

    def broken(W, sparsity):
        raise IndexError("off by one")

    feedback, shown = _run_check("3", W2=W2, my_magnitude_mask=broken)
    assert feedback.status == exercises.TRY_AGAIN
    assert "your function raised IndexError: off by one" in shown
