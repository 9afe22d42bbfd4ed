"""Tests for tinyml_helpers.fan_detector: the whole lesson-07 detector compiled as C (this PC, a
simulated Cortex-M4, and a simulated Uno through the fan sketch's code path) against NumPy's
features and TFLM's int8 arithmetic, on Shawn Hymel's real test windows; the sketches' stored
windows taken from those recordings' test parts; the stored live-sensor budget; and its inputs
refused when wrong. The shipped sketches themselves are run in tests/test_projects.py.
"""

import json

import numpy as np
import pytest

from tinyml_helpers import anomaly, fan_detector, fan_recordings, vibration
from tinyml_helpers.deploy import cgen, dense, firmware, litert, self_test, tflm, toolchains


def _needs(target):
    if firmware.missing_tools(target):
        pytest.skip(f"{target} tools missing: {firmware.install_hint(target)}")


@pytest.fixture(scope="module")
def real():
    """Hymel's recordings and lesson 07's split of them (by recording order)."""
    rec = fan_recordings.load()
    return rec, fan_recordings.split(rec)


@pytest.fixture(scope="module")
def real_fan(tf, real):
    """A small detector trained on the real normal training windows (20 epochs, int8),
    its threshold calibrated on the real validation windows."""
    _, data = real
    f_train, f_val = (vibration.features(x) for x in (data.x_train, data.x_val))
    scale = anomaly.fit_scaler(f_train)
    model, _ = anomaly.train_autoencoder(scale(f_train), scale(f_val), epochs=20)
    tflite = litert.convert(model, "int8", scale(f_train))
    return fan_detector.calibrate(tflite, scale, data.x_val)


def _labels(data, pick) -> list[tuple[str, bool]]:
    return [(str(data.speed_test[i]), bool(data.y_test[i])) for i in pick]


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
def test_c_detector_matches_numpy_and_tflm_on_the_real_test_windows(real_fan, real, target,
                                                                     tmp_path):
    _needs(target)
    _, data = real
    detector = real_fan
    samples, _ = fan_detector.sample_windows()
    # this PC: all 780 test windows; the M4 every 4th. Both need several harness builds
    # (fan_detector.HARNESS_CHUNK windows each), whose outputs run_c joins in order.
    test = data.x_test if target == "host" else data.x_test[::4]
    counts = np.concatenate([fan_detector.to_counts(test), samples,
                             fan_detector.to_counts(_edge_windows())])
    run = fan_detector.run_c(detector, counts, target, build_dir=tmp_path)
    assert len(run.stages.features) == len(counts) == run.measurement.result.outputs.shape[0]
    assert_c_matches_reference(detector, counts, run.stages)
    edge = run.stages.features[-3:]
    np.testing.assert_array_equal(edge[0], np.zeros(12))  # still: nothing moves
    assert edge[1, 3] == 0.0  # ties: two thirds of x equal the median, so MAD is 0
    assert edge[2, 6] == pytest.approx(0.2, rel=1e-3)  # 4 Hz tone of 0.2 g on x: the 1x peak
    assert edge[2, 10] == pytest.approx(0.1, rel=1e-3)  # 12 Hz on y: blade band
    if target == "m4":
        m = run.measurement
        assert m.unit == "instructions" and 50_000 < m.cost <= m.cost_max < 1_000_000
        assert m.stack < 1024 and m.flash < 8_000
        assert m.cost == pytest.approx(m.result.cost.mean()) and len(m.result.cost) == len(counts)


NEEDS_UNO = pytest.mark.skipif(
    any(not toolchains.have(tool) for tool in fan_detector.UNO_TOOLS),
    reason=f"Uno tools missing: {toolchains.install_command(toolchains.UNO_PACKAGES)}")


@NEEDS_UNO
def test_uno_sketch_code_path_matches_numpy_and_tflm_on_real_test_windows(real_fan, real,
                                                                          tmp_path):
    """The fan sketch itself on a simulated Uno (a check build that prints every stage), on
    20 real test windows spread over every recording: two builds of the stored windows."""
    _, data = real
    pick = np.linspace(0, len(data.x_test) - 1, 20).round().astype(int)
    counts = fan_detector.to_counts(data.x_test[pick])
    run = fan_detector.run_uno(real_fan, counts, _labels(data, pick), build_dir=tmp_path)
    assert run.builds == 2 and len(run.stages.features) == len(pick)
    assert_c_matches_reference(real_fan, counts, run.stages)
    ref = fan_detector.reference(real_fan, fan_detector.from_counts(counts))
    np.testing.assert_allclose(run.stages.score, ref.score, rtol=1e-3, atol=1e-5)
    assert np.all((100_000 < run.microseconds) & (run.microseconds < 1_000_000))
    # every byte of RAM is accounted for: static data + the deepest stack fit the 2 KB
    assert 0 < run.stack and run.static_ram + run.stack < toolchains.UNO_RAM_BYTES
    assert run.flash <= toolchains.UNO_FLASH_BYTES


# --- the stored windows: real recordings, from the test part ----------------------------------

def _rows(windows: np.ndarray) -> set[bytes]:
    return {w.tobytes() for w in np.asarray(windows, np.float32)}


def test_sample_windows_are_real_test_windows_never_training_ones(real):
    rec, data = real
    counts, labels = fan_detector.sample_windows()
    sources = fan_detector.sample_sources()
    assert counts.dtype == np.int16 and counts.shape == (7, 200, 3)
    assert labels == list(fan_detector.SAMPLES) and len(sources) == 7
    test, seen = _rows(data.x_test), _rows(data.x_train) | _rows(data.x_val)
    for window, (speed, coin), (name, order) in zip(counts, labels, sources, strict=True):
        recorded = rec.windows[(rec.recording == name) & (rec.order == order)]
        assert len(recorded) == 1
        assert set(rec.speed[rec.recording == name]) == {speed}
        assert set(rec.coin[rec.recording == name]) == {coin}
        assert not rec.moving[rec.recording == name].any()
        # the recorded codes x 8, exactly: from_counts gives back the recorded g values
        np.testing.assert_array_equal(fan_detector.from_counts(window[None]), recorded)
        assert np.all(window.astype(np.int32) % 8 == 0)
        key = recorded[0].tobytes()
        assert key in test and key not in seen
        # the first window of the test part: the window before it is a validation window
        before = rec.windows[(rec.recording == name) & (rec.order == order - 1)]
        assert before[0].tobytes() not in test
    later, _ = fan_detector.sample_windows(index=1)
    assert [o for _, o in fan_detector.sample_sources(1)] == [o + 1 for _, o in sources]
    assert not np.array_equal(later, counts)


def test_sample_windows_refuse_an_index_beyond_the_test_part():
    with pytest.raises(ValueError, match="index must be >= 0"):
        fan_detector.sample_windows(index=-1)
    with pytest.raises(ValueError, match="the test part of fan_0_.* has only"):
        fan_detector.sample_windows(index=500)
    with pytest.raises(TypeError, match="index must be an int"):
        fan_detector.sample_sources(index=1.5)


def test_windows_header_names_the_recordings_and_credits_them():
    counts, labels = fan_detector.sample_windows()
    sources = fan_detector.sample_sources()
    header = fan_detector.windows_header(counts, labels, sources)
    assert "Shawn Hymel" in header and "Beerware" in header and "keep this notice" in header
    assert "ShawnHymel/tinyml-example-anomaly-detection" in header and "seed" not in header
    for i, ((speed, coin), (name, order)) in enumerate(zip(labels, sources, strict=True)):
        assert f"/* {i}: {speed}, {'coin' if coin else 'no coin'}: {name}, window {order} */" \
            in header
    plain = fan_detector.windows_header(counts, labels)  # the caller's own windows
    assert "Hymel" not in plain and "given to fan_detector.windows_header()" in plain
    with pytest.raises(ValueError, match="one \\(recording, window\\) source per window"):
        fan_detector.windows_header(counts, labels, sources[:-1])
    with pytest.raises(TypeError, match="sources\\[0\\] must be a \\(recording name, window\\)"):
        fan_detector.windows_header(counts, labels, [("a", 1, 2)] * 7)


# --- the live-sensor budget (benchmarks/fan_detector_report.py --write) ------------------------

def test_live_budget_is_consistent_and_labels_the_m4_time_a_lower_bound():
    record = fan_detector.live_budget()
    ring = record["ring_buffer"]
    assert ring == {"3 axes": 3 * 200 * 2, "1 axis": 200 * 2}
    boards = {b["board"]: b for b in record["boards"]}
    assert set(boards) == {"uno", "m4", "esp32"}
    for name in ("uno", "m4"):
        b = boards[name]
        assert b["free"] == b["ram"] - b["static_ram"] - b["stack"]
        assert b["fits"] == {axes: need <= b["free"] for axes, need in ring.items()}
    uno, m4 = boards["uno"], boards["m4"]
    assert uno["ram"] == toolchains.UNO_RAM_BYTES and uno["time_kind"] == "measured"
    assert uno["fits"] == {"3 axes": False, "1 axis": True}  # what the READMEs say
    assert 100 < uno["compute_ms"] <= uno["compute_ms_max"] < 1000
    assert m4["time_kind"] == "lower bound"
    assert m4["compute_ms"] == pytest.approx(m4["instructions"] / 64e3, abs=0.01)
    assert boards["esp32"]["compute_ms"] is None and boards["esp32"]["static_ram"] is None
    table = fan_detector.budget_table(record)
    assert f"≥ {m4['compute_ms']:,.1f} ms (lower bound)" in table
    assert f"{uno['compute_ms']:,.0f} ms (measured)" in table and "lower bound, not" in table
    assert "\n- " not in fan_detector.budget_table(record, notes=False)


def test_live_budget_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="fan_detector_report.py --write"):
        fan_detector.live_budget(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        fan_detector.live_budget(tmp_path / "broken.json")
    (tmp_path / "other.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="boards and ring_buffer"):
        fan_detector.live_budget(tmp_path / "other.json")
    with pytest.raises(TypeError, match="path must be a file path"):
        fan_detector.live_budget(3)
    with pytest.raises(TypeError, match="record must be the dict"):
        fan_detector.budget_table({"boards": []})


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
     "the Uno runs the sketch: use run_uno"),
    (lambda d: fan_detector.run_uno(d, np.zeros((2, 200, 3), np.int16), [("low", False)]),
     ValueError, "one \\(speed, coin\\) label per window"),
    (lambda d: fan_detector.run_uno(d, np.zeros((1, 200, 3), np.float32), [("low", False)]),
     ValueError, "int16"),
    (lambda d: fan_detector.run_uno(d, np.zeros((1, 200, 3), np.int16), [("max", False)]),
     ValueError, "unknown speed"),
    (lambda d: fan_detector.run_uno(d, np.zeros((1, 200, 3), np.int16), [("low", False)],
                                    timeout_s=0), ValueError, "timeout_s"),
    (lambda d: fan_detector.sketch_files(d, "fan-check"), ValueError, "ASCII C identifier"),
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
