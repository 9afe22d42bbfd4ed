"""Quantization arithmetic against hand-worked numbers and against TFLite's own int8 codes."""

import warnings

import numpy as np
import pytest

from tinyml_helpers import data
from tinyml_helpers import quantization as q

TWO_PI = 2 * np.pi
_REP = np.linspace(0, TWO_PI, 101, dtype=np.float32).reshape(-1, 1)  # calibration inputs


# --- the worked example and the rounding rule ------------------------------------------------

def test_seed_example_minus10_to_30_maps_10_to_128():
    scale, zero_point = q.affine_params(-10.0, 30.0, bits=8)
    assert scale == 40 / 255 and zero_point == 64  # 0.0 sits at code round(63.75) = 64
    assert (10.0 - (-10.0)) / scale == 127.5  # the min/max form by hand: exactly halfway
    assert q.round_half_away(127.5) == 128
    assert q.quantize(10.0, scale, zero_point) == 128  # the affine form agrees
    assert q.quantize(-10.0, scale, zero_point) == 0 and q.quantize(30.0, scale, zero_point) == 255
    assert q.quantize(0.0, scale, zero_point) == 64 and q.dequantize(64, scale, zero_point) == 0.0


def test_rounding_is_half_away_from_zero_not_bankers():
    halves = np.array([0.5, 1.5, 2.5, 126.5, 127.5, -0.5, -2.5])
    np.testing.assert_array_equal(q.round_half_away(halves), [1, 2, 3, 127, 128, -1, -3])
    assert list(np.round(halves)) == [0, 2, 2, 126, 128, -0, -2]  # NumPy/Python: half to even
    below_half = np.nextafter(np.float32(0.5), np.float32(0))  # 0.49999997: adding 0.5 would
    assert q.round_half_away(below_half) == 0  # round up in float32; the helper does not
    np.testing.assert_array_equal(q.round_half_away([1.4, -1.6, 3.0]), [1, -2, 3])


# --- round trip -------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("signed, symmetric", [(False, False), (True, False), (True, True)])
def test_round_trip_error_is_at_most_half_a_step(bits, signed, symmetric):
    x = np.random.default_rng(bits).normal(1.0, 3.0, size=20_000)
    scale, zp = q.affine_params(x.min(), x.max(), bits, signed=signed, symmetric=symmetric)
    codes = q.quantize(x, scale, zp, bits, signed=signed)
    err = np.abs(q.dequantize(codes, scale, zp) - x)
    assert err.max() <= scale / 2 * (1 + 1e-9)
    assert err.max() > 0.45 * scale  # with this many samples the bound is nearly reached
    qmin, qmax = q.qrange(bits, signed)
    assert codes.min() >= qmin and codes.max() <= qmax


def test_symmetric_int8_has_zero_point_0_and_narrow_range():
    scale, zp = q.affine_params(-0.3, 1.27, bits=8, symmetric=True)
    assert zp == 0 and scale == pytest.approx(1.27 / 127)
    codes = q.quantize(np.array([-1.27, -0.3, 0.0, 1.27]), scale, zp, 8, signed=True)
    np.testing.assert_array_equal(codes, [-127, -30, 0, 127])
    assert codes.dtype == np.int8


@pytest.mark.parametrize("value", [0.0, 3.7, -2.25, 1e-30, -7.1e12, 0.1])
@pytest.mark.parametrize("bits, symmetric", [(2, True), (2, False), (8, True), (8, False),
                                             (16, False)])
def test_constant_tensor_round_trips_exactly(value, bits, symmetric):
    x = np.full(5, value, dtype=np.float32)
    scale, _ = q.affine_params(x.min(), x.max(), bits, signed=True, symmetric=symmetric)
    assert np.isfinite(scale) and scale > 0
    np.testing.assert_array_equal(q.fake_quantize(x, bits, symmetric=symmetric), x)


def test_random_constants_round_trip_exactly():
    for value in np.random.default_rng(1).normal(0, 100, 500).astype(np.float32):
        for symmetric in (True, False):
            x = np.full(3, value, dtype=np.float32)
            assert q.fake_quantize(x, 8, symmetric=symmetric)[0] == value


# --- bad input --------------------------------------------------------------------------------

def test_bits_range_2_to_16():
    assert q.qrange(2) == (0, 3) and q.qrange(2, signed=True) == (-2, 1)
    assert q.qrange(16, signed=True) == (-32768, 32767)
    assert q.quantize(1.0, 1 / 32767, 0, bits=16, signed=True).dtype == np.int16
    for bits in (1, 17, 0, -8):
        with pytest.raises(ValueError, match="bits"):
            q.affine_params(0.0, 1.0, bits=bits)
        with pytest.raises(ValueError, match="bits"):
            q.fake_quantize(np.ones(3), bits=bits)
    for bits in (8.0, True, "8"):
        with pytest.raises(TypeError, match="bits"):
            q.qrange(bits)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected(bad):
    with pytest.raises(ValueError, match="NaN or inf"):
        q.quantize(np.array([1.0, bad]), 0.1, 0)
    with pytest.raises(ValueError, match="NaN or inf"):
        q.affine_params(0.0, bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        q.fake_quantize(np.array([bad, 2.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        q.round_half_away(bad)


def test_other_bad_parameters():
    with pytest.raises(ValueError, match="xmin must be <= xmax"):
        q.affine_params(2.0, 1.0)
    with pytest.raises(ValueError, match="scale must be > 0"):
        q.quantize(1.0, 0.0, 0)
    with pytest.raises(ValueError, match="zero_point"):
        q.quantize(1.0, 0.1, 300)
    with pytest.raises(ValueError, match="zero_point"):
        q.quantize(1.0, 0.1, 1.5)
    with pytest.raises(ValueError, match="signed"):
        q.affine_params(-1.0, 1.0, symmetric=True, signed=False)
    with pytest.raises(TypeError, match="integer codes"):
        q.dequantize(np.array([1.5]), 0.1, 0)
    with pytest.raises(TypeError, match="real numbers"):
        q.quantize(np.array(["a"]), 0.1, 0)


# --- per-channel, model weights, forward pass --------------------------------------------------

def test_per_channel_equals_per_tensor_on_each_column():
    w = (np.random.default_rng(2).normal(size=(16, 4)) * [0.01, 0.1, 1, 10]).astype(np.float32)
    per_channel = q.fake_quantize(w, 4, axis=-1)
    for j in range(4):
        np.testing.assert_array_equal(per_channel[:, j], q.fake_quantize(w[:, j], 4))
    assert per_channel.dtype == np.float32
    # one shared 4-bit scale (set by the column of tens) rounds the small column to all zeros;
    # its own scale keeps it to within half of its own, much finer step
    per_tensor = q.fake_quantize(w, 4)
    assert np.all(per_tensor[:, 0] == 0)
    assert np.abs(per_channel[:, 0] - w[:, 0]).max() <= np.abs(w[:, 0]).max() / 7 / 2 * 1.0001


def test_quantize_model_weights_rounds_kernels_and_keeps_biases():
    rng = np.random.default_rng(3)
    pairs = [(rng.normal(size=(1, 16)), rng.normal(size=16)),
             (rng.normal(size=(16, 16)), rng.normal(size=16))]
    for bits in (2, 3, 8):
        out = q.quantize_model_weights(pairs, bits)
        for (w, b), (wq, bq) in zip(pairs, out, strict=True):
            np.testing.assert_array_equal(bq, b)
            assert len(np.unique(wq)) <= 2**bits - 1  # symmetric: -(2^(b-1)-1) … 2^(b-1)-1
            step = np.abs(w).max() / (2 ** (bits - 1) - 1)
            assert np.abs(wq - w).max() <= step / 2 * (1 + 1e-9)


def test_forward_is_a_relu_mlp():
    rng = np.random.default_rng(4)
    (w1, b1), (w2, b2) = pairs = [(rng.normal(size=(2, 3)), rng.normal(size=3)),
                                  (rng.normal(size=(3, 1)), rng.normal(size=1))]
    x = rng.normal(size=(5, 2))
    np.testing.assert_allclose(q.forward(pairs, x), np.maximum(x @ w1 + b1, 0) @ w2 + b2,
                               rtol=1e-5)


def test_sine_helpers():
    split = data.sine_dataset(100, seed=0)
    rep = q.sine_representative(split)
    assert rep.min() == 0.0 and rep.max() == np.float32(TWO_PI) and rep.shape[1] == 1
    assert q.mse_vs_sin(np.sin(split.x_test), split.x_test) == 0.0
    with pytest.raises(ValueError, match="differ in size"):
        q.mse_vs_sin(np.zeros(3), np.zeros(4))


# --- against TFLite ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixed_model(tf):
    """A 1-16-16-1 model with fixed random weights and non-zero biases (no training)."""
    from tinyml_helpers import models
    model = models.mlp((1, 16, 16, 1))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def int8_tflite(fixed_model):
    """The fixed model converted to full int8, calibrated on 101 points over [0, 2π]."""
    from tinyml_helpers.deploy import litert
    return litert.convert(fixed_model, "int8", _REP)



def _float_io_int8(tf, model, rep):
    """Full-int8 model that keeps float input/output, so TFLite quantizes the input itself."""
    from tinyml_helpers.deploy import env
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter([[rep]])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with env.quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


def test_input_codes_match_tflites_quantize_op(tf, fixed_model):
    from ai_edge_litert.interpreter import Interpreter

    from tinyml_helpers.deploy import env, litert
    tflite = _float_io_int8(tf, fixed_model, _REP)
    assert litert.op_names(tflite)[0] == "QUANTIZE"
    with env.quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is
        interp = Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    x = np.random.default_rng(5).uniform(0, TWO_PI, 500).astype(np.float32).reshape(-1, 1)
    inp = interp.get_input_details()[0]
    with env.quiet_stderr():
        interp.resize_tensor_input(inp["index"], x.shape)
        interp.allocate_tensors()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
    (quantize_op,) = [op for op in interp._get_ops_details() if op["op_name"] == "QUANTIZE"]
    codes_index = quantize_op["outputs"][0]  # TFLite's own int8 codes for x
    scale, zp = interp._get_tensor_details(codes_index, 0)["quantization"]
    tflite_codes = interp.get_tensor(codes_index)
    assert tflite_codes.dtype == np.int8 and tflite_codes.shape == x.shape
    np.testing.assert_array_equal(q.quantize(x, scale, zp, bits=8, signed=True), tflite_codes)
    # and the converter chose the same scale / zero point our helper derives from [0, 2π]
    our_scale, our_zp = q.affine_params(0.0, TWO_PI, bits=8, signed=True)
    assert our_zp == zp == -128 and scale == pytest.approx(our_scale, rel=1e-6)


def test_weight_codes_match_tflites_per_channel_int8(fixed_model, int8_tflite):
    from tinyml_helpers import models
    from tinyml_helpers.deploy import litert
    interp = litert.interpreter(int8_tflite)
    # each FULLY_CONNECTED op's second input is its weights (tensor names vary by converter)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    stored = {tuple(details[op["inputs"][1]]["shape"]): details[op["inputs"][1]]
              for op in interp._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"}
    assert len(stored) == 3 and all(d["dtype"] == np.int8 for d in stored.values())
    checked = 0
    for w, _ in models.dense_weights(fixed_model):
        d = stored[(w.shape[1], w.shape[0])]  # TFLite keeps FC weights as (outputs, inputs)
        absmax = np.abs(w).max(axis=0)
        scale, zp = q.affine_params(-absmax, absmax, bits=8, symmetric=True)
        np.testing.assert_allclose(d["quantization_parameters"]["scales"], scale, rtol=1e-6)
        ours = q.quantize(w, scale, zp, bits=8, signed=True).T
        np.testing.assert_array_equal(ours, interp.get_tensor(d["index"]))
        checked += 1
    assert checked == 3


def _layer_codes(tflite, x_codes):
    """Return [(codes, scale, zero_point)] of every op's output, run with reference kernels."""
    from tinyml_helpers.deploy import litert

    interp = litert.interpreter(tflite, keep_all_tensors=True)
    litert.invoke(interp, x_codes)
    out = []
    for op in interp._get_ops_details():
        index = op["outputs"][0]
        scale, zp = interp._get_tensor_details(index, 0)["quantization"]
        out.append((interp.get_tensor(index), scale, zp))
    return out


def test_numpy_simulation_reproduces_the_int8_model(fixed_model, int8_tflite):
    """Fake-quantized weights and activations in NumPy give the int8 model's codes."""
    from tinyml_helpers.deploy import litert
    tflite = int8_tflite
    (in_scale, in_zp), _ = litert.io_quantization(tflite)
    x = np.linspace(0, TWO_PI, 300, dtype=np.float32).reshape(-1, 1)
    x_codes = q.quantize(x, in_scale, in_zp, bits=8, signed=True)
    h = q.dequantize(x_codes, in_scale, in_zp)
    pairs = q.quantize_model_weights(fixed_model, 8, per_channel=True)
    layers = _layer_codes(tflite, x_codes)
    assert len(layers) == len(pairs) == 3
    for i, ((w, b), (tflite_codes, scale, zp)) in enumerate(zip(pairs, layers, strict=True)):
        z = h @ w + b
        ours = q.quantize(np.maximum(z, 0) if i < 2 else z, scale, zp, bits=8, signed=True)
        diff = np.abs(ours.astype(int) - tflite_codes.astype(int))
        # TFLite rounds the bias to int32 and rescales the int32 sums with a fixed-point
        # multiplier, we stay in float: values within a hair of a rounding boundary can land
        # one code apart (here at most 2 % of the codes of a layer)
        assert diff.max() <= 1 and diff.mean() < 0.05, (i, diff.max(), diff.mean())
        h = q.dequantize(tflite_codes, scale, zp)  # next layer: the very same int8 inputs


def test_set_qat_ranges_is_what_qat_model_does(fixed_model):
    import tensorflow_model_optimization as tfmot

    raw = tfmot.quantization.keras.quantize_model(fixed_model)
    x = _REP
    raw_out = raw(x, training=False).numpy()
    assert np.ptp(raw_out) == 0  # tfmot's input range starts at [0, 0]: one answer for all x
    q.set_qat_ranges(raw, fixed_model, _REP)
    ranges = {v.name.split("/")[-1]: float(v.numpy()) for v in raw.layers[0].weights
              if v.name.endswith(("_min:0", "_max:0"))}
    assert sorted(ranges.values()) == [0.0, pytest.approx(TWO_PI)]  # the input: [0, 2π]
    hidden = np.maximum(x @ fixed_model.get_weights()[0] + fixed_model.get_weights()[1], 0)
    post = {v.name.split("/")[-1]: float(v.numpy()) for v in raw.layers[1].weights
            if "post_activation" in v.name}
    assert sorted(post.values()) == [0.0, pytest.approx(hidden.max(), rel=1e-5)]
    # The kernel ranges: the kernel's own, as a training step sets them, not tfmot's [-6, 6].
    for layer in raw.layers[1:]:
        kernel = layer.layer.kernel.numpy()
        span = {v.name.split("/")[-1]: float(v.numpy()) for v in layer.weights
                if v.name.split("/")[-1].startswith("kernel_")}
        assert span and max(abs(v) for v in span.values()) == pytest.approx(
            np.abs(kernel).max(), rel=1e-6), (layer.name, span)
    ours = raw(x, training=False).numpy()
    assert np.ptp(ours) > 0
    np.testing.assert_array_equal(ours, q.qat_model(fixed_model, _REP)(x, training=False).numpy())
    with pytest.raises(ValueError, match="quantize_model"):
        q.set_qat_ranges(fixed_model, fixed_model, _REP)  # not wrapped by tfmot
    with pytest.raises(ValueError, match="NaN or inf"):
        q.set_qat_ranges(raw, fixed_model, np.full((3, 1), np.nan))
    with pytest.raises(TypeError, match="Keras model"):
        q.set_qat_ranges("qat", fixed_model, _REP)


def test_sign_changes_ignores_values_near_zero():
    assert q.sign_changes([1.0, -1.0, 2.0]) == 2
    # +0 / -1e-9 noise around an exact zero is not a change of sign
    assert q.sign_changes([0.5, 0.0, -1e-9, 1e-9, 0.3, -0.2]) == 1
    assert q.sign_changes([0.5, -1e-9, -0.5], floor=0.0) == 1
    assert q.sign_changes([]) == 0
    with pytest.raises(ValueError, match="NaN or inf"):
        q.sign_changes([1.0, float("nan")])
    with pytest.raises(ValueError, match="floor"):
        q.sign_changes([1.0], floor=-1.0)
