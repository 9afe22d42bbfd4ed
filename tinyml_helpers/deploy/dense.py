"""Dense layers read out of a Keras model or a model's graph, and the NumPy forward passes
that mirror the Dense fast kernels of the C exactly.

* :class:`FloatDense` lists come from :func:`float_layers` (Keras) or
  :func:`float_layers_from_tflite`; :func:`float_reference` runs them as the float C kernel
  does.
* An :class:`Int8Model` comes from :func:`int8_layers` (a full-int8 model);
  :func:`int8_reference` is TFLM's fixed-point FULLY_CONNECTED arithmetic in NumPy.

The .tflite readers take bytes or a :class:`~.graph.Graph` (read once by :func:`graph.read`)
and view a chain of FULLY_CONNECTED ops with ReLU or no activation as Dense layers
(:func:`is_dense_chain`); any other graph is refused with a TypeError or ValueError that says
what was found (:func:`export.plain_c_files` takes such graphs whole).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from . import graph, quant
from .env import import_tf
from .ops import requantization


@dataclass(frozen=True)
class FloatDense:
    """A float dense layer: weights [n_out, n_in], bias [n_out], ReLU or linear."""

    weights: np.ndarray
    bias: np.ndarray
    relu: bool


@dataclass(frozen=True)
class Int8Dense:
    """An int8 dense layer with everything TFLM's FULLY_CONNECTED kernel uses."""

    weights: np.ndarray  # int8 [n_out, n_in]
    bias: np.ndarray  # int32 [n_out]
    multiplier: np.ndarray  # int32 [n_out], Q31 in [2^30, 2^31)
    shift: np.ndarray  # int8 [n_out], power of two applied after the multiplier
    input_zero_point: int
    output_zero_point: int
    act_min: int
    act_max: int
    relu: bool  # the op's fused activation (the clamp above is how it is computed)
    per_channel: bool = False  # one weight scale per output neuron in the .tflite


@dataclass(frozen=True)
class Int8Model:
    """The int8 layers plus the input and output quantization of a full-int8 .tflite."""

    layers: list
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def quantize(self, x) -> np.ndarray:
        """Return float inputs as int8 codes, as TFLite's QUANTIZE op computes them."""
        return quant.quantize(x, np.float32(self.input_scale), self.input_zero_point, bits=8,
                              signed=True)

    def dequantize(self, q) -> np.ndarray:
        """Return int8 output codes as float32 values."""
        codes = _int8_codes("q", quant.real_array("q", q))
        return (codes.astype(np.float32) - self.output_zero_point) * np.float32(
            self.output_scale)

    @property
    def n_inputs(self) -> int:
        """Return the number of input features."""
        return int(self.layers[0].weights.shape[1])

    @property
    def n_outputs(self) -> int:
        """Return the number of outputs."""
        return int(self.layers[-1].weights.shape[0])


def float_layers(model) -> list[FloatDense]:
    """Return the Dense layers of a Keras model as :class:`FloatDense` (weights transposed)."""

    tf = import_tf()
    if not isinstance(model, tf.keras.Model):
        raise TypeError(f"expected a Keras model, got {type(model).__name__}")
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("InputLayer",):
            continue
        if not isinstance(layer, tf.keras.layers.Dense):
            raise TypeError(f"plain-C export supports Dense layers only; {layer.name!r} is {kind}")
        act = layer.activation.__name__
        if act not in ("relu", "linear"):
            raise ValueError(
                f"plain-C export supports relu or linear activations; {layer.name!r} uses {act}")
        if not layer.built:
            raise ValueError(f"layer {layer.name!r} has no weights yet: build or train the "
                             "model first")
        try:
            shape = tuple(layer.input.shape)
        except (AttributeError, RuntimeError):  # a layer never called on a symbolic input
            shape = None
        if shape is not None and len(shape) != 2:
            raise ValueError(f"layer {layer.name!r} needs a flat (batch, features) input, got "
                             f"{shape}")
        kernel = layer.kernel.numpy()
        bias = layer.bias.numpy() if layer.use_bias and layer.bias is not None \
            else np.zeros(kernel.shape[1], dtype=np.float32)
        _check_finite_weights(layer.name, kernel, bias)
        layers.append(FloatDense(np.ascontiguousarray(kernel.T, dtype=np.float32),
                                 bias.astype(np.float32), act == "relu"))
    _check_chain([lay.weights.shape for lay in layers])
    return layers


def _check_finite_weights(name: str, weights, bias) -> None:
    """Raise ValueError naming the layer if its weights or bias hold NaN or inf (as float32)."""
    for what, values in (("weights", weights), ("bias", bias)):
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(np.asarray(values, dtype=np.float32))
        if not np.all(finite):
            raise ValueError(f"layer {name!r}: its {what} contain {int(np.sum(~finite))} "
                             "NaN or inf values (or values too large for float32); "
                             "retrain or fix the model before exporting it")


def _check_chain(shapes) -> None:
    if not shapes:
        raise ValueError("the model has no Dense layers to export")
    for (n_out, _), (_, n_in) in itertools.pairwise(shapes):
        if n_out != n_in:
            raise ValueError(f"layer widths do not chain: {n_out} outputs feed {n_in} inputs")


_RELU = {"NONE": False, "RELU": True}  # the fused activations a Dense kernel computes


def is_dense_chain(g: graph.Graph) -> bool:
    """Return True if ``g`` is a chain of FULLY_CONNECTED ops with ReLU or no activation."""
    return bool(g.ops) and all(op.kind == "FULLY_CONNECTED" and op.params.activation in _RELU
                               for op in g.ops)


def _dense_ops(tflite) -> tuple[graph.Graph, list[graph.Op]]:
    """Return (the graph, its FULLY_CONNECTED ops) of a .tflite (bytes or a read graph) that is
    a plain stack of Dense layers; raise TypeError/ValueError saying what else it holds."""
    g = graph.read(tflite)
    other = next((op.kind for op in g.ops if op.kind != "FULLY_CONNECTED"), None)
    if other is not None:
        raise TypeError(f"the Dense layers view supports FULLY_CONNECTED ops only; found {other} "
                        "(export.plain_c_files takes the whole graph of a CNN)")
    for i, op in enumerate(g.ops, start=1):
        if op.params.activation not in _RELU:
            raise ValueError(f"FULLY_CONNECTED op {i} fuses {op.params.activation}; the Dense "
                             "kernels compute ReLU or none")
    graph.check_chain(g, "the Dense layers view")
    return g, list(g.ops)


def _bias(g: graph.Graph, op: graph.Op, n_out: int, dtype) -> np.ndarray:
    index = op.inputs[2] if len(op.inputs) > 2 else -1
    if index < 0:
        return np.zeros(n_out, dtype)
    return np.array(g.tensors[index].data, dtype=dtype).reshape(-1)


def layers_from_tflite(tflite):
    """Return an :class:`Int8Model` for a full-int8 .tflite or FloatDense layers for a float one
    (``tflite``: bytes or a :class:`graph.Graph`)."""
    g, _ = _dense_ops(tflite)
    return int8_layers(g) if g.is_int8 else float_layers_from_tflite(g)


def float_layers_from_tflite(tflite) -> list[FloatDense]:
    """Return the layers of a float32 .tflite (bytes or a :class:`graph.Graph`) made only of
    FULLY_CONNECTED ops."""
    g, ops = _dense_ops(tflite)
    if g.is_int8:
        raise ValueError("this .tflite is full int8, not float32: use int8_layers for it")
    layers = []
    for op in ops:
        w = g.tensors[op.inputs[1]]
        weights = np.array(w.data, dtype=np.float32)
        bias = _bias(g, op, weights.shape[0], np.float32)
        _check_finite_weights(w.name, weights, bias)
        layers.append(FloatDense(np.ascontiguousarray(weights), bias,
                                 _RELU[op.params.activation]))
    _check_chain([lay.weights.shape for lay in layers])
    return layers


def int8_layers(tflite) -> Int8Model:
    """Return the layers of a full-int8 .tflite (bytes or a :class:`graph.Graph`) made only of
    FULLY_CONNECTED ops."""
    g, ops = _dense_ops(tflite)
    if not g.is_int8:
        raise ValueError("tensors of this .tflite are not int8: convert with full int8 "
                         "quantization and int8 input/output")
    layers = []
    for op in ops:
        x, w, out = (g.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
        weights = np.array(w.data, dtype=np.int8)
        n_out = weights.shape[0]
        # As TFLM's Prepare: the float32 scales are combined in double precision.
        multiplier, shift = requantization(x, w, out, n_out)
        relu = _RELU[op.params.activation]
        zp_out = int(out.quantization.zero_point[0])
        layers.append(Int8Dense(
            weights=np.ascontiguousarray(weights), bias=_bias(g, op, n_out, np.int32),
            multiplier=multiplier.astype(np.int32), shift=shift.astype(np.int8),
            input_zero_point=int(x.quantization.zero_point[0]), output_zero_point=zp_out,
            act_min=max(-128, zp_out) if relu else -128, act_max=127, relu=relu,
            per_channel=w.quantization.per_channel))
    _check_chain([lay.weights.shape for lay in layers])
    qx, qy = g.tensors[g.inputs[0]].quantization, g.tensors[g.outputs[0]].quantization
    return Int8Model(layers, float(qx.scale[0]), int(qx.zero_point[0]), float(qy.scale[0]),
                     int(qy.zero_point[0]))


# --- the NumPy forward passes (mirrors of the C kernels) ------------------------------------

def _rows(name: str, values, n_in: int) -> np.ndarray:
    """Return ``values`` as (n, n_in) rows after checking they are real numbers of that shape."""
    rows = quant.real_array(name, values)
    if rows.ndim == 1 and n_in == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or rows.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (n, {n_in}), got {rows.shape}")
    if len(rows) == 0:
        raise ValueError(f"{name} is empty: give at least one row")
    return rows


def int8_reference(model: Int8Model, codes) -> np.ndarray:
    """Return the int8 output codes for int8 input ``codes`` [n, n_in], computed like TFLM."""
    if not isinstance(model, Int8Model):
        raise TypeError(f"model must be an Int8Model (from int8_layers), got "
                        f"{type(model).__name__}")
    if not isinstance(model.layers, (list, tuple)) or not model.layers \
            or not all(isinstance(lay, Int8Dense) for lay in model.layers):
        raise TypeError("the Int8Model's layers must be a non-empty list of Int8Dense")
    for i, lay in enumerate(model.layers, start=1):
        if np.ndim(lay.weights) != 2 or np.shape(lay.bias) != (np.shape(lay.weights)[0],):
            raise ValueError(f"layer {i}: weights must be (outputs, inputs) and bias "
                             f"(outputs,), got {np.shape(lay.weights)} and {np.shape(lay.bias)}")
    _check_chain([np.shape(lay.weights) for lay in model.layers])
    x = _int8_codes("codes", _rows("codes", codes, model.n_inputs)).astype(np.int64)
    for layer in model.layers:
        acc = (x - layer.input_zero_point) @ layer.weights.T.astype(np.int64) + layer.bias
        y = quant.requantize(acc, layer.multiplier, layer.shift) + layer.output_zero_point
        x = np.clip(y, layer.act_min, layer.act_max)
    return x.astype(np.int8)


def _int8_codes(name: str, codes: np.ndarray) -> np.ndarray:
    if not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"{name} must be int8 codes (integers), got dtype {codes.dtype}; "
                        "quantize float inputs first (Int8Model.quantize)")
    if codes.size and (codes.min() < -128 or codes.max() > 127):
        raise ValueError(f"{name} must lie in [-128, 127], got {codes.min()}..{codes.max()}")
    return codes


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


MAX_CODE_INPUTS = 65_536  # all_int8_codes: inputs per row
MAX_CODE_VALUES = 16_000_000  # and codes in all (16 MB of int8)


def all_int8_codes(n_inputs: int, extra_random: int = 0) -> np.ndarray:
    """Return rows in which every input takes each of the 256 int8 codes (plus random rows)."""
    n_inputs = _count("n_inputs", n_inputs, 1)
    extra_random = _count("extra_random", extra_random, 0)
    if n_inputs > MAX_CODE_INPUTS or (256 + extra_random) * n_inputs > MAX_CODE_VALUES:
        raise ValueError(f"all_int8_codes makes (256 + extra_random) rows of n_inputs codes: "
                         f"at most {MAX_CODE_INPUTS:,} inputs and {MAX_CODE_VALUES:,} codes in "
                         f"all, got n_inputs={n_inputs:,}, extra_random={extra_random:,}")
    base = np.arange(256)
    rows = np.stack([(base + 85 * j) % 256 - 128 for j in range(n_inputs)], axis=1)
    if extra_random:
        rng = np.random.default_rng(0)
        rows = np.concatenate([rows, rng.integers(-128, 128, size=(extra_random, n_inputs))])
    return rows.astype(np.int8)


def _check_float_layers(layers) -> list[FloatDense]:
    if not isinstance(layers, (list, tuple)) or not layers \
            or not all(isinstance(lay, FloatDense) for lay in layers):
        raise TypeError("layers must be a non-empty list of FloatDense (from float_layers), got "
                        f"{type(layers).__name__}")
    for i, lay in enumerate(layers, start=1):
        w, b = np.asarray(lay.weights), np.asarray(lay.bias)
        if w.ndim != 2 or 0 in w.shape or b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: weights must be (outputs, inputs) and bias "
                             f"(outputs,), got {w.shape} and {b.shape}")
        _check_finite_weights(f"layer {i}", w, b)
    _check_chain([np.asarray(lay.weights).shape for lay in layers])
    return list(layers)


def float_reference(layers: list[FloatDense], x) -> np.ndarray:
    """Return the float outputs for inputs ``x`` [n, n_in], computed like the C kernel."""
    layers = _check_float_layers(layers)
    x = _rows("x", x, np.asarray(layers[0].weights).shape[1]).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf (or values too large for float32)")
    for layer in layers:
        x = x @ np.asarray(layer.weights, dtype=np.float32).T \
            + np.asarray(layer.bias, dtype=np.float32)
        if layer.relu:
            x = np.maximum(x, 0)
    return x


def from_pairs(pairs) -> list[FloatDense]:
    """Return [(W, b), ...] NumPy pairs (W of shape (inputs, outputs), as Keras stores a Dense
    kernel) as FloatDense layers: ReLU after every layer but the last."""
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise TypeError("pairs must be a non-empty list of (W, b) arrays")
    layers = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"pairs[{i}] must be a (W, b) pair, got {type(pair).__name__}")
        w = quant.check_finite(f"pairs[{i}] W", pair[0]).astype(np.float32)
        b = quant.check_finite(f"pairs[{i}] b", pair[1]).astype(np.float32)
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise ValueError(f"pairs[{i}]: W must be (inputs, outputs) and b (outputs,), got "
                             f"{w.shape} and {b.shape}")
        layers.append(FloatDense(np.ascontiguousarray(w.T), b, i < len(pairs) - 1))
    _check_chain([lay.weights.shape for lay in layers])
    return layers


def data_bytes(model) -> int:
    """Return the bytes of constant data the plain-C export of ``model`` stores (an
    :class:`Int8Model`, or a list of :class:`Int8Dense` or of :class:`FloatDense`)."""
    if isinstance(model, Int8Model):
        model = model.layers
    if isinstance(model, (list, tuple)) and model and all(isinstance(x, Int8Dense)
                                                          for x in model):
        return sum(lay.weights.size + 4 * lay.bias.size + 4 * lay.multiplier.size
                   + lay.shift.size for lay in model)
    if isinstance(model, list) and model and all(isinstance(x, FloatDense) for x in model):
        return sum(4 * (lay.weights.size + lay.bias.size) for lay in model)
    raise TypeError("expected an Int8Model or a list of FloatDense layers, got "
                    f"{type(model).__name__}")
