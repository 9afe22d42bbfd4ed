"""Integer quantization arithmetic, as TFLite and TFLM do it: one implementation for the course.

- affine mapping ``q = round(x / scale) + zero_point`` and back ``x ≈ (q - zero_point) * scale``;
- rounding is half away from zero (C's ``roundf``, TFLite's ``TfLiteRound``), *not* the
  half-to-even rule of Python's ``round`` and ``np.round``;
- an asymmetric range is first widened to include 0, so 0.0 (a ReLU output, zero padding) is
  exactly representable; symmetric quantization has zero point 0 and the narrow range
  ±(2**(bits-1) - 1), i.e. -127…127 for int8 weights;
- an all-zero range gets scale 1.0 (no division by zero; 0 comes back as 0 exactly);
- requantization (int32 accumulator -> int8) uses a Q31 multiplier and a shift, computed and
  applied exactly as TFLM's ``QuantizeMultiplier`` / ``MultiplyByQuantizedMultiplier``.

:func:`quantize` is tested against TFLite's own QUANTIZE kernel; the exporters, the LiteRT
helpers, the fan detector and lesson 04 all call it.
"""

from __future__ import annotations

import math

import numpy as np

MIN_BITS, MAX_BITS = 2, 16


def check_bits(bits) -> int:
    """Return ``bits`` after checking it is an int in 2…16."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an int, got {type(bits).__name__}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in {MIN_BITS}…{MAX_BITS}, got {bits}")
    return int(bits)


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def qrange(bits: int = 8, signed: bool = False) -> tuple[int, int]:
    """Return (qmin, qmax) of a ``bits``-bit integer: (0, 255) or (-128, 127) for 8 bits."""
    bits = check_bits(bits)
    signed = _check_flag("signed", signed)
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def real_array(name: str, value) -> np.ndarray:
    """Return ``value`` as an array after checking it holds real numbers (not bool or str)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be real numbers, got {type(value).__name__} {value!r}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a regular array of numbers (all rows the same "
                         f"length): {exc}") from None
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number) \
            or np.iscomplexobj(array):
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array


def check_finite(name: str, value) -> np.ndarray:
    """Return ``value`` as an array after checking it holds only finite real numbers."""
    array = real_array(name, value)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


def round_half_away(x) -> np.ndarray:
    """Return ``x`` rounded to the nearest integer, halves away from zero (2.5 → 3, -2.5 → -3)."""
    x = check_finite("x", x)
    if not np.issubdtype(x.dtype, np.floating):
        return x.copy()
    a = np.abs(x)
    r = np.floor(a)
    r = r + ((a - r) >= 0.5)  # exact: a - r is computed without error for |x| < 2**52
    return np.copysign(r, x)


def affine_params(xmin, xmax, bits: int = 8, signed: bool | None = None,
                  symmetric: bool = False):
    """Return (scale, zero_point) mapping [xmin, xmax] onto ``bits``-bit integers.

    Asymmetric (default, unsigned unless ``signed=True``): the range widened to include 0 is
    spread over all 2**bits codes. Symmetric (always signed): zero point 0 and
    scale = max(|xmin|, |xmax|) / (2**(bits-1) - 1). Arrays give per-channel parameters.
    """
    bits = check_bits(bits)
    symmetric = _check_flag("symmetric", symmetric)
    if signed is None:
        signed = symmetric
    signed = _check_flag("signed", signed)
    if symmetric and not signed:
        raise ValueError("symmetric quantization needs signed integers (signed=True)")
    lo = check_finite("xmin", xmin).astype(np.float64)
    hi = check_finite("xmax", xmax).astype(np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"xmin and xmax must have the same shape, got {lo.shape} and "
                         f"{hi.shape}")
    if lo.size == 0:
        raise ValueError("xmin and xmax are empty")
    if np.any(lo > hi):
        raise ValueError(f"xmin must be <= xmax, got xmin={xmin} and xmax={xmax}")
    qmin, qmax = qrange(bits, signed)
    if symmetric:
        absmax = np.maximum(np.abs(lo), np.abs(hi))
        scale = np.where(absmax > 0, absmax / qmax, 1.0)
        zero_point = np.zeros_like(scale, dtype=np.int64)
    else:
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        scale = np.where(hi > lo, (hi - lo) / (qmax - qmin), 1.0)
        zero_point = (qmin - round_half_away(lo / scale)).astype(np.int64)
    if scale.ndim == 0:
        return float(scale), int(zero_point)
    return scale, zero_point


def _check_broadcast(x: np.ndarray, **params: np.ndarray) -> None:
    """Raise ValueError unless each parameter is a scalar or broadcasts onto ``x``'s shape."""
    for name, value in params.items():
        try:
            shape = np.broadcast_shapes(x.shape, value.shape)
        except ValueError:
            shape = None
        if shape != x.shape:
            raise ValueError(f"{name} of shape {value.shape} does not fit values of shape "
                             f"{x.shape} (give one {name} or one per channel, last axis)")


def _int_dtype(bits: int, signed: bool):
    if bits <= 8:
        return np.int8 if signed else np.uint8
    return np.int16 if signed else np.uint16


def quantize(x, scale, zero_point, bits: int = 8, signed: bool = False) -> np.ndarray:
    """Return the integer codes round(x / scale) + zero_point, clipped to the ``bits`` range.

    The result has the smallest NumPy integer type that holds it (int8, uint8, int16, uint16);
    cast to int32 before doing arithmetic with it, as a microcontroller's accumulator does.
    """
    bits = check_bits(bits)
    x = check_finite("x", x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    scale = check_finite("scale", scale)
    if np.any(scale <= 0):
        raise ValueError(f"scale must be > 0, got {scale}")
    qmin, qmax = qrange(bits, signed)
    zp = check_finite("zero_point", zero_point)
    if np.any(zp != np.round(zp)) or np.any(zp < qmin) or np.any(zp > qmax):
        raise ValueError(f"zero_point must be an integer in {qmin}…{qmax}, got {zero_point}")
    _check_broadcast(x, scale=scale, zero_point=zp)
    # x / scale keeps x's precision (float32 stays float32, like TFLite's QUANTIZE kernel).
    codes = round_half_away(x / scale.astype(x.dtype))
    codes = np.clip(codes + zp.astype(np.int64), qmin, qmax)
    return codes.astype(_int_dtype(bits, signed))


def dequantize(q, scale, zero_point) -> np.ndarray:
    """Return the real values (q - zero_point) * scale as float64."""
    q = check_finite("q", q)
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"q must be integer codes, got dtype {q.dtype}")
    scale = check_finite("scale", scale).astype(np.float64)
    if np.any(scale <= 0):
        raise ValueError(f"scale must be > 0, got {scale}")
    zp = check_finite("zero_point", zero_point)
    if np.any(zp != np.round(zp)):
        raise ValueError(f"zero_point must be an integer, got {zero_point}")
    _check_broadcast(q, scale=scale, zero_point=zp)
    return (q.astype(np.int64) - zp.astype(np.int64)) * scale


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Return (Q31 multiplier, shift) with real = multiplier * 2^(shift - 31), as TFLite does."""
    if isinstance(real, (bool, np.bool_)) or not isinstance(real, (int, float, np.integer,
                                                                    np.floating)):
        raise TypeError(f"real must be a number, got {type(real).__name__} {real!r}")
    real = float(real)
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"a requantization scale must be a finite number >= 0, got {real}")
    if real == 0:
        return 0, 0
    fraction, exponent = math.frexp(real)
    q = math.floor(fraction * (1 << 31) + 0.5)  # TfLiteRound: half away from zero
    if q == 1 << 31:
        q //= 2
        exponent += 1
    if exponent < -31:
        return 0, 0
    if exponent > 30:  # TFLM's shift is an int8 and the left shift must not overflow int32
        raise ValueError(f"a requantization scale of {real} is too large (over 2**30)")
    return int(q), int(exponent)


def _integers(name: str, value) -> np.ndarray:
    array = check_finite(name, value)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = a.astype(np.int64) * b.astype(np.int64)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    # C's integer division truncates toward zero.
    result = np.sign(total) * (np.abs(total) >> 31)
    overflow = (a == np.iinfo(np.int32).min) & (b == np.iinfo(np.int32).min)
    return np.where(overflow, np.iinfo(np.int32).max, result)


def _divide_by_power_of_two(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def requantize(acc, multiplier, shift) -> np.ndarray:
    """Return TFLM's MultiplyByQuantizedMultiplier(acc, multiplier, shift), element-wise."""
    acc, multiplier, shift = (_integers(name, value) for name, value in
                              (("acc", acc), ("multiplier", multiplier), ("shift", shift)))
    if np.any(multiplier < 0) or np.any(multiplier > np.iinfo(np.int32).max):
        raise ValueError("multiplier must be a Q31 value in 0..2**31-1")
    if np.any(shift < -31) or np.any(shift > 30):
        raise ValueError(f"shift must lie in -31..30, got {shift.min()}..{shift.max()}")
    if np.any(acc < np.iinfo(np.int32).min) or np.any(acc > np.iinfo(np.int32).max):
        raise ValueError("acc must be int32 accumulator values")
    _check_broadcast(acc, multiplier=multiplier, shift=shift)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    # TFLM multiplies by 1 << left in int32: a large accumulator wraps around, and so here.
    shifted = ((acc << left) + 2**31) % 2**32 - 2**31
    return _divide_by_power_of_two(_doubling_high_mul(shifted, np.asarray(multiplier)), right)
