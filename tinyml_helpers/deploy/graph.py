"""A .tflite read once into a typed, immutable graph of operators: the model as one value.

:func:`read` takes .tflite bytes (checked by :func:`tflite_file.read`) and returns a
:class:`Graph`: every tensor with its shape, dtype, quantization (per tensor or per channel) and
constant data, and every operator in execution order with typed parameters. It accepts the
operators of small convolutional networks (:data:`SUPPORTED_OPS`) and checks, while building
the value, everything a kernel relies on: shapes that fit each other, int8 activations with one
scale and zero point, int8 weights with zero points of 0, biases of the right type and length.
A consumer (the NumPy reference in :mod:`.ops`, a C writer) can then trust the value and need
not look at the flatbuffer again.

A graph is either all float32 or full int8 (int8 input, output and activations, int32 biases);
anything else (float16 weights, hybrid dynamic-range models, uint8, int16) is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import tflite_file

# TF 2.20 converts a Keras Conv1D (and MaxPool1D) into EXPAND_DIMS -> CONV_2D (MAX_POOL_2D) ->
# RESHAPE. EXPAND_DIMS, like RESHAPE, only relabels the same bytes with another shape.
RESHAPES = ("RESHAPE", "EXPAND_DIMS")
SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                 "FULLY_CONNECTED", "SOFTMAX") + RESHAPES
PADDINGS = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 3: "RELU6"}  # schema ActivationFunctionType codes
_ACTIVATION_NAMES = {2: "RELU_N1_TO_1", 4: "TANH", 5: "SIGN_BIT"}


@dataclass(frozen=True, eq=False)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along ``axis``."""

    scale: np.ndarray  # float32, one value or one per channel
    zero_point: np.ndarray  # int64, same length as scale
    axis: int  # the quantized dimension (meaningful when per_channel)

    @property
    def per_channel(self) -> bool:
        """Return True if there is one scale per channel along ``axis``."""
        return len(self.scale) > 1


@dataclass(frozen=True, eq=False)
class Tensor:
    """One tensor: name, shape, NumPy dtype, quantization (or None), constant data (or None)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: Quantization | None
    data: np.ndarray | None  # read-only, of ``shape`` and ``dtype``; None if computed

    @property
    def size(self) -> int:
        """Return the number of elements."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class ConvParams:
    """Parameters of CONV_2D and DEPTHWISE_CONV_2D (depth_multiplier is 1 for CONV_2D)."""

    padding: str  # "SAME" or "VALID"
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    activation: str  # "NONE", "RELU" or "RELU6"
    depth_multiplier: int = 1


@dataclass(frozen=True)
class PoolParams:
    """Parameters of MAX_POOL_2D and AVERAGE_POOL_2D."""

    padding: str
    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    activation: str


@dataclass(frozen=True)
class FullyConnectedParams:
    """Parameters of FULLY_CONNECTED."""

    activation: str
    keep_num_dims: bool


@dataclass(frozen=True)
class SoftmaxParams:
    """Parameters of SOFTMAX (over the last axis)."""

    beta: float


@dataclass(frozen=True)
class ReshapeParams:
    """Parameters of RESHAPE and EXPAND_DIMS: the shape of the output."""

    new_shape: tuple[int, ...]


@dataclass(frozen=True)
class Op:
    """One operator: its kind, input and output tensor indices (-1: absent) and parameters."""

    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    params: ConvParams | PoolParams | FullyConnectedParams | SoftmaxParams | ReshapeParams


@dataclass(frozen=True, eq=False)
class Graph:
    """A checked model: tensors, operators in execution order, graph inputs and outputs."""

    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tflite: tflite_file.Tflite  # the checked file it was read from (its bytes: ``data``)

    @property
    def data(self) -> bytes:
        """Return the .tflite bytes (what TFLM and a C array of the flatbuffer take)."""
        return self.tflite.data

    @property
    def dtype(self) -> np.dtype:
        """Return the activation type of the graph: int8 or float32."""
        return self.tensors[self.inputs[0]].dtype

    @property
    def is_int8(self) -> bool:
        """Return True for a full-int8 graph."""
        return self.dtype == np.int8


def read(tflite) -> Graph:
    """Return the :class:`Graph` of ``tflite`` bytes; raise ValueError naming what is refused.

    A :class:`Graph` is returned as it is: a model is read once, then handed on as the value."""
    if isinstance(tflite, Graph):
        return tflite
    # LiteRT's schema is not a dependency of the package (Colab's runtime brings it): loaded
    # when a model is read, as tflite_file does.
    from ai_edge_litert import schema_py_generated as schema

    t = tflite_file.read(tflite)
    if len(t.model.subgraphs) != 1:
        raise ValueError(f"expected a model with one subgraph, found {len(t.model.subgraphs)} "
                         "(control flow is not supported)")
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tensors = tuple(_tensor(t, i) for i in range(len(t.graph.tensors or [])))
    ops = []
    for o, op in enumerate(t.graph.operators or []):
        code = tflite_file.builtin_code(t.model, op)
        kind = names.get(code, f"OP_{code}")
        if kind not in SUPPORTED_OPS:
            raise ValueError(f"operator {o} is {kind}, which the deploy core does not support; "
                             f"supported: {', '.join(SUPPORTED_OPS)}")
        inputs = tuple(int(i) for i in op.inputs)
        outputs = tuple(int(i) for i in op.outputs)
        ops.append(Op(kind, inputs, outputs, _params(schema, kind, op, tensors, outputs)))
    graph = Graph(tensors, tuple(ops), tuple(int(i) for i in t.graph.inputs),
                  tuple(int(i) for i in t.graph.outputs), t)
    _check(graph)
    return graph


def _tensor(t: tflite_file.Tflite, index: int) -> Tensor:
    """Return tensor ``index`` of the main subgraph as a :class:`Tensor`."""
    raw = t.graph.tensors[index]
    name = bytes(raw.name or b"").decode("utf-8")
    if raw.type not in tflite_file.DTYPES:
        raise ValueError(f"tensor {index} ({name!r}) has the type code {raw.type}, which the "
                         "deploy core does not support")
    dtype = np.dtype(tflite_file.DTYPES[raw.type])
    data = tflite_file.tensor_values(t, index, dtype)
    if data is not None:
        data = data.copy()
        data.setflags(write=False)
    shape = () if raw.shape is None else tuple(int(d) for d in raw.shape)  # None: a scalar
    return Tensor(name, shape, dtype, _quantization(raw), data)


def _quantization(raw) -> Quantization | None:
    """Return the quantization of a schema tensor (None if it has none)."""
    q = raw.quantization
    if q is None or q.scale is None or not len(q.scale):
        return None
    scale = np.array(q.scale, dtype=np.float32)
    zero_point = np.array(q.zeroPoint, dtype=np.int64)
    for array in (scale, zero_point):
        array.setflags(write=False)
    return Quantization(scale, zero_point, int(q.quantizedDimension or 0))


def _activation(where: str, code: int) -> str:
    """Return the name of a fused activation that the kernels support."""
    if code not in ACTIVATIONS:
        name = _ACTIVATION_NAMES.get(code, f"code {code}")
        raise ValueError(f"{where} has the fused activation {name}; supported: "
                         f"{', '.join(ACTIVATIONS.values())}")
    return ACTIVATIONS[code]


def _padding(where: str, code: int) -> str:
    """Return "SAME" or "VALID" for a schema padding code."""
    if code not in PADDINGS:
        raise ValueError(f"{where} has an unknown padding code {code}")
    return PADDINGS[code]


def _params(schema, kind: str, op, tensors: tuple[Tensor, ...], outputs: tuple[int, ...]):
    """Return the typed parameters of one operator."""
    where = kind
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        depthwise = kind == "DEPTHWISE_CONV_2D"
        o = op.builtinOptions or (schema.DepthwiseConv2DOptionsT() if depthwise
                                  else schema.Conv2DOptionsT())
        return ConvParams(_padding(where, o.padding), int(o.strideH), int(o.strideW),
                          int(o.dilationHFactor), int(o.dilationWFactor),
                          _activation(where, o.fusedActivationFunction),
                          int(o.depthMultiplier) if depthwise else 1)
    if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        o = op.builtinOptions or schema.Pool2DOptionsT()
        return PoolParams(_padding(where, o.padding), int(o.strideH), int(o.strideW),
                          int(o.filterHeight), int(o.filterWidth),
                          _activation(where, o.fusedActivationFunction))
    if kind == "FULLY_CONNECTED":
        o = op.builtinOptions or schema.FullyConnectedOptionsT()
        if o.weightsFormat != 0:
            raise ValueError("FULLY_CONNECTED with shuffled weights is not supported")
        return FullyConnectedParams(_activation(where, o.fusedActivationFunction),
                                    bool(o.keepNumDims))
    if kind == "SOFTMAX":
        o = op.builtinOptions or schema.SoftmaxOptionsT()
        return SoftmaxParams(float(np.float32(o.beta)))
    # The kernels need only the output's shape (already resolved by the converter): the
    # shape input of RESHAPE and the axis of EXPAND_DIMS are constants that agree with it.
    return ReshapeParams(tensors[outputs[0]].shape)


# ---- checks made while building the value ------------------------------------------------

def _check(graph: Graph) -> None:
    """Raise ValueError unless every operator's tensors fit what its kernel computes."""
    if not graph.inputs or not graph.outputs:
        raise ValueError("the graph has no input or no output tensor")
    dtype = graph.dtype
    if dtype not in (np.int8, np.float32):
        raise ValueError(f"the graph's input is {dtype.name}; supported: int8 (full integer) "
                         "or float32")
    for index in graph.inputs + graph.outputs:
        _activation_tensor(graph, index, "graph input/output")
    for t in graph.tensors:
        if t.data is not None and t.dtype == np.float32 and not np.all(np.isfinite(t.data)):
            bad = int(np.count_nonzero(~np.isfinite(t.data)))
            raise ValueError(f"the constant tensor {t.name!r} holds {bad} NaN or inf values: the "
                             "model was saved from a diverged training or damaged; retrain it "
                             "or fix its weights before deploying it")
    for o, op in enumerate(graph.ops):
        where = f"operator {o} ({op.kind})"
        if len(op.outputs) != 1:
            raise ValueError(f"{where} has {len(op.outputs)} outputs, expected 1")
        out = _activation_tensor(graph, op.outputs[0], where)
        x = _activation_tensor(graph, op.inputs[0], where) if op.inputs and op.inputs[0] >= 0 \
            else None
        if x is None:
            raise ValueError(f"{where} has no input tensor")
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _check_conv(graph, where, op, x, out)
        elif op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            _check_pool(graph, where, op, x, out)
        elif op.kind == "FULLY_CONNECTED":
            _check_fully_connected(graph, where, op, x, out)
        elif op.kind == "SOFTMAX":
            _check_softmax(graph, where, op, x, out)
        else:
            _check_reshape(graph, where, op, x, out)


def _activation_tensor(graph: Graph, index: int, where: str) -> Tensor:
    """Return an activation tensor after checking its type and quantization fit the graph."""
    tensor = graph.tensors[index]
    if tensor.dtype != graph.dtype:
        raise ValueError(f"{where}: tensor {index} ({tensor.name!r}) is {tensor.dtype.name} in "
                         f"a {graph.dtype.name} graph; mixed types (hybrid or partly "
                         "quantized models) are not supported")
    if not tensor.shape or 0 in tensor.shape:
        raise ValueError(f"{where}: tensor {index} ({tensor.name!r}) has the empty shape "
                         f"{list(tensor.shape)}")
    if graph.is_int8:
        q = tensor.quantization
        if q is None:
            raise ValueError(f"{where}: int8 tensor {index} ({tensor.name!r}) has no "
                             "quantization parameters")
        if q.per_channel:
            raise ValueError(f"{where}: activation tensor {index} ({tensor.name!r}) is "
                             "quantized per channel; activations need one scale and zero point")
        if not q.scale[0] > 0:
            raise ValueError(f"{where}: tensor {index} ({tensor.name!r}) has the scale "
                             f"{q.scale[0]}")
    return tensor


def _same_quantization(where: str, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless int8 ``x`` and ``out`` share scale and zero point."""
    a, b = x.quantization, out.quantization
    if a is not None and (a.scale[0] != b.scale[0] or a.zero_point[0] != b.zero_point[0]):
        raise ValueError(f"{where} copies int8 codes, so its input and output need the same "
                         f"quantization; got scale {a.scale[0]} / zero point {a.zero_point[0]} "
                         f"and {b.scale[0]} / {b.zero_point[0]}")


def check_int8_chain(graph: Graph, who: str) -> None:
    """Raise ValueError unless ``graph`` is full int8 and a chain (:func:`check_chain`).
    ``who`` names the consumer in the messages (e.g. "the MicroPython module")."""
    if not graph.is_int8:
        raise ValueError(f"{who} runs full-int8 graphs only; this one is {graph.dtype.name} "
                         "(convert the model with full-integer quantization and int8 input and "
                         "output)")
    check_chain(graph, who)


def check_chain(graph: Graph, who: str) -> None:
    """Raise ValueError unless ``graph`` is what two ping-pong buffers can run: one input and
    one output, at least one operator, each reading the previous one's output, the last one
    computing the graph's output."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or not graph.ops:
        raise ValueError(f"{who} needs a graph with one input, one output and at least one "
                         f"operator; this one has {len(graph.inputs)} inputs, "
                         f"{len(graph.outputs)} outputs and {len(graph.ops)} operators")
    current = graph.inputs[0]
    for i, op in enumerate(graph.ops):
        if op.inputs[0] != current:
            raise ValueError(f"operator {i} ({op.kind}) reads tensor {op.inputs[0]}, not the "
                             "output of the operator before it: only chains of operators can "
                             "run in two ping-pong buffers")
        current = op.outputs[0]
    if current != graph.outputs[0]:
        raise ValueError("the last operator does not compute the graph's output tensor")


def out_size(padding: str, size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """Return the output length of a window sliding over ``size`` inputs (TFLite's rule)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def _check_window(where: str, x: Tensor, out: Tensor, window: tuple[int, int], strides,
                  dilations, padding: str, channels: int) -> None:
    """Raise ValueError unless a 4-D window operator maps ``x``'s shape onto ``out``'s."""
    if len(x.shape) != 4 or len(out.shape) != 4:
        raise ValueError(f"{where} needs 4-D input and output (batch, height, width, "
                         f"channels), got {list(x.shape)} and {list(out.shape)}")
    if min(strides) < 1 or min(dilations) < 1 or min(window) < 1:
        raise ValueError(f"{where} has strides {strides}, dilations {dilations} and window "
                         f"{window}; all must be >= 1")
    expected = (x.shape[0],
                out_size(padding, x.shape[1], window[0], strides[0], dilations[0]),
                out_size(padding, x.shape[2], window[1], strides[1], dilations[1]), channels)
    if out.shape != expected or min(expected) < 1:
        raise ValueError(f"{where}: the input {list(x.shape)} with a {window[0]}x{window[1]} "
                         f"window, strides {strides} and {padding} padding gives "
                         f"{list(expected)}, but the output is {list(out.shape)}")


def _constant(graph: Graph, where: str, index: int, what: str) -> Tensor:
    """Return the constant tensor ``index`` after checking it stores data."""
    if index < 0 or graph.tensors[index].data is None:
        raise ValueError(f"{where} needs constant {what}, but tensor {index} is computed at "
                         "run time")
    return graph.tensors[index]


def _check_weights(graph: Graph, where: str, w: Tensor, axis: int, channels: int) -> None:
    """Raise ValueError unless ``w`` has the graph's weight type and quantization."""
    want = np.int8 if graph.is_int8 else np.float32
    if w.dtype != want:
        raise ValueError(f"{where}: the weights are {w.dtype.name}, expected {np.dtype(want)} "
                         f"in a {graph.dtype.name} graph")
    if not graph.is_int8:
        return
    q = w.quantization
    if q is None:
        raise ValueError(f"{where}: the int8 weights have no quantization parameters")
    if q.per_channel and (q.axis != axis or len(q.scale) != channels):
        raise ValueError(f"{where}: the weights have {len(q.scale)} scales along axis {q.axis}; "
                         f"expected one or {channels} along axis {axis}")
    if np.any(q.zero_point != 0) or not np.all(q.scale > 0):
        raise ValueError(f"{where}: int8 weights need zero points of 0 and scales > 0 "
                         "(symmetric quantization)")


def _check_bias(graph: Graph, where: str, op: Op, channels: int) -> None:
    """Raise ValueError unless the optional bias is constant, typed right and one per channel."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return
    b = _constant(graph, where, op.inputs[2], "bias")
    want = np.int32 if graph.is_int8 else np.float32
    if b.dtype != want or b.size != channels:
        raise ValueError(f"{where}: the bias is {b.dtype.name} {list(b.shape)}, expected "
                         f"{channels} {np.dtype(want).name} values")


def _check_conv(graph: Graph, where: str, op: Op, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless a (depthwise) convolution's weights, bias and shapes fit."""
    p = op.params
    if len(op.inputs) < 2:
        raise ValueError(f"{where} needs an input and weights")
    w = _constant(graph, where, op.inputs[1], "weights")
    if len(w.shape) != 4 or len(x.shape) != 4:
        raise ValueError(f"{where} needs 4-D input and weights, got {list(x.shape)} and "
                         f"{list(w.shape)}")
    if op.kind == "CONV_2D":
        channels, axis = w.shape[0], 0
        if x.shape[3] % w.shape[3]:
            raise ValueError(f"{where}: {x.shape[3]} input channels do not split into groups "
                             f"of {w.shape[3]} (weights {list(w.shape)})")
        if channels % (x.shape[3] // w.shape[3]):
            raise ValueError(f"{where}: {channels} filters do not split into "
                             f"{x.shape[3] // w.shape[3]} groups")
    else:
        channels, axis = w.shape[3], 3
        if w.shape[0] != 1 or channels != x.shape[3] * p.depth_multiplier:
            raise ValueError(f"{where}: weights {list(w.shape)} do not fit {x.shape[3]} input "
                             f"channels with depth multiplier {p.depth_multiplier}")
    _check_window(where, x, out, (w.shape[1], w.shape[2]), (p.stride_h, p.stride_w),
                  (p.dilation_h, p.dilation_w), p.padding, channels)
    _check_weights(graph, where, w, axis, channels)
    _check_bias(graph, where, op, channels)


def _check_pool(graph: Graph, where: str, op: Op, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless a pool's shapes fit and it keeps the int8 quantization."""
    p = op.params
    _check_window(where, x, out, (p.filter_h, p.filter_w), (p.stride_h, p.stride_w), (1, 1),
                  p.padding, x.shape[3] if len(x.shape) == 4 else 0)
    _same_quantization(where, x, out)


def _check_fully_connected(graph: Graph, where: str, op: Op, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless FULLY_CONNECTED's weights, bias and shapes fit."""
    if len(op.inputs) < 2:
        raise ValueError(f"{where} needs an input and weights")
    w = _constant(graph, where, op.inputs[1], "weights")
    if len(w.shape) != 2 or x.size % w.shape[1]:
        raise ValueError(f"{where}: weights {list(w.shape)} do not fit the input "
                         f"{list(x.shape)}")
    rows = x.size // w.shape[1]
    if out.size != rows * w.shape[0] or out.shape[-1] != w.shape[0]:
        raise ValueError(f"{where}: the input {list(x.shape)} and weights {list(w.shape)} "
                         f"give {rows} x {w.shape[0]} values, but the output is "
                         f"{list(out.shape)}")
    _check_weights(graph, where, w, 0, w.shape[0])
    _check_bias(graph, where, op, w.shape[0])


def _check_softmax(graph: Graph, where: str, op: Op, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless SOFTMAX keeps the shape and has TFLM's int8 output scale."""
    if x.shape != out.shape:
        raise ValueError(f"{where} turns {list(x.shape)} into {list(out.shape)}")
    if not op.params.beta > 0:
        raise ValueError(f"{where} has beta {op.params.beta}; it must be > 0")
    if graph.is_int8:
        q = out.quantization
        # TFLM refuses any other output quantization for int8 softmax, and so do we.
        if q.zero_point[0] != -128 or q.scale[0] != np.float32(1 / 256):
            raise ValueError(f"{where}: an int8 softmax output needs scale 1/256 and zero "
                             f"point -128, got {q.scale[0]} and {q.zero_point[0]}")
        # TFLM turns input differences into Q5.26 with beta * scale * 2^26, which it requires
        # to be above 1 (it aborts otherwise); above 2^30 the kernels' left shift would pass
        # 30 bits (TFLM saturates there and answers one-hot): both refused, with the reason.
        real = op.params.beta * float(x.quantization.scale[0]) * (1 << 26)
        if real <= 1:
            raise ValueError(f"{where}: its input scale {x.quantization.scale[0]:.3g} is too "
                             "small for TFLM's int8 softmax (beta x scale x 2^26 must be above "
                             "1; the TFLM runtime aborts on it): the values before the softmax "
                             "hardly vary in calibration; calibrate with data that spreads them")
        if real >= 2**30:
            raise ValueError(f"{where}: its input scale {x.quantization.scale[0]:.3g} is too "
                             "large for the int8 softmax kernels here (beta x scale x 2^26 must "
                             "stay below 2^30, scale below 16): the logits span thousands; "
                             "TFLM saturates them into one-hot outputs. Keep the logits smaller "
                             "(weight decay, normalized inputs)")


def _check_reshape(graph: Graph, where: str, op: Op, x: Tensor, out: Tensor) -> None:
    """Raise ValueError unless a reshape keeps the number of values and the quantization."""
    if x.size != out.size:
        raise ValueError(f"{where} turns {list(x.shape)} ({x.size} values) into "
                         f"{list(out.shape)} ({out.size} values)")
    _same_quantization(where, x, out)
