"""Lesson 04's claims, computed again with the package's helpers against trusted references
(TensorFlow's converter, the LiteRT interpreter, the TFLM runtime, numpy).

The lesson prints these facts and explains them; the page keeps only the few checks that teach.
Everything here is recomputed from lesson 01's trained model (seed 0, as the lesson uses it),
not read back from the notebook's outputs.
"""

from __future__ import annotations

import benchmark_script
import numpy as np
import pytest

from tinyml_helpers import measurements, models, quantization, sizing
from tinyml_helpers.deploy import dense, env, firmware, litert, tflm

SEED = 0  # the lesson's seed
QAT_EPOCHS, QAT_LEARNING_RATE = 20, 3e-4  # the lesson's settings


@pytest.fixture(scope="module")
def lesson(tf):
    """The lesson's trained model, data, representative set and its four .tflite files."""
    model, split = models.trained_sine_model(SEED)
    representative = quantization.sine_representative(split)
    files = {mode: litert.convert(model, mode, representative if mode == "int8" else None)
             for mode in litert.MODES}
    return model, split, representative, files


def _fake_quant(values, low, high):
    s, zp = quantization.affine_params(low, high, bits=8, signed=True)
    return quantization.dequantize(quantization.quantize(values, s, zp, 8, signed=True), s, zp)


def _simulate(pairs, ranges, x, inputs=True, weights=True, activations=True, output=True):
    """The lesson's NumPy simulation of the int8 model, each rounding switchable."""
    if weights:
        pairs = quantization.quantize_model_weights(pairs, 8, per_channel=True)
    h = _fake_quant(x, *ranges[0]) if inputs else x
    for i, (W, b) in enumerate(pairs):
        h = h @ W + b
        if i < len(pairs) - 1:
            h = np.maximum(h, 0)
            h = _fake_quant(h, *ranges[i + 1]) if activations else h
        elif output:
            h = _fake_quant(h, *ranges[-1])
    return h


# --- sections 1-3: the arithmetic by hand ----------------------------------------------------

def test_only_the_int8_mobilenet_fits_the_nano_and_the_sine_model_bytes(tf):
    n_params = tf.keras.applications.MobileNet(input_shape=(128, 128, 3), alpha=0.25,
                                               weights=None).count_params()
    nano = sizing.get_board("nano33ble")
    assert 4 * n_params > nano.flash_bytes > n_params
    widths = (1, 16, 16, 1)
    assert sizing.model_bytes(widths, "float32") == 1284
    assert sizing.model_bytes(widths, "int8") == 420


def test_rounding_rules_and_the_fragile_half():
    halves = [126.5, 127.5, 128.5]
    assert [round(v) for v in halves] == [126, 128, 128]  # Python: half to even
    assert np.round(halves).tolist() == [126, 128, 128]
    assert quantization.round_half_away(halves).tolist() == [127, 128, 129]
    assert np.float32(20) / (np.float32(40) / np.float32(255)) < 127.5  # float32 misses the half
    scale = 40 / 255
    back = -10.0 + 128 * scale
    assert np.isclose(back - 10.0, scale / 2)  # half a step off, the worst case


def test_scale_zero_point_and_symmetric_codes():
    scale = 40 / 255
    s, zp = quantization.affine_params(-10.0, 30.0, bits=8)
    s8, zp8 = quantization.affine_params(-10.0, 30.0, bits=8, signed=True)
    assert (s, zp) == (scale, 64) and quantization.quantize(10.0, s, zp) == 128
    assert (s8, zp8) == (scale, -64)
    assert quantization.quantize(10.0, s8, zp8, signed=True) == 0
    assert quantization.dequantize(128, s, zp) == quantization.dequantize(0, s8, zp8)
    assert quantization.dequantize(zp, s, zp) == 0.0  # 0.0 is stored exactly
    minmax_zero = -10.0 + quantization.round_half_away(10.0 / scale) * scale
    assert minmax_zero > 0.03  # the min/max form of section 2 does not
    s_sym, zp_sym = quantization.affine_params(-10.0, 30.0, bits=8, symmetric=True)
    lowest = quantization.quantize(-10.0, s_sym, zp_sym, signed=True)
    assert zp_sym == 0 and np.isclose(s_sym, 30 / 127) and lowest == -42
    assert 127 - int(lowest) + 1 == 170  # codes used of 255


# --- sections 4-5: the trained model's weights and a layer's sums ----------------------------

def test_weight_rounding_error_is_within_half_a_step_with_rms_one_over_sqrt_12(lesson):
    model, split, _, _ = lesson
    assert quantization.mse_vs_sin(model.predict(split.x_test, verbose=0), split.x_test) < 0.003
    (_, _), (W2, _), _ = models.dense_weights(model)
    w_scale, w_zp = quantization.affine_params(W2.min(), W2.max(), bits=8, symmetric=True)
    error = quantization.dequantize(quantization.quantize(W2, w_scale, w_zp, 8, signed=True),
                                    w_scale, w_zp) - W2
    assert np.abs(error).max() <= w_scale / 2 * (1 + 1e-9)
    assert abs(np.sqrt(np.mean(error**2)) / w_scale - 1 / np.sqrt(12)) < 0.05


def test_int8_dot_products_need_int32_and_follow_the_sqrt_n_law(lesson):
    model, split, _, _ = lesson
    (W1, b1), (W2, _), _ = models.dense_weights(model)
    w_scale, _ = quantization.affine_params(W2.min(), W2.max(), bits=8, symmetric=True)
    W2_codes = quantization.quantize(W2, w_scale, 0, 8, signed=True)
    h1 = np.maximum(split.x_test @ W1 + b1, 0)
    x_scale, x_zp = quantization.affine_params(h1.min(), h1.max(), bits=8, signed=True)
    h1_codes = quantization.quantize(h1, x_scale, x_zp, 8, signed=True)
    assert np.all(quantization.dequantize(h1_codes[h1 == 0], x_scale, x_zp) == 0)
    acc = (h1_codes.astype(np.int32) - x_zp) @ W2_codes.astype(np.int32)
    # close to int16's limit on seed 0 (beyond it on 6 of the 10 stored seeds): int32 it is
    assert 0.9 * 32767 < np.abs(acc).max()
    dot_error = acc * (x_scale * w_scale) - h1 @ W2
    predicted = np.sqrt(np.mean((h1**2).sum(axis=1, keepdims=True) * w_scale**2 / 12
                                + (h1 != 0) @ W2**2 * x_scale**2 / 12))
    assert 0.7 < np.sqrt(np.mean(dot_error**2)) / predicted < 1.3
    rng = np.random.default_rng(SEED)
    lengths, rms = [1, 4, 16, 64, 256, 1024], []
    for n in lengths:
        xs = rng.choice(h1.ravel(), size=(2000, n))
        ws = rng.choice(W2.ravel(), size=(2000, n))
        xq = quantization.dequantize(quantization.quantize(xs, x_scale, x_zp, 8, True), x_scale,
                                     x_zp)
        wq = quantization.dequantize(quantization.quantize(ws, w_scale, 0, 8, True), w_scale, 0)
        rms.append(np.sqrt(np.mean(((xq * wq).sum(axis=1) - (xs * ws).sum(axis=1)) ** 2)))
    assert 0.45 < np.polyfit(np.log(lengths), np.log(rms), 1)[0] < 0.55


# --- section 6: the converter, int8 input and output, the file sizes --------------------------

@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")  # derived, as intended
def test_litert_convert_writes_the_converters_bytes(tf, lesson):
    model, _, representative, files = lesson

    def convert(mode):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if mode != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if mode == "int8":
            converter.representative_dataset = lambda: iter([[representative]])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        with env.quiet_stderr():
            return converter.convert()

    for mode in litert.MODES:
        assert convert(mode) == files[mode], mode


def test_int8_input_and_output_by_hand_equal_litert_predict(lesson):
    _, split, _, files = lesson
    interp = litert.interpreter(files["int8"])
    in_scale, in_zp = interp.get_input_details()[0]["quantization"]
    out_scale, out_zp = interp.get_output_details()[0]["quantization"]
    q_in = np.clip(quantization.round_half_away(split.x_test / np.float32(in_scale)) + in_zp,
                   -128, 127).astype(np.int8)
    y = (litert.predict_int8_codes(files["int8"], q_in).astype(np.int32) - out_zp) * out_scale
    assert np.array_equal(y.astype(np.float32), litert.predict(files["int8"], split.x_test))


def test_ptq_sizes_and_accuracy(lesson):
    model, split, _, files = lesson
    keras = model.predict(split.x_test, verbose=0)
    assert np.abs(litert.predict(files["float32"], split.x_test) - keras).max() < 1e-5
    rows = {mode: quantization.table_row(mode, f, split) for mode, f in files.items()}
    assert {m: r["weight_bytes"] for m, r in rows.items()} == {
        "float32": 1284, "dynamic": 1284, "float16": 642, "int8": 420}
    assert rows["int8"]["weight_bytes"] == sizing.model_bytes(model, "int8")
    assert max(W.size for W, _ in models.dense_weights(model)) < 1024  # dynamic range skips
    assert rows["dynamic"]["tflite_bytes"] == rows["float32"]["tflite_bytes"]
    assert rows["int8"]["tflite_bytes"] > rows["float32"]["tflite_bytes"]
    assert rows["float16"]["tflite_bytes"] > rows["float32"]["tflite_bytes"]
    mse = {m: r["test_mse_vs_sin"] for m, r in rows.items()}
    assert mse["float16"] < 1.05 * mse["float32"] < 1.05 * mse["int8"]


def test_where_the_bytes_go_in_a_small_and_a_wide_network(lesson):
    """Structure and bookkeeping are fixed; weights grow with width², quantization parameters
    (12 B per channel) with width: the small file grows as int8, the wide one shrinks."""
    _, _, representative, files = lesson
    wide = models.mlp((1, 128, 128, 1), name="wide")  # sizes do not depend on training, but
    rng = np.random.default_rng(SEED)  # zero biases could be stored once: give them values
    wide.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in wide.get_weights()])
    wide_files = {mode: litert.convert(wide, mode, representative if mode == "int8" else None)
                  for mode in ("float32", "float16", "int8")}
    parts = []
    for f, width in ((files, 16), (wide_files, 128)):
        structure = len(f["float32"]) - litert.weight_bytes(f["float32"])
        params = litert.quantization_param_bytes(f["int8"])
        assert params == 12 * ((2 * width + 1) * 2 + 4)  # per channel, weights and biases
        bookkeeping = len(f["int8"]) - structure - litert.weight_bytes(f["int8"]) - params
        dequantize = len(f["float16"]) - structure - litert.weight_bytes(f["float16"])
        parts.append((structure, bookkeeping, dequantize))
        assert 0 < bookkeeping < 300
    assert parts[0] == parts[1]  # the same fixed bytes whatever the width
    assert len(files["int8"]) > len(files["float32"])
    assert len(wide_files["int8"]) < 0.4 * len(wide_files["float32"])
    assert len(wide_files["float16"]) < 0.6 * len(wide_files["float32"])


# --- sections 7, 8 and 10: calibration, QAT, fewer bits ---------------------------------------

def test_calibrating_below_pi_only_saturates_every_input_above_it(lesson):
    model, split, _, _ = lesson
    half = litert.convert(model, "int8", split.x_train[split.x_train < np.pi].reshape(-1, 1))
    grid = np.linspace(0, 2 * np.pi, 400, dtype=np.float32).reshape(-1, 1)
    assert np.unique(litert.predict(half, grid)[grid > np.pi + 0.02]).size == 1
    assert quantization.mse_vs_sin(litert.predict(half, split.x_test), split.x_test) > 0.1


def test_qat_against_ptq_and_the_same_fine_tune_in_float(tf, lesson):
    import tensorflow_model_optimization as tfmot

    model, split, representative, files = lesson

    def fine_tune(net):
        env.set_seed(SEED)
        steps = QAT_EPOCHS * int(np.ceil(len(split.x_train) / 64))
        schedule = tf.keras.optimizers.schedules.CosineDecay(QAT_LEARNING_RATE, steps)
        net.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=schedule), loss="mse")
        net.fit(split.x_train, split.y_train, epochs=QAT_EPOCHS, batch_size=64, verbose=0)

    qat = tfmot.quantization.keras.quantize_model(model)
    quantization.set_qat_ranges(qat, model, representative)
    fine_tune(qat)
    tuned = tf.keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    fine_tune(tuned)
    row = {"float32": quantization.table_row("f", files["float32"], split),
           "int8": quantization.table_row("i", files["int8"], split),
           "tuned f32": quantization.table_row("tf", litert.convert(tuned, "float32"), split),
           "tuned int8": quantization.table_row(
               "ti", litert.convert(tuned, "int8", representative), split),
           "qat int8": quantization.table_row(
               "q", litert.convert(qat, "int8", representative), split)}
    mse = {name: r["test_mse_vs_sin"] for name, r in row.items()}
    # the extra training alone moves the float model a little, either way over the seeds
    assert 0.85 < mse["tuned f32"] / mse["float32"] < 1.1
    # on seed 0 QAT wins back part of what PTQ of the same fine-tune loses (on 6 of the 10
    # stored seeds, the lesson shows)
    assert mse["tuned int8"] / mse["tuned f32"] > mse["qat int8"] / mse["tuned f32"] > 1
    assert row["qat int8"]["weight_bytes"] == 420
    assert row["qat int8"]["tflite_bytes"] < row["int8"]["tflite_bytes"]


def test_four_bit_weights_cost_accuracy(lesson):
    model, split, _, _ = lesson
    pairs = models.dense_weights(model)
    float_mse = quantization.mse_vs_sin(quantization.forward(pairs, split.x_test), split.x_test)
    four = quantization.quantize_model_weights(pairs, 4, per_channel=True)
    assert quantization.mse_vs_sin(quantization.forward(four, split.x_test),
                                   split.x_test) > 3 * float_mse


# --- going deeper ----------------------------------------------------------------------------

def test_zero_weight_zero_point_drops_two_sums():
    rng = np.random.default_rng(SEED)
    q_x, q_w = rng.integers(-128, 128, size=16), rng.integers(-127, 128, size=16)
    z_x = -128
    assert np.sum((q_x - z_x) * q_w) == np.sum(q_x * q_w) - z_x * q_w.sum()


def test_dynamic_range_float16_and_int8_tensors(tf, lesson):
    _, _, _, files = lesson
    wide = litert.convert(models.mlp((1, 32, 32, 1)), "dynamic")
    kinds = {t.shape: t.dtype for t in litert.tensor_summary(wide) if t.constant}
    assert kinds[(32, 32)] == "int8" and kinds[(32, 1)] == "float32"  # the 1,024 threshold
    assert litert.op_names(files["float16"]).count("DEQUANTIZE") == 6
    details = litert.interpreter(files["int8"]).get_tensor_details()
    channels = sum(len(d["quantization_parameters"]["scales"]) for d in details)
    assert channels == (16 + 16 + 1) * 2 + 4
    assert channels * 12 == litert.quantization_param_bytes(files["int8"])


def test_weight_rounding_is_the_costly_systematic_error(lesson):
    """The NumPy simulation matches LiteRT to a code or two; rounding the weights alone costs
    the most, and its error is one smooth curve (systematic) while the others flip sign like
    noise."""
    model, split, representative, files = lesson
    pairs = models.dense_weights(model)
    outputs, h = [representative], representative
    for i, (W, b) in enumerate(pairs):
        h = h @ W + b
        h = np.maximum(h, 0) if i < len(pairs) - 1 else h
        outputs.append(h)
    ranges = [(a.min(), a.max()) for a in outputs]
    (_, _), (out_scale, out_zp) = litert.io_quantization(files["int8"])
    codes = [quantization.quantize(y, out_scale, out_zp, 8, signed=True).astype(int)
             for y in (_simulate(pairs, ranges, split.x_test),
                       litert.predict(files["int8"], split.x_test))]
    apart = np.abs(codes[0] - codes[1])
    assert apart.max() <= 2 and np.mean(apart == 0) > 0.9
    parts = ["inputs", "weights", "activations", "output"]
    cost = {}
    fine = np.linspace(0, 2 * np.pi, 2000, dtype=np.float32).reshape(-1, 1)
    none = {part: False for part in parts}
    unrounded = _simulate(pairs, ranges, fine, **none)
    for name in [*parts, "everything"]:
        flags = {part: name in (part, "everything") for part in parts}
        cost[name] = quantization.mse_vs_sin(_simulate(pairs, ranges, split.x_test, **flags),
                                             split.x_test)
        if name in parts:
            error = (_simulate(pairs, ranges, fine, **flags) - unrounded).ravel()
            nonzero = error[np.abs(error) > 1e-6]  # as quantization.sign_changes counts
            changes = np.count_nonzero(np.diff(np.sign(nonzero)))
            rms = np.sqrt(np.mean(error**2))
            if name == "weights":
                assert changes < 10 and abs(error.mean()) > 0.5 * rms  # systematic
            else:
                assert changes > 100 and abs(error.mean()) < 0.1 * rms  # noise-like
    assert max(parts, key=cost.get) == "weights"
    ptq_int8 = quantization.table_row("i", files["int8"], split)["test_mse_vs_sin"]
    # the simulation lands a code or two from LiteRT on a few points: a few percent of MSE
    assert np.isclose(cost["everything"], ptq_int8, rtol=0.05)


def test_tfmot_starting_ranges_give_one_answer_until_calibrated(tf, lesson):
    import tensorflow_model_optimization as tfmot

    model, split, representative, files = lesson
    raw = tfmot.quantization.keras.quantize_model(model)
    raw_pred = raw(split.x_test, training=False).numpy()
    assert np.ptp(raw_pred) == 0 and quantization.mse_vs_sin(raw_pred, split.x_test) > 0.3
    calibrated = tfmot.quantization.keras.quantize_model(model)
    quantization.set_qat_ranges(calibrated, model, representative)
    start = quantization.mse_vs_sin(calibrated(split.x_test, training=False).numpy(),
                                    split.x_test)
    ptq_int8 = quantization.table_row("i", files["int8"], split)["test_mse_vs_sin"]
    assert start < 3 * ptq_int8


# --- section 9: the stored board measurement -------------------------------------------------

def test_board_measurement_is_complete_and_matches_this_model(lesson):
    """What lesson 04 prints: every board, kernel and type, and the accuracy this computer
    measures for the same model (int8 as TFLM computes it, float32 as LiteRT does)."""
    _, split, _, files = lesson
    record = quantization.board_measurements()
    assert quantization.BOARDS_FILE.parent == measurements.FOLDER
    assert record["command"] == quantization.BOARDS_COMMAND and record["seed"] == SEED
    rows = {(r["board"], r["kernel"], r["dtype"]): r for r in record["rows"]}
    assert set(rows) == {(b, k, d) for b in ("uno", "m4") for k in quantization.BOARD_KERNELS
                         for d in ("float32", "int8")}
    int8_model = dense.int8_layers(files["int8"])
    int8_mse = quantization.mse_vs_sin(
        int8_model.dequantize(tflm.run(files["int8"], int8_model.quantize(split.x_test))),
        split.x_test)
    float_mse = quantization.mse_vs_sin(litert.predict(files["float32"], split.x_test),
                                        split.x_test)
    for (board, _, dtype), r in rows.items():
        assert r["unit"] == ("cycles" if board == "uno" else "instructions")
        assert r["ram"] == r["static_ram"] + r["stack"] and r["flash"] > r["data_bytes"] > 0
        want = int8_mse if dtype == "int8" else float_mse
        assert np.isclose(r["mse_vs_sin"], want, rtol=1e-6), "rerun " + quantization.BOARDS_COMMAND
    assert rows["uno", "plain", "int8"]["cost"] < rows["uno", "plain", "float32"]["cost"]
    assert rows["uno", "course", "int8"]["cost"] < rows["uno", "course", "float32"]["cost"]
    assert rows["m4", "plain", "float32"]["cost"] < rows["m4", "plain", "int8"]["cost"]
    data = {dtype: rows["uno", "plain", dtype]["data_bytes"] for dtype in ("float32", "int8")}
    assert data["int8"] < data["float32"]


def test_board_measurement_is_what_the_boards_measure_now(lesson, tmp_path):
    missing = firmware.missing_tools("uno") + firmware.missing_tools("m4")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed ({firmware.install_hint()})")
    bench = benchmark_script.load("int8_vs_float_boards")
    record = quantization.board_measurements()
    if bench.tool_versions() != record["tools"]:
        pytest.skip("other compiler or simulator versions than the stored measurement's")
    _, split, _, files = lesson
    rows = quantization.board_rows(files["float32"], files["int8"], split.x_test,
                                   build_dir=tmp_path)
    stored = record["rows"]
    assert [{k: v for k, v in r.items() if k != "mse_vs_sin"} for r in rows] == \
        [{k: v for k, v in r.items() if k != "mse_vs_sin"} for r in stored], \
        "stored measurement is stale: rerun " + quantization.BOARDS_COMMAND
    assert np.allclose([r["mse_vs_sin"] for r in rows], [r["mse_vs_sin"] for r in stored],
                       rtol=1e-9)
