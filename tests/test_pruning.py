"""Pruning helpers against hand-computed masks and sizes, NumPy sub-networks, and tfmot runs."""

import gzip

import numpy as np
import pytest

from tinyml_helpers import data, models, pruning

# The ``tf`` fixture (TensorFlow through env.setup(0)) comes from conftest.py.

# --- magnitude masks, worked out by hand ------------------------------------------------------

W = np.array([[0.5, -0.1, 0.3],
              [-0.2, 0.05, -0.9]], dtype=np.float32)  # |w| order: 0.05 0.1 0.2 0.3 0.5 0.9


@pytest.mark.parametrize("sparsity, removed", [
    (0.0, []),
    (0.2, [(1, 1)]),                        # round(1.2) = 1: 0.05
    (0.5, [(1, 1), (0, 1), (1, 0)]),        # 0.05, -0.1, -0.2
    (0.7, [(1, 1), (0, 1), (1, 0), (0, 2)]),  # round(4.2) = 4: ... 0.3
    (0.95, [(1, 1), (0, 1), (1, 0), (0, 2), (0, 0), (1, 2)]),  # round(5.7) = 6: all
])
def test_magnitude_mask_removes_the_smallest_magnitudes(sparsity, removed):
    expected = np.ones(W.shape, dtype=bool)
    for index in removed:
        expected[index] = False
    mask = pruning.magnitude_mask(W, sparsity)
    assert mask.dtype == bool and mask.shape == W.shape
    np.testing.assert_array_equal(mask, expected)


def test_magnitude_mask_breaks_ties_by_position():
    ties = np.array([[0.2, -0.2], [0.2, 0.1]])
    # 0.1 first, then the three |0.2| in C order: (0,0), (0,1), (1,0)
    np.testing.assert_array_equal(pruning.magnitude_mask(ties, 0.5), [[False, True], [True, False]])
    np.testing.assert_array_equal(pruning.magnitude_mask(ties, 0.75),
                                  [[False, False], [True, False]])


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_sparsity_outside_0_1_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="sparsity"):
        pruning.magnitude_mask(W, bad)
    with pytest.raises(ValueError, match="sparsity"):
        pruning.check_sparsity(bad)


@pytest.mark.parametrize("bad", ["0.5", None, True])
def test_sparsity_that_is_not_a_number_is_a_type_error(bad):
    with pytest.raises(TypeError, match="sparsity"):
        pruning.magnitude_mask(W, bad)


# --- storage sizes ------------------------------------------------------------------------------

def test_csr_bytes_by_hand():
    a = np.array([[0.0, 1.5, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0],
                  [2.0, 0.0, 0.0, -3.0]])
    # 3 values x 4 B + 3 column indices x 1 B + 4 row pointers x 1 B
    assert pruning.csr_bytes(a, value_bytes=4, index_bytes=1) == 12 + 3 + 4 == 19
    assert pruning.csr_bytes(a, value_bytes=1, index_bytes=2) == 3 + 6 + 8 == 17
    assert pruning.csr_bytes(a) == 19  # auto: 1-byte indices suffice
    assert pruning.csr_bytes(np.zeros((16, 16))) == 17  # only the row pointers


def test_csr_bytes_widens_indices_when_needed():
    wide = np.zeros((1, 300))
    wide[0, 299] = 1.0  # column index 299 needs 2 bytes
    assert pruning.csr_bytes(wide) == 4 + 2 + 2 * 2
    full = np.ones((16, 16))  # 256 non-zeros: the last row pointer needs 2 bytes
    assert pruning.csr_bytes(full) == 256 * 4 + 256 * 2 + 17 * 2


@pytest.mark.parametrize("kwargs, error", [
    ({"matrix": np.zeros(4)}, ValueError),
    ({"matrix": np.zeros((2, 2)), "value_bytes": 0}, ValueError),
    ({"matrix": np.zeros((2, 2)), "index_bytes": -1}, ValueError),
])
def test_csr_bytes_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        pruning.csr_bytes(**kwargs)


def test_gzip_size_is_the_gzip_length_and_zeros_compress():
    zeros, noise = bytes(1024), np.random.default_rng(0).bytes(1024)
    assert pruning.gzip_size(noise) == len(gzip.compress(noise, compresslevel=9, mtime=0))
    assert pruning.gzip_size(zeros) < 100
    assert pruning.gzip_size(noise) > 1000  # random bytes do not compress
    with pytest.raises(TypeError, match="bytes"):
        pruning.gzip_size("text")


# --- Keras models -------------------------------------------------------------------------------

def _small_model(tf):
    """Return a 1-4-3-1 ReLU model with hand-set weights: neuron 3 of layer 1 is dead for x>0."""
    model = models.mlp((1, 4, 3, 1), name="small")
    model.set_weights([
        np.array([[1.0, -0.5, 2.0, -3.0]]), np.array([0.0, 1.0, -1.0, 0.0]),
        np.array([[0.5, -1.0, 0.2], [1.0, 0.1, -0.3], [-0.4, 0.6, 0.9], [2.0, 2.0, 2.0]]),
        np.array([0.1, 0.0, -0.2]),
        np.array([[1.0], [-2.0], [0.5]]), np.array([0.3]),
    ])
    return model


def _numpy_forward(pairs, x):
    h = x
    for i, (w, b) in enumerate(pairs):
        h = h @ w + b
        if i < len(pairs) - 1:
            h = np.maximum(h, 0.0)
    return h


X = np.linspace(0.0, 2 * np.pi, 50, dtype=np.float32).reshape(-1, 1)


def test_prune_weights_zeroes_the_chosen_layers_and_leaves_the_model_alone(tf):
    model = _small_model(tf)
    before = [w.copy() for w in model.get_weights()]
    pruned = pruning.prune_weights(model, 0.5, layers=["dense_2"])
    kernel = model.get_layer("dense_2").get_weights()[0]
    np.testing.assert_array_equal(pruned.get_layer("dense_2").get_weights()[0],
                                  kernel * pruning.magnitude_mask(kernel, 0.5))
    assert pruning.layer_sparsity(pruned) == {"dense_1": 0.0, "dense_2": 0.5, "output": 0.0}
    assert pruning.overall_sparsity(pruned) == 6 / (4 + 12 + 3)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no Dense layer named"):
        pruning.prune_weights(model, 0.5, layers=["dense_9"])
    with pytest.raises(ValueError, match="sparsity"):
        pruning.prune_weights(model, 1.0)


def test_non_dense_layers_are_a_type_error(tf):
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(4),
                                 tf.keras.layers.Dropout(0.5), tf.keras.layers.Dense(1)])
    with pytest.raises(TypeError, match="Dropout"):
        pruning.prune_weights(model, 0.5)
    with pytest.raises(TypeError, match="Keras model"):
        pruning.layer_sparsity([1, 2, 3])


def test_live_neurons_counts_neurons_that_vary_and_feed_forward(tf):
    model = _small_model(tf)
    # layer 1: neuron 3 is relu(-3x) = 0 on x >= 0 (dead); the other three vary.
    h1 = np.maximum(X @ model.get_weights()[0] + model.get_weights()[1], 0)
    assert (np.ptp(h1, axis=0) > 0).tolist() == [True, True, True, False]
    assert pruning.live_neurons(model, X)[0] == 3
    cut = pruning.copy_model(model)
    w3, b3 = cut.get_layer("output").get_weights()
    w3[1] = 0.0  # disconnect neuron 1 of layer 2
    cut.get_layer("output").set_weights([w3, b3])
    assert pruning.live_neurons(cut, X)[1] == pruning.live_neurons(model, X)[1] - 1


def test_neuron_prune_equals_the_numpy_sub_network(tf):
    model = _small_model(tf)
    (w1, b1), (w2, b2), (w3, b3) = models.dense_weights(model)
    # By weights: L2 norm of the outgoing weights, by hand.
    out1 = np.sqrt((w2**2).sum(axis=1))  # [1.14, 1.05, 1.15, 3.46] -> keep 3, 2 (then sorted)
    out2 = np.abs(w3[:, 0])  # [1, 2, 0.5] -> keep 1, 0
    scores = pruning.neuron_scores(model)
    np.testing.assert_allclose(scores[0], out1, rtol=1e-6)
    np.testing.assert_allclose(scores[1], out2, rtol=1e-6)
    k1, k2 = [2, 3], [0, 1]
    small = pruning.neuron_prune(model, keep=(2, 2))
    expected = _numpy_forward([(w1[:, k1], b1[k1]), (w2[np.ix_(k1, k2)], b2[k2]),
                               (w3[k2], b3)], X)
    np.testing.assert_allclose(pruning.predict(small, X), expected, atol=1e-6)
    assert small.count_params() == (2 + 2) + (4 + 2) + (2 + 1)
    assert [layer.name for layer in small.layers] == ["dense_1", "dense_2", "output"]


def test_neuron_prune_with_data_drops_dead_neurons_without_changing_outputs(tf):
    model = _small_model(tf)
    scores = pruning.neuron_scores(model, X)
    assert scores[0][3] == 0.0  # the dead neuron scores 0 despite the largest weights
    small = pruning.neuron_prune(model, keep=(3, 3), x=X)
    np.testing.assert_allclose(pruning.predict(small, X), pruning.predict(model, X), atol=1e-5)
    with pytest.raises(ValueError, match="one width per hidden layer"):
        pruning.neuron_prune(model, keep=(3,))
    with pytest.raises(ValueError, match="can keep 1..4"):
        pruning.neuron_prune(model, keep=(5, 3))


def test_weights_blob_is_the_float32_parameters(tf):
    model = _small_model(tf)
    raw = pruning.weights_blob(model)
    assert len(raw) == model.count_params() * 4
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4")[:4], [1.0, -0.5, 2.0, -3.0])


# --- training with masks and tfmot --------------------------------------------------------------

@pytest.fixture(scope="module")
def split():
    return data.sine_dataset(200, noise=0.1, seed=0)


@pytest.fixture(scope="module")
def sine(tf):
    from tinyml_helpers.deploy import env
    env.set_seed(0)
    model = models.sine_model()  # untrained weights are enough to check the plumbing...
    # ...but not zero biases: the converter leaves an all-zero bias out of the .tflite.
    rng = np.random.default_rng(0)
    model.set_weights([w if w.ndim == 2 else rng.normal(0, 0.1, w.shape)
                       for w in model.get_weights()])
    return model


def test_finetune_masked_keeps_every_zero(tf, sine, split):
    pruned = pruning.prune_weights(sine, 0.6)
    tuned = pruning.finetune_masked(pruned, split, epochs=3)
    for before, after in zip(pruned.get_weights()[::2], tuned.get_weights()[::2], strict=True):
        np.testing.assert_array_equal(after == 0, before == 0)
        assert not np.array_equal(after, before)  # the kept weights did train


def test_tfmot_reaches_the_target_per_layer_and_runs_repeat_exactly(tf, sine, split):
    before = [w.copy() for w in sine.get_weights()]
    second_of_two = list(pruning.pruned_models(sine, split, [0.7, 0.5], epochs=4))[1]
    alone = pruning.prune_with_tfmot(sine, split, 0.5, epochs=4)
    reached = pruning.layer_sparsity(alone)
    assert reached == pytest.approx({"dense_1": 0.5, "dense_2": 0.5, "output": 0.5}, abs=1 / 16)
    # Reusing one wrapped model for several targets gives exactly a fresh run's weights.
    for a, b in zip(second_of_two.get_weights(), alone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, sine.get_weights(), strict=True):  # the input model is untouched
        np.testing.assert_array_equal(a, b)
    only_middle = pruning.prune_with_tfmot(sine, split, 0.5, epochs=4, layers=["dense_2"])
    assert pruning.layer_sparsity(only_middle) == {"dense_1": 0.0, "dense_2": 0.5, "output": 0.0}


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_tfmot_and_sweep_reject_bad_sparsity(tf, sine, split, bad):
    with pytest.raises(ValueError, match="sparsity"):
        pruning.prune_with_tfmot(sine, split, bad, epochs=1)
    with pytest.raises(ValueError, match="sparsity"):
        pruning.sweep(sine, split, [0.0, bad], epochs=1)


def test_sweep_returns_plain_rows(tf, sine, split):
    rows = pruning.sweep(sine, split, [0.0, 0.5], epochs=2)
    assert [r["sparsity"] for r in rows] == [0.0, 0.5]
    dense, half = rows
    # The 0 row is fine-tuned like the others (the fair reference): tfmot with no zeros.
    tuned = pruning.prune_with_tfmot(sine, split, 0.0, epochs=2)
    assert pruning.overall_sparsity(tuned) == 0.0
    assert dense["test_mse_vs_sin"] == pytest.approx(
        pruning.model_mse_vs_sin(tuned, split.x_test))
    assert dense["test_mse_vs_sin"] != pytest.approx(
        pruning.model_mse_vs_sin(sine, split.x_test))
    assert dense["overall_sparsity"] == 0.0 and half["overall_sparsity"] == 0.5
    assert dense["tflite_bytes"] == half["tflite_bytes"]  # a float zero costs 4 bytes too
    assert half["gzip_bytes"] < dense["gzip_bytes"]
    assert dense["weight_bytes"] == half["weight_bytes"] == 321 * 4
    assert half["weights_gzip_bytes"] < dense["weights_gzip_bytes"]
    assert all(isinstance(v, (int, float, dict, list)) for v in half.values())
    table = pruning.format_sweep(rows)
    assert table.splitlines()[0].split()[:2] == ["final", "dense_1"]
    assert len(table.splitlines()) == 3
    without = pruning.sweep(sine, split, [0.0], epochs=1, tflite=False)
    assert without[0]["tflite_bytes"] is None and ".tflite" not in pruning.format_sweep(without)
