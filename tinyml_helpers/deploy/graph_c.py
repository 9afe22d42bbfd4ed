"""Write a full-int8 :class:`graph.Graph` as library-free C over the course's int8 kernels.

:func:`generate` turns the checked graph of a small convolutional network into
``<prefix>.h`` / ``<prefix>.c``: every constant tensor (weights, biases, per-channel multipliers
and shifts) and every operator's params struct as a ``TINYML_CONST`` array (flash on the Uno),
two ping-pong activation buffers, and ``<prefix>_invoke(const int8_t *input, int8_t *output)``
calling the kernels in order. ``kernels="reference"`` calls those of ``c/tinyml_ops.c``, which
follow TFLM's reference kernels loop for loop; ``kernels="fast"`` calls the fast twins of
``c/tinyml_ops_fast.c`` for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and the pools (same
codes, bit for bit) and the reference kernels for SOFTMAX and the reshapes. The result is a
:class:`~.c_model.CModel` like :func:`export.plain_c_files`' (which calls this for any graph
that is not a Dense chain), so :func:`firmware.build` and :func:`firmware.measure` run it
unchanged. The parameters are derived as TFLM's Prepare steps derive them (:mod:`ops` holds
that arithmetic and the NumPy twin of each kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cgen, ops
from .c_model import C_TEMPLATES, FAST_OPS_KERNELS, OPS_KERNELS, CModel, check_prefix
from .graph import Graph, Op, Tensor, check_int8_chain

MAX_DIM = 32767  # loops count with C's int, 16 bits on the AVR
MAX_SOFTMAX_DEPTH = 511  # the final RoundingDivideByPOT shifts by at most 31 below this
KERNELS = {"CONV_2D": "tinyml_conv_2d", "DEPTHWISE_CONV_2D": "tinyml_depthwise_conv_2d",
           "MAX_POOL_2D": "tinyml_max_pool_2d", "AVERAGE_POOL_2D": "tinyml_average_pool_2d",
           "FULLY_CONNECTED": "tinyml_fully_connected", "SOFTMAX": "tinyml_softmax"}
# kernels="fast": these operators call c/tinyml_ops_fast.c (the weighted ones with a folded
# bias, see _folded); SOFTMAX, RESHAPE and EXPAND_DIMS keep the reference kernels.
FAST_KERNELS = {"CONV_2D": "tinyml_conv_2d_fast",
                "DEPTHWISE_CONV_2D": "tinyml_depthwise_conv_2d_fast",
                "MAX_POOL_2D": "tinyml_max_pool_2d_fast",
                "AVERAGE_POOL_2D": "tinyml_average_pool_2d_fast",
                "FULLY_CONNECTED": "tinyml_fully_connected_fast"}
KERNEL_SETS = ("reference", "fast")


@dataclass(frozen=True)
class GraphC(CModel):
    """The generated C of one graph (a :class:`CModel`), the sizes of its two activation
    buffers and of the fast convolutions' window buffer (in ``activation_bytes`` too)."""

    buffers: tuple[int, int] = (0, 0)  # bytes of the two ping-pong activation buffers
    scratch: int = 0  # bytes of the largest window a fast convolution copies (0: none)


@dataclass
class _Emitted:
    """What one operator adds to the .c file: its constant arrays and its kernel call."""

    declarations: str
    call: str  # with {src} and {dst} left to fill
    constant_bytes: int
    scratch: int = 0  # bytes of window buffer the kernel needs


def check_kernels(kernels) -> str:
    """Return ``kernels`` after checking it names a kernel set of :data:`KERNEL_SETS`."""
    if not isinstance(kernels, str) or kernels not in KERNEL_SETS:
        raise ValueError(f"kernels must be one of {', '.join(map(repr, KERNEL_SETS))}, got "
                         f"{kernels!r}")
    return kernels


def generate(graph: Graph, prefix: str = "model", kernels: str = "reference") -> GraphC:
    """Return the :class:`GraphC` of a full-int8 ``graph``; raise ValueError if it cannot be.

    ``kernels`` is ``"reference"`` (c/tinyml_ops.c, TFLM's reference loops) or ``"fast"``
    (c/tinyml_ops_fast.c for the convolutions, the pools and FULLY_CONNECTED: the same codes)."""
    check_kernels(kernels)
    _check_graph(graph)
    check_prefix(prefix)
    fast = kernels == "fast"
    places, buffers = _plan(graph)
    emitted = [_emit(graph, i, op, fast) for i, op in enumerate(graph.ops)]
    calls = []
    for i, (op, part) in enumerate(zip(graph.ops, emitted, strict=True)):
        src, dst = places[op.inputs[0]], places[op.outputs[0]]
        if op.kind in ("RESHAPE", "EXPAND_DIMS") and src == dst:
            calls.append(f"  /* op {i}: {op.kind} leaves the codes where they are */")
        else:
            calls.append("  " + part.call.format(src=src, dst=dst))
    x, y = (graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]])
    scratch = max((p.scratch for p in emitted), default=0)
    source = _source(prefix, buffers, scratch, [p.declarations for p in emitted], calls, fast)
    files = {f"{prefix}.h": _header(prefix, x, y), f"{prefix}.c": source}
    return GraphC(prefix, "int8", x.size, y.size, files, FAST_OPS_KERNELS if fast else OPS_KERNELS,
                  sum(p.constant_bytes for p in emitted), sum(buffers) + scratch, buffers,
                  scratch)


# ---- checks and buffer plan ------------------------------------------------------------------

def _check_graph(graph: Graph) -> None:
    """Raise TypeError/ValueError unless ``graph`` is an int8 chain the kernels can run."""
    if not isinstance(graph, Graph):
        raise TypeError(f"expected a graph.Graph (from graph.read), got {type(graph).__name__}")
    check_int8_chain(graph, "graph_c")
    for t in graph.tensors:
        if t.data is None and max(t.shape, default=1) > MAX_DIM:
            raise ValueError(f"tensor {t.name!r} has the shape {list(t.shape)}; the kernels "
                             f"count each dimension in a C int (at most {MAX_DIM})")


def _plan(graph: Graph) -> tuple[dict[int, str], tuple[int, int]]:
    """Return (C place of each activation tensor, bytes of buf0 and buf1).

    A computing operator writes the buffer its input is not in; a RESHAPE or EXPAND_DIMS in the
    middle only renames its input's place. The last computing operator writes ``output``
    directly, so the reshapes after it rename ``output`` too."""
    t = graph.tensors
    computing = [i for i, op in enumerate(graph.ops) if op.kind not in ("RESHAPE", "EXPAND_DIMS")]
    last = computing[-1] if computing else -1
    places = {graph.inputs[0]: "input"}
    sizes = [0, 0]
    for i, op in enumerate(graph.ops):
        src = places[op.inputs[0]]
        if i == last or (last == -1 and i == len(graph.ops) - 1):
            dst = "output"  # (a graph of reshapes only copies the input once, at the end)
        elif op.kind not in ("RESHAPE", "EXPAND_DIMS"):
            dst = "buf1" if src == "buf0" else "buf0"
        else:
            dst = src  # after the last computing operator, src is already "output"
        if dst.startswith("buf"):
            k = int(dst[-1])
            sizes[k] = max(sizes[k], t[op.outputs[0]].size)
        places[op.outputs[0]] = dst
    return places, (sizes[0], sizes[1])


# ---- one operator ----------------------------------------------------------------------------

def _array(name: str, ctype: str, values: np.ndarray) -> str:
    """Return one constant array declaration in flash."""
    return (f"static const {ctype} {name}[{values.size}] TINYML_CONST = "
            f"{cgen.initializer(values)};\n")


def _struct(name: str, ctype: str, fields: dict[str, str | int]) -> str:
    """Return a params struct constant with designated initializers, one field a line."""
    body = ",\n".join(f"    .{key} = {value}" for key, value in fields.items())
    return f"static const {ctype} {name} TINYML_CONST = {{\n{body}\n}};\n"


def _dims(where: str, **values: int) -> dict[str, int]:
    """Return ``values`` after checking each fits a C int on the AVR."""
    for key, value in values.items():
        if not 0 <= value <= MAX_DIM:
            raise ValueError(f"{where}: {key} = {value} does not fit the kernels' 16-bit "
                             f"counters (0..{MAX_DIM})")
    return values


def _folded(w: np.ndarray, bias: np.ndarray | None, input_offset: int,
            axes: tuple[int, ...]) -> np.ndarray:
    """Return the fast kernels' folded bias of each output channel: bias + input_offset * (the
    sum of the channel's weights over ``axes``), wrapped to int32 as the kernels' sums wrap."""
    total = w.astype(np.int64).sum(axis=axes) * input_offset
    if bias is not None:
        total = total + bias.astype(np.int64)
    return ((total + 2**31) % 2**32 - 2**31).astype(np.int32)


# The axes of a filter that one output channel sums over (the others give the channel)
_FILTER_AXES = {"CONV_2D": (1, 2, 3), "DEPTHWISE_CONV_2D": (0, 1, 2), "FULLY_CONNECTED": (1,)}


def _weights(graph: Graph, i: int, op: Op, q: ops.Int8Params,
             channels: int, fast: bool = False) -> tuple[str, str, str, int]:
    """Return (declarations, filter name, bias name or NULL, bytes) of a weighted operator;
    with ``fast``, the folded bias (always there) in place of the bias."""
    w = graph.tensors[op.inputs[1]]
    text = _array(f"op{i}_filter", "int8_t", w.data)
    nbytes = w.size
    bias = "NULL"
    b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if fast:
        folded = _folded(w.data, None if b is None else b.data, q.input_offset,
                         _FILTER_AXES[op.kind])
        text += _array(f"op{i}_folded_bias", "int32_t", folded)
        bias, nbytes = f"op{i}_folded_bias", nbytes + 4 * folded.size
    elif b is not None:
        text += _array(f"op{i}_bias", "int32_t", b.data)
        bias, nbytes = f"op{i}_bias", nbytes + 4 * b.size
    if len(q.multiplier) != channels:
        raise ValueError(f"operator {i} ({op.kind}): {len(q.multiplier)} multipliers for "
                         f"{channels} output channels")
    text += _array(f"op{i}_multiplier", "int32_t", q.multiplier.astype(np.int32))
    text += _array(f"op{i}_shift", "int8_t", q.shift.astype(np.int8))
    return text, f"op{i}_filter", bias, nbytes + 5 * channels


def _requant_fields(i: int, q: ops.Int8Params) -> dict[str, str | int]:
    """Return the offsets, clamp and per-channel array names of a weighted operator."""
    return {"input_offset": q.input_offset, "output_offset": q.output_offset,
            "quantized_activation_min": q.act_min, "quantized_activation_max": q.act_max,
            "output_multiplier": f"op{i}_multiplier", "output_shift": f"op{i}_shift"}


def _window(where: str, x: Tensor, out: Tensor, padding: str, window: tuple[int, int],
            strides: tuple[int, int], dilations: tuple[int, int]) -> dict[str, int]:
    """Return the shape, stride and padding fields shared by convolutions and pools."""
    pads = ops.window_padding(padding, x, out, window, strides, dilations)
    return _dims(where, batches=x.shape[0], input_height=x.shape[1], input_width=x.shape[2],
                 stride_height=strides[0], stride_width=strides[1],
                 padding_height=pads[0], padding_width=pads[1])


def _windows_inside(x: Tensor, out: Tensor, window: tuple[int, int], strides: tuple[int, int],
                    dilations: tuple[int, int], pads: tuple[int, int]) -> bool:
    """Return True if every window of a convolution lies wholly inside its input (as the fast
    kernels test each one: the first tap at or after the first pixel, the last before the end)."""
    return all(pad == 0 and (n_out - 1) * stride + (k - 1) * dilation < size
               for pad, n_out, stride, k, dilation, size in
               zip(pads, out.shape[1:3], strides, window, dilations, x.shape[1:3], strict=True))


def _comment(i: int, op: Op, x: Tensor, out: Tensor) -> str:
    """Return the one-line C comment that introduces an operator."""
    shapes = f"{'x'.join(map(str, x.shape))} -> {'x'.join(map(str, out.shape))}"
    options = [getattr(op.params, key) for key in ("padding", "activation")
               if hasattr(op.params, key)]
    return f"/* op {i}: {' '.join([op.kind, shapes, *options])} */\n"


def _emit(graph: Graph, i: int, op: Op, fast: bool = False) -> _Emitted:
    """Return the arrays, params and call of operator ``i`` (over the fast kernels where
    there are some, with ``fast``)."""
    x, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    where, head = f"operator {i} ({op.kind})", _comment(i, op, x, out)
    p = op.params
    if op.kind in ("RESHAPE", "EXPAND_DIMS"):
        return _Emitted("", f"tinyml_reshape({{src}}, {{dst}}, {out.size}u); /* op {i}: "
                            f"{op.kind} */", 0)
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = graph.tensors[op.inputs[1]]
        depthwise = op.kind == "DEPTHWISE_CONV_2D"
        channels = out.shape[3]
        q = ops.int8_params(graph, op)
        arrays, filt, bias, nbytes = _weights(graph, i, op, q, channels, fast)
        fields = _window(where, x, out, p.padding, w.shape[1:3], (p.stride_h, p.stride_w),
                         (p.dilation_h, p.dilation_w))
        shape = _dims(where, input_depth=x.shape[3], filter_height=w.shape[1],
                      filter_width=w.shape[2], output_height=out.shape[1],
                      output_width=out.shape[2], output_depth=channels,
                      dilation_height_factor=p.dilation_h, dilation_width_factor=p.dilation_w)
        extra = _dims(where, depth_multiplier=p.depth_multiplier) if depthwise else \
            _dims(where, filter_input_depth=w.shape[3])
        ordered = {"batches": fields["batches"], "input_height": fields["input_height"],
                   "input_width": fields["input_width"], "input_depth": shape["input_depth"],
                   "filter_height": shape["filter_height"], "filter_width": shape["filter_width"],
                   **extra, "output_height": shape["output_height"],
                   "output_width": shape["output_width"], "output_depth": channels,
                   "stride_height": p.stride_h, "stride_width": p.stride_w,
                   "dilation_height_factor": p.dilation_h, "dilation_width_factor": p.dilation_w,
                   "padding_height": fields["padding_height"],
                   "padding_width": fields["padding_width"], **_requant_fields(i, q)}
        ctype = "tinyml_depthwise_params" if depthwise else "tinyml_conv_params"
        text = head + arrays + _struct(f"op{i}_params", ctype, ordered)
        if not fast:
            call = f"{KERNELS[op.kind]}(&op{i}_params, {{src}}, {filt}, {bias}, {{dst}});"
            return _Emitted(text, call, nbytes)
        # A window is copied into the scratch buffer (one filter's taps, every channel they
        # read; counted in 16 bits, as the dot products' lengths) unless the kernel reads it
        # where it lies: a DEPTHWISE_CONV_2D window inside the image, or a CONV_2D window that
        # is one run of the input (one row of adjacent taps over every channel) inside it.
        window = _dims(where, window=w.shape[1] * w.shape[2] *
                       (x.shape[3] if depthwise else w.shape[3]))["window"]
        in_place = _windows_inside(x, out, w.shape[1:3], (p.stride_h, p.stride_w),
                                   (p.dilation_h, p.dilation_w),
                                   (fields["padding_height"], fields["padding_width"]))
        if not depthwise:
            in_place = in_place and w.shape[3] == x.shape[3] and w.shape[1] == 1 \
                and (w.shape[2] == 1 or p.dilation_w == 1)
        window = 0 if in_place else window
        call = (f"{FAST_KERNELS[op.kind]}(&op{i}_params, {{src}}, {filt}, {bias}, "
                f"{'scratch' if window else 'NULL'}, {{dst}});")
        return _Emitted(text, call, nbytes, window)
    if op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        fields = _window(where, x, out, p.padding, (p.filter_h, p.filter_w),
                         (p.stride_h, p.stride_w), (1, 1))
        low, high = ops.activation_range(p.activation, out)
        ordered = {"batches": fields["batches"], "input_height": fields["input_height"],
                   "input_width": fields["input_width"],
                   **_dims(where, depth=x.shape[3], output_height=out.shape[1],
                           output_width=out.shape[2], filter_height=p.filter_h,
                           filter_width=p.filter_w),
                   "stride_height": p.stride_h, "stride_width": p.stride_w,
                   "padding_height": fields["padding_height"],
                   "padding_width": fields["padding_width"],
                   "quantized_activation_min": low, "quantized_activation_max": high}
        text = head + _struct(f"op{i}_params", "tinyml_pool_params", ordered)
        kernel = (FAST_KERNELS if fast else KERNELS)[op.kind]
        return _Emitted(text, f"{kernel}(&op{i}_params, {{src}}, {{dst}});", 0)
    if op.kind == "FULLY_CONNECTED":
        w = graph.tensors[op.inputs[1]]
        q = ops.int8_params(graph, op)
        arrays, filt, bias, nbytes = _weights(graph, i, op, q, w.shape[0], fast)
        ordered = {**_dims(where, batches=x.size // w.shape[1], accum_depth=w.shape[1],
                           output_depth=w.shape[0]), **_requant_fields(i, q)}
        text = head + arrays + _struct(f"op{i}_params", "tinyml_fully_connected_params", ordered)
        kernel = (FAST_KERNELS if fast else KERNELS)[op.kind]
        call = f"{kernel}(&op{i}_params, {{src}}, {filt}, {bias}, {{dst}});"
        return _Emitted(text, call, nbytes)
    if op.kind == "SOFTMAX":
        text = head + _struct(f"op{i}_params", "tinyml_softmax_params",
                              _softmax_fields(where, x, p.beta))
        return _Emitted(text, f"{KERNELS[op.kind]}(&op{i}_params, {{src}}, {{dst}});", 0)
    raise ValueError(f"{where} has no C kernel")  # graph.read refuses other kinds first


def check_softmax_depth(where: str, depth: int) -> None:
    """Raise ValueError if an int8 softmax normalizes over more values than the kernel's final
    shift keeps within 32 bits (the C and the MicroPython kernels alike)."""
    if depth > MAX_SOFTMAX_DEPTH:
        raise ValueError(f"{where} normalizes over {depth} values; the int8 kernel's final "
                         f"shift stays within 32 bits only up to {MAX_SOFTMAX_DEPTH}")


def _softmax_fields(where: str, x: Tensor, beta: float) -> dict[str, int]:
    """Return the softmax params as TFLM's PreprocessSoftmaxScaling and diff_min derive them."""
    depth = x.shape[-1]
    check_softmax_depth(where, depth)
    multiplier, shift, diff_min = ops.softmax_params(float(x.quantization.scale[0]), beta)
    return {**_dims(where, outer_size=x.size // depth, depth=depth),
            "input_multiplier": multiplier, "input_left_shift": shift, "diff_min": diff_min}


# ---- the two files ---------------------------------------------------------------------------

def _header(prefix: str, x: Tensor, y: Tensor) -> str:
    """Return ``<prefix>.h``: sizes, quantization of input and output, the invoke prototype."""
    up = prefix.upper()
    qx, qy = x.quantization, y.quantization
    io = cgen.render(C_TEMPLATES / "plain_model_int8_io.h", UP=up,
                     INPUT_SCALE=cgen.float_literal(qx.scale[0]),
                     INPUT_ZERO_POINT=cgen.int_literal(qx.zero_point[0]),
                     OUTPUT_SCALE=cgen.float_literal(qy.scale[0]),
                     OUTPUT_ZERO_POINT=cgen.int_literal(qy.zero_point[0]))
    return cgen.render(C_TEMPLATES / "plain_model.h",
                       BANNER=cgen.banner(f"{prefix}.h").rstrip("\n"),
                       GUARD=cgen.include_guard(f"{prefix}.h"), UP=up, PREFIX=prefix,
                       KIND="int8", CTYPE="int8_t", N_IN=str(x.size), N_OUT=str(y.size),
                       QUANTIZATION=io)


def _source(prefix: str, buffers: tuple[int, int], scratch: int, declarations: list[str],
            calls: list[str], fast: bool = False) -> str:
    """Return ``<prefix>.c``: buffers, constant arrays and params, and the invoke function."""
    used = [f"static int8_t buf{k}[{n}];\n" for k, n in enumerate(buffers) if n]
    note = ("/* Activations ping-pong between two buffers, each as large as the largest\n"
            f" * tensor it holds: {buffers[0]} + {buffers[1]} bytes. */\n") if used else \
        "/* Every operator reads the input or writes the output: no activation buffer. */\n"
    if scratch:
        used.append("/* The window a convolution gathers for one output pixel (im2col). */\n"
                    f"static int8_t scratch[{scratch}];\n")
    kernels = "tinyml_ops_fast.h" if fast else "tinyml_ops.h"
    return (cgen.banner(f"{prefix}.c") + "\n"
            f'#include <stddef.h>\n\n#include "{prefix}.h"\n#include "{kernels}"\n\n'
            + note + "".join(used) + "\n" + "\n".join(d for d in declarations if d) + "\n"
            f"void {prefix}_invoke(const int8_t *input, int8_t *output) {{\n"
            + "\n".join(calls) + "\n}\n")
