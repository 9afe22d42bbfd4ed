"""Pruning: magnitude masks by hand and with tfmot, what zeros cost in storage, neuron removal.

Lesson 03 writes each idea in NumPy first; these functions are the reusable versions it is
checked against. Every function that changes a model returns a new one: the model passed in
is never modified (tfmot's wrappers would otherwise train the caller's layers in place).

``measured/compression_seeds.json`` (by ``benchmarks/compression_seeds.py --write``) holds the
figures lessons 03 and 04 print, for several seeds; :func:`seeds_table` shows lesson 03's beside
the lesson's own run.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import checks, data, measurements, models
from .deploy.env import import_tf, quiet_stderr, set_seed
from .models import check_data_widths, check_learning_rate, check_model, io_widths, kernel_and_bias

# Pruning hyper-parameters measured on the lesson-01 sine model (see lesson 03): a gentler
# learning rate than training (0.01 knocks a fine-tuned model off its minimum) and a
# sparsity ramp over the first half of the epochs, the second half recovering at the target.
FINETUNE_LR = 0.002
RAMP_FRACTION = 0.5


def check_sparsity(sparsity) -> float:
    """Return ``sparsity`` as a float after checking it lies in [0, 1)."""
    if isinstance(sparsity, (bool, np.bool_)) or not isinstance(sparsity, numbers.Real):
        raise TypeError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if not 0.0 <= float(sparsity) < 1.0:  # NaN fails this too
        raise ValueError(
            f"sparsity must be in [0, 1) (the fraction of weights set to zero), got {sparsity}"
        )
    return float(sparsity)


def magnitude_mask(weights, sparsity: float) -> np.ndarray:
    """Return a bool keep-mask of ``weights``' shape with the round(sparsity·n) smallest |w| off.

    Ties are broken by position (the earlier entry in C order is removed first), so the mask
    is the same on every run.
    """
    sparsity = check_sparsity(sparsity)
    w = checks.check_array("weights", weights, allow_empty=True)
    n_remove = round(sparsity * w.size)
    order = np.argsort(np.abs(w).ravel(), kind="stable")  # stable: ties keep C order
    keep = np.ones(w.size, dtype=bool)
    keep[order[:n_remove]] = False
    return keep.reshape(w.shape)


def dense_layers(model) -> list:
    """Return the Dense layers of ``model``; raise TypeError if it holds any other layer."""
    tf = import_tf()
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(f"expected a Keras model, got {type(model).__name__}")
    dense = []
    for layer in layers:
        if isinstance(layer, tf.keras.layers.Dense):
            dense.append(layer)
        elif not isinstance(layer, tf.keras.layers.InputLayer):
            raise TypeError(
                f"pruning supports Dense layers only; layer {layer.name!r} is a "
                f"{type(layer).__name__}"
            )
    if not dense:
        raise TypeError(f"model {model.name!r} has no Dense layer to prune")
    return dense


def _chosen_names(model, layers: Iterable[str] | None) -> list[str]:
    names = [layer.name for layer in dense_layers(model)]
    if layers is None:
        return names
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Iterable):
        raise TypeError(f"layers must be Dense layer names (a list of str), got "
                        f"{type(layers).__name__} {layers!r}")
    chosen = list(layers)
    if not chosen:
        raise ValueError(f"layers is empty: name at least one Dense layer of {names}, or pass "
                         "None for all of them")
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ValueError(f"no Dense layer named {unknown}; the model has {names}")
    return chosen


def copy_model(model):
    """Return an independent copy of a Keras model (same architecture and weights)."""

    tf = import_tf()
    check_model(model)
    clone = tf.keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def prune_weights(model, sparsity: float, layers: Iterable[str] | None = None):
    """Return a copy of ``model`` with the smallest-|w| fraction of each kernel set to zero.

    One-shot magnitude pruning of the kernels of ``layers`` (names; default every Dense
    layer), each to ``sparsity`` on its own; biases are kept. No retraining.
    """
    sparsity = check_sparsity(sparsity)
    chosen = _chosen_names(model, layers)
    pruned = copy_model(model)
    for layer in dense_layers(pruned):
        if layer.name in chosen:
            kernel, *rest = layer.get_weights()
            layer.set_weights([kernel * magnitude_mask(kernel, sparsity), *rest])
    return pruned


def layer_sparsity(model) -> dict[str, float]:
    """Return {Dense layer name: fraction of its kernel entries that are exactly zero}."""
    return {
        layer.name: float(np.mean(layer.get_weights()[0] == 0)) for layer in dense_layers(model)
    }


def overall_sparsity(model) -> float:
    """Return the fraction of all kernel entries (biases excluded) that are exactly zero."""
    kernels = [layer.get_weights()[0] for layer in dense_layers(model)]
    return float(sum(np.sum(k == 0) for k in kernels) / sum(k.size for k in kernels))


def _check_epochs(epochs) -> int:
    return checks.check_int("epochs", epochs)


def _check_training(model, split, learning_rate, batch_size, seed) -> None:
    """Check the training arguments shared by the fine-tuning functions (before any work)."""

    checks.check_split(split, "split")
    for part in ("train", "val"):
        check_data_widths(model, getattr(split, f"x_{part}"), getattr(split, f"y_{part}"),
                          f"split.x_{part}", f"split.y_{part}")
    check_learning_rate(learning_rate)
    checks.check_int("batch_size", batch_size)
    checks.check_seed(seed)


def zeros_held(model):
    """Return a copy of ``model`` (same weights) in which every layer with a kernel keeps that
    kernel's zeros at zero while it trains: a Keras kernel constraint multiplies the kernel by
    its mask (kernel != 0) after every update."""
    tf = import_tf()

    class KeepMask(tf.keras.constraints.Constraint):
        def __init__(self, mask):
            self.mask = tf.constant(mask, dtype=tf.float32)

        def __call__(self, w):
            return w * self.mask

    def clone_layer(layer):
        config = layer.get_config()
        if getattr(layer, "kernel", None) is not None:
            config["kernel_constraint"] = KeepMask(layer.get_weights()[0] != 0)
        return type(layer).from_config(config)

    clone = tf.keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone


def finetune_masked(model, split, epochs: int = 80, learning_rate: float = FINETUNE_LR,
                    batch_size: int = 64, seed: int = 0):
    """Return a fine-tuned copy of ``model`` in which every kernel zero stays zero.

    The mask is read from the model (kernel == 0) and held by a Keras kernel constraint,
    which the optimizer applies after every update (:func:`zeros_held`).
    """
    import_tf()  # TensorFlow first, so that set_seed below seeds it too

    epochs = _check_epochs(epochs)
    dense_layers(model)  # type check
    _check_training(model, split, learning_rate, batch_size, seed)

    set_seed(seed)
    tuned = zeros_held(model)
    models.compile_regression(tuned, learning_rate)
    models.fit(tuned, split, epochs=epochs, batch_size=batch_size, progress=False)
    return tuned


def pruned_models(model, split, targets: Sequence[float], epochs: int = 80,
                  layers: Iterable[str] | None = None, learning_rate: float = FINETUNE_LR,
                  batch_size: int = 64, seed: int = 0):
    """Yield a stripped Keras model per target sparsity, pruned by tfmot while fine-tuning.

    ``prune_low_magnitude`` wraps the chosen ``layers`` (default all Dense layers); sparsity
    follows a PolynomialDecay from 0 to the target over the first half of the epochs (mask
    updated once per epoch); the second half trains at the target; ``strip_pruning`` removes
    the wrappers, leaving an ordinary model whose kernels hold the zeros.

    Tracing the wrapped training step costs more than 80 epochs of this model, so it is done
    once: the schedule reads its final sparsity from a variable, and weights, masks, step
    counters and optimizer state are reset before each target. Each result is the same as a
    fresh run (checked in tests/test_pruning.py).
    """
    targets = _check_targets("targets", targets)
    epochs = _check_epochs(epochs)
    chosen = _chosen_names(model, layers)
    _check_training(model, split, learning_rate, batch_size, seed)
    # Everything is checked now, at the call; the generator below only trains.
    return _pruned_models(model, split, targets, epochs, chosen, learning_rate, batch_size,
                          seed)


def _check_targets(name: str, targets) -> list[float]:
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        raise TypeError(f"{name} must be a list of sparsities in [0, 1), got "
                        f"{type(targets).__name__} {targets!r}")
    targets = [check_sparsity(t) for t in targets]
    if not targets:
        raise ValueError(f"{name} is empty: give at least one sparsity")
    return targets


def _pruned_models(model, split, targets, epochs, chosen, learning_rate, batch_size, seed):
    tf = import_tf()
    import tensorflow_model_optimization as tfmot

    sparsity_api = tfmot.sparsity.keras
    steps_per_epoch = math.ceil(len(split.x_train) / batch_size)
    final_sparsity = tf.Variable(0.0, trainable=False)
    schedule = sparsity_api.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=final_sparsity, begin_step=0,
        end_step=max(1, round(RAMP_FRACTION * epochs)) * steps_per_epoch,
        frequency=steps_per_epoch,
    )

    def wrap(layer):
        if layer.name in chosen:
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    # The wrappers train the layer objects they wrap: wrap a private copy, not the caller's.
    wrapped = tf.keras.models.clone_model(copy_model(model), clone_function=wrap)
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    wrapped.compile(optimizer=optimizer, loss="mse", steps_per_execution=steps_per_epoch)
    optimizer.build(wrapped.trainable_variables)
    start = wrapped.get_weights()  # kernels, biases, masks = 1, thresholds = 0, steps = -1
    for target in targets:
        final_sparsity.assign(target)
        wrapped.set_weights(start)
        for variable in optimizer.variables:  # step count and Adam moments: a fresh Adam
            variable.assign(tf.zeros_like(variable))
        set_seed(seed)  # the same shuffling for every target
        wrapped.fit(split.x_train, split.y_train, epochs=epochs, batch_size=batch_size,
                    verbose=0, callbacks=[sparsity_api.UpdatePruningStep()])
        # strip_pruning hands back the wrapped layers themselves: copy before the next run.
        yield copy_model(sparsity_api.strip_pruning(wrapped))


def prune_with_tfmot(model, split, target_sparsity: float, epochs: int = 80,
                     layers: Iterable[str] | None = None, learning_rate: float = FINETUNE_LR,
                     batch_size: int = 64, seed: int = 0):
    """Return a stripped Keras model pruned by tfmot to ``target_sparsity`` while fine-tuning.

    See :func:`pruned_models` for the schedule; ``model`` itself is not modified.
    """
    (pruned,) = pruned_models(model, split, [target_sparsity], epochs, layers, learning_rate,
                              batch_size, seed)
    return pruned


def _check_inputs(model, x, name: str = "x") -> np.ndarray:
    """Return ``x`` as float32 after checking it is finite (n, features) input for ``model``."""

    x = checks.check_array(name, x, ndim=2)
    width = io_widths(model)[0]
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} must have shape (n, {width}) for model {model.name!r}, got "
                         f"{x.shape}")
    return np.asarray(x, dtype=np.float32)


def predict(model, x) -> np.ndarray:
    """Return ``model``'s outputs for ``x`` (an eager call: no tracing for tiny inputs)."""

    check_model(model)
    return np.asarray(model(_check_inputs(model, x), training=False))


def model_mse_vs_sin(model, x) -> float:
    """Return mean((model(x) - sin(x))²): the error of ``model`` against the true, noise-free
    curve (:func:`data.mse_vs_sin` of its predictions)."""
    x = np.asarray(checks.check_array("x", x), dtype=np.float32)
    return data.mse_vs_sin(predict(model, x), x)


def tflite_bytes(model) -> bytes:
    """Return ``model`` converted to a float32 .tflite flatbuffer (no optimizations)."""

    tf = import_tf()
    check_model(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def gzip_size(data: bytes) -> int:
    """Return the length of ``data`` after gzip at maximum compression (a fixed header)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"gzip_size needs bytes, got {type(data).__name__}")
    return len(gzip.compress(bytes(data), compresslevel=9, mtime=0))


def _index_bytes_for(largest: int) -> int:
    for size in (1, 2, 4):
        if largest < 256**size:
            return size
    raise ValueError(f"an index of {largest} does not fit 4 bytes")


def csr_bytes(matrix, value_bytes: int = 4, index_bytes: int | None = None) -> int:
    """Return the bytes of ``matrix`` stored as CSR: values + column indices + row pointers.

    A matrix of r rows with nnz non-zeros takes nnz·value_bytes + nnz·index_bytes +
    (r + 1)·index_bytes. ``index_bytes=None`` picks the smallest of 1, 2, 4 bytes that holds
    both the largest column index and nnz (the last row pointer).
    """
    m = checks.check_array("matrix", matrix, allow_empty=True)
    if m.ndim != 2:
        raise ValueError(f"csr_bytes needs a 2-D matrix, got shape {m.shape}")
    value_bytes = checks.check_int("value_bytes", value_bytes)
    if index_bytes is not None:
        index_bytes = checks.check_int("index_bytes", index_bytes)
    rows, cols = m.shape
    nnz = int(np.count_nonzero(m))
    if index_bytes is None:
        index_bytes = _index_bytes_for(max(cols - 1, nnz))
    return nnz * value_bytes + nnz * index_bytes + (rows + 1) * index_bytes


def neuron_scores(model, x=None) -> list[np.ndarray]:
    """Return one importance score per neuron of each hidden Dense layer.

    Without ``x``: the L2 norm of the neuron's outgoing weights. With ``x``: that norm times
    the neuron's mean activation over ``x``, so a neuron that never fires (a dead ReLU)
    scores 0 however large its weights.
    """

    layers = dense_layers(model)
    pairs = [kernel_and_bias(layer) for layer in layers]
    scores = []
    h = None if x is None else _check_inputs(model, x)
    for i, layer in enumerate(layers[:-1]):
        kernel, bias = pairs[i]
        outgoing = np.linalg.norm(pairs[i + 1][0], axis=1)
        if h is None:
            scores.append(outgoing)
            continue
        h = np.asarray(layer.activation(h @ kernel + bias))
        scores.append(np.mean(np.abs(h), axis=0) * outgoing)
    return scores


def live_neurons(model, x) -> list[int]:
    """Return, per hidden Dense layer, how many neurons can influence the output for inputs ``x``.

    A neuron counts when its output varies over ``x`` and at least one of its outgoing weights
    is non-zero. One that never varies (a dead ReLU stuck at 0, or one whose incoming weights
    were all pruned) adds nothing a bias could not; one whose outgoing weights are all zero is
    disconnected.
    """

    layers = dense_layers(model)
    h = _check_inputs(model, x)
    counts = []
    for layer, after in itertools.pairwise(layers):
        kernel, bias = kernel_and_bias(layer)
        h = np.asarray(layer.activation(h @ kernel + bias))
        varies = np.ptp(h, axis=0) > 1e-6
        connected = np.any(kernel_and_bias(after)[0] != 0, axis=1)
        counts.append(int(np.sum(varies & connected)))
    return counts


def neuron_prune(model, keep: Sequence[int], x=None):
    """Return a smaller dense model keeping the ``keep[i]`` best neurons of hidden layer i.

    Neurons are ranked by :func:`neuron_scores` (with ``x``: data-aware). The kept neurons'
    incoming weights, biases and outgoing weights are copied, so the result computes the
    same function as the sub-network of ``model`` made of those neurons (no retraining).
    """

    layers = dense_layers(model)
    if isinstance(keep, (str, bytes)) or not isinstance(keep, Iterable):
        raise TypeError(f"keep must be a list of neuron counts, one per hidden layer, got "
                        f"{type(keep).__name__} {keep!r}")
    keep = tuple(keep)
    if len(keep) != len(layers) - 1:
        raise ValueError(
            f"keep needs one width per hidden layer ({len(layers) - 1}), got {keep}"
        )
    for width, layer in zip(keep, layers[:-1], strict=True):
        if isinstance(width, (bool, np.bool_)) or not isinstance(width, numbers.Integral):
            raise TypeError(f"keep must hold ints, got {width!r}")
        if not 1 <= width <= layer.units:
            raise ValueError(f"can keep 1..{layer.units} neurons of {layer.name!r}, got {width}")
    chosen = [np.sort(np.argsort(-s, kind="stable")[:k])
              for s, k in zip(neuron_scores(model, x), keep, strict=True)]
    hidden = [layer.get_config()["activation"] for layer in layers[:-1]]
    if any(a != hidden[0] for a in hidden) or layers[-1].get_config()["activation"] != "linear":
        raise ValueError("neuron_prune rebuilds the model with models.mlp: every hidden layer "
                         "must share one activation and the output layer must be linear")
    activation = hidden[0] if hidden else "linear"
    n_in = int(models.kernel_and_bias(layers[0])[0].shape[0])
    # Same builder and name as the original (tensor names inside a .tflite include the model
    # name), so sizes compare like for like.
    small = models.mlp((n_in, *keep, layers[-1].units), activation=activation,
                       name=model.name)
    rows = slice(None)
    for i, (layer, new) in enumerate(zip(layers, small.layers, strict=True)):
        kernel, bias = models.kernel_and_bias(layer)
        cols = chosen[i] if i < len(chosen) else slice(None)
        new.set_weights([kernel[rows][:, cols], bias[cols]])
        rows = cols
    return small


def weights_blob(model) -> bytes:
    """Return every Dense kernel and bias of ``model`` as float32 bytes, one after another.

    (Raw bytes, to gzip; their length is the ``weight_bytes`` of :func:`sweep`'s rows.)
    """
    arrays = [w for layer in dense_layers(model) for w in layer.get_weights()]
    return b"".join(np.asarray(w, dtype="<f4").tobytes() for w in arrays)


def sweep(model, split, sparsities: Sequence[float], epochs: int = 80,
          layers: Iterable[str] | None = None, seed: int = 0, tflite: bool = True) -> list[dict]:
    """Return one row per target sparsity: tfmot-prune ``model``, measure error and sizes.

    Each row is a plain dict: ``sparsity`` (the target), ``layer_sparsity`` (reached, per
    layer), ``overall_sparsity``, ``live_neurons`` (per hidden layer, see
    :func:`live_neurons`), ``test_mse_vs_sin``, ``weight_bytes`` (float32 kernels + biases)
    and ``weights_gzip_bytes`` (those bytes gzipped), and with ``tflite`` the float .tflite
    file's ``tflite_bytes`` and ``gzip_bytes`` (None without: a conversion takes ~0.7 s).
    Every row, sparsity 0 included, is fine-tuned by the same recipe: extra epochs at a lower
    learning rate change a model's error by themselves, so the 0 row (the dense model
    fine-tuned, no zeros) is the fair reference for the others.
    """
    targets = _check_targets("sparsities", sparsities)
    tflite = checks.check_bool("tflite", tflite)
    checks.check_split(split, "split", need_test=True)
    _check_epochs(epochs)
    _chosen_names(model, layers)
    checks.check_seed(seed)
    trained = pruned_models(model, split, targets, epochs=epochs, layers=layers, seed=seed)
    rows = []
    for target, pruned in zip(targets, trained, strict=True):
        raw = weights_blob(pruned)
        flatbuffer = tflite_bytes(pruned) if tflite else None
        rows.append({
            "sparsity": target,
            "layer_sparsity": layer_sparsity(pruned),
            "overall_sparsity": overall_sparsity(pruned),
            "live_neurons": live_neurons(pruned, split.x_train),
            "test_mse_vs_sin": model_mse_vs_sin(pruned, split.x_test),
            "weight_bytes": len(raw),
            "weights_gzip_bytes": gzip_size(raw),
            "tflite_bytes": None if flatbuffer is None else len(flatbuffer),
            "gzip_bytes": None if flatbuffer is None else gzip_size(flatbuffer),
        })
    return rows


def format_sweep(rows: Sequence[dict]) -> str:
    """Return :func:`sweep` rows as an aligned text table (``final``: the sparsity the
    schedule ended at; then the sparsity each layer reached)."""
    keys = ("sparsity", "layer_sparsity", "overall_sparsity", "live_neurons", "test_mse_vs_sin",
            "weight_bytes", "weights_gzip_bytes", "tflite_bytes", "gzip_bytes")
    if isinstance(rows, (dict, str, bytes)) or not isinstance(rows, Sequence):
        raise TypeError(f"rows must be the list sweep() returns, got {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not set(keys) <= set(r):
            raise ValueError(f"rows[{i}] is not a sweep() row (needs keys {', '.join(keys)})")
    names = list(rows[0]["layer_sparsity"]) if rows else []
    with_tflite = bool(rows) and rows[0]["tflite_bytes"] is not None
    head = f"{'final':>7}" + "".join(f"{n:>9}" for n in names)
    head += f"{'overall':>9}{'live':>7}{'MSE vs sin':>12}{'weights B':>11}{'gzip':>6}"
    lines = [head + (f"{'.tflite B':>11}{'gzip':>6}" if with_tflite else "")]
    for r in rows:
        per_layer = "".join(f"{r['layer_sparsity'][n]:>9.1%}" for n in names)
        live = "-".join(str(n) for n in r["live_neurons"])
        line = (f"{r['sparsity']:>7.0%}{per_layer}{r['overall_sparsity']:>9.1%}{live:>7}"
                f"{r['test_mse_vs_sin']:>12.5f}{r['weight_bytes']:>11}{r['weights_gzip_bytes']:>6}")
        if with_tflite:
            line += f"{r['tflite_bytes']:>11}{r['gzip_bytes']:>6}"
        lines.append(line)
    return "\n".join(lines)


# --- lesson 03's figures over several seeds ---------------------------------------------------
# benchmarks/compression_seeds.py retrains the lesson's model from several seeds, computes what
# lessons 03 and 04 print, and stores every seed's figures in SEEDS_FILE; the lessons print
# them (mean [min, max]) beside the seed they run. quantization.py reads lesson 04's part with
# the same two functions below.

SEEDS_FILE = measurements.COMPRESSION_SEEDS
SEEDS_COMMAND = measurements.command(SEEDS_FILE)
# How each figure is shown: "times" (two significant digits, as the lesson's times()), "ratio"
# (two decimals), "percent", "change" (signed percent), "count", "correlation", "claim" (a
# yes/no that holds on some of the seeds).
SEED_FORMATS = ("times", "ratio", "percent", "change", "count", "correlation", "claim")
# Lesson 03's figures: {dotted key into a seed's "03" record: (label, format)}.
SEED_FIGURES = {
    # sections 2 and 3
    "one_shot_70_vs_dense": ("70 % of dense_2 cut, one shot: MSE / dense", "times"),
    "tuned_70_vs_retrained": ("... then retrained: MSE / retrained dense", "times"),
    "retrained_vs_dense": ("dense retrained: MSE / dense before", "times"),
    "retraining_improved_dense": ("retraining lowered the dense model's MSE", "claim"),
    "weight_cheapest": ("one shot at 50 %: single weights cost least", "claim"),
    "weight_below_neuron": ("one shot at 50 %: weights cost less than neurons", "claim"),
    "live_neurons_removed": ("live neurons among the 8 removed", "count"),
    # sections 4 and 5
    "live_neurons.0": ("live neurons of 16 in layer 1", "count"),
    "live_neurons.1": ("live neurons of 16 in layer 2", "count"),
    "dense_1_live_lost": ("dense_1 at 50 %: live neurons cut off", "count"),
    "uniform_50_vs_retrained": ("every layer at 50 %: MSE / retrained dense", "times"),
    "uniform_knee": ("every layer: most sparsity within 2x", "percent"),
    "middle_best_overall": ("only dense_2: most sparsity within 2x", "percent"),
    "middle_goes_further": ("only dense_2 goes further than every layer", "claim"),
    # section 6c
    "neurons.12-12.retrained_vs_retrained_dense": ("1-12-12-1 retrained: / retrained dense",
                                                   "times"),
    "neurons.8-8.retrained_vs_retrained_dense": ("1-8-8-1 retrained: / retrained dense",
                                                 "times"),
    "neurons.6-6.retrained_vs_retrained_dense": ("1-6-6-1 retrained: / retrained dense",
                                                 "times"),
    "neurons_all_stay_above": ("all three stay above the retrained dense", "claim"),
    # Going deeper
    "two_four_vs_unstructured": ("2:4 / unstructured, one shot", "times"),
    "two_four_no_worse": ("2:4 no worse than unstructured", "claim"),
}


def _seed_value(record: dict, key: str):
    value = record
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(key)
    return value


def check_seed_record(record, lesson: str, figures: dict, name: str = "record") -> dict:
    """Return ``record`` (what benchmarks/compression_seeds.py writes) after checking that it
    names its command and holds, for every seed, lesson ``lesson``'s ``figures``: finite
    numbers (or null where nothing qualified) and true/false for the claims; else ValueError
    saying what is wrong and how to write the file again."""
    again = f"; write it again with {SEEDS_COMMAND}"
    if not isinstance(record, dict):
        raise ValueError(f"{name} must be a JSON object, got {type(record).__name__}{again}")
    if not isinstance(record.get("command"), str) or not record["command"]:
        raise ValueError(f"{name} has no 'command' (the line that wrote it){again}")
    seeds = record.get("seeds")
    if not isinstance(seeds, dict) or not seeds:
        raise ValueError(f"{name} has no 'seeds' (one entry per seed){again}")
    for seed, run in seeds.items():
        if not (isinstance(seed, str) and seed.isdigit()):
            raise ValueError(f"{name}: seed {seed!r} is not a seed number{again}")
        part = run.get(lesson) if isinstance(run, dict) else None
        if not isinstance(part, dict):
            raise ValueError(f"{name}: seed {seed} has no figures for lesson {lesson}{again}")
        for key, (_, kind) in figures.items():
            try:
                value = _seed_value(part, key)
            except KeyError:
                raise ValueError(f"{name}: seed {seed}, lesson {lesson} lacks {key!r}"
                                 f"{again}") from None
            if kind == "claim":
                ok = isinstance(value, bool)
            else:
                ok = value is None or (isinstance(value, numbers.Real)
                                       and not isinstance(value, bool)
                                       and math.isfinite(value))
            if not ok:
                want = "true or false" if kind == "claim" else "a finite number"
                raise ValueError(f"{name}: seed {seed}, lesson {lesson}, {key!r} is {value!r}, "
                                 f"not {want}{again}")
    return record


def load_seed_record(path, lesson: str, figures: dict) -> dict:
    """Return the stored figures of every seed, checked by :func:`check_seed_record`;
    FileNotFoundError names the command that writes the file, ValueError says what is wrong."""
    path = Path(path)
    try:
        record = measurements.load(path, SEEDS_COMMAND)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); write it again with "
                         f"{SEEDS_COMMAND}") from None
    return check_seed_record(record, lesson, figures, name=str(path))


def stored_seeds(path=SEEDS_FILE) -> dict:
    """Return the stored per-seed figures (lesson 03's checked); FileNotFoundError names the
    command that writes them, ValueError says what is wrong with a malformed file."""
    return load_seed_record(path, "03", SEED_FIGURES)


def _show(value, kind: str) -> str:
    if value is None:
        return "none"
    if kind == "claim":
        return "yes" if value else "no"
    if kind == "times":
        return f"{float(f'{value:.2g}'):g}x"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "percent":
        return f"{value:.0%}"
    if kind == "change":
        return f"{value:+.0%}"
    if kind == "correlation":
        return f"{value:+.2f}"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def format_seed_table(record: dict, lesson: str, figures: dict, keys=None, live=None,
                      settings: dict | None = None) -> str:
    """Return lesson ``lesson``'s ``figures`` over the stored seeds as text: mean [min, max] of
    each number, on how many seeds each claim holds, and with ``live`` ({key: value}) a column
    for the lesson's own run beside them. The rows are ``keys``, by default the keys of
    ``live`` (every figure without ``live``). ``settings`` ({name: value}) are the ones the
    lesson ran with: a last line says which differ from the stored seeds' settings."""
    if live is not None and not isinstance(live, dict):
        raise TypeError(f"live must be a {{figure: value}} dict, got {type(live).__name__}")
    keys = list(figures if live is None else live) if keys is None else list(keys)
    unknown = [k for k in keys if k not in figures]
    if unknown:
        raise ValueError(f"no stored figure {unknown}; lesson {lesson} has {list(figures)}")
    if live is not None:
        missing = [k for k in keys if k not in live]
        if missing:
            raise ValueError(f"live has no value for {missing}")
    seeds = sorted(record["seeds"], key=int)
    numbers_ = [int(s) for s in seeds]
    named = (f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 2
             and numbers_ == list(range(numbers_[0], numbers_[-1] + 1)) else ", ".join(seeds))
    width = max(len(figures[k][0]) for k in keys) + 2
    lines = [f"stored by: {record['command']}",
             f"{'':<{width}}" + (f"{'this run':>10}   " if live is not None else "")
             + f"seeds {named}: mean [min, max]"]
    for key in keys:
        label, kind = figures[key]
        values = {s: _seed_value(record["seeds"][s][lesson], key) for s in seeds}
        line = f"{label:<{width}}"
        if live is not None:
            line += f"{_show(live[key], kind):>10}   "
        if kind == "claim":
            held = [s for s, v in values.items() if v]
            failed = [s for s in seeds if s not in held]
            line += f"holds on {len(held)} of {len(seeds)}"
            if failed and held:  # name the shorter list of seeds
                few, how = (failed, "not on") if len(failed) <= len(held) else (held, "only on")
                line += f" ({how} seed{'s' * (len(few) > 1)} {', '.join(few)})"
        else:
            have = [v for v in values.values() if v is not None]
            none = [s for s, v in values.items() if v is None]
            if have:
                line += (f"{_show(float(np.mean(have)), kind)} [{_show(min(have), kind)}, "
                         f"{_show(max(have), kind)}]")
            line += (f" (none on seed{'s' * (len(none) > 1)} {', '.join(none)})"
                     if none else "")
        lines.append(line)
    stored = record.get("settings", {}).get(lesson, {})
    other = [f"{k} {v!r}, stored {stored[k]!r}" for k, v in (settings or {}).items()
             if k in stored and stored[k] != v]
    if other:
        lines.append(f"this run's settings are not the stored seeds' ({'; '.join(other)}): "
                     "its column measures something else")
    return "\n".join(lines)


def seeds_table(live=None, keys=None, record=None, settings=None) -> str:
    """Return lesson 03's figures over the stored seeds (:func:`format_seed_table`), with the
    lesson's own run (``live``, {figure: value}, run with ``settings``) beside them."""
    record = stored_seeds() if record is None else check_seed_record(record, "03", SEED_FIGURES)
    return format_seed_table(record, "03", SEED_FIGURES, keys, live, settings)
