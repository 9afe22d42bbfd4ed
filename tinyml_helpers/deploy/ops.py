"""NumPy reference kernels for the operators of a :class:`graph.Graph`, and :func:`run`.

The int8 kernels compute TFLM's reference integer kernels bit for bit
(``tensorflow/lite/kernels/internal/reference/integer_ops/`` and ``reference/softmax.h``): the
same zero-point offsets, per-channel multipliers and shifts (``quant.quantize_multiplier``),
the same requantization (``quant.requantize``, TFLM's MultiplyByQuantizedMultiplier), the same
rounding of averages and the same fixed-point softmax. They are vectorised over the whole batch,
so they sum in another order than TFLM's loops; integer sums do not depend on the order.
The float32 kernels agree with TFLM to float rounding (about 1e-6 relative).

Every kernel takes arrays whose first axis is the batch (rows that are run independently) and
returns one array; :func:`run` executes a whole graph on many rows at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import quant
from .graph import ConvParams, Graph, PoolParams, Tensor

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, eq=False)
class Int8Params:
    """What an int8 kernel needs beyond its tensors, derived as TFLM's Prepare step does."""

    input_offset: int  # minus the input zero point
    output_offset: int  # the output zero point
    multiplier: np.ndarray  # Q31 requantization multipliers, one per output channel
    shift: np.ndarray  # their power-of-two exponents
    act_min: int  # the fused activation as a clamp of the output codes
    act_max: int


# ---- parameters, as TFLM's Prepare derives them --------------------------------------------

def quantize_value(value: float, q) -> int:
    """Return the int8 code of ``value`` as TFLM's Quantize computes it (float32 division)."""
    code = quant.round_half_away(np.float32(value) / np.float32(q.scale[0]))
    return int(q.zero_point[0]) + int(code)


def activation_range(activation: str, out: Tensor) -> tuple[float, float] | tuple[int, int]:
    """Return the output clamp (low, high) of a fused activation, in codes for int8 tensors."""
    if out.dtype != np.int8:
        high = {"NONE": np.inf, "RELU": np.inf, "RELU6": 6.0}[activation]
        return (-np.inf if activation == "NONE" else 0.0), high
    low, high = -128, 127
    if activation in ("RELU", "RELU6"):
        low = max(low, quantize_value(0.0, out.quantization))
    if activation == "RELU6":
        high = min(high, quantize_value(6.0, out.quantization))
    return low, high


def requantization(x: Tensor, w: Tensor, out: Tensor, channels: int) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Return per-channel (multiplier, shift) for input scale * weight scale / output scale."""
    # TFLM multiplies the float32 scales in double precision, then quantizes each product.
    scales = np.broadcast_to(w.quantization.scale.astype(np.float64), (channels,))
    real = float(x.quantization.scale[0]) * scales / float(out.quantization.scale[0])
    pairs = [quant.quantize_multiplier(float(r)) for r in real]
    return (np.array([m for m, _ in pairs], dtype=np.int64),
            np.array([s for _, s in pairs], dtype=np.int64))


def int8_params(graph: Graph, op) -> Int8Params:
    """Return the :class:`Int8Params` of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED op."""
    x, w, out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    channels = w.shape[3] if op.kind == "DEPTHWISE_CONV_2D" else w.shape[0]
    multiplier, shift = requantization(x, w, out, channels)
    low, high = activation_range(op.params.activation, out)
    return Int8Params(-int(x.quantization.zero_point[0]), int(out.quantization.zero_point[0]),
                      multiplier, shift, low, high)


def padding(p: str, size: int, filter_size: int, stride: int, dilation: int,
            out: int) -> int:
    """Return the padding before the first input, as TFLM's ComputePadding (0 for VALID)."""
    effective = (filter_size - 1) * dilation + 1
    total = (out - 1) * stride + effective - size
    return max(int(total / 2), 0) if p == "SAME" else 0  # C division truncates


def window_padding(p: str, x: Tensor, out: Tensor, window: tuple[int, int],
                   strides: tuple[int, int], dilations: tuple[int, int]) -> tuple[int, int]:
    """Return the padding before the first row and column of an NHWC convolution or pool."""
    return (padding(p, x.shape[1], window[0], strides[0], dilations[0], out.shape[1]),
            padding(p, x.shape[2], window[1], strides[1], dilations[1], out.shape[2]))


# ---- windows: the patches a convolution or pool reads ----------------------------------------

def _windows(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int],
             dilations: tuple[int, int], pad: str, out_hw: tuple[int, int],
             fill) -> np.ndarray:
    """Return the patches of NHWC ``x`` as (n, out_h, out_w, window_h, window_w, channels).

    Positions outside the image hold ``fill``: a value that adds nothing to a sum or a max,
    which is how TFLM's loops skip them."""
    n, h, w, c = x.shape
    before = [padding(pad, size, k, s, d, o) for size, k, s, d, o in
              zip((h, w), window, strides, dilations, out_hw, strict=True)]
    after = [max(0, (o - 1) * s + (k - 1) * d + 1 - b - size) for size, k, s, d, o, b in
             zip((h, w), window, strides, dilations, out_hw, before, strict=True)]
    padded = np.pad(x, ((0, 0), (before[0], after[0]), (before[1], after[1]), (0, 0)),
                    constant_values=fill)
    patches = np.empty((n, *out_hw, *window, c), dtype=x.dtype)
    for ky in range(window[0]):
        y0 = ky * dilations[0]
        rows = padded[:, y0:y0 + (out_hw[0] - 1) * strides[0] + 1:strides[0]]
        for kx in range(window[1]):
            x0 = kx * dilations[1]
            patches[:, :, :, ky, kx] = rows[:, :, x0:x0 + (out_hw[1] - 1) * strides[1] + 1:
                                            strides[1]]
    return patches


def _conv_windows(x: np.ndarray, w_hw: tuple[int, int], p: ConvParams,
                  out_hw: tuple[int, int], fill) -> np.ndarray:
    """Return the patches a convolution with parameters ``p`` reads (see _windows)."""
    return _windows(x, w_hw, (p.stride_h, p.stride_w), (p.dilation_h, p.dilation_w),
                    p.padding, out_hw, fill)


def _finish(acc: np.ndarray, bias: np.ndarray | None, q: Int8Params | None,
            activation: str) -> np.ndarray:
    """Return accumulators plus bias, requantized to int8 codes (or as float32), clamped."""
    if bias is not None:
        acc = acc + bias.astype(acc.dtype)
    if q is None:
        low, high = {"NONE": (-np.inf, np.inf), "RELU": (0, np.inf), "RELU6": (0, 6)}[
            activation]
        return np.clip(acc, low, high).astype(np.float32)
    scaled = quant.requantize(acc, q.multiplier, q.shift) + q.output_offset
    return np.clip(scaled, q.act_min, q.act_max).astype(np.int8)


# ---- kernels ---------------------------------------------------------------------------------

def conv_2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, p: ConvParams,
            out_hw: tuple[int, int], q: Int8Params | None = None) -> np.ndarray:
    """Return CONV_2D of NHWC ``x`` with OHWI weights ``w`` (int8 codes if ``q`` is given)."""
    groups = x.shape[3] // w.shape[3]
    if q is None:
        patches = _conv_windows(x.astype(np.float32), w.shape[1:3], p, out_hw, 0.0)
    else:  # (x + input_offset) is 0 outside the image: those products vanish, as in TFLM
        patches = _conv_windows(x.astype(np.int64) + q.input_offset, w.shape[1:3], p, out_hw,
                                0)
    patches = patches.reshape(*patches.shape[:5], groups, w.shape[3])
    filters = w.reshape(groups, w.shape[0] // groups, *w.shape[1:]).astype(patches.dtype)
    acc = np.einsum("nyxhwgc,gfhwc->nyxgf", patches, filters)
    return _finish(acc.reshape(*acc.shape[:3], w.shape[0]), bias, q, p.activation)


def depthwise_conv_2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, p: ConvParams,
                      out_hw: tuple[int, int], q: Int8Params | None = None) -> np.ndarray:
    """Return DEPTHWISE_CONV_2D of NHWC ``x`` with 1HWC weights (channel c*M+m reads c)."""
    if q is None:
        patches = _conv_windows(x.astype(np.float32), w.shape[1:3], p, out_hw, 0.0)
    else:
        patches = _conv_windows(x.astype(np.int64) + q.input_offset, w.shape[1:3], p, out_hw,
                                0)
    patches = np.repeat(patches, p.depth_multiplier, axis=-1)
    acc = np.einsum("nyxhwc,hwc->nyxc", patches, w[0].astype(patches.dtype))
    return _finish(acc, bias, q, p.activation)


def max_pool_2d(x: np.ndarray, p: PoolParams, out_hw: tuple[int, int],
                act: tuple) -> np.ndarray:
    """Return MAX_POOL_2D of NHWC ``x``, clamped to ``act`` (codes for int8, as TFLM)."""
    fill = -np.inf if x.dtype == np.float32 else np.iinfo(x.dtype).min
    patches = _windows(x, (p.filter_h, p.filter_w), (p.stride_h, p.stride_w), (1, 1),
                       p.padding, out_hw, fill)
    return np.clip(patches.max(axis=(3, 4)), *act).astype(x.dtype)


def average_pool_2d(x: np.ndarray, p: PoolParams, out_hw: tuple[int, int],
                    act: tuple) -> np.ndarray:
    """Return AVERAGE_POOL_2D of NHWC ``x`` over the window's part inside the image."""
    args = ((p.filter_h, p.filter_w), (p.stride_h, p.stride_w), (1, 1), p.padding, out_hw)
    inside = _windows(np.ones((1, *x.shape[1:3], 1), dtype=np.int64), *args, 0)
    count = inside.sum(axis=(3, 4))  # (1, out_h, out_w, 1): the divisor TFLM counts
    if x.dtype == np.float32:
        total = _windows(x, *args, 0.0).sum(axis=(3, 4), dtype=np.float32)
        return np.clip(total / count.astype(np.float32), *act).astype(np.float32)
    total = _windows(x.astype(np.int64), *args, 0).sum(axis=(3, 4))
    # Round half away from zero with C's truncating division, as reference_integer_ops does.
    half = count // 2
    rounded = np.where(total > 0, (total + half) // count, -((half - total) // count))
    return np.clip(rounded, *act).astype(np.int8)


def fully_connected(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, activation: str,
                    q: Int8Params | None = None) -> np.ndarray:
    """Return FULLY_CONNECTED of rows ``x`` (n, depth) with weights (units, depth)."""
    if q is None:
        acc = x.astype(np.float32) @ w.T.astype(np.float32)
    else:
        acc = (x.astype(np.int64) + q.input_offset) @ w.T.astype(np.int64)
    return _finish(acc, bias, q, activation)


def softmax_float(x: np.ndarray, beta: float) -> np.ndarray:
    """Return float32 SOFTMAX of ``x`` over its last axis: exp(beta (x - max)) / sum."""
    x = x.astype(np.float32)
    e = np.exp((x - x.max(axis=-1, keepdims=True)) * np.float32(beta))
    return (e / e.sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float32)


# ---- int8 softmax: gemmlowp fixed-point arithmetic on int32 values held in int64 ---------------

def _high_mul(a, b) -> np.ndarray:
    """Return gemmlowp's SaturatingRoundingDoublingHighMul: round(a * b / 2**31)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    result = np.sign(nudged) * (np.abs(nudged) >> 31)  # C division truncates toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, result)


def _divide_pot(x, exponent) -> np.ndarray:
    """Return gemmlowp's RoundingDivideByPOT: x / 2**exponent rounded half away from zero."""
    x, exponent = np.asarray(x, dtype=np.int64), np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def _shift_left_saturating(x, exponent: int) -> np.ndarray:
    """Return x * 2**exponent saturated to int32 (gemmlowp's positive SaturatingRounding...POT)."""
    x = np.asarray(x, dtype=np.int64)
    limit = (1 << (31 - exponent)) - 1
    return np.where(x > limit, INT32_MAX, np.where(x < -limit, INT32_MIN, x << exponent))


def _exp_quarter(a: np.ndarray) -> np.ndarray:
    """Return exp(a) for Q0.31 ``a`` in [-1/4, 0): a Taylor series around -1/8 (Q0.31)."""
    exp_minus_eighth, third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = _high_mul(x, x)
    x3 = _high_mul(x2, x)
    x4 = _high_mul(x2, x2)
    poly = _divide_pot(_high_mul(_divide_pot(x4, 2) + x3, third) + x2, 1)
    return exp_minus_eighth + _high_mul(exp_minus_eighth, x + poly)


# exp(-2**k) in Q0.31 for k = -2..4: the factors for each whole bit of a negative input.
_EXP_BITS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
             (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray) -> np.ndarray:
    """Return exp(a) in Q0.31 for Q5.26 ``a`` <= 0, as gemmlowp computes it."""
    quarter = 1 << 24  # 1/4 in Q5.26
    shifted = (a & (quarter - 1)) - quarter  # a mod 1/4, minus 1/4: in [-1/4, 0)
    result = _exp_quarter(_shift_left_saturating(shifted, 5))
    remainder = shifted - a  # the multiples of 1/4 still to apply, one bit at a time
    for k, factor in _EXP_BITS:
        result = np.where(remainder & (1 << (26 + k)), _high_mul(result, factor), result)
    return np.where(a == 0, INT32_MAX, result)


def _one_over_one_plus(a: np.ndarray) -> np.ndarray:
    """Return 1 / (1 + a) in Q0.31 for Q0.31 ``a`` in [0, 1): Newton-Raphson, 3 steps."""
    total = a + INT32_MAX
    half = (total + np.where(total >= 0, 1, -1)) // 2  # both operands >= 0: no sign issue
    x = 1515870810 + _high_mul(half, -1010580540)  # 48/17 - 32/17 * half, in Q2.29
    for _ in range(3):
        error = (1 << 29) - _high_mul(half, x)
        x = x + _shift_left_saturating(_high_mul(x, error), 2)
    return _shift_left_saturating(x, 1)


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """Return (input multiplier, its left shift, diff_min) of an int8 SOFTMAX, as TFLM's
    PreprocessSoftmaxScaling and CalculateInputRadius derive them (every implementation of the
    kernel here takes them from this function)."""
    # Input differences become Q5.26 (5 integer bits) after this multiplier, beta included.
    real = min(beta * input_scale * (1 << 26), float(2**31 - 1))
    multiplier, shift = quant.quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"softmax input scale {input_scale} is too small for TFLM's int8 "
                         "kernel (its multiplier must be >= 1)")
    diff_min = -math.floor(31.0 * (1 << 26) / (1 << shift))
    return multiplier, shift, diff_min


def softmax_int8(x: np.ndarray, input_scale: float, beta: float) -> np.ndarray:
    """Return int8 SOFTMAX codes (scale 1/256, zero point -128) of int8 codes ``x``, last
    axis, bit for bit TFLM's reference_ops::Softmax."""
    multiplier, shift, diff_min = softmax_params(input_scale, beta)
    codes = x.astype(np.int64)
    diff = codes - codes.max(axis=-1, keepdims=True)
    used = diff >= diff_min
    scaled = quant.requantize(np.where(used, diff, 0), multiplier, shift)
    exps = np.where(used, exp_on_negative_values(scaled), 0)
    sums = _divide_pot(exps, 12).sum(axis=-1, keepdims=True)  # Q12.19 accumulator
    # CountLeadingZeros of the 32-bit sum: frexp's exponent is the bit length (sums < 2**53).
    headroom = 32 - np.frexp(sums.astype(np.float64))[1].astype(np.int64)
    over_unit = 12 - headroom
    shifted = ((sums << headroom) & 0xFFFFFFFF) - (1 << 31)
    reciprocal = _one_over_one_plus(shifted)
    out = _divide_pot(_high_mul(reciprocal, exps), over_unit + 31 - 8) - 128
    return np.where(used, np.clip(out, -128, 127), -128).astype(np.int8)



# ---- whole graphs ----------------------------------------------------------------------------

def _rows(graph: Graph, inputs) -> np.ndarray:
    """Return ``inputs`` as (n, *input shape) in the graph's dtype, after checks."""
    tensor = graph.tensors[graph.inputs[0]]
    shape = tensor.shape
    x = quant.real_array("inputs", inputs)
    if x.ndim >= 1 and x.shape[1:] in (shape, shape[1:] if shape[0] == 1 else None,
                                       (tensor.size,)):
        x = x.reshape(len(x), *shape)
    else:
        raise ValueError(f"inputs must have shape (n, {', '.join(map(str, shape[1:]))}) for "
                         f"the input tensor {list(shape)}, got {x.shape}")
    if len(x) == 0:
        raise ValueError("inputs is empty: give at least one row")
    if graph.is_int8:
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"this int8 graph takes int8 codes; quantize the inputs first "
                            f"(got {x.dtype})")
        if x.min() < -128 or x.max() > 127:
            raise ValueError(f"input codes must lie in [-128, 127], got {x.min()}..{x.max()}")
        return x.astype(np.int8)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"this float32 graph takes float inputs, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("inputs contain NaN or inf")
    return x.astype(np.float32)


def _execute(graph: Graph, op, x: np.ndarray) -> np.ndarray:
    """Return the output of ``op`` for its first input ``x`` of shape (n, *input shape)."""
    t = graph.tensors
    out = t[op.outputs[0]]
    n = len(x)
    q8 = graph.is_int8
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w = t[op.inputs[1]].data
        bias = t[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        q = int8_params(graph, op) if q8 else None
        if op.kind == "FULLY_CONNECTED":
            y = fully_connected(x.reshape(-1, w.shape[1]), w, bias, op.params.activation, q)
        else:
            kernel = conv_2d if op.kind == "CONV_2D" else depthwise_conv_2d
            y = kernel(x.reshape(-1, *x.shape[2:]), w, bias, op.params, out.shape[1:3], q)
    elif op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        kernel = max_pool_2d if op.kind == "MAX_POOL_2D" else average_pool_2d
        y = kernel(x.reshape(-1, *x.shape[2:]), op.params, out.shape[1:3],
                   activation_range(op.params.activation, out))
    elif op.kind == "SOFTMAX":
        y = softmax_int8(x, float(t[op.inputs[0]].quantization.scale[0]), op.params.beta) \
            if q8 else softmax_float(x, op.params.beta)
    else:  # RESHAPE, EXPAND_DIMS: the same values in another shape
        y = x
    return y.reshape(n, *out.shape)


def run(graph: Graph, inputs) -> np.ndarray:
    """Return the graph's output for each row of ``inputs``, shape (n, *output shape).

    An int8 graph takes int8 codes and returns int8 codes; a float32 graph takes and returns
    float32. A row may have the input tensor's shape, that shape without its batch axis of 1,
    or be flat. The output drops the output tensor's batch axis when it is 1.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"expected a graph.Graph (from graph.read), got {type(graph).__name__}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError(f"run needs a graph with one input and one output, this one has "
                         f"{len(graph.inputs)} and {len(graph.outputs)}")
    values = {graph.inputs[0]: _rows(graph, inputs)}
    for op in graph.ops:
        if op.inputs[0] not in values:
            raise ValueError(f"{op.kind} reads tensor {op.inputs[0]}, which no earlier "
                             "operator computes (operators out of order?)")
        values[op.outputs[0]] = _execute(graph, op, values[op.inputs[0]])
    index = graph.outputs[0]
    if index not in values:
        raise ValueError(f"no operator computes the graph output tensor {index}")
    y = values[index]
    return y.reshape(len(y), *y.shape[2:]) if graph.tensors[index].shape[0] == 1 else y
