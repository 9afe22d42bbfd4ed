"""What lessons 02 and 03 tell the student, recomputed from the package's helpers and checked
against trusted references (Keras' own counts and shapes, TensorFlow's converter, the LiteRT
interpreter, NumPy, SciPy, the MobileNet paper's layer table). The lessons keep only the few
checks that teach; the rest of what their prose and printouts claim is held here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse
from numpy_mlp import forward

from tinyml_helpers import models, pruning, sizing
from tinyml_helpers.deploy import litert

WIDTHS = [1, 16, 16, 1]
BOARDS = sizing.BOARDS
KB = 1024

# --- lesson 02: how big is the network? ---------------------------------------------------------


@pytest.fixture(scope="module")
def sine_keras(tf):
    """Lesson 02's untrained 1-16-16-1 network, built layer by layer with Keras."""
    return tf.keras.Sequential([
        tf.keras.Input(shape=(1,)),
        tf.keras.layers.Dense(16, activation="relu", name="dense_1"),
        tf.keras.layers.Dense(16, activation="relu", name="dense_2"),
        tf.keras.layers.Dense(1, name="output"),
    ], name="sine")


def _numpy_bytes(model, dtype: str) -> int:
    """Bytes of the model's kernels and biases cast to ``dtype`` by NumPy (int8: int32 biases)."""
    total = 0
    for kernel, bias in models.dense_weights(model):
        if dtype == "int8":
            total += kernel.astype(np.int8).nbytes + bias.astype(np.int32).nbytes
        else:
            total += kernel.astype(dtype).nbytes + bias.astype(dtype).nbytes
    return total


def test_02_parameters_per_layer_are_what_keras_counts(sine_keras):
    table = sizing.layer_table(WIDTHS)
    keras_counts = [layer.count_params() for layer in sine_keras.layers]
    numpy_counts = [kernel.size + bias.size for kernel, bias in models.dense_weights(sine_keras)]
    assert table[0].params == 0  # the input holds the incoming value, nothing stored
    assert [row.params for row in table[1:]] == keras_counts == numpy_counts
    for row, (kernel, bias) in zip(table[1:], models.dense_weights(sine_keras), strict=True):
        assert (row.weights, row.biases) == (kernel.size, bias.size)
        assert kernel.shape == (row.inputs, row.outputs) and bias.shape == (row.outputs,)
    total = sine_keras.count_params()
    assert sizing.count_params(WIDTHS) == sizing.count_params(sine_keras) == total
    # lesson 01's helper builds the same layers
    assert [layer.count_params() for layer in models.sine_model().layers] == keras_counts
    # "most of them in the middle layer"
    assert max(keras_counts) == keras_counts[1] and keras_counts[1] / total > 0.8


def test_02_keras_summary_kb_is_the_float32_bytes(sine_keras):
    lines = []
    sine_keras.summary(print_fn=lines.append)
    total = sizing.count_params(WIDTHS)
    kb = sizing.model_bytes(WIDTHS, "float32") / KB
    assert f"Total params: {total} ({kb:.2f} KB)" in "\n".join(lines)
    assert sizing.model_bytes(WIDTHS, "float32") == total * 4


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_02_bytes_per_type_are_numpys(sine_keras, dtype):
    expected = _numpy_bytes(sine_keras, dtype)
    assert sizing.model_bytes(WIDTHS, dtype) == sizing.model_bytes(sine_keras, dtype) == expected
    table = sizing.layer_table(WIDTHS)
    weights, biases = sum(r.weights for r in table), sum(r.biases for r in table)
    if dtype == "int8":  # int32 biases cost 3 bytes more each than int8 ones would
        assert expected - (weights + biases) == 3 * biases
        ratio = expected / _numpy_bytes(sine_keras, "float32")
        assert 0.25 < ratio and round(ratio, 2) == round(1 / 3, 2)  # "a third, not a quarter"


def test_02_sixteen_int8_products_need_an_int32_accumulator():
    products = np.full(16, np.int32(-128) * np.int32(-128))
    assert products.sum() > np.iinfo(np.int16).max  # would wrap around in an int16
    assert products.astype(np.int16).sum(dtype=np.int16) != products.sum()
    assert products.sum() < np.iinfo(np.int32).max


def test_02_activation_ram_is_the_largest_input_plus_output(sine_keras):
    pairs = [int(layer.input.shape[-1]) + int(layer.output.shape[-1])
             for layer in sine_keras.layers]
    assert [r.inputs + r.outputs for r in sizing.layer_table(WIDTHS)[1:]] == pairs
    assert sizing.activation_values(WIDTHS) == sizing.activation_values(sine_keras) == max(pairs)
    assert sizing.activation_bytes(WIDTHS, "float32") == max(pairs) * np.float32().nbytes
    assert sizing.activation_bytes(WIDTHS, "int8") == max(pairs) * np.int8().nbytes


def test_02_one_mac_per_weight_and_the_hand_inference_is_keras(tf, sine_keras):
    model = tf.keras.models.clone_model(sine_keras)  # the lesson gives it random biases
    kernels = [kernel for kernel, _ in models.dense_weights(model)]
    assert [r.macs for r in sizing.layer_table(WIDTHS)[1:]] == [k.size for k in kernels]
    assert sizing.count_macs(WIDTHS) == sizing.count_macs(model) == sum(k.size for k in kernels)
    # "A fresh Keras layer starts with zero biases"
    assert not any(bias.any() for _, bias in models.dense_weights(model))
    rng = np.random.default_rng(0)
    model.set_weights([w if w.ndim == 2 else rng.normal(0, 0.1, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    x = np.linspace(0, 2 * np.pi, 50, dtype=np.float32).reshape(-1, 1)
    h = x
    for i, (kernel, bias) in enumerate(models.dense_weights(model)):
        h = h @ kernel + bias
        h = np.maximum(h, 0) if i < 2 else h
    np.testing.assert_allclose(h, model.predict(x, verbose=0), atol=1e-5)


# The rule of thumb lesson 02 quotes for a typical microcontroller.
TYPICAL_RAM_KB, TYPICAL_FLASH_KB, TYPICAL_CLOCK_MHZ = (2, 256), 1024, (16, 200)


def test_02_which_board_sits_where_in_the_typical_range():
    uno, nano, esp32 = BOARDS["uno"], BOARDS["nano33ble"], BOARDS["esp32"]
    # memory: the Uno and the Nano 33 BLE are the two ends of the RAM range, the Nano the top of
    # the flash range
    assert (uno.ram_bytes, nano.ram_bytes) == tuple(n * KB for n in TYPICAL_RAM_KB)
    assert nano.flash_bytes == TYPICAL_FLASH_KB * KB
    # clock: only the Uno is at an end; the Nano lies inside
    mhz = 1_000_000
    assert uno.clock_hz == TYPICAL_CLOCK_MHZ[0] * mhz
    assert TYPICAL_CLOCK_MHZ[0] * mhz < nano.clock_hz < TYPICAL_CLOCK_MHZ[1] * mhz
    # the ESP32 is above the range in all three
    assert esp32.ram_bytes > TYPICAL_RAM_KB[1] * KB and esp32.flash_bytes > TYPICAL_FLASH_KB * KB
    assert esp32.clock_hz > TYPICAL_CLOCK_MHZ[1] * mhz
    assert not uno.fpu and nano.fpu and esp32.fpu


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_02_the_sine_model_fits_every_board(sine_keras, dtype):
    flash, ram = _numpy_bytes(sine_keras, dtype), sizing.activation_bytes(sine_keras, dtype)
    fits = sizing.fit_report(WIDTHS, dtype)
    assert [(f.flash_needed, f.ram_needed) for f in fits] == [(flash, ram)] * len(BOARDS)
    assert all(f.fits for f in fits)
    # the Uno trap: float32 weights copied into RAM would fit, but take most of it
    float32 = _numpy_bytes(sine_keras, "float32")
    assert 0.5 < float32 / BOARDS["uno"].ram_bytes < 1


def test_02_a_1_128_128_1_network_fits_the_uno_only_as_int8(tf):
    wide = models.mlp((1, 128, 128, 1))
    uno = BOARDS["uno"]
    assert _numpy_bytes(wide, "float32") > uno.flash_bytes >= _numpy_bytes(wide, "int8")
    fits = {f.board.name: f.fits for f in sizing.fit_report([1, 128, 128, 1], "float32")}
    assert fits == {"Arduino Uno": False, "Arduino Nano 33 BLE": True, "ESP32 DevKitC": True}
    assert all(f.fits for f in sizing.fit_report([1, 128, 128, 1], "int8"))


def _mobilenet_v1_params() -> tuple[int, int]:
    """(trainable, non-trainable) parameters of MobileNet v1 (alpha 1, 1000 classes) from the
    paper's Table 1 (Howard et al. 2017): convolutions without biases, each followed by batch
    normalization (trainable scale and offset, running mean and variance), and a classifier
    with biases."""
    separable = [(32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
                 *[(512, 512)] * 5, (512, 1024), (1024, 1024)]
    convs = 3 * 3 * 3 * 32 + sum(3 * 3 * c_in + c_in * c_out for c_in, c_out in separable)
    bn_channels = 32 + sum(c_in + c_out for c_in, c_out in separable)
    classifier = 1024 * 1000 + 1000
    return convs + 2 * bn_channels + classifier, 2 * bn_channels


def test_02_mobilenet_size_and_why_it_does_not_fit(tf):
    mobilenet = tf.keras.applications.MobileNet(weights=None)
    trainable, other = _mobilenet_v1_params()
    assert mobilenet.count_params() == trainable + other
    assert sum(int(np.prod(w.shape)) for w in mobilenet.trainable_weights) == trainable
    total_bytes = (trainable + other) * 4
    assert f"{trainable * 4 / 1e6:.1f}" == "16.9"  # the figure usually quoted, in MB
    nano = BOARDS["nano33ble"]
    assert 64 < total_bytes / nano.ram_bytes < 65  # "about 65 times the RAM"
    assert 16 < total_bytes / nano.flash_bytes < 17  # "16 times its flash"
    assert (trainable + other) / nano.flash_bytes > 4  # int8: "four times too big"
    assert not sizing.check_fit(trainable + other, 0, "nano33ble").fits_flash
    with pytest.raises(TypeError, match="layer 'conv1_bn' is a BatchNormalization$"):
        sizing.count_params(mobilenet)


# --- lesson 03: pruning -------------------------------------------------------------------------

EPOCHS = 80  # the lesson's finetune_epochs


@pytest.fixture(scope="module")
def trained(tf):
    """Lesson 01's model, retrained exactly as lesson 03 starts: (model, split)."""
    return models.trained_sine_model(0)


def _mse(pairs, x) -> float:
    return float(np.mean((forward(pairs, x) - np.sin(x)) ** 2))


def _smallest_first(W, fraction) -> np.ndarray:
    """Keep-mask without the ``fraction`` of smallest |w| (NumPy, ties by position)."""
    keep = np.ones(W.size, bool)
    keep[np.argsort(np.abs(W).ravel(), kind="stable")[:round(fraction * W.size)]] = False
    return keep.reshape(W.shape)


def _live(pairs, x) -> list[np.ndarray]:
    """Per hidden layer, which neurons' outputs change with x."""
    live, h = [], x
    for kernel, bias in pairs[:-1]:
        h = np.maximum(h @ kernel + bias, 0)
        live.append(np.ptp(h, axis=0) > 1e-6)
    return live


@pytest.fixture(scope="module")
def retrained(trained):
    """The dense model fine-tuned as section 2 does, and 70 % of dense_2 pruned then
    fine-tuned: (dense MSE, retrained dense MSE, one-shot MSE, tuned MSE, tuned model, mask)."""
    model, split = trained
    pairs = models.dense_weights(model)
    mask = _smallest_first(pairs[1][0], 0.7)
    pruned = pruning.prune_weights(model, 0.7, layers=["dense_2"])
    one_shot = _mse([pairs[0], (pairs[1][0] * mask, pairs[1][1]), pairs[2]], split.x_test)
    assert pruning.model_mse_vs_sin(pruned, split.x_test) == pytest.approx(one_shot, abs=1e-6)
    tuned = pruning.finetune_masked(pruned, split, epochs=EPOCHS, seed=0)
    dense_again = pruning.finetune_masked(model, split, epochs=EPOCHS, seed=0)
    return (_mse(pairs, split.x_test), pruning.model_mse_vs_sin(dense_again, split.x_test),
            one_shot, pruning.model_mse_vs_sin(tuned, split.x_test), tuned, mask)


def test_03_the_trained_model_keras_and_numpy_agree(trained):
    model, split = trained
    pairs = models.dense_weights(model)
    assert pruning.model_mse_vs_sin(model, split.x_test) == pytest.approx(
        _mse(pairs, split.x_test), abs=1e-7)
    sizes = [kernel.size for kernel, _ in pairs]
    assert max(sizes) == sizes[1] and sizes[1] / sum(sizes) > 0.8  # most weights in dense_2


def test_03_rank_remove_retrain(trained, retrained):
    model, split = trained
    dense, dense_again, one_shot, tuned_mse, tuned, mask = retrained
    kernel = tuned.get_layer("dense_2").get_weights()[0]
    np.testing.assert_array_equal(kernel == 0, ~mask)  # the zeros stayed where they were
    assert np.sum(~mask) == round(0.7 * mask.size)
    assert one_shot > 10 * dense  # removing that much at once bends the curve out of shape
    # lesson 01 ended at 1 % of its learning rate; 80 epochs at a constant 0.002 unsettle the
    # dense model a little, which is why pruned models are compared with it retrained too
    assert dense < dense_again < 2 * dense
    assert tuned_mse < 2 * dense_again  # retraining brings the pruned one back to it


def test_03_before_retraining_the_finer_the_grain_the_lower_the_cost(trained):
    model, split = trained
    (W1, b1), (W2, b2), (W3, b3) = models.dense_weights(model)
    weight = _smallest_first(W2, 0.5)
    norms = np.linalg.norm(W2, axis=0)  # neurons ranked by the L2 norm of their inputs
    keep_neurons = np.ones(16, bool)
    keep_neurons[np.argsort(norms, kind="stable")[:8]] = False
    block_norms = np.linalg.norm(W2.reshape(4, 4, 16), axis=1)  # blocks of 4 inputs
    block = np.repeat(_smallest_first(block_norms, 0.5), 4, axis=0)
    for keep in (weight, block, np.broadcast_to(keep_neurons, W2.shape)):
        assert np.mean(~keep) == 0.5
    cost = {
        "weight": _mse([(W1, b1), (W2 * weight, b2), (W3, b3)], split.x_test),
        "block": _mse([(W1, b1), (W2 * block, b2), (W3, b3)], split.x_test),
        "neuron": _mse([(W1, b1), (W2 * keep_neurons, b2 * keep_neurons),
                        (W3 * keep_neurons[:, None], b3)], split.x_test),
    }
    assert cost["weight"] < cost["block"] < cost["neuron"]
    live2 = _live([(W1, b1), (W2, b2), (W3, b3)], split.x_train)[1]
    assert np.any(live2 & ~keep_neurons)  # the neurons removed include live ones


def test_03_polynomial_decay_ramps_from_zero_to_the_target(tf):
    import tensorflow_model_optimization as tfmot
    steps = 10
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=EPOCHS // 2 * steps,
        frequency=steps)
    planned = [float(schedule(e * steps)[1]) for e in range(EPOCHS)]
    assert planned[0] == 0.0 and planned[-1] == pytest.approx(0.5)
    assert planned[EPOCHS // 2] == pytest.approx(0.5)  # the target reached halfway
    rises = np.diff(planned[:EPOCHS // 2 + 1])
    assert np.all(rises >= 0) and rises[0] > rises[-1]  # fast at first, then easing in


@pytest.fixture(scope="module")
def uniform_rows(trained):
    """pruning.sweep over every layer at 0, 40 and 50 %, with .tflite sizes."""
    model, split = trained
    return {row["sparsity"]: row for row in pruning.sweep(model, split, [0.0, 0.4, 0.5],
                                                          epochs=EPOCHS, seed=0)}


def test_03_the_knee_when_every_layer_is_pruned(trained, retrained, uniform_rows):
    model, _ = trained
    reference = uniform_rows[0.0]["test_mse_vs_sin"]
    assert reference == pytest.approx(retrained[1], abs=1e-6)  # the same retraining as section 2
    for target, row in uniform_rows.items():  # each kernel reached its target, to a weight
        assert all(abs(s - target) <= 1 / 16 for s in row["layer_sparsity"].values())
        assert row["weight_bytes"] == sum(w.nbytes for w in model.get_weights())
    assert uniform_rows[0.4]["test_mse_vs_sin"] <= 2 * reference  # hardly noticed...
    assert uniform_rows[0.5]["test_mse_vs_sin"] > 2 * reference  # ...then the jump
    assert sum(uniform_rows[0.5]["live_neurons"]) < sum(uniform_rows[0.0]["live_neurons"])


def test_03_zeros_do_not_shrink_a_float_tflite_but_compress(uniform_rows):
    dense, half = uniform_rows[0.0], uniform_rows[0.5]
    assert half["tflite_bytes"] == dense["tflite_bytes"]
    assert half["gzip_bytes"] < dense["gzip_bytes"]
    gz = [uniform_rows[s]["weights_gzip_bytes"] for s in (0.0, 0.4, 0.5)]
    assert gz[0] > gz[1] > gz[2]  # more zeros, smaller archive


def test_03_the_pruned_tflite_computes_what_keras_does(trained):
    model, split = trained
    pruned = pruning.prune_weights(model, 0.5)
    flatbuffer = litert.convert(pruned, "float32")
    assert len(flatbuffer) == len(litert.convert(model, "float32"))
    np.testing.assert_allclose(litert.predict(flatbuffer, split.x_test),
                               pruning.predict(pruned, split.x_test), atol=1e-5)


def test_03_tfmot_masks_are_where_the_kernel_is_zero(trained):
    import tensorflow_model_optimization as tfmot
    model, split = trained
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(
        pruning.copy_model(model),
        pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1))
    wrapped.compile(optimizer="adam", loss="mse")
    wrapped.fit(split.x_train[:64], split.y_train[:64], epochs=1, verbose=0,
                callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    assert stripped.count_params() == model.count_params()
    for layer, plain in zip(wrapped.layers, stripped.layers, strict=True):
        mask = next(w for w in layer.non_trainable_weights if "mask" in w.name).numpy()
        np.testing.assert_array_equal(mask != 0, plain.get_weights()[0] != 0)
        assert np.mean(plain.get_weights()[0] == 0) == pytest.approx(0.5, abs=1 / 16)


def test_03_no_dead_neuron_so_magnitude_pruning_of_dense_1_cuts_live_ones(trained):
    model, split = trained
    pairs = models.dense_weights(model)
    live = _live(pairs, split.x_train)
    assert [int(a.sum()) for a in live] == pruning.live_neurons(model, split.x_train)
    assert all(a.all() for a in live)  # lesson 01's training left every neuron live
    kept = _smallest_first(pairs[0][0], 0.5)[0]
    assert int(np.sum(~kept & live[0])) == 8  # each weight dropped is a live neuron's only one


def test_03_pruning_only_dense_2_goes_much_further(trained, uniform_rows):
    model, split = trained
    (row,) = pruning.sweep(model, split, [0.7], epochs=EPOCHS, layers=["dense_2"], seed=0,
                           tflite=False)
    reference = uniform_rows[0.0]["test_mse_vs_sin"]
    assert row["layer_sparsity"] == pytest.approx({"dense_1": 0, "dense_2": 0.7, "output": 0},
                                                  abs=1 / 256)
    assert row["test_mse_vs_sin"] <= 2 * reference
    best_uniform = max(s for s, r in uniform_rows.items() if r["test_mse_vs_sin"] <= 2 * reference)
    assert row["overall_sparsity"] > best_uniform + 0.2


def test_03_removing_neurons_shrinks_the_file_and_costs_accuracy(trained, retrained):
    model, split = trained
    pairs = models.dense_weights(model)
    scores = pruning.neuron_scores(model, split.x_train)
    keep = (12, 12)
    k1, k2 = (np.sort(np.argsort(-s, kind="stable")[:n]) for s, n in zip(scores, keep, strict=True))
    compact = pruning.neuron_prune(model, keep, x=split.x_train)
    (W1, b1), (W2, b2), (W3, b3) = pairs
    sub = [(W1[:, k1], b1[k1]), (W2[np.ix_(k1, k2)], b2[k2]), (W3[k2], b3)]
    for (kernel, bias), (k, b) in zip(models.dense_weights(compact), sub, strict=True):
        np.testing.assert_array_equal(kernel, k)  # neuron_prune kept the best-scored ones
        np.testing.assert_array_equal(bias, b)
    np.testing.assert_allclose(pruning.predict(compact, split.x_test),
                               forward(sub, split.x_test), atol=1e-5)
    removed = model.count_params() - compact.count_params()
    dense_file = litert.convert(model, "float32")
    assert len(dense_file) - len(litert.convert(compact, "float32")) == 4 * removed
    # every neuron is live, so removing some changes the curve before retraining
    assert pruning.model_mse_vs_sin(compact, split.x_test) > 2 * _mse(pairs, split.x_test)
    for keep in [(8, 8), (6, 6)]:  # far below 16, even retrained, the error stays up
        small = pruning.neuron_prune(model, keep, x=split.x_train)
        tuned = pruning.finetune_masked(small, split, epochs=EPOCHS, seed=0)
        assert pruning.model_mse_vs_sin(tuned, split.x_test) > 2 * retrained[1], keep


def _scipy_csr_bytes(matrix, value_bytes: int, index_bytes: int | None = None) -> int:
    """CSR bytes from SciPy's arrays; indices in the smallest unsigned type that holds them."""
    csr = scipy.sparse.csr_matrix(matrix)
    csr.eliminate_zeros()
    if index_bytes is None:
        largest = max(int(csr.indptr.max()), int(csr.indices.max(initial=0)))
        index_bytes = np.min_scalar_type(largest).itemsize
    return csr.data.size * value_bytes + (csr.indices.size + csr.indptr.size) * index_bytes


def test_03_csr_bytes_and_where_it_breaks_even(trained):
    A = np.array([[0.0, 1.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, -3.0]])
    assert pruning.csr_bytes(A, value_bytes=4, index_bytes=1) == _scipy_csr_bytes(A, 4, 1)
    model, _ = trained
    float32_break_even = {}
    for layer, (W, _) in zip(model.layers, models.dense_weights(model), strict=True):
        for s in [0.0, 0.25, 0.5, 0.7, 0.8, 0.9]:
            pruned = W * _smallest_first(W, s)
            csr = pruning.csr_bytes(pruned, value_bytes=4)
            assert csr == _scipy_csr_bytes(pruned, 4)
            if csr < W.nbytes:
                float32_break_even.setdefault(layer.name, s)
    assert pruning.csr_bytes(models.dense_weights(model)[1][0], 4) > 16 * 16 * 4  # no zeros
    # the 16 x 1 output layer pays a row pointer per value: it breaks even later
    assert float32_break_even["output"] > float32_break_even["dense_2"]
    # int8 values in dense_2's shape: CSR wins only once more than half the weights are zero
    wins = []
    for zeros in range(256):
        W = np.where(np.arange(256) < zeros, 0, 1).astype(np.int8).reshape(16, 16)
        csr = pruning.csr_bytes(W, value_bytes=1, index_bytes=1)
        assert csr == _scipy_csr_bytes(W, 1, 1)
        if csr < W.nbytes:
            wins.append(zeros)
    assert wins == list(range(wins[0], 256)) and wins[0] / 256 > 0.5


def test_03_a_2_of_4_mask_keeps_half(trained):
    model, _ = trained
    W2 = models.dense_weights(model)[1][0]
    groups = np.abs(W2).reshape(4, 4, 16)
    keep = np.argsort(np.argsort(groups, axis=1, kind="stable"), axis=1, kind="stable") >= 2
    for g, k in itertools.product(range(4), range(16)):  # the 2 largest of each group of 4
        assert set(np.flatnonzero(keep[g, :, k])) == set(np.argsort(groups[g, :, k])[2:])
    assert np.mean(~keep) == 0.5

