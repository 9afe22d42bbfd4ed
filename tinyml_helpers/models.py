"""Small dense networks (1-16-16-1 and friends) and a quiet, progress-bar training loop."""

from __future__ import annotations

from collections.abc import Sequence

from .deploy.env import import_tf


def check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """Return ``widths`` as a tuple after checking it describes a dense network."""
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs at least an input and an output size, got {widths}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"layer widths must be ints, got {w!r} in {widths}")
        if w <= 0:
            raise ValueError(f"layer widths must be positive, got {w} in {widths}")
    return widths


def mlp(widths: Sequence[int] = (1, 16, 16, 1), activation: str = "relu", name: str = "mlp"):
    """Return an uncompiled Keras Sequential model: Dense layers of ``widths[1:]``.

    ``widths[0]`` is the input size; hidden layers use ``activation``; the output is linear.
    """
    widths = check_widths(widths)
    tf = import_tf()
    layers = [tf.keras.Input(shape=(widths[0],), name="x")]
    for i, units in enumerate(widths[1:-1], start=1):
        layers.append(tf.keras.layers.Dense(units, activation=activation, name=f"dense_{i}"))
    layers.append(tf.keras.layers.Dense(widths[-1], name="output"))
    return tf.keras.Sequential(layers, name=name)


def sine_model(learning_rate: float = 0.01):
    """Return the lesson-01 1-16-16-1 ReLU model, compiled with Adam and MSE."""
    model = mlp((1, 16, 16, 1), name="sine")
    compile_regression(model, learning_rate)
    return model


def compile_regression(model, learning_rate: float = 0.01) -> None:
    """Compile ``model`` for regression: Adam at ``learning_rate`` and MSE loss."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
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
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
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


def dense_weights(model) -> list[tuple]:
    """Return [(W, b), ...] as NumPy arrays for every Dense layer of ``model``, in order."""
    tf = import_tf()
    pairs = []
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Dense):
            w, b = layer.get_weights()
            pairs.append((w, b))
    return pairs


def trained_sine_model(seed: int = 0, epochs: int = 500, progress: bool = False):
    """Return (model, split): lesson 01's 1-16-16-1 model trained again, exactly as there.

    Later lessons start from this instead of loading a file; with the same seed the weights
    are the same every run (about 10 s on two CPU cores).
    """
    from . import data
    from .deploy import env

    env.set_seed(seed)
    split = data.sine_dataset(1000, noise=0.1, seed=seed)
    model = sine_model(learning_rate=0.01)
    fit(model, split, epochs=epochs, batch_size=64, progress=progress)
    return model, split
