"""How big is a network: parameters, bytes per dtype, MACs, activation RAM, and boards.

Everything here is plain arithmetic on layer widths, so it works without TensorFlow. A Keras
model can be passed too: its layers are read into the same description first.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import checks
from .models import check_widths

# Bytes per stored number for each way of storing a model.
BYTES_PER_VALUE = {"float32": 4, "float16": 2, "int8": 1}
# int8 models (TFLite/TFLM convention) keep biases as int32 because they are added to
# int32 accumulators.
INT8_BIAS_BYTES = 4


@dataclass(frozen=True)
class LayerSize:
    """One row of the size table.

    ``inputs`` and ``outputs`` count values (a 8x8x8 feature map is 512). A convolution applies
    its weights at every output position, so its MACs are ``weights * positions``.
    """

    name: str
    kind: str  # "input", "dense", "conv2d", "depthwise" or "pool"
    inputs: int
    outputs: int
    weights: int
    biases: int
    positions: int = 1  # output positions the weights are applied at (pixels of a feature map)
    shape: tuple[int, ...] = ()  # the output's shape without the batch (empty: (outputs,))

    @property
    def params(self) -> int:
        """Return weights + biases."""
        return self.weights + self.biases

    @property
    def macs(self) -> int:
        """Return the multiply-accumulates one inference spends in this layer."""
        return self.weights * self.positions


@dataclass(frozen=True)
class Board:
    """A microcontroller board: what it offers a model."""

    name: str
    mcu: str
    flash_bytes: int
    ram_bytes: int
    clock_hz: int
    fpu: bool


KB = 1024
MB = 1024 * KB

# Datasheet figures of the boards the course targets.
BOARDS = {
    "uno": Board("Arduino Uno", "ATmega328P (8-bit AVR)", 32 * KB, 2 * KB, 16_000_000, False),
    "nano33ble": Board(
        "Arduino Nano 33 BLE", "nRF52840 (Cortex-M4F)", 1 * MB, 256 * KB, 64_000_000, True
    ),
    "esp32": Board("ESP32 DevKitC", "ESP32 (Xtensa LX6, 2 cores)", 4 * MB, 520 * KB,
                   240_000_000, True),
}


def get_board(key: str) -> Board:
    """Return the board called ``key`` (one of :data:`BOARDS`)."""
    if not isinstance(key, str):
        raise TypeError(f"board must be a str key, got {type(key).__name__}")
    try:
        return BOARDS[key.lower()]
    except KeyError:
        raise ValueError(f"unknown board {key!r}; known boards: {', '.join(BOARDS)}") from None


def layer_table(model_or_widths) -> list[LayerSize]:
    """Return one :class:`LayerSize` per layer (input first) of a width list or Keras model."""
    if isinstance(model_or_widths, (list, tuple, np.ndarray)):
        return _table_from_widths(check_widths(model_or_widths))
    return _table_from_keras(model_or_widths)


def _table_from_widths(widths: Sequence[int]) -> list[LayerSize]:
    rows = [LayerSize("input", "input", widths[0], widths[0], 0, 0, 1, (widths[0],))]
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths), start=1):
        name = "output" if i == len(widths) - 1 else f"dense_{i}"
        rows.append(LayerSize(name, "dense", n_in, n_out, n_in * n_out, n_out, 1, (n_out,)))
    return rows


# Layers that hold no parameters and keep the width: they cost nothing in this table.
_PASS_THROUGH = {"InputLayer", "Activation", "ReLU", "Dropout", "Rescaling"}
# Layers of a convolutional network that the table sizes; Flatten only re-labels the values
# (the int8 graph keeps them where they are), so it adds no row.
_CONV = {"Conv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D"}
_RESHAPE = {"Flatten", "Reshape"}


def _shape(shape, layer) -> tuple[int, ...]:
    if any(d is None for d in shape[1:]):
        raise ValueError(f"layer {layer.name!r} has an unknown size {shape}; give the model a "
                         "fixed input shape with tf.keras.Input(...)")
    return tuple(int(d) for d in shape[1:])


def _conv_row(layer, in_shape: tuple[int, ...]) -> LayerSize:
    kind = type(layer).__name__
    out_shape = _shape(layer.output.shape, layer)
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    positions = int(np.prod(out_shape[:-1]))
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return LayerSize(layer.name, "pool", n_in, n_out, 0, 0, positions, out_shape)
    weights = int(np.prod(layer.get_weights()[0].shape))
    biases = int(np.prod(layer.get_weights()[1].shape)) if layer.use_bias else 0
    if kind == "DepthwiseConv2D":  # each output channel has its own window: weights / channels
        return LayerSize(layer.name, "depthwise", n_in, n_out, weights, biases, positions,
                         out_shape)
    return LayerSize(layer.name, "conv2d", n_in, n_out, weights, biases, positions, out_shape)


def _table_from_keras(model) -> list[LayerSize]:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            f"expected a list of layer widths or a Keras model, got {type(model).__name__}"
        )
    known = {"Dense"} | _PASS_THROUGH | _CONV | _RESHAPE
    for layer in layers:
        kind = type(layer).__name__
        if kind not in known:
            raise TypeError(
                f"sizing supports Dense, Conv2D, DepthwiseConv2D, pooling and Flatten layers; "
                f"layer {layer.name!r} is a {kind}"
            )
    try:
        input_shape = tuple(model.input_shape)
    except AttributeError:  # a Sequential without an Input has no shape until it is built
        raise ValueError(
            f"model {model.name!r} has no input shape yet; start it with tf.keras.Input(...)"
        ) from None
    convolutional = any(type(layer).__name__ in _CONV | _RESHAPE for layer in layers)
    if not convolutional and (len(input_shape) != 2 or input_shape[-1] is None):
        # Dense on a (batch, steps, features) input runs once per step: this table would be wrong.
        raise TypeError(f"sizing needs a flat (batch, features) input, got {input_shape}")
    shape = _shape(input_shape, model)
    width = int(np.prod(shape))
    rows = [LayerSize("input", "input", width, width, 0, 0, 1, shape)]
    for layer in layers:
        kind = type(layer).__name__
        if kind in _CONV:
            rows.append(_conv_row(layer, shape))
            shape = rows[-1].shape
            width = rows[-1].outputs
            continue
        if kind in _RESHAPE:
            shape = _shape(layer.output.shape, layer)
            continue
        if kind != "Dense":
            continue
        if len(shape) != 1:
            raise TypeError(f"sizing needs a flat input to Dense layer {layer.name!r}, got "
                            f"shape {shape}: add a Flatten layer before it")
        n_in = int(layer.kernel.shape[0])
        if n_in != width:  # e.g. a functional model with branches: not one chain of layers
            raise TypeError(
                f"sizing needs a single chain of Dense layers; layer {layer.name!r} takes "
                f"{n_in} inputs but the layer before it gives {width}"
            )
        units = int(layer.units)
        biases = units if layer.use_bias else 0
        rows.append(LayerSize(layer.name, "dense", width, units, width * units, biases, 1,
                              (units,)))
        width = units
        shape = (units,)
    if len(rows) == 1:
        raise TypeError(f"model {model.name!r} has no Dense or convolution layer to size")
    return rows


def count_params(model_or_widths) -> int:
    """Return the total number of parameters."""
    return sum(row.params for row in layer_table(model_or_widths))


def count_macs(model_or_widths) -> int:
    """Return the multiply-accumulates of one inference."""
    return sum(row.macs for row in layer_table(model_or_widths))


def model_bytes(model_or_widths, dtype: str = "float32") -> int:
    """Return the bytes the weights and biases take stored as ``dtype``.

    ``"int8"`` means int8 weights with int32 biases (how TFLite stores them); the per-channel
    scales and zero points are left out here.
    """
    checks.check_choice("dtype", dtype, BYTES_PER_VALUE)
    rows = layer_table(model_or_widths)
    if dtype == "int8":
        return sum(r.weights * 1 + r.biases * INT8_BIAS_BYTES for r in rows)
    return sum(r.params for r in rows) * BYTES_PER_VALUE[dtype]


def activation_values(model_or_widths) -> int:
    """Return the most values alive at once: a layer's input plus its output buffer."""
    return max(row.inputs + row.outputs for row in layer_table(model_or_widths)[1:])


def activation_bytes(model_or_widths, dtype: str = "float32") -> int:
    """Return the RAM needed for activations when each value is stored as ``dtype``."""
    checks.check_choice("dtype", dtype, BYTES_PER_VALUE)
    return activation_values(model_or_widths) * BYTES_PER_VALUE[dtype]


@dataclass(frozen=True)
class Fit:
    """Whether a model fits a board, and by how much."""

    board: Board
    flash_needed: int
    ram_needed: int

    @property
    def fits_flash(self) -> bool:
        """Return True if the model data fits in flash."""
        return self.flash_needed <= self.board.flash_bytes

    @property
    def fits_ram(self) -> bool:
        """Return True if the activations fit in RAM."""
        return self.ram_needed <= self.board.ram_bytes

    @property
    def fits(self) -> bool:
        """Return True if both flash and RAM suffice."""
        return self.fits_flash and self.fits_ram


def check_fit(flash_needed: int, ram_needed: int, board: str) -> Fit:
    """Return how ``flash_needed`` model bytes and ``ram_needed`` RAM bytes fit ``board``.

    Only the model is counted: the program code, the runtime and the stack need room too.
    """
    for name, value in (("flash_needed", flash_needed), ("ram_needed", ram_needed)):
        # numbers.Integral also admits NumPy integers, which size arithmetic often produces.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int number of bytes, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0 bytes, got {value}")
    return Fit(get_board(board), int(flash_needed), int(ram_needed))


def fit_report(model_or_widths, dtype: str = "float32") -> list[Fit]:
    """Return a :class:`Fit` for every board in :data:`BOARDS` for the model stored as ``dtype``."""
    checks.check_choice("dtype", dtype, BYTES_PER_VALUE)
    flash = model_bytes(model_or_widths, dtype)
    ram = activation_bytes(model_or_widths, dtype)
    return [check_fit(flash, ram, key) for key in BOARDS]


def format_table(model_or_widths) -> str:
    """Return the per-layer size table as aligned text."""
    rows = layer_table(model_or_widths)
    lines = [f"{'layer':<10}{'shape':>10}{'weights':>9}{'biases':>8}{'params':>8}{'MACs':>7}"]
    for r in rows:
        if r.kind == "dense":
            shape = f"{r.inputs}->{r.outputs}"
        elif r.kind == "input" or not r.shape:
            shape = f"{r.outputs}"
        else:
            shape = "x".join(map(str, r.shape))
        lines.append(f"{r.name:<10}{shape:>10}{r.weights:>9}{r.biases:>8}{r.params:>8}{r.macs:>7}")
    total = sum(r.params for r in rows)
    lines.append(f"{'total':<10}{'':>10}{'':>9}{'':>8}{total:>8}{sum(r.macs for r in rows):>7}")
    return "\n".join(lines)


def format_boards() -> str:
    """Return the board catalogue :data:`BOARDS` as aligned text."""
    lines = [f"{'key':<11}{'board':<21}{'flash':>9}{'RAM':>9}{'clock':>9}  {'FPU':<4}mcu"]
    for key, b in BOARDS.items():
        lines.append(
            f"{key:<11}{b.name:<21}{b.flash_bytes // KB:>6} KB{b.ram_bytes // KB:>6} KB"
            f"{b.clock_hz // 1_000_000:>5} MHz  {'yes' if b.fpu else 'no':<4}{b.mcu}"
        )
    return "\n".join(lines)


def format_fits(fits: Sequence[Fit]) -> str:
    """Return a :func:`fit_report` as aligned text: bytes needed vs available, and a verdict."""
    if isinstance(fits, Fit) or not isinstance(fits, Sequence) or not all(
            isinstance(f, Fit) for f in fits):
        raise TypeError("fits must be a list of sizing.Fit, as fit_report returns")
    lines = [f"{'board':<20} {'flash (weights)':<32} {'RAM (activations)':<28} fits?"]
    for f in fits:
        b = f.board
        flash_pct, ram_pct = f.flash_needed / b.flash_bytes, f.ram_needed / b.ram_bytes
        flash = f"{f.flash_needed:,} B of {b.flash_bytes // KB} KB ({flash_pct:.1%})"
        ram = f"{f.ram_needed:,} B of {b.ram_bytes // KB} KB ({ram_pct:.1%})"
        short = [part for part, ok in (("flash", f.fits_flash), ("RAM", f.fits_ram)) if not ok]
        verdict = "yes" if f.fits else "no: too little " + " and ".join(short)
        lines.append(f"{b.name:<20} {flash:<32} {ram:<28} {verdict}")
    return "\n".join(lines)


def human_bytes(n: int) -> str:
    """Return ``n`` bytes as a short human string (B, KB, MB with 1024 steps)."""
    n = checks.check_int("n", n, 0)
    if n < KB:
        return f"{n} B"
    if n < MB:
        return f"{n / KB:.1f} KB"
    return f"{n / MB:.1f} MB"
