"""Small dense networks (1-16-16-1 and friends) and a quiet, progress-bar training loop."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from . import checks
from . import data as _data
from .deploy.env import import_tf


def check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """Return ``widths`` as a tuple after checking it describes a dense network."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Iterable):
        raise TypeError(f"widths must be a list of layer sizes such as (1, 16, 16, 1), got "
                        f"{type(widths).__name__} {widths!r}")
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs at least an input and an output size, got {widths}")
    for w in widths:
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral):
            raise TypeError(f"layer widths must be ints, got {w!r} in {widths}")
        if w <= 0:
            raise ValueError(f"layer widths must be positive, got {w} in {widths}")
    return tuple(int(w) for w in widths)


def _check_activation(activation):
    if callable(activation):
        return activation
    if not isinstance(activation, str) or not activation:
        raise TypeError(f"activation must be a Keras activation name such as 'relu', got "
                        f"{type(activation).__name__} {activation!r}")
    tf = import_tf()
    try:
        tf.keras.activations.get(activation)
    except ValueError:
        raise ValueError(f"unknown activation {activation!r}; try 'relu', 'tanh' or "
                         "'linear'") from None
    return activation


def _check_rescale(rescale) -> tuple[float, float] | None:
    if rescale is None:
        return None
    if isinstance(rescale, (str, bytes)) or not hasattr(rescale, "__len__") or len(rescale) != 2:
        raise TypeError(f"rescale must be a (scale, offset) pair of numbers, got {rescale!r}")
    checks.check_number("rescale offset", rescale[1])
    if checks.check_number("rescale scale", rescale[0]) == 0:
        raise ValueError("rescale scale must not be 0 (it would map every input to the offset)")
    return rescale[0], rescale[1]


def mlp(widths: Sequence[int] = (1, 16, 16, 1), activation: str = "relu", name: str = "mlp",
        rescale: tuple[float, float] | None = None, dropout: float = 0.0):
    """Return an uncompiled Keras Sequential model: Dense layers of ``widths[1:]``.

    ``widths[0]`` is the input size (input layer "x"); hidden layers "dense_1", "dense_2", ...
    use ``activation``; the output layer "output" is linear.

    ``rescale=(scale, offset)`` first maps the input to x·scale + offset (layer "rescale"):
    for x in [0, 2π], ``distillation.SINE_RESCALE`` gives [-1, 1], so that no first-layer
    neuron starts switched off for every input (with all-positive x and a zero initial bias, a
    negative weight means the neuron outputs 0 everywhere and never learns). ``dropout`` > 0
    adds a Dropout layer "dropout_i" after each hidden layer.
    """
    widths = check_widths(widths)
    name = checks.check_str("name", name)
    rescale = _check_rescale(rescale)
    dropout = checks.check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
    activation = _check_activation(activation)
    tf = import_tf()
    layers = [tf.keras.Input(shape=(widths[0],), name="x")]
    if rescale is not None:
        scale, offset = rescale
        layers.append(tf.keras.layers.Rescaling(scale, offset=offset, name="rescale"))
    for i, units in enumerate(widths[1:-1], start=1):
        layers.append(tf.keras.layers.Dense(units, activation=activation, name=f"dense_{i}"))
        if dropout:
            layers.append(tf.keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    layers.append(tf.keras.layers.Dense(widths[-1], name="output"))
    return tf.keras.Sequential(layers, name=name)


def check_model(model, name: str = "model"):
    """Return ``model`` after checking it is a Keras model."""
    tf = import_tf()
    if not isinstance(model, tf.keras.Model):
        raise TypeError(f"{name} must be a Keras model, got {type(model).__name__}")
    return model


def io_widths(model) -> tuple[int | None, int | None]:
    """Return (inputs, outputs) per sample of a flat Keras model; None where it cannot say
    (a model without an Input is built only by its first call)."""
    try:
        shapes = model.input_shape, model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None, None
    widths = [s[-1] if isinstance(s, tuple) and len(s) == 2 else None for s in shapes]
    return widths[0], widths[1]


def check_data_widths(model, x, y=None, x_name: str = "x", y_name: str = "y") -> None:
    """Check that inputs ``x`` (and targets ``y``) have the widths ``model`` takes (and gives).

    A 1-D array counts as one value per sample (Keras reads it so).
    """
    n_in, n_out = io_widths(model)
    for name, array, width, what in ((x_name, x, n_in, "takes"), (y_name, y, n_out, "outputs")):
        if array is None or width is None:
            continue
        got = np.shape(array)[1] if np.ndim(array) == 2 else 1
        if got != width:
            raise ValueError(f"{name} has {got} values per sample but model {model.name!r} "
                             f"{what} {width}")


def sine_model(learning_rate: float = 0.01):
    """Return the lesson-01 1-16-16-1 ReLU model, compiled with Adam and MSE."""
    check_learning_rate(learning_rate)
    model = mlp((1, 16, 16, 1), name="sine")
    compile_regression(model, learning_rate)
    return model


def compile_regression(model, learning_rate: float = 0.01) -> None:
    """Compile ``model`` for regression: Adam at ``learning_rate`` and MSE loss."""
    check_learning_rate(learning_rate)
    check_model(model)
    tf = import_tf()
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss="mse",
        # Run up to 16 batches per call into TensorFlow: for a model this small the Python
        # overhead per batch costs more than the maths (same results, about twice as fast).
        steps_per_execution=16,
    )


def progress_callback(epochs: int, desc: str = "training"):
    """Return a Keras callback that shows one tqdm bar over ``epochs`` with the losses."""
    epochs = checks.check_int("epochs", epochs)
    desc = checks.check_str("desc", desc)
    tf = import_tf()
    from tqdm.auto import tqdm

    class _Progress(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = {k: f"{v:.4f}" for k, v in logs.items() if k in ("loss", "val_loss")}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _Progress()


def fit(model, data, epochs: int = 500, batch_size: int = 64, progress: bool = True,
        validation_freq: int = 5):
    """Train ``model`` on a :class:`~tinyml_helpers.data.Split`; return the History.

    Keras' own per-epoch printing is off (its timings change every run); a progress bar
    shows the losses instead. The validation loss is computed every ``validation_freq``
    epochs, which is enough for a loss curve and saves a third of the time.
    """
    check_model(model)
    epochs = checks.check_int("epochs", epochs)
    batch_size = checks.check_int("batch_size", batch_size)
    validation_freq = checks.check_int("validation_freq", validation_freq)
    progress = checks.check_bool("progress", progress)
    checks.check_split(data, "data")
    for part in ("train", "val"):
        check_data_widths(model, getattr(data, f"x_{part}"), getattr(data, f"y_{part}"),
                          f"data.x_{part}", f"data.y_{part}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(f"model {model.name!r} is not compiled: call "
                         "models.compile_regression(model) first")
    callbacks = [progress_callback(epochs)] if progress else []
    return model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        validation_freq=validation_freq,
        verbose=0,
        callbacks=callbacks,
    )


def kernel_and_bias(layer) -> tuple[np.ndarray, np.ndarray]:
    """Return (W, b) of a Dense ``layer``; a layer built with ``use_bias=False`` gets b = 0."""
    weights = layer.get_weights()
    if not weights:
        raise ValueError(f"layer {layer.name!r} has no weights yet: build the model first "
                         "(start it with tf.keras.Input(...))")
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[-1], dtype=kernel.dtype)
    return kernel, bias


def dense_weights(model) -> list[tuple]:
    """Return [(W, b), ...] as NumPy arrays for every Dense layer of ``model``, in order.

    A Dense layer without a bias (``use_bias=False``) gives b = zeros.
    """
    tf = import_tf()
    check_model(model)
    pairs = []
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Dense):
            pairs.append(kernel_and_bias(layer))
    if not pairs:
        raise ValueError(f"model {model.name!r} has no Dense layer")
    return pairs


def check_learning_rate(learning_rate) -> float:
    """Return ``learning_rate`` after checking it is a finite number > 0."""
    return checks.check_number("learning_rate", learning_rate, low=0.0, low_open=True)


def trained_sine_model(seed: int = 0, epochs: int = 500, progress: bool = False):
    """Return (model, split): lesson 01's 1-16-16-1 model trained again, exactly as there.

    Later lessons start from this instead of loading a file; with the same seed the weights
    are the same every run (about 10 s on two CPU cores).
    """
    from .deploy import env

    seed = checks.check_seed(seed)
    epochs = checks.check_int("epochs", epochs)
    progress = checks.check_bool("progress", progress)
    env.set_seed(seed)
    split = _data.sine_dataset(1000, noise=0.1, seed=seed)
    model = sine_model(learning_rate=0.01)
    fit(model, split, epochs=epochs, batch_size=64, progress=progress)
    return model, split
