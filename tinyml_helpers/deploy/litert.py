"""Convert Keras models to .tflite flatbuffers and run them with the LiteRT interpreter.

The converter is ``tf.lite.TFLiteConverter``; models are evaluated with
``ai_edge_litert.interpreter.Interpreter`` (``tf.lite.Interpreter`` is deprecated). Both print
start-up chatter straight to file descriptor 2, so every call here runs inside
:func:`env.quiet_stderr` with converter warnings silenced.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import env, tflite_file
from .files import write_atomic
from .quant import dequantize, quantize, real_array

MODES = ("float32", "dynamic", "float16", "int8")


class TensorInfo(NamedTuple):
    """One tensor of a .tflite model."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int  # size of the tensor's values (prod(shape) × bytes per value)
    constant: bool  # stored in the file (weights, biases) rather than computed at run time


def _representative(data, features: tuple | None = None) -> Callable:
    """Return a converter ``representative_dataset`` generator function for ``data``."""
    if callable(data):
        return data
    with np.errstate(over="ignore", invalid="ignore"):
        x = real_array("representative data", data).astype(np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"representative data must be a non-empty (n, features) array, "
                         f"got shape {x.shape}")
    if features is not None and x.shape[1:] != features:
        raise ValueError(f"representative data must have shape (n, "
                         f"{', '.join(map(str, features))}) like the model's input, got "
                         f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("representative data contains NaN or inf")
    # One batch of all samples calibrates exactly like n batches of one, about 3x faster.
    return lambda: iter([[x]])


def _walk_layers(layer):
    """Yield ``layer`` and every layer inside it, parents before their children."""
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk_layers(child)


def _check_finite_weights(model) -> None:
    """Raise ValueError naming the layer and variable if any float weight is NaN or inf.

    The converter takes such a model without complaint; the float .tflite then computes NaN
    and the int8 one comes out with float operators or broken scales.
    """
    owner: dict[int, str] = {}
    for layer in _walk_layers(model):  # a child overwrites its parent: the innermost wins
        for variable in getattr(layer, "weights", []):
            owner[id(variable)] = layer.name
    for variable in model.weights:
        values = np.asarray(variable)
        if not np.issubdtype(values.dtype, np.floating):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(values.astype(np.float32))
        if not np.all(finite):
            name = variable.name.split(":")[0]
            layer = owner.get(id(variable), model.name)
            raise ValueError(
                f"layer {layer!r}: weight {name!r} holds NaN or inf in {int(np.sum(~finite))} "
                f"of its {finite.size} values (or values too large for float32); retrain the "
                "model (a diverging training often needs a smaller learning rate) or fix the "
                "weights before converting")


# Operators with a weight tensor (input 1) and an optional bias tensor (input 2, or 3 for
# TRANSPOSE_CONV): in a full-int8 model the weights are int8 and the bias int32.
_WEIGHT_OPS = {"FULLY_CONNECTED": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "TRANSPOSE_CONV": 3}
_FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16", "COMPLEX64", "COMPLEX128"}
_LISTED = 8  # tensors named in the error message before "and N more"


def _not_full_int8(tflite: bytes) -> tuple[list[str], list[str]]:
    """Return (descriptions of the tensors that break full int8, operators computing in
    float) of a converted model; two empty lists for a full-int8 model.

    Full int8 here means: the model's inputs and outputs are int8; every tensor an operator
    reads or writes is an integer (no float anywhere); the activations in and out of
    FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV are int8, their weights
    int8 and their bias int32; other computed tensors are int8 (int32 only for shape
    arithmetic) and other constants int8 or int32 (shapes, axes, paddings).
    """
    from ai_edge_litert import schema_py_generated as schema

    op_name = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_name = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    t = tflite_file.read(tflite)
    bad: dict[tuple[int, int], str] = {}
    float_ops: list[str] = []

    def flag(g: int, index: int, role: str, allowed: tuple[str, ...]) -> bool:
        tensor = t.model.subgraphs[g].tensors[index]
        kind = type_name.get(int(tensor.type), f"type {tensor.type}")
        if kind in allowed:
            return False
        if (g, index) not in bad:
            name = tensor.name.decode("utf-8", "replace") if tensor.name else f"#{index}"
            bad[(g, index)] = f"{name!r} ({kind.lower()}, {role})"
        return True

    for g, graph in enumerate(t.model.subgraphs):
        tensors = graph.tensors or []
        constant = {i for i, tensor in enumerate(tensors)
                    if t.model.buffers[tensor.buffer].data is not None
                    and len(t.model.buffers[tensor.buffer].data) > 0}
        if g == 0:
            for index in graph.inputs:
                flag(g, int(index), "model input", ("INT8",))
            for index in graph.outputs:
                flag(g, int(index), "model output", ("INT8",))
        for op in graph.operators or []:
            name = op_name.get(tflite_file.builtin_code(t.model, op), "custom operator")
            inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
            outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
            in_float = False
            for k, index in enumerate(inputs):
                if index < 0:
                    continue
                if name in _WEIGHT_OPS and k == 1:
                    found = flag(g, index, f"weights of {name}", ("INT8",))
                elif name in _WEIGHT_OPS and k == _WEIGHT_OPS[name]:
                    found = flag(g, index, f"bias of {name}", ("INT32",))
                elif index in constant:
                    found = flag(g, index, f"constant input of {name}", ("INT8", "INT32"))
                else:
                    allowed = ("INT8",) if name in _WEIGHT_OPS else ("INT8", "INT32")
                    found = flag(g, index, f"input of {name}", allowed)
                kind = type_name.get(int(tensors[index].type), "")
                in_float = in_float or (found and kind in _FLOAT_TYPES)
            for index in outputs:
                allowed = ("INT8",) if name in _WEIGHT_OPS else ("INT8", "INT32")
                found = flag(g, index, f"output of {name}", allowed)
                kind = type_name.get(int(tensors[index].type), "")
                in_float = in_float or (found and kind in _FLOAT_TYPES)
            if in_float and name not in ("QUANTIZE", "DEQUANTIZE") and name not in float_ops:
                float_ops.append(name)
    return list(bad.values()), float_ops


def _check_full_int8(tflite: bytes) -> None:
    """Raise ValueError naming the tensors of an int8 conversion that are not full int8."""
    bad, float_ops = _not_full_int8(tflite)
    if not bad:
        return
    listed = ", ".join(bad[:_LISTED]) + (f" and {len(bad) - _LISTED} more"
                                         if len(bad) > _LISTED else "")
    why = f"Operators left in float: {', '.join(float_ops)}. " if float_ops else ""
    raise ValueError(f"int8 conversion did not give a full-int8 model: {len(bad)} tensor(s) "
                     f"break it: {listed}. {why}The converter does that silently where it has "
                     "no int8 kernel for an operator or cannot quantize a tensor. Replace "
                     "those layers with ones that have int8 kernels, or convert with "
                     "mode='float32'")


def convert(model, mode: str = "float32", representative=None,
            per_channel: bool = True) -> bytes:
    """Return the .tflite flatbuffer of Keras ``model`` converted in ``mode``.

    Modes: ``"float32"`` (no optimization), ``"dynamic"`` (dynamic-range: int8 weights for
    large tensors only), ``"float16"`` (float16 weights), ``"int8"`` (full integer, int8 input
    and output; needs ``representative`` inputs, an (n, features) array or a generator
    function, covering the whole input range). ``per_channel=False`` gives Dense layers one
    weight scale per layer instead of one per output neuron (int8 only): every TFLM build
    computes those right, esp-tflite-micro's ESP-NN kernel before 1.3.4 included.

    A model with a NaN or inf weight is refused (ValueError naming the layer and the
    variable), and so is an ``"int8"`` result that is not full int8 (the converter keeps
    float operators where it has no int8 kernel): the ValueError names the tensors.
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if not isinstance(per_channel, bool):
        raise TypeError(f"per_channel must be True or False, got {per_channel!r}")
    if not per_channel and mode != "int8":
        raise ValueError("per_channel=False applies to int8 conversion only")
    if mode == "int8" and representative is None:
        raise ValueError("int8 conversion needs representative data (inputs covering the range)")
    tf = env.import_tf()
    if not isinstance(model, tf.keras.Model):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}")
    _check_finite_weights(model)
    features = None
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape[1:]):
        features = tuple(shape[1:])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        converter.representative_dataset = _representative(representative, features)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        # The converter has no public switch for this (TF 2.16-2.21): per-channel Dense is
        # its default since 2.16.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = \
            not per_channel
    with env.quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tflite = converter.convert()
    if mode == "int8":
        _check_full_int8(tflite)
    return tflite


def interpreter(tflite_bytes: bytes, keep_all_tensors: bool = False):
    """Return a LiteRT Interpreter for the model, tensors allocated.

    ``keep_all_tensors=True`` keeps every intermediate tensor readable after an invoke (for
    looking inside a model: what each op computed).

    It runs LiteRT's reference kernels, the ones TFLM's kernels are derived from. The faster
    kernels pick their code by CPU: XNNPACK's float kernels use fused multiply-add only where
    the CPU has it, and the built-in int8 kernels have AVX paths, so their outputs differ in
    the last bits between computers. These models are small enough for the reference kernels.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not isinstance(keep_all_tensors, bool):
        raise TypeError(f"keep_all_tensors must be True or False, got {keep_all_tensors!r}")
    data = tflite_file.read(tflite_bytes).data
    resolver = OpResolverType.BUILTIN_REF
    try:
        with env.quiet_stderr():
            interp = Interpreter(model_content=data, experimental_op_resolver_type=resolver,
                                 experimental_preserve_all_tensors=bool(keep_all_tensors))
            interp.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"the LiteRT interpreter refused the .tflite: {_first_line(exc)}") \
            from None
    return interp


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def invoke(interp, values: np.ndarray) -> np.ndarray:
    """Run ``values`` (already in the input dtype) through ``interp`` as one batch."""
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    features = tuple(int(n) for n in inp["shape"][1:])
    if values.ndim != 1 + len(features) or values.shape[1:] != features:
        raise ValueError(f"input must have shape (n, {', '.join(map(str, features))}), "
                         f"got {values.shape}")
    if len(values) == 0:
        raise ValueError("the input is empty: give at least one row")
    try:
        with env.quiet_stderr():
            interp.resize_tensor_input(inp["index"], values.shape)
            interp.allocate_tensors()
            interp.set_tensor(inp["index"], values.astype(inp["dtype"]))
            interp.invoke()
    except RuntimeError as exc:
        raise ValueError(f"the LiteRT interpreter cannot run the .tflite: {_first_line(exc)}") \
            from None
    return interp.get_tensor(out["index"]).copy()


def io_quantization(tflite_bytes: bytes) -> tuple[tuple[float, int], tuple[float, int]]:
    """Return ((input scale, zero point), (output scale, zero point)); (0.0, 0) means float."""
    interp = interpreter(tflite_bytes)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    return tuple(inp["quantization"]), tuple(out["quantization"])


def predict(tflite_bytes: bytes, x) -> np.ndarray:
    """Return the model's float outputs for float inputs ``x`` of shape (n, features).

    For an int8 model the inputs are quantized with the input tensor's scale and zero point
    and the outputs dequantized with the output tensor's, as firmware would do.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        x = real_array("x", x).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf (or values too large for float32)")
    interp = interpreter(tflite_bytes)
    inp = interp.get_input_details()[0]
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = interp.get_output_details()[0]["quantization"]
    if in_scale:  # integer input: quantize the way the converter's QUANTIZE op would
        dtype = np.dtype(inp["dtype"])
        if dtype not in (np.int8, np.uint8, np.int16):
            raise ValueError(f"predict cannot quantize inputs for a {dtype.name} input tensor")
        x = quantize(x, in_scale, in_zp, bits=8 * dtype.itemsize,
                     signed=dtype.kind == "i").astype(dtype)
    y = invoke(interp, x)
    if out_scale:
        y = dequantize(y, out_scale, out_zp)
    return y.astype(np.float32)


def predict_int8_codes(tflite_bytes: bytes, codes) -> np.ndarray:
    """Return the raw int8 output codes of an int8 model for int8 input ``codes`` (n, features)."""
    codes = real_array("codes", codes)
    if codes.dtype != np.int8:
        raise TypeError(f"codes must be an int8 array, got {codes.dtype}")
    interp = interpreter(tflite_bytes)
    if not (interp.get_input_details()[0]["dtype"] == np.int8
            and interp.get_output_details()[0]["dtype"] == np.int8):
        raise ValueError("predict_int8_codes needs a model with int8 input and output")
    return invoke(interp, codes)


def tensor_summary(tflite_bytes: bytes) -> list[TensorInfo]:
    """Return one :class:`TensorInfo` per tensor of the model, in the file's order.

    Scratch tensors that the interpreter's kernels add at run time are not part of the model
    and are left out.
    """
    count = tflite_file.tensor_count(tflite_bytes)
    constants = tflite_file.constant_tensors(tflite_bytes)
    rows = []
    for d in interpreter(tflite_bytes).get_tensor_details():
        if d["index"] >= count:
            continue
        shape = tuple(int(n) for n in d["shape"])
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(d["dtype"]).itemsize
        rows.append(TensorInfo(d["name"], np.dtype(d["dtype"]).name, shape, nbytes,
                               d["index"] in constants))
    return rows


def weight_bytes(tflite_bytes: bytes) -> int:
    """Return the bytes of all constant tensors (weights and biases) in the model."""
    return sum(t.bytes for t in tensor_summary(tflite_bytes) if t.constant)


quantization_param_bytes = tflite_file.quantization_param_bytes
op_names = tflite_file.op_names


def dtypes(tflite_bytes: bytes) -> str:
    """Return the tensor dtypes used by the model, e.g. ``"int32+int8"``."""
    return "+".join(sorted({t.dtype for t in tensor_summary(tflite_bytes)}))


def save(tflite_bytes: bytes, path) -> Path:
    """Write the model to ``path`` atomically (temporary file + rename); return the path."""
    data = tflite_file.read(tflite_bytes).data
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"path must be a file path (str or Path), got {path!r}")
    if Path(path).is_dir():
        raise ValueError(f"path {path} is a folder; give a file name like model.tflite")
    return write_atomic(path, data)
