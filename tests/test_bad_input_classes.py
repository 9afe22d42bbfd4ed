"""Whole classes of bad input that used to slip through, each now refused where the value is
made, with a ValueError that says what is wrong:

1. a Keras model with NaN or inf weights (``litert.convert`` in every mode), and an "int8"
   conversion that comes out partly float;
2. a Wokwi circuit with an LED wired in reverse or a supply pin wired (directly or through a
   chain of wires) to a ground pin;
3. an output path that runs through an existing regular file;
4. a data set too small for its train/validation/test split (a part would be empty);
5. a count or size so large that NumPy would run out of memory.

Valid input next to each class must keep working exactly as before: the course's diagrams,
its sine and CNN conversions, fraction-0 splits, the sizes the lessons use.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers import anomaly, data, sine_projects, vibration
from tinyml_helpers.deploy import (
    dense,
    export,
    files,
    graph,
    hello_world,
    litert,
    self_test,
    wokwi,
)

NAN, INF = float("nan"), float("inf")
REP = np.linspace(0, 2 * np.pi, 64, dtype=np.float32).reshape(-1, 1)


# --- 1. non-finite weights and half-int8 conversions ------------------------------------------

def _dense_model(tf, name="m"):
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                tf.keras.layers.Dense(4, activation="relu", name="hidden"),
                                tf.keras.layers.Dense(1, name="out")], name=name)


def _with_bad_value(model, layer: str, which: int, value: float):
    weights = model.get_layer(layer).get_weights()
    weights[which].flat[0] = value
    model.get_layer(layer).set_weights(weights)
    return model


@pytest.fixture(scope="module")
def nested_nan(tf):
    """A functional model holding a Sequential whose inner Dense has a NaN kernel."""
    inner = tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                 tf.keras.layers.Dense(3, name="inner_dense")], name="block")
    _with_bad_value(inner, "inner_dense", 0, NAN)
    x = tf.keras.Input((1,))
    return tf.keras.Model(x, tf.keras.layers.Dense(1, name="head")(inner(x)))


@pytest.mark.parametrize("mode", litert.MODES)
@pytest.mark.parametrize("layer,which,value,variable", [
    ("hidden", 0, NAN, "hidden/kernel"), ("out", 1, INF, "out/bias"),
    ("hidden", 1, -INF, "hidden/bias")])
def test_convert_refuses_non_finite_weights_in_every_mode(tf, mode, layer, which, value,
                                                          variable):
    model = _with_bad_value(_dense_model(tf), layer, which, value)
    with pytest.raises(ValueError) as info:
        litert.convert(model, mode, REP if mode == "int8" else None)
    message = str(info.value)
    assert f"layer {layer!r}" in message and f"weight {variable!r}" in message
    assert "NaN or inf in 1 of its" in message and "retrain" in message


def test_convert_names_the_innermost_layer_of_a_nested_model(nested_nan):
    with pytest.raises(ValueError, match=r"layer 'inner_dense': weight 'inner_dense/kernel'"):
        litert.convert(nested_nan, "float32")


def test_convert_refuses_a_float64_weight_too_large_for_float32(tf):
    model = tf.keras.Sequential([tf.keras.layers.Input((1,)),
                                 tf.keras.layers.Dense(2, dtype="float64", name="wide")])
    _with_bad_value(model, "wide", 0, 1e300)
    with pytest.raises(ValueError, match="too large for float32"):
        litert.convert(model, "float32")


def test_a_nan_model_used_to_come_out_half_float_and_is_now_caught_there_too(tf, monkeypatch):
    """With the weight check switched off, the converter's mixed result must still be
    refused by the full-int8 check (it used to be returned with a float output)."""
    model = _with_bad_value(_dense_model(tf), "hidden", 0, NAN)
    monkeypatch.setattr(litert, "_check_finite_weights", lambda model: None)
    with pytest.raises(ValueError) as info:
        litert.convert(model, "int8", REP)
    message = str(info.value)
    assert "did not give a full-int8 model" in message
    assert "float32" in message and "model output" in message


def test_int8_conversion_with_a_float_only_operator_is_refused(tf):
    model = tf.keras.Sequential([tf.keras.layers.Input((1,)), tf.keras.layers.Dense(4),
                                 tf.keras.layers.Lambda(tf.math.sin, name="sine"),
                                 tf.keras.layers.Dense(1)])
    with pytest.raises(ValueError) as info:
        litert.convert(model, "int8", REP)
    message = str(info.value)
    assert "did not give a full-int8 model" in message
    assert "Operators left in float: SIN." in message and "output of SIN" in message
    assert "mode='float32'" in message
    litert.convert(model, "float32")  # the float conversion of the same model is fine


def test_the_full_int8_check_lists_a_float_model_everywhere(tf):
    bad, float_ops = litert._not_full_int8(litert.convert(_dense_model(tf), "float32"))
    assert any("model input" in b for b in bad) and any("model output" in b for b in bad)
    assert any("weights of FULLY_CONNECTED" in b for b in bad)
    assert float_ops == ["FULLY_CONNECTED"]


def _cnn(L):
    return [L.Conv2D(4, 3, activation="relu"), L.MaxPool2D(2),
            L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6"),
            L.AveragePooling2D(2, padding="same"), L.Flatten(), L.Dense(6), L.Softmax()]


def _conv1d(L):
    return [L.Conv1D(3, 3, padding="same", activation="relu"), L.MaxPool1D(2), L.Flatten(),
            L.Dense(2)]


@pytest.mark.parametrize("shape,layers,per_channel", [
    ((1,), lambda L: [L.Dense(16, activation="relu"), L.Dense(16, activation="relu"),
                      L.Dense(1)], True),
    ((1,), lambda L: [L.Dense(16, activation="relu"), L.Dense(1)], False),
    ((12,), lambda L: [L.Dense(8, activation="relu"), L.Dense(4, activation="relu"),
                       L.Dense(8, activation="relu"), L.Dense(12)], True),
    ((8, 8, 1), _cnn, True),
    ((12, 2), _conv1d, True),
], ids=["sine", "sine-per-tensor", "fan-autoencoder", "cnn", "conv1d"])
def test_the_course_kinds_of_model_still_convert_to_full_int8(tf, shape, layers, per_channel):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input(shape)] + layers(tf.keras.layers))
    rep = np.random.default_rng(0).normal(size=(32, *shape)).astype(np.float32)
    tflite = litert.convert(model, "int8", rep, per_channel=per_channel)
    assert litert._not_full_int8(tflite) == ([], [])
    assert set(litert.dtypes(tflite).split("+")) <= {"int8", "int32"}


# --- 2. Wokwi circuit faults ---------------------------------------------------------------

BOARDS = {"esp32": ("esp", "2", "GND.3"), "uno": ("uno", "11", "GND.1")}


def _error(doc) -> str:
    with pytest.raises(ValueError) as info:
        wokwi.validate(doc)
    return str(info.value)


@pytest.mark.parametrize("board", BOARDS)
def test_an_led_wired_in_reverse_is_named(board):
    bid, pin, ground = BOARDS[board]
    doc = wokwi.led_diagram(board, pin)
    doc["connections"][3] = ["r1:2", "led1:C", "green", []]
    doc["connections"][4] = ["led1:A", f"{bid}:{ground}", "black", []]
    message = _error(doc)
    assert f"LED 'led1' is wired in reverse: its anode (A) reaches ground ({bid}:{ground})" \
        in message
    assert f"its cathode (C) reaches {bid}:{pin}" in message
    assert "Swap the wires on led1:A and led1:C" in message


def test_a_reversed_led_is_found_through_the_resistor_on_either_side():
    doc = wokwi.led_diagram("esp32", "2")
    doc["connections"][2:] = [["esp:2", "led1:C", "", []], ["led1:A", "r1:1", "", []],
                              ["r1:2", "esp:GND.1", "", []]]
    assert "anode (A) reaches ground (esp:GND.1)" in _error(doc)


def test_an_led_with_its_anode_on_ground_and_its_cathode_loose_is_named():
    doc = wokwi.led_diagram("uno", "11")
    doc["connections"][3:] = [["led1:A", "uno:GND.2", "black", []]]
    assert "its cathode (C) reaches no ground" in _error(doc)


@pytest.mark.parametrize("board_type", sorted(wokwi.BOARD_SUPPLY_PINS))
def test_every_supply_pin_wired_to_every_ground_pin_is_a_short(board_type):
    board = "esp32" if board_type.startswith("board-esp32") else "uno"
    bid = BOARDS[board][0]
    for supply, ground in itertools.product(sorted(wokwi.BOARD_SUPPLY_PINS[board_type]),
                                            sorted(wokwi.BOARD_GROUND_PINS[board_type])):
        doc = wokwi.led_diagram(board, BOARDS[board][1])
        doc["connections"].append([f"{bid}:{supply}", f"{bid}:{ground}", "red", []])
        found = wokwi.problems(doc)
        assert len(found) == 1, found
        assert found[0].startswith(f"short circuit: supply pin {bid}:{supply} wired to "
                                   f"ground ({bid}:{ground})")


def test_a_short_through_a_chain_of_wires_is_found():
    doc = wokwi.led_diagram("esp32", "2")
    doc["parts"].append(wokwi.part("wokwi-resistor", "r2", 200, 0, value="1000"))
    # 5V -> r2:1 -> esp:GND.1: two wires meeting at a pin, no part in between
    doc["connections"] += [["esp:5V", "r2:1", "red", []], ["r2:1", "esp:GND.1", "black", []]]
    message = _error(doc)
    assert "short circuit: supply pin esp:5V wired to ground (esp:GND.1)" in message
    assert "esp:5V - esp:GND.1 - r2:1" in message


def test_a_short_onto_the_leds_ground_wire_is_found():
    doc = wokwi.led_diagram("uno", "11")
    doc["connections"].append(["uno:3.3V", "led1:C", "red", []])
    assert "supply pin uno:3.3V wired to ground (uno:GND.1)" in _error(doc)


@pytest.mark.parametrize("connections", [
    # resistor on the cathode side
    [["esp:2", "led1:A", "", []], ["led1:C", "r1:1", "", []], ["r1:2", "esp:GND.2", "", []]],
    # LED sinking into a GPIO: 3V3 -> resistor -> anode, cathode -> GPIO
    [["esp:3V3", "r1:1", "", []], ["r1:2", "led1:A", "", []], ["led1:C", "esp:4", "", []]],
    # a resistor from the supply to ground is a load, not a short
    [["esp:2", "led1:A", "", []], ["led1:C", "esp:GND.1", "", []], ["esp:5V", "r1:1", "", []],
     ["r1:2", "esp:GND.2", "", []]],
    # ground pins tied together
    [["esp:2", "r1:1", "", []], ["r1:2", "led1:A", "", []], ["led1:C", "esp:GND.1", "", []],
     ["esp:GND.1", "esp:GND.2", "", []]],
], ids=["cathode-resistor", "sinking", "supply-load", "grounds-tied"])
def test_sound_circuits_still_validate(connections):
    doc = wokwi.led_diagram("esp32", "2")
    doc["connections"][2:] = connections
    wokwi.validate(doc)


@pytest.mark.parametrize("board,pin", [("esp32", p) for p in ("2", "4", "13", "23")]
                         + [("uno", p) for p in ("3", "9", "11", "13", "A0")])
def test_led_diagrams_still_validate(board, pin):
    wokwi.validate(wokwi.led_diagram(board, pin))


def test_the_committed_diagrams_still_validate(capsys):
    from pathlib import Path
    committed = sorted((Path(__file__).resolve().parents[1] / "wokwi").glob("*/diagram.json"))
    assert committed
    assert wokwi.main(["validate", *map(str, committed)]) == 0
    assert capsys.readouterr().out.count("ok: ") == len(committed)


def test_circuit_problems_come_with_the_others_and_in_a_stable_order():
    doc = wokwi.led_diagram("esp32", "2")
    doc["connections"][3] = ["r1:2", "led1:C", "green", []]
    doc["connections"][4] = ["led1:A", "esp:GND.3", "black", []]
    doc["connections"] += [["esp:5V", "esp:GND.1", "", []], ["esp:3V3", "esp:GND.2", "", []],
                           ["led1:Q", "esp:2", "", []]]
    found = wokwi.problems(doc)
    assert len(found) == 4
    assert "has no pin 'Q'" in found[0]
    assert found[1].startswith("short circuit: supply pin esp:3V3")
    assert found[2].startswith("short circuit: supply pin esp:5V")
    assert found[3].startswith("LED 'led1' is wired in reverse")
    assert wokwi.problems(copy.deepcopy(doc)) == found


# --- 3. output paths through a regular file ------------------------------------------------

@pytest.fixture
def blocker(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me", encoding="utf-8")
    return path


@pytest.mark.parametrize("make", [
    lambda b: files.write_atomic(b / "out.txt", "x"),
    lambda b: files.write_atomic(b / "deeper" / "still" / "out.txt", b"x"),
    lambda b: files.write_atomic(str(b / "out.txt"), "x"),
    lambda b: files.write_files(b / "project", {"a.h": "x", "b.c": "y"}),
    lambda b: files.write_files(b / "a" / "b", {"a.h": "x"}),
    lambda b: files.new_folder_beside(b / "project"),
    lambda b: files.new_folder_beside(b / "a" / "project"),
], ids=["atomic", "atomic-deep", "atomic-str", "set", "set-deep", "staging", "staging-deep"])
def test_a_file_in_the_way_of_an_output_path_is_named(blocker, make):
    with pytest.raises(ValueError) as info:
        make(blocker)
    message = str(info.value)
    assert f"{blocker} is a file, not a folder" in message and "cannot create" in message
    assert blocker.read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in blocker.parent.iterdir()) == ["notes.txt"]


def test_litert_save_under_a_file_is_named(tf, blocker):
    tflite = litert.convert(_dense_model(tf), "float32")
    with pytest.raises(ValueError, match=f"{blocker} is a file, not a folder"):
        litert.save(tflite, blocker / "model.tflite")
    assert blocker.read_text(encoding="utf-8") == "keep me"


def test_file_in_the_way_finds_only_real_blockers(tmp_path, blocker):
    assert files.file_in_the_way(blocker / "a" / "b") == blocker
    assert files.file_in_the_way(blocker) is None  # the path itself may be a file
    assert files.file_in_the_way(tmp_path / "new" / "x.txt") is None
    # the ordinary cases still behave as before
    assert files.write_atomic(tmp_path / "x.txt", "a").read_text() == "a"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        files.write_atomic(tmp_path / "missing" / "x.txt", "a")
    assert [p.name for p in files.write_files(tmp_path / "new" / "dir", {"a.h": "x"})] == ["a.h"]


# --- 4. splits too small for their fractions --------------------------------------------------

@pytest.mark.parametrize("n,fractions,parts", [
    (1, (0.6, 0.2, 0.2), "train would get 1, validation 0 and test 0 samples"),
    (2, (0.6, 0.2, 0.2), "train would get 1, validation 0 and test 1 samples"),
    (3, (0.6, 0.2, 0.2), "train would get 2, validation 1 and test 0 samples"),
    (10, (0.55, 0.4, 0.05), "train would get 6, validation 4 and test 0 samples"),
    (10, (0.01, 0.5, 0.49), "train would get 0, validation 5 and test 5 samples"),
    (3, (0.5, 0.5, 0.0), "train would get 2, validation 2 and test -1 samples"),
])
def test_a_split_with_an_empty_part_is_refused(n, fractions, parts):
    with pytest.raises(ValueError) as info:
        data.split_sizes(n, fractions)
    message = str(info.value)
    assert f"num_samples={n} is too few" in message and parts in message


def test_the_message_says_how_many_samples_would_do():
    with pytest.raises(ValueError, match=r"4 samples would give 2, 1, 1"):
        data.split_sizes(3)
    with pytest.raises(ValueError, match=r"11 samples would give 6, 4, 1"):
        data.split_sizes(10, (0.55, 0.4, 0.05))


@pytest.mark.parametrize("call", [
    lambda: data.split(np.arange(3.0), np.arange(3.0)),
    lambda: data.sine_dataset(3),
    lambda: data.sine_dataset(10, fractions=(0.55, 0.4, 0.05)),
], ids=["split", "sine_dataset", "sine_dataset-fractions"])
def test_split_and_sine_dataset_refuse_too_few_samples(call):
    with pytest.raises(ValueError, match="is too few for fractions"):
        call()


def test_valid_splits_are_unchanged():
    for n in range(4, 600):
        sizes = data.split_sizes(n)
        assert min(sizes) > 0 and sum(sizes) == n
        assert sizes == (round(0.6 * n), round(0.2 * n), n - round(0.6 * n) - round(0.2 * n))
    assert data.split_sizes(5, (1.0, 0.0, 0.0)) == (5, 0, 0)  # a part not asked for
    assert data.split_sizes(4, (0.5, 0.5, 0.0)) == (2, 2, 0)
    assert data.sine_dataset(10).sizes() == (6, 2, 2)


def test_the_fan_data_set_split_is_never_empty():
    fan = vibration.dataset(5, 1, seed=0)
    assert len(fan.x_train) == 4 * 3 and len(fan.x_val) == 4 and len(fan.y_test) == 4 + 3
    with pytest.raises(ValueError, match="normal_per_speed must be >= 5"):
        vibration.dataset(4, 1)


# --- 5. counts and sizes too large to allocate -------------------------------------------------

BIG = 10**12
SIZE_CASES = [
    ("sine_samples", lambda: data.sine_samples(BIG), "num_samples must be at most 10,000,000"),
    ("sine_dataset", lambda: data.sine_dataset(BIG), "num_samples must be at most 10,000,000"),
    ("windows", lambda: vibration.windows("low", BIG), "at most 5,000,000 samples per axis"),
    ("windows-count-and-length", lambda: vibration.windows(
        "low", 30_000, config=vibration.FanConfig(num_samples=200)),
     "(25,000 windows of 200)"),
    ("fan-config", lambda: vibration.FanConfig(num_samples=BIG),
     "num_samples must be at most 5,000,000 samples per window"),
    ("dataset-normal", lambda: vibration.dataset(BIG), "normal_per_speed = 1,000,000,000,000"),
    ("dataset-anomalous", lambda: vibration.dataset(10, BIG), "anomalous_per_speed ="),
    ("dataset-test", lambda: vibration.dataset(10, 4, test_normal_per_speed=BIG),
     "test_normal_per_speed ="),
    ("dft_bins", lambda: vibration.dft_bins(BIG, 200.0, (1, 5)),
     "num_samples must be at most 10,000,000"),
    ("kmeans", lambda: anomaly.kmeans(np.zeros((100_000, 12)), 100),
     "at most 20,000,000 are allowed"),
    ("autoencoder-features", lambda: anomaly.build_autoencoder(BIG),
     "at most 10,000,000 are allowed"),
    ("autoencoder-hidden", lambda: anomaly.build_autoencoder(12, hidden=(10**9,)),
     "an autoencoder 12-1000000000-12 would have"),
    ("dataset", lambda: vibration.dataset(normal_per_speed=BIG), "normal_per_speed ="),
    ("spread_inputs", lambda: self_test.spread_inputs(BIG), "n_inputs must be at most 65,536"),
    ("sketch_x", lambda: hello_world.sketch_x(BIG), "steps must be in 1..100000"),
]


@pytest.mark.parametrize("call,fragment", [case[1:] for case in SIZE_CASES],
                         ids=[case[0] for case in SIZE_CASES])
def test_a_huge_count_is_refused_before_allocating(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


def test_sizes_at_the_bounds_are_still_accepted():
    assert self_test.spread_inputs(self_test.MAX_INPUTS, count=1).shape == (1, 65_536)
    assert len(vibration.dft_bins(vibration.MAX_DFT_SAMPLES, 200.0, (1.5, 5.0))) > 0
    config = vibration.FanConfig(num_samples=vibration.MAX_WINDOW_SAMPLES // 10)
    assert vibration._check_window_count("count", 10, config) == 10
    centres, labels = anomaly.kmeans(np.random.default_rng(0).normal(size=(1000, 4)), 5)
    assert centres.shape == (5, 4) and labels.shape == (1000,)


def test_auc_rank_counts_in_blocks_with_the_same_result(monkeypatch):
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=700), 1)  # rounding makes ties
    labels = (rng.uniform(size=700) < 0.3).astype(int)
    pos, neg = scores[labels == 1], scores[labels == 0]
    expected = float(((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum())
                     / (len(pos) * len(neg)))
    assert anomaly.auc_rank(scores, labels) == expected
    monkeypatch.setattr(anomaly, "_RANK_BLOCK", 1000)  # two positives per block
    assert anomaly.auc_rank(scores, labels) == expected


# --- found by the round above, closed in the deploy core ---------------------------------------

def test_all_int8_codes_refuses_unbounded_sizes_before_allocating():
    for kwargs in ({"n_inputs": 10**12}, {"n_inputs": 64, "extra_random": 10**12}):
        with pytest.raises(ValueError, match="at most 65,536 inputs and 16,000,000 codes"):
            dense.all_int8_codes(**kwargs)
    assert dense.all_int8_codes(2, 4).shape == (260, 2)


def test_a_tflite_with_non_finite_float_weights_is_refused_when_read():
    """A float .tflite made elsewhere, with a NaN in its weights: graph.read (and so the C
    export) names the tensor instead of writing NaN into C."""
    data = bytearray((Path(__file__).resolve().parents[1] / "arduino" / "hello_world_plain"
                      / "sine_float.tflite").read_bytes())
    g = graph.read(bytes(data))
    weights = next(t for t in g.tensors if t.data is not None and t.data.size == 16 * 16)
    raw = weights.data.tobytes()
    at = bytes(data).index(raw)
    data[at:at + 4] = np.array([np.nan], dtype=np.float32).tobytes()
    for call in (graph.read, export.plain_c_files):
        with pytest.raises(ValueError, match=f"{weights.name!r} holds 1 NaN or inf"):
            call(bytes(data))


def test_a_model_too_big_for_the_uno_is_refused_before_any_compiler():
    """The plain sketch builds for the Uno: a model whose constants cannot fit its flash is
    refused while the project is made, naming the board, not by avr-gcc's "size of array"."""
    plain = Path(__file__).resolve().parents[1] / "arduino" / "hello_world_plain"
    float_tflite = (plain / sine_projects.FLOAT_NAME).read_bytes()
    int8_tflite = (plain / sine_projects.INT8_NAME).read_bytes()
    rng = np.random.default_rng(0)
    wide = dense.from_pairs([(rng.normal(size=(1, 128)), np.zeros(128)),
                             (rng.normal(size=(128, 128)), np.zeros(128)),
                             (rng.normal(size=(128, 1)), np.zeros(1))])
    models = sine_projects.Models(float_tflite, int8_tflite, wide, dense.int8_layers(int8_tflite),
                                  1344)
    with pytest.raises(ValueError, match=r"do not fit the 32,256 B of flash of the Arduino Uno"):
        sine_projects.arduino_projects(models)


@pytest.mark.parametrize("weight, fragment", [(0.0, "too small for TFLM's int8 softmax"),
                                              (3000.0, "too large for the int8 softmax")])
def test_a_softmax_input_scale_outside_the_kernels_is_refused_when_read(tf, weight, fragment):
    """Logits that never vary in calibration (TFLM aborts on them) or that span thousands (TFLM
    saturates them; the kernels here stop below 2^30): graph.read names the op and the scale."""
    keras = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(5),
                                 tf.keras.layers.Softmax()])
    keras.set_weights([np.full((4, 5), weight, np.float32) * np.arange(5, dtype=np.float32),
                       np.zeros(5, np.float32)])
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 4)).astype(np.float32)
    tflite = litert.convert(keras, "int8", x)
    with pytest.raises(ValueError, match=rf"operator 1 \(SOFTMAX\): .*{fragment}"):
        graph.read(tflite)
