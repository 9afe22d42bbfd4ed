"""Small dense networks (1-16-16-1 and friends) and a quiet, progress-bar training loop."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from . import checks
from . import data as _data
from .deploy import env
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
        rescale: tuple[float, float] | None = None, dropout: float = 0.0,
        hidden_bias: float = 0.0):
    """Return an uncompiled Keras Sequential model: Dense layers of ``widths[1:]``.

    ``widths[0]`` is the input size (input layer "x"); hidden layers "dense_1", "dense_2", ...
    use ``activation``; the output layer "output" is linear.

    ``rescale=(scale, offset)`` first maps the input to x·scale + offset (layer "rescale"):
    for x in [0, 2π], ``distillation.SINE_RESCALE`` gives [-1, 1], so that no first-layer
    neuron starts switched off for every input (with all-positive x and a zero initial bias, a
    negative weight means the neuron outputs 0 everywhere and never learns). ``dropout`` > 0
    adds a Dropout layer "dropout_i" after each hidden layer. ``hidden_bias`` is the value the
    hidden layers' biases start from (Keras starts them at 0): a positive start switches every
    ReLU unit on for inputs near 0, so fewer units are dead before training begins.
    """
    widths = check_widths(widths)
    name = checks.check_str("name", name)
    rescale = _check_rescale(rescale)
    dropout = checks.check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
    activation = _check_activation(activation)
    hidden_bias = checks.check_number("hidden_bias", hidden_bias, low=-100.0, high=100.0)
    tf = import_tf()
    layers = [tf.keras.Input(shape=(widths[0],), name="x")]
    if rescale is not None:
        scale, offset = rescale
        layers.append(tf.keras.layers.Rescaling(scale, offset=offset, name="rescale"))
    for i, units in enumerate(widths[1:-1], start=1):
        start = {"bias_initializer": tf.keras.initializers.Constant(hidden_bias)} \
            if hidden_bias else {}  # Keras' default (zeros) otherwise, exactly as before
        layers.append(tf.keras.layers.Dense(units, activation=activation, name=f"dense_{i}",
                                            **start))
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


SINE_LEARNING_RATE = 0.005
SINE_X_RANGE = (0.0, 2 * math.pi)


def spread_kinks(layer, low: float, high: float, seed: int = 0) -> np.ndarray:
    """Set the biases of a one-input ReLU ``layer`` so each neuron bends inside [low, high].

    A ReLU neuron on a single input x outputs max(0, w·x + b): a ramp that bends at
    x = −b/w. Keras starts every bias at 0, so every ramp bends at x = 0, on the edge of the
    sine data, and each neuron with w < 0 outputs 0 for every x > 0. It gets no gradient and
    stays dead for the whole training. Drawing each bend point uniformly from [low, high]
    (b = −w·x₀) keeps every neuron switched on for part of the data. Returns the bend points.
    """
    low = checks.check_number("low", low)
    high = checks.check_number("high", high)
    if not high > low:
        raise ValueError(f"high must be above low, got low={low}, high={high}")
    seed = checks.check_seed(seed)
    weights = layer.get_weights() if hasattr(layer, "get_weights") else None
    if not weights or len(weights) != 2 or np.ndim(weights[0]) != 2 or weights[0].shape[0] != 1:
        raise ValueError(f"spread_kinks needs a built Dense layer with one input and a bias, "
                         f"got {getattr(layer, 'name', type(layer).__name__)!r}")
    kernel = weights[0]
    bends = np.random.default_rng(seed).uniform(low, high, kernel.shape[1])
    layer.set_weights([kernel, (-kernel[0] * bends).astype(kernel.dtype)])
    return bends


def sine_model(learning_rate: float = SINE_LEARNING_RATE, seed: int = 0):
    """Return the lesson-01 1-16-16-1 ReLU model, compiled with Adam and MSE, its first layer's
    bend points spread over [0, 2π] (see :func:`spread_kinks`; ``seed`` picks them)."""
    check_learning_rate(learning_rate)
    model = mlp((1, 16, 16, 1), name="sine")
    spread_kinks(model.get_layer("dense_1"), *SINE_X_RANGE, seed=seed)
    compile_regression(model, learning_rate)
    return model


def cosine_learning_rate(initial: float, epochs: int, final_fraction: float = 0.01):
    """Return a function epoch -> learning rate that falls from ``initial`` along half a cosine
    to ``initial · final_fraction`` at the last of ``epochs`` epochs.

    Big steps early cover ground fast; small steps late settle into the valley instead of
    jittering around it (and stop knocking ReLU bends out of the data).
    """
    initial = check_learning_rate(initial)
    epochs = checks.check_int("epochs", epochs)
    final_fraction = checks.check_number("final_fraction", final_fraction, low=0.0, high=1.0)

    def rate(epoch: int, _current=None) -> float:
        done = min(epoch, epochs - 1) / max(epochs - 1, 1)
        cosine = 0.5 * (1 + math.cos(math.pi * done))  # 1 at the start, 0 at the end
        return initial * (final_fraction + (1 - final_fraction) * cosine)

    return rate


def revive_dead_neurons(model, x, rng) -> list[int]:
    """Give every dead hidden ReLU neuron of a dense ``model`` a fresh start; return how many
    were revived per hidden layer.

    A neuron is dead when its output does not change over the inputs ``x``: no gradient
    reaches it, so training alone never brings it back. Each one gets new random incoming
    weights (Glorot-uniform, as Keras starts them) and a bias that puts its bend at a random
    point inside the data (where 20 % to 80 % of ``x`` switch it on), and its outgoing weights
    are set to 0, so the model's predictions are exactly the same right after the revival.
    The idea is ReDo's (Sokar et al., 2023, "The Dormant Neuron Phenomenon in Deep
    Reinforcement Learning"), which recycles neurons the same way.
    """
    check_model(model)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    tf = import_tf()
    layers = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    if len(layers) != len(model.layers):
        raise ValueError(f"revive_dead_neurons needs a model of Dense layers only, got "
                         f"{[type(layer).__name__ for layer in model.layers]}")
    h = np.asarray(x, dtype=np.float32)
    check_data_widths(model, h, x_name="x")
    # float64 and a sorted order statistic instead of np.quantile, whose float32 arithmetic
    # changed between NumPy versions: the same weights on every machine the course runs on
    h = h.reshape(len(h), -1).astype(np.float64)
    if len(h) < 2 or not np.all(np.isfinite(h)):
        raise ValueError(f"x must hold at least 2 finite samples, got shape {np.shape(x)}")
    revived = []
    for layer, after in zip(layers[:-1], layers[1:], strict=True):
        if layer.activation is not tf.keras.activations.relu:
            raise ValueError(f"layer {layer.name!r} is not a ReLU layer")
        kernel, bias = kernel_and_bias(layer)
        pre = h @ kernel + bias  # float64: h is
        dead = np.ptp(np.maximum(0.0, pre), axis=0) <= 1e-6
        if dead.any():
            limit = math.sqrt(6 / sum(kernel.shape))
            kernel[:, dead] = rng.uniform(-limit, limit, (kernel.shape[0], int(dead.sum())))
            z = np.sort(h @ kernel[:, dead].astype(np.float64), axis=0)
            on = rng.uniform(0.2, 0.8, int(dead.sum()))  # the fraction of x that switches it on
            rank = np.minimum(((1 - on) * (len(z) - 1)).astype(int), len(z) - 2)
            cols = np.arange(z.shape[1])
            bias[dead] = -(z[rank, cols] + z[rank + 1, cols]) / 2  # between two data points
            layer.set_weights([kernel, bias])
            out_kernel, out_bias = kernel_and_bias(after)
            out_kernel[dead, :] = 0.0
            after.set_weights([out_kernel, out_bias])
            pre = h @ kernel + bias  # the revived neurons' new outputs feed the next layer
        revived.append(int(dead.sum()))
        h = np.maximum(0.0, pre)
    return revived


def revive_callback(x, every: int = 10, until: int | None = None, seed: int = 0):
    """Return a Keras callback that calls :func:`revive_dead_neurons` on inputs ``x`` after
    every ``every``-th epoch up to epoch ``until`` (None: to the end).

    Its ``revived`` attribute lists (epoch, [revived per hidden layer]) for every revival that
    found a dead neuron. Stop a few dozen epochs before the end, so the last revived neurons
    have time to learn.
    """
    every = checks.check_int("every", every)
    if until is not None:
        until = checks.check_int("until", until)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite 2-D array (one row per sample), got shape {x.shape}")
    rng = np.random.default_rng(checks.check_seed(seed))
    tf = import_tf()

    class _Revive(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.revived = []

        def on_train_begin(self, logs=None):
            self.revived = []

        def on_epoch_end(self, epoch, logs=None):
            done = epoch + 1
            if done % every == 0 and (until is None or done <= until):
                counts = revive_dead_neurons(self.model, x, rng)
                if any(counts):
                    self.revived.append((done, counts))

    return _Revive()


def sine_callbacks(x_train, epochs: int = 500, seed: int = 0,
                   learning_rate: float = SINE_LEARNING_RATE) -> list:
    """Return lesson 01's two training aids for the sine model: the cosine learning rate
    (from ``learning_rate`` down to 1 % of it) and the revival of dead neurons on ``x_train``
    every 10 epochs up to 90 % of ``epochs``. The revival callback comes last."""
    epochs = checks.check_int("epochs", epochs)
    tf = import_tf()
    return [tf.keras.callbacks.LearningRateScheduler(cosine_learning_rate(learning_rate, epochs)),
            revive_callback(x_train, every=10, until=int(0.9 * epochs), seed=seed)]


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


class _TextProgress:
    """A progress bar drawn as one line of text that a notebook updates in place.

    Unlike a widget bar, the saved notebook keeps the last state ("500/500 epochs, loss …"),
    which is what a reader on GitHub sees. Outside a notebook it falls back to tqdm on stderr.
    """

    WIDTH = 30

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.done, self.logs = total, desc, 0, {}
        self.every = max(1, total // 50)
        self.started = time.perf_counter()
        self.handle = self.bar = None
        try:  # IPython is there in a notebook, not a dependency of the package
            from IPython import get_ipython
            from IPython.display import Pretty, display
        except ImportError:
            get_ipython = None
        if get_ipython is not None and getattr(get_ipython(), "kernel", None) is not None:
            self._pretty = Pretty
            self.handle = display(Pretty(self.text()), display_id=True)
        else:
            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=True)

    def text(self) -> str:
        filled = round(self.WIDTH * self.done / self.total)
        losses = "".join(f", {k} {v:.4f}" for k, v in self.logs.items())
        seconds = time.perf_counter() - self.started
        return (f"{self.desc}: |{'█' * filled}{'·' * (self.WIDTH - filled)}| "
                f"{self.done}/{self.total} epochs{losses} ({seconds:.1f} s)")

    def update(self, logs: dict) -> None:
        self.done += 1
        self.logs.update({k: float(v) for k, v in logs.items() if k in ("loss", "val_loss")})
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in self.logs.items()}, refresh=False)
            self.bar.update(1)
        elif self.done % self.every == 0 or self.done == self.total:
            self.handle.update(self._pretty(self.text()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self.handle.update(self._pretty(self.text()))


def progress_callback(epochs: int, desc: str = "training"):
    """Return a Keras callback that shows one progress line over ``epochs`` with the losses
    (updated in place in a notebook; a tqdm bar elsewhere)."""
    epochs = checks.check_int("epochs", epochs)
    desc = checks.check_str("desc", desc)
    tf = import_tf()

    class _Progress(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = _TextProgress(epochs, desc)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.update(logs or {})

        def on_train_end(self, logs=None):
            self.bar.close()

    return _Progress()


def fit(model, data, epochs: int = 500, batch_size: int = 64, progress: bool = True,
        validation_freq: int = 5, callbacks: Sequence = ()):
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
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be a list of Keras callbacks, got {callbacks!r}")
    callbacks = ([progress_callback(epochs)] if progress else []) + list(callbacks)
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
    """Return (model, split): lesson 01's 1-16-16-1 model trained again, exactly as there
    (spread bends, cosine learning rate, dead neurons revived: :func:`sine_callbacks`).

    Later lessons start from this instead of loading a file; with the same seed the weights
    are the same every run (about 5 s on two CPU cores).
    """

    seed = checks.check_seed(seed)
    epochs = checks.check_int("epochs", epochs)
    progress = checks.check_bool("progress", progress)
    env.set_seed(seed)
    split = _data.sine_dataset(1000, noise=0.1, seed=seed)
    model = sine_model(seed=seed)
    fit(model, split, epochs=epochs, batch_size=64, progress=progress,
        callbacks=sine_callbacks(split.x_train, epochs, seed))
    return model, split
