"""Simulated accelerometer windows from a ceiling fan, with and without a coin on one blade.

No recordings are downloaded: each 1-second window (200 samples per axis at 200 Hz, in g) is
built from the physics of a spinning fan, the way an accelerometer taped to its housing sees it:

* **gravity**: 1 g on the z axis (the sensor lies flat);
* **1× (once per revolution)**: every real rotor has a small factory imbalance; a coin taped to
  a blade adds to it *as a vector* (``coin_imbalance`` at angle ``coin_phase``). The rotating
  force swings the housing in a horizontal circle (x and y, 90° apart, a little on z); its
  acceleration grows with speed² like the centrifugal force and is shaped by the mount's
  resonance (a spring-mass with natural frequency ``mount_hz`` and damping ``damping``);
* **blade pass**: each of ``n_blades`` blades pushes air once per revolution, so the housing
  shakes at n_blades × rev/s and its harmonics, mostly vertically;
* **noise**: sensor noise (``noise`` g) and airflow turbulence growing with speed.

Speeds (rev/s): off 0, low 2, medium 3, high 4, each window jittered by ``speed_jitter``.
A stopped fan with a coin is a stopped fan: ``off`` windows are identical with and without it.

``robust=True`` imitates moving the sensor around between recordings: each window gets a
random sensor orientation (any heading, tilted up to ``tilt_deg``), per-axis gain errors in
``gain_range`` and a different mount (``mount_hz_range``, ``damping_range``).

:func:`features` turns windows into 12 numbers a microcontroller can compute cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from . import checks

SPEEDS = {"off": 0.0, "low": 2.0, "medium": 3.0, "high": 4.0}  # revolutions per second
AXES = ("x", "y", "z")
ONE_X_BAND = (1.5, 5.0)  # Hz: where the once-per-revolution peak lies at low..high
BLADE_BAND = (5.0, 30.0)  # Hz: blade-pass frequency and its second harmonic
FEATURE_KINDS = ("rms", "mad", "peak_1x", "peak_blade")
FEATURE_NAMES = tuple(f"{kind}_{axis}" for kind in FEATURE_KINDS for axis in AXES)
# Largest windows × samples one call of :func:`windows` simulates (per axis): the simulation
# holds several float64 arrays of that size × 3 at once, about 0.6 GB at this bound.
MAX_WINDOW_SAMPLES = 5_000_000
MAX_DFT_SAMPLES = 10_000_000  # largest window length dft_bins lays out bins for


@dataclass(frozen=True)
class FanConfig:
    """Physical parameters of the simulated fan and sensor (units: g, Hz, rev/s, radians)."""

    num_samples: int = 200  # samples per axis in one window
    sample_rate: float = 200.0  # Hz; 200 samples at 200 Hz = 1 s
    n_blades: int = 3
    noise: float = 0.01  # g, standard deviation of the sensor's white noise
    turbulence: float = 0.004  # g of broadband airflow noise at 4 rev/s (grows with speed²)
    speed_jitter: float = 0.03  # relative standard deviation of the speed between windows
    amplitude_jitter: float = 0.08  # relative window-to-window change of each vibration
    residual_imbalance: float = 0.3  # the fan's own imbalance (coin = 1), at angle 0
    coin_imbalance: float = 1.0
    coin_phase: float = 2.0  # radians between the coin and the factory imbalance
    imbalance_g: float = 0.03  # g of 1× acceleration per unit imbalance at 4 rev/s
    blade_g: float = 0.02  # g of blade-pass acceleration at 4 rev/s (before the mount)
    harmonics: int = 2  # blade-pass harmonics, amplitude 1/h
    mount_hz: float = 9.0  # natural frequency of the mount
    damping: float = 0.15  # damping ratio of the mount
    tilt_deg: float = 30.0  # robust mode: largest tilt of the sensor from level
    gain_range: tuple = (0.8, 1.25)  # robust mode: per-axis sensitivity errors
    mount_hz_range: tuple = (6.0, 14.0)  # robust mode: mounts from soft to stiff
    damping_range: tuple = (0.08, 0.3)

    def __post_init__(self):
        checks.check_int("num_samples", self.num_samples, 8)
        if self.num_samples > MAX_WINDOW_SAMPLES:
            raise ValueError(f"num_samples must be at most {MAX_WINDOW_SAMPLES:,} samples per "
                             f"window, got {self.num_samples:,}")
        checks.check_int("n_blades", self.n_blades, 1)
        checks.check_int("harmonics", self.harmonics, 1)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_range"):
                if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                    raise TypeError(f"{f.name} must be a (low, high) pair of numbers, got "
                                    f"{value!r}")
                if len(value) == 2:
                    for v in value:
                        checks.check_number(f.name, v)
                if len(value) != 2 or not all(v > 0 for v in value) or value[0] > value[1]:
                    raise ValueError(f"{f.name} must be (low, high) with 0 < low <= high, "
                                     f"got {value}")
            elif isinstance(f.default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                    raise TypeError(f"{f.name} must be a number, got {type(value).__name__}")
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{f.name} must be a finite number >= 0, got {value}")
        for name in ("sample_rate", "mount_hz", "damping"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.tilt_deg > 180:
            raise ValueError(f"tilt_deg must be in [0, 180], got {self.tilt_deg}")
        top = max(SPEEDS.values()) * (1 + 4 * self.speed_jitter) * self.n_blades * self.harmonics
        if top >= self.sample_rate / 2:
            raise ValueError(f"sample_rate {self.sample_rate} Hz is too low: the blade-pass "
                             f"harmonic near {top:.1f} Hz needs a rate above {2 * top:.1f} Hz")


def check_speed(speed: str) -> float:
    """Return the revolutions per second of fan speed ``speed`` ("off", "low", ...)."""
    if not isinstance(speed, str):
        raise TypeError(f"speed must be a string, got {type(speed).__name__}")
    if speed not in SPEEDS:
        raise ValueError(f"unknown speed {speed!r}; choose from {', '.join(SPEEDS)}")
    return SPEEDS[speed]


def mount_response(freq, natural_hz: float, damping: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (gain, phase lag) of a spring-mass mount driven at ``freq`` Hz."""
    freq = checks.check_array("freq", freq, allow_empty=True)
    for name, value in (("natural_hz", natural_hz), ("damping", damping)):
        if not np.all(checks.check_array(name, value) > 0):
            raise ValueError(f"{name} must be > 0, got {value}")
    r = np.asarray(freq, dtype=np.float64) / natural_hz
    gain = 1.0 / np.sqrt((1 - r**2) ** 2 + (2 * damping * r) ** 2)
    return gain, np.arctan2(2 * damping * r, 1 - r**2)


def _check_window_count(name: str, count, cfg: FanConfig, minimum: int = 1) -> int:
    """Return ``count`` after checking it is an int >= ``minimum`` and that ``count`` windows
    of ``cfg.num_samples`` samples stay within :data:`MAX_WINDOW_SAMPLES`."""
    count = checks.check_int(name, count, minimum)
    if count * cfg.num_samples > MAX_WINDOW_SAMPLES:
        most = MAX_WINDOW_SAMPLES // cfg.num_samples
        raise ValueError(f"{name} = {count:,} windows of {cfg.num_samples} samples is too "
                         f"many: one call simulates at most {MAX_WINDOW_SAMPLES:,} samples per "
                         f"axis ({most:,} windows of {cfg.num_samples}); ask for fewer, or make "
                         "several calls with different seeds")
    return count


def _rotations(rng: np.random.Generator, count: int, tilt_deg: float) -> np.ndarray:
    """Return ``count`` 3×3 rotations: a random heading, then a tilt up to ``tilt_deg``."""
    yaw = rng.uniform(0, 2 * np.pi, count)
    tilt = np.radians(tilt_deg) * np.sqrt(rng.uniform(0, 1, count))  # uniform over the cap
    axis_angle = rng.uniform(0, 2 * np.pi, count)
    out = np.empty((count, 3, 3))
    for i in range(count):
        c, s = np.cos(yaw[i]), np.sin(yaw[i])
        rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        k = np.array([np.cos(axis_angle[i]), np.sin(axis_angle[i]), 0.0])  # horizontal axis
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        tilt_m = np.eye(3) + np.sin(tilt[i]) * kx + (1 - np.cos(tilt[i])) * kx @ kx  # Rodrigues
        out[i] = tilt_m @ rz
    return out


def windows(speed: str, count: int, imbalance: bool = False, robust: bool = False,
            seed: int = 0, config: FanConfig | None = None) -> np.ndarray:
    """Return ``count`` accelerometer windows, shape (count, num_samples, 3), in g (float32).

    The random draws depend only on ``seed``, ``speed`` and ``robust``, so the same seed with
    and without ``imbalance`` gives the same fan, sensor and noise, and differs by the coin only.
    """
    if not isinstance(config, (FanConfig, type(None))):
        raise TypeError(f"config must be a FanConfig, got {type(config).__name__}")
    cfg = config or FanConfig()
    base = check_speed(speed)
    count = _check_window_count("count", count, cfg)
    seed = checks.check_int("seed", seed, 0)
    imbalance = checks.check_bool("imbalance", imbalance)
    robust = checks.check_bool("robust", robust)
    rng = np.random.default_rng([seed, list(SPEEDS).index(speed), int(bool(robust))])
    n, fs = cfg.num_samples, cfg.sample_rate
    t = np.arange(n) / fs

    rev = base * np.clip(1 + cfg.speed_jitter * rng.standard_normal(count), 0.5, 1.5)
    start = rng.uniform(0, 2 * np.pi, count)  # where the rotor is when the window starts

    def jitter():
        return 1 + cfg.amplitude_jitter * rng.standard_normal(count)

    if robust:
        mount_hz = rng.uniform(*cfg.mount_hz_range, count)
        damping = rng.uniform(*cfg.damping_range, count)
    else:
        mount_hz, damping = np.full(count, cfg.mount_hz), np.full(count, cfg.damping)
    speed2 = (rev / max(SPEEDS.values())) ** 2

    # 1×: the factory imbalance plus the coin, added as vectors (complex numbers).
    total = cfg.residual_imbalance + (cfg.coin_imbalance * np.exp(1j * cfg.coin_phase)
                                      if imbalance else 0.0)
    gain, lag = mount_response(rev, mount_hz, damping)
    a1 = cfg.imbalance_g * abs(total) * speed2 * gain * jitter()
    angle = 2 * np.pi * rev[:, None] * t + (start + np.angle(total) - lag)[:, None]
    signal = np.zeros((count, n, 3))
    signal[:, :, 0] = a1[:, None] * np.cos(angle)
    signal[:, :, 1] = a1[:, None] * np.sin(angle)
    signal[:, :, 2] = 0.1 * a1[:, None] * np.cos(angle)  # the housing rocks a little

    # Blade pass and its harmonics: mostly vertical, some sideways, random phases.
    for h in range(1, cfg.harmonics + 1):
        f = h * cfg.n_blades * rev
        g, lag_h = mount_response(f, mount_hz, damping)
        amp = cfg.blade_g * speed2 * g / h * jitter()
        phases = rng.uniform(0, 2 * np.pi, (count, 3))
        wave = 2 * np.pi * f[:, None, None] * t[None, :, None] + (phases - lag_h[:, None])[:, None]
        signal += (amp[:, None, None] * np.array([0.25, 0.25, 1.0]) * np.cos(wave))

    signal += cfg.turbulence * speed2[:, None, None] * rng.standard_normal((count, n, 3))
    signal[:, :, 2] += 1.0  # gravity
    if robust:
        rot = _rotations(rng, count, cfg.tilt_deg)
        signal = np.einsum("cij,cnj->cni", rot, signal)
        signal *= rng.uniform(*cfg.gain_range, (count, 1, 3))
    signal += cfg.noise * rng.standard_normal((count, n, 3))
    return signal.astype(np.float32)


@dataclass(frozen=True)
class FanData:
    """Windows for anomaly detection: normal-only train/validation, labelled test."""

    x_train: np.ndarray  # (n, samples, 3) normal windows, every speed
    x_val: np.ndarray  # normal windows, to pick the threshold
    x_test: np.ndarray  # normal and anomalous windows
    y_test: np.ndarray  # 1 = coin on the blade (anomaly), 0 = normal
    speed_test: np.ndarray  # the speed name of each test window
    speed_train: np.ndarray | None = None  # the speed name of each training window
    speed_val: np.ndarray | None = None  # the speed name of each validation window


def dataset(normal_per_speed: int = 150, anomalous_per_speed: int = 40, robust: bool = False,
            seed: int = 0, anomaly_speeds=("low", "medium", "high"),
            config: FanConfig | None = None, test_normal_per_speed: int | None = None) -> FanData:
    """Return a :class:`FanData`: normal windows of every speed split 60/20/20, plus
    ``anomalous_per_speed`` coin windows per speed in ``anomaly_speeds`` in the test set.

    ``test_normal_per_speed`` sets how many normal test windows each speed gets (by default
    the 20 % left after training and validation). More than that are drawn from a third,
    independent stream, so training and validation windows stay the same whatever it is:
    a large value makes anomalies rare in the test set, as they are in real life.
    """
    if not isinstance(config, (FanConfig, type(None))):
        raise TypeError(f"config must be a FanConfig, got {type(config).__name__}")
    cfg = config or FanConfig()
    normal_per_speed = _check_window_count("normal_per_speed", normal_per_speed, cfg, 5)
    anomalous_per_speed = _check_window_count("anomalous_per_speed", anomalous_per_speed, cfg)
    seed = checks.check_int("seed", seed, 0)
    robust = checks.check_bool("robust", robust)
    if isinstance(anomaly_speeds, str) or not isinstance(anomaly_speeds, (list, tuple)) or (
            not anomaly_speeds):
        raise ValueError(f"anomaly_speeds must be a non-empty list of speed names, "
                         f"got {anomaly_speeds!r}")
    for speed in anomaly_speeds:
        check_speed(speed)
    n_train, n_val = round(0.6 * normal_per_speed), round(0.2 * normal_per_speed)
    n_rest = normal_per_speed - n_train - n_val
    n_test = n_rest if test_normal_per_speed is None else _check_window_count(
        "test_normal_per_speed", test_normal_per_speed, cfg)
    # Independent streams per group, so normal and anomalous windows share no noise.
    child = np.random.SeedSequence(seed).generate_state(3)
    parts = {"train": [], "val": [], "test": []}
    speeds = {"train": [], "val": [], "test": []}
    for speed in SPEEDS:
        w = windows(speed, normal_per_speed, False, robust, int(child[0]), config)
        parts["train"].append(w[:n_train])
        parts["val"].append(w[n_train:n_train + n_val])
        parts["test"].append(w[n_train + n_val:][:n_test])
        if n_test > n_rest:
            parts["test"].append(windows(speed, n_test - n_rest, False, robust, int(child[2]),
                                         config))
        for part, count in (("train", n_train), ("val", n_val), ("test", n_test)):
            speeds[part] += [speed] * count
    n_normal_test = len(speeds["test"])
    for speed in anomaly_speeds:
        parts["test"].append(windows(speed, anomalous_per_speed, True, robust, int(child[1]),
                                     config))
        speeds["test"] += [speed] * anomalous_per_speed
    y = np.r_[np.zeros(n_normal_test, np.int64),
              np.ones(len(speeds["test"]) - n_normal_test, np.int64)]
    return FanData(np.concatenate(parts["train"]), np.concatenate(parts["val"]),
                   np.concatenate(parts["test"]), y, np.array(speeds["test"]),
                   np.array(speeds["train"]), np.array(speeds["val"]))


def dft_bins(num_samples: int, sample_rate: float, band: tuple) -> np.ndarray:
    """Return the indices of the DFT bins whose frequency lies in [band[0], band[1])."""
    num_samples = checks.check_int("num_samples", num_samples, 1)
    if num_samples > MAX_DFT_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_DFT_SAMPLES:,} samples per window, "
                         f"got {num_samples:,}")
    sample_rate = checks.check_number("sample_rate", sample_rate, low=0.0, low_open=True)
    if isinstance(band, (str, bytes)) or not hasattr(band, "__len__") or len(band) != 2:
        raise TypeError(f"band must be a (low, high) pair of frequencies in Hz, got {band!r}")
    low, high = (checks.check_number("band", f, low=0.0) for f in band)
    if low >= high:
        raise ValueError(f"band must be (low, high) with low < high, got {tuple(band)}")
    freqs = np.arange(num_samples // 2 + 1) * sample_rate / num_samples
    return np.flatnonzero((freqs >= band[0]) & (freqs < band[1]))


def features(x, sample_rate: float = 200.0) -> np.ndarray:
    """Return (n, 12) features of windows ``x`` (n, samples, 3): per axis RMS, MAD, 1× peak,
    blade-pass peak (order in FEATURE_NAMES), as float32.

    RMS is taken after removing the window's mean (gravity); MAD is the median absolute
    deviation from the median; a peak is the largest DFT amplitude 2|X_k|/N in a band.
    """
    x = np.asarray(checks.check_array("windows", x, finite=False, allow_empty=True),
                   dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"windows must have shape (n, samples, 3), got {x.shape}")
    if x.shape[0] == 0 or x.shape[1] < 8:
        raise ValueError(f"need at least one window of >= 8 samples, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("windows contain NaN or inf")
    sample_rate = checks.check_number("sample_rate", sample_rate, low=0.0, low_open=True)
    n = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(centred**2, axis=1))
    mad = np.median(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)
    spectrum = 2 * np.abs(np.fft.rfft(centred, axis=1)) / n
    peaks = []
    for band in (ONE_X_BAND, BLADE_BAND):
        bins = dft_bins(n, sample_rate, band)
        if len(bins) == 0:
            raise ValueError(f"no DFT bin falls in {band} Hz with {n} samples at {sample_rate} Hz")
        peaks.append(spectrum[:, bins].max(axis=1))
    return np.concatenate([rms, mad, *peaks], axis=1).astype(np.float32)
