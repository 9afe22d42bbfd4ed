"""Lesson 08's handwritten digits: the data, a Dense baseline and a small CNN, filter (structured)
and weight (unstructured) pruning, and the int8 model classified on the simulated boards.

The data are scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test set
(``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels, each pixel a count 0-16 of set
bits in a 4x4 block of a 32x32 bitmap, 10 classes), shipped inside scikit-learn, so nothing is
downloaded. :func:`load` scales pixels to [0, 1] and splits them by a seeded permutation into
train / validation / test.

:func:`cnn` is Conv2D(3x3, same) -> MaxPool(2) -> Conv2D(3x3, same) -> MaxPool(2) -> Dense(10)
-> softmax, small enough for an Arduino Uno in int8. :func:`remove_filters` is structured
pruning: it keeps the filters of each convolution with the largest L1 norm (the criterion of Li
et al., "Pruning Filters for Efficient ConvNets", ICLR 2017) and builds a smaller network from
them; :func:`prune_weights` is unstructured pruning of single weights by magnitude, at the
sparsity the caller asks (the lesson asks for the structured model's). Both are fine-tuned with
:func:`train` / :func:`finetune_masked`. :func:`board_outputs` runs an int8 graph's library-free
C on a simulated board over as many images as the caller gives, building as few firmware images
as fit the board.
"""

from __future__ import annotations

import numbers
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checks, pruning
from .deploy import env, export, firmware, graph

IMAGE_SIDE = 8
CLASSES = 10
PIXEL_MAX = 16  # load_digits' pixels count set bits in a 4x4 block: 0..16
CONV_LAYERS = ("conv1", "conv2")
MAX_EPOCHS = 1000
# Input rows per firmware image on each board: the rows are compiled into flash beside the
# model, and the Uno's 32 KB hold the model, the harness and about 200 images of 64 codes.
ROWS_PER_BUILD = {"uno": 160, "m4": 1000, "host": 2000}


@dataclass(frozen=True)
class Digits:
    """The digits split three ways: images [n, 8, 8, 1] float32 in [0, 1], labels int."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        """Return (train, validation, test) image counts."""
        return len(self.x_train), len(self.x_val), len(self.x_test)


def _count(name: str, value, low: int, high: int) -> int:
    value = checks.check_int(name, value, low)
    if value > high:
        raise ValueError(f"{name} must be at most {high:,}, got {value:,}")
    return value


def load(seed: int = 0, n_val: int = 180, n_test: int = 360) -> Digits:
    """Return the 1,797 digits split by a permutation drawn with ``seed``: ``n_test`` test and
    ``n_val`` validation images, the rest for training."""
    checks.check_seed(seed)
    from sklearn.datasets import load_digits  # scikit-learn is needed by this lesson only

    data = load_digits()
    n = len(data.images)
    n_val, n_test = _count("n_val", n_val, 1, n - 2), _count("n_test", n_test, 1, n - 2)
    if n_val + n_test > n - 1:
        raise ValueError(f"n_val + n_test = {n_val + n_test} leave no training image of {n}")
    images = (data.images / PIXEL_MAX).astype(np.float32)[..., None]
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(n)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return Digits(images[train], labels[train], images[val], labels[val], images[test],
                  labels[test])


def dense_baseline(hidden: int = 32, seed: int | None = None):
    """Return the Dense baseline: flatten the 64 pixels, one hidden ReLU layer, softmax. With
    ``seed``, the starting weights are drawn after seeding (the same on every run)."""
    hidden = _count("hidden", hidden, 1, 4096)
    tf = env.import_tf()
    if seed is not None:
        env.set_seed(checks.check_seed(seed))
    layers = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input((IMAGE_SIDE, IMAGE_SIDE, 1)), layers.Flatten(name="flatten"),
        layers.Dense(hidden, activation="relu", name="hidden"),
        layers.Dense(CLASSES, activation="softmax", name="output")], name="dense_baseline")


def cnn(filters=(8, 16), seed: int | None = None):
    """Return the CNN with ``filters`` = (first, second) convolution's filter counts. With
    ``seed``, the starting weights are drawn after seeding (the same on every run)."""
    if (not isinstance(filters, (tuple, list)) or len(filters) != 2):
        raise TypeError(f"filters must be a pair of filter counts, got {filters!r}")
    f1, f2 = (_count(f"filters[{i}]", f, 1, 256) for i, f in enumerate(filters))
    tf = env.import_tf()
    if seed is not None:
        env.set_seed(checks.check_seed(seed))
    layers = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input((IMAGE_SIDE, IMAGE_SIDE, 1)),
        layers.Conv2D(f1, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(f2, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(CLASSES, activation="softmax", name="output")], name=f"cnn_{f1}_{f2}")


def _check_images(name: str, x, y=None) -> tuple[np.ndarray, np.ndarray | None]:
    x = checks.check_array(name, x)
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 1):
        raise ValueError(f"{name} must be images of shape (n, 8, 8, 1), got {x.shape}")
    if y is None:
        return x.astype(np.float32), None
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {len(x)} integers, got {y.dtype} of shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= CLASSES):
        raise ValueError(f"labels must lie in 0..{CLASSES - 1}, got {y.min()}..{y.max()}")
    return x.astype(np.float32), y


def train(model, digits: Digits, epochs: int = 40, learning_rate: float = 0.01,
          batch_size: int = 32, seed: int = 0):
    """Train ``model`` in place (Adam, cross-entropy) on the training images; return its
    Keras history (accuracy on the validation images per epoch)."""
    if not isinstance(digits, Digits):
        raise TypeError(f"digits must be a digits.Digits, got {type(digits).__name__}")
    epochs = _count("epochs", epochs, 1, MAX_EPOCHS)
    batch_size = _count("batch_size", batch_size, 1, 65536)
    checks.check_seed(seed)
    if not isinstance(learning_rate, numbers.Real) or not 0 < learning_rate < 10:
        raise ValueError(f"learning_rate must be a number in (0, 10), got {learning_rate!r}")
    tf = env.import_tf()
    env.set_seed(seed)
    model.compile(tf.keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  ["accuracy"])
    return model.fit(digits.x_train, digits.y_train, epochs=epochs, batch_size=batch_size,
                     validation_data=(digits.x_val, digits.y_val), verbose=0, shuffle=True)


def accuracy(model, x, y) -> float:
    """Return the fraction of images ``x`` a Keras model classifies as ``y``."""
    x, y = _check_images("x", x, y)
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


# --- structured pruning: whole filters ------------------------------------------------------

def filter_scores(model) -> dict[str, np.ndarray]:
    """Return {convolution name: L1 norm of each of its filters} of a :func:`cnn` model."""
    _check_cnn(model)
    return {name: np.abs(model.get_layer(name).get_weights()[0]).sum(axis=(0, 1, 2))
            for name in CONV_LAYERS}


def _check_cnn(model) -> None:
    names = [layer.name for layer in getattr(model, "layers", [])]
    if names != ["conv1", "pool1", "conv2", "pool2", "flatten", "output"]:
        raise TypeError(f"expected a model made by digits.cnn, got layers {names}")


def kept_filters(model, keep) -> dict[str, np.ndarray]:
    """Return {convolution name: sorted indices of the ``keep`` filters with the largest L1
    norm} (``keep`` = (first, second) counts); ties keep the earlier filter."""
    scores = filter_scores(model)
    if not isinstance(keep, (tuple, list)) or len(keep) != 2:
        raise TypeError(f"keep must be a pair of filter counts, got {keep!r}")
    chosen = {}
    for name, count in zip(CONV_LAYERS, keep, strict=True):
        count = _count(f"filters kept in {name}", count, 1, len(scores[name]))
        order = np.argsort(-scores[name], kind="stable")
        chosen[name] = np.sort(order[:count])
    return chosen


def remove_filters(model, keep):
    """Return a smaller :func:`cnn` holding only the ``keep`` = (first, second) filters of
    ``model``'s convolutions with the largest L1 norm, their biases, the kept input channels of
    the second convolution and the rows of the Dense layer that read the kept channels."""
    chosen = kept_filters(model, keep)
    k1, k2 = chosen["conv1"], chosen["conv2"]
    small = cnn((len(k1), len(k2)))
    w1, b1 = model.get_layer("conv1").get_weights()
    w2, b2 = model.get_layer("conv2").get_weights()
    wd, bd = model.get_layer("output").get_weights()
    f2 = w2.shape[-1]
    small.get_layer("conv1").set_weights([w1[..., k1], b1[k1]])
    small.get_layer("conv2").set_weights([w2[:, :, k1, :][..., k2], b2[k2]])
    # Flatten reads pool2's (height, width, channel) in C order: rows h, w, c -> (h*W + w)*C + c.
    positions = wd.shape[0] // f2
    rows = (np.arange(positions)[:, None] * f2 + k2[None, :]).ravel()
    small.get_layer("output").set_weights([wd[rows], bd])
    return small


# --- unstructured pruning: single weights ---------------------------------------------------

def kernel_layers(model) -> list:
    """Return the layers of ``model`` that hold a kernel (the ones pruning acts on)."""
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def weight_count(model) -> int:
    """Return the number of kernel weights (biases excluded)."""
    return int(sum(np.prod(layer.kernel.shape) for layer in kernel_layers(model)))


def zero_weights(model) -> int:
    """Return how many kernel weights are exactly zero."""
    return int(sum(np.sum(layer.get_weights()[0] == 0) for layer in kernel_layers(model)))


def prune_weights(model, sparsity: dict[str, float]):
    """Return a copy of ``model`` whose kernels have their smallest-|w| weights set to zero:
    ``sparsity`` maps a layer name to the fraction of its kernel removed (layers not named are
    left whole)."""
    if not isinstance(sparsity, dict):
        raise TypeError(f"sparsity must be a dict of layer name -> fraction, got {sparsity!r}")
    tf = env.import_tf()
    names = {layer.name for layer in kernel_layers(model)}
    unknown = sorted(set(sparsity) - names)
    if unknown:
        raise ValueError(f"no layer with a kernel named {unknown}; choose from {sorted(names)}")
    pruned = tf.keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    for name, fraction in sparsity.items():
        layer = pruned.get_layer(name)
        kernel, *rest = layer.get_weights()
        # lesson 03's rule: the smallest |w| off, ties broken by position
        layer.set_weights([kernel * pruning.magnitude_mask(kernel, fraction), *rest])
    return pruned


def matching_sparsity(model, small) -> dict[str, float]:
    """Return, per kernel layer, the fraction of ``model``'s weights that ``small`` (made by
    :func:`remove_filters`) no longer has: the sparsity that removes as many single weights."""
    big = {layer.name: int(np.prod(layer.kernel.shape)) for layer in kernel_layers(model)}
    kept = {layer.name: int(np.prod(layer.kernel.shape)) for layer in kernel_layers(small)}
    if set(big) != set(kept):
        raise ValueError(f"the models have different layers: {sorted(big)} vs {sorted(kept)}")
    return {name: 1 - kept[name] / big[name] for name in big}


def finetune_masked(model, digits: Digits, epochs: int = 20, learning_rate: float = 0.003,
                    seed: int = 0):
    """Return a fine-tuned copy of ``model`` in which every zero weight stays zero (a kernel
    constraint applies the mask after every update)."""
    tuned = pruning.zeros_held(model)
    train(tuned, digits, epochs=epochs, learning_rate=learning_rate, seed=seed)
    return tuned


# --- the int8 model on the boards -----------------------------------------------------------

def input_codes(g: graph.Graph, x) -> np.ndarray:
    """Return images ``x`` as the int8 input codes of graph ``g``: round(x / scale) + zero
    point, clipped, one row of 64 codes per image."""
    g = graph.read(g)
    x, _ = _check_images("x", x)
    q = g.tensors[g.inputs[0]].quantization
    if q is None:
        raise ValueError("the graph's input is not quantized: convert the model to int8 first")
    codes = np.round(x.reshape(len(x), -1) / np.float32(q.scale[0])) + int(q.zero_point[0])
    return np.clip(codes, -128, 127).astype(np.int8)


def board_outputs(g: graph.Graph, codes, target: str, kernels: str = "fast",
                  build_dir=None, rows_per_build: int | None = None):
    """Run graph ``g`` as library-free C on ``target`` over every row of ``codes``; return
    (output codes [n, classes], the :class:`firmware.Measurement` of the first build).

    The rows are compiled into the firmware, so a long list is split over several builds
    (:data:`ROWS_PER_BUILD`); cost and sizes are those of the first.
    """
    g = graph.read(g)
    if target not in ROWS_PER_BUILD:
        raise ValueError(f"unknown target {target!r}; choose from {', '.join(ROWS_PER_BUILD)}")
    codes = np.asarray(codes)
    model = export.plain_c_files(g, "digits", kernels=kernels)
    if codes.ndim != 2 or codes.shape[1] != model.n_inputs or len(codes) == 0:
        raise ValueError(f"codes must have shape (n, {model.n_inputs}), got {codes.shape}")
    step = _count("rows_per_build", rows_per_build or ROWS_PER_BUILD[target], 1, 65535)
    with tempfile.TemporaryDirectory(prefix="digits-board-") as tmp:
        root = Path(build_dir) if build_dir is not None else Path(tmp)
        outputs, first = [], None
        for start in range(0, len(codes), step):
            m = firmware.measure(target, model, codes[start:start + step],
                                 build_dir=root / f"{target}-{kernels}-{start}")
            outputs.append(m.result.outputs.reshape(-1, model.n_outputs))
            first = first or m
    return np.concatenate(outputs).astype(np.int8), first


def board_costs(g: graph.Graph, codes, targets=("uno", "m4"), kernels: str = "fast",
                build_dir=None) -> dict[str, dict]:
    """Return {target: flash, static RAM, stack, cost per inference and its unit, outputs} of
    graph ``g`` as library-free C on each simulated board, run over the rows of ``codes``."""
    result = {}
    for target in targets:
        outputs, m = board_outputs(g, codes, target, kernels, build_dir)
        result[target] = {"flash": int(m.flash), "static_ram": int(m.static_ram),
                          "stack": int(m.stack), "cost": float(m.cost), "unit": m.unit,
                          "outputs": outputs}
    return result


def int8_model(model, d: Digits) -> graph.Graph:
    """Return ``model`` converted to full int8 (calibrated on the training images), read."""
    from .deploy import litert  # the converter needs TensorFlow, imported by the caller

    return graph.read(litert.convert(model, "int8", d.x_train))


def tflm_accuracy(g: graph.Graph, x, y) -> float:
    """Return the fraction of images ``x`` the TFLM runtime classifies as ``y`` with ``g``."""
    from .deploy import tflm

    x, y = _check_images("x", x, y)
    return float(np.mean(np.argmax(tflm.run(g, input_codes(g, x)), axis=1) == y))


def pruning_experiment(seed: int, keep=(4, 8), epochs: int = 40, finetune_epochs: int = 20,
                       rows: int = 16, targets=("uno", "m4")) -> dict:
    """Train the Dense baseline and the CNN with ``seed``, remove filters down to ``keep``
    and fine-tune, zero as many single weights (same sparsity per layer) and fine-tune, and
    return for each model its float and int8 accuracy, parameters, zero weights, .tflite
    bytes and board costs over the first ``rows`` test images (the steps of lesson 08)."""
    d = load(seed)
    baseline = dense_baseline(seed=seed)
    train(baseline, d, epochs=epochs, seed=seed)
    model = cnn(seed=seed)
    train(model, d, epochs=epochs, seed=seed)
    small = remove_filters(model, keep)
    train(small, d, epochs=finetune_epochs, learning_rate=0.003, seed=seed)
    sparse = finetune_masked(prune_weights(model, matching_sparsity(model, small)), d,
                             epochs=finetune_epochs, seed=seed)
    record = {"seed": seed, "keep": list(keep), "dense_accuracy": accuracy(baseline, d.x_test,
                                                                            d.y_test)}
    for name, m in (("original", model), ("filters removed", small),
                    ("weights zeroed", sparse)):
        g = int8_model(m, d)
        costs = board_costs(g, input_codes(g, d.x_test[:rows]), targets)
        record[name] = {
            "float_accuracy": accuracy(m, d.x_test, d.y_test),
            "int8_accuracy": tflm_accuracy(g, d.x_test, d.y_test),
            "params": int(m.count_params()), "zero_weights": zero_weights(m),
            "tflite_bytes": len(g.data),
            "boards": {t: {k: v for k, v in c.items() if k != "outputs"}
                       for t, c in costs.items()}}
    return record
