"""Unit tests for tinyml_helpers.sizing: hand-computed sizes, Keras as the reference, bad inputs."""

import numpy as np
import pytest

from tinyml_helpers import sizing

SINE = [1, 16, 16, 1]
SMALL = [3, 8, 2]


# The ``tf`` fixture (TensorFlow through env.setup(0)) comes from conftest.py.


@pytest.fixture(scope="module")
def sine_keras(tf):
    from tinyml_helpers import models
    return models.sine_model()


# --- the 1-16-16-1 sine model, every number worked out by hand ---------------------------------


def test_sine_layer_table_by_hand():
    rows = sizing.layer_table(SINE)
    got = [(r.kind, r.inputs, r.outputs, r.weights, r.biases, r.params) for r in rows]
    assert got == [
        ("input", 1, 1, 0, 0, 0),
        ("dense", 1, 16, 1 * 16, 16, 32),
        ("dense", 16, 16, 16 * 16, 16, 272),
        ("dense", 16, 1, 16 * 1, 1, 17),
    ]
    assert [r.name for r in rows] == ["input", "dense_1", "dense_2", "output"]


def test_sine_totals_by_hand():
    assert sizing.count_params(SINE) == 0 + 32 + 272 + 17 == 321
    assert sizing.count_macs(SINE) == 16 + 256 + 16 == 288


def test_sine_bytes_per_dtype_by_hand():
    assert sizing.model_bytes(SINE) == 321 * 4 == 1284  # float32 is the default
    assert sizing.model_bytes(SINE, "float32") == 1284
    assert sizing.model_bytes(SINE, "float16") == 321 * 2 == 642
    # int8 weights (16 + 256 + 16 = 288 of them) + int32 biases (16 + 16 + 1 = 33 of them)
    assert sizing.model_bytes(SINE, "int8") == 288 * 1 + 33 * 4 == 420


def test_sine_activation_memory_by_hand():
    # The largest live pair is dense_2: 16 inputs + 16 outputs.
    assert sizing.activation_values(SINE) == 16 + 16 == 32
    assert sizing.activation_bytes(SINE, "float32") == 32 * 4 == 128
    assert sizing.activation_bytes(SINE, "int8") == 32
    assert sizing.activation_bytes(SINE, "float16") == 64


def test_format_table_shows_rows_and_totals():
    lines = sizing.format_table(SINE).splitlines()
    assert len(lines) == 1 + 4 + 1  # header, 4 layers, total
    assert lines[2].split() == ["dense_1", "1->16", "16", "16", "32", "16"]
    assert lines[-1].split() == ["total", "321", "288"]


# --- another architecture: 3 inputs, 8 hidden, 2 outputs ---------------------------------------


def test_small_model_by_hand():
    weights = 3 * 8 + 8 * 2  # 24 + 16 = 40
    biases = 8 + 2
    assert sizing.count_params(SMALL) == weights + biases == 50
    assert sizing.count_macs(SMALL) == weights == 40
    assert sizing.model_bytes(SMALL, "float32") == 50 * 4 == 200
    assert sizing.model_bytes(SMALL, "float16") == 100
    assert sizing.model_bytes(SMALL, "int8") == 40 + 10 * 4 == 80
    assert sizing.activation_values(SMALL) == 3 + 8 == 11  # first layer's pair is the largest


def test_widths_accept_tuple_and_list_alike():
    assert sizing.layer_table(tuple(SMALL)) == sizing.layer_table(SMALL)


# --- Keras is the reference --------------------------------------------------------------------


def test_sine_model_agrees_with_keras(sine_keras):
    assert sine_keras.count_params() == sizing.count_params(sine_keras) == 321
    from_keras = sizing.layer_table(sine_keras)
    from_widths = sizing.layer_table(SINE)
    assert [r.params for r in from_keras] == [r.params for r in from_widths]
    assert [r.macs for r in from_keras] == [r.macs for r in from_widths]
    # Each row against the layer's own weight arrays.
    for row, layer in zip(from_keras[1:], sine_keras.layers, strict=True):
        kernel, bias = layer.get_weights()
        assert (row.weights, row.biases) == (kernel.size, bias.size)
        assert layer.count_params() == row.params


@pytest.mark.parametrize("widths", [SMALL, [1, 32, 32, 1], [2, 8, 4, 3], [5, 1]])
def test_width_lists_agree_with_keras(tf, widths):
    from tinyml_helpers import models
    model = models.mlp(widths)
    assert sizing.count_params(widths) == model.count_params() == sizing.count_params(model)


def test_keras_pass_through_layers_and_no_bias(tf):
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(4,)),
        tf.keras.layers.Dense(6, use_bias=False),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(2),
    ])
    assert sizing.count_params(model) == model.count_params() == 4 * 6 + (6 * 2 + 2) == 38
    assert sizing.model_bytes(model, "int8") == 24 + 12 + 2 * 4


# --- boards and "does it fit" ------------------------------------------------------------------


def test_board_catalogue_datasheet_values():
    uno, nano, esp = (sizing.get_board(k) for k in ("uno", "nano33ble", "esp32"))
    assert (uno.flash_bytes, uno.ram_bytes, uno.clock_hz) == (32 * 1024, 2 * 1024, 16_000_000)
    assert (nano.flash_bytes, nano.ram_bytes, nano.clock_hz) == (1024**2, 256 * 1024, 64_000_000)
    assert esp.ram_bytes == 520 * 1024 and esp.clock_hz == 240_000_000
    assert sizing.get_board("UNO") is uno  # keys are case-insensitive


def test_sine_model_fits_every_board():
    for dtype, flash, ram in (("float32", 1284, 128), ("int8", 420, 32)):
        fits = sizing.fit_report(SINE, dtype)
        assert [f.board.name for f in fits] == [b.name for b in sizing.BOARDS.values()]
        assert all(f.fits for f in fits)
        assert {(f.flash_needed, f.ram_needed) for f in fits} == {(flash, ram)}


def test_check_fit_limits_are_inclusive_and_fail_when_exceeded():
    two_kb = 2 * 1024
    assert sizing.check_fit(32 * 1024, two_kb, "uno").fits
    over_ram = sizing.check_fit(100, two_kb + 1, "uno")
    assert over_ram.fits_flash and not over_ram.fits_ram and not over_ram.fits
    over_flash = sizing.check_fit(32 * 1024 + 1, 0, "uno")
    assert not over_flash.fits_flash and over_flash.fits_ram and not over_flash.fits


def test_check_fit_accepts_numpy_integers():
    fit = sizing.check_fit(np.int64(1284), np.int32(128), "uno")
    assert fit.fits and type(fit.flash_needed) is int


def test_widest_square_model_for_uno_ram():
    # 1-N-N-1 has N*N + 4N + 1 parameters; float32 must stay within 2 KB = 512 values.
    widths_that_fit = [
        n for n in range(1, 64)
        if sizing.check_fit(0, sizing.model_bytes([1, n, n, 1]), "uno").fits_ram
    ]
    assert max(widths_that_fit) == 20  # 20*20 + 80 + 1 = 481 <= 512 < 21*21 + 84 + 1 = 526


def test_format_fits_names_what_is_too_small():
    text = sizing.format_fits(sizing.fit_report([1, 128, 128, 1], "float32"))
    lines = text.splitlines()
    assert lines[1].startswith("Arduino Uno") and lines[1].endswith("no: too little flash")
    assert lines[2].endswith("yes") and lines[3].endswith("yes")


def test_format_boards_lists_every_board():
    text = sizing.format_boards()
    for key, board in sizing.BOARDS.items():
        assert key in text and board.name in text
    assert "16 MHz" in text and "2 KB" in text


def test_human_bytes():
    assert sizing.human_bytes(420) == "420 B"
    assert sizing.human_bytes(1284) == "1.3 KB"
    assert sizing.human_bytes(17_015_456) == "16.2 MB"


# --- bad inputs fail loudly, naming the problem ------------------------------------------------


def test_unknown_board_is_rejected():
    with pytest.raises(ValueError, match=r"unknown board 'pico'.*uno"):
        sizing.get_board("pico")
    with pytest.raises(ValueError, match="unknown board"):
        sizing.check_fit(10, 10, "arduino uno")


def test_unsupported_keras_layer_is_rejected(tf):
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8, 1)),
        tf.keras.layers.Conv2DTranspose(4, 3, name="deconv"),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(1),
    ])
    with pytest.raises(TypeError, match="layer 'deconv' is a Conv2DTranspose"):
        sizing.count_params(model)


def test_a_cnn_is_sized_like_keras_counts_it(tf):
    L = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8, 1)),
        L.Conv2D(8, 3, padding="same", name="conv1"), L.MaxPooling2D(2, name="pool"),
        L.DepthwiseConv2D(3, depth_multiplier=2, name="dw"), L.AveragePooling2D(2, name="avg"),
        L.Flatten(), L.Dense(10, name="out")])
    rows = {r.name: r for r in sizing.layer_table(model)}
    assert sizing.count_params(model) == model.count_params()
    # conv1: 3*3*1*8 weights at 8*8 positions; dw: 3*3*8*2 weights at 2*2 positions
    assert rows["conv1"].macs == 72 * 64 and rows["conv1"].shape == (8, 8, 8)
    assert rows["dw"].macs == 144 * 4 and rows["dw"].shape == (2, 2, 16)
    assert rows["pool"].macs == 0 and rows["pool"].inputs == 512 and rows["pool"].outputs == 128
    assert rows["out"].inputs == 16 and rows["out"].macs == 160
    # the largest input + output pair: the pool reads 512 values and writes 128
    assert sizing.activation_values(model) == 640
    assert "8x8x8" in sizing.format_table(model)


def test_dense_after_an_unflattened_map_is_rejected(tf):
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8, 1)), tf.keras.layers.Conv2D(2, 3, name="c"),
        tf.keras.layers.Dense(3, name="d")])
    with pytest.raises(TypeError, match="flat input to Dense layer 'd'.*Flatten"):
        sizing.count_params(model)


def test_non_flat_input_is_rejected(tf):
    # Dense on (steps, features) runs once per step: params match Keras but MACs would not.
    model = tf.keras.Sequential([tf.keras.Input(shape=(4, 3)), tf.keras.layers.Dense(2)])
    with pytest.raises(TypeError, match=r"flat \(batch, features\) input"):
        sizing.count_macs(model)


def test_branching_model_is_rejected(tf):
    x = tf.keras.Input(shape=(3,))
    a = tf.keras.layers.Dense(5, name="a")(x)
    b = tf.keras.layers.Dense(7, name="b")(x)  # also reads x, not a
    model = tf.keras.Model(x, [a, b])
    with pytest.raises(TypeError, match="single chain.*'b' takes 3 inputs"):
        sizing.layer_table(model)


def test_unbuilt_model_is_rejected(tf):
    model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no input shape yet"):
        sizing.count_params(model)


def test_not_a_model_is_rejected():
    with pytest.raises(TypeError, match="list of layer widths or a Keras model, got str"):
        sizing.count_params("1-16-16-1")


@pytest.mark.parametrize(
    ("widths", "error", "message"),
    [
        ([1, -16, 1], ValueError, "must be positive, got -16"),
        ([1, 0, 1], ValueError, "must be positive, got 0"),
        ([1], ValueError, "at least an input and an output"),
        ([1, 16.0, 1], TypeError, "must be ints"),
    ],
)
def test_bad_widths_are_rejected(widths, error, message):
    with pytest.raises(error, match=message):
        sizing.count_params(widths)


@pytest.mark.parametrize("func", [sizing.model_bytes, sizing.activation_bytes, sizing.fit_report])
def test_unknown_dtype_is_rejected(func):
    with pytest.raises(ValueError, match=r"unknown dtype 'int4'.*float32"):
        func(SINE, "int4")


def test_negative_bytes_are_rejected():
    with pytest.raises(ValueError, match="flash_needed must be >= 0 bytes, got -1"):
        sizing.check_fit(-1, 0, "uno")
    with pytest.raises(ValueError, match="ram_needed must be >= 0 bytes, got -5"):
        sizing.check_fit(0, -5, "esp32")


@pytest.mark.parametrize("value", [1.5, "100", True])
def test_non_integer_bytes_are_rejected(value):
    with pytest.raises(TypeError, match="must be an int number of bytes"):
        sizing.check_fit(value, 0, "uno")
