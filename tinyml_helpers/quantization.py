"""Lesson 04: fake quantization of a model's weights, the PTQ comparison table and QAT, and
the int8-against-float32 measurements on the simulated boards (:func:`board_rows`).

The arithmetic itself (scale, zero point, rounding half away from zero, requantization) is in
:mod:`tinyml_helpers.deploy.quant`; its names are re-exported here so the lesson reads
``quantization.quantize``.

:func:`seeds_table` prints lesson 04's figures over several seeds (stored by
``benchmarks/compression_seeds.py --write``) beside the lesson's own run.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import checks, data, measurements, models, pruning
from .data import mse_vs_sin  # noqa: F401  (re-exported: lesson 04 measures with it)
from .deploy import dense, env, litert
from .deploy.quant import (  # noqa: F401  (re-exported for lesson 04)
    affine_params,
    check_bits,
    check_finite,
    dequantize,
    qrange,
    quantize,
    round_half_away,
)


def fake_quantize(x, bits: int = 8, symmetric: bool = True, axis: int | None = None):
    """Return ``x`` quantized to ``bits`` bits and back, in x's float dtype.

    The range is x's own min and max: per tensor, or per channel along ``axis`` (for a Keras
    Dense kernel of shape (inputs, outputs) the output channels are ``axis=-1``).
    """
    x = check_finite("x", x)
    bits = check_bits(bits)
    symmetric = checks.check_bool("symmetric", symmetric)
    if axis is not None:
        axis = checks.check_int("axis", axis, minimum=-max(x.ndim, 1))
        if axis >= max(x.ndim, 1):
            raise ValueError(f"axis must be in -{x.ndim}…{x.ndim - 1} for x of shape {x.shape}, "
                             f"got {axis}")
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    if x.size == 0:
        return x.astype(dtype)
    if axis is None:
        xmin, xmax = x.min(), x.max()
    else:
        others = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        xmin, xmax = x.min(axis=others, keepdims=True), x.max(axis=others, keepdims=True)
    scale, zp = affine_params(xmin, xmax, bits, signed=True, symmetric=symmetric)
    return dequantize(quantize(x, scale, zp, bits, signed=True), scale, zp).astype(dtype)


def quantize_model_weights(model_or_pairs, bits: int = 8, symmetric: bool = True,
                           per_channel: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return [(W, b), ...] with every Dense kernel fake-quantized to ``bits`` bits.

    Biases stay float: int8 models keep them as int32 on a scale so fine that their rounding
    does not matter (lesson 02). Accepts a Keras model or a list of (W, b) NumPy pairs.
    """
    bits = check_bits(bits)
    symmetric = checks.check_bool("symmetric", symmetric)
    per_channel = checks.check_bool("per_channel", per_channel)
    pairs = model_or_pairs
    if isinstance(model_or_pairs, (list, tuple)):
        dense.from_pairs(pairs)  # refuses anything that is not a chain of finite (W, b)
    else:
        pairs = models.dense_weights(model_or_pairs)
    axis = -1 if per_channel else None
    return [(fake_quantize(w, bits, symmetric, axis), np.array(b)) for w, b in pairs]


def forward(pairs, x) -> np.ndarray:
    """Return the NumPy forward pass of a ReLU MLP given as [(W, b), ...] (linear output).

    It is the deploy core's :func:`~tinyml_helpers.deploy.dense.float_reference`, the float C
    kernel's arithmetic, on the pairs (W of shape (inputs, outputs), as Keras stores it).
    """
    layers = dense.from_pairs(pairs)
    x = checks.check_array("x", x, ndim=(1, 2))
    n_in = layers[0].weights.shape[1]
    if (x.shape[1] if x.ndim == 2 else 1) != n_in:
        raise ValueError(f"x must have shape (n, {n_in}) for these weights, got {x.shape}")
    return dense.float_reference(layers, x)


def sine_representative(split) -> np.ndarray:
    """Return calibration inputs for the sine model: x_train plus the ends 0 and 2π.

    Calibration sets the int8 input range from these values; if they stopped short of 2π,
    inputs near 2π would saturate at code 127.
    """
    checks.check_split(split, "split", need_val=False)
    if np.ndim(split.x_train) == 2 and np.shape(split.x_train)[1] != 1:
        raise ValueError(f"sine_representative is for the one-input sine model; split.x_train "
                         f"has shape {np.shape(split.x_train)}: pass representative inputs "
                         "yourself")
    ends = np.array([[0.0], [data.TWO_PI]], dtype=np.float32)
    return np.concatenate([np.asarray(split.x_train, dtype=np.float32), ends])


def _check_representative(representative):
    """Return ``representative`` after checking it is None, a generator function or a finite
    (n, features) array (what ``litert.convert`` calibrates int8 ranges from)."""
    if representative is None or callable(representative):
        return representative
    return checks.check_array("representative", representative, ndim=2)


def table_row(name: str, tflite_bytes: bytes, split) -> dict:
    """Return one comparison row: sizes, test MSE vs sin(x) and tensor dtypes of a .tflite."""

    name = checks.check_str("name", name)
    if not isinstance(tflite_bytes, (bytes, bytearray)):
        raise TypeError(f"tflite_bytes must be the bytes of a .tflite (litert.convert's "
                        f"result), got {type(tflite_bytes).__name__}")
    checks.check_split(split, "split", need_val=False, need_test=True)
    pred = litert.predict(tflite_bytes, split.x_test)
    return {
        "name": name,
        "tflite_bytes": len(tflite_bytes),
        "weight_bytes": litert.weight_bytes(tflite_bytes),
        "test_mse_vs_sin": mse_vs_sin(pred, split.x_test),
        "dtypes": litert.dtypes(tflite_bytes),
    }


def ptq_table(model, split, representative=None, modes=None) -> list[dict]:
    """Return a :func:`table_row` per post-training quantization mode of ``model``."""

    models.check_model(model)
    checks.check_split(split, "split", need_val=False, need_test=True)
    if modes is not None:
        if isinstance(modes, str) or not isinstance(modes, (list, tuple)) or not modes:
            raise TypeError(f"modes must be a non-empty list of conversion modes "
                            f"({', '.join(litert.MODES)}), got {modes!r}")
        for mode in modes:
            checks.check_choice("mode", mode, litert.MODES)
    representative = _check_representative(representative)
    if representative is None:
        representative = sine_representative(split)
    rows = []
    for mode in modes or litert.MODES:
        rep = representative if mode == "int8" else None
        rows.append(table_row(mode, litert.convert(model, mode, rep), split))
    return rows


def _layer_outputs(model, x) -> list[np.ndarray]:
    """Return each layer's output for inputs ``x`` (after its activation)."""
    outputs, h = [], np.asarray(x, dtype=np.float32)
    for layer in model.layers:
        h = layer(h).numpy()
        outputs.append(h)
    return outputs


def sign_changes(error, floor: float = 1e-6) -> int:
    """Return how many times ``error`` (a 1-D sequence) changes sign, ignoring values within
    ``floor`` of 0: a rounding error that is exactly 0 at some points would otherwise flip
    between +0 and -1e-8 with the CPU's float32 matrix routines."""
    error = check_finite("error", np.asarray(error, dtype=np.float64).ravel())
    floor = checks.check_number("floor", floor, low=0.0)
    signs = np.sign(error[np.abs(error) > floor])
    return int(np.count_nonzero(np.diff(signs)))


def set_qat_ranges(qmodel, model, calibration) -> None:
    """Start the quantization ranges of ``qmodel`` (``model`` wrapped by tfmot's
    ``quantize_model``) where PTQ calibration would put them: the min and max, over the
    ``calibration`` inputs, of the input and of every layer's output of the float ``model``.

    tfmot starts the input range at [0, 0] and every activation range at [-6, 6], and moves
    them by only 0.1 % per training step, far too slowly for a short fine-tune.
    """
    models.check_model(model)
    models.check_model(qmodel, "qmodel")
    calibration = checks.check_array("calibration", calibration, ndim=2)
    x = check_finite("calibration", np.asarray(calibration, dtype=np.float32))
    # qmodel.layers = [QuantizeLayer for the input, one QuantizeWrapper per model layer]
    if len(qmodel.layers) != len(model.layers) + 1 or \
            type(qmodel.layers[0]).__name__ != "QuantizeLayer":
        raise ValueError("qmodel must be tfmot.quantization.keras.quantize_model(model) of this "
                         f"model ({len(model.layers)} layers), got a model with "
                         f"{len(qmodel.layers)} layers")
    ranges = [(x.min(), x.max())] + [(h.min(), h.max()) for h in _layer_outputs(model, x)]
    # The kernel ranges are re-read from the kernels by every training-mode call, but until the
    # first one they hold tfmot's [-6, 6]: one such call sets them as training will (it also
    # nudges the activation ranges by 0.1 %, which the loop below overwrites).
    qmodel(x[:1], training=True)
    for layer, (lo, hi) in zip(qmodel.layers, ranges, strict=True):
        for var in layer.weights:
            short = var.name.split("/")[-1]  # quantize_layer_3_min:0, post_activation_max:0
            if short.startswith("kernel"):  # kernel ranges: set by the call above
                continue
            if short.endswith("_min:0"):
                var.assign(min(float(lo), 0.0))
            elif short.endswith("_max:0"):
                var.assign(max(float(hi), 0.0))


def qat_model(model, calibration=None, learning_rate: float = 3e-4, decay_steps: int = 0):
    """Return ``model`` wrapped by tfmot for quantization-aware training, compiled.

    tfmot starts every activation range at [-6, 6] and moves it by only 0.1 % per training
    step, far too slowly for a short fine-tune; with ``calibration`` inputs the ranges start at
    the float model's own min/max over them instead (:func:`set_qat_ranges`). With
    ``decay_steps`` the learning rate follows a cosine from ``learning_rate`` down to 0, so
    the fine-tune ends settled instead of wherever the last noisy step left it.
    """
    models.check_learning_rate(learning_rate)
    decay_steps = checks.check_int("decay_steps", decay_steps, 0)
    tf = env.import_tf()  # sets TF_USE_LEGACY_KERAS before tfmot imports TensorFlow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tfmot's own distutils deprecation warnings
        import tensorflow_model_optimization as tfmot

    models.check_model(model)
    if calibration is not None:
        calibration = checks.check_array("calibration", calibration, ndim=2)
    qmodel = tfmot.quantization.keras.quantize_model(model)
    if calibration is not None:
        set_qat_ranges(qmodel, model, calibration)
    lr = learning_rate
    if decay_steps:
        lr = tf.keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    # Same settings as models.compile_regression, which takes only a constant learning rate.
    qmodel.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=lr), loss="mse",
                   steps_per_execution=16)
    return qmodel


def _qat_representative(representative, split):
    """Return QAT's calibration inputs: the array given, or the sine data's default."""
    if callable(representative):
        raise TypeError("representative must be an (n, features) array here: QAT calibrates "
                        "its ranges from the values themselves")
    representative = _check_representative(representative)
    return sine_representative(split) if representative is None else representative


def qat_fine_tune(model, split, epochs: int = 20, learning_rate: float = 3e-4,
                  representative=None, batch_size: int = 64, progress: bool = False):
    """Return the QAT version of ``model``: ranges calibrated, fine-tuned for ``epochs``."""
    epochs = checks.check_int("epochs", epochs)
    batch_size = checks.check_int("batch_size", batch_size)
    progress = checks.check_bool("progress", progress)
    models.check_learning_rate(learning_rate)
    checks.check_split(split, "split")
    representative = _qat_representative(representative, split)
    steps = epochs * math.ceil(len(split.x_train) / batch_size)
    qmodel = qat_model(model, representative, learning_rate, decay_steps=steps)
    models.fit(qmodel, split, epochs=epochs, batch_size=batch_size, progress=progress)
    return qmodel


def qat_row(model, split, epochs: int = 20, learning_rate: float = 3e-4,
            representative=None, seed: int = 0) -> dict:
    """Return the :func:`table_row` of ``model`` fine-tuned with QAT and converted to int8."""

    checks.check_seed(seed)
    checks.check_int("epochs", epochs)
    models.check_learning_rate(learning_rate)
    checks.check_split(split, "split", need_test=True)
    representative = _qat_representative(representative, split)
    env.set_seed(seed)  # the fine-tune shuffles the training data
    qmodel = qat_fine_tune(model, split, epochs, learning_rate, representative)
    return table_row("qat int8", litert.convert(qmodel, "int8", representative), split)


def format_rows(rows, reference: str = "float32") -> str:
    """Return comparison rows as an aligned text table, MSE also relative to ``reference``."""
    keys = ("name", "tflite_bytes", "weight_bytes", "test_mse_vs_sin", "dtypes")
    if isinstance(rows, dict) or not isinstance(rows, (list, tuple)):
        raise TypeError(f"rows must be a list of table_row() dicts, got {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not set(keys) <= set(r):
            raise ValueError(f"rows[{i}] is not a table_row() row (needs keys {', '.join(keys)})")
    reference = checks.check_str("reference", reference)
    base = next((r["test_mse_vs_sin"] for r in rows if r["name"] == reference), math.nan)
    header = (f"{'model':<10}{'.tflite B':>10}{'weight B':>10}{'MSE vs sin':>12}"
              f"{'vs ' + reference:>12}  dtypes")
    lines = [header]
    for r in rows:
        ratio = r["test_mse_vs_sin"] / base
        lines.append(f"{r['name']:<10}{r['tflite_bytes']:>10,}{r['weight_bytes']:>10,}"
                     f"{r['test_mse_vs_sin']:>12.5f}{ratio:>#11.2g}x  {r['dtypes']}")
    return "\n".join(lines)


def per_tensor_cost(per_channel_tflite: bytes, per_tensor_tflite: bytes, x) -> dict:
    """Return what one weight scale per Dense layer costs against one per output neuron, for
    two full-int8 conversions of the same network: each one's MSE against sin(x) computed
    with TFLM's integer arithmetic (``dense.int8_reference``), its file size and number of
    per-channel layers, and the largest difference between their predictions on ``x``."""
    x = check_finite("x", x).reshape(-1, 1).astype(np.float32)
    result, predictions = {}, {}
    for name, tflite in (("per_channel", per_channel_tflite), ("per_tensor", per_tensor_tflite)):
        model = dense.int8_layers(tflite)
        if model.n_inputs != 1 or model.n_outputs != 1:
            raise ValueError(f"the {name} model must have one input and one output")
        predictions[name] = model.dequantize(dense.int8_reference(model, model.quantize(x)))
        result[name] = {"mse": mse_vs_sin(predictions[name], x), "bytes": len(tflite),
                        "per_channel_layers": sum(lay.per_channel for lay in model.layers)}
    if result["per_tensor"]["per_channel_layers"]:
        raise ValueError("per_tensor_tflite has per-channel Dense layers: convert it with "
                         "litert.convert(model, 'int8', representative, per_channel=False)")
    result["max_difference"] = float(np.max(np.abs(predictions["per_channel"]
                                                   - predictions["per_tensor"])))
    return result


# --- int8 against float32 on the simulated boards (lesson 04, section 9) -----------------------
# The Uno and Cortex-M4F builds take seconds but need avr-gcc, simavr, arm-none-eabi-gcc and
# QEMU, which a notebook cannot count on (Colab has none of them): benchmarks/
# int8_vs_float_boards.py measures with board_rows() and stores the result in BOARDS_FILE,
# which the lesson prints.

BOARDS_FILE = measurements.INT8_VS_FLOAT_BOARDS
BOARDS_COMMAND = measurements.command(BOARDS_FILE)
BOARD_KERNELS = ("plain", "course")  # the same plain loop for both types; the tuned kernels

# The plain loop, one function per type, called instead of the course's kernels: the same
# arithmetic (the int8 one is exercise 3b of lesson 06), no fast path, so that float32 and
# int8 are compared loop for loop.
_PLAIN_C = {
    "float": ("tinyml_dense_float", "plain_dense_float", """\
void plain_dense_float(const float *input, float *output, uint16_t n_in, uint16_t n_out,
                       const float *weights, const float *bias, uint8_t relu)""", """\
  for (uint16_t o = 0; o < n_out; ++o) {
    float acc = TINYML_READ_F32(&bias[o]);
    for (uint16_t i = 0; i < n_in; ++i) {
      acc += input[i] * TINYML_READ_F32(&weights[(uint32_t)o * n_in + i]);
    }
    output[o] = (relu && acc < 0.0f) ? 0.0f : acc;
  }
"""),
    "int8": ("tinyml_dense_int8", "plain_dense_int8", """\
void plain_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, uint16_t n_out,
                      const int8_t *weights, const int32_t *bias, const int32_t *multiplier,
                      const int8_t *shift, int16_t input_offset, int16_t output_zero_point,
                      int8_t act_min, int8_t act_max)""", """\
  for (uint16_t o = 0; o < n_out; ++o) {
    int32_t acc = TINYML_READ_I32(&bias[o]);
    for (uint16_t i = 0; i < n_in; ++i) {
      acc += (int32_t)(input[i] + input_offset) * TINYML_READ_I8(&weights[(uint32_t)o * n_in + i]);
    }
    int32_t y = tinyml_requantize(acc, TINYML_READ_I32(&multiplier[o]),
                                  TINYML_READ_I8(&shift[o])) + output_zero_point;
    if (y < act_min) y = act_min;
    if (y > act_max) y = act_max;
    output[o] = (int8_t)y;
  }
"""),
}


def plain_loop(model_c):
    """Return the generated C of a Dense chain (``export.plain_c_files``) with every layer
    calling the plain C loop (``plain_dense.c``) instead of the course's tuned kernel."""
    from .deploy.c_model import CModel

    if not isinstance(model_c, CModel) or model_c.kind not in _PLAIN_C:
        raise TypeError("model_c must be the CModel that export.plain_c_files returns for a "
                        f"float or int8 Dense chain, got {type(model_c).__name__}")
    kernel, plain, signature, body = _PLAIN_C[model_c.kind]
    name, include = f"{model_c.prefix}.c", '#include "tinyml_kernels.h"\n'
    if include not in model_c[name] or f"{kernel}(" not in model_c[name]:
        raise ValueError(f"{name} does not call {kernel}: not a Dense chain over the course's "
                         "kernels")
    source = model_c[name].replace(f"{kernel}(", f"{plain}(")
    source = source.replace(include, f"{include}\n{signature};\n", 1)
    plain_c = f"/* The plain loop, without fast paths. */\n{include}\n{signature} {{\n{body}}}\n"
    return model_c.with_files({name: source, "plain_dense.c": plain_c})


def board_rows(float_tflite: bytes, int8_tflite: bytes, x, boards=("uno", "m4"),
               build_dir=None) -> list[dict]:
    """Return one row per board, kernel (:data:`BOARD_KERNELS`) and type: flash and RAM over
    the empty harness, cycles (Uno) or instructions (Cortex-M4F) per inference, and the MSE
    against sin(x) of what the board answered for the float inputs ``x``.

    Every run is checked: int8 outputs equal to the TFLM runtime's codes, float outputs within
    1e-5 of LiteRT's (else ValueError). Needs the boards' toolchains
    (``firmware.missing_tools``)."""
    from .deploy import export, firmware, tflm  # the boards' tools: only when measuring

    x = check_finite("x", x).reshape(-1, 1).astype(np.float32)
    int8_model = dense.int8_layers(int8_tflite)
    codes = int8_model.quantize(x)
    want = {"float32": litert.predict(float_tflite, x), "int8": tflm.run(int8_tflite, codes)}
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tinyml-04-"))
    rows = []
    for board in boards:
        firmware.require(board)
        for kernel in BOARD_KERNELS:
            for dtype, tflite, inputs in (("float32", float_tflite, x),
                                          ("int8", int8_tflite, codes)):
                c = export.plain_c_files(dense.layers_from_tflite(tflite), f"sine_{dtype}")
                c = plain_loop(c) if kernel == "plain" else c
                m = firmware.measure(board, c, inputs, build_dir=build_dir / f"{board}_{kernel}")
                out = m.result.outputs
                if dtype == "int8":
                    if not np.array_equal(out.astype(np.int64), want["int8"].astype(np.int64)):
                        raise ValueError(f"{board} {kernel} int8 differs from the TFLM runtime")
                    y = int8_model.dequantize(out.astype(np.int8))
                else:
                    if np.abs(out - want["float32"]).max() > 1e-5:
                        raise ValueError(f"{board} {kernel} float32 is off LiteRT by > 1e-5")
                    y = out
                rows.append({"board": board, "kernel": kernel, "dtype": dtype,
                             "flash": m.flash, "data_bytes": c.constant_bytes,
                             "static_ram": m.static_ram, "stack": m.stack,
                             "ram": m.static_ram + m.stack, "cost": m.cost,
                             "cost_max": m.cost_max, "unit": m.unit,
                             "clock_hz": firmware.get_target(board).clock_hz,
                             "mse_vs_sin": mse_vs_sin(y, x)})
    return rows


def board_measurements(path=BOARDS_FILE) -> dict:
    """Return the stored int8-vs-float32 board measurement; FileNotFoundError names the
    command that writes it."""
    return measurements.load(path, BOARDS_COMMAND)


# --- lesson 04's figures over several seeds ---------------------------------------------------
# benchmarks/compression_seeds.py stores lessons 03 and 04's figures for several seeds in
# pruning.SEEDS_FILE; the file's reader and table are pruning's, with lesson 04's figures.

SEEDS_FILE = pruning.SEEDS_FILE
SEEDS_COMMAND = pruning.SEEDS_COMMAND
# Lesson 04's figures: {dotted key into a seed's "04" record: (label, format)}; the formats are
# those of pruning.SEED_FORMATS.
SEED_FIGURES = {
    # section 5
    "largest_accumulator": ("largest |accumulator| of dense_2", "count"),
    "accumulator_exceeds_int16": ("it exceeds int16's 32,767", "claim"),
    # sections 6 and 8
    "ptq_vs_float32.float16": ("float16: MSE / float32", "ratio"),
    "ptq_vs_float32.int8": ("int8 (PTQ): MSE / float32", "ratio"),
    "int8_worse_than_float32": ("int8 less accurate than float32", "claim"),
    "wide_int8_vs_float32": ("1-128-128-1 int8: MSE / float32", "ratio"),
    "tuned_f32_vs_float32": ("fine-tuned float: MSE / before", "ratio"),
    "tuned_ptq_vs_tuned_f32": ("PTQ after the fine-tune: / tuned f32", "ratio"),
    "qat_vs_tuned_f32": ("QAT: MSE / tuned f32", "ratio"),
    "qat_closer_than_ptq": ("QAT closer to float than PTQ", "claim"),
    # Going deeper D and E
    "rounding.change.weights": ("weights rounded alone: MSE change", "change"),
    "rounding.change.everything": ("everything rounded: MSE change", "change"),
    "rounding.weights_costliest": ("the weights cost the most", "claim"),
    "rounding.sign_changes.weights": ("weight error: sign changes", "count"),
    "rounding.others_fewest_sign_changes": ("the others: fewest sign changes", "count"),
    "rounding.correlation.weights": ("weight error: corr. with float error", "correlation"),
    "qat_start_vs_ptq": ("calibrated QAT start: MSE / PTQ int8", "times"),
}


def stored_seeds(path=SEEDS_FILE) -> dict:
    """Return the stored per-seed figures (lesson 04's checked); FileNotFoundError names the
    command that writes them, ValueError says what is wrong with a malformed file."""
    return pruning.load_seed_record(path, "04", SEED_FIGURES)


def seeds_table(live=None, keys=None, record=None, settings=None) -> str:
    """Return lesson 04's figures over the stored seeds (``pruning.format_seed_table``), with
    the lesson's own run (``live``, {figure: value}, run with ``settings``) beside them."""
    record = stored_seeds() if record is None else pruning.check_seed_record(record, "04",
                                                                              SEED_FIGURES)
    return pruning.format_seed_table(record, "04", SEED_FIGURES, keys, live, settings)
