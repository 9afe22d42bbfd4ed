"""The simulated fan: shapes, physics (gravity, 1× and blade-pass peaks), determinism,
the features against hand-computed values, and clear errors on bad parameters."""

import numpy as np
import pytest

from tinyml_helpers import vibration as vib


def test_window_shape_dtype_and_gravity_on_z():
    w = vib.windows("medium", 5, seed=1)
    assert w.shape == (5, 200, 3) and w.dtype == np.float32
    mean = w.mean(axis=1)
    np.testing.assert_allclose(mean[:, 2], 1.0, atol=0.01)
    np.testing.assert_allclose(mean[:, :2], 0.0, atol=0.01)


def test_same_seed_same_windows_other_seed_other_windows():
    a = vib.windows("low", 3, seed=4)
    np.testing.assert_array_equal(a, vib.windows("low", 3, seed=4))
    assert not np.array_equal(a, vib.windows("low", 3, seed=5))


def test_a_coin_on_a_stopped_fan_changes_nothing():
    np.testing.assert_array_equal(vib.windows("off", 4, imbalance=True, seed=2),
                                  vib.windows("off", 4, imbalance=False, seed=2))


def _spectrum(w):
    centred = w - w.mean(axis=1, keepdims=True)
    return 2 * np.abs(np.fft.rfft(centred, axis=1)) / w.shape[1]


@pytest.mark.parametrize("speed", ["low", "medium", "high"])
def test_peaks_at_once_per_revolution_and_blade_pass(speed):
    rev = vib.SPEEDS[speed]
    cfg = vib.FanConfig(speed_jitter=0.0)
    spec = _spectrum(vib.windows(speed, 20, imbalance=True, seed=3, config=cfg))
    mean = spec.mean(axis=0)  # 1 Hz per bin: bin k is k Hz
    assert np.argmax(mean[1:, 0]) + 1 == rev  # x: the 1× rotation of the unbalanced rotor
    assert np.argmax(mean[1:, 2]) + 1 == 3 * rev  # z: blade pass with 3 blades


def test_the_coin_grows_the_1x_peak_with_speed_squared():
    cfg = vib.FanConfig(noise=0.0, turbulence=0.0, amplitude_jitter=0.0, speed_jitter=0.0)
    ratio = {}
    for speed in ("low", "high"):
        normal = vib.features(vib.windows(speed, 4, False, seed=0, config=cfg))
        coin = vib.features(vib.windows(speed, 4, True, seed=0, config=cfg))
        i = vib.FEATURE_NAMES.index("peak_1x_x")
        ratio[speed] = coin[:, i].mean() / normal[:, i].mean()
        # 1× amplitude = imbalance_g·|imbalance|·(rev/4)²·mount gain
        gain, _ = vib.mount_response(vib.SPEEDS[speed], cfg.mount_hz, cfg.damping)
        expected = cfg.imbalance_g * abs(cfg.residual_imbalance + np.exp(2j)) * (
            vib.SPEEDS[speed] / 4) ** 2 * gain
        np.testing.assert_allclose(coin[:, i], expected, rtol=1e-3)
    expected_ratio = abs(0.3 + np.exp(2j)) / 0.3
    assert ratio["low"] == pytest.approx(expected_ratio, rel=1e-3)
    assert ratio["high"] == pytest.approx(expected_ratio, rel=1e-3)


def test_robust_mode_rotates_gravity_but_keeps_its_size():
    w = vib.windows("off", 50, robust=True, seed=0)
    g = w.mean(axis=1)
    norms = np.linalg.norm(g, axis=1)
    assert np.all((norms > 0.75) & (norms < 1.3))  # gain errors 0.8..1.25
    assert g[:, 2].min() < 0.95 and np.abs(g[:, :2]).max() > 0.1  # tilted sensors


def test_dataset_split_and_labels():
    fan = vib.dataset(10, 4, seed=0)
    assert fan.x_train.shape == (24, 200, 3) and fan.x_val.shape == (8, 200, 3)
    assert fan.x_test.shape == (8 + 12, 200, 3)
    assert fan.y_test.tolist() == [0] * 8 + [1] * 12
    assert sorted(set(fan.speed_test[fan.y_test == 1])) == ["high", "low", "medium"]


def test_more_normal_test_windows_leave_training_and_validation_alone():
    base = vib.dataset(10, 4, seed=3)
    rare = vib.dataset(10, 4, seed=3, test_normal_per_speed=9)
    np.testing.assert_array_equal(rare.x_train, base.x_train)
    np.testing.assert_array_equal(rare.x_val, base.x_val)
    # The 2 normal test windows of each speed come first, then 7 from their own stream.
    assert rare.x_test.shape == (4 * 9 + 12, 200, 3)
    np.testing.assert_array_equal(rare.x_test[:2], base.x_test[:2])
    assert rare.y_test.tolist() == [0] * 36 + [1] * 12
    assert rare.speed_test[:18].tolist() == ["off"] * 9 + ["low"] * 9
    np.testing.assert_array_equal(rare.x_test[36:], base.x_test[8:])  # the same coin windows
    fewer = vib.dataset(10, 4, seed=3, test_normal_per_speed=1)
    assert fewer.y_test.tolist() == [0] * 4 + [1] * 12
    np.testing.assert_array_equal(fewer.x_test[0], base.x_test[0])


def test_dataset_names_the_speed_of_every_window():
    fan = vib.dataset(10, 4, seed=0)
    assert fan.speed_train.tolist() == [s for s in vib.SPEEDS for _ in range(6)]
    assert fan.speed_val.tolist() == [s for s in vib.SPEEDS for _ in range(2)]
    assert len(fan.speed_test) == len(fan.x_test)
    with pytest.raises(ValueError, match="test_normal_per_speed must be positive"):
        vib.dataset(10, 4, test_normal_per_speed=0)
    with pytest.raises(TypeError, match="test_normal_per_speed must be an int"):
        vib.dataset(10, 4, test_normal_per_speed=2.5)


def test_features_of_a_pure_sine_match_hand_values():
    t = np.arange(200) / 200
    x = np.zeros((1, 200, 3))
    x[0, :, 0] = 0.5 * np.sin(2 * np.pi * 3 * t)  # 3 Hz: in the 1× band
    x[0, :, 1] = 0.2 * np.cos(2 * np.pi * 12 * t)  # 12 Hz: blade band
    x[0, :, 2] = 1.0  # gravity only
    f = dict(zip(vib.FEATURE_NAMES, vib.features(x)[0], strict=True))
    assert f["rms_x"] == pytest.approx(0.5 / np.sqrt(2), rel=1e-5)
    assert f["peak_1x_x"] == pytest.approx(0.5, rel=1e-5)
    assert f["peak_blade_x"] < 1e-6
    assert f["peak_blade_y"] == pytest.approx(0.2, rel=1e-5)
    assert f["mad_x"] == pytest.approx(0.5 / np.sqrt(2), rel=0.02)  # median |sin| = sin(π/4)
    assert f["rms_z"] < 1e-6 and f["mad_z"] == 0


@pytest.mark.parametrize("kwargs, error, words", [
    ({"speed": "turbo"}, ValueError, "unknown speed 'turbo'"),
    ({"speed": 3}, TypeError, "speed must be a string"),
    ({"count": -1}, ValueError, "count must be positive"),
    ({"count": 2.5}, TypeError, "count must be an int"),
    ({"seed": -3}, ValueError, "seed must be >= 0"),
    ({"config": vib.FanConfig}, TypeError, "config must be a FanConfig"),
])
def test_windows_reject_bad_parameters(kwargs, error, words):
    args = {"speed": "low", "count": 2} | kwargs
    with pytest.raises(error, match=words):
        vib.windows(**args)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"noise": -0.1}, ValueError, "noise must be a finite number >= 0"),
    ({"noise": -1}, ValueError, "noise must be a finite number >= 0"),
    ({"noise": "loud"}, TypeError, "noise must be a number"),
    ({"mount_hz": float("nan")}, ValueError, "mount_hz must be a finite number"),
    ({"num_samples": 4}, ValueError, "num_samples must be >= 8"),
    ({"n_blades": 0}, ValueError, "n_blades must be positive"),
    ({"sample_rate": 20.0}, ValueError, "sample_rate 20.0 Hz is too low"),
    ({"sample_rate": 0.0}, ValueError, "sample_rate must be > 0"),
    ({"gain_range": (1.2, 0.8)}, ValueError, "gain_range must be"),
    ({"tilt_deg": 200.0}, ValueError, "tilt_deg"),
])
def test_config_rejects_bad_parameters(kwargs, error, words):
    with pytest.raises(error, match=words):
        vib.FanConfig(**kwargs)


def test_dataset_and_features_reject_bad_input():
    with pytest.raises(ValueError, match="normal_per_speed must be >= 5"):
        vib.dataset(-2)
    with pytest.raises(ValueError, match="unknown speed 'max'"):
        vib.dataset(10, 2, anomaly_speeds=("max",))
    with pytest.raises(ValueError, match=r"shape \(n, samples, 3\)"):
        vib.features(np.zeros((2, 200)))
    with pytest.raises(ValueError, match=">= 8 samples"):
        vib.features(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        vib.features(np.full((1, 200, 3), np.nan))
