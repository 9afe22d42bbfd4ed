"""quant.quantize is TFLite's own QUANTIZE kernel: same codes for ordinary values, exact ties
(x = (k + 0.5) * scale, rounded half away from zero) and values far outside the range.

The reference is the converter itself: a tiny Keras model converted with int8 internals but a
float32 input gets a QUANTIZE op in front; LiteRT's reference kernels run it and keep every
intermediate tensor, so the QUANTIZE op's output can be read and compared code for code.
"""

import warnings

import numpy as np
import pytest

from tinyml_helpers.deploy import litert, quant, tflite_file

N_FEATURES = 4


def _float_input_int8_model(tf, low: float, high: float) -> bytes:
    """Return a 4-4 Dense model with full-int8 internals and a float32 input and output."""
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Input((N_FEATURES,)),
                                 tf.keras.layers.Dense(N_FEATURES)])
    rep = np.random.default_rng(0).uniform(low, high, (200, N_FEATURES)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter([[rep]])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():  # "Statistics for quantized inputs were expected"
        warnings.simplefilter("ignore")
        return converter.convert()  # inference_input_type stays float32: QUANTIZE comes first


def _tflite_quantize(tflite: bytes, x: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Return (QUANTIZE op output codes, its scale, its zero point) for float32 rows ``x``."""
    t = tflite_file.read(tflite)
    names = tflite_file.op_names(tflite)
    assert names[0] == "QUANTIZE", names
    out_index = int(t.graph.operators[0].outputs[0])
    interp = litert.interpreter(tflite, keep_all_tensors=True)
    litert.invoke(interp, x)
    detail = next(d for d in interp.get_tensor_details() if d["index"] == out_index)
    scale, zero_point = detail["quantization"]
    assert detail["dtype"] == np.int8
    return interp.get_tensor(out_index).copy(), scale, zero_point


def _inputs(scale: float, zero_point: int) -> tuple[np.ndarray, int]:
    """Return float32 test inputs (ordinary, exact ties, out of range) and how many of them are
    exact ties of x / scale in float32."""
    rng = np.random.default_rng(1)
    ordinary = rng.uniform(-6, 6, 4000)
    k = np.arange(-140, 140)
    ties = (k + 0.5) * scale  # halfway between two codes, both signs
    codes_exact = k * scale  # exactly on a code
    near_ties = np.concatenate([np.nextafter(np.float32(ties), np.float32(np.inf)),
                                np.nextafter(np.float32(ties), np.float32(-np.inf))])
    outside = np.array([-1e6, -1e3, -200 * scale, 200 * scale, 1e3, 1e6, 0.0, -0.0])
    edges = (np.array([-128.5, -128.49, -127.5, 126.5, 127.49, 127.5, 128.5]) - zero_point) \
        * scale
    x = np.concatenate([ordinary, ties, codes_exact, near_ties, outside, edges])
    x = x.astype(np.float32)
    pad = (-len(x)) % N_FEATURES
    x = np.concatenate([x, np.zeros(pad, np.float32)])
    exact_ties = int(np.sum((x / np.float32(scale)) % 1 == 0.5))
    return x.reshape(-1, N_FEATURES), exact_ties


@pytest.mark.parametrize("low, high", [(-3.0, 5.0), (0.0, 1.0), (-20.0, -2.0)])
def test_quantize_equals_tflite_quantize_kernel(tf, low, high):
    tflite = _float_input_int8_model(tf, low, high)
    _, scale, zero_point = _tflite_quantize(tflite, np.zeros((1, N_FEATURES), np.float32))
    x, exact_ties = _inputs(scale, zero_point)
    assert exact_ties > 100  # the half-away-from-zero rule is really exercised
    expected, _, _ = _tflite_quantize(tflite, x)
    got = quant.quantize(x, scale, zero_point, bits=8, signed=True)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)
    # Both ends of the range are reached (the clipping is exercised too).
    assert expected.min() == -128 and expected.max() == 127


def test_quantize_rounds_ties_away_from_zero_not_to_even():
    # 0.5 -> 1, 1.5 -> 2, 2.5 -> 3, -0.5 -> -1, -2.5 -> -3 (np.round would give 0, 2, 2, 0, -2)
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5], np.float32)
    np.testing.assert_array_equal(quant.quantize(x, 1.0, 0, bits=8, signed=True),
                                  [1, 2, 3, -1, -3])
    np.testing.assert_array_equal(quant.round_half_away([2.5, -2.5, 0.49999997]), [3, -3, 0])


def test_quantize_clips_and_keeps_precision():
    x = np.array([-1e9, 1e9, 0.0], np.float32)
    np.testing.assert_array_equal(quant.quantize(x, 0.1, 3, bits=8, signed=True),
                                  [-128, 127, 3])
    np.testing.assert_array_equal(quant.quantize(x, 0.1, 0, bits=8), [0, 255, 0])
    assert quant.quantize(np.float32(0.3), 0.1, 0, signed=True).dtype == np.int8
    assert quant.quantize([1000.0], 0.1, 0, bits=16, signed=True).dtype == np.int16


def test_affine_params_make_zero_exact_and_cover_the_range():
    scale, zp = quant.affine_params(-3.0, 5.0, bits=8, signed=True)
    assert quant.quantize(0.0, scale, zp, signed=True) == zp
    codes = quant.quantize([-3.0, 5.0], scale, zp, signed=True)
    assert codes.tolist() == [-128, 127]
    assert quant.affine_params(0.0, 0.0) == (1.0, 0)
    scale, zp = quant.affine_params(-2.0, 1.0, symmetric=True)
    assert zp == 0 and scale == pytest.approx(2.0 / 127)


def test_requantize_matches_a_direct_double_computation():
    rng = np.random.default_rng(3)
    acc = rng.integers(-(2**20), 2**20, 5000)
    for real in (0.0003, 0.0123, 0.5, 0.99999):
        m, s = quant.quantize_multiplier(real)
        got = quant.requantize(acc, m, s)
        error = np.abs(got - acc * (m * 2.0 ** (s - 31)))
        # Rounded to nearest, twice (TFLM's double rounding): off by more than 0.5 only rarely.
        assert np.max(error) < 1 and np.mean(error > 0.5) < 0.01
