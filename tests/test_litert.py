"""Conversion modes and LiteRT evaluation against Keras, hand-counted sizes and bad input."""

import os

import numpy as np
import pytest

from tinyml_helpers import models, sizing
from tinyml_helpers import quantization as q
from tinyml_helpers.deploy import litert

TWO_PI = 2 * np.pi
X = np.linspace(0, TWO_PI, 200, dtype=np.float32).reshape(-1, 1)
REP = np.linspace(0, TWO_PI, 101, dtype=np.float32).reshape(-1, 1)


@pytest.fixture(scope="module")
def model(tf):
    """A 1-16-16-1 model with fixed random weights and non-zero biases (no training needed)."""
    net = models.mlp((1, 16, 16, 1))
    rng = np.random.default_rng(1)
    net.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in net.get_weights()])
    return net


@pytest.fixture(scope="module")
def flatbuffers(model):
    """The model converted in every mode."""
    return {mode: litert.convert(model, mode, REP if mode == "int8" else None)
            for mode in litert.MODES}


def test_float_tflite_equals_keras(model, flatbuffers):
    keras = model(X).numpy()
    pred = litert.predict(flatbuffers["float32"], X)
    assert pred.shape == (200, 1) and pred.dtype == np.float32
    np.testing.assert_allclose(pred, keras, atol=1e-5)


def test_int8_predictions_are_close_to_float(model, flatbuffers):
    keras = model(X).numpy()
    pred = litert.predict(flatbuffers["int8"], X)
    (in_scale, in_zp), (out_scale, _) = litert.io_quantization(flatbuffers["int8"])
    assert in_zp == -128 and in_scale == pytest.approx(TWO_PI / 255, rel=1e-6)
    # Stated tolerance: 2 % of the output range. Sources: the input step (2π/255), the int8
    # hidden activations, per-channel int8 weights and the output step, each ≤ half a step.
    span = keras.max() - keras.min()
    assert np.abs(pred - keras).max() < 0.02 * span
    assert np.abs(pred - keras).mean() < 0.005 * span
    assert out_scale > 0


def test_float16_and_dynamic_stay_close_to_float(model, flatbuffers):
    keras = model(X).numpy()
    np.testing.assert_allclose(litert.predict(flatbuffers["dynamic"], X), keras, atol=1e-5)
    # float16 weights carry 11 significant bits: relative error ≈ 2**-11 per weight
    np.testing.assert_allclose(litert.predict(flatbuffers["float16"], X), keras, atol=5e-3)


def test_int8_codes_path_matches_float_path(flatbuffers):
    tflite = flatbuffers["int8"]
    (in_scale, in_zp), (out_scale, out_zp) = litert.io_quantization(tflite)
    codes = q.quantize(X, in_scale, in_zp, bits=8, signed=True)
    out = litert.predict_int8_codes(tflite, codes)
    assert out.dtype == np.int8 and out.shape == (200, 1)
    np.testing.assert_array_equal(q.dequantize(out, out_scale, out_zp).astype(np.float32),
                                  litert.predict(tflite, X))
    with pytest.raises(TypeError, match="int8"):
        litert.predict_int8_codes(tflite, codes.astype(np.int16))
    with pytest.raises(ValueError, match="int8 input and output"):
        litert.predict_int8_codes(flatbuffers["float32"], codes)


def test_sizes_match_the_hand_count(model, flatbuffers):
    # lesson 02: 321 params; 1284 B float32, 642 B float16, 288 int8 weights + 33 int32 biases
    weight_bytes = {mode: litert.weight_bytes(b) for mode, b in flatbuffers.items()}
    assert weight_bytes == {"float32": 1284, "dynamic": 1284, "float16": 642, "int8": 420}
    assert weight_bytes["int8"] == sizing.model_bytes(model, "int8")
    # dynamic range skips weight tensors under 1024 elements: all of ours (256 at most)
    assert litert.dtypes(flatbuffers["dynamic"]) == "float32"
    assert litert.dtypes(flatbuffers["float16"]) == "float16+float32"
    assert litert.dtypes(flatbuffers["int8"]) == "int32+int8"
    # per-channel int8: 33 weight + 33 bias channels, 4 activations (x, h1, h2, y), each with a
    # float32 scale and an int64 zero point
    assert litert.quantization_param_bytes(flatbuffers["int8"]) == (33 + 33 + 4) * (4 + 8)
    assert litert.quantization_param_bytes(flatbuffers["float32"]) == 0
    for mode, b in flatbuffers.items():
        summary = litert.tensor_summary(b)
        assert sum(t.bytes for t in summary if t.constant) == weight_bytes[mode]
        assert not summary[0].constant  # the input is computed at run time, not stored
        assert litert.op_names(b).count("FULLY_CONNECTED") == 3
    assert litert.op_names(flatbuffers["float16"]).count("DEQUANTIZE") == 6


def test_dynamic_range_quantizes_only_tensors_of_1024_elements_or_more(tf):
    wide = models.mlp((1, 32, 32, 1))  # the middle kernel has exactly 32 × 32 = 1024 weights
    weights = {t.shape: t.dtype for t in litert.tensor_summary(litert.convert(wide, "dynamic"))
               if t.constant}
    assert weights[(32, 32)] == "int8"
    assert weights[(32, 1)] == weights[(1, 32)] == "float32"


def test_ptq_table_rows(tf):
    from tinyml_helpers import data
    split = data.sine_dataset(200, seed=0)
    net = models.mlp((1, 8, 1))
    net.set_weights([w + 0.1 for w in net.get_weights()])  # all-zero biases would be dropped
    rows = q.ptq_table(net, split, modes=("float32", "int8"))
    assert [r["name"] for r in rows] == ["float32", "int8"]
    # 8 + 8 weights and 8 + 1 biases: all float32, or int8 weights with int32 biases
    assert [r["weight_bytes"] for r in rows] == [(16 + 9) * 4, 16 + 9 * 4]
    for r in rows:
        assert set(r) == {"name", "tflite_bytes", "weight_bytes", "test_mse_vs_sin", "dtypes"}
        assert r["tflite_bytes"] > r["weight_bytes"] and np.isfinite(r["test_mse_vs_sin"])
    assert "vs float32" in q.format_rows(rows)


def test_qat_model_starts_from_calibrated_ranges_and_converts_to_int8(tf, model):
    # (qat_fine_tune = this + models.fit; the lesson-04 notebook runs it end to end)
    keras = model(X).numpy()

    def err(qmodel):
        return np.abs(qmodel(X, training=False).numpy() - keras).max()

    qat = q.qat_model(model, calibration=REP)
    assert err(qat) < 0.05 * (keras.max() - keras.min())
    # tfmot alone starts the input range at [0, 0]: every x collapses onto one code
    assert err(q.qat_model(model)) > 10 * err(qat)
    tflite = litert.convert(qat, "int8", REP)
    assert litert.weight_bytes(tflite) == 420
    # tfmot's default scheme quantizes Dense kernels per tensor: 1 scale per weight tensor
    assert litert.quantization_param_bytes(tflite) < 200
    (_, _), (out_scale, _) = litert.io_quantization(tflite)
    diff = np.abs(litert.predict(tflite, X) - qat(X, training=False).numpy())
    assert diff.max() < 4 * out_scale  # the fake-quant Keras model is what the int8 file runs


def test_bad_requests(model, flatbuffers):
    with pytest.raises(ValueError, match="representative data"):
        litert.convert(model, "int8")
    with pytest.raises(ValueError, match="unknown mode"):
        litert.convert(model, "int4")
    with pytest.raises(ValueError, match="representative data"):
        litert.convert(model, "int8", np.zeros((0, 1)))
    with pytest.raises(ValueError, match="NaN or inf"):
        litert.predict(flatbuffers["float32"], np.array([[np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        litert.predict(flatbuffers["float32"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="TFL3"):
        litert.predict(b"not a model at all", X)
    with pytest.raises(TypeError, match="bytes"):
        litert.weight_bytes("model.tflite")


def test_save_is_atomic(tmp_path, flatbuffers):
    path = litert.save(flatbuffers["int8"], tmp_path / "sine.tflite")
    assert path.read_bytes() == flatbuffers["int8"]
    assert os.listdir(tmp_path) == ["sine.tflite"]  # no temporary file left behind
    with pytest.raises(ValueError, match="TFL3"):
        litert.save(b"junk", tmp_path / "junk.tflite")
    assert not (tmp_path / "junk.tflite").exists()
