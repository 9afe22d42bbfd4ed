"""Distillation losses against hand-worked values and TF's own losses; the spiral generator;
the training loop on teachers whose answer is known exactly."""

import math

import numpy as np
import pytest

from tinyml_helpers import distillation as kd
from tinyml_helpers import models

# --- regression loss -------------------------------------------------------------------------

def test_distillation_loss_matches_a_hand_computed_value():
    y, s, t = [0.0, 2.0], [1.0, 1.0], [1.0, 3.0]
    # MSE(y, s) = (1 + 1) / 2 = 1;  MSE(t, s) = (0 + 4) / 2 = 2
    assert kd.distillation_loss(y, s, t, alpha=0.25) == pytest.approx(0.25 * 1 + 0.75 * 2)
    assert kd.distillation_loss(y, s, t, alpha=1.0) == pytest.approx(1.0)  # labels only
    assert kd.distillation_loss(y, s, t, alpha=0.0) == pytest.approx(2.0)  # teacher only


def test_distillation_loss_on_tensors_equals_numpy_and_keras_mse(tf):
    rng = np.random.default_rng(0)
    y, s, t = (rng.normal(size=(16, 1)).astype(np.float32) for _ in range(3))
    on_tf = kd.distillation_loss(tf.constant(y), tf.constant(s), tf.constant(t), 0.3)
    assert isinstance(on_tf, tf.Tensor)
    assert float(on_tf) == pytest.approx(kd.distillation_loss(y, s, t, 0.3), rel=1e-5)
    keras_mse = float(tf.keras.losses.MeanSquaredError()(y, s))
    assert kd.distillation_loss(y, s, t, alpha=1.0) == pytest.approx(keras_mse, rel=1e-5)


def test_distillation_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        kd.distillation_loss(np.zeros(3), np.zeros(3), np.zeros(4), 0.5)


# --- classification loss ---------------------------------------------------------------------

def test_soft_target_loss_matches_a_hand_computed_value():
    student = np.array([[0.0, 0.0]])  # softmax: [1/2, 1/2]
    teacher = np.array([[math.log(3.0), 0.0]])  # softmax at T = 1: [3/4, 1/4]
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    ce = math.log(2.0)  # label 0 gets probability 1/2
    loss = kd.soft_target_loss([0], student, teacher, temperature=1.0, alpha=0.4)
    assert loss == pytest.approx(0.4 * ce + 0.6 * kl)


def test_soft_target_loss_equals_keras_crossentropy_and_kldivergence(tf):
    rng = np.random.default_rng(1)
    s, t = (rng.normal(size=(8, 3)).astype(np.float32) * 3 for _ in range(2))
    labels = rng.integers(0, 3, size=8)
    temperature, alpha = 2.5, 0.3
    ce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, s)
    kl = tf.keras.losses.KLDivergence()(tf.nn.softmax(t / temperature),
                                        tf.nn.softmax(s / temperature))
    reference = alpha * float(ce) + (1 - alpha) * temperature**2 * float(kl)
    assert kd.soft_target_loss(labels, s, t, temperature, alpha) == pytest.approx(reference,
                                                                                 rel=1e-5)
    on_tf = kd.soft_target_loss(tf.constant(labels), tf.constant(s), tf.constant(t),
                                temperature, alpha)
    assert float(on_tf) == pytest.approx(reference, rel=1e-5)
    # alpha = 1 is plain cross-entropy, whatever the teacher says
    assert kd.soft_target_loss(labels, s, t, temperature, 1.0) == pytest.approx(float(ce),
                                                                                rel=1e-5)


def test_soft_term_is_scaled_by_temperature_squared():
    rng = np.random.default_rng(2)
    s, t = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    labels = np.zeros(5, dtype=int)
    for temperature in (1.0, 2.0, 7.0):
        soft_only = kd.soft_target_loss(labels, s, t, temperature, alpha=0.0)
        assert soft_only == pytest.approx(temperature**2 * kd.soft_kl(s, t, temperature))
    assert kd.soft_kl(t, t, 3.0) == pytest.approx(0.0, abs=1e-12)  # same logits: no loss


def test_softmax_temperature_limits():
    logits = np.array([[2.0, 1.0, 0.0]])
    np.testing.assert_allclose(kd.softmax(logits).sum(), 1.0)
    np.testing.assert_allclose(kd.softmax(logits, 1e4), [[1 / 3] * 3], atol=1e-4)
    np.testing.assert_allclose(kd.softmax(logits, 1e-3), [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(kd.softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])  # no overflow


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_outside_0_1_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha"):
        kd.distillation_loss([0.0], [0.0], [0.0], alpha)
    with pytest.raises(ValueError, match="alpha"):
        kd.soft_target_loss([0], [[0.0, 1.0]], [[0.0, 1.0]], 1.0, alpha)


@pytest.mark.parametrize("temperature", [0.0, -2.0, float("inf")])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature"):
        kd.soft_target_loss([0], [[0.0, 1.0]], [[0.0, 1.0]], temperature, 0.5)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="labels"):
        kd.soft_target_loss([2], [[0.0, 1.0]], [[0.0, 1.0]], 1.0, 0.5)
    with pytest.raises(TypeError, match="alpha"):
        kd.check_alpha("0.5")


# --- spiral data -----------------------------------------------------------------------------

def test_spiral_shapes_labels_and_determinism():
    x, y = kd.spiral(40, classes=4, noise=0.1, seed=3)
    assert x.shape == (160, 2) and x.dtype == np.float32
    assert y.shape == (160,) and y.dtype == np.int32
    assert np.bincount(y).tolist() == [40, 40, 40, 40]
    x2, y2 = kd.spiral(40, classes=4, noise=0.1, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, kd.spiral(40, classes=4, noise=0.1, seed=4)[0])


def test_noise_free_spiral_points_lie_on_their_arm():
    x, y = kd.spiral(100, classes=3, noise=0.0, seed=0, turns=0.5)
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.min() >= 0.05 - 1e-6 and r.max() <= 1 + 1e-6
    angle = np.arctan2(x[:, 1], x[:, 0])
    expected = 2 * np.pi * (0.5 * r + y / 3)
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_per_class": -5}, ValueError, "n_per_class"),
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class"),
        ({"classes": 1}, ValueError, "classes"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"turns": "1"}, TypeError, "turns"),
    ],
)
def test_spiral_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        kd.spiral(**kwargs)


def test_sine_extra_x_is_uniform_on_one_period_and_repeatable():
    x = kd.sine_extra_x(500, seed=1)
    assert x.shape == (500, 1) and x.min() >= 0 and x.max() <= 2 * np.pi
    assert np.array_equal(x, kd.sine_extra_x(500, seed=1))


# --- models and training ---------------------------------------------------------------------

def test_mlp_rescales_and_adds_dropout(tf):
    model = models.mlp((1, 4, 1), rescale=kd.SINE_RESCALE)
    assert [type(layer).__name__ for layer in model.layers] == ["Rescaling", "Dense", "Dense"]
    np.testing.assert_allclose(model.layers[0](np.array([[0.0], [np.pi], [2 * np.pi]])).numpy(),
                               [[-1.0], [0.0], [1.0]], atol=1e-6)
    assert model.count_params() == 4 + 4 + 5
    kinds = [type(layer).__name__ for layer in models.mlp((2, 8, 8, 3), dropout=0.3).layers]
    assert kinds == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    with pytest.raises(ValueError, match="dropout"):
        models.mlp((2, 3), dropout=1.0)


def _line(tf, w, b):
    """A 1-1 linear Keras model set to y = w·x + b."""
    model = models.mlp((1, 1))
    model.layers[-1].set_weights([np.array([[w]], np.float32), np.array([b], np.float32)])
    return model


def test_alpha_0_copies_the_teacher_and_alpha_1_the_labels(tf):
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(-1, 1)
    labels = np.zeros_like(x)  # the labels say y = 0; the teacher says y = 2x + 1
    teacher = _line(tf, 2.0, 1.0)
    copied = kd.train_student(models.mlp((1, 1)), x, labels, teacher, alpha=0.0, steps=800,
                              learning_rate=0.05)
    np.testing.assert_allclose(copied(x).numpy(), teacher(x).numpy(), atol=0.01)
    fitted = kd.train_student(models.mlp((1, 1)), x, labels, teacher, alpha=1.0, steps=800,
                              learning_rate=0.05)
    np.testing.assert_allclose(fitted(x).numpy(), labels, atol=0.01)


def test_extra_x_teaches_the_student_where_there_are_no_labels(tf):
    x = np.zeros((8, 1), np.float32)  # labels only at x = 0, where the line is 1
    extra = np.linspace(-1, 1, 32, dtype=np.float32).reshape(-1, 1)
    teacher = _line(tf, 2.0, 1.0)
    student = kd.train_student(models.mlp((1, 1)), x, np.ones_like(x), teacher, alpha=0.5,
                               extra_x=extra, steps=800, learning_rate=0.05)
    (w, b), = [layer.get_weights() for layer in student.layers]
    assert w[0, 0] == pytest.approx(2.0, abs=0.02) and b[0] == pytest.approx(1.0, abs=0.02)


def test_soft_targets_transfer_the_teachers_probabilities(tf):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2)).astype(np.float32)
    teacher = models.mlp((2, 3))
    teacher.layers[-1].set_weights([np.array([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]], np.float32),
                                    np.array([0.0, 0.2, -0.2], np.float32)])
    labels = np.zeros(128, np.int32)
    student = kd.train_student(models.mlp((2, 3)), x, labels, teacher, task="classification",
                               alpha=0.0, temperature=2.0, steps=1500, learning_rate=0.05)
    np.testing.assert_allclose(kd.softmax(student(x).numpy()), kd.softmax(teacher(x).numpy()),
                               atol=0.02)


def test_training_is_repeatable(tf):
    from tinyml_helpers.deploy import env
    x = np.linspace(0, 6, 50, dtype=np.float32).reshape(-1, 1)
    weights = []
    for _ in range(2):
        env.set_seed(3)
        model = models.mlp((1, 4, 1), rescale=kd.SINE_RESCALE)
        kd.train_student(model, x, np.sin(x), steps=50, batch_size=16, seed=2)
        weights.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    np.testing.assert_array_equal(weights[0], weights[1])


def test_train_student_refuses_bad_settings(tf):
    model = models.mlp((1, 2, 1))
    x = np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match="extra_x needs a teacher"):
        kd.train_student(model, x, x, extra_x=x)
    with pytest.raises(ValueError, match="task"):
        kd.train_student(model, x, x, task="ranking")
    with pytest.raises(ValueError, match="alpha"):
        kd.train_student(model, x, x, model, alpha=2.0)
    with pytest.raises(ValueError, match="temperature"):
        kd.train_student(model, x, x, model, temperature=0.0)
    with pytest.raises(ValueError, match="same, non-zero length"):
        kd.train_student(model, x, x[:3])
    with pytest.raises(ValueError, match="steps must be positive"):
        kd.train_student(model, x, x, steps=0)
    with pytest.raises(ValueError, match="integer classes"):
        kd.train_student(model, x, np.full(4, 0.5), task="classification")


# --- the spiral teacher and the stored seeds -------------------------------------------------

def test_jittered_mlp_adds_noise_only_while_training(tf):
    from tinyml_helpers.deploy import env
    env.set_seed(4)
    plain = models.mlp(kd.SPIRAL_STUDENT)
    env.set_seed(4)
    jittered = kd.jittered_mlp(kd.SPIRAL_STUDENT, 0.1, name="student")
    assert [layer.name for layer in jittered.layers] == ["jitter", "dense_1", "dense_2",
                                                         "output"]
    for a, b in zip(plain.get_weights(), jittered.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the same start as the plain network
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    np.testing.assert_array_equal(jittered(x, training=False).numpy(), plain(x).numpy())
    moved = jittered(x, training=True).numpy() - plain(x).numpy()
    assert np.abs(moved).max() > 1e-3  # training: the inputs were jittered
    assert [type(layer).__name__ for layer in kd.jittered_mlp((2, 4, 3), 0.0).layers] == [
        "Dense", "Dense"]
    with pytest.raises(ValueError, match="noise"):
        kd.jittered_mlp((2, 4, 3), -0.1)


@pytest.mark.parametrize("ways, error, message", [
    ({}, TypeError, "ways"),
    ({"x": {"temperature": 2.0}}, ValueError, "both temperature and alpha"),
    ({"x": {"alpha": 0.5, "temperature": 2.0, "lr": 1}}, ValueError, "unknown settings"),
    ({"x": {"alpha": 1.5, "temperature": 2.0}}, ValueError, "alpha"),
    ({"x": {"noise": -1.0}}, ValueError, "noise"),
])
def test_spiral_table_refuses_bad_ways_before_training(ways, error, message):
    with pytest.raises(error, match=message):
        kd.spiral_distillation_table(ways=ways)
    with pytest.raises(TypeError, match="int8"):
        kd.spiral_distillation_table(int8=1)


def test_spread_and_a_missing_seeds_file(tmp_path):
    assert kd.spread([3, 1, 2]) == {"mean": 2.0, "min": 1.0, "max": 3.0}
    with pytest.raises(ValueError):
        kd.spread([])
    with pytest.raises(FileNotFoundError, match="distillation_seeds.py --write"):
        kd.stored_seeds(tmp_path / "none.json")


STUDENT = "student 2-16-16-3"


def _stored_accuracy(run: dict, name: str, key: str = "test_accuracy", teacher=None) -> float:
    rows = run["spiral"] if teacher is None else run["spiral_teachers"][teacher]
    return next(r[key] for r in rows if r["name"] == name)


def test_stored_seeds_hold_what_lesson_05_says():
    """The claims lesson 05's prose makes from the stored seeds (at least five of them)."""
    record = kd.stored_seeds()
    runs = list(record["seeds"].values())
    assert len(runs) >= 5 and "--write" in record["command"]
    alone = np.array([_stored_accuracy(r, f"{STUDENT} alone") for r in runs])
    teacher = np.array([_stored_accuracy(r, "teacher 2-64-64-3") for r in runs])
    distilled = np.array([_stored_accuracy(r, f"{STUDENT} distilled") for r in runs])
    assert teacher.mean() > alone.mean() + 0.02  # the teacher clearly beats the student
    assert np.sum(teacher > alone) >= 0.8 * len(runs)
    assert np.all(distilled > alone) and distilled.mean() < teacher.mean()
    for other in ("dropout 0.3", "no regularisation"):  # the jitter is the better recipe
        others = np.array([_stored_accuracy(r, "teacher 2-64-64-3", teacher=other)
                           for r in runs])
        assert others.mean() < teacher.mean() - 0.01, other
    int8 = np.array([_stored_accuracy(r, f"{STUDENT} distilled", "int8_test_accuracy")
                     for r in runs])
    assert np.all(np.abs(int8 - distilled) <= 0.01)  # int8 costs at most a point
    row = next(r for r in runs[0]["spiral"] if r["name"] == f"{STUDENT} distilled")
    assert row["int8_tflite_bytes"] > row["float32_tflite_bytes"]  # too small to shrink
    for widths in ("1-8-1",):  # the too-small student: never more than a tenth either way
        for run in runs:
            mse = {r["name"]: r["test_mse_vs_sin"] for r in run["sine"]}
            for way in ("distilled", f"distilled + {kd.SINE_EXTRA} x"):
                change = mse[f"student {widths} {way}"] / mse[f"student {widths} alone"] - 1
                assert abs(change) < 0.1, (widths, way, change)


def test_stored_seeds_are_what_the_helpers_compute_now(tf):
    """Seed 0 recomputed: the stored record is not stale (lesson 05 prints it beside a live
    run of the same code)."""
    stored = kd.stored_seeds()["seeds"]["0"]
    for fresh, old in zip(kd.sine_distillation_table(0), stored["sine"], strict=True):
        assert fresh["name"] == old["name"]
        assert fresh["test_mse_vs_sin"] == pytest.approx(old["test_mse_vs_sin"], rel=1e-5)
    old_rows = {r["name"]: r for r in stored["spiral"]}
    for fresh in kd.spiral_distillation_table(0, int8=True):
        old = old_rows[fresh["name"]]
        for key, value in fresh.items():
            assert old[key] == (value if key == "name" else pytest.approx(value, abs=1e-9)), key
