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
Cortex-M4) and returns what the C computed, stage by stage; :func:`reference` computes the
same stages in NumPy (float64) with the TFLM arithmetic. How close they must be is stated in
:data:`FEATURE_RTOL` and :data:`FEATURE_ATOL`; the int8 stage must be equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checks, vibration
from .anomaly import Scaler, threshold
from .deploy import cgen, export, firmware, self_test, tflite_file
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
# case over the 2,000 windows of tests/test_fan_detector.py: 6.9e-5 relative, 4.2e-7 g
# absolute (the DFT peaks; RMS within 2e-6 relative). MAD is exact.
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


def run_c(detector: Detector, counts, target: str = "host", build_dir=None,
          timeout_s: float = 300.0) -> CRun:
    """Compile the C detector for ``target`` ("host" or "m4"), run it on each window of
    int16 ``counts`` (n, samples, 3) and return its :class:`CRun`.

    The Uno's 2 KB of RAM cannot hold the harness's 600-float input window; the Uno runs the
    detector in the fan_anomaly sketch instead, reading counts from flash axis by axis.
    """
    _check_detector(detector)
    if not isinstance(target, str):
        raise TypeError(f"target must be 'host' or 'm4', got {type(target).__name__}")
    checks.check_number("timeout_s", timeout_s, low=0.0, low_open=True)
    if build_dir is not None:
        _check_directory(build_dir)
    if target not in ("host", "m4"):
        raise ValueError(f"target must be 'host' or 'm4' (the Uno runs the sketch), got {target!r}")
    c = checks.check_array("counts", counts, finite=False, allow_empty=True)
    if len(c) == 0:
        raise ValueError("counts is empty: give at least one window")
    if c.dtype != np.int16 or c.ndim != 3 or c.shape[1:] != (detector.num_samples, 3):
        raise ValueError(f"counts must be int16 of shape (n, {detector.num_samples}, 3), "
                         f"got {c.dtype} {c.shape}")
    rows = from_counts(c).reshape(len(c), -1)
    m = firmware.measure(target, check_files(detector), rows, build_dir=build_dir,
                         timeout_s=timeout_s, host_cost=False)
    out = m.result.outputs.astype(np.float64)
    n = len(vibration.FEATURE_NAMES)
    score = out[:, 3 * n]
    stages = Stages(out[:, :n], out[:, n:2 * n].astype(np.int8), out[:, 2 * n:3 * n]
                    .astype(np.int8), score, score > np.float32(detector.threshold))
    return CRun(stages, m)


# --- sample windows for the sketches -----------------------------------------------------------

SAMPLE_SEED = 2026
SAMPLES = (("off", False), ("low", False), ("low", True), ("medium", False), ("medium", True),
           ("high", False), ("high", True))


def sample_windows(seed: int = SAMPLE_SEED) -> tuple[np.ndarray, list[tuple[str, bool]]]:
    """Return (int16 counts (7, 200, 3), [(speed, coin), ...]): one fresh fixed-mount window
    per case in :data:`SAMPLES`, none of them seen in training."""
    seed = checks.check_seed(seed)
    counts = [to_counts(vibration.windows(speed, 1, imbalance=coin, seed=seed))[0]
              for speed, coin in SAMPLES]
    return np.stack(counts), list(SAMPLES)


# --- the sketches' project ---------------------------------------------------------------------

def windows_header(counts: np.ndarray, labels: list[tuple[str, bool]]) -> str:
    """Return ``fan_windows.h``: the sample windows as int16 counts in flash, with labels."""
    counts = checks.check_array("counts", counts, finite=False, allow_empty=True)
    if counts.dtype != np.int16 or counts.ndim != 3 or counts.shape[2] != 3:
        raise ValueError(f"counts must be int16 of shape (n, samples, 3), got {counts.dtype} "
                         f"{counts.shape}")
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise TypeError(f"labels must be a list of (speed, coin) pairs, got "
                        f"{type(labels).__name__}")
    for i, label in enumerate(labels):
        if not isinstance(label, (list, tuple)) or len(label) != 2:
            raise TypeError(f"labels[{i}] must be a (speed, coin) pair, got {label!r}")
        checks.check_bool(f"labels[{i}] coin", label[1])
    if len(labels) != len(counts) or not 0 < len(counts) <= 255:
        raise ValueError(f"need one (speed, coin) label per window (1 to 255), got "
                         f"{len(labels)} labels for {len(counts)} windows")
    speeds = list(vibration.SPEEDS)
    for speed, _ in labels:
        vibration.check_speed(speed)
    rows = []
    for i, (window, (speed, coin)) in enumerate(zip(counts, labels, strict=True)):
        values = cgen.initializer(window.reshape(-1)).replace("\n", "\n  ")
        rows.append(f"  /* {i}: {speed}, {'coin' if coin else 'no coin'} */\n  {values},")
    return _render(
        "fan_windows.h", "fan_windows.h", N=str(len(counts)), SEED=str(SAMPLE_SEED),
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


def _sketch(name: str, project: str, facts: dict[str, str]) -> str:
    stop_running = cgen.render(PROJECT_TEMPLATES / "stop_running.ino.part").rstrip("\n")
    return cgen.render(PROJECT_TEMPLATES / "fan_anomaly.ino",
                       BANNER=cgen.banner(name).rstrip("\n"), PROJECT=project,
                       STOP_RUNNING=stop_running,
                       SELF_TEST_ADVICE=self_test.advice("C"), N_WINDOWS=facts["N_WINDOWS"],
                       SAMPLE_RATE=facts["SAMPLE_RATE"], ESP32_LED_PIN=ESP32_LED_PIN)


def projects(detector: Detector) -> list[Project]:
    """Return the fan_anomaly projects (``arduino/fan_anomaly`` and the ESP32 and Uno Wokwi
    projects): the detector's C (with the autoencoder's boot self-test,
    :data:`SELF_TEST_NAME`), the sample windows, the files it was made from and the facts
    their READMEs quote."""
    if not isinstance(detector, Detector):
        raise TypeError(f"detector must be a fan_detector.Detector, got {type(detector).__name__}")
    counts, labels = sample_windows()
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
        "ESP32_LED_PIN": ESP32_LED_PIN,
        **deploy_projects.CORE_FACTS,
    }
    test = self_test_cases(detector)
    facts["SELF_TEST"] = test.ok_line()
    sources = c_files(detector)
    sources[SELF_TEST_NAME] = self_test.c_header(SELF_TEST_NAME, {AE_PREFIX: test})
    sources.update(deploy_projects.copied({n: sources[n] for n in HAND_WRITTEN}, C_ORIGIN))
    sources.update(deploy_projects.copied(export.kernel_files(), export.KERNEL_ORIGIN))
    sources["fan_windows.h"] = windows_header(counts, labels)
    kept = saved_files(detector)
    arduino = {f"{ARDUINO_FOLDER}.ino": _sketch(f"{ARDUINO_FOLDER}.ino", ARDUINO_FOLDER, facts),
               **sources,
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
            project, board, pin, _sketch(f"{project}/sketch.ino", project, facts), sources,
            "the detector", readme, kept, facts))
    return found


