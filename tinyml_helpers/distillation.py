"""Knowledge distillation: a small student learns from a big teacher's outputs (lesson 05).

Two losses, each usable on NumPy arrays (to read and check) or TensorFlow tensors (to train):

- regression: L = α·MSE(y, s) + (1 − α)·MSE(t, s), the student's output s pulled towards the
  labels y and towards the teacher's output t;
- classification (Hinton et al. 2015): L = α·CE(labels, softmax(s)) +
  (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)) on logits s and t at temperature T.

:func:`train_student` trains any Keras model with either loss in one compiled TensorFlow loop
(much faster than ``model.fit`` for these tiny models), optionally on extra unlabeled inputs
that only the teacher labels. :func:`spiral` makes the classification data and
:func:`jittered_mlp` the spiral teacher, trained on jittered copies of its points.

``measured/distillation_seeds.json`` (by ``benchmarks/distillation_seeds.py --write``) holds
both experiments over several seeds; :func:`stored_seeds` reads it and lesson 05 prints it
beside its live seed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from . import checks, data, measurements, models, sizing
from .deploy import env
from .deploy.env import import_tf

TASKS = ("regression", "classification")

# Lesson 05's two experiments; the notebook and the *_distillation_table functions share them.
SINE_RESCALE = (1 / math.pi, -1.0)  # x in [0, 2π] -> [-1, 1]
SINE_TEACHER = (1, 64, 64, 1)
SINE_STUDENTS = ((1, 16, 1), (1, 8, 1))
SINE_ALPHA = 0.5
SINE_EXTRA = 2000  # fresh unlabeled x in [0, 2π] that the teacher labels
SPIRAL = {"n_per_class": 50, "classes": 3, "noise": 0.15, "turns": 0.75}
SPIRAL_TEST_PER_CLASS = 2000
SPIRAL_TEACHER = (2, 64, 64, 3)
# The teacher trains on jittered inputs (std of the jitter in x and y). Over seeds 0-9 this
# teacher beat the student trained alone where one with dropout 0.3 (the earlier recipe) or
# without any regularisation did not: benchmarks/distillation_seeds.py compares the three.
SPIRAL_TEACHER_NOISE = 0.1
SPIRAL_STUDENT = (2, 16, 16, 3)
SPIRAL_TEMPERATURE = 4.0
SPIRAL_ALPHA = 0.5
# How lesson 05 trains its spiral students: {way: settings}. No settings: the labels alone;
# "temperature" and "alpha": distilled from the teacher; "noise": the student gets the
# teacher's jitter too.
SPIRAL_WAYS = {"alone": {}, "distilled": {"temperature": SPIRAL_TEMPERATURE,
                                          "alpha": SPIRAL_ALPHA}}
STEPS = 6000  # mini-batches of 64 for every model in both experiments
SEEDS_FILE = measurements.DISTILLATION_SEEDS
SEEDS_COMMAND = measurements.command(SEEDS_FILE)


def check_alpha(alpha) -> float:
    """Return ``alpha`` as a float after checking 0 <= alpha <= 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (the weight of the true labels), got {alpha}")
    return float(alpha)


def check_temperature(temperature) -> float:
    """Return ``temperature`` as a float after checking it is finite and > 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number > 0, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    return float(temperature)


def _is_tf(*values) -> bool:
    return any(type(v).__module__.startswith("tensorflow") for v in values)


def _mean(v):
    if _is_tf(v):
        return import_tf().reduce_mean(v)
    return float(np.mean(v))


def log_softmax(logits, temperature: float = 1.0):
    """Return log(softmax(logits / temperature)) over the last axis (NumPy or TF)."""
    temperature = check_temperature(temperature)
    if _is_tf(logits):
        return import_tf().nn.log_softmax(logits / temperature, axis=-1)
    logits = checks.check_array("logits", logits, ndim=(1, 2))
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)  # same result, no overflow in exp
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits, temperature: float = 1.0):
    """Return softmax(logits / temperature) over the last axis (NumPy or TF)."""
    out = log_softmax(logits, temperature)
    return import_tf().exp(out) if _is_tf(out) else np.exp(out)


def distillation_loss(y_true, student_out, teacher_out, alpha: float):
    """Return α·MSE(y_true, student) + (1 − α)·MSE(teacher, student), a scalar."""
    alpha = check_alpha(alpha)
    if _is_tf(y_true, student_out, teacher_out):
        shapes = [tuple(getattr(v, "shape", np.shape(v))) for v in (y_true, student_out,
                                                                     teacher_out)]
        if None not in sum(shapes, ()) and len(set(shapes)) != 1:
            # TensorFlow would broadcast (n, 1) against (n,) into (n, n) without a word.
            raise ValueError(f"y_true, student_out and teacher_out must have one shape, got "
                             f"{shapes[0]}, {shapes[1]} and {shapes[2]}")
    else:
        y_true, student_out, teacher_out = (
            np.asarray(checks.check_array(name, a), dtype=np.float64) for name, a in
            (("y_true", y_true), ("student_out", student_out), ("teacher_out", teacher_out))
        )
        if not y_true.shape == student_out.shape == teacher_out.shape:
            raise ValueError(
                f"y_true, student_out and teacher_out must have one shape, got {y_true.shape}, "
                f"{student_out.shape} and {teacher_out.shape}"
            )
    hard = _mean((y_true - student_out) ** 2)
    soft = _mean((teacher_out - student_out) ** 2)
    return alpha * hard + (1.0 - alpha) * soft


def soft_target_loss(labels, student_logits, teacher_logits, temperature: float, alpha: float):
    """Return α·CE(labels, s) + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)), batch-averaged.

    ``labels`` are integer classes; the logits have shape (batch, classes). Why the soft term
    is scaled by T² is lesson 05's exercise 2.
    """
    alpha, temperature = check_alpha(alpha), check_temperature(temperature)
    if not _is_tf(labels, student_logits, teacher_logits):
        labels = checks.check_array("labels", labels).reshape(-1)
        s = checks.check_array("student_logits", student_logits)
        t = checks.check_array("teacher_logits", teacher_logits)
        if s.ndim != 2 or s.shape != t.shape or len(labels) != len(s):
            raise ValueError(
                f"need logits of one shape (batch, classes) and one label per row, got "
                f"student {s.shape}, teacher {t.shape}, labels {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or (
            labels.max() >= s.shape[1]
        ):
            raise ValueError(f"labels must be integer classes in [0, {s.shape[1]}), got {labels}")
    hard = cross_entropy(labels, student_logits)
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft_kl(
        student_logits, teacher_logits, temperature)


def cross_entropy(labels, logits):
    """Return the batch mean of −log softmax(logits)[label] (NumPy or TF)."""
    if _is_tf(labels, logits):
        tf = import_tf()
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        return -tf.reduce_mean(tf.gather(log_softmax(logits), labels, axis=1, batch_dims=1))
    labels = checks.check_array("labels", labels).reshape(-1)
    logits = checks.check_array("logits", logits, ndim=2)
    _check_classes(labels, logits)
    return -float(np.mean(log_softmax(logits)[np.arange(len(labels)), labels]))


def _check_classes(labels: np.ndarray, logits: np.ndarray) -> None:
    if len(labels) != len(logits):
        raise ValueError(f"need one label per row of logits, got {len(labels)} labels for "
                         f"{len(logits)} rows")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or (
            labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must be integer classes in [0, {logits.shape[1]}), got "
                         f"{labels}")


def soft_kl(student_logits, teacher_logits, temperature: float):
    """Return the batch mean of KL(softmax(t/T) ‖ softmax(s/T)) (NumPy or TF)."""
    if not _is_tf(student_logits, teacher_logits):
        s = checks.check_array("student_logits", student_logits, ndim=2)
        t = checks.check_array("teacher_logits", teacher_logits, ndim=2)
        if s.shape != t.shape:
            raise ValueError(f"student_logits and teacher_logits must have one shape, got "
                             f"{s.shape} and {t.shape}")
    p_teacher = softmax(teacher_logits, temperature)
    log_ratio = log_softmax(teacher_logits, temperature) - log_softmax(student_logits, temperature)
    if _is_tf(p_teacher):
        tf = import_tf()
        return tf.reduce_mean(tf.reduce_sum(p_teacher * log_ratio, axis=-1))
    return float(np.mean(np.sum(p_teacher * log_ratio, axis=-1)))


def _batches(n: int, steps: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Return (steps, batch) sample indices: shuffled epochs laid end to end."""
    size = min(batch_size, n)
    epochs = -(-steps * size // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return order[: steps * size].reshape(steps, size).astype(np.int32)


def _check_positive_int(name: str, value) -> int:
    return checks.check_int(name, value, 1)


def _training_data(student, x, y, task: str):
    """Return (x as float32, y as the task needs it, the student's (inputs, outputs)) after
    checking them against each other and the student."""
    x = checks.check_array("x", x, ndim=2, allow_empty=True)
    y = checks.check_array("y", y, ndim=(1, 2), allow_empty=True)
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y need the same, non-zero length, got {len(x)} and {len(y)}")
    n_in, n_out = models.io_widths(student)
    if n_in is not None and x.shape[1] != n_in:
        raise ValueError(f"x has {x.shape[1]} features per row but the student takes {n_in}")
    if task == "classification":
        if not np.all(np.asarray(y) == np.round(y)) or np.min(y) < 0:
            raise ValueError("classification labels must be integer classes >= 0")
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(f"classification labels must be one class per row, got shape "
                             f"{y.shape}")
        if n_out is not None and np.max(y) >= n_out:
            raise ValueError(f"classification labels must be classes 0..{n_out - 1} (the "
                             f"student has {n_out} outputs), got label {int(np.max(y))}")
        y = np.asarray(y, dtype=np.int32).reshape(-1)
    else:
        y = np.asarray(y, dtype=np.float32).reshape(len(x), -1)
        if n_out is not None and y.shape[1] != n_out:
            raise ValueError(f"y has {y.shape[1]} values per row but the student outputs "
                             f"{n_out}")
    return x, y, (n_in, n_out)


def train_student(student, x, y, teacher=None, *, task: str = "regression", alpha: float = 0.5,
                  temperature: float = 1.0, extra_x=None, steps: int = STEPS,
                  batch_size: int = 64, learning_rate: float = 0.01, seed: int = 0):
    """Train the Keras model ``student`` in place for ``steps`` mini-batches; return it.

    Without a ``teacher`` this is ordinary training on the labels (MSE, or cross-entropy on
    logits for ``task="classification"``), so the same function trains the teachers. With a
    Keras ``teacher``, each step minimises :func:`distillation_loss` or
    :func:`soft_target_loss`. ``extra_x`` are unlabeled inputs only the teacher labels: the
    label term then averages over a batch of ``x``, the teacher term over a batch drawn from
    ``x`` and ``extra_x`` together. Adam's learning rate decays along a cosine to 1 % of
    ``learning_rate``; ``seed`` fixes the batch order (initial weights are the model's own).
    The whole loop runs as one compiled TensorFlow graph: no per-epoch Python overhead.
    """
    models.check_model(student, "student")
    if teacher is not None:
        models.check_model(teacher, "teacher")
    task = checks.check_choice("task", task, TASKS)
    alpha, temperature = check_alpha(alpha), check_temperature(temperature)
    steps = _check_positive_int("steps", steps)
    batch_size = _check_positive_int("batch_size", batch_size)
    models.check_learning_rate(learning_rate)
    seed = checks.check_seed(seed)
    # Everything is checked before any training: NaN inputs or labels would otherwise train
    # silently into NaN weights.
    x, y, (n_in, n_out) = _training_data(student, x, y, task)
    if teacher is None:
        if extra_x is not None:
            raise ValueError("extra_x needs a teacher to label it")
        alpha = 1.0  # labels only
    else:
        t_in, t_out = models.io_widths(teacher)
        if (t_in, t_out) != (n_in, n_out) and None not in (t_in, t_out, n_in, n_out):
            raise ValueError(f"teacher maps {t_in} inputs to {t_out} outputs but the student "
                             f"{n_in} to {n_out}: they must match")
    if extra_x is not None:
        extra_x = checks.check_array("extra_x", extra_x, ndim=2)
        if extra_x.shape[1:] != x.shape[1:]:
            raise ValueError(f"extra_x rows must look like x rows {x.shape[1:]}, got "
                             f"{extra_x.shape[1:]}")
    pool = x if extra_x is None else np.concatenate([x, np.asarray(extra_x, np.float32)])
    if teacher is None:
        targets = np.zeros((len(pool), 1), np.float32)  # unused placeholder
    else:  # the teacher is fixed: label every input once, up front
        targets = np.asarray(teacher(pool, training=False), dtype=np.float32)

    rng = np.random.default_rng(seed)
    label_idx = _batches(len(x), steps, batch_size, rng)
    pool_idx = label_idx if extra_x is None else _batches(len(pool), steps, batch_size, rng)
    return _run(student, x, y, pool, targets, label_idx, pool_idx, task, alpha, temperature,
                learning_rate)


def _run(student, x, y, pool, targets, label_idx, pool_idx, task, alpha, temperature, lr):
    tf = import_tf()
    schedule = tf.keras.optimizers.schedules.CosineDecay(lr, len(label_idx), alpha=0.01)
    optimizer = tf.keras.optimizers.Adam(learning_rate=schedule)
    weights = student.trainable_variables
    optimizer.build(weights)  # variables must exist before the compiled loop
    x, y, pool, targets = (tf.constant(a) for a in (x, y, pool, targets))
    same_batch = pool_idx is label_idx

    # Plain tensor maths: AutoGraph need not (and, for the helpers' lazy TF import, cannot)
    # rewrite it; only the loop below needs converting.
    @tf.autograph.experimental.do_not_convert
    def loss_fn(xb, yb, pb, tb):
        s = student(xb, training=True)
        s_pool = s if same_batch else student(pb, training=True)
        if task == "regression":
            hard = tf.reduce_mean((yb - s) ** 2)
            if alpha == 1.0:
                return hard
            return alpha * hard + (1 - alpha) * tf.reduce_mean((tb - s_pool) ** 2)
        hard = cross_entropy(yb, s)
        if alpha == 1.0:
            return hard
        return alpha * hard + (1 - alpha) * temperature**2 * soft_kl(s_pool, tb, temperature)

    @tf.function
    def loop(label_idx, pool_idx):
        loss = tf.constant(0.0)
        for i in tf.range(tf.shape(label_idx)[0]):
            li, pi = label_idx[i], pool_idx[i]
            with tf.GradientTape() as tape:
                loss = loss_fn(tf.gather(x, li), tf.gather(y, li), tf.gather(pool, pi),
                               tf.gather(targets, pi))
            optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        return loss

    loop(tf.constant(label_idx), tf.constant(pool_idx))
    return student


def spiral(n_per_class: int = 50, classes: int = 3, noise: float = 0.15, seed: int = 0,
           turns: float = 0.75):
    """Return (x, labels): ``classes`` interleaved spiral arms, x of shape (n, 2) in about [-1, 1].

    Arm k holds ``n_per_class`` points at radius r (uniform in [0.05, 1]) and angle
    2π·(turns·r + k/classes), moved by Gaussian noise of std ``noise`` in x and y, so the arms
    blur into each other as noise grows. Rows come shuffled; labels are int32 0..classes-1.
    """
    n_per_class = _check_positive_int("n_per_class", n_per_class)
    classes = _check_positive_int("classes", classes)
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    for name, value in (("noise", noise), ("turns", turns)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    rng = np.random.default_rng(checks.check_seed(seed))
    r = rng.uniform(0.05, 1.0, size=(classes, n_per_class))
    k = np.arange(classes)[:, None]
    angle = 2 * np.pi * (turns * r + k / classes)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=-1).reshape(-1, 2)
    x = x + noise * rng.standard_normal(x.shape)
    labels = np.repeat(np.arange(classes), n_per_class)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), labels[order].astype(np.int32)


def sine_extra_x(num_samples: int = SINE_EXTRA, seed: int = 0) -> np.ndarray:
    """Return (num_samples, 1) fresh unlabeled x, uniform in [0, 2π], for the teacher to label."""
    num_samples = _check_positive_int("num_samples", num_samples)
    # A stream apart from data.sine_dataset(seed)'s.
    rng = np.random.default_rng([checks.check_seed(seed), 5])
    return rng.uniform(0.0, 2 * math.pi, size=(num_samples, 1)).astype(np.float32)


def sine_distillation_table(seed: int = 0, steps: int = STEPS) -> list[dict]:
    """Return rows {name, params, bytes, test_mse_vs_sin} of lesson 05's sine experiment.

    Rows: the teacher, then each student trained alone, distilled, and distilled with
    :data:`SINE_EXTRA` teacher-labelled extra x (about 10 s on two cores).
    """

    seed, steps = checks.check_seed(seed), _check_positive_int("steps", steps)
    split = data.sine_dataset(1000, noise=0.1, seed=seed)

    def row(name, widths, model):
        err = np.mean((model(split.x_test).numpy() - np.sin(split.x_test)) ** 2)
        return {"name": name, "params": sizing.count_params(list(widths)),
                "bytes": sizing.model_bytes(list(widths), "float32"),
                "test_mse_vs_sin": float(err)}

    env.set_seed(seed)
    teacher = models.mlp(SINE_TEACHER, rescale=SINE_RESCALE, name="teacher")
    train_student(teacher, split.x_train, split.y_train, steps=steps, seed=seed)
    rows = [row(f"teacher {_dashed(SINE_TEACHER)}", SINE_TEACHER, teacher)]
    ways = {"alone": {}, "distilled": {"teacher": teacher, "alpha": SINE_ALPHA},
            f"distilled + {SINE_EXTRA} x": {"teacher": teacher, "alpha": SINE_ALPHA,
                                            "extra_x": sine_extra_x(SINE_EXTRA, seed)}}
    for widths in SINE_STUDENTS:
        for way, kwargs in ways.items():
            env.set_seed(seed)  # every student of one size starts from the same weights
            student = models.mlp(widths, rescale=SINE_RESCALE, name="student")
            train_student(student, split.x_train, split.y_train, steps=steps, seed=seed, **kwargs)
            rows.append(row(f"student {_dashed(widths)} {way}", widths, student))
    return rows


def jittered_mlp(widths: Sequence[int] = SPIRAL_TEACHER, noise: float = SPIRAL_TEACHER_NOISE,
                 dropout: float = 0.0, name: str = "teacher"):
    """Return ``models.mlp(widths, dropout=dropout)`` with a GaussianNoise layer "jitter" first.

    While training, the layer moves every input by fresh Gaussian noise of std ``noise`` (in
    each coordinate), so each step sees new jittered copies of the points; when predicting it
    passes inputs unchanged. The Dense layers start from the same weights as
    ``models.mlp(widths)`` under the same seed. ``noise=0`` returns the plain ``models.mlp``.
    """
    noise = checks.check_number("noise", noise, low=0.0, high=10.0)
    base = models.mlp(widths, dropout=dropout, name=name)
    if noise == 0:
        return base
    tf = import_tf()
    return tf.keras.Sequential([tf.keras.Input(shape=(base.input_shape[-1],), name="x"),
                                tf.keras.layers.GaussianNoise(noise, name="jitter"),
                                *base.layers], name=name)


def _check_ways(ways) -> dict[str, dict]:
    if not isinstance(ways, dict) or not ways:
        raise TypeError(f"ways must be a non-empty {{name: settings}} dict, got {ways!r}")
    for name, settings in ways.items():
        if not isinstance(name, str) or not isinstance(settings, dict):
            raise TypeError(f"ways must map names to dicts of settings, got {name!r}: "
                            f"{settings!r}")
        unknown = set(settings) - {"temperature", "alpha", "noise"}
        if unknown:
            raise ValueError(f"way {name!r}: unknown settings {sorted(unknown)}; use "
                             "temperature, alpha and noise")
        if ("temperature" in settings) != ("alpha" in settings):
            raise ValueError(f"way {name!r}: distilling needs both temperature and alpha")
        if "alpha" in settings:
            check_alpha(settings["alpha"])
            check_temperature(settings["temperature"])
        if "noise" in settings:
            checks.check_number("noise", settings["noise"], low=0.0, high=10.0)
    return ways


def spiral_distillation_table(seed: int = 0, steps: int = STEPS,
                              teacher_noise: float = SPIRAL_TEACHER_NOISE,
                              teacher_dropout: float = 0.0, ways=None,
                              int8: bool = False) -> list[dict]:
    """Return rows {name, params, bytes, train_accuracy, test_accuracy} of lesson 05's spiral
    experiment.

    Rows: the teacher (:func:`jittered_mlp` with ``teacher_noise`` and ``teacher_dropout``),
    then one student per entry of ``ways`` (default :data:`SPIRAL_WAYS`: alone, distilled),
    named "student 2-16-16-3 <way>" (about 8 s on two cores). With ``int8=True`` each student
    row also holds the .tflite bytes of its float32 and full-int8 conversions
    (``float32_tflite_bytes``, ``int8_tflite_bytes``; the training points calibrate int8) and
    the int8 file's test accuracy under LiteRT (``int8_test_accuracy``).
    """

    seed, steps = checks.check_seed(seed), _check_positive_int("steps", steps)
    checks.check_number("teacher_noise", teacher_noise, low=0.0, high=10.0)
    checks.check_number("teacher_dropout", teacher_dropout, low=0.0, high=1.0, high_open=True)
    ways = _check_ways(SPIRAL_WAYS if ways is None else ways)
    if not isinstance(int8, bool):
        raise TypeError(f"int8 must be True or False, got {int8!r}")
    x, y = spiral(seed=seed, **SPIRAL)
    x_test, y_test = spiral_test(seed)

    def accuracy(model, points, labels) -> float:
        return float(np.mean(np.argmax(model(points).numpy(), axis=1) == labels))

    def row(name, widths, model):
        return {"name": name, "params": sizing.count_params(list(widths)),
                "bytes": sizing.model_bytes(list(widths), "float32"),
                "train_accuracy": accuracy(model, x, y),
                "test_accuracy": accuracy(model, x_test, y_test)}

    env.set_seed(seed)
    teacher = jittered_mlp(SPIRAL_TEACHER, teacher_noise, teacher_dropout)
    train_student(teacher, x, y, task="classification", steps=steps, seed=seed)
    rows = [row(f"teacher {_dashed(SPIRAL_TEACHER)}", SPIRAL_TEACHER, teacher)]
    for way, settings in ways.items():
        env.set_seed(seed)  # every student starts from the same weights
        student = jittered_mlp(SPIRAL_STUDENT, settings.get("noise", 0.0), name="student")
        kwargs = {"teacher": teacher, "alpha": settings["alpha"],
                  "temperature": settings["temperature"]} if "alpha" in settings else {}
        train_student(student, x, y, task="classification", steps=steps, seed=seed, **kwargs)
        rows.append(row(f"student {_dashed(SPIRAL_STUDENT)} {way}", SPIRAL_STUDENT, student))
        if int8:
            rows[-1].update(_int8_columns(student, x, x_test, y_test))
    return rows


def _int8_columns(model, x, x_test, y_test) -> dict:
    """Return the float32 and int8 .tflite sizes of ``model`` and the int8 test accuracy."""
    from .deploy import litert  # the converter: only when asked for

    float32, int8 = litert.convert(model, "float32"), litert.convert(model, "int8", x)
    predicted = np.argmax(litert.predict(int8, x_test), axis=1)
    return {"float32_tflite_bytes": len(float32), "int8_tflite_bytes": len(int8),
            "int8_test_accuracy": float(np.mean(predicted == y_test))}


def spiral_test(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a large (x, labels) test set from the same spiral as :data:`SPIRAL`, new points."""
    settings = {**SPIRAL, "n_per_class": SPIRAL_TEST_PER_CLASS}
    return spiral(seed=checks.check_seed(seed) + 1000, **settings)


def _dashed(widths: Sequence[int]) -> str:
    return "-".join(str(w) for w in widths)


def stored_seeds(path=SEEDS_FILE) -> dict:
    """Return the stored per-seed results of both experiments; FileNotFoundError names the
    command that writes them."""
    return measurements.load(path, SEEDS_COMMAND)


def spread(values) -> dict:
    """Return {"mean", "min", "max"} of ``values`` as floats."""
    values = np.asarray(list(values), dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("spread needs a non-empty list of numbers")
    return {"mean": float(values.mean()), "min": float(values.min()),
            "max": float(values.max())}
