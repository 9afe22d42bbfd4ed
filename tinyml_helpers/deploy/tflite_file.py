"""Read a .tflite flatbuffer once, check it from end to end, and answer questions about it.

Every helper that takes .tflite bytes calls :func:`read` first. It unpacks the whole
flatbuffer (a truncated or corrupt file fails here, with a ValueError, instead of deep inside
flatbuffers, struct or a runtime that reads out of bounds) and checks that every index in it
points at something that exists and that every stored tensor holds as many bytes as its shape
says. The schema is LiteRT's (``ai_edge_litert.schema_py_generated``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

IDENTIFIER = b"TFL3"
# TensorType values of the schema that these helpers name, with their NumPy dtypes.
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
          7: np.int16, 9: np.int8, 10: np.float64}
_MAX_TYPE = 22  # the largest TensorType value of the schema (FLOAT8_E5M2)


@dataclass(frozen=True)
class Tflite:
    """A checked .tflite: its bytes and the unpacked model (schema ``ModelT``)."""

    data: bytes
    model: object  # ai_edge_litert.schema_py_generated.ModelT

    @property
    def graph(self):
        """Return the main subgraph."""
        return self.model.subgraphs[0]


def _already_read(tflite) -> Tflite | None:
    """Return the checked file of a value read before: a :class:`Tflite`, or a
    :class:`~.graph.Graph` (which keeps the file it was read from), else None."""
    if isinstance(tflite, Tflite):
        return tflite
    held = getattr(tflite, "tflite", None)
    return held if isinstance(held, Tflite) else None


def check_bytes(tflite) -> bytes:
    """Return ``tflite`` as bytes after checking its type and the 'TFL3' file identifier."""
    if (checked := _already_read(tflite)) is not None:
        return checked.data
    if not isinstance(tflite, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected the .tflite model as bytes, got {type(tflite).__name__}")
    data = bytes(tflite)
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise ValueError("not a .tflite flatbuffer (the file identifier 'TFL3' is missing)")
    return data


def _unpack(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    root = int.from_bytes(data[:4], "little")
    if not 8 <= root <= len(data) - 4:
        raise ValueError(f"corrupt .tflite: root table offset {root} outside the "
                         f"{len(data)}-byte file (truncated?)")
    try:
        return schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # flatbuffers raises struct.error, IndexError, TypeError, ...
        raise ValueError(f"corrupt .tflite: cannot unpack the flatbuffer ({type(exc).__name__}:"
                         f" {exc}); the file is truncated or damaged") from None


def _in_range(what: str, index, size: int, optional: bool = False) -> None:
    if not (isinstance(index, (int, np.integer)) and (-1 if optional else 0) <= index < size):
        raise ValueError(f"corrupt .tflite: {what} = {index} is out of range (0..{size - 1})")


def _indices(values) -> list[int]:
    return [int(v) for v in (values if values is not None else [])]


# Largest tensor accepted (bytes): far beyond any microcontroller model, small enough that a
# corrupt shape cannot make a runtime overflow its size arithmetic or allocate gigabytes.
MAX_TENSOR_BYTES = 1 << 30
# Integer tensor types and the range their zero point must lie in.
_ZERO_POINT_RANGE = {9: (-128, 127), 3: (0, 255), 7: (-32768, 32767), 2: (-(2**31), 2**31 - 1),
                     4: (-(2**63), 2**63 - 1)}


def _check_tensor(model, g: int, t: int, tensor, n_buffers: int) -> None:
    where = f"subgraph {g} tensor {t}"
    _in_range(f"{where} buffer", tensor.buffer, n_buffers)
    if not isinstance(tensor.type, (int, np.integer)) or not 0 <= tensor.type <= _MAX_TYPE:
        raise ValueError(f"corrupt .tflite: {where} has an unknown type code {tensor.type}")
    if tensor.name is not None:
        try:
            bytes(tensor.name).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"corrupt .tflite: {where} has a name that is not UTF-8") from None
    shape = _indices(tensor.shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"corrupt .tflite: {where} has a negative dimension {shape}")
    itemsize = np.dtype(DTYPES[tensor.type]).itemsize if tensor.type in DTYPES else 1
    nbytes = itemsize
    for d in shape:
        nbytes *= d
        if nbytes > MAX_TENSOR_BYTES:
            raise ValueError(f"corrupt .tflite: {where} has the shape {shape}, over "
                             f"{MAX_TENSOR_BYTES} bytes")
    data = model.buffers[tensor.buffer].data
    if data is not None and len(data) and tensor.type in DTYPES and len(data) != nbytes:
        raise ValueError(f"corrupt .tflite: {where} stores {len(data)} bytes but its shape "
                         f"{shape} needs {nbytes}")
    _check_quantization(where, tensor, shape)


def _check_quantization(where: str, tensor, shape: list[int]) -> None:
    q = tensor.quantization
    if q is None or q.scale is None or not len(q.scale):
        return
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.asarray(q.scale, dtype=np.float64)
        zero_point = np.asarray(q.zeroPoint if q.zeroPoint is not None else [],
                                dtype=np.float64)
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise ValueError(f"corrupt .tflite: {where} has a quantization scale that is negative, "
                         f"NaN or inf: {scale.tolist()}")
    if len(zero_point) != len(scale):
        raise ValueError(f"corrupt .tflite: {where} has {len(scale)} quantization scales but "
                         f"{len(zero_point)} zero points")
    if len(scale) > 1:
        axis = int(q.quantizedDimension or 0)
        if not 0 <= axis < len(shape) or shape[axis] != len(scale):
            raise ValueError(f"corrupt .tflite: {where} has {len(scale)} per-channel scales "
                             f"along axis {axis} of its shape {shape}")
    low, high = _ZERO_POINT_RANGE.get(int(tensor.type), (-np.inf, np.inf))
    if np.any(zero_point < low) or np.any(zero_point > high):
        raise ValueError(f"corrupt .tflite: {where} has a zero point outside {low}..{high}: "
                         f"{zero_point.astype(np.int64).tolist()}")


@functools.cache
def _operator_tables() -> tuple[dict[int, str], dict[int, int]]:
    """Return ({operator code: name}, {operator code: the BuiltinOptions type it takes})."""
    from ai_edge_litert import schema_py_generated as schema

    ops = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    options = {k.lower(): v for k, v in vars(schema.BuiltinOptions).items()
               if not k.startswith("_")}
    takes = {code: options[name.replace("_", "").lower() + "options"]
             for code, name in ops.items() if name.replace("_", "").lower() + "options" in options}
    return ops, takes


def _check_operator(model, where: str, op, tables) -> None:
    names, takes = tables
    code = builtin_code(model, op)
    if code not in names:
        raise ValueError(f"corrupt .tflite: {where} has an unknown operator code {code}")
    kind = int(op.builtinOptionsType or 0)
    if kind and code in takes and kind != takes[code]:
        raise ValueError(f"corrupt .tflite: {where} is {names[code]} but carries the options "
                         f"of another operator (BuiltinOptions type {kind})")


# Operators whose output has exactly the shape of their (first) input.
_SAME_SHAPE = {"QUANTIZE", "DEQUANTIZE", "RELU", "RELU6", "LOGISTIC", "TANH", "ABS", "NEG",
               "FLOOR", "CEIL", "EXP", "LOG", "SQRT", "RSQRT", "SIN", "COS"}


def _shape(tensors, index: int) -> list[int]:
    return _indices(tensors[index].shape)


def _size(shape: list[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _check_shapes(model, where: str, op, tensors, names: dict[int, str]) -> None:
    """Check the tensor shapes of the operators these helpers meet against each other, so a
    damaged shape cannot make a runtime read or write past a tensor."""
    name = names.get(builtin_code(model, op))
    inputs, outputs = _indices(op.inputs), _indices(op.outputs)
    if name == "FULLY_CONNECTED":
        if len(inputs) < 2 or min(inputs[:2]) < 0 or len(outputs) != 1:
            raise ValueError(f"corrupt .tflite: {where} (FULLY_CONNECTED) needs an input, "
                             f"weights and one output")
        x, w, out = _shape(tensors, inputs[0]), _shape(tensors, inputs[1]), \
            _shape(tensors, outputs[0])
        bias = _shape(tensors, inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
        if len(w) != 2 or 0 in w or _size(x) % w[1] or (bias is not None and _size(bias)
                                                          != w[0]) \
                or _size(out) != _size(x) // w[1] * w[0]:
            raise ValueError(f"corrupt .tflite: {where} (FULLY_CONNECTED) has shapes that do "
                             f"not fit: input {x}, weights {w}, bias {bias}, output {out}")
    elif name in _SAME_SHAPE and inputs and outputs and inputs[0] >= 0:
        x, out = _shape(tensors, inputs[0]), _shape(tensors, outputs[0])
        if _size(x) != _size(out):
            raise ValueError(f"corrupt .tflite: {where} ({name}) turns an input of shape {x} "
                             f"into an output of shape {out}")


def _check_graph(model, g: int) -> None:
    graph = model.subgraphs[g]
    tensors = graph.tensors or []
    n_buffers = len(model.buffers or [])
    for t, tensor in enumerate(tensors):
        _check_tensor(model, g, t, tensor, n_buffers)
    n_codes = len(model.operatorCodes or [])
    tables = _operator_tables()
    for o, op in enumerate(graph.operators or []):
        where = f"subgraph {g} operator {o}"
        _in_range(f"{where} opcode index", op.opcodeIndex, n_codes)
        _check_operator(model, where, op, tables)
        if op.inputs is None or op.outputs is None or not len(op.outputs):
            raise ValueError(f"corrupt .tflite: {where} has no input or no output list")
        for index in _indices(op.inputs):
            _in_range(f"{where} input tensor", index, len(tensors), optional=True)
        for index in _indices(op.outputs):
            _in_range(f"{where} output tensor", index, len(tensors))
        _check_shapes(model, where, op, tensors, tables[0])
    for index in _indices(graph.inputs) + _indices(graph.outputs):
        _in_range(f"subgraph {g} input/output tensor", index, len(tensors))


def read(tflite) -> Tflite:
    """Return the checked :class:`Tflite` of ``tflite`` bytes; raise ValueError if corrupt."""
    if (checked := _already_read(tflite)) is not None:
        return checked
    data = check_bytes(tflite)
    model = _unpack(data)
    if not model.subgraphs:
        raise ValueError("corrupt .tflite: the model has no subgraph")
    for g in range(len(model.subgraphs)):
        _check_graph(model, g)
    graph = model.subgraphs[0]
    if graph.inputs is None or graph.outputs is None or not len(graph.inputs) \
            or not len(graph.outputs):
        raise ValueError("the .tflite's main subgraph has no input or no output tensor")
    return Tflite(data, model)


def builtin_code(model, op) -> int:
    """Return the builtin operator code of ``op`` (large codes live in ``builtinCode``)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(int(code.builtinCode), int(code.deprecatedBuiltinCode))


def op_names(tflite) -> list[str]:
    """Return the operators of the model in execution order, e.g. ["FULLY_CONNECTED", ...]."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    t = read(tflite)
    return [names.get(builtin_code(t.model, op), f"OP_{builtin_code(t.model, op)}")
            for op in t.graph.operators or []]


def tensor_count(tflite) -> int:
    """Return the number of tensors of the main subgraph."""
    return len(read(tflite).graph.tensors or [])


def constant_tensors(tflite) -> set[int]:
    """Return the indices of the main subgraph's tensors whose values the file stores."""
    t = read(tflite)
    return {i for i, tensor in enumerate(t.graph.tensors or [])
            if t.model.buffers[tensor.buffer].data is not None
            and len(t.model.buffers[tensor.buffer].data) > 0}


def quantization_param_bytes(tflite) -> int:
    """Return the bytes of quantization parameters: 4 per scale/min/max, 8 per zero point."""
    total = 0
    for tensor in read(tflite).graph.tensors or []:
        q = tensor.quantization
        if q is not None:  # the schema stores scale:[float], zero_point:[long], min/max:[float]
            total += 4 * sum(len(v) for v in (q.scale, q.min, q.max) if v is not None)
            total += 8 * (len(q.zeroPoint) if q.zeroPoint is not None else 0)
    return total


def tensor_values(t: Tflite, index: int, dtype) -> np.ndarray | None:
    """Return the stored values of tensor ``index`` (None if it is computed at run time)."""
    if index < 0:
        return None
    tensor = t.graph.tensors[index]
    raw = t.model.buffers[tensor.buffer].data
    if raw is None or len(raw) == 0:
        return None
    if DTYPES.get(tensor.type) is not np.dtype(dtype).type:
        raise ValueError(f"tensor {index} is {tensor.type}, not {np.dtype(dtype).name}")
    return np.frombuffer(bytes(bytearray(raw)), dtype=dtype).reshape(
        [int(d) for d in tensor.shape])
