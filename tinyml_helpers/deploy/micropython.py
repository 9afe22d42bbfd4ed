"""MicroPython from a full-int8 model: a model module and a Wokwi ESP32 project.

* :func:`model_files` turns an :class:`~tinyml_helpers.deploy.dense.Int8Model` (from
  :func:`dense.int8_layers`) into ``model_int8.py`` (or another module name): the weights as
  ``array('b', b'...')``, biases and Q31 multipliers as ``array('i', ...)``, shifts and zero
  points, and ``invoke(codes) -> codes`` with TFLM's int8 FULLY_CONNECTED arithmetic in plain
  Python (int32 sums, SaturatingRoundingDoublingHighMul, RoundingDivideByPowerOfTwo, clamp),
  plus ``quantize``/``dequantize`` in float32 with halves rounded away from zero, as
  :func:`quant.quantize` and the C sketches. No numpy: it runs on MicroPython and on CPython.
  An optional ``model_int8_viper.py`` computes the dot products with ``@micropython.viper``;
  the model module imports it inside ``try/except`` (a SyntaxError where the port has no viper
  emitter, an ImportError without the file or on CPython, a ViperTypeError on a port whose
  viper rejects it) and uses it only if it agrees with the pure loop on a probe input, so the
  WebAssembly VM and CPython run plain Python. Viper itself is not tested offline: no VM here
  has the emitter.
* Given a full-int8 :class:`~tinyml_helpers.deploy.graph.Graph` (from :func:`graph.read`) that
  is a chain of operators, the same functions write a module for a small CNN: one plain
  function per kind of operator the graph holds (``conv_2d``, ``depthwise_conv_2d``,
  ``max_pool_2d``, ``average_pool_2d``, ``fully_connected``, ``softmax``; reshapes cost
  nothing), each following TFLM's int8 reference kernel as ``c/tinyml_ops.c`` does, with the
  parameters derived as :mod:`.graph_c` derives them, the weights of each operator as
  ``array('b', b'...')``, two ping-pong activation buffers, and the same requantization,
  ``invoke``, ``quantize``, ``dequantize`` and ``predict`` as the Dense module (the shared parts
  are the ``part_*.py.tmpl`` templates). Codes go in and come out flat, in NHWC order as TFLM
  stores them. Only FULLY_CONNECTED uses the viper dot product.
* :func:`wokwi_project` returns the files of a Wokwi ESP32 MicroPython project (``diagram.json``
  with MicroPython firmware, ``main.py`` printing ``x=..., y=..., sin=..., us=...`` like the C
  sketch and fading the LED on GPIO 2, the model modules and a README). Like the C sketches,
  ``main.py`` first checks the model on a few input codes against the outputs TFLM computed
  for them (:mod:`~tinyml_helpers.deploy.self_test`) and prints ``self-test: ok (n/n)``.

:mod:`tinyml_helpers.deploy.micropython_vm` runs the generated code on MicroPython's WebAssembly
build, offline; the tests compare it with TFLM.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cgen, ops, quant, self_test, wokwi
from .dense import Int8Model, data_bytes, int8_reference
from .graph import Graph, Op, Tensor, check_int8_chain
from .graph_c import check_softmax_depth
from .hello_world import ESP32_LED_PIN, STEPS, int8_predictions, sketch_x

TEMPLATES = Path(__file__).resolve().parent / "templates" / "micropython"
MODULE_NAME = "model_int8"
PROJECT = "esp32_hello_world_micropython"
# The MicroPython firmware Wokwi loads onto the ESP32 part (the "env" attribute Wokwi's own
# MicroPython ESP32 examples set on board-esp32-devkit-c-v4).
WOKWI_ENV = "micropython-20231227-v1.22.0"
PASSES = 5  # sine periods main.py runs before it prints "done"
DELAY_MS = 100  # pause between inferences on a board: one period every 2 s
BYTES_PER_LINE = 16
INTS_PER_LINE = 8  # 6 for the ten-digit multipliers
# Names a model module must not take: files a MicroPython board runs by itself, and modules
# that the generated code (or a typical program beside it) imports.
RESERVED_MODULES = frozenset({
    "main", "boot", "array", "struct", "math", "time", "sys", "gc", "os", "micropython",
    "machine", "network", "builtins", "random", "json", "select", "socket", "io", "collections",
})
# The kernel function of each operator kind of a graph, in the order the module defines them.
KERNELS = {"CONV_2D": "conv_2d", "DEPTHWISE_CONV_2D": "depthwise_conv_2d",
           "MAX_POOL_2D": "max_pool_2d", "AVERAGE_POOL_2D": "average_pool_2d",
           "FULLY_CONNECTED": "fully_connected", "SOFTMAX": "softmax"}
RESHAPES = ("RESHAPE", "EXPAND_DIMS")
INT32_LIMIT = 2**31


def module_name(name, what: str = "module name") -> str:
    """Return ``name`` after checking it can be a MicroPython module of its own (and a viper
    companion ``name_viper``): a plain ASCII identifier, no Python keyword, no module the
    board or the generated code needs."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", name):
        raise ValueError(f"{what} must be an ASCII Python identifier (a letter or _, then "
                         f"letters, digits or _, at most 41 characters), got {name!r}")
    if keyword.iskeyword(name) or name in RESERVED_MODULES:
        raise ValueError(f"{what} {name!r} is a Python keyword or a module name the board needs")
    return name


def _render(template: str, **values) -> str:
    return cgen.render(TEMPLATES / template, **values)


def _part(template: str, **values) -> str:
    """Return a template piece without its final line break, to stand in another template."""
    return _render(template, **values).rstrip("\n")


def _check_model(model) -> Int8Model | Graph:
    """Return ``model`` if it is an :class:`Int8Model` or a graph the generator can write."""
    if isinstance(model, Graph):
        _check_graph(model)
        return model
    if not isinstance(model, Int8Model):
        raise TypeError("expected an Int8Model (from dense.int8_layers on a full-int8 .tflite) "
                        f"or a graph.Graph (from graph.read), got {type(model).__name__}")
    return model


def _float32_bits(value: float) -> str:
    return f"0x{int(np.float32(value).view(np.uint32)):08x}"


def _bytes_literal(values: np.ndarray, indent: str = "    ") -> str:
    data = np.asarray(values, dtype=np.int8).reshape(-1).view(np.uint8).tolist()
    lines = []
    for i in range(0, len(data), BYTES_PER_LINE):
        chunk = "".join(f"\\x{b:02x}" for b in data[i:i + BYTES_PER_LINE])
        lines.append(f'{indent}b"{chunk}"')
    return "\n".join(lines)


def _int_tuple(values, per_line: int = INTS_PER_LINE, indent: str = "    ") -> str:
    items = [cgen.int_literal(v) for v in np.asarray(values).reshape(-1).tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "(\n" + ",\n".join(indent + line for line in lines) + ",\n)"


def _io_parts(n_inputs: int, n_outputs: int, input_scale: float,
              input_zero_point: int, output_scale: float, output_zero_point: int) -> dict:
    """Return the template pieces a Dense module and a graph module share: sizes and
    quantization of input and output, requantization, the input check, the API."""
    io = _part("part_io.py.tmpl", N_INPUTS=n_inputs, N_OUTPUTS=n_outputs,
               INPUT_SCALE_BITS=_float32_bits(input_scale),
               INPUT_SCALE=repr(float(np.float32(input_scale))),
               INPUT_ZERO_POINT=cgen.int_literal(input_zero_point),
               OUTPUT_SCALE_BITS=_float32_bits(output_scale),
               OUTPUT_SCALE=repr(float(np.float32(output_scale))),
               OUTPUT_ZERO_POINT=cgen.int_literal(output_zero_point))
    return {"IO": io, "REQUANTIZE": _part("part_requantize.py.tmpl"),
            "CHECK": _part("part_check.py.tmpl"), "API": _part("part_api.py.tmpl")}


def _layer_data(model: Int8Model) -> tuple[str, str]:
    blocks, tuples = [], []
    for k, lay in enumerate(model.layers):
        n_out, n_in = lay.weights.shape
        # Python ints do not wrap: the int32 sums of C are the same only if none can overflow.
        bound = (np.abs(lay.weights.astype(np.int64)).sum(axis=1) * 255
                 + np.abs(lay.bias.astype(np.int64)))
        if bound.max() >= INT32_LIMIT:
            raise ValueError(f"layer {k}: an int32 sum could overflow ({n_in} inputs); the "
                             "MicroPython module would not match the C kernels")
        blocks.append("\n".join([
            f"# layer {k}: {n_in} -> {n_out}, {'ReLU' if lay.relu else 'linear'}",
            f'W{k} = array("b", (\n{_bytes_literal(lay.weights)}\n))',
            f'B{k} = array("i", {_int_tuple(lay.bias)})',
            f'M{k} = array("i", {_int_tuple(lay.multiplier, 6)})',
            f'S{k} = array("b", {_int_tuple(lay.shift)})',
            f'D{k} = array("i", ({n_in}, {n_out}, {lay.input_zero_point + 128}))',
        ]))
        tuples.append(f"    (D{k}, W{k}, B{k}, M{k}, S{k}, {lay.output_zero_point}, {lay.act_min}, "
                      f"{lay.act_max}),")
    return "\n\n".join(blocks), "\n".join(tuples)


def _shape(model: Int8Model) -> str:
    widths = [model.n_inputs] + [int(lay.weights.shape[0]) for lay in model.layers]
    return "-".join(str(w) for w in widths)


def model_source(model: Int8Model | Graph, name: str = MODULE_NAME) -> str:
    """Return the text of the pure-Python model module ``name``.py of an :class:`Int8Model`
    (a chain of Dense layers) or of a full-int8 :class:`graph.Graph` (a chain of operators)."""
    model = _check_model(model)
    name = module_name(name)
    if isinstance(model, Graph):
        return _graph_source(model, name)
    layer_data, layer_tuples = _layer_data(model)
    parts = _io_parts(*_io(model))
    return _render(
        "model.py.tmpl", BANNER=cgen.banner(f"{name}.py", "#").rstrip("\n"), NAME=name,
        SHAPE=_shape(model), LAYER_DATA=layer_data, LAYER_TUPLES=layer_tuples,
        DATA_BYTES=data_bytes(model), DOT=_part("part_dot.py.tmpl"),
        FAST=_part("part_fast.py.tmpl", NAME=name), **parts)


def viper_source(name: str = MODULE_NAME) -> str:
    """Return the text of the optional viper module ``name``_viper.py (model independent)."""
    name = module_name(name)
    return _render("model_viper.py.tmpl",
                   BANNER=cgen.banner(f"{name}_viper.py", "#").rstrip("\n"), NAME=name)


def model_files(model: Int8Model | Graph, name: str = MODULE_NAME,
                viper: bool = True) -> dict[str, str]:
    """Return {file name: text}: ``name``.py and, with ``viper``, ``name``_viper.py.

    The module of a graph uses the viper dot product for FULLY_CONNECTED only: a graph
    without that operator gets no viper companion."""
    files = {f"{module_name(name)}.py": model_source(model, name)}
    if viper and _uses_dot(model):
        files[f"{name}_viper.py"] = viper_source(name)
    return files


def _uses_dot(model: Int8Model | Graph) -> bool:
    """Return True if the module of ``model`` calls the (viper or pure) dot product."""
    return not isinstance(model, Graph) or any(op.kind == "FULLY_CONNECTED"
                                               for op in model.ops)


# --- a full-int8 graph of operators -----------------------------------------------------------

def _check_graph(graph: Graph) -> None:
    """Raise ValueError unless ``graph`` is a full-int8 chain of operators with one input and
    one output (what two ping-pong buffers can run, as for :mod:`.graph_c`)."""
    check_int8_chain(graph, "the MicroPython module")
    for i, op in enumerate(graph.ops):
        if op.kind not in KERNELS and op.kind not in RESHAPES:
            raise ValueError(f"operator {i} is {op.kind}, which has no MicroPython kernel")


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


@dataclass
class _Block:
    """What one operator adds to the module: its constants, and its line of ``_run``."""

    data: str  # "" for a reshape
    call: str  # with {dst} left to fill: the buffer the operator writes
    data_bytes: int


def _params_tuple(name: str, groups: list[dict[str, int]]) -> str:
    """Return ``name = (...)`` with one line per group of values, each named in a comment."""
    lines = [f"{name} = ("]
    for group in groups:
        values = ", ".join(cgen.int_literal(int(v)) for v in group.values())
        lines.append(f"    {values},  # {', '.join(group)}")
    return "\n".join(lines + [")"])


def _check_sums(where: str, abs_weight_sums: np.ndarray, bias: np.ndarray | None) -> None:
    """Raise ValueError if an int32 sum of (code - zero point) * weight + bias could overflow:
    C wraps around there and Python ints do not, so the module would differ from TFLM."""
    bound = abs_weight_sums.astype(np.int64) * 255
    if bias is not None:
        bound = bound + np.abs(bias.astype(np.int64))
    if bound.max() >= INT32_LIMIT:
        raise ValueError(f"{where}: an int32 sum could overflow ({int(bound.max())} at most); "
                         "the MicroPython module would not match TFLM")


def _weighted_arrays(graph: Graph, i: int, op: Op, q: ops.Int8Params,
                     channels: int) -> tuple[list[str], np.ndarray | None, int]:
    """Return the lines of W{i}, B{i}, M{i} and S{i}, the bias and the bytes they hold."""
    w = graph.tensors[op.inputs[1]]
    bias = None
    lines = [f'W{i} = array("b", (\n{_bytes_literal(w.data)}\n))']
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = np.asarray(graph.tensors[op.inputs[2]].data, dtype=np.int64)
        lines.append(f'B{i} = array("i", {_int_tuple(bias)})')
    else:
        lines.append(f"B{i} = None  # no bias")
    if len(q.multiplier) != channels:
        raise ValueError(f"operator {i} ({op.kind}): {len(q.multiplier)} multipliers for "
                         f"{channels} output channels")
    lines.append(f'M{i} = array("i", {_int_tuple(q.multiplier, 6)})')
    lines.append(f'S{i} = array("b", {_int_tuple(q.shift)})')
    nbytes = w.size + 5 * channels + (4 * bias.size if bias is not None else 0)
    return lines, bias, nbytes


def _conv_block(graph: Graph, i: int, op: Op, x: Tensor, out: Tensor, head: str) -> _Block:
    """Return the constants and call of a CONV_2D or DEPTHWISE_CONV_2D."""
    p = op.params
    w = graph.tensors[op.inputs[1]]
    depthwise = op.kind == "DEPTHWISE_CONV_2D"
    channels = out.shape[3]
    q = ops.int8_params(graph, op)
    lines, bias, nbytes = _weighted_arrays(graph, i, op, q, channels)
    where = f"operator {i} ({op.kind})"
    w_abs = np.abs(w.data.astype(np.int64))
    _check_sums(where, w_abs.sum(axis=(0, 1, 2)) if depthwise else w_abs.sum(axis=(1, 2, 3)),
                bias)
    pad = ops.window_padding(p.padding, x, out, w.shape[1:3], (p.stride_h, p.stride_w),
                             (p.dilation_h, p.dilation_w))
    filters = ({"k_h": w.shape[1], "k_w": w.shape[2], "depth_multiplier": p.depth_multiplier}
               if depthwise else {"k_h": w.shape[1], "k_w": w.shape[2], "k_c": w.shape[3]})
    lines.append(_params_tuple(f"P{i}", [
        {"batches": x.shape[0], "in_h": x.shape[1], "in_w": x.shape[2], "in_c": x.shape[3]},
        filters, {"out_h": out.shape[1], "out_w": out.shape[2], "out_c": channels},
        {"stride_h": p.stride_h, "stride_w": p.stride_w, "dilation_h": p.dilation_h,
         "dilation_w": p.dilation_w, "pad_top": pad[0], "pad_left": pad[1]},
        {"input_offset": q.input_offset, "output_offset": q.output_offset, "lo": q.act_min,
         "hi": q.act_max}]))
    call = f"x = {KERNELS[op.kind]}(x, {{dst}}, W{i}, B{i}, M{i}, S{i}, P{i})"
    return _Block(head + "\n".join(lines), call, nbytes)


def _pool_block(graph: Graph, i: int, op: Op, x: Tensor, out: Tensor, head: str) -> _Block:
    """Return the constants and call of a MAX_POOL_2D or AVERAGE_POOL_2D."""
    p = op.params
    pad = ops.window_padding(p.padding, x, out, (p.filter_h, p.filter_w),
                             (p.stride_h, p.stride_w), (1, 1))
    low, high = ops.activation_range(p.activation, out)
    params = _params_tuple(f"P{i}", [
        {"batches": x.shape[0], "in_h": x.shape[1], "in_w": x.shape[2],
         "channels": x.shape[3]},
        {"k_h": p.filter_h, "k_w": p.filter_w, "out_h": out.shape[1], "out_w": out.shape[2]},
        {"stride_h": p.stride_h, "stride_w": p.stride_w, "pad_top": pad[0],
         "pad_left": pad[1]},
        {"lo": low, "hi": high}])
    return _Block(head + params, f"x = {KERNELS[op.kind]}(x, {{dst}}, P{i})", 0)


def _fully_connected_block(graph: Graph, i: int, op: Op, x: Tensor, out: Tensor,
                           head: str) -> _Block:
    """Return the constants and call of a FULLY_CONNECTED."""
    w = graph.tensors[op.inputs[1]]
    units, depth = w.shape
    q = ops.int8_params(graph, op)
    lines, bias, nbytes = _weighted_arrays(graph, i, op, q, units)
    _check_sums(f"operator {i} ({op.kind})", np.abs(w.data.astype(np.int64)).sum(axis=1),
                bias)
    lines.append(f'D{i} = array("i", ({depth}, {units}, {128 - q.input_offset}))')
    lines.append(_params_tuple(f"P{i}", [
        {"rows": x.size // depth},
        {"output_offset": q.output_offset, "lo": q.act_min, "hi": q.act_max}]))
    call = f"x = fully_connected(x, {{dst}}, W{i}, B{i}, M{i}, S{i}, D{i}, P{i}, dot)"
    return _Block(head + "\n".join(lines), call, nbytes)


def _softmax_block(i: int, op: Op, x: Tensor, head: str) -> _Block:
    """Return the parameters and call of a SOFTMAX, derived as TFLM's Prepare derives them
    (PreprocessSoftmaxScaling and CalculateInputRadius, as :mod:`.graph_c` writes them)."""
    where = f"operator {i} ({op.kind})"
    depth = x.shape[-1]
    check_softmax_depth(where, depth)
    multiplier, shift, diff_min = ops.softmax_params(float(x.quantization.scale[0]),
                                                     op.params.beta)
    params = _params_tuple(f"P{i}", [
        {"rows": x.size // depth, "depth": depth},
        {"input_multiplier": multiplier, "input_left_shift": shift, "diff_min": diff_min}])
    return _Block(head + params, f"x = softmax(x, {{dst}}, P{i})", 0)


def _op_summary(i: int, op: Op, x: Tensor, out: Tensor) -> str:
    """Return 'op 3: DEPTHWISE_CONV_2D 1x3x3x4 -> 1x3x3x8' and the operator's options."""
    text = f"op {i}: {op.kind} {_dims(x.shape)} -> {_dims(out.shape)}"
    p = op.params
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"):
        text += f", stride {p.stride_h}x{p.stride_w}"
        if getattr(p, "dilation_h", 1) != 1 or getattr(p, "dilation_w", 1) != 1:
            text += f", dilation {p.dilation_h}x{p.dilation_w}"
        text += f", {p.padding}"
    if hasattr(p, "activation") and p.activation != "NONE":
        text += f", {p.activation}"
    return text


def _op_block(graph: Graph, i: int, op: Op) -> _Block:
    """Return what operator ``i`` adds to the module."""
    x, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    head = f"# {_op_summary(i, op, x, out)}\n"
    if op.kind in RESHAPES:
        return _Block("", f"# op {i}: {op.kind} to {_dims(out.shape)}: the same codes", 0)
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return _conv_block(graph, i, op, x, out, head)
    if op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return _pool_block(graph, i, op, x, out, head)
    if op.kind == "FULLY_CONNECTED":
        return _fully_connected_block(graph, i, op, x, out, head)
    return _softmax_block(i, op, x, head)


def _buffers(graph: Graph, blocks: list[_Block]) -> tuple[list[str], str]:
    """Return the lines of ``_run`` and the buffer definitions.

    A computing operator writes the buffer its input is not in (_BUF0 or _BUF1, each as
    large as the largest tensor it holds); the last one writes _OUTPUT, so a reshape after
    it leaves the codes there."""
    computing = [i for i, op in enumerate(graph.ops) if op.kind not in RESHAPES]
    sizes = [0, 0]
    where = "input"
    calls = []
    for i, (op, block) in enumerate(zip(graph.ops, blocks, strict=True)):
        if op.kind in RESHAPES:
            calls.append(f"    {block.call}")
            continue
        if i == computing[-1]:
            where = "_OUTPUT"
        else:
            k = 1 if where == "_BUF0" else 0
            sizes[k] = max(sizes[k], graph.tensors[op.outputs[0]].size)
            where = f"_BUF{k}"
        calls.append(f"    {block.call.format(dst=where)}  # op {i}")
    n_out = graph.tensors[graph.outputs[0]].size
    lines = ["# Activations ping-pong between two buffers, each as large as the largest tensor "
             "it holds,", "# and the last computing operator writes _OUTPUT."]
    lines += [f'_BUF{k} = array("b", bytes({n}))' for k, n in enumerate(sizes) if n]
    lines.append(f'_OUTPUT = array("b", bytes({n_out}))')
    kinds = {op.kind for op in graph.ops}
    if "FULLY_CONNECTED" in kinds:
        units = max(graph.tensors[op.inputs[1]].shape[0] for op in graph.ops
                    if op.kind == "FULLY_CONNECTED")
        lines.append(f'_ACC = array("i", bytes({4 * units}))  # the dot products of one row')
    if "SOFTMAX" in kinds:
        depth = max(graph.tensors[op.inputs[0]].shape[-1] for op in graph.ops
                    if op.kind == "SOFTMAX")
        lines.append(f"_EXPS = [None] * {depth}  # the exponentials of one softmax row")
    if not computing:  # reshapes only: invoke returns the checked input codes
        calls.append("    # (no operator computes anything)")
    return calls, "\n".join(lines)


def _graph_source(graph: Graph, name: str) -> str:
    """Return the module of a checked full-int8 graph."""
    blocks = [_op_block(graph, i, op) for i, op in enumerate(graph.ops)]
    calls, buffers = _buffers(graph, blocks)
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    kinds = {op.kind for op in graph.ops}
    dot = "FULLY_CONNECTED" in kinds
    kernels = [_part("part_dot.py.tmpl")] if dot else []
    kernels += [_part(f"kernel_{kernel}.py.tmpl") for kind, kernel in KERNELS.items()
                if kind in kinds]
    lines = [f"#   {_op_summary(i, op, graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]])}"
             for i, op in enumerate(graph.ops)]
    if dot:
        fast_note = (f"# On a port with the viper code emitter, the optional {name}_viper.py "
                     "(copy it to the board\n# too) computes the FULLY_CONNECTED dot products "
                     "in machine code; FAST tells which is used.")
        d_note = ("\n# D: the dot product's sizes (inputs, outputs, input zero point + 128: no "
                  "negative number\n# for viper's unsigned loads).")
        fast = _part("part_fast.py.tmpl", NAME=name)
    else:
        fast_note = "# No operator here uses the viper module: FAST is always False."
        d_note = ""
        fast = _part("part_no_fast.py.tmpl")
    parts = _io_parts(*_io(graph))
    return _render(
        "graph_model.py.tmpl", BANNER=cgen.banner(f"{name}.py", "#").rstrip("\n"), NAME=name,
        N_OPS=len(graph.ops), OP_LINES="\n".join(lines), INPUT_SHAPE=_dims(x.shape),
        OUTPUT_SHAPE=_dims(y.shape), FAST_NOTE=fast_note, D_NOTE=d_note,
        DATA_BYTES=sum(b.data_bytes for b in blocks), KERNELS="\n\n\n".join(kernels),
        DATA="\n\n".join(b.data for b in blocks if b.data), BUFFERS=buffers,
        CALLS="\n".join(calls), FAST=fast, **parts)


def _data_bytes(model: Int8Model | Graph) -> int:
    """Return the bytes of constant data (the W, B, M and S arrays) in the module of ``model``."""
    if isinstance(model, Graph):
        return sum(_op_block(model, i, op).data_bytes for i, op in enumerate(model.ops))
    return data_bytes(model)


def _io(model: Int8Model | Graph) -> tuple[int, int, float, int, float, int]:
    """Return (inputs, outputs, input scale, input zero point, output scale, output zero point)
    of a checked model."""
    if isinstance(model, Int8Model):
        return (model.n_inputs, model.n_outputs, model.input_scale, model.input_zero_point,
                model.output_scale, model.output_zero_point)
    x, y = model.tensors[model.inputs[0]], model.tensors[model.outputs[0]]
    return (x.size, y.size, float(x.quantization.scale[0]), int(x.quantization.zero_point[0]),
            float(y.quantization.scale[0]), int(y.quantization.zero_point[0]))


def _reference(model: Int8Model | Graph, codes) -> np.ndarray:
    """Return the int8 output codes [n, outputs] TFLM computes for input ``codes`` [n, inputs]."""
    if isinstance(model, Int8Model):
        return int8_reference(model, codes)
    codes = np.asarray(codes)
    return ops.run(model, codes).reshape(len(codes), -1)


# --- the Wokwi ESP32 MicroPython project ----------------------------------------------------

def _check_count(value, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an int >= {low}, got {value!r}")
    return int(value)


def _rows_literal(rows: np.ndarray) -> str:
    """Return a Python tuple of int tuples, one row per line."""
    lines = [f"    ({', '.join(str(int(v)) for v in row)},)," for row in rows]
    return "(\n" + "\n".join(lines) + "\n)"


def _check_self_test(test) -> self_test.SelfTest:
    if not isinstance(test, self_test.SelfTest):
        raise TypeError(f"test must be a self_test.SelfTest (from self_test.from_tflm), got "
                        f"{type(test).__name__}")
    if not test.int8:
        raise ValueError("main.py runs the int8 model: the self-test needs int8 codes")
    return test


def main_source(module: str = MODULE_NAME, project: str = PROJECT, passes: int = PASSES,
                delay_ms: int = DELAY_MS, *, test: self_test.SelfTest) -> str:
    """Return main.py: the self-test ``test`` at start, then the sine loop of the C sketch
    (``passes`` 0 runs forever)."""
    test = _check_self_test(test)
    return _render(
        "main.py.tmpl", BANNER=cgen.banner(f"{project}/main.py", "#").rstrip("\n"),
        PROJECT=cgen.identifier(project, "project"), MODULE=module_name(module), STEPS=STEPS,
        PASSES=_check_count(passes, "passes", 0), DELAY_MS=_check_count(delay_ms, "delay_ms", 0),
        LED_PIN=ESP32_LED_PIN, SELF_TEST_INPUTS=_rows_literal(test.inputs),
        SELF_TEST_OUTPUTS=_rows_literal(test.outputs),
        SELF_TEST_ADVICE=self_test.advice("Python"))


def diagram(project: str = PROJECT) -> dict:
    """Return the diagram: ESP32 DevKitC V4 with MicroPython, LED + 220 Ω on GPIO 2, serial
    monitor (validated by :func:`wokwi.validate`)."""
    author = cgen.banner(f"{project}/diagram.json", "#")[2:].rstrip("\n")
    doc = wokwi.led_diagram("esp32", ESP32_LED_PIN, author=author)
    doc["parts"][0]["attrs"]["env"] = WOKWI_ENV
    wokwi.validate(doc)
    return doc


def expected_lines(model: Int8Model | Graph, steps: int = STEPS) -> list[str]:
    """Return main.py's lines for one period without the timing: ``x=..., y=..., sin=...``,
    with the C sketch's x values and int8 predictions (:func:`hello_world.int8_predictions`)."""
    x = sketch_x(steps)
    model = _check_model(model)
    if isinstance(model, Int8Model):
        y = int8_predictions(model, x)
    else:  # the same arithmetic: quantize in float32, the graph's codes, dequantize
        _, _, in_scale, in_zero, out_scale, out_zero = _io(model)
        codes = quant.quantize(x, np.float32(in_scale), in_zero, bits=8, signed=True)
        out = _reference(model, codes.reshape(len(x), -1))[:, 0].astype(np.float32)
        y = np.float32(out_scale) * (out - np.float32(out_zero))
    return [f"x={xi:.3f}, y={yi:.3f}, sin={np.sin(xi):.3f}"
            for xi, yi in zip(x, y, strict=True)]


def wokwi_project(model: Int8Model | Graph, project: str = PROJECT, module: str = MODULE_NAME,
                  *, test: self_test.SelfTest | bytes) -> dict[str, str]:
    """Return {file name: content} of the Wokwi ESP32 MicroPython project of a one-input,
    one-output int8 model (lesson 06's sine, as an :class:`Int8Model` or a graph with Dense
    layers): diagram.json, main.py, the model modules and README.md. ``test`` is main.py's
    self-test, or the model's .tflite to make it from (:func:`self_test.from_tflm`)."""
    model = _check_model(model)
    n_inputs, n_outputs = _io(model)[:2]
    if n_inputs != 1 or n_outputs != 1:
        raise ValueError(f"main.py feeds one x and reads one y; the model has {n_inputs} "
                         f"inputs and {n_outputs} outputs")
    if not _uses_dot(model):
        raise ValueError("the project's README describes a Dense network and its viper dot "
                         "products; this graph has no FULLY_CONNECTED operator")
    cgen.identifier(project, "project")
    if isinstance(test, (bytes, bytearray)):
        test = self_test.from_tflm(bytes(test))
    test = _check_self_test(test)
    # A project whose self-test fails out of the box would blame the student: refuse cases
    # made from another model.
    if test.inputs.shape[1] != n_inputs or test.outputs.shape[1] != n_outputs or \
            self_test.check(test, _reference(model, test.inputs)) != [test.ok_line()]:
        raise ValueError("test was made from another model: its outputs are not this model's")
    files = {"diagram.json": wokwi.dumps(diagram(project)),
             "main.py": main_source(module, project, test=test)}
    files.update(model_files(model, module))
    expected = "\n".join(f"{line}, us=…" for line in expected_lines(model)[:5])
    files["README.md"] = _render(
        "README.md.tmpl", BANNER=cgen.banner(f"{project}/README.md", "html").rstrip("\n"),
        PROJECT=project, MODULE=module, STEPS=STEPS, PASSES=PASSES, LED_PIN=ESP32_LED_PIN,
        ENV=WOKWI_ENV, DATA_BYTES=f"{_data_bytes(model):,}", EXPECTED=expected,
        SELF_TEST=test.ok_line())
    return files
