"""Read a .tflite flatbuffer once, check it from end to end, and answer questions about it.

Every helper that takes .tflite bytes calls :func:`read` first. It unpacks the whole
flatbuffer (a truncated or corrupt file fails here, with a ValueError, instead of deep inside
flatbuffers, struct or a runtime that reads out of bounds) and checks that every index in it
points at something that exists and that every stored tensor holds as many bytes as its shape
says. The schema is LiteRT's (``ai_edge_litert.schema_py_generated``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IDENTIFIER = b"TFL3"
# TensorType values of the schema that these helpers name, with their NumPy dtypes.
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
          7: np.int16, 9: np.int8, 10: np.float64}


@dataclass(frozen=True)
class Tflite:
    """A checked .tflite: its bytes and the unpacked model (schema ``ModelT``)."""

    data: bytes
    model: object  # ai_edge_litert.schema_py_generated.ModelT

    @property
    def graph(self):
        """Return the main subgraph."""
        return self.model.subgraphs[0]


def check_bytes(tflite) -> bytes:
    """Return ``tflite`` as bytes after checking its type and the 'TFL3' file identifier."""
    if isinstance(tflite, Tflite):
        return tflite.data
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


def _check_graph(model, g: int) -> None:
    graph = model.subgraphs[g]
    tensors = graph.tensors or []
    n_buffers = len(model.buffers or [])
    for t, tensor in enumerate(tensors):
        _in_range(f"subgraph {g} tensor {t} buffer", tensor.buffer, n_buffers)
        shape = list(tensor.shape if tensor.shape is not None else [])
        if any(int(d) < 0 for d in shape):
            raise ValueError(f"corrupt .tflite: tensor {t} has a negative dimension {shape}")
        data = model.buffers[tensor.buffer].data
        if data is not None and len(data) and tensor.type in DTYPES:
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(DTYPES[tensor.type]).itemsize
            if len(data) != expected:
                raise ValueError(f"corrupt .tflite: tensor {t} stores {len(data)} bytes but its "
                                 f"shape {shape} needs {expected}")
    n_codes = len(model.operatorCodes or [])
    for o, op in enumerate(graph.operators or []):
        _in_range(f"subgraph {g} operator {o} opcode index", op.opcodeIndex, n_codes)
        for index in list(op.inputs if op.inputs is not None else []) + list(
                op.outputs if op.outputs is not None else []):
            _in_range(f"subgraph {g} operator {o} tensor", index, len(tensors), optional=True)
    for index in list(graph.inputs if graph.inputs is not None else []) + list(
            graph.outputs if graph.outputs is not None else []):
        _in_range(f"subgraph {g} input/output tensor", index, len(tensors))


def read(tflite) -> Tflite:
    """Return the checked :class:`Tflite` of ``tflite`` bytes; raise ValueError if corrupt."""
    if isinstance(tflite, Tflite):
        return tflite
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
