"""Lesson 07's fan anomaly detector as a board runs it: features, scaling, int8 autoencoder
and threshold in plain C, with the NumPy reference the C must match.

A :class:`Detector` bundles everything a board needs: the full-int8 autoencoder, the scaler
(mean and standard deviation of the normal training features) and the threshold on the
anomaly score. :func:`c_files` turns it into C:

* ``fan_features.{h,c}`` (hand-written, ``tinyml_helpers/fan_c``) + the generated
  ``fan_features_config.h``: the 12 features of :func:`vibration.features`, with the DFT
  bins computed by the Goertzel recurrence and the medians by in-place selection;
* ``fan_detector.{h,c}`` (hand-written) + the generated ``fan_detector_config.h``: standardize,
  quantize, ``fan_ae_invoke``, dequantize, mean squared error, compare;
* ``fan_ae.{h,c}``: the autoencoder from :func:`export.plain_c_files`.

Samples reach a board as an accelerometer delivers them: int16 counts, here ±2 g full scale
(16,384 counts per g, as an MPU-6050 at its default range). Dividing by a power of two is
exact, so C and NumPy start from the very same float values.

:func:`run_c` compiles the whole chain into the firmware harness (this PC or a simulated
Cortex-M4) and returns what the C computed, stage by stage; :func:`run_uno` does the same on
a simulated Uno through the sketch's own code path (its 2 KB of RAM cannot hold the harness's
window); :func:`reference` computes the same stages in NumPy (float64) with the TFLM
arithmetic. How close they must be is stated in :data:`FEATURE_RTOL` and
:data:`FEATURE_ATOL`; the int8 stage must be equal.

The sketches score stored windows: :func:`sample_windows` takes them from Shawn Hymel's real
ceiling-fan recordings (:mod:`fan_recordings`), each from the test part of its recording.
What a live sensor would cost on each board is measured by ``benchmarks/fan_detector_report.py``
and stored in ``measured/fan_live_budget.json`` (:func:`live_budget`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checks, fan_recordings, measurements, vibration
from .anomaly import Scaler, threshold
from .deploy import cgen, export, firmware, self_test, tflite_file, toolchains
from .deploy import projects as deploy_projects
from .deploy.c_model import CModel
from .deploy.dense import Int8Model, data_bytes, int8_reference, layers_from_tflite
from .deploy.files import write_files
from .deploy.hello_world import ESP32_LED_PIN
from .deploy.projects import Project

COUNTS_PER_G = 16384  # int16 counts per g at ±2 g full scale
TFLITE_NAME = "fan_autoencoder_int8.tflite"
JSON_NAME = "fan_detector.json"
AE_PREFIX = "fan_ae"
C_DIR = Path(__file__).resolve().parent / "fan_c"
C_ORIGIN = "tinyml_helpers/fan_c"  # named in the banner of copied files
TEMPLATES = C_DIR / "templates"
HAND_WRITTEN = ("fan_features.h", "fan_features.c", "fan_detector.h", "fan_detector.c")
SELF_TEST_NAME = "fan_ae_self_test.h"  # the sketches' boot self-test of the autoencoder
PROJECT_TEMPLATES = Path(__file__).resolve().parent / "project_templates"
ARDUINO_FOLDER = "fan_anomaly"
WOKWI_FOLDERS = ("esp32_fan_anomaly", "uno_fan_anomaly")
PROJECT_FOLDERS = (ARDUINO_FOLDER, *WOKWI_FOLDERS)
UNO_LED_PIN = "13"  # LED_BUILTIN: the fan sketch only switches its LED on and off
# C computes in float32, NumPy in float64: a feature may differ by this much. Measured worst
# case over the 2,000 simulated windows of tests/test_fan_detector.py: 6.9e-5 relative,
# 4.2e-7 g absolute (the DFT peaks; RMS within 2e-6 relative). MAD is exact. On the 780 real
# test windows no feature used more than 3 % of this tolerance (this PC, Cortex-M4 and Uno,
# benchmarks/fan_detector_report.py).
FEATURE_RTOL = 1e-4
FEATURE_ATOL = 2e-6  # g


@dataclass(frozen=True)
class Detector:
    """Everything the board-side detector needs (see the module docstring)."""

    tflite: bytes  # the full-int8 autoencoder
    model: Int8Model
    mean: np.ndarray  # (12,) of the normal training features
    std: np.ndarray  # (12,)
    threshold: float  # anomaly if score > threshold
    percentile: float  # of the normal validation scores the threshold was taken at
    num_samples: int = 200
    sample_rate: float = 200.0


def make(tflite: bytes, scaler, threshold: float, percentile: float,
         config: vibration.FanConfig | None = None) -> Detector:
    """Return a :class:`Detector` from a full-int8 12-in/12-out autoencoder, an
    :class:`anomaly.Scaler` and the threshold on :func:`reference` scores."""
    if not isinstance(config, (vibration.FanConfig, type(None))):
        raise TypeError(f"config must be a vibration.FanConfig, got {type(config).__name__}")
    threshold = checks.check_number("threshold", threshold, low=0.0, low_open=True)
    percentile = _check_percentile(percentile)
    tflite = tflite_file.read(tflite).data
    model = layers_from_tflite(tflite)
    if not isinstance(model, Int8Model):
        raise TypeError("the detector needs the full-int8 autoencoder, got a float model")
    n_in, n_out = model.layers[0].weights.shape[1], model.layers[-1].weights.shape[0]
    count = len(vibration.FEATURE_NAMES)
    if (n_in, n_out) != (count, count):
        raise ValueError(f"the autoencoder must map {count} features to {count}, "
                         f"got {n_in} -> {n_out}")
    mean = np.asarray(getattr(scaler, "mean", None), dtype=np.float64)
    std = np.asarray(getattr(scaler, "std", None), dtype=np.float64)
    if mean.shape != (count,) or std.shape != (count,):
        raise ValueError(f"scaler must have mean and std of {count} features")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError("scaler mean must be finite and std finite and > 0")
    cfg = config or vibration.FanConfig()
    return Detector(tflite, model, mean, std, float(threshold), float(percentile),
                    cfg.num_samples, float(cfg.sample_rate))


def calibrate(tflite: bytes, scaler, normal_windows, percentile: float = 99.0,
              config: vibration.FanConfig | None = None) -> Detector:
    """Return a :class:`Detector` whose threshold is the ``percentile``-th percentile of its
    own scores (int8, as the board computes them) on normal validation ``normal_windows``."""

    percentile = _check_percentile(percentile)
    provisional = make(tflite, scaler, 1.0, percentile, config)
    scores = reference(provisional, normal_windows).score
    return make(tflite, scaler, threshold(scores, percentile), percentile, config)


def saved_files(detector: Detector) -> dict[str, bytes | str]:
    """Return {file name: content} of what :func:`save` writes: the .tflite and the JSON."""
    _check_detector(detector)
    meta = {"feature_names": list(vibration.FEATURE_NAMES),
            "mean": detector.mean.tolist(), "std": detector.std.tolist(),
            "threshold": detector.threshold, "percentile": detector.percentile,
            "num_samples": detector.num_samples, "sample_rate": detector.sample_rate,
            "counts_per_g": COUNTS_PER_G, "model": TFLITE_NAME}
    return {TFLITE_NAME: detector.tflite, JSON_NAME: json.dumps(meta, indent=1) + "\n"}


def save(detector: Detector, directory) -> list[Path]:
    """Write ``fan_autoencoder_int8.tflite`` and ``fan_detector.json`` into ``directory``."""
    files = saved_files(detector)
    return write_files(_check_directory(directory), files)


def load_exported(directory) -> Detector | None:
    """Return the :class:`Detector` saved in ``directory``, or None if lesson 07 saved none
    there (no ``fan_detector.json``); a partial or foreign export raises as :func:`load`."""
    directory = _check_directory(directory)
    return load(directory) if (directory / JSON_NAME).exists() else None


def load(directory) -> Detector:
    """Return the :class:`Detector` that :func:`save` wrote into ``directory``."""
    directory = _check_directory(directory)
    paths = [directory / TFLITE_NAME, directory / JSON_NAME]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} lacks {', '.join(missing)}: run lesson 07 "
                                "(make build) to export the fan detector")
    try:
        meta = json.loads(paths[1].read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{paths[1]} is not valid JSON ({err}): export it again with "
                         "lesson 07") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{paths[1]} must hold a JSON object, got {type(meta).__name__}")
    if meta.get("feature_names") != list(vibration.FEATURE_NAMES):
        raise ValueError(f"{paths[1]} was made for other features: {meta.get('feature_names')}")
    missing_keys = [k for k in ("mean", "std", "threshold", "percentile", "num_samples",
                                "sample_rate") if k not in meta]
    if missing_keys:
        raise ValueError(f"{paths[1]} lacks {', '.join(missing_keys)}: export it again with "
                         "lesson 07")

    config = vibration.FanConfig(num_samples=int(meta["num_samples"]),
                                 sample_rate=float(meta["sample_rate"]))
    return make(paths[0].read_bytes(), Scaler(np.array(meta["mean"]), np.array(meta["std"])),
                meta["threshold"], meta["percentile"], config)


# --- samples as a sensor delivers them -------------------------------------------------------

def to_counts(windows) -> np.ndarray:
    """Return windows in g as int16 accelerometer counts (rounded; saturating at ±2 g)."""
    w = np.asarray(checks.check_array("windows", windows, finite=False, allow_empty=True),
                   dtype=np.float64)
    if w.ndim != 3 or w.shape[2] != 3:
        raise ValueError(f"windows must have shape (n, samples, 3), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("windows contain NaN or inf")
    return np.clip(np.round(w * COUNTS_PER_G), -32768, 32767).astype(np.int16)


def from_counts(counts) -> np.ndarray:
    """Return int16 counts as float32 g, exactly as the C code converts them."""
    c = checks.check_array("counts", counts, finite=False, allow_empty=True)
    if not np.issubdtype(c.dtype, np.integer):
        raise TypeError(f"counts must be integers, got {c.dtype}")
    return c.astype(np.float32) / np.float32(COUNTS_PER_G)


# --- the reference ---------------------------------------------------------------------------

@dataclass
class Stages:
    """What the detector computed for each window, stage by stage."""

    features: np.ndarray  # (n, 12) float
    codes_in: np.ndarray  # (n, 12) int8: the quantized standardized features
    codes_out: np.ndarray  # (n, 12) int8: the autoencoder's output codes
    score: np.ndarray  # (n,) mean squared reconstruction error
    anomaly: np.ndarray  # (n,) bool: score > threshold


def scores_from_codes(detector: Detector, features, codes_out) -> np.ndarray:
    """Return the reconstruction error of ``features`` given the output codes (float64)."""
    _check_detector(detector)
    count = len(vibration.FEATURE_NAMES)
    f = checks.check_array("features", features, ndim=2)
    c = checks.check_array("codes_out", codes_out, ndim=2)
    if f.shape[1] != count or f.shape != c.shape:
        raise ValueError(f"features and codes_out must both have shape (n, {count}), got "
                         f"{f.shape} and {c.shape}")
    z = (np.asarray(features, dtype=np.float64) - detector.mean) / detector.std
    z_hat = detector.model.output_scale * (np.asarray(codes_out, np.float64)
                                           - detector.model.output_zero_point)
    return np.mean((z - z_hat) ** 2, axis=1)


def reference(detector: Detector, windows) -> Stages:
    """Return the :class:`Stages` of NumPy's features and TFLM's int8 arithmetic on
    ``windows`` (n, samples, 3) in g."""
    _check_detector(detector)
    w = checks.check_array("windows", windows, finite=False, allow_empty=True)
    if w.ndim != 3 or w.shape[1:] != (detector.num_samples, 3):
        raise ValueError(f"windows must have shape (n, {detector.num_samples}, 3), got {w.shape}")
    features = vibration.features(w, detector.sample_rate).astype(np.float64)
    z = (features - detector.mean) / detector.std
    codes_in = detector.model.quantize(z)
    codes_out = int8_reference(detector.model, codes_in)
    score = scores_from_codes(detector, features, codes_out)
    return Stages(features, codes_in, codes_out, score, score > detector.threshold)


# --- C sources -------------------------------------------------------------------------------

def _bins(detector: Detector) -> dict[str, tuple[int, int]]:
    _check_detector(detector)
    out = {}
    for name, band in (("1X", vibration.ONE_X_BAND), ("BLADE", vibration.BLADE_BAND)):
        bins = vibration.dft_bins(detector.num_samples, detector.sample_rate, band)
        if len(bins) == 0 or bins[-1] > 255:
            raise ValueError(f"band {band} Hz has no usable DFT bin (0 < k <= 255) at "
                             f"{detector.num_samples} samples and {detector.sample_rate} Hz")
        out[name] = (int(bins[0]), int(bins[-1]))
    return out


def _render(template: str, name: str, **values: str) -> str:
    return cgen.render(TEMPLATES / template, BANNER=cgen.banner(name).rstrip("\n"), **values)


def _macro_values(values) -> str:
    """Return a C initializer that fits in a #define (continued lines)."""
    return cgen.initializer(values, cgen.float_literal).replace("\n", " \\\n")


def config_files(detector: Detector) -> dict[str, str]:
    """Return the two generated headers: ``fan_features_config.h``, ``fan_detector_config.h``."""
    bins = _bins(detector)
    first = min(b[0] for b in bins.values())
    last = max(b[1] for b in bins.values())
    coeffs = 2 * np.cos(2 * np.pi * np.arange(first, last + 1) / detector.num_samples)
    one_x, blade = vibration.ONE_X_BAND, vibration.BLADE_BAND
    features = _render(
        "fan_features_config.h", "fan_features_config.h", SAMPLES=str(detector.num_samples),
        RATE=f"{detector.sample_rate:g}", BIN_HZ=f"{detector.sample_rate / detector.num_samples:g}",
        COUNTS_PER_G=str(COUNTS_PER_G), ONE_X_BAND=f"{one_x[0]:g}-{one_x[1]:g}",
        BLADE_BAND=f"{blade[0]:g}-{blade[1]:g}", ONE_X_FIRST=str(bins["1X"][0]),
        ONE_X_LAST=str(bins["1X"][1]), BLADE_FIRST=str(bins["BLADE"][0]),
        BLADE_LAST=str(bins["BLADE"][1]), FIRST=str(first), LAST=str(last),
        COEFFS=_macro_values(coeffs))
    detector_h = _render(
        "fan_detector_config.h", "fan_detector_config.h",
        NAMES=", ".join(vibration.FEATURE_NAMES), MEAN=_macro_values(detector.mean),
        STD=_macro_values(detector.std), PERCENTILE=f"{detector.percentile:g}",
        THRESHOLD=cgen.float_literal(detector.threshold))
    return {"fan_features_config.h": features, "fan_detector_config.h": detector_h}


def c_files(detector: Detector) -> dict[str, str]:
    """Return {file name: source} of the whole detector except ``tinyml_kernels.{h,c}``."""
    _check_detector(detector)
    files = export.kernel_files(HAND_WRITTEN, C_DIR)
    files.update(config_files(detector))
    files.update(export.plain_c_files(detector.model, AE_PREFIX))
    return files


CHECK_OUTPUTS = 3 * len(vibration.FEATURE_NAMES) + 1  # features, codes in, codes out, score

def check_files(detector: Detector) -> CModel:
    """Return :func:`c_files` plus ``fan_check.{h,c}`` as one :class:`CModel`: a float
    ``fan_check_invoke()`` for the firmware harness that runs the whole detector on one window
    and outputs every stage."""
    _check_detector(detector)
    ae = export.plain_c_files(detector.model, AE_PREFIX)
    files = {"fan_check.h": _render("fan_check.h", "fan_check.h",
                                    INPUTS=str(3 * detector.num_samples),
                                    OUTPUTS=str(CHECK_OUTPUTS)),
             "fan_check.c": _render("fan_check.c", "fan_check.c")}
    files.update(c_files(detector))
    return CModel("fan_check", "float", 3 * detector.num_samples, CHECK_OUTPUTS, files,
                  ae.kernels, ae.constant_bytes, ae.activation_bytes)


@dataclass
class CRun:
    """What the C detector computed on a board, with the cost of one window."""

    stages: Stages
    measurement: object  # firmware.Measurement


# Windows per harness build: 200 windows of 600 float32 inputs are 480 KB, well inside the
# simulated Cortex-M4's flash (firmware.check_fits refuses more than 1 MB).
HARNESS_CHUNK = 200


def _check_counts(detector: Detector, counts) -> np.ndarray:
    c = checks.check_array("counts", counts, finite=False, allow_empty=True)
    if len(c) == 0:
        raise ValueError("counts is empty: give at least one window")
    if c.dtype != np.int16 or c.ndim != 3 or c.shape[1:] != (detector.num_samples, 3):
        raise ValueError(f"counts must be int16 of shape (n, {detector.num_samples}, 3), "
                         f"got {c.dtype} {c.shape}")
    return c


def _stages(detector: Detector, out: np.ndarray) -> Stages:
    """Return the :class:`Stages` of the rows ``fan_check_invoke`` (or the check sketch)
    output: 12 features, 12 codes in, 12 codes out, the score."""
    n = len(vibration.FEATURE_NAMES)
    out = out.astype(np.float64)
    score = out[:, 3 * n]
    return Stages(out[:, :n], out[:, n:2 * n].astype(np.int8),
                  out[:, 2 * n:3 * n].astype(np.int8), score,
                  score > np.float32(detector.threshold))


def run_c(detector: Detector, counts, target: str = "host", build_dir=None,
          timeout_s: float = 300.0) -> CRun:
    """Compile the C detector for ``target`` ("host" or "m4"), run it on each window of
    int16 ``counts`` (n, samples, 3) and return its :class:`CRun`.

    More than :data:`HARNESS_CHUNK` windows run in several builds of that many; the
    measurement's cost, stack and outputs then cover them all (``timeout_s`` is per build).
    The Uno's 2 KB of RAM cannot hold the harness's 600-float input window; :func:`run_uno`
    runs the detector there in the fan_anomaly sketch, reading counts from flash axis by axis.
    """
    _check_detector(detector)
    if not isinstance(target, str):
        raise TypeError(f"target must be 'host' or 'm4', got {type(target).__name__}")
    checks.check_number("timeout_s", timeout_s, low=0.0, low_open=True)
    if build_dir is not None:
        _check_directory(build_dir)
    if target not in ("host", "m4"):
        raise ValueError(f"target must be 'host' or 'm4' (the Uno runs the sketch: use "
                         f"run_uno), got {target!r}")
    c = _check_counts(detector, counts)
    rows = from_counts(c).reshape(len(c), -1)
    model = check_files(detector)
    first = firmware.measure(target, model, rows[:HARNESS_CHUNK], build_dir=build_dir,
                             timeout_s=timeout_s, host_cost=False)
    results = [first.result]
    for start in range(HARNESS_CHUNK, len(rows), HARNESS_CHUNK):
        part = None if build_dir is None else Path(build_dir) / f"windows_{start}"
        elf = firmware.build(target, model, rows[start:start + HARNESS_CHUNK], build_dir=part)
        results.append(firmware.run(target, elf, timeout_s))
    if len(results) > 1:
        costs = None if first.cost is None else np.concatenate([r.cost for r in results])
        result = dataclasses.replace(
            first.result, outputs=np.concatenate([r.outputs for r in results]), cost=costs,
            stack_bytes=max(r.stack_bytes for r in results),
            text="\n".join(r.text for r in results), seconds=sum(r.seconds for r in results))
        first = dataclasses.replace(
            first, result=result, stack=result.stack_bytes,
            cost=None if costs is None else float(costs.mean()),
            cost_max=None if costs is None else float(costs.max()))
    return CRun(_stages(detector, first.result.outputs), first)


# --- sample windows for the sketches: real recorded ones --------------------------------------

SAMPLES = (("off", False), ("low", False), ("low", True), ("medium", False), ("medium", True),
           ("high", False), ("high", True))
# Where the stored windows come from, for the comment of fan_windows.h (the recordings'
# README, tinyml_helpers/recordings/README.md, has the details).
RECORDINGS_CREDIT = (
    "Shawn Hymel's ceiling-fan recordings, "
    "https://github.com/ShawnHymel/tinyml-example-anomaly-detection (commit 4530061, "
    "datasets/ceiling-fan), licensed under Beerware: keep this notice with the data.")


def _test_start(windows: int) -> int:
    """Return the first window of a recording's test part: after its first 50 % (training)
    and the next 20 % (validation), cut as :func:`fan_recordings.split` cuts them."""
    train, val, _ = fan_recordings.FRACTIONS
    return round(train * windows) + round(val * windows)


@functools.lru_cache(maxsize=4)
def _samples(index: int) -> tuple[np.ndarray, tuple[tuple[str, int], ...]]:
    rec = fan_recordings.load()
    counts, sources = [], []
    for speed, coin in SAMPLES:
        keep = (rec.speed == speed) & (rec.coin == coin) & ~rec.moving
        names = sorted(set(rec.recording[keep].tolist()))
        if len(names) != 1:
            raise ValueError(f"the recordings hold {len(names)} recordings of speed {speed}, "
                             f"coin {coin} (expected one): {fan_recordings.DATA}")
        one = rec.select(rec.recording == names[0])
        order = _test_start(len(one)) + index
        if order >= len(one):
            raise ValueError(f"index={index}: the test part of {names[0]} has only "
                             f"{len(one) - _test_start(len(one))} windows")
        counts.append(to_counts(one.windows[order:order + 1])[0])
        sources.append((names[0], int(one.order[order])))
    stacked = np.stack(counts)
    stacked.flags.writeable = False
    return stacked, tuple(sources)


def _check_index(index) -> int:
    return checks.check_int("index", index, 0)


def sample_windows(index: int = 0) -> tuple[np.ndarray, list[tuple[str, bool]]]:
    """Return (int16 counts (7, 200, 3), [(speed, coin), ...]): one real recorded window per
    case in :data:`SAMPLES`, the ``index``-th window of the test part of its recording (the
    last 30 % by recording order, :func:`fan_recordings.split`), never a training window."""
    counts, _ = _samples(_check_index(index))
    return counts.copy(), list(SAMPLES)


def sample_sources(index: int = 0) -> list[tuple[str, int]]:
    """Return (recording name, window number in that recording) of each window
    :func:`sample_windows` returns."""
    return list(_samples(_check_index(index))[1])


# --- the sketches' project ---------------------------------------------------------------------

def _check_labels(labels, n: int, most: int | None = 255) -> list[tuple[str, bool]]:
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise TypeError(f"labels must be a list of (speed, coin) pairs, got "
                        f"{type(labels).__name__}")
    for i, label in enumerate(labels):
        if not isinstance(label, (list, tuple)) or len(label) != 2:
            raise TypeError(f"labels[{i}] must be a (speed, coin) pair, got {label!r}")
        checks.check_bool(f"labels[{i}] coin", label[1])
    if len(labels) != n or n == 0 or most is not None and n > most:
        span = "" if most is None else f" (1 to {most})"
        raise ValueError(f"need one (speed, coin) label per window{span}, got "
                         f"{len(labels)} labels for {n} windows")
    for speed, _ in labels:
        vibration.check_speed(speed)
    return [(str(speed), bool(coin)) for speed, coin in labels]


def _check_sources(sources, n: int) -> list[tuple[str, int]] | None:
    if sources is None:
        return None
    if isinstance(sources, (str, bytes)) or not isinstance(sources, (list, tuple)):
        raise TypeError(f"sources must be a list of (recording, window) pairs or None, got "
                        f"{type(sources).__name__}")
    if len(sources) != n:
        raise ValueError(f"need one (recording, window) source per window, got "
                         f"{len(sources)} for {n} windows")
    out = []
    for i, source in enumerate(sources):
        if not isinstance(source, (list, tuple)) or len(source) != 2 \
                or not isinstance(source[0], str):
            raise TypeError(f"sources[{i}] must be a (recording name, window) pair, got "
                            f"{source!r}")
        out.append((cgen.comment_text(source[0], f"sources[{i}] recording"),
                    checks.check_int(f"sources[{i}] window", source[1], 0)))
    return out


def windows_header(counts: np.ndarray, labels: list[tuple[str, bool]],
                   sources: list[tuple[str, int]] | None = None) -> str:
    """Return ``fan_windows.h``: the windows as int16 counts in flash, with labels.

    ``sources`` ((recording, window number) per window, as :func:`sample_sources` returns)
    say which of Hymel's recorded windows they are; without them the header only says the
    windows were given to this function.
    """
    counts = checks.check_array("counts", counts, finite=False, allow_empty=True)
    if counts.dtype != np.int16 or counts.ndim != 3 or counts.shape[2] != 3:
        raise ValueError(f"counts must be int16 of shape (n, samples, 3), got {counts.dtype} "
                         f"{counts.shape}")
    labels = _check_labels(labels, len(counts))
    sources = _check_sources(sources, len(counts))
    speeds = list(vibration.SPEEDS)
    rows = []
    for i, (window, (speed, coin)) in enumerate(zip(counts, labels, strict=True)):
        values = cgen.initializer(window.reshape(-1)).replace("\n", "\n  ")
        where = "" if sources is None else f": {sources[i][0]}, window {sources[i][1]}"
        rows.append(f"  /* {i}: {speed}, {'coin' if coin else 'no coin'}{where} */\n  {values},")
    if sources is None:
        origin = [f"{len(counts)} one-second windows given to fan_detector.windows_header()."]
    else:
        origin = textwrap.wrap(
            f"{len(counts)} one-second windows recorded on a real ceiling fan, each from the "
            "test part (the last 30 % by recording order) of its recording, none used in "
            f"training. From {RECORDINGS_CREDIT} The recordings hold "
            f"{fan_recordings.CODES_PER_G:,} codes per g; the counts below are those codes x "
            f"{COUNTS_PER_G // fan_recordings.CODES_PER_G} (exact).", 92)
    return _render(
        "fan_windows.h", "fan_windows.h", ORIGIN="/* " + "\n * ".join(origin),
        N=str(len(counts)),
        COUNTS_PER_G=str(COUNTS_PER_G), VALUES_PER_WINDOW=str(counts.shape[1] * 3),
        ROWS="\n".join(rows), N_SPEEDS=str(len(speeds)),
        SPEED_NAMES=", ".join(f'"{cgen.identifier(name, "speed")}"' for name in speeds),
        SPEEDS=", ".join(str(speeds.index(speed)) for speed, _ in labels),
        COINS=", ".join(str(int(bool(coin))) for _, coin in labels))


def expected_output(detector: Detector) -> str:
    """Return the serial lines of one pass of the fan sketch (timings shown as ``…``), from
    the NumPy/TFLM reference of the same computation."""
    _check_detector(detector)
    counts, labels = sample_windows()
    ref = reference(detector, from_counts(counts))
    cases = list(zip(labels, ref.score, ref.anomaly, strict=True))
    rows = [f"window={i}, speed={speed}, coin={'yes' if coin else 'no'}, score={score:.4f}, "
            f"threshold={detector.threshold:.4f}, verdict={'ANOMALY' if flag else 'normal'}, us=…"
            for i, ((speed, coin), score, flag) in enumerate(cases)]
    agree = int(sum(bool(flag) == coin for (_, coin), _, flag in cases))
    rows.append(f"pass 1: {agree} of {len(labels)} verdicts match the labels")
    return "\n".join(rows)


# --- the detector on a simulated Uno, through the sketch's own code path ---------------------

# A check build stores this many windows (1,200 B each in flash) beside the sketch's code
# (about 10 KB with the Arduino core): 16 fill 29 KB of the Uno's 32,256 B.
UNO_WINDOWS_PER_BUILD = 16
UNO_CHECK_DEFINES = {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1, "TINYML_PRINT_STAGES": 1}
UNO_TOOLS = ("arduino-builder", "simavr", "avr-size")


@dataclass
class UnoRun:
    """What the fan sketch computed on a simulated Uno, window by window, and its cost."""

    stages: Stages
    microseconds: np.ndarray  # (n,) features + score of each window, micros() in simavr
    flash: int  # bytes of the largest check build, its stored windows included
    static_ram: int  # bytes of .data + .bss (the windows stay in flash)
    stack: int  # deepest stack over every build, found by painting the free RAM
    builds: int
    seconds: float  # wall-clock time of compiling and simulating


def _hex_floats(text: str) -> list[float]:
    """Return the float32 values whose bits the check sketch printed in hex."""
    bits = np.array([int(word, 16) for word in text.split()], dtype=np.uint32)
    return bits.view(np.float32).astype(np.float64).tolist()


def _pairs(line: str) -> dict[str, str]:
    """Return the key=value pairs of one serial line (FirmwareError if it is garbled)."""
    pairs = [kv.split("=", 1) for kv in line.split(", ")]
    if any(len(kv) != 2 for kv in pairs):
        raise firmware.FirmwareError(f"uno: garbled line from the check sketch: {line!r}")
    return dict(pairs)


def _uno_rows(lines: list[str], n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (rows of 12 features, 12 codes in, 12 codes out, score; microseconds; stack)
    read from a check build's serial lines."""
    windows = [_pairs(line) for line in lines if line.startswith("window=")]
    stages: dict[str, dict[str, str]] = {}  # two lines per window, keyed by its number
    for line in lines:
        if line.startswith("stages="):
            pairs = _pairs(line)
            stages.setdefault(pairs["stages"], {}).update(pairs)
    stack = [int(line.split("=", 1)[1]) for line in lines if line.startswith("stack=")]
    complete = [st for st in stages.values() if {"features", "in", "out", "score"} <= set(st)]
    if len(windows) != n or len(complete) != n or list(stages) != [str(i) for i in range(n)] \
            or len(stack) != 1:
        raise firmware.FirmwareError(
            f"uno: the check sketch printed {len(windows)} windows, {len(complete)} complete "
            f"stages and {len(stack)} stack lines for {n} windows:\n" + "\n".join(lines[-20:]))
    rows = [[*_hex_floats(st["features"]), *map(int, st["in"].split()),
             *map(int, st["out"].split()), *_hex_floats(st["score"])] for st in complete]
    return (np.array(rows, dtype=np.float64),
            np.array([int(w["us"]) for w in windows], dtype=np.int64), stack[0])


def sketch_files(detector: Detector, project: str = ARDUINO_FOLDER) -> dict[str, str]:
    """Return the fan sketch ``<project>.ino`` and every C source it compiles, the stored
    sample windows included: what a board builds."""
    _check_detector(detector)
    name = f"{cgen.identifier(project, 'project')}.ino"
    counts, labels = sample_windows()
    test = self_test_cases(detector)
    sources = c_files(detector)
    sources[SELF_TEST_NAME] = self_test.c_header(SELF_TEST_NAME, {AE_PREFIX: test})
    sources.update(deploy_projects.copied({n: sources[n] for n in HAND_WRITTEN}, C_ORIGIN))
    sources.update(deploy_projects.copied(export.kernel_files(), export.KERNEL_ORIGIN))
    sources["fan_windows.h"] = windows_header(counts, labels, sample_sources())
    return {name: _sketch(name, project, str(len(counts)), f"{detector.sample_rate:g}"),
            **sources}


def run_uno(detector: Detector, counts, labels, build_dir=None,
            timeout_s: float = 300.0) -> UnoRun:
    """Compile the fan sketch for the Uno with int16 ``counts`` (n, samples, 3) as its stored
    windows (``labels``: their (speed, coin)), run it in simavr and return its :class:`UnoRun`.

    The sketch's own code path computes every window (read from flash axis by axis, as in
    the sketches the course ships); its check build (``-DTINYML_PRINT_STAGES=1``) also prints
    each window's features and score as float32 bits, the int8 codes in and out, and the
    deepest stack. Windows go in builds of :data:`UNO_WINDOWS_PER_BUILD`, each compiled with
    arduino-builder and simulated for at most ``timeout_s`` seconds.
    """
    _check_detector(detector)
    timeout_s = checks.check_number("timeout_s", timeout_s, low=0.0, low_open=True)
    c = _check_counts(detector, counts)
    labels = _check_labels(labels, len(c), most=None)
    if build_dir is not None:
        _check_directory(build_dir)
    missing = [tool for tool in UNO_TOOLS if not toolchains.have(tool)]
    if missing:
        raise firmware.ToolchainMissing(
            f"{', '.join(missing)} not found; install with: "
            f"{toolchains.install_command(toolchains.UNO_PACKAGES)}")
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="tinyml-fan-uno-") as tmp:
            return _run_uno(detector, c, labels, Path(tmp), timeout_s)
    return _run_uno(detector, c, labels, Path(build_dir), timeout_s)


def _run_uno(detector: Detector, c: np.ndarray, labels: list[tuple[str, bool]],
             build_dir: Path, timeout_s: float) -> UnoRun:
    """:func:`run_uno` with its inputs checked."""
    started = time.perf_counter()
    files = sketch_files(detector, "fan_check")
    rows, micros, flash, ram, stack, builds = [], [], 0, 0, 0, 0
    for start in range(0, len(c), UNO_WINDOWS_PER_BUILD):
        part = slice(start, start + UNO_WINDOWS_PER_BUILD)
        folder = build_dir / f"windows_{start}" / "fan_check"
        write_files(folder, {**files, "fan_windows.h": windows_header(c[part], labels[part])})
        elf = toolchains.compile_uno(folder, folder.parent / "build", UNO_CHECK_DEFINES)
        sizes = toolchains.avr_size(elf)
        got, us, deepest = _uno_rows(toolchains.run_uno(elf, timeout_s=timeout_s),
                                     len(c[part]))
        rows.append(got)
        micros.append(us)
        flash, ram, stack = max(flash, sizes["flash"]), max(ram, sizes["ram"]), \
            max(stack, deepest)
        builds += 1
    return UnoRun(_stages(detector, np.concatenate(rows)), np.concatenate(micros), flash, ram,
                  stack, builds, time.perf_counter() - started)


def self_test_cases(detector: Detector) -> self_test.SelfTest:
    """Return the sketches' boot self-test of the autoencoder: the input codes of the stored
    sample windows and the output codes TFLM computes for them."""
    _check_detector(detector)
    counts, _ = sample_windows()
    codes = reference(detector, from_counts(counts)).codes_in
    return self_test.from_tflm(detector.tflite, inputs=codes)


def _check_detector(detector) -> Detector:
    if not isinstance(detector, Detector):
        raise TypeError(f"detector must be a fan_detector.Detector (from make, calibrate or "
                        f"load), got {type(detector).__name__}")
    return detector


def _check_percentile(percentile) -> float:
    return checks.check_number("percentile", percentile, low=0.0, high=100.0)


def _check_directory(directory) -> Path:
    if not isinstance(directory, (str, Path)) or isinstance(directory, str) and not directory:
        raise TypeError(f"directory must be a folder path (str or Path), got "
                        f"{type(directory).__name__} {directory!r}")
    return Path(directory)


def _sketch(name: str, project: str, n_windows: str, sample_rate: str) -> str:
    stop_running = cgen.render(PROJECT_TEMPLATES / "stop_running.ino.part").rstrip("\n")
    return cgen.render(PROJECT_TEMPLATES / "fan_anomaly.ino",
                       BANNER=cgen.banner(name).rstrip("\n"), PROJECT=project,
                       STOP_RUNNING=stop_running,
                       SELF_TEST_ADVICE=self_test.advice("C"), N_WINDOWS=n_windows,
                       SAMPLE_RATE=sample_rate, ESP32_LED_PIN=ESP32_LED_PIN)


# --- what a live sensor would cost: measured by benchmarks/fan_detector_report.py -------------

LIVE_BUDGET = measurements.FAN_LIVE_BUDGET
BUDGET_COMMAND = "python benchmarks/fan_detector_report.py --write"


def live_budget(path=LIVE_BUDGET) -> dict:
    """Return the stored live-sensor budget: per board its RAM, what the detector uses now,
    the ring buffer a live accelerometer needs, and the compute time per 1 s window."""
    if not isinstance(path, (str, Path)) or isinstance(path, str) and not path:
        raise TypeError(f"path must be a file path (str or Path), got {type(path).__name__} "
                        f"{path!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run {BUDGET_COMMAND}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): run {BUDGET_COMMAND}") from None
    if not isinstance(record, dict) or not isinstance(record.get("boards"), list) \
            or not isinstance(record.get("ring_buffer"), dict):
        raise ValueError(f"{path} must hold the budget's boards and ring_buffer: run "
                         f"{BUDGET_COMMAND}")
    return record


def _bytes(value) -> str:
    return "not measured" if value is None else f"{value:,} B"


def _fits(board: dict, axes: str) -> str:
    fits = board.get("fits", {}).get(axes)
    return "—" if fits is None else "yes" if fits else "**no**"


def _time(board: dict) -> str:
    ms = board.get("compute_ms")
    if ms is None:
        return "not measured"
    if board.get("time_kind") == "lower bound":
        return f"≥ {ms:,.1f} ms (lower bound)"
    return f"{ms:,.0f} ms (measured)"


def budget_table(record: dict | None = None, notes: bool = True) -> str:
    """Return the live-sensor budget as a Markdown table (default: the stored
    :func:`live_budget`), followed by how each board was measured if ``notes``."""
    notes = checks.check_bool("notes", notes)
    record = live_budget() if record is None else record
    if not isinstance(record, dict) or "boards" not in record or "ring_buffer" not in record:
        raise TypeError("record must be the dict live_budget() returns")
    ring = record["ring_buffer"]
    lines = [f"| board | RAM | static RAM now | stack | free | ring buffer 3 axes "
             f"({ring['3 axes']:,} B) | 1 axis ({ring['1 axis']:,} B) | compute per 1 s "
             "window |",
             "| --- | ---: | ---: | ---: | ---: | :---: | :---: | ---: |"]
    for board in record["boards"]:
        lines.append(f"| {board['title']} | {board['ram']:,} B | {_bytes(board['static_ram'])} "
                     f"| {_bytes(board['stack'])} | {_bytes(board['free'])} | "
                     f"{_fits(board, '3 axes')} | {_fits(board, '1 axis')} | {_time(board)} |")
    if not notes:
        return "\n".join(lines)
    return "\n".join(lines + [""] + [f"- {board['title']}: {board['note']}"
                                     for board in record["boards"] if board.get("note")])


def _board(record: dict, name: str) -> dict:
    for board in record["boards"]:
        if board.get("board") == name:
            return board
    raise ValueError(f"the live-sensor budget has no board {name!r}: run {BUDGET_COMMAND}")


def budget_facts(record: dict | None = None) -> dict[str, str]:
    """Return the numbers the project READMEs quote from the live-sensor budget."""
    record = live_budget() if record is None else record
    uno, m4 = _board(record, "uno"), _board(record, "m4")
    ring = record["ring_buffer"]
    return {"BUDGET_TABLE": budget_table(record, notes=False),
            "UNO_STATIC_RAM": f"{uno['static_ram']:,}", "UNO_STACK": f"{uno['stack']:,}",
            "UNO_FREE": f"{uno['free']:,}", "UNO_MS": f"{uno['compute_ms']:,.0f}",
            "UNO_PERIOD": f"{1 + uno['compute_ms'] / 1000:.1f}",
            "UNO_WINDOWS": f"{uno['windows']:,}", "M4_INSTRUCTIONS": f"{m4['instructions']:,}",
            "M4_MS": f"{m4['compute_ms']:,.1f}", "RING_3_AXES": f"{ring['3 axes']:,}",
            "RING_1_AXIS": f"{ring['1 axis']:,}"}


def _window_sources() -> str:
    """Return the Markdown list of where each stored window was recorded."""
    _, labels = sample_windows()
    return "\n".join(f"- window {i} ({speed}, {'coin' if coin else 'no coin'}): `{name}`, "
                     f"window {order}"
                     for i, ((speed, coin), (name, order))
                     in enumerate(zip(labels, sample_sources(), strict=True)))


def projects(detector: Detector) -> list[Project]:
    """Return the fan_anomaly projects (``arduino/fan_anomaly`` and the ESP32 and Uno Wokwi
    projects): the detector's C (with the autoencoder's boot self-test,
    :data:`SELF_TEST_NAME`), the stored real windows, the files it was made from and the
    facts their READMEs quote (the live-sensor budget among them, :func:`live_budget`)."""
    if not isinstance(detector, Detector):
        raise TypeError(f"detector must be a fan_detector.Detector, got {type(detector).__name__}")
    counts, _ = sample_windows()
    facts = {
        "EXPECTED": expected_output(detector),
        "N_WINDOWS": str(len(counts)),
        "SAMPLE_RATE": f"{detector.sample_rate:g}",
        "SAMPLES": str(detector.num_samples),
        "THRESHOLD": f"{detector.threshold:.4f}",
        "PERCENTILE": f"{detector.percentile:g}",
        "AE_BYTES": f"{len(detector.tflite):,}",
        "AE_DATA_BYTES": f"{data_bytes(detector.model):,}",
        "WINDOW_BYTES": f"{counts[0].nbytes:,}",
        "WINDOW_SOURCES": _window_sources(),
        "ESP32_LED_PIN": ESP32_LED_PIN,
        **budget_facts(),
        **deploy_projects.CORE_FACTS,
    }
    facts["SELF_TEST"] = self_test_cases(detector).ok_line()
    ino = f"{ARDUINO_FOLDER}.ino"
    sketch = sketch_files(detector, ARDUINO_FOLDER)
    sources = {name: text for name, text in sketch.items() if name != ino}
    kept = saved_files(detector)
    arduino = {**sketch,
               "sketch.yaml": deploy_projects.sketch_yaml(
                   ARDUINO_FOLDER, [deploy_projects.UNO_PROFILE, deploy_projects.ESP32_PROFILE]),
               "README.md": deploy_projects.readme(PROJECT_TEMPLATES / "arduino_fan_anomaly.md",
                                                ARDUINO_FOLDER, **facts), **kept}
    found = [Project("arduino", ARDUINO_FOLDER, arduino, facts)]
    for project, board, pin in (("esp32_fan_anomaly", "esp32", ESP32_LED_PIN),
                                ("uno_fan_anomaly", "uno", UNO_LED_PIN)):
        readme = deploy_projects.readme(PROJECT_TEMPLATES / f"wokwi_{project}.md", project,
                                        **facts)
        found.append(deploy_projects.wokwi_sketch_project(
            project, board, pin, _sketch(f"{project}/sketch.ino", project, facts["N_WINDOWS"],
                                         facts["SAMPLE_RATE"]),
            sources, "the detector", readme, kept, facts))
    return found
