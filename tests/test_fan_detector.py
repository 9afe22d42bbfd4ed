"""Tests for tinyml_helpers.fan_detector: the whole lesson-07 detector compiled as C (this PC and
a simulated Cortex-M4) against NumPy's features and TFLM's int8 arithmetic, and its inputs
refused when wrong. The Uno runs the same C in the fan_anomaly sketch (tests/test_projects.py).
"""

import json

import numpy as np
import pytest

from tinyml_helpers import anomaly, fan_detector, vibration
from tinyml_helpers.deploy import cgen, dense, firmware, self_test, tflm


def _needs(target):
    if firmware.missing_tools(target):
        pytest.skip(f"{target} tools missing: {firmware.install_hint(target)}")


def _edge_windows(n: int = 200) -> np.ndarray:
    """Windows a careless median or DFT gets wrong: constant, many ties, a pure 4 Hz tone."""
    t = np.arange(n) / 200.0
    still = np.zeros((n, 3)) + [0.0, 0.0, 1.0]
    ties = np.zeros((n, 3))
    ties[::3] = 0.5  # a third of the samples equal, the rest equal too
    tone = np.stack([0.2 * np.cos(2 * np.pi * 4 * t), 0.1 * np.sin(2 * np.pi * 12 * t),
                     1 + 0.05 * np.cos(2 * np.pi * 7 * t)], axis=1)
    return np.stack([still, ties, tone])


def assert_c_matches_reference(detector, counts, c):
    """The C stages against NumPy/TFLM: features within the stated tolerance (MAD exact),
    input codes equal (±1 at a rounding edge), output codes exactly TFLM's, score and verdict."""
    ref = fan_detector.reference(detector, fan_detector.from_counts(counts))
    np.testing.assert_allclose(c.features, ref.features, rtol=fan_detector.FEATURE_RTOL,
                               atol=fan_detector.FEATURE_ATOL)
    np.testing.assert_array_equal(c.features[:, 3:6], ref.features[:, 3:6])  # MAD
    step = np.abs(c.codes_in.astype(int) - ref.codes_in)
    assert step.max() <= 1 and np.mean(step == 0) >= 0.99
    np.testing.assert_array_equal(c.codes_out, tflm.run(detector.tflite, c.codes_in))
    np.testing.assert_allclose(c.score, fan_detector.scores_from_codes(
        detector, c.features, c.codes_out), rtol=1e-5, atol=1e-7)
    clear = np.abs(c.score - detector.threshold) > 1e-4 * detector.threshold
    np.testing.assert_array_equal(c.anomaly[clear], c.score[clear] > detector.threshold)
    same_codes = np.all(step == 0, axis=1)
    np.testing.assert_array_equal(c.anomaly[clear & same_codes], ref.anomaly[clear & same_codes])


@pytest.mark.parametrize("target", ["host", "m4"])
def test_c_detector_matches_numpy_and_tflm(fan, target, tmp_path):
    _needs(target)
    detector, data = fan
    samples, _ = fan_detector.sample_windows()
    counts = np.concatenate([fan_detector.to_counts(data.x_test), samples,
                             fan_detector.to_counts(_edge_windows())])
    run = fan_detector.run_c(detector, counts, target, build_dir=tmp_path)
    assert_c_matches_reference(detector, counts, run.stages)
    edge = run.stages.features[-3:]
    np.testing.assert_array_equal(edge[0], np.zeros(12))  # still: nothing moves
    assert edge[1, 3] == 0.0  # ties: two thirds of x equal the median, so MAD is 0
    assert edge[2, 6] == pytest.approx(0.2, rel=1e-3)  # 4 Hz tone of 0.2 g on x: the 1x peak
    assert edge[2, 10] == pytest.approx(0.1, rel=1e-3)  # 12 Hz on y: blade band
    if target == "m4":
        m = run.measurement
        assert m.unit == "instructions" and 50_000 < m.cost < 1_000_000
        assert m.stack < 1024 and m.flash < 8_000


def test_feature_tolerance_holds_over_many_windows(fan, tmp_path):
    """The module's FEATURE_RTOL/ATOL claim: 2,000 windows, every speed, fixed and robust."""
    _needs("host")
    detector, _ = fan
    windows = [vibration.windows(speed, 125, imbalance=coin, robust=robust, seed=7)
               for robust in (False, True) for speed in vibration.SPEEDS for coin in (False, True)]
    counts = fan_detector.to_counts(np.concatenate(windows))
    run = fan_detector.run_c(detector, counts, "host", build_dir=tmp_path)
    assert_c_matches_reference(detector, counts, run.stages)


def test_odd_window_length_takes_the_middle_sample_as_median(fan, tmp_path):
    _needs("host")
    detector, _ = fan
    config = vibration.FanConfig(num_samples=201)
    scaler = anomaly.Scaler(detector.mean, detector.std)
    odd = fan_detector.make(detector.tflite, scaler, detector.threshold, 99.0, config)
    counts = fan_detector.to_counts(vibration.windows("medium", 6, seed=3, config=config))
    run = fan_detector.run_c(odd, counts, "host", build_dir=tmp_path)
    assert_c_matches_reference(odd, counts, run.stages)


def test_generated_config_has_the_bands_bins_and_constants(fan):
    detector, _ = fan
    headers = fan_detector.config_files(detector)
    text = headers["fan_features_config.h"]
    for name, band in (("1X", vibration.ONE_X_BAND), ("BLADE", vibration.BLADE_BAND)):
        bins = vibration.dft_bins(200, 200.0, band)
        assert f"#define FAN_FEATURES_{name}_FIRST {bins[0]}\n" in text
        assert f"#define FAN_FEATURES_{name}_LAST {bins[-1]}\n" in text
    assert "#define FAN_FEATURES_SAMPLES 200\n" in text
    threshold = headers["fan_detector_config.h"]
    assert f"#define FAN_DETECTOR_THRESHOLD {cgen.float_literal(detector.threshold)}\n" in threshold
    files = fan_detector.c_files(detector)
    assert set(fan_detector.HAND_WRITTEN) <= set(files) and "fan_ae.c" in files


def test_calibrated_threshold_is_the_percentile_of_int8_validation_scores(fan):
    detector, data = fan
    scores = fan_detector.reference(detector, data.x_val).score
    assert detector.threshold == pytest.approx(np.percentile(scores, 99.0))
    # 24 validation windows: the 99th percentile lies between the two largest scores
    assert len(scores) == 24 and np.sum(scores > detector.threshold) == 1


def test_save_and_load_round_trip(fan, tmp_path):
    detector, _ = fan
    paths = fan_detector.save(detector, tmp_path)
    assert sorted(p.name for p in paths) == sorted([fan_detector.TFLITE_NAME,
                                                    fan_detector.JSON_NAME])
    back = fan_detector.load(tmp_path)
    assert back.tflite == detector.tflite and back.threshold == detector.threshold
    np.testing.assert_array_equal(back.mean, detector.mean)
    np.testing.assert_array_equal(back.std, detector.std)
    assert fan_detector.c_files(back) == fan_detector.c_files(detector)


def test_load_refuses_missing_or_foreign_files(fan, tmp_path):
    detector, _ = fan
    with pytest.raises(FileNotFoundError, match="run lesson 07"):
        fan_detector.load(tmp_path)
    fan_detector.save(detector, tmp_path)
    meta = json.loads((tmp_path / fan_detector.JSON_NAME).read_text())
    meta["feature_names"] = ["a", "b"]
    (tmp_path / fan_detector.JSON_NAME).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="other features"):
        fan_detector.load(tmp_path)


def test_self_test_checks_the_autoencoder_on_the_sample_windows_codes(fan):
    detector, _ = fan
    test = fan_detector.self_test_cases(detector)
    counts, labels = fan_detector.sample_windows()
    codes = fan_detector.reference(detector, fan_detector.from_counts(counts)).codes_in
    assert test.int8 and test.count == len(labels)
    np.testing.assert_array_equal(test.inputs, codes)
    np.testing.assert_array_equal(test.outputs, tflm.run(detector.tflite, codes))
    # fan_ae.c computes what dense's reference computes: the sketch passes out of the box
    assert self_test.check(test, dense.int8_reference(detector.model, codes)) == \
        [test.ok_line()]
    for project in fan_detector.projects(detector):  # the Arduino sketch and both Wokwi ones
        assert project.files[fan_detector.SELF_TEST_NAME] == self_test.c_header(
            fan_detector.SELF_TEST_NAME, {fan_detector.AE_PREFIX: test})
        assert project.facts["SELF_TEST"] == test.ok_line() == f"self-test: ok ({len(labels)}/" \
            f"{len(labels)})"
    assert fan_detector.SELF_TEST_NAME not in fan_detector.c_files(detector)  # sketches only
    with pytest.raises(TypeError, match="fan_detector.Detector"):
        fan_detector.self_test_cases("detector")


def test_counts_round_trip_and_saturate():
    g = np.array([[[0.0, 1.0, -1.0], [2.5, -3.0, 0.00003]]])
    counts = fan_detector.to_counts(g)
    assert counts.dtype == np.int16
    np.testing.assert_array_equal(counts[0, 0], [0, 16384, -16384])
    np.testing.assert_array_equal(counts[0, 1], [32767, -32768, 0])  # a ±2 g sensor saturates
    np.testing.assert_array_equal(fan_detector.from_counts(counts[:, :1]), g[:, :1])


@pytest.mark.parametrize("call, error, words", [
    (lambda d: fan_detector.make(b"not a model", anomaly.Scaler(d.mean, d.std), 1.0, 99.0),
     ValueError, "flatbuffer"),
    (lambda d: fan_detector.make(d.tflite, anomaly.Scaler(d.mean[:5], d.std[:5]), 1.0, 99.0),
     ValueError, "12 features"),
    (lambda d: fan_detector.make(d.tflite, anomaly.Scaler(d.mean, 0 * d.std), 1.0, 99.0),
     ValueError, "std"),
    (lambda d: fan_detector.make(d.tflite, anomaly.Scaler(d.mean, d.std), float("nan"), 99.0),
     ValueError, "threshold"),
    (lambda d: fan_detector.make(d.tflite, anomaly.Scaler(d.mean, d.std), 1.0, 120.0),
     ValueError, "percentile"),
    (lambda d: fan_detector.to_counts(np.zeros((2, 200))), ValueError, "shape"),
    (lambda d: fan_detector.to_counts(np.full((1, 200, 3), np.nan)), ValueError, "NaN"),
    (lambda d: fan_detector.from_counts(np.zeros((1, 200, 3))), TypeError, "integers"),
    (lambda d: fan_detector.reference(d, np.zeros((1, 100, 3))), ValueError, "shape"),
    (lambda d: fan_detector.run_c(d, np.zeros((1, 200, 3), np.int16), "uno"), ValueError,
     "sketch"),
    (lambda d: fan_detector.run_c(d, np.zeros((1, 200, 3), np.float32)), ValueError, "int16"),
])
def test_bad_input_is_refused(fan, call, error, words):
    with pytest.raises(error, match=words):
        call(fan[0])


def test_make_refuses_a_float_model(fan, sine):
    detector, _ = fan
    with pytest.raises(TypeError, match="full-int8"):
        fan_detector.make(sine[1], anomaly.Scaler(detector.mean, detector.std), 1.0, 99.0)
    with pytest.raises(ValueError, match="map 12 features"):
        fan_detector.make(sine[2], anomaly.Scaler(detector.mean, detector.std), 1.0, 99.0)
