"""Dense layers read out of a Keras model or a .tflite, and the NumPy forward passes that
mirror the C kernels exactly.

* :class:`FloatDense` lists come from :func:`float_layers` (Keras) or
  :func:`float_layers_from_tflite`; :func:`float_forward` runs them as the float C kernel does.
* An :class:`Int8Model` comes from :func:`int8_layers` (a full-int8 .tflite);
  :func:`int8_forward` is TFLM's fixed-point FULLY_CONNECTED arithmetic in NumPy.

Only stacks of Dense (FULLY_CONNECTED) layers with ReLU or linear activations can be expressed;
anything else is refused with a TypeError or ValueError that says what was found.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from . import quant, tflite_file


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
    from .env import import_tf

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


_FC = 9  # BuiltinOperator.FULLY_CONNECTED
_FLOAT32, _INT8 = 0, 9  # TensorType values
_ACT = {0: "linear", 1: "relu"}  # ActivationFunctionType NONE, RELU


def _read_graph(tflite):
    t = tflite_file.read(tflite)
    if len(t.model.subgraphs) != 1:
        raise ValueError(f"expected one subgraph, found {len(t.model.subgraphs)}")
    graph = t.graph
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError("plain-C export needs exactly one input and one output tensor")
    ops = []
    for op in graph.operators or []:
        code = tflite_file.builtin_code(t.model, op)
        if code != _FC:
            name = _OP_NAMES.get(code, f"builtin operator code {code}")
            raise TypeError(f"plain-C export supports FULLY_CONNECTED ops only; found {name}")
        act = getattr(op.builtinOptions, "fusedActivationFunction", None)
        if act not in _ACT:
            raise ValueError(f"unsupported fused activation (code {act}); only ReLU or none")
        if op.inputs is None or len(op.inputs) < 2 or op.outputs is None or len(op.outputs) != 1:
            raise ValueError("a FULLY_CONNECTED op needs an input, weights and one output")
        ops.append(op)
    if not ops:
        raise ValueError("the model has no FULLY_CONNECTED op to export")
    flow = int(graph.inputs[0])
    for i, op in enumerate(ops, start=1):
        if int(op.inputs[0]) != flow:
            raise ValueError(f"FULLY_CONNECTED op {i} does not take the previous layer's "
                             "output (or the model input): not a plain stack of Dense layers")
        flow = int(op.outputs[0])
    if flow != int(graph.outputs[0]):
        raise ValueError("the model output is not the last FULLY_CONNECTED op's output: not a "
                         "plain stack of Dense layers")
    return t, graph, ops


def _tensor_name(graph, index: int) -> str:
    name = graph.tensors[index].name
    return bytes(name).decode("utf-8", "replace") if name is not None else f"tensor {index}"


# A few operators a student may meet, named in error messages.
_OP_NAMES = {0: "ADD", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 14: "LOGISTIC",
             22: "RESHAPE", 25: "SOFTMAX", 28: "TANH", 114: "QUANTIZE"}


def layers_from_tflite(tflite: bytes):
    """Return an :class:`Int8Model` for a full-int8 .tflite or FloatDense layers for a float one."""
    _, graph, _ = _read_graph(tflite)
    if graph.tensors[graph.inputs[0]].type == _FLOAT32:
        return float_layers_from_tflite(tflite)
    return int8_layers(tflite)


def float_layers_from_tflite(tflite: bytes) -> list[FloatDense]:
    """Return the layers of a float32 .tflite made only of FULLY_CONNECTED ops."""
    model, graph, ops = _read_graph(tflite)
    layers = []
    for op in ops:
        inp, filt, bias_idx = (list(op.inputs) + [-1])[:3]
        for index in (inp, filt, op.outputs[0]):
            if graph.tensors[index].type != _FLOAT32:
                raise ValueError(f"tensor {graph.tensors[index].name!r} is not float32")
        weights = tflite_file.tensor_values(model, filt, np.float32)
        if weights is None:
            raise ValueError("the FULLY_CONNECTED weights are not constant")
        bias = tflite_file.tensor_values(model, bias_idx, np.float32)
        bias = np.zeros(weights.shape[0], np.float32) if bias is None else bias.reshape(-1)
        _check_finite_weights(_tensor_name(graph, filt), weights, bias)
        layers.append(FloatDense(np.ascontiguousarray(weights), bias.copy(),
                                 op.builtinOptions.fusedActivationFunction == 1))
    _check_chain([lay.weights.shape for lay in layers])
    return layers


def int8_layers(tflite: bytes) -> Int8Model:
    """Return the layers of a full-int8 .tflite made only of FULLY_CONNECTED ops."""
    model, graph, ops = _read_graph(tflite)
    tensors = graph.tensors

    def qparams(index: int) -> tuple[np.ndarray, np.ndarray]:
        q = tensors[index].quantization
        name = _tensor_name(graph, index)
        if tensors[index].type != _INT8 or q is None or q.scale is None or not len(q.scale) \
                or q.zeroPoint is None or len(q.zeroPoint) != len(q.scale):
            raise ValueError(f"tensor {name!r} is not int8: convert with full "
                             "int8 quantization and int8 input/output")
        scale = np.asarray(q.scale, dtype=np.float32)
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"tensor {name!r} has a quantization scale that is not a positive "
                             f"finite number: {scale.tolist()}")
        return scale, np.asarray(q.zeroPoint, dtype=np.int64)

    def per_tensor(index: int) -> tuple[float, int]:
        scale, zero_point = qparams(index)
        if len(scale) != 1:
            raise ValueError(f"tensor {_tensor_name(graph, index)!r} is quantized per channel; "
                             "activations need one scale and zero point")
        return scale, zero_point

    layers = []
    for op in ops:
        inp, filt, bias_idx = (list(op.inputs) + [-1])[:3]
        out = op.outputs[0]
        in_scale, in_zp = per_tensor(inp)
        w_scale, w_zp = qparams(filt)
        out_scale, out_zp = per_tensor(out)
        weights = tflite_file.tensor_values(model, filt, np.int8)
        if weights is None:
            raise ValueError("the FULLY_CONNECTED weights are not constant")
        if np.any(w_zp != 0):
            raise ValueError("weights with a non-zero zero point are not supported")
        n_out = weights.shape[0]
        bias = tflite_file.tensor_values(model, bias_idx, np.int32)
        bias = np.zeros(n_out, np.int32) if bias is None else bias.reshape(-1).astype(np.int32)
        if len(w_scale) not in (1, n_out):
            raise ValueError(f"weights {_tensor_name(graph, filt)!r} have {len(w_scale)} scales "
                             f"for {n_out} output channels")
        per_channel = len(w_scale) > 1  # as TFLM decides it
        w_scale = np.broadcast_to(w_scale, (n_out,))  # per-tensor -> per-channel
        # As TFLM: the float32 scales are combined in double precision.
        pairs = [quant.quantize_multiplier(float(np.float64(in_scale[0]) * np.float64(s)
                                           / np.float64(out_scale[0]))) for s in w_scale]
        relu = op.builtinOptions.fusedActivationFunction == 1
        layers.append(Int8Dense(
            weights=np.ascontiguousarray(weights), bias=bias,
            multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
            shift=np.array([s for _, s in pairs], dtype=np.int8),
            input_zero_point=int(in_zp[0]), output_zero_point=int(out_zp[0]),
            act_min=max(-128, int(out_zp[0])) if relu else -128, act_max=127, relu=relu,
            per_channel=per_channel))
    _check_chain([lay.weights.shape for lay in layers])
    in_scale, in_zp = per_tensor(graph.inputs[0])
    out_scale, out_zp = per_tensor(graph.outputs[0])
    return Int8Model(layers, float(in_scale[0]), int(in_zp[0]), float(out_scale[0]),
                     int(out_zp[0]))


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


def all_int8_codes(n_inputs: int, extra_random: int = 0) -> np.ndarray:
    """Return rows in which every input takes each of the 256 int8 codes (plus random rows)."""
    n_inputs = _count("n_inputs", n_inputs, 1)
    extra_random = _count("extra_random", extra_random, 0)
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
    """Return the bytes of constant data the plain-C export of ``model`` stores."""
    if isinstance(model, Int8Model):
        return sum(lay.weights.size + 4 * lay.bias.size + 4 * lay.multiplier.size
                   + lay.shift.size for lay in model.layers)
    if isinstance(model, list) and model and all(isinstance(x, FloatDense) for x in model):
        return sum(4 * (lay.weights.size + lay.bias.size) for lay in model)
    raise TypeError("expected an Int8Model or a list of FloatDense layers, got "
                    f"{type(model).__name__}")
